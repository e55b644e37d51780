//! Missing values: the cells of a data item that were not observed (an empty cell or `NA`
//! in a CSV file, a NaN in an array handed to a generated model).
//!
//! Values are missing at random: a row's missing cells are integrated out of its E-step.
//! Both back-ends run each block's ordinary kernels over every row (a missing cell holds a
//! placeholder, see [`take`]) and then let the block's kernels in
//! [`crate::kernels::missing`] replace what they computed for the rows with a gap: the
//! log-density by that of the observed cells alone, the statistics by their conditional
//! expectations given the observed cells. A model whose data have no gap runs none of it.

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis, CowArray, Ix2};

/// What a missing cell holds while the ordinary kernels run over its row (their results
/// for the row are replaced), and what initialisation, re-seeding and the summaries of the
/// data (`mean(x)`, the column scales) see there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// The mean of the column's observed values (1 when none is, which positive data admit
    /// too): real and positive data.
    Mean,
    /// The column's most frequent observed value (the smallest on a tie; 0 when none is):
    /// counts, bits and categories, whose placeholder must be a value they admit.
    Mode,
}

/// The missing cells of one data item: the rows with at least one, in order, each with
/// its missing columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gaps {
    rows: Vec<usize>,
    /// `columns[starts[i]..starts[i + 1]]` are row `rows[i]`'s missing columns.
    starts: Vec<usize>,
    columns: Vec<usize>,
    /// Missing cells per column.
    per_column: Vec<usize>,
    /// Each gap row's pattern of missing columns, numbered in order of first appearance.
    pattern: Vec<u32>,
    /// The number of distinct patterns.
    patterns: usize,
}

impl Gaps {
    /// The NaN cells of `x` (`rows × columns`).
    pub fn find(x: ArrayView2<'_, f64>) -> Self {
        let mut gaps = Gaps {
            starts: vec![0],
            per_column: vec![0; x.ncols()],
            ..Gaps::default()
        };
        let mut ids: std::collections::HashMap<Vec<usize>, u32> = Default::default();
        for (i, row) in x.rows().into_iter().enumerate() {
            let before = gaps.columns.len();
            for (j, v) in row.iter().enumerate() {
                if v.is_nan() {
                    gaps.columns.push(j);
                    gaps.per_column[j] += 1;
                }
            }
            if gaps.columns.len() > before {
                gaps.rows.push(i);
                gaps.starts.push(gaps.columns.len());
                let next = ids.len() as u32;
                let id = *ids.entry(gaps.columns[before..].to_vec()).or_insert(next);
                gaps.pattern.push(id);
            }
        }
        gaps.patterns = ids.len();
        gaps
    }

    /// Whether every cell was observed.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The number of missing cells.
    pub fn cells(&self) -> usize {
        self.columns.len()
    }

    /// The number of rows with a missing cell.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// The missing columns of row `row` (from 0; empty for a row without a gap).
    pub fn columns_of(&self, row: usize) -> &[usize] {
        match self.rows.binary_search(&row) {
            Ok(i) => &self.columns[self.starts[i]..self.starts[i + 1]],
            Err(_) => &[],
        }
    }

    /// Whether row `row` (from 0) has a missing cell.
    pub fn has_row(&self, row: usize) -> bool {
        self.rows.binary_search(&row).is_ok()
    }

    /// The first row with a missing cell (from 0).
    pub fn first_row(&self) -> Option<usize> {
        self.rows.first().copied()
    }

    /// The number of missing cells in each column.
    pub fn per_column(&self) -> &[usize] {
        &self.per_column
    }

    /// The rows with a gap among `rows`, numbered from `rows.start`.
    pub fn within(&self, rows: Range<usize>) -> GapsIn<'_> {
        let lo = self.rows.partition_point(|&r| r < rows.start);
        let hi = self.rows.partition_point(|&r| r < rows.end);
        GapsIn {
            gaps: self,
            first: rows.start,
            lo,
            hi,
        }
    }

    /// Writes the placeholder of every missing cell of `x` (see [`Fill`]).
    fn fill(&self, x: &mut Array2<f64>, fill: Fill) {
        if self.is_empty() {
            return;
        }
        let placeholders: Vec<f64> = x
            .columns()
            .into_iter()
            .map(|col| placeholder(col.iter().copied().filter(|v| !v.is_nan()), fill))
            .collect();
        for (i, &row) in self.rows.iter().enumerate() {
            for &c in &self.columns[self.starts[i]..self.starts[i + 1]] {
                x[[row, c]] = placeholders[c];
            }
        }
    }
}

