//! Reading an Apache Parquet file into a [`Table`]. Behind the cargo feature `parquet`
//! (the `parquet` crate with its Arrow reader; snappy, lz4 and zstd pages).
//!
//! Numeric columns (floats, integers, booleans, decimals) are read as `f64`; string columns
//! (plain or dictionary-encoded, as pandas writes a `category`) and dates and times are
//! text, as a CSV column of labels is; a null or NaN cell is a missing value, as an empty CSV
//! cell is. Other column types (lists, structs, binary) are an error naming the column.
//!
//! ```no_run
//! let table = jensen::parquet::read("faithful.parquet")?;
//! # Ok::<(), jensen::parquet::ParquetError>(())
//! ```

use arrow_array::{Array, ArrayRef, Float64Array, StringArray};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use thiserror::Error;

use crate::bind::Table;

/// Why a Parquet file could not be read.
#[derive(Debug, Error)]
pub enum ParquetError {
    /// The file could not be opened or decoded.
    #[error("cannot read {file}: {message}")]
    Read {
        /// File.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// A column of a type that is neither numbers nor text.
    #[error("{file}: column `{column}` is of type {kind}, neither numbers nor text; leave it out of the file (jensen reads numeric, boolean and string columns)")]
    ColumnType {
        /// File.
        file: String,
        /// Column.
        column: String,
        /// Its Arrow type.
        kind: String,
    },
    /// An infinite value.
    #[error("{file}, row {row}, column `{column}`: the value is {value}, not a finite number")]
    NotFinite {
        /// File.
        file: String,
        /// 1-based row.
        row: usize,
        /// Column.
        column: String,
        /// The value.
        value: f64,
    },
}

/// A column while the record batches are read.
enum Column {
    Numbers(Vec<f64>),
    Text(Vec<String>),
}

/// Reads the Parquet file at `path`.
pub fn read(path: &str) -> Result<Table, ParquetError> {
    let fail = |e: &dyn std::fmt::Display| ParquetError::Read {
        file: path.to_string(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|e| fail(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| fail(&e))?;
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|e| fail(&e))?;
    table_of_batches(path, &schema, reader.map(|b| b.map_err(|e| fail(&e))))
}

/// The table of Arrow record `batches` of `schema` (read from `source`, named in messages),
/// typed as [`read`] types a Parquet file's columns; row numbers in errors count from the
/// first batch.
pub fn table_of_batches(
    source: &str,
    schema: &arrow_schema::Schema,
    batches: impl IntoIterator<Item = Result<arrow_array::RecordBatch, ParquetError>>,
) -> Result<Table, ParquetError> {
    let path = source;
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut columns: Vec<Column> = Vec::with_capacity(headers.len());
    for field in schema.fields() {
        let text = match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
            DataType::Dictionary(_, v) => {
                matches!(
                    **v,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
            }
            // Dates and times are text, as a CSV reads them (a model reads no dates).
            t if t.is_temporal() => true,
            t if t.is_numeric() || *t == DataType::Boolean || t.is_null() => false,
            t => {
                return Err(ParquetError::ColumnType {
                    file: path.to_string(),
                    column: field.name().clone(),
                    kind: t.to_string(),
                })
            }
        };
        columns.push(if text {
            Column::Text(Vec::new())
        } else {
            Column::Numbers(Vec::new())
        });
    }
    let mut missing: Vec<Vec<usize>> = vec![Vec::new(); headers.len()];
    let mut n_rows = 0;
    for batch in batches {
        let batch = batch?;
        for (c, array) in batch.columns().iter().enumerate() {
            // (Missing cells are read after the cast: a null, or a NaN as in CSV and `.npy`;
            // a column of Arrow's null type is all missing.)
            match &mut columns[c] {
                Column::Numbers(values) => {
                    let cast = cast(array, &DataType::Float64, path)?;
                    let floats = cast
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .expect("cast to Float64");
                    for r in 0..floats.len() {
                        let v = if floats.is_null(r) {
                            f64::NAN
                        } else {
                            floats.value(r)
                        };
                        if v.is_nan() {
                            missing[c].push(n_rows + r);
                        }
                        if v.is_infinite() {
                            return Err(ParquetError::NotFinite {
                                file: path.to_string(),
                                row: n_rows + r + 1,
                                column: headers[c].clone(),
                                value: v,
                            });
                        }
                        values.push(v);
                    }
                }
                Column::Text(cells) => {
                    let cast = cast(array, &DataType::Utf8, path)?;
                    let strings = cast
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .expect("cast to Utf8");
                    for r in 0..strings.len() {
                        if strings.is_null(r) {
                            missing[c].push(n_rows + r);
                            cells.push(String::new());
                        } else {
                            cells.push(strings.value(r).trim().to_string());
                        }
                    }
                }
            }
        }
        n_rows += batch.num_rows();
    }
    let (mut numbers, mut text) = (Vec::new(), Vec::new());
    for column in columns {
        match column {
            Column::Numbers(v) => {
                numbers.push(Some(v));
                text.push(None);
            }
            Column::Text(t) => {
                numbers.push(None);
                text.push(Some(t));
            }
        }
    }
    Ok(Table {
        source: path.to_string(),
        headers,
        columns: numbers,
        text,
        n_rows,
        lines: Vec::new(),
        missing,
    })
}

fn cast(array: &ArrayRef, to: &DataType, path: &str) -> Result<ArrayRef, ParquetError> {
    arrow_cast::cast(array, to).map_err(|e| ParquetError::Read {
        file: path.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Int32Array, RecordBatch};
    use std::sync::Arc;

    fn write(name: &str, batch: &RecordBatch) -> String {
        let dir = std::env::temp_dir().join(format!("jensen-parquet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let file = std::fs::File::create(&path).unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .set_max_row_group_row_count(Some(2))
            .build();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        path.to_string_lossy().into_owned()
    }

    /// A Parquet file read a batch at a time ([`crate::stream::ParquetFile`]): the fit in
    /// chunks of 97 rows, the Parquet pages decoded again on each pass, is the fit of the
    /// file read whole; an infinite cell is named by its row in the whole file.
    #[test]
    fn a_parquet_file_streams_to_its_in_memory_fit() {
        use crate::stream::{ParquetFile, StreamOptions, TableChunks};
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/parquet/faithful.parquet"
        );
        let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/gmm.em");
        let (plan, _) = crate::compile(&std::fs::read_to_string(model).unwrap()).unwrap();
        let table = read(fixture).unwrap();
        let bound = crate::bind(&plan, &table, &Default::default()).unwrap();
        let opts = crate::FitOptions::default().iterations(8).build().unwrap();
        let memory = crate::fit(&crate::PlanModel::new(&plan, &bound), &opts).unwrap();
        let source = ParquetFile::open(fixture).unwrap();
        assert_eq!(source.headers(), table.headers);
        let stream = StreamOptions {
            chunk_rows: 97,
            cache_dir: None,
            ..StreamOptions::default()
        };
        let chunks = TableChunks::new(&plan, source, Default::default(), &stream).unwrap();
        assert_eq!((chunks.rows(), chunks.chunks()), (272, 3));
        let streamed = jensen_runtime::fit_chunked(&chunks, &opts).unwrap();
        let rel = |a: f64, b: f64| (a - b).abs() / a.abs();
        assert!(rel(memory.log_likelihood, streamed.log_likelihood) < 1e-12);
        for (a, b) in memory.elbo_trace.iter().zip(&streamed.elbo_trace) {
            assert!(rel(*a, *b) < 1e-12, "{a} vs {b}");
        }
        // An infinite value in the third batch of 97 rows.
        let mut x: Vec<f64> = (0..300).map(|i| f64::from(i % 17)).collect();
        x[250] = f64::INFINITY;
        let batch = RecordBatch::try_from_iter([
            ("a", Arc::new(Float64Array::from(x.clone())) as ArrayRef),
            ("b", Arc::new(Float64Array::from(x)) as ArrayRef),
        ])
        .unwrap();
        let path = write("infinite.parquet", &batch);
        let err = TableChunks::new(
            &plan,
            ParquetFile::open(&path).unwrap(),
            Default::default(),
            &stream,
        )
        .expect_err("an infinite cell");
        assert!(err.to_string().contains("row 251, column `a`"), "{err}");
    }

    #[test]
    fn numbers_text_and_nulls_over_several_row_groups() {
        let batch = RecordBatch::try_from_iter([
            (
                "x",
                Arc::new(Float64Array::from(vec![Some(1.5), None, Some(3.0)])) as ArrayRef,
            ),
            ("n", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
            (
                "b",
                Arc::new(BooleanArray::from(vec![true, false, true])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])) as ArrayRef,
            ),
        ])
        .unwrap();
        let t = read(&write("t.parquet", &batch)).unwrap();
        assert_eq!(t.headers, ["x", "n", "b", "s"]);
        assert_eq!(t.n_rows, 3);
        assert_eq!(t.columns[1].as_deref(), Some(&[1.0, 2.0, 3.0][..]));
        assert_eq!(t.columns[2].as_deref(), Some(&[1.0, 0.0, 1.0][..]));
        assert!(t.columns[0].as_ref().unwrap()[1].is_nan());
        assert_eq!(t.empty_cells(0), [1]);
        assert_eq!(
            t.text[3].as_deref(),
            Some(&["a".to_string(), "b".into(), String::new()][..])
        );
        assert_eq!(t.empty_cells(3), [2]);
        // A NaN is missing too, and a column of the null type is all missing; a date is text.
        let batch = RecordBatch::try_from_iter([
            (
                "x",
                Arc::new(Float64Array::from(vec![1.0, f64::NAN, 3.0])) as ArrayRef,
            ),
            (
                "nothing",
                Arc::new(arrow_array::NullArray::new(3)) as ArrayRef,
            ),
            (
                "day",
                Arc::new(arrow_array::Date32Array::from(vec![1, 2, 3])) as ArrayRef,
            ),
        ])
        .unwrap();
        let t = read(&write("nan.parquet", &batch)).unwrap();
        assert_eq!(t.empty_cells(0), [1]);
        assert_eq!(t.empty_cells(1), [0, 1, 2]);
        assert_eq!(t.text[2].as_ref().unwrap()[0], "1970-01-02");
    }

    #[test]
    fn bad_files_name_the_file_or_the_column() {
        let inf = RecordBatch::try_from_iter([(
            "x",
            Arc::new(Float64Array::from(vec![1.0, f64::INFINITY])) as ArrayRef,
        )])
        .unwrap();
        let e = read(&write("inf.parquet", &inf)).unwrap_err().to_string();
        assert!(e.contains("row 2, column `x`"), "{e}");
        let bytes = RecordBatch::try_from_iter([(
            "b",
            Arc::new(arrow_array::BinaryArray::from(vec![&b"ab"[..], &b"c"[..]])) as ArrayRef,
        )])
        .unwrap();
        let e = read(&write("bytes.parquet", &bytes))
            .unwrap_err()
            .to_string();
        assert!(e.contains("column `b`") && e.contains("Binary"), "{e}");
        let dir = std::env::temp_dir().join(format!("jensen-parquet-{}", std::process::id()));
        let junk = dir.join("junk.parquet");
        std::fs::write(&junk, b"not parquet at all").unwrap();
        let e = read(junk.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("junk.parquet"), "{e}");
    }
}
