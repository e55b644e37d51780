//! Validation of bound data: every value checked once, before fitting, with its row and column.

use ndarray::ArrayView2;
use thiserror::Error;

/// What kind of values a data column must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Any finite real.
    Real,
    /// A non-negative integer (Poisson counts).
    Count,
    /// 0 or 1.
    Binary,
    /// An integer in `0..n` (a category index).
    Category(usize),
}

impl ValueKind {
    fn describe(self) -> String {
        match self {
            ValueKind::Real => "a finite number".into(),
            ValueKind::Count => "a non-negative whole number (a count)".into(),
            ValueKind::Binary => "0 or 1".into(),
            ValueKind::Category(n) => format!("a whole number in 0..{n}"),
        }
    }

    /// Whether `v` is allowed.
    pub fn admits(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                ValueKind::Real => true,
                ValueKind::Count => v >= 0.0 && v.fract() == 0.0,
                ValueKind::Binary => v == 0.0 || v == 1.0,
                ValueKind::Category(n) => v >= 0.0 && v.fract() == 0.0 && (v as usize) < n,
            }
    }
}

/// A value that its data item does not admit (row and column are 0-based here; the CLI
/// reports file rows and column names).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("row {row}, column {column} of `{item}`: {value} is not {expected}")]
pub struct BadValue {
    /// Data item.
    pub item: String,
    /// Row index.
    pub row: usize,
    /// Column index within the item.
    pub column: usize,
    /// The value.
    pub value: f64,
    /// What was expected.
    pub expected: String,
}

/// Checks every value of `x` (rows × columns) against `kind`.
pub fn check_values(item: &str, x: ArrayView2<'_, f64>, kind: ValueKind) -> Result<(), BadValue> {
    for ((row, column), &value) in x.indexed_iter() {
        if !kind.admits(value) {
            return Err(BadValue {
                item: item.to_string(),
                row,
                column,
                value,
                expected: kind.describe(),
            });
        }
    }
    Ok(())
}
