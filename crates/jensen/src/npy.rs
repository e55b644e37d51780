//! Reading a NumPy `.npy` file into a [`Table`]. Behind the cargo feature `npy`.
//!
//! A 2-D array is a table whose columns are named `c0`, `c1`, … (C or Fortran order); a 1-D
//! array is one column `c0`. Floating-point, integer and boolean arrays are read (booleans as
//! 0 and 1). A NaN cell is a missing value, as an empty CSV cell is; an infinite cell is an
//! error naming its row and column.
//!
//! ```no_run
//! let table = jensen::npy::read("faithful.npy")?;
//! assert_eq!(table.headers, ["c0", "c1"]);
//! # Ok::<(), jensen::npy::NpyError>(())
//! ```

use ndarray::{Array2, ArrayD, Axis, Ix2};
use ndarray_npy::{ReadNpyError, ReadableElement};
use thiserror::Error;

use crate::bind::Table;

/// Why a `.npy` file could not be read.
#[derive(Debug, Error)]
pub enum NpyError {
    /// The file could not be opened, or is not a readable `.npy` array.
    #[error("cannot read {file}: {message}")]
    Read {
        /// File.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// The array has more than two dimensions, or none.
    #[error("{file}: the array has shape {shape:?}; a table is a 1-D array (one column) or a 2-D array (rows × columns)")]
    Shape {
        /// File.
        file: String,
        /// The array's shape.
        shape: Vec<usize>,
    },
    /// An infinite value.
    #[error("{file}, row {row}, column `{column}`: the value is {value}, not a finite number")]
    NotFinite {
        /// File.
        file: String,
        /// 1-based row.
        row: usize,
        /// Column name.
        column: String,
        /// The value.
        value: f64,
    },
}

/// Reads the `.npy` file at `path`.
pub fn read(path: &str) -> Result<Table, NpyError> {
    let array = read_any(path)?;
    let shape = array.shape().to_vec();
    let matrix: Array2<f64> = match shape.len() {
        1 => array
            .insert_axis(Axis(1))
            .into_dimensionality::<Ix2>()
            .map_err(|e| read_error(path, e))?,
        2 => array
            .into_dimensionality::<Ix2>()
            .map_err(|e| read_error(path, e))?,
        _ => {
            return Err(NpyError::Shape {
                file: path.to_string(),
                shape,
            })
        }
    };
    let (n_rows, n_cols) = matrix.dim();
    let headers: Vec<String> = (0..n_cols).map(|c| format!("c{c}")).collect();
    let mut columns = Vec::with_capacity(n_cols);
    let mut missing = Vec::with_capacity(n_cols);
    for (c, column) in matrix.axis_iter(Axis(1)).enumerate() {
        let mut empty = Vec::new();
        for (r, &v) in column.iter().enumerate() {
            if v.is_nan() {
                empty.push(r);
            } else if v.is_infinite() {
                return Err(NpyError::NotFinite {
                    file: path.to_string(),
                    row: r + 1,
                    column: headers[c].clone(),
                    value: v,
                });
            }
        }
        columns.push(Some(column.to_vec()));
        missing.push(empty);
    }
    Ok(Table {
        source: path.to_string(),
        headers,
        columns,
        text: vec![None; n_cols],
        n_rows,
        lines: Vec::new(),
        missing,
    })
}

/// A `.npy` file read a block of rows at a time ([`crate::stream::TableSource`]): its
/// header parsed once, each block's bytes read at their offset (C order: the rows are
/// contiguous; Fortran order: one run per column), so memory holds one block whatever the
/// file's size. The element types of [`read`], little-endian.
#[derive(Debug, Clone)]
pub struct NpyFile {
    path: String,
    /// The element type: its size in bytes and how a value reads as `f64`.
    element: Element,
    fortran: bool,
    rows: usize,
    cols: usize,
    /// Where the data start.
    offset: u64,
}

/// An element type of a `.npy` file read in blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    F64,
    F32,
    I64,
    I32,
    I16,
    I8,
    U64,
    U32,
    U16,
    U8,
    Bool,
}

