//! Validation of bound data: every value checked once, before fitting, with its row and column.

use ndarray::{ArrayView1, ArrayView2};
use thiserror::Error;

/// What kind of values a data column must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Any finite real.
    Real,
    /// A non-negative integer (Poisson counts).
    Count,
    /// A number above zero (exponential emissions).
    Positive,
    /// 0 or 1.
    Binary,
    /// An integer in `0..n` (a category index).
    Category(usize),
    /// A row's weight: a number from 0 to [`MAX_WEIGHT`].
    Weight,
}

impl ValueKind {
    /// What `value`, which the kind does not admit, should have been.
    fn describe_for(self, value: f64) -> String {
        match self {
            ValueKind::Real | ValueKind::Positive
                if value.is_finite() && value.abs() > MAX_MAGNITUDE =>
            {
                "a number of magnitude at most 1e150 — beyond it squares and sums of squares overflow the statistics; rescale the column (e.g. change its units)".into()
            }
            ValueKind::Positive if value > 0.0 && value.is_finite() => {
                "a number of at least 1e-150 — below it the rate 1/x overflows; rescale the column (e.g. change its units)".into()
            }
            _ => self.describe(),
        }
    }

    fn describe(self) -> String {
        match self {
            ValueKind::Real => "a finite number".into(),
            ValueKind::Count => "a non-negative whole number (a count) below 2^53".into(),
            ValueKind::Positive => "a number above zero".into(),
            ValueKind::Binary => "0 or 1".into(),
            ValueKind::Category(n) => format!("a whole number in 0..{n}"),
            ValueKind::Weight => "a weight: a number from 0 to 1e15".into(),
        }
    }

    /// Whether `v` is allowed.
    pub fn admits(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                ValueKind::Real => v.abs() <= MAX_MAGNITUDE,
                ValueKind::Count => (0.0..=MAX_EXACT).contains(&v) && v.fract() == 0.0,
                ValueKind::Positive => (MIN_POSITIVE..=MAX_MAGNITUDE).contains(&v),
                ValueKind::Binary => v == 0.0 || v == 1.0,
                ValueKind::Category(n) => v >= 0.0 && v.fract() == 0.0 && (v as usize) < n,
                ValueKind::Weight => (0.0..=MAX_WEIGHT).contains(&v),
            }
    }
}

/// Largest count stored exactly in an `f64` (2^53).
pub const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// Largest magnitude of a real or positive value: its square (1e300) and sums of squares
/// and products over up to 10^8 rows stay finite.
pub const MAX_MAGNITUDE: f64 = 1e150;

/// Largest weight of a row: a frequency of up to 10^15 rows (each weight times the largest
/// square of a value still leaves room in the sums of the statistics over 10^8 rows is not
/// promised: [`check_weighted_sums`] checks what the data need).
pub const MAX_WEIGHT: f64 = 1e15;

/// Checks a weight per row (`data w[N]: weight`): every value admitted by
/// [`ValueKind::Weight`], not all zero, and, for a chain, the same within each sequence (a
/// weight per sequence). Returns `Σ w`.
pub fn check_weights(
    item: &str,
    w: ArrayView1<'_, f64>,
    sequences: Option<&[std::ops::Range<usize>]>,
) -> Result<f64, DataError> {
    check_values(item, w.insert_axis(ndarray::Axis(1)), ValueKind::Weight)?;
    let total: f64 = w.sum();
    if total.is_nan() || total <= 0.0 {
        return Err(DataError::Weights(format!(
            "every weight in `{item}` is 0: at least one row must weigh more than 0"
        )));
    }
    for seq in sequences.unwrap_or_default() {
        if let Some(i) = seq.clone().find(|&i| w[i] != w[seq.start]) {
            return Err(DataError::Weights(format!(
                "weight `{item}` is {} in row {} but {} in row {}, of the same sequence (rows {} to {}): a chain takes one weight per sequence, repeated on each of its rows",
                show_value(w[seq.start]),
                seq.start + 1,
                show_value(w[i]),
                i + 1,
                seq.start + 1,
                seq.end
            )));
        }
    }
    Ok(total)
}

