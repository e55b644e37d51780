//! Data from records: the support of `#[derive(Model)]` on a struct whose fields are the
//! model's data items (see [`crate::Model`]).
//!
//! The derive checks each field's type against its data item at compile time and generates
//! `from_rows`, which reads the records (a slice, or any iterator, so they can stream from
//! `csv` and `serde`) into the column arrays of the model's data struct through [`Cell`].

use jensen_runtime::data::DataError;
use ndarray::Array2;

/// Why records could not become a model's data.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    /// A vector field whose length differs from the first record's.
    #[error(
        "record {row}: field `{field}` has {found} values, but the first record's has {expected}"
    )]
    Length {
        /// The record (from 0).
        row: usize,
        /// The field.
        field: &'static str,
        /// Its number of values.
        found: usize,
        /// The first record's.
        expected: usize,
    },
    /// A record that could not be read (the error of a fallible record, e.g. a CSV row that
    /// does not parse).
    #[error("record {row}: {source}")]
    Record {
        /// The record (from 0).
        row: usize,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The data the records make do not fit the model (a value out of range, no rows, …).
    #[error(transparent)]
    Data(#[from] DataError),
}

/// A value of a record's field as the model's data holds it: a number, `NaN` for a missing
/// one (`None`).
pub trait Cell {
    /// The value.
    fn value(&self) -> f64;
}

macro_rules! cells {
    ($($t:ty),*) => {$(
        impl Cell for $t {
            fn value(&self) -> f64 {
                *self as f64
            }
        }
    )*};
}
cells!(f64, f32, u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl Cell for bool {
    fn value(&self) -> f64 {
        f64::from(u8::from(*self))
    }
}

impl<T: Cell> Cell for Option<T> {
    fn value(&self) -> f64 {
        self.as_ref().map_or(f64::NAN, Cell::value)
    }
}

/// Appends a vector field's values to `flat`, checking its length against the first
/// record's (`width`).
pub fn push_vector<'a, T: Cell + 'a>(
    flat: &mut Vec<f64>,
    width: &mut Option<usize>,
    values: impl IntoIterator<Item = &'a T>,
    row: usize,
    field: &'static str,
) -> Result<(), RowsError> {
    let before = flat.len();
    flat.extend(values.into_iter().map(Cell::value));
    let found = flat.len() - before;
    match *width {
        None => *width = Some(found),
        Some(expected) if expected != found => {
            return Err(RowsError::Length {
                row,
                field,
                found,
                expected,
            })
        }
        Some(_) => {}
    }
    Ok(())
}

/// The `n × width` matrix of a vector field's values, row by row (`flat` as
/// [`push_vector`] filled it).
pub fn matrix(n: usize, width: Option<usize>, flat: Vec<f64>) -> Array2<f64> {
    let width = width.unwrap_or(0);
    Array2::from_shape_vec((n, width), flat)
        .unwrap_or_else(|_| unreachable!("push_vector keeps every record's width"))
}