/// Finds the NaN cells of `x` and writes their placeholders ([`Fill`]): the gaps of a data
/// item, as a model binding its data takes them.
pub fn take(x: &mut Array2<f64>, fill: Fill) -> Gaps {
    let gaps = Gaps::find(x.view());
    gaps.fill(x, fill);
    gaps
}

/// [`take`] for a data item of one column.
pub fn take_column(x: &mut Array1<f64>, fill: Fill) -> Gaps {
    let mut m = std::mem::take(x).insert_axis(Axis(1));
    let gaps = take(&mut m, fill);
    *x = m.remove_axis(Axis(1));
    gaps
}

/// The number of missing cells of several data items, each row's counted `weights[row]`
/// times when the rows have weights.
pub fn missing_cells(items: &[&Gaps], weights: Option<&[f64]>) -> f64 {
    items
        .iter()
        .map(|g| {
            (0..g.rows.len())
                .map(|i| {
                    let cells = (g.starts[i + 1] - g.starts[i]) as f64;
                    weights.map_or(cells, |w| w[g.rows[i]] * cells)
                })
                .sum::<f64>()
        })
        .sum()
}

/// Sets the entries of `v` (one per row, e.g. `ln x!` of a count column) at the rows with a
/// gap to zero: a missing cell has no term of its own.
pub fn clear(gaps: &Gaps, mut v: Array1<f64>) -> Array1<f64> {
    for &r in &gaps.rows {
        v[r] = 0.0;
    }
    v
}

fn placeholder(observed: impl Iterator<Item = f64>, fill: Fill) -> f64 {
    match fill {
        Fill::Mean => {
            let (mut sum, mut n) = (0.0, 0usize);
            for v in observed {
                sum += v;
                n += 1;
            }
            if n == 0 {
                1.0
            } else {
                sum / n as f64
            }
        }
        Fill::Mode => {
            let mut values: Vec<f64> = observed.collect();
            values.sort_by(f64::total_cmp);
            let (mut best, mut best_count) = (0.0, 0usize);
            let mut i = 0;
            while i < values.len() {
                let j = values[i..].partition_point(|&v| v == values[i]) + i;
                if j - i > best_count {
                    (best, best_count) = (values[i], j - i);
                }
                i = j;
            }
            best
        }
    }
}

/// The rows with a gap within a chunk of rows ([`Gaps::within`]), numbered from the chunk's
/// first row.
#[derive(Debug, Clone, Copy)]
pub struct GapsIn<'a> {
    gaps: &'a Gaps,
    first: usize,
    lo: usize,
    hi: usize,
}

impl<'a> GapsIn<'a> {
    /// Whether no row of the chunk has a gap.
    pub fn is_empty(&self) -> bool {
        self.lo == self.hi
    }