/// Checks the partial labels of a discrete latent with `k` values over `rows` rows: one per
/// row, each a value below `k` (or `None`, unlabelled).
pub fn check_labels(
    item: &str,
    labels: &[Option<u32>],
    k: usize,
    rows: usize,
) -> Result<(), DataError> {
    if labels.len() != rows {
        return Err(DataError::Labels(format!(
            "{} labels of `{item}` for {rows} rows: give one per row (`None` where unknown)",
            labels.len()
        )));
    }
    if let Some((i, l)) = labels
        .iter()
        .enumerate()
        .find_map(|(i, l)| l.filter(|&l| l as usize >= k).map(|l| (i, l)))
    {
        return Err(DataError::Labels(format!(
            "row {}: label {l} is not a value of `{item}` (0..{k})",
            i + 1
        )));
    }
    Ok(())
}

/// Checks that the weighted sums of squares of a real-valued item stay finite with room for
/// the statistics (as [`MAX_MAGNITUDE`] ensures for a weight of 1), naming the row whose
/// weighted square is the largest.
pub fn check_weighted_sums(
    item: &str,
    x: ArrayView2<'_, f64>,
    w: ArrayView1<'_, f64>,
) -> Result<(), DataError> {
    let d = x.ncols() as f64;
    for (j, column) in x.columns().into_iter().enumerate() {
        let squares: f64 = column.iter().zip(w).map(|(x, w)| w * x * x).sum();
        if (8.0 * d * squares).is_finite() {
            continue;
        }
        let (row, _) = column
            .iter()
            .zip(w)
            .map(|(x, w)| w * x * x)
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |m, (i, v)| if v > m.1 { (i, v) } else { m },
            );
        return Err(DataError::Weights(format!(
            "row {}, column {} of `{item}`: {} weighs {}, and the weighted sum of squares of the column overflows; rescale the column, or scale the weights down (they are frequencies: a row of weight w counts as w rows)",
            row + 1,
            j + 1,
            show_value(x[[row, j]]),
            show_value(w[row])
        )));
    }
    Ok(())
}

/// Smallest positive value: its reciprocal (a rate re-seeded at the row) stays finite with
/// the same room as [`MAX_MAGNITUDE`].
pub const MIN_POSITIVE: f64 = 1e-150;

/// A value that its data item does not admit (row and column are 0-based here; the CLI
/// reports file rows and column names).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("row {row}, column {column} of `{item}`: {} is not {expected}", show_value(*value))]
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

/// A value as written in a message: `1e308` rather than its 309 digits.
pub fn show_value(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-5..1e16).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
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
                expected: kind.describe_for(value),
            });
        }
    }
    Ok(())
}

/// Checks that every value of `x` is at most `trials`: a binomial block's successes within
/// its known number of trials (a missing value, NaN, passes).
pub fn check_at_most_trials(
    item: &str,
    x: ArrayView2<'_, f64>,
    trials: f64,
) -> Result<(), BadValue> {
    for ((row, column), &value) in x.indexed_iter() {
        if value > trials {
            return Err(BadValue {
                item: item.to_string(),
                row,
                column,
                value,
                expected: format!(
                    "a count of at most {trials}, the number of trials of its `Binomial({trials}, …)`"
                ),
            });
        }
    }
    Ok(())
}

/// Checks that each row's count of successes `x` is at most that row's number of trials `t`
/// (a binomial's trials from a column), skipping the rows whose count is missing.
pub fn check_at_most_trials_by_row(
    item: &str,
    x: ArrayView1<'_, f64>,
    gaps: &crate::gaps::Gaps,
    trials_item: &str,
    t: ArrayView1<'_, f64>,
) -> Result<(), BadValue> {
    for (row, (&value, &trials)) in x.iter().zip(t.iter()).enumerate() {
        if value > trials && !gaps.has_row(row) {
            return Err(BadValue {
                item: item.to_string(),
                row,
                column: 0,
                value,
                expected: format!(
                    "a count of at most {trials}, the row's number of trials (`{trials_item}`)"
                ),
            });
        }
    }
    Ok(())
}

