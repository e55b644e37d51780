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
    }
}