    /// Each row with a gap: its index within the chunk and its missing columns.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &'a [usize])> + 'a {
        let (gaps, first) = (self.gaps, self.first);
        (self.lo..self.hi).map(move |i| {
            (
                gaps.rows[i] - first,
                &gaps.columns[gaps.starts[i]..gaps.starts[i + 1]],
            )
        })
    }

    /// [`GapsIn::iter`] with each row's pattern of missing columns, numbered `0..patterns()`
    /// over the whole data item (rows with the same missing columns share a number).
    pub fn iter_patterns(&self) -> impl Iterator<Item = (usize, &'a [usize], usize)> + 'a {
        let gaps = self.gaps;
        self.iter()
            .zip(self.lo..self.hi)
            .map(move |((row, missing), i)| (row, missing, gaps.pattern[i] as usize))
    }

    /// Which data item's gaps these are (the address of its [`Gaps`]), to tell items apart
    /// in a cache.
    pub(crate) fn identity(&self) -> usize {
        std::ptr::from_ref(self.gaps) as usize
    }

    /// The number of distinct patterns of missing columns in the data item.
    pub fn patterns(&self) -> usize {
        self.gaps.patterns
    }

    /// The rows with a gap of `out` (`chunk rows × K`), in order: what the log-joint held
    /// before a block's ordinary kernels added to them.
    pub fn rows_of(&self, out: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut saved = Array2::zeros((self.hi - self.lo, out.ncols()));
        for (mut s, (i, _)) in saved.rows_mut().into_iter().zip(self.iter()) {
            s.assign(&out.row(i));
        }
        saved
    }

    /// The rows with a gap of a log-joint block (`chunk rows × k`) that a block's call sets
    /// to the latent's prior plus its densities (`gaussian::mvn_diag_set_log_joint`): what
    /// [`GapsIn::rows_of`] would have read after the prior's own call, `log_prior[j]` in
    /// column `j` (or its one value in every column).
    pub fn prior_rows(&self, log_prior: ArrayView1<'_, f64>, k: usize) -> Array2<f64> {
        Array2::from_shape_fn((self.hi - self.lo, k), |(_, j)| {
            if log_prior.len() == 1 {
                log_prior[0]
            } else {
                log_prior[j]
            }
        })
    }

    /// `resp` with the rows that have a gap set to zero: the responsibilities under which
    /// the ordinary kernels accumulate (the gap kernels add those rows' statistics).
    pub fn zero_rows<'r>(&self, resp: ArrayView2<'r, f64>) -> CowArray<'r, f64, Ix2> {
        if self.is_empty() {
            return resp.into();
        }
        let mut owned = resp.to_owned();
        for (i, _) in self.iter() {
            owned.row_mut(i).fill(0.0);
        }
        owned.into()
    }
}

/// Splits `0..d` into the observed coordinates and the `missing` ones (sorted, distinct).
pub(crate) fn observed_of(d: usize, missing: &[usize]) -> Vec<usize> {
    let mut observed = Vec::with_capacity(d - missing.len());
    let mut m = missing.iter().peekable();
    for j in 0..d {
        if m.peek() == Some(&&j) {
            m.next();
        } else {
            observed.push(j);
        }
    }
    observed
}

/// `out[i] = before[i]` for every row with a gap: a block of one column contributes
/// nothing to a row whose cell is missing. (Used by the gap kernels of every
/// one-column family.)
pub(crate) fn restore(
    gaps: &GapsIn<'_>,
    before: ArrayView1<'_, f64>,
    mut out: ArrayViewMut1<'_, f64>,
) {
    for ((i, _), &b) in gaps.iter().zip(before.iter()) {
        out[i] = b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn finds_gaps_and_fills_placeholders() {
        let mut x = array![
            [1.0, f64::NAN],
            [f64::NAN, f64::NAN],
            [3.0, 4.0],
            [2.0, f64::NAN]
        ];
        let gaps = take(&mut x, Fill::Mean);
        assert_eq!(gaps.cells(), 4);
        assert_eq!(gaps.rows(), 3);
        assert_eq!(gaps.per_column(), &[1, 3]);
        assert_eq!(x, array![[1.0, 4.0], [2.0, 4.0], [3.0, 4.0], [2.0, 4.0]]);
        let chunk = gaps.within(1..3);
        let rows: Vec<_> = chunk.iter().collect();
        assert_eq!(rows, vec![(0, &[0usize, 1][..])]);
        let mut c = array![1.0, f64::NAN, 1.0, 2.0, 2.0, f64::NAN];
        let g = take_column(&mut c, Fill::Mode);
        assert_eq!(g.cells(), 2);
        assert_eq!(c, array![1.0, 1.0, 1.0, 2.0, 2.0, 1.0]);
        let mut all = array![[f64::NAN], [f64::NAN]];
        take(&mut all, Fill::Mean);
        assert_eq!(all, array![[1.0], [1.0]]);
    }

    #[test]
    fn chunks_zero_and_save_their_gap_rows() {
        let x = array![[1.0], [f64::NAN], [3.0], [f64::NAN]];
        let gaps = Gaps::find(x.view());
        let chunk = gaps.within(2..4);
        let resp = array![[0.5, 0.5], [0.25, 0.75]];
        let z = chunk.zero_rows(resp.view());
        assert_eq!(z, array![[0.5, 0.5], [0.0, 0.0]]);
        assert_eq!(chunk.rows_of(resp.view()), array![[0.25, 0.75]]);
        assert!(gaps.within(0..1).is_empty());
        assert_eq!(observed_of(4, &[1, 3]), vec![0, 2]);
    }
}