/// Data handed to a generated model that does not fit it.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DataError {
    /// A value the item does not admit.
    #[error(transparent)]
    Value(#[from] BadValue),
    /// Items with different numbers of rows.
    #[error("data `{item}` has {found} rows but `{first}` has {expected}")]
    Rows {
        /// The item.
        item: String,
        /// Its row count.
        found: usize,
        /// The first item.
        first: String,
        /// Its row count.
        expected: usize,
    },
    /// Items sharing a dimension with different sizes.
    #[error("data `{item}` has {found} columns but `{set}` is {expected}")]
    Columns {
        /// The item.
        item: String,
        /// Its column count.
        found: usize,
        /// The index set.
        set: String,
        /// Its size.
        expected: usize,
    },
    /// No rows at all.
    #[error("the data has no rows")]
    Empty,
    /// Sequences of a chain that do not fit the rows.
    #[error("sequences: {0}")]
    Sequences(String),
    /// A constant set to zero.
    #[error("constant `{0}` must be at least 1")]
    ZeroConst(String),
    /// Row weights that cannot weigh the rows (all zero; varying within a sequence).
    #[error("{0}")]
    Weights(String),
    /// Partial labels that do not fit the latent.
    #[error("{0}")]
    Labels(String),
    /// Missing cells in a data item whose block cannot integrate them out yet.
    #[error("data `{item}` has {cells} missing cells (the first in row {row}), but {why}: remove or fill those rows")]
    Gaps {
        /// The item.
        item: String,
        /// How many cells are missing.
        cells: usize,
        /// The first row with one, from 1.
        row: usize,
        /// Why they cannot be integrated out.
        why: String,
    },
    /// A prior's hyperparameter computed from the data (`cov(x)`, `var(x)`, `mean(x)`) that
    /// the prior cannot take.
    #[error("`{summary}` in the prior on `{param}` {problem}")]
    Hyperparameter {
        /// The parameter with the prior.
        param: String,
        /// The summary, as written (`cov(x)`).
        summary: String,
        /// What is wrong, and what to do.
        problem: String,
    },
    /// A continuous latent with at least as many dimensions as the data it explains.
    #[error("{}", latent_dim_message(latent, size, *dim, item, *columns))]
    LatentDim {
        /// The continuous latent.
        latent: String,
        /// The name of its dimension, e.g. `L`.
        size: String,
        /// Its dimension.
        dim: usize,
        /// The data item it explains.
        item: String,
        /// The item's columns.
        columns: usize,
    },
}

/// What a prior's hyperparameter is: a location (a prior mean, any finite value) or a scale
/// (positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorRole {
    /// A prior mean, `mean(x)`.
    Location,
    /// An inverse-Gamma scale, `var(x)`.
    Scale,
}

/// A prior's hyperparameters computed from the data (`mean(x)`, `var(x)` per coordinate),
/// checked: every value finite, and positive for a scale.
pub fn prior_vector(
    param: &str,
    summary: &str,
    values: ndarray::Array1<f64>,
    role: PriorRole,
) -> Result<ndarray::Array1<f64>, DataError> {
    check_prior_values(param, summary, values.iter().copied(), role)?;
    Ok(values)
}

/// [`prior_vector`] of one number (`mean(y)` of a real column, `var(x)` averaged over the
/// coordinates).
pub fn prior_number(
    param: &str,
    summary: &str,
    value: f64,
    role: PriorRole,
) -> Result<f64, DataError> {
    check_prior_values(param, summary, [value], role)?;
    Ok(value)
}

fn check_prior_values(
    param: &str,
    summary: &str,
    values: impl IntoIterator<Item = f64>,
    role: PriorRole,
) -> Result<(), DataError> {
    let fail = |problem: &str| {
        Err(DataError::Hyperparameter {
            param: param.into(),
            summary: summary.into(),
            problem: problem.into(),
        })
    };
    for v in values {
        if !v.is_finite() {
            return fail("is not finite: the data's values are too large to summarise; rescale the data or write the hyperparameter as a number");
        }
        if role == PriorRole::Scale && v <= 0.0 {
            return fail("is not positive (a constant column, or a single row): write a number instead, e.g. `InvGamma(1.0, 0.5)`");
        }
    }
    Ok(())
}

/// An inverse-Wishart scale matrix computed from the data (`cov(x)`), checked finite and
/// positive definite.
pub fn prior_scale_matrix(
    param: &str,
    summary: &str,
    scale: ndarray::Array2<f64>,
) -> Result<ndarray::Array2<f64>, DataError> {
    check_prior_values(param, summary, scale.iter().copied(), PriorRole::Location)?;
    if crate::linalg::Cholesky::new(scale.view()).is_none() {
        return Err(DataError::Hyperparameter {
            param: param.into(),
            summary: summary.into(),
            problem: "is not positive definite (a constant column, columns that are linearly dependent, or fewer rows than columns): write a fixed scale instead, e.g. `InvWishart(5.0, 0.1 * I)`".into(),
        });
    }
    Ok(scale)
}