impl Element {
    /// The element of a `descr` such as `<f8`.
    fn of(descr: &str) -> Option<Element> {
        Some(match descr {
            "<f8" => Element::F64,
            "<f4" => Element::F32,
            "<i8" => Element::I64,
            "<i4" => Element::I32,
            "<i2" => Element::I16,
            "|i1" => Element::I8,
            "<u8" => Element::U64,
            "<u4" => Element::U32,
            "<u2" => Element::U16,
            "|u1" => Element::U8,
            "|b1" => Element::Bool,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Element::F64 | Element::I64 | Element::U64 => 8,
            Element::F32 | Element::I32 | Element::U32 => 4,
            Element::I16 | Element::U16 => 2,
            Element::I8 | Element::U8 | Element::Bool => 1,
        }
    }

    /// The value of the little-endian `bytes` (of [`Element::size`]).
    fn value(self, b: &[u8]) -> f64 {
        let word = |n: usize| {
            let mut w = [0u8; 8];
            w[..n].copy_from_slice(&b[..n]);
            u64::from_le_bytes(w)
        };
        match self {
            Element::F64 => f64::from_bits(word(8)),
            Element::F32 => f64::from(f32::from_bits(word(4) as u32)),
            Element::I64 => word(8) as i64 as f64,
            Element::I32 => f64::from(word(4) as u32 as i32),
            Element::I16 => f64::from(word(2) as u16 as i16),
            Element::I8 => f64::from(b[0] as i8),
            Element::U64 => word(8) as f64,
            Element::U32 => f64::from(word(4) as u32),
            Element::U16 => f64::from(word(2) as u16),
            Element::U8 => f64::from(b[0]),
            Element::Bool => f64::from(b[0]),
        }
    }
}

/// The text between `key` and the next of `ends` in the header's dictionary.
fn header_field<'h>(header: &'h str, key: &str, ends: &[char]) -> Option<&'h str> {
    let at = header.find(key)? + key.len();
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let stop = rest.find(ends)?;
    Some(&rest[..stop])
}