/// The message of [`DataError::LatentDim`], shared with the executor's binding errors.
pub fn latent_dim_message(
    latent: &str,
    size: &str,
    dim: usize,
    item: &str,
    columns: usize,
) -> String {
    format!(
        "latent `{latent}` has {size} = {dim} dimensions but data `{item}` has only {columns} columns: with as many factors as columns the loadings are not identifiable (and the noise has no maximum-likelihood value); choose {size} < {columns}"
    )
}

/// Fails unless a continuous latent has fewer dimensions than the data item it explains.
pub fn check_latent_dim(
    latent: &str,
    size: &str,
    dim: usize,
    item: &str,
    columns: usize,
) -> Result<(), DataError> {
    if dim < columns {
        Ok(())
    } else {
        Err(DataError::LatentDim {
            latent: latent.into(),
            size: size.into(),
            dim,
            item: item.into(),
            columns,
        })
    }
}

/// The same matrix stored column-major, so that the values of each column for a block of
/// rows are contiguous: the Gaussian kernels then vectorise across rows.
pub fn column_major(a: ndarray::Array2<f64>) -> ndarray::Array2<f64> {
    use ndarray::ShapeBuilder;
    if a.t().is_standard_layout() {
        return a;
    }
    let mut out = ndarray::Array2::zeros(a.raw_dim().f());
    out.assign(&a);
    out
}

/// Checks that `found == expected` rows.
pub fn check_rows(item: &str, found: usize, first: &str, expected: usize) -> Result<(), DataError> {
    if found == expected {
        Ok(())
    } else {
        Err(DataError::Rows {
            item: item.into(),
            found,
            first: first.into(),
            expected,
        })
    }
}

/// Checks that `found == expected` columns.
pub fn check_columns(
    item: &str,
    found: usize,
    set: &str,
    expected: usize,
) -> Result<(), DataError> {
    if found == expected {
        Ok(())
    } else {
        Err(DataError::Columns {
            item: item.into(),
            found,
            set: set.into(),
            expected,
        })
    }
}

/// One more than the largest value (the number of categories seen), after checking the
/// values are category indices.
pub fn category_count(item: &str, x: ArrayView2<'_, f64>) -> Result<usize, DataError> {
    check_values(item, x, ValueKind::Count)?;
    Ok(x.iter().fold(0.0f64, |m, &v| m.max(v)) as usize + 1)
}

/// Refuses the missing cells of `item` in a block that cannot integrate them out (`why`
/// says which and why).
pub fn refuse_gaps(item: &str, gaps: &crate::gaps::Gaps, why: &str) -> Result<(), DataError> {
    match gaps.first_row() {
        None => Ok(()),
        Some(row) => Err(DataError::Gaps {
            item: item.into(),
            cells: gaps.cells(),
            row: row + 1,
            why: why.into(),
        }),
    }
}

/// A column-major `rows × cols` array of zeros whose first value starts a cache line (64
/// bytes), as do its columns when `rows` is a multiple of eight: the kernels' vectors of
/// eight lanes then never straddle two lines. (An allocation as large as a data set's comes
/// from the system 16 bytes past a page boundary, where every such load would be split.)
pub fn zeros_aligned_f(rows: usize, cols: usize) -> ndarray::Array2<f64> {
    const LINE: usize = 64;
    let len = rows * cols;
    let values = vec![0.0f64; len + LINE / 8 - 1];
    // Values to skip to the next line (the allocation is aligned to 8 bytes at least).
    let skip = (LINE - values.as_ptr() as usize % LINE) % LINE / 8;
    ndarray::Array1::from_vec(values)
        .slice_move(ndarray::s![skip..skip + len])
        .into_shape_with_order(((rows, cols), ndarray::Order::ColumnMajor))
        .expect("rows × cols contiguous values")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_zeros_are_column_major_and_start_a_cache_line() {
        for (rows, cols) in [
            (0, 0),
            (0, 3),
            (5, 0),
            (1, 1),
            (7, 3),
            (1024, 8),
            (100_000, 8),
        ] {
            let a = zeros_aligned_f(rows, cols);
            assert_eq!(a.dim(), (rows, cols));
            assert!(a.iter().all(|&v| v == 0.0));
            if rows * cols > 0 {
                assert_eq!(a.as_ptr() as usize % 64, 0, "{rows} × {cols}");
            }
            // Column-major and contiguous: each column a slice, the columns one after another.
            assert!(a.t().is_standard_layout());
            if rows > 0 && rows % 8 == 0 {
                for c in a.columns() {
                    assert_eq!(c.as_ptr() as usize % 64, 0);
                }
            }
        }
    }
}