impl NpyFile {
    /// The `.npy` file at `path`: its header read now.
    pub fn open(path: &str) -> Result<NpyFile, NpyError> {
        use std::io::Read;
        let fail = |why: &str| read_error(path, why);
        let mut file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
        let mut start = [0u8; 10];
        file.read_exact(&mut start)
            .map_err(|_| fail("not a .npy file (it ends before its header)"))?;
        if &start[..6] != b"\x93NUMPY" {
            return Err(fail("not a .npy file (no magic string)"));
        }
        let (len, at) = match start[6] {
            1 => (usize::from(u16::from_le_bytes([start[8], start[9]])), 10),
            2 | 3 => {
                let mut more = [0u8; 2];
                file.read_exact(&mut more)
                    .map_err(|_| fail("the header ends early"))?;
                let len = u32::from_le_bytes([start[8], start[9], more[0], more[1]]);
                (len as usize, 12)
            }
            v => {
                return Err(fail(&format!(
                    "a .npy file of version {v}, which jensen does not read"
                )))
            }
        };
        if len > 1 << 20 {
            return Err(fail("the header is longer than 1 MiB"));
        }
        let mut header = vec![0u8; len];
        file.read_exact(&mut header)
            .map_err(|_| fail("the header ends early"))?;
        let header = String::from_utf8_lossy(&header).into_owned();
        let unreadable =
            || fail("a header jensen cannot read in blocks; read the file without --stream");
        let descr = header_field(&header, "'descr'", &[',', '}']).ok_or_else(unreadable)?;
        let descr = descr.trim().trim_matches('\'');
        let element = Element::of(descr).ok_or_else(|| {
            fail(&format!(
                "element type `{descr}`: in blocks jensen reads little-endian floats, integers and booleans; read the file without --stream"
            ))
        })?;
        let fortran = match header_field(&header, "'fortran_order'", &[',', '}']).map(str::trim) {
            Some("True") => true,
            Some("False") => false,
            _ => return Err(unreadable()),
        };
        let shape = header_field(&header, "'shape'", &[')']).ok_or_else(unreadable)?;
        let shape = shape.trim().strip_prefix('(').ok_or_else(unreadable)?;
        // `(n,)`, `(n, d)`: a trailing comma, no empty dimension between.
        let shape = shape.trim_end();
        let shape = shape.strip_suffix(',').unwrap_or(shape);
        let dims: Vec<usize> = if shape.trim().is_empty() {
            Vec::new()
        } else {
            shape
                .split(',')
                .map(|d| d.trim().parse().map_err(|_| unreadable()))
                .collect::<Result<_, _>>()?
        };
        let (rows, cols) = match dims[..] {
            [n] => (n, 1),
            [n, d] => (n, d),
            _ => {
                return Err(NpyError::Shape {
                    file: path.to_string(),
                    shape: dims,
                })
            }
        };
        if cols == 0 && rows > 0 {
            return Err(fail(&format!(
                "the array has shape ({rows}, 0): rows without columns"
            )));
        }
        let offset = (at + len) as u64;
        let size = rows
            .checked_mul(cols)
            .and_then(|c| c.checked_mul(element.size()))
            .and_then(|s| u64::try_from(s).ok())
            .filter(|s| s.checked_add(offset).is_some())
            .ok_or_else(|| fail("the shape is too large"))?;
        let bytes = file.metadata().map_err(|e| read_error(path, e))?.len();
        if bytes < offset + size {
            return Err(fail(&format!(
                "the file has {} bytes of data, its shape ({rows}, {cols}) needs {size}",
                bytes.saturating_sub(offset)
            )));
        }
        Ok(NpyFile {
            path: path.to_string(),
            element,
            fortran,
            rows,
            cols,
            offset,
        })
    }

    /// The names of its columns: `c0`, `c1`, ….
    pub fn headers(&self) -> Vec<String> {
        (0..self.cols).map(|c| format!("c{c}")).collect()
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The rows `first..first + n` as a table (as [`read`] makes one: NaN cells missing, an
    /// infinite cell an error naming its row in the file); rows past the last are an error.
    pub fn block(&self, first: usize, n: usize) -> Result<Table, NpyError> {
        use std::os::unix::fs::FileExt;
        if first.checked_add(n).is_none_or(|end| end > self.rows) {
            return Err(read_error(
                &self.path,
                format!(
                    "rows {first}..{} of {} asked for",
                    first.saturating_add(n),
                    self.rows
                ),
            ));
        }
        let file = std::fs::File::open(&self.path).map_err(|e| read_error(&self.path, e))?;
        let size = self.element.size();
        let read = |at: u64, bytes: &mut [u8]| {
            file.read_exact_at(bytes, self.offset + at)
                .map_err(|e| read_error(&self.path, e))
        };
        let headers = self.headers();
        let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(n); self.cols];
        // As `read` refuses a boolean byte other than 0 and 1.
        let booleans = |bytes: &[u8]| {
            if self.element == Element::Bool && bytes.iter().any(|&b| b > 1) {
                return Err(read_error(&self.path, "a boolean byte is neither 0 nor 1"));
            }
            Ok(())
        };
        if self.fortran {
            let mut bytes = vec![0u8; n * size];
            for (c, column) in columns.iter_mut().enumerate() {
                read(((c * self.rows + first) * size) as u64, &mut bytes)?;
                booleans(&bytes)?;
                column.extend(bytes.chunks_exact(size).map(|b| self.element.value(b)));
            }
        } else {
            let mut bytes = vec![0u8; n * self.cols * size];
            read((first * self.cols * size) as u64, &mut bytes)?;
            booleans(&bytes)?;
            for (i, b) in bytes.chunks_exact(size).enumerate() {
                columns[i % self.cols].push(self.element.value(b));
            }
        }
        let mut missing = Vec::with_capacity(self.cols);
        for (c, column) in columns.iter().enumerate() {
            let mut empty = Vec::new();
            for (r, &v) in column.iter().enumerate() {
                if v.is_nan() {
                    empty.push(r);
                } else if v.is_infinite() {
                    return Err(NpyError::NotFinite {
                        file: self.path.clone(),
                        row: first + r + 1,
                        column: headers[c].clone(),
                        value: v,
                    });
                }
            }
            missing.push(empty);
        }
        Ok(Table {
            source: self.path.clone(),
            headers,
            columns: columns.into_iter().map(Some).collect(),
            text: vec![None; self.cols],
            n_rows: n,
            lines: Vec::new(),
            missing,
        })
    }
}

impl crate::stream::TableSource for NpyFile {
    fn name(&self) -> &str {
        &self.path
    }

    fn each_table(
        &self,
        rows: usize,
        _keep_text: &[String],
        f: &mut dyn FnMut(usize, Table) -> Result<bool, crate::Error>,
    ) -> Result<(), crate::Error> {
        let rows = rows.max(1);
        let mut first = 0;
        loop {
            let n = rows.min(self.rows - first);
            if !f(first, self.block(first, n)?)? {
                return Ok(());
            }
            first += n;
            if first >= self.rows {
                return Ok(());
            }
        }
    }
}

fn read_error(path: &str, e: impl std::fmt::Display) -> NpyError {
    NpyError::Read {
        file: path.to_string(),
        message: e.to_string(),
    }
}

/// The array as `f64`s, whatever its element type.
fn read_any(path: &str) -> Result<ArrayD<f64>, NpyError> {
    /// Reads the array as `T`: `None` when its element type is another.
    fn as_type<T: ReadableElement + Copy>(
        path: &str,
        to_f64: fn(T) -> f64,
    ) -> Result<Option<ArrayD<f64>>, NpyError> {
        let file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
        match <ArrayD<T> as ndarray_npy::ReadNpyExt>::read_npy(std::io::BufReader::new(file)) {
            Ok(a) => Ok(Some(a.mapv(to_f64))),
            Err(ReadNpyError::WrongDescriptor(_)) => Ok(None),
            Err(e) => Err(read_error(path, e)),
        }
    }
    type Reader = fn(&str) -> Result<Option<ArrayD<f64>>, NpyError>;
    let readers: [Reader; 11] = [
        |p| as_type::<f64>(p, |v| v),
        |p| as_type::<f32>(p, f64::from),
        |p| as_type::<i64>(p, |v| v as f64),
        |p| as_type::<i32>(p, f64::from),
        |p| as_type::<i16>(p, f64::from),
        |p| as_type::<i8>(p, f64::from),
        |p| as_type::<u64>(p, |v| v as f64),
        |p| as_type::<u32>(p, f64::from),
        |p| as_type::<u16>(p, f64::from),
        |p| as_type::<u8>(p, f64::from),
        |p| as_type::<bool>(p, |v| f64::from(u8::from(v))),
    ];
    for read in readers {
        if let Some(a) = read(path)? {
            return Ok(a);
        }
    }
    Err(read_error(
        path,
        "the array's element type is not a number or a boolean (jensen reads float, integer and bool arrays)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use ndarray_npy::WriteNpyExt;

    fn write<T: ndarray_npy::WritableElement>(
        name: &str,
        a: &ndarray::ArrayBase<ndarray::OwnedRepr<T>, impl ndarray::Dimension>,
    ) -> String {
        let dir = std::env::temp_dir().join(format!("jensen-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        a.write_npy(std::fs::File::create(&path).unwrap()).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn a_matrix_is_a_table_of_named_columns() {
        let path = write("m.npy", &array![[1.0, 2.0], [3.0, f64::NAN], [5.0, 6.0]]);
        let t = read(&path).unwrap();
        assert_eq!(t.headers, ["c0", "c1"]);
        assert_eq!(t.n_rows, 3);
        assert_eq!(t.columns[0].as_deref(), Some(&[1.0, 3.0, 5.0][..]));
        assert_eq!(t.empty_cells(1), [1]);
        assert_eq!(t.empty_cells(0), [] as [usize; 0]);
    }

    #[test]
    fn fortran_order_integers_and_booleans_are_read() {
        let f = array![[1i32, 2], [3, 4]].reversed_axes();
        let t = read(&write("f.npy", &f)).unwrap();
        assert_eq!(t.columns[0].as_deref(), Some(&[1.0, 2.0][..]));
        assert_eq!(t.columns[1].as_deref(), Some(&[3.0, 4.0][..]));
        let b = read(&write("b.npy", &array![true, false, true])).unwrap();
        assert_eq!(b.headers, ["c0"]);
        assert_eq!(b.columns[0].as_deref(), Some(&[1.0, 0.0, 1.0][..]));
        let s = read(&write("s.npy", &array![[1.5f32], [2.5]])).unwrap();
        assert_eq!(s.columns[0].as_deref(), Some(&[1.5, 2.5][..]));
    }

    /// Blocks of rows ([`NpyFile`]) put together are the file read whole, in C and Fortran
    /// order and for each element type; an infinite cell in a later block names its row in
    /// the file.
    #[test]
    fn blocks_of_rows_are_the_file_read_whole() {
        use crate::stream::TableSource;
        let matrix = array![
            [1.0, 2.0, -3.5],
            [f64::NAN, 5.0, 6.0],
            [7.0, 8.0, f64::NAN],
            [10.0, 11.0, 12.0],
            [13.0, -14.0, 15.0]
        ];
        let paths = [
            write("blk-c.npy", &matrix),
            write(
                "blk-f.npy",
                &matrix
                    .clone()
                    .reversed_axes()
                    .as_standard_layout()
                    .reversed_axes()
                    .to_owned(),
            ),
            write("blk-t.npy", &matrix.t().to_owned()),
            write("blk-i.npy", &array![[1i64, -2], [3, 4], [5, 6]]),
            write("blk-u.npy", &array![[1u8, 2], [3, 4], [5, 255]]),
            write("blk-h.npy", &array![[1i16], [-3]]),
            write("blk-s.npy", &array![1.5f32, f32::NAN, -2.25]),
            write("blk-b.npy", &array![true, false, true, true]),
            write("blk-e.npy", &ndarray::Array2::<f64>::zeros((0, 3))),
        ];
        for path in &paths {
            let whole = read(path).unwrap();
            let file = NpyFile::open(path).unwrap();
            assert_eq!(file.headers(), whole.headers, "{path}");
            assert_eq!(file.rows(), whole.n_rows, "{path}");
            let mut parts = Vec::new();
            let mut firsts = Vec::new();
            file.each_table(2, &[], &mut |first, t| {
                firsts.push(first);
                parts.push(t);
                Ok(true)
            })
            .unwrap();
            assert_eq!(
                firsts,
                (0..whole.n_rows.max(1)).step_by(2).collect::<Vec<_>>()
            );
            let joined = Table::concat(parts);
            assert_eq!(joined.n_rows, whole.n_rows, "{path}");
            for c in 0..whole.headers.len() {
                let (a, b) = (
                    joined.columns[c].as_ref().unwrap(),
                    whole.columns[c].as_ref().unwrap(),
                );
                assert!(
                    a.iter()
                        .zip(b)
                        .all(|(x, y)| x == y || x.is_nan() && y.is_nan()),
                    "{path}"
                );
                assert_eq!(joined.empty_cells(c), whole.empty_cells(c), "{path}");
            }
        }
        let inf = write(
            "blk-inf-late.npy",
            &array![[1.0], [2.0], [3.0], [f64::INFINITY]],
        );
        let err = NpyFile::open(&inf)
            .unwrap()
            .each_table(2, &[], &mut |_, _| Ok(true))
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 4, column `c0`"), "{err}");
        let big_endian = write("blk-be.npy", &array![1.0f64]);
        let mut bytes = std::fs::read(&big_endian).unwrap();
        let at = bytes.windows(3).position(|w| w == b"<f8").unwrap();
        bytes[at] = b'>';
        std::fs::write(&big_endian, bytes).unwrap();
        let err = NpyFile::open(&big_endian).unwrap_err().to_string();
        assert!(err.contains("element type `>f8`"), "{err}");
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let inf = write("inf.npy", &array![[1.0], [f64::INFINITY]]);
        let e = read(&inf).unwrap_err().to_string();
        assert!(e.contains("row 2, column `c0`"), "{e}");
        let cube = write("cube.npy", &ndarray::Array3::<f64>::zeros((2, 2, 2)));
        assert!(matches!(read(&cube), Err(NpyError::Shape { .. })));
        let dir = std::env::temp_dir().join(format!("jensen-npy-{}", std::process::id()));
        let junk = dir.join("junk.npy");
        std::fs::write(&junk, b"not an array").unwrap();
        let e = read(junk.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("junk.npy"), "{e}");
        assert!(read("/no/such/file.npy").is_err());
        // Read in blocks: the same files refused when opened, naming the file.
        let e = NpyFile::open(junk.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("junk.npy") && e.contains("not a .npy file"),
            "{e}"
        );
        assert!(matches!(NpyFile::open(&cube), Err(NpyError::Shape { .. })));
        assert!(NpyFile::open("/no/such/file.npy").is_err());
        let full = std::fs::read(&inf).unwrap();
        let cut = dir.join("cut.npy");
        std::fs::write(&cut, &full[..full.len() - 3]).unwrap();
        let e = NpyFile::open(cut.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bytes of data"), "{e}");
        for len in 0..12 {
            let short = dir.join(format!("short{len}.npy"));
            std::fs::write(&short, &full[..len]).unwrap();
            assert!(NpyFile::open(short.to_str().unwrap()).is_err());
        }
        // Headers written by hand: a shape too large for the file's offsets, rows without
        // columns, an empty dimension, `fortran_order` last in the dictionary, a boolean
        // byte other than 0 and 1.
        let by_hand = |name: &str, header: &str, data: &[u8]| {
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend((header.len() as u16).to_le_bytes());
            bytes.extend(header.as_bytes());
            bytes.extend(data);
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path.to_string_lossy().into_owned()
        };
        let huge = by_hand(
            "huge.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693951,), }\n",
            &[0; 8],
        );
        let e = NpyFile::open(&huge).unwrap_err().to_string();
        assert!(e.contains("too large"), "{e}");
        let empty = by_hand(
            "nocols.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 0), }\n",
            &[],
        );
        let e = NpyFile::open(&empty).unwrap_err().to_string();
        assert!(e.contains("rows without columns"), "{e}");
        let gap = by_hand(
            "gap.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,,1), }\n",
            &[0; 8],
        );
        assert!(NpyFile::open(&gap).is_err());
        let last = by_hand(
            "last.npy",
            "{'descr': '<f8', 'shape': (2,), 'fortran_order': False}\n",
            &[0; 16],
        );
        assert_eq!(NpyFile::open(&last).unwrap().rows(), 2);
        let bools = by_hand(
            "bools.npy",
            "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n",
            &[1, 2, 0],
        );
        let e = NpyFile::open(&bools)
            .unwrap()
            .block(0, 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither 0 nor 1"), "{e}");
        assert!(NpyFile::open(&last).unwrap().block(1, 2).is_err());
    }
}
