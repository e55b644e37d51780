//! The spherical scores of every component for a block of column-major rows, fused into one
//! pass over register tiles (the hard E-step's hot loop: k-means).
//!
//! A tile of [`ROWS`] rows is centred and its squared norms taken while its columns stream
//! in; then each group of components' dot products runs down the tile's coordinates with the
//! rows across vector lanes, and each component's score is added to its column of the
//! log-joint straight from the registers. No centred copy of the block, no product buffer,
//! no second pass over the components.
//!
//! The widest vector unit is chosen at run time (AVX-512 where the CPU has it; for the hard
//! step and its statistics AVX2 next, with the same bits; the build's target otherwise). The
//! scores are approximations within the caller's round-off bound (see
//! [`super::gaussian::mvn_spherical_add_log_densities`]), so the summation order of a
//! particular vector width never reaches an assignment: rows near a tie are recomputed
//! exactly.

use ndarray::ArrayView2;

use crate::mixture::TopTwo;

/// Rows per tile: eight `f64` lanes (one AVX-512 register, two AVX2 registers).
pub(crate) const ROWS: usize = 8;

/// The per-component constants of the spherical scores.
pub(crate) struct Components<'a> {
    /// Centre subtracted from every row (the mean of the means).
    pub centre: &'a [f64],
    /// Centred means, coordinate-major: `mct[j * k + c]` is coordinate `j` of component `c`.
    pub mct: &'a [f64],
    /// `‖μ̃_c‖²`.
    pub norms: &'a [f64],
    /// The density's constant of each component.
    pub constant: &'a [f64],
    /// Half the precision of each component.
    pub half_precision: &'a [f64],
    /// The latent's log prior of each component (read by the top-two form only; the
    /// log-joint form adds the scores to a log-joint that holds it).
    pub log_prior: &'a [f64],
}

/// Adds `constant_c − h_c · max(‖x̃‖² − 2 x̃ᵀμ̃_c + ‖μ̃_c‖², 0)` to `out[c][b]` for every
/// row `b` of `columns` (one contiguous slice per coordinate) and component `c`, and writes
/// `‖x̃_b‖²` to `norms[b]`.
pub(crate) fn add_spherical_scores(
    columns: &[&[f64]],
    comps: &Components<'_>,
    out: &mut [&mut [f64]],
    norms: &mut [f64],
    tile: &mut [[f64; ROWS]],
) {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512F (checked just above), the only requirement of
        // `avx512::scores`'s target feature.
        let done = unsafe { avx512::scores(columns, comps, out, norms, tile) };
        if done < norms.len() {
            let columns: Vec<&[f64]> = columns.iter().map(|c| &c[done..]).collect();
            let mut out: Vec<&mut [f64]> = out.iter_mut().map(|o| &mut o[done..]).collect();
            scores::<4>(&columns, comps, &mut out, &mut norms[done..], tile);
        }
        return;
    }
    scores::<4>(columns, comps, out, norms, tile);
}

/// The hard E-step's one-pass argmax: each row's best component, the value of
/// `log_prior_c + score_c` there and the second best value, into `top` (and whether a value
/// was NaN into `top.nan`), and the rows' squared norms into `norms`.
pub(crate) fn spherical_top_two(
    columns: &[&[f64]],
    comps: &Components<'_>,
    top: &mut TopTwo<'_>,
    norms: &mut [f64],
    tile: &mut [[f64; ROWS]],
) {
    let m = norms.len();
    let mut done = 0;
    top.nan = false;
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512F (checked just above).
        (done, top.nan) = unsafe { avx512::scores_top_two(columns, comps, top, norms, tile) };
    }
    if done < m {
        let columns: Vec<&[f64]> = columns.iter().map(|c| &c[done..]).collect();
        let mut rest = TopTwo {
            at: &mut top.at[done..],
            best: &mut top.best[done..],
            second: &mut top.second[done..],
            nan: false,
        };
        top.nan |= scores_top_two::<4>(&columns, comps, &mut rest, &mut norms[done..], tile);
    }
}

/// Rows per tile of the hard step's single-precision scores: sixteen `f32` lanes.
pub(crate) const ROWS32: usize = 16;

/// The hard step's single-precision scores (see [`hard_step_tiles`]): component `c`'s score
/// of a row is `a_c + Σ_j x̃_j w_jc − h_c ‖x̃‖²`, the spherical score with the log prior
/// (`log_prior_c + constant_c − h_c ‖x̃ − μ̃_c‖²`) expanded.
pub(crate) struct Single<'a> {
    /// `f32(2 h_c μ̃_cj)`, coordinate-major: `w[j * k + c]`.
    pub w: &'a [f32],
    /// `f32(log_prior_c + constant_c − h_c ‖μ̃_c‖²)`.
    pub a: &'a [f32],
    /// `f32(h_c)`.
    pub h: &'a [f32],
    /// Whether every `f32(h_c)` is the same: the `−h ‖x̃‖²` term is then left out of every
    /// score (common to a row's scores, it changes neither their order nor their
    /// differences; where the `f64` values differ within `f32` rounding, the bound covers
    /// the difference).
    pub shared: bool,
    /// A row's two best scores may each lie up to `base + slope · ‖x̃‖²` from the exact ones
    /// (with the rounding of their difference): a row whose gap is within twice that is
    /// deferred.
    pub base: f32,
    /// See `base`.
    pub slope: f32,
    /// Rows with `‖x̃‖²` above this (or not a number) are deferred: their single-precision
    /// scores could overflow.
    pub limit: f32,
}

/// The hard E-step's fused pass over the whole 16-row tiles of a block, with AVX-512 or AVX2:
/// each row's component from single-precision scores (and its score there, the log-joint
/// within the bound, into `best`), and for every row whose two best scores are further apart
/// than their error bound, its statistics in `f64`: `x − μ_z` added to row `z` of `sum` and
/// its elementwise square to `sq` (`means` and both sums row-major `K × D`). Rows within the
/// bound are pushed to `deferred` (offsets in the block) and not accumulated. `tile` holds `D`
/// tiles. Returns how many rows it did; `None` without AVX-512 or AVX2 (whose form takes the
/// same operations on each row, eight rows per register, and so gives the same results).
#[allow(clippy::too_many_arguments)]
pub(crate) fn hard_step_tiles(
    columns: &[&[f64]],
    centre: &[f64],
    single: &Single<'_>,
    means: &[f64],
    at: &mut [u64],
    best: &mut [f64],
    sum: &mut [f64],
    sq: &mut [f64],
    deferred: &mut Vec<u32>,
    tile: &mut [[f32; ROWS32]],
) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return Some(unsafe {
            avx512::hard_step(
                columns, centre, single, means, at, best, sum, sq, deferred, tile,
            )
        });
    }
    #[cfg(target_arch = "x86_64")]
    if super::lanes::avx2() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return Some(unsafe {
            avx2::hard_step(
                columns, centre, single, means, at, best, sum, sq, deferred, tile,
            )
        });
    }
    let _ = (
        columns, centre, single, means, at, best, sum, sq, deferred, tile,
    );
    None
}

/// Whether the kernels take their AVX-512 forms: the CPU has AVX-512F and the environment
/// variable `JENSEN_SIMD` is neither `portable` (which keeps every kernel on the portable
/// loops the compiler vectorises for the build's target, e.g. to check that both give the
/// same fits on one machine) nor `avx2` (the AVX2 forms where the CPU has both, e.g. to
/// measure them on a machine with AVX-512).
#[inline]
pub(crate) fn avx512() -> bool {
    use std::sync::OnceLock;
    static WIDEST: OnceLock<bool> = OnceLock::new();
    *WIDEST.get_or_init(|| {
        let narrower = std::env::var("JENSEN_SIMD").is_ok_and(|v| v == "portable" || v == "avx2");
        #[cfg(target_arch = "x86_64")]
        {
            !narrower && std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = narrower;
            false
        }
    })
}

/// The portable tiled loop, `G` components per group: `sink(start, len, scores, xn)`
/// receives every component's scores of the `len` rows from `start` (`scores[c]`, in the
/// first `len` lanes) and their squared norms.
#[inline(always)]
fn tile_scores<const G: usize>(
    columns: &[&[f64]],
    comps: &Components<'_>,
    m: usize,
    tile: &mut [[f64; ROWS]],
    mut sink: impl FnMut(usize, usize, &[[f64; ROWS]], &[f64; ROWS]),
) {
    let d = columns.len();
    let k = comps.norms.len();
    debug_assert!(columns.iter().all(|c| c.len() == m));
    debug_assert!(tile.len() >= d && comps.mct.len() == d * k);
    let tile = &mut tile[..d];
    let mut scores = vec![[0.0; ROWS]; k];
    let mut start = 0;
    while start < m {
        let len = ROWS.min(m - start);
        // Centre the tile (a short last tile is padded with the centre, i.e. zeros).
        let mut xn = [0.0; ROWS];
        for ((t, col), &c) in tile.iter_mut().zip(columns).zip(comps.centre) {
            if len == ROWS {
                let v: &[f64; ROWS] = col[start..start + ROWS].try_into().expect("a full tile");
                for l in 0..ROWS {
                    t[l] = v[l] - c;
                }
            } else {
                *t = [0.0; ROWS];
                for (l, &v) in col[start..start + len].iter().enumerate() {
                    t[l] = v - c;
                }
            }
            for l in 0..ROWS {
                xn[l] = t[l].mul_add(t[l], xn[l]);
            }
        }
        // `constant_c − h_c · max(‖x̃‖² − 2 x̃ᵀμ̃_c + ‖μ̃_c‖², 0)`.
        let score = |c: usize, dot: &[f64; ROWS]| {
            let (mn, constant, h) = (comps.norms[c], comps.constant[c], comps.half_precision[c]);
            let mut score = [0.0; ROWS];
            for l in 0..ROWS {
                // `max(·, 0)` as a compare and select (one vector instruction; `f64::max`'s
                // NaN rule is not).
                let sq = xn[l] - 2.0 * dot[l] + mn;
                let sq = if sq > 0.0 { sq } else { 0.0 };
                score[l] = constant - h * sq;
            }
            score
        };
        let mut c0 = 0;
        // Groups of `G` components, their accumulators in registers; then one at a time.
        while c0 + G <= k {
            let mut acc = [[0.0; ROWS]; G];
            for (t, w) in tile.iter().zip(comps.mct.chunks_exact(k)) {
                let w: &[f64; G] = w[c0..c0 + G].try_into().expect("a full group");
                for q in 0..G {
                    for l in 0..ROWS {
                        acc[q][l] = t[l].mul_add(w[q], acc[q][l]);
                    }
                }
            }
            for (q, acc) in acc.iter().enumerate() {
                scores[c0 + q] = score(c0 + q, acc);
            }
            c0 += G;
        }
        for c in c0..k {
            let mut acc = [0.0; ROWS];
            for (t, w) in tile.iter().zip(comps.mct.chunks_exact(k)) {
                for l in 0..ROWS {
                    acc[l] = t[l].mul_add(w[c], acc[l]);
                }
            }
            scores[c] = score(c, &acc);
        }
        sink(start, len, &scores, &xn);
        start += len;
    }
}

/// The portable form of [`add_spherical_scores`], `G` components per group.
#[inline(always)]
fn scores<const G: usize>(
    columns: &[&[f64]],
    comps: &Components<'_>,
    out: &mut [&mut [f64]],
    norms: &mut [f64],
    tile: &mut [[f64; ROWS]],
) {
    let m = norms.len();
    debug_assert!(out.iter().all(|o| o.len() == m));
    let sink = |start: usize, len: usize, scores: &[[f64; ROWS]], xn: &[f64; ROWS]| {
        norms[start..start + len].copy_from_slice(&xn[..len]);
        for (out, v) in out.iter_mut().zip(scores) {
            let o = &mut out[start..start + len];
            match <&mut [f64; ROWS]>::try_from(&mut *o) {
                Ok(o) => {
                    for l in 0..ROWS {
                        o[l] += v[l];
                    }
                }
                Err(_) => {
                    for (o, s) in o.iter_mut().zip(v) {
                        *o += s;
                    }
                }
            }
        }
    };
    tile_scores::<G>(columns, comps, m, tile, sink);
}

/// The portable form of [`spherical_top_two`], `G` components per group.
#[inline(always)]
fn scores_top_two<const G: usize>(
    columns: &[&[f64]],
    comps: &Components<'_>,
    top: &mut TopTwo<'_>,
    norms: &mut [f64],
    tile: &mut [[f64; ROWS]],
) -> bool {
    let m = norms.len();
    debug_assert!(top.at.len() == m && top.best.len() == m && top.second.len() == m);
    let mut nan = false;
    let (at, best, second) = (&mut *top.at, &mut *top.best, &mut *top.second);
    let sink = |start: usize, len: usize, scores: &[[f64; ROWS]], xn: &[f64; ROWS]| {
        norms[start..start + len].copy_from_slice(&xn[..len]);
        let mut f = [f64::NEG_INFINITY; ROWS];
        let mut s = [f64::NEG_INFINITY; ROWS];
        // As in `top_two`: the leading component as an `f64`, `+∞` while no value exceeded
        // `−∞`; non-zero where a NaN was seen.
        let mut lead = [f64::INFINITY; ROWS];
        let mut bad = [0u64; ROWS];
        for (c, (v, &p)) in scores.iter().zip(comps.log_prior).enumerate() {
            let cf = c as f64;
            for l in 0..ROWS {
                // The log-joint's value, rounded as when the score is added to a log-joint
                // that holds the prior; then `top_two`'s branch-free step.
                let x = p + v[l];
                bad[l] |= u64::from(x.is_nan());
                let ahead = x > f[l];
                s[l] = if ahead {
                    f[l]
                } else if x > s[l] {
                    x
                } else {
                    s[l]
                };
                lead[l] = if ahead { cf } else { lead[l] };
                f[l] = if ahead { x } else { f[l] };
            }
        }
        for l in 0..len {
            nan |= bad[l] != 0;
            best[start + l] = f[l];
            second[start + l] = s[l];
            at[start + l] = if lead[l].is_finite() {
                lead[l] as u64
            } else {
                0
            };
        }
    };
    tile_scores::<G>(columns, comps, m, tile, sink);
    nan
}

/// Each row's largest entry (the lowest index on a tie; `0` when no entry is above `−∞`),
/// its value and the second largest value, of a block of the log-joint. Returns whether an
/// entry is NaN.
///
/// The block is stored column by column (as the hard E-step keeps it). Rows are taken
/// [`TILE`] at a time: the tile's leader, runner-up and leading column stay in registers
/// while the columns stream past, every step branch-free so that it runs across the tile's
/// rows in vector lanes.
pub(crate) fn top_two(
    lj: ArrayView2<'_, f64>,
    at: &mut [u64],
    first: &mut [f64],
    second: &mut [f64],
) -> bool {
    const TILE: usize = 8;
    let m = lj.nrows();
    let mut nan = false;
    let mut start = 0;
    // The widest vector unit's form, when the CPU has one, takes the whole tiles.
    let columns = super::column_slices(&lj);
    if let Some(columns) = columns {
        if let Some((done, bad)) = top_two_tiles(&columns, at, first, second) {
            (start, nan) = (done, bad);
        }
    }
    while start < m {
        let len = TILE.min(m - start);
        let mut f = [f64::NEG_INFINITY; TILE];
        let mut s = [f64::NEG_INFINITY; TILE];
        // The column of the largest value so far, as an `f64` (exact for any column count),
        // `+∞` while no entry has been larger than `−∞`.
        let mut lead = [f64::INFINITY; TILE];
        // Non-zero where a NaN was seen (a `u64` mask, which stays in vector lanes).
        let mut bad = [0u64; TILE];
        for (c, col) in lj.columns().into_iter().enumerate() {
            let c = c as f64;
            let mut v = [f64::NEG_INFINITY; TILE];
            match col.as_slice() {
                Some(col) if len == TILE => v.copy_from_slice(&col[start..start + TILE]),
                _ => {
                    for (i, v) in v.iter_mut().enumerate().take(len) {
                        *v = col[start + i];
                    }
                }
            }
            for i in 0..TILE {
                // A strictly larger value takes the lead (the lowest column wins a tie) and the
                // old lead becomes the runner-up; else a value above the runner-up replaces
                // it. Plain compares and selects: a NaN changes neither, and is flagged.
                let x = v[i];
                bad[i] |= u64::from(x.is_nan());
                let ahead = x > f[i];
                s[i] = if ahead {
                    f[i]
                } else if x > s[i] {
                    x
                } else {
                    s[i]
                };
                lead[i] = if ahead { c } else { lead[i] };
                f[i] = if ahead { x } else { f[i] };
            }
        }
        for i in 0..len {
            nan |= bad[i] != 0;
            first[start + i] = f[i];
            second[start + i] = s[i];
            // No entry exceeded `−∞` only when every entry is NaN or `−∞`: the first column.
            at[start + i] = if lead[i].is_finite() {
                lead[i] as u64
            } else {
                0
            };
        }
        start += len;
    }
    nan
}

/// Each row's largest entry (the lowest index on a tie; `0` when no entry is above `−∞`),
/// its value and the second largest value, for the whole tiles of a block of the log-joint
/// stored column by column (`columns[c]` holds column `c`). Returns how many rows it did
/// (the caller does the rest) and whether an entry was NaN; `None` without AVX-512.
fn top_two_tiles(
    columns: &[&[f64]],
    at: &mut [u64],
    first: &mut [f64],
    second: &mut [f64],
) -> Option<(usize, bool)> {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return Some(unsafe { avx512::top_two(columns, at, first, second) });
    }
    let _ = (columns, at, first, second);
    None
}

/// The hard E-step's statistics of an assignment for the whole tiles of a block with
/// contiguous columns: row `b` adds `x_b − centres_k` to `sum[k]` and its elementwise square
/// to `sq[k]`, `k = assignments[b]` (row-major `K × D` buffers). Returns how many rows it did;
/// `None` without AVX-512 or AVX2.
pub(crate) fn accumulate_assigned_tiles(
    columns: &[&[f64]],
    centres: &[f64],
    assignments: &[u32],
    sum: &mut [f64],
    sq: &mut [f64],
) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return Some(unsafe {
            avx512::accumulate_assigned(columns, centres, assignments, sum, sq)
        });
    }
    #[cfg(target_arch = "x86_64")]
    if super::lanes::avx2() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return Some(unsafe { avx2::accumulate_assigned(columns, centres, assignments, sum, sq) });
    }
    let _ = (columns, centres, assignments, sum, sq);
    None
}

/// The AVX-512 forms, with explicit vector instructions: eight rows per register.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Components, Single, ROWS, ROWS32};
    use crate::mixture::TopTwo;

    /// How far ahead (in rows) of the tile being scored each column is prefetched.
    const PREFETCH: usize = 64;

    /// The scores of every whole tile of the block: `sink(start, Some(c), score)` receives
    /// component `c`'s scores of the tile at row `start`, components in order, then
    /// `sink(start, None, xn)` the tile's squared norms. Returns how many rows it did.
    #[target_feature(enable = "avx512f")]
    fn tile_scores(
        columns: &[&[f64]],
        comps: &Components<'_>,
        m: usize,
        tile: &mut [[f64; ROWS]],
        mut sink: impl FnMut(usize, Option<usize>, __m512d),
    ) -> usize {
        let d = columns.len();
        let k = comps.norms.len();
        assert!(columns.iter().all(|c| c.len() == m));
        assert!(tile.len() >= d && comps.mct.len() == d * k && comps.centre.len() == d);
        let full = m - m % ROWS;
        let zero = _mm512_setzero_pd();
        let two = _mm512_set1_pd(2.0);
        for start in (0..full).step_by(ROWS) {
            let mut xn = zero;
            for ((t, col), &c) in tile.iter_mut().zip(columns).zip(comps.centre) {
                // A hint for the rows ahead, past the block's end too (the block is a view
                // of longer columns; a prefetch never faults, and the address is only
                // computed, not dereferenced).
                _mm_prefetch::<_MM_HINT_T0>(col.as_ptr().wrapping_add(start + PREFETCH).cast());
                // SAFETY: `start + ROWS <= m == col.len()`; `t` holds `ROWS` values.
                let e = unsafe {
                    let v = _mm512_loadu_pd(col.as_ptr().add(start));
                    let e = _mm512_sub_pd(v, _mm512_set1_pd(c));
                    _mm512_storeu_pd(t.as_mut_ptr(), e);
                    e
                };
                xn = _mm512_fmadd_pd(e, e, xn);
            }
            // `constant_c − h_c · max(‖x̃‖² − 2 x̃ᵀμ̃_c + ‖μ̃_c‖², 0)`.
            let score = |c: usize, dot: __m512d| {
                let sq = _mm512_add_pd(
                    _mm512_fnmadd_pd(two, dot, xn),
                    _mm512_set1_pd(comps.norms[c]),
                );
                _mm512_fnmadd_pd(
                    _mm512_set1_pd(comps.half_precision[c]),
                    _mm512_max_pd(sq, zero),
                    _mm512_set1_pd(comps.constant[c]),
                )
            };
            let mut c0 = 0;
            while c0 + 8 <= k {
                let mut acc = [zero; 8];
                for (t, w) in tile.iter().zip(comps.mct.chunks_exact(k)) {
                    // SAFETY: `t` holds `ROWS` values.
                    let e = unsafe { _mm512_loadu_pd(t.as_ptr()) };
                    let w = &w[c0..c0 + 8];
                    for q in 0..8 {
                        acc[q] = _mm512_fmadd_pd(e, _mm512_set1_pd(w[q]), acc[q]);
                    }
                }
                for (q, &a) in acc.iter().enumerate() {
                    sink(start, Some(c0 + q), score(c0 + q, a));
                }
                c0 += 8;
            }
            for c in c0..k {
                let mut acc = zero;
                for (t, w) in tile.iter().zip(comps.mct.chunks_exact(k)) {
                    // SAFETY: `t` holds `ROWS` values.
                    let e = unsafe { _mm512_loadu_pd(t.as_ptr()) };
                    acc = _mm512_fmadd_pd(e, _mm512_set1_pd(w[c]), acc);
                }
                sink(start, Some(c), score(c, acc));
            }
            sink(start, None, xn);
        }
        full
    }

    /// [`super::scores`] over the block's whole tiles; returns how many rows it did.
    #[target_feature(enable = "avx512f")]
    pub(super) fn scores(
        columns: &[&[f64]],
        comps: &Components<'_>,
        out: &mut [&mut [f64]],
        norms: &mut [f64],
        tile: &mut [[f64; ROWS]],
    ) -> usize {
        let m = norms.len();
        assert!(out.len() == comps.norms.len() && out.iter().all(|o| o.len() == m));
        let sink = |start: usize, c: Option<usize>, v: __m512d| match c {
            Some(c) => {
                let o = &mut out[c][start..start + ROWS];
                // SAFETY: `o` holds `ROWS` values.
                unsafe {
                    let sum = _mm512_add_pd(_mm512_loadu_pd(o.as_ptr()), v);
                    _mm512_storeu_pd(o.as_mut_ptr(), sum);
                }
            }
            // SAFETY: `start + ROWS <= m == norms.len()`.
            None => unsafe { _mm512_storeu_pd(norms.as_mut_ptr().add(start), v) },
        };
        tile_scores(columns, comps, m, tile, sink)
    }

    /// [`super::spherical_top_two`].
    #[target_feature(enable = "avx512f")]
    pub(super) fn scores_top_two(
        columns: &[&[f64]],
        comps: &Components<'_>,
        top: &mut TopTwo<'_>,
        norms: &mut [f64],
        tile: &mut [[f64; ROWS]],
    ) -> (usize, bool) {
        let m = norms.len();
        assert!(top.at.len() == m && top.best.len() == m && top.second.len() == m);
        assert!(comps.log_prior.len() == comps.norms.len());
        let lowest = _mm512_set1_pd(f64::NEG_INFINITY);
        let (mut f, mut s) = (lowest, lowest);
        // The leading component as an `f64`, `+∞` while no value exceeded `−∞`.
        let none = _mm512_set1_pd(f64::INFINITY);
        let mut lead = none;
        let mut bad: __mmask8 = 0;
        let (at, best, second) = (&mut *top.at, &mut *top.best, &mut *top.second);
        let sink = |start: usize, c: Option<usize>, v: __m512d| {
            let Some(c) = c else {
                // The tile's end: its top two, and the next tile's start.
                let mut lead_v = [0.0; ROWS];
                // SAFETY: each destination holds `ROWS` values from `start`
                // (`start + ROWS <= m`).
                unsafe {
                    _mm512_storeu_pd(norms.as_mut_ptr().add(start), v);
                    _mm512_storeu_pd(best.as_mut_ptr().add(start), f);
                    _mm512_storeu_pd(second.as_mut_ptr().add(start), s);
                    _mm512_storeu_pd(lead_v.as_mut_ptr(), lead);
                }
                for (a, l) in at[start..start + ROWS].iter_mut().zip(lead_v) {
                    *a = if l.is_finite() { l as u64 } else { 0 };
                }
                (f, s, lead) = (lowest, lowest, none);
                return;
            };
            // The log-joint's value: the prior plus the score, rounded as when the score
            // is added to a log-joint that holds the prior.
            let x = _mm512_add_pd(_mm512_set1_pd(comps.log_prior[c]), v);
            bad |= _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(x, x);
            // As `top_two`: a strictly larger value takes the lead and the old lead becomes
            // the runner-up; else a value above the runner-up replaces it.
            let ahead = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(x, f);
            let above_second = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(x, s);
            s = _mm512_mask_blend_pd(above_second, s, x);
            s = _mm512_mask_blend_pd(ahead, s, f);
            lead = _mm512_mask_blend_pd(ahead, lead, _mm512_set1_pd(c as f64));
            f = _mm512_mask_blend_pd(ahead, f, x);
        };
        let done = tile_scores(columns, comps, m, tile, sink);
        (done, bad != 0)
    }

    /// [`super::top_two_tiles`].
    #[target_feature(enable = "avx512f")]
    pub(super) fn top_two(
        columns: &[&[f64]],
        at: &mut [u64],
        first: &mut [f64],
        second: &mut [f64],
    ) -> (usize, bool) {
        let m = at.len();
        assert!(columns.iter().all(|c| c.len() >= m) && first.len() == m && second.len() == m);
        let full = m - m % ROWS;
        let mut bad: __mmask8 = 0;
        for start in (0..full).step_by(ROWS) {
            let mut f = _mm512_set1_pd(f64::NEG_INFINITY);
            let mut s = f;
            // The leading column as an `f64`, `+∞` while no entry exceeded `−∞`.
            let mut lead = _mm512_set1_pd(f64::INFINITY);
            for (c, col) in columns.iter().enumerate() {
                // SAFETY: `start + ROWS <= m <= col.len()`.
                let x = unsafe { _mm512_loadu_pd(col.as_ptr().add(start)) };
                bad |= _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(x, x);
                // A strictly larger value takes the lead (the lowest column wins a tie) and
                // the old lead becomes the runner-up; else a value above the runner-up
                // replaces it. A NaN compares false everywhere and changes nothing.
                let ahead = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(x, f);
                let above_second = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(x, s);
                s = _mm512_mask_blend_pd(above_second, s, x);
                s = _mm512_mask_blend_pd(ahead, s, f);
                lead = _mm512_mask_blend_pd(ahead, lead, _mm512_set1_pd(c as f64));
                f = _mm512_mask_blend_pd(ahead, f, x);
            }
            let mut lead_v = [0.0; ROWS];
            // SAFETY: each destination holds `ROWS` values from `start`.
            unsafe {
                _mm512_storeu_pd(first.as_mut_ptr().add(start), f);
                _mm512_storeu_pd(second.as_mut_ptr().add(start), s);
                _mm512_storeu_pd(lead_v.as_mut_ptr(), lead);
            }
            for (a, l) in at[start..start + ROWS].iter_mut().zip(lead_v) {
                *a = if l.is_finite() { l as u64 } else { 0 };
            }
        }
        (full, bad != 0)
    }

    /// Transposes eight registers of eight: `a[j]` holds column `j` of eight rows; the result's
    /// register `r` holds row `r`'s eight columns.
    #[target_feature(enable = "avx512f")]
    fn transpose(a: [__m512d; 8]) -> [__m512d; 8] {
        let t0 = _mm512_unpacklo_pd(a[0], a[1]);
        let t1 = _mm512_unpackhi_pd(a[0], a[1]);
        let t2 = _mm512_unpacklo_pd(a[2], a[3]);
        let t3 = _mm512_unpackhi_pd(a[2], a[3]);
        let t4 = _mm512_unpacklo_pd(a[4], a[5]);
        let t5 = _mm512_unpackhi_pd(a[4], a[5]);
        let t6 = _mm512_unpacklo_pd(a[6], a[7]);
        let t7 = _mm512_unpackhi_pd(a[6], a[7]);
        // Pairs of 128-bit lanes: rows (0, 4), (2, 6), (1, 5), (3, 7) of four columns each.
        let lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
        let hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
        let u0 = _mm512_permutex2var_pd(t0, lo, t2);
        let u1 = _mm512_permutex2var_pd(t0, hi, t2);
        let u2 = _mm512_permutex2var_pd(t1, lo, t3);
        let u3 = _mm512_permutex2var_pd(t1, hi, t3);
        let v0 = _mm512_permutex2var_pd(t4, lo, t6);
        let v1 = _mm512_permutex2var_pd(t4, hi, t6);
        let v2 = _mm512_permutex2var_pd(t5, lo, t7);
        let v3 = _mm512_permutex2var_pd(t5, hi, t7);
        let first = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0);
        let second = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
        [
            _mm512_permutex2var_pd(u0, first, v0),
            _mm512_permutex2var_pd(u2, first, v2),
            _mm512_permutex2var_pd(u1, first, v1),
            _mm512_permutex2var_pd(u3, first, v3),
            _mm512_permutex2var_pd(u0, second, v0),
            _mm512_permutex2var_pd(u2, second, v2),
            _mm512_permutex2var_pd(u1, second, v1),
            _mm512_permutex2var_pd(u3, second, v3),
        ]
    }

    /// [`super::hard_step_tiles`].
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn hard_step(
        columns: &[&[f64]],
        centre: &[f64],
        single: &Single<'_>,
        means: &[f64],
        at: &mut [u64],
        best: &mut [f64],
        sum: &mut [f64],
        sq: &mut [f64],
        deferred: &mut Vec<u32>,
        tile: &mut [[f32; ROWS32]],
    ) -> usize {
        let d = columns.len();
        let m = at.len();
        let k = single.a.len();
        assert!(d > 0 && columns.iter().all(|c| c.len() == m) && best.len() == m);
        assert!(centre.len() == d && tile.len() >= d && single.w.len() == d * k);
        assert!(single.h.len() == k && means.len() == k * d);
        assert!(sum.len() == k * d && sq.len() == k * d);
        assert!(k < 1 << 24);
        let tile = &mut tile[..d];
        let full = m - m % ROWS32;
        let zero = _mm512_setzero_ps();
        let lowest = _mm512_set1_ps(f32::NEG_INFINITY);
        // Two `f64` registers of eight rows as one `f32` register of sixteen.
        let narrow = |lo: __m512d, hi: __m512d| {
            let lo = _mm512_castps256_ps512(_mm512_cvtpd_ps(lo));
            let hi = _mm256_castps_pd(_mm512_cvtpd_ps(hi));
            _mm512_castpd_ps(_mm512_insertf64x4::<1>(_mm512_castps_pd(lo), hi))
        };
        for start in (0..full).step_by(ROWS32) {
            // Centre the tile in `f64`, round it to `f32`; its squared norms in `f32`.
            let mut xn = zero;
            for ((t, col), &c) in tile.iter_mut().zip(columns).zip(centre) {
                // A hint for the rows ahead, past the block's end too (the block is a view
                // of longer columns; a prefetch never faults, and the address is only
                // computed, not dereferenced).
                // (Both cache lines of the tile's sixteen values.)
                let ahead = col.as_ptr().wrapping_add(start + PREFETCH);
                _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(ROWS).cast());
                // SAFETY: `start + ROWS32 <= m == col.len()`; `t` holds `ROWS32` values.
                unsafe {
                    let c = _mm512_set1_pd(c);
                    let e0 = _mm512_sub_pd(_mm512_loadu_pd(col.as_ptr().add(start)), c);
                    let e1 = _mm512_sub_pd(_mm512_loadu_pd(col.as_ptr().add(start + ROWS)), c);
                    let e = narrow(e0, e1);
                    _mm512_storeu_ps(t.as_mut_ptr(), e);
                    xn = _mm512_fmadd_ps(e, e, xn);
                }
            }
            // Every component's score, and the best two: a strictly larger score takes the
            // lead (the lowest component wins a tie); the runner-up is the larger of the
            // old runner-up and the smaller of the score and the old best.
            let (mut f, mut s, mut lead) = (lowest, lowest, zero);
            let mut step = |c: usize, acc: __m512| {
                let x = if single.shared {
                    acc
                } else {
                    _mm512_fnmadd_ps(_mm512_set1_ps(single.h[c]), xn, acc)
                };
                let ahead = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, f);
                lead = _mm512_mask_blend_ps(ahead, lead, _mm512_set1_ps(c as f32));
                s = _mm512_max_ps(s, _mm512_min_ps(x, f));
                f = _mm512_max_ps(f, x);
            };
            let mut c0 = 0;
            while c0 + 8 <= k {
                let mut acc: [__m512; 8] =
                    std::array::from_fn(|q| _mm512_set1_ps(single.a[c0 + q]));
                for (t, w) in tile.iter().zip(single.w.chunks_exact(k)) {
                    // SAFETY: `t` holds `ROWS32` values.
                    let e = unsafe { _mm512_loadu_ps(t.as_ptr()) };
                    let w = &w[c0..c0 + 8];
                    for q in 0..8 {
                        acc[q] = _mm512_fmadd_ps(e, _mm512_set1_ps(w[q]), acc[q]);
                    }
                }
                for (q, &a) in acc.iter().enumerate() {
                    step(c0 + q, a);
                }
                c0 += 8;
            }
            for c in c0..k {
                let mut acc = _mm512_set1_ps(single.a[c]);
                for (t, w) in tile.iter().zip(single.w.chunks_exact(k)) {
                    // SAFETY: `t` holds `ROWS32` values.
                    let e = unsafe { _mm512_loadu_ps(t.as_ptr()) };
                    acc = _mm512_fmadd_ps(e, _mm512_set1_ps(w[c]), acc);
                }
                step(c, acc);
            }
            // Rows whose gap is within the bound, or whose norm is past the limit.
            let slack = _mm512_fmadd_ps(
                _mm512_set1_ps(single.slope),
                xn,
                _mm512_set1_ps(single.base),
            );
            let close =
                _mm512_cmp_ps_mask::<_CMP_LE_OQ>(_mm512_sub_ps(f, s), _mm512_add_ps(slack, slack));
            let within = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(xn, _mm512_set1_ps(single.limit));
            let defer: u16 = close | !within;
            // The best score, with the `−h ‖x̃‖²` left out when it is shared.
            let f = if single.shared {
                _mm512_fnmadd_ps(_mm512_set1_ps(single.h[0]), xn, f)
            } else {
                f
            };
            // SAFETY: `best` holds `ROWS32` values from `start`.
            unsafe {
                let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(f));
                let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                    _mm512_castps_pd(f),
                )));
                _mm512_storeu_pd(best.as_mut_ptr().add(start), lo);
                _mm512_storeu_pd(best.as_mut_ptr().add(start + ROWS), hi);
            }
            // The components as integers: `at` (as `u64`), and `z` for the exact side.
            let lead = _mm512_cvttps_epi32(lead);
            let mut z = [0u32; ROWS32];
            // SAFETY: `z` holds `ROWS32` values and `at` holds `ROWS32` from `start`.
            unsafe {
                _mm512_storeu_si512(z.as_mut_ptr().cast(), lead);
                let lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(lead));
                let hi = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64::<1>(lead));
                _mm512_storeu_si512(at.as_mut_ptr().add(start).cast(), lo);
                _mm512_storeu_si512(at.as_mut_ptr().add(start + ROWS).cast(), hi);
            }
            if defer != 0 {
                for i in (0..ROWS32).filter(|i| defer >> i & 1 != 0) {
                    deferred.push((start + i) as u32);
                }
            }
            assert!(z.iter().all(|&z| (z as usize) < k));
            // The statistics in `f64`, eight rows at a time: the rows' coordinates transposed
            // into registers, and `x − μ_z` added to the component's sums.
            for half in 0..2 {
                let rows = start + half * ROWS;
                let skip = (defer >> (half * ROWS)) as u8;
                if skip == u8::MAX {
                    continue;
                }
                let z = &z[half * ROWS..half * ROWS + ROWS];
                for j0 in (0..d).step_by(8) {
                    let width = 8.min(d - j0);
                    let mask: __mmask8 = if width == 8 {
                        u8::MAX
                    } else {
                        (1u8 << width) - 1
                    };
                    let cols: [__m512d; 8] = std::array::from_fn(|i| match columns.get(j0 + i) {
                        // SAFETY: `rows + ROWS <= m == col.len()`.
                        Some(col) if i < width => unsafe {
                            _mm512_loadu_pd(col.as_ptr().add(rows))
                        },
                        _ => _mm512_setzero_pd(),
                    });
                    let t = transpose(cols);
                    // Row `r`'s update (called with constant indices, so that the rows and
                    // distances stay in registers).
                    let mut update = |r: usize, row: __m512d| {
                        if skip >> r & 1 != 0 {
                            return;
                        }
                        let at = z[r] as usize * d + j0;
                        if width == 8 {
                            // Plain loads and stores: a row's store forwards to the next
                            // row's load of the same component's sums (masked ones do not).
                            // SAFETY: `z[r] < k` (asserted above), so `at + 8 <= k * d`, the
                            // length of the three buffers.
                            unsafe {
                                let mu = _mm512_loadu_pd(means.as_ptr().add(at));
                                let e = _mm512_sub_pd(row, mu);
                                let s0 = _mm512_loadu_pd(sum.as_ptr().add(at));
                                _mm512_storeu_pd(sum.as_mut_ptr().add(at), _mm512_add_pd(s0, e));
                                let q0 = _mm512_loadu_pd(sq.as_ptr().add(at));
                                _mm512_storeu_pd(
                                    sq.as_mut_ptr().add(at),
                                    _mm512_fmadd_pd(e, e, q0),
                                );
                            }
                            return;
                        }
                        // SAFETY: `z[r] < k`, so `at + width <= k * d`, the length of the
                        // three buffers; the mask keeps every access within `width` lanes.
                        unsafe {
                            let mu = _mm512_maskz_loadu_pd(mask, means.as_ptr().add(at));
                            let e = _mm512_maskz_sub_pd(mask, row, mu);
                            let s0 = _mm512_maskz_loadu_pd(mask, sum.as_ptr().add(at));
                            _mm512_mask_storeu_pd(
                                sum.as_mut_ptr().add(at),
                                mask,
                                _mm512_add_pd(s0, e),
                            );
                            let q0 = _mm512_maskz_loadu_pd(mask, sq.as_ptr().add(at));
                            _mm512_mask_storeu_pd(
                                sq.as_mut_ptr().add(at),
                                mask,
                                _mm512_fmadd_pd(e, e, q0),
                            );
                        }
                    };
                    let [t0, t1, t2, t3, t4, t5, t6, t7] = t;
                    update(0, t0);
                    update(1, t1);
                    update(2, t2);
                    update(3, t3);
                    update(4, t4);
                    update(5, t5);
                    update(6, t6);
                    update(7, t7);
                }
            }
        }
        full
    }

    /// [`super::accumulate_assigned_tiles`].
    #[target_feature(enable = "avx512f")]
    pub(super) fn accumulate_assigned(
        columns: &[&[f64]],
        centres: &[f64],
        assignments: &[u32],
        sum: &mut [f64],
        sq: &mut [f64],
    ) -> usize {
        let d = columns.len();
        let m = assignments.len();
        let k = sum.len() / d.max(1);
        assert!(columns.iter().all(|c| c.len() == m));
        assert!(centres.len() == k * d && sq.len() == k * d && sum.len() == k * d);
        assert!(assignments.iter().all(|&z| (z as usize) < k));
        let full = m - m % ROWS;
        let zero = _mm512_setzero_pd();
        for start in (0..full).step_by(ROWS) {
            for j0 in (0..d).step_by(8) {
                let width = 8.min(d - j0);
                let mut cols = [zero; 8];
                for (c, col) in cols.iter_mut().zip(&columns[j0..j0 + width]) {
                    // SAFETY: `start + ROWS <= m == col.len()`.
                    *c = unsafe { _mm512_loadu_pd(col.as_ptr().add(start)) };
                }
                let rows = transpose(cols);
                if width == 8 {
                    // Plain loads and stores: a row's store forwards to the next row's load of
                    // the same component's sums (masked ones do not).
                    for (row, &z) in rows.iter().zip(&assignments[start..start + ROWS]) {
                        let at = z as usize * d + j0;
                        assert!(at + 8 <= centres.len());
                        // SAFETY: `at + 8 <= k * d`, the length of the three buffers.
                        unsafe {
                            let c = _mm512_loadu_pd(centres.as_ptr().add(at));
                            let e = _mm512_sub_pd(*row, c);
                            let s = _mm512_loadu_pd(sum.as_ptr().add(at));
                            _mm512_storeu_pd(sum.as_mut_ptr().add(at), _mm512_add_pd(s, e));
                            let q = _mm512_loadu_pd(sq.as_ptr().add(at));
                            _mm512_storeu_pd(sq.as_mut_ptr().add(at), _mm512_fmadd_pd(e, e, q));
                        }
                    }
                    continue;
                }
                let mask: __mmask8 = (1u8 << width) - 1;
                for (row, &z) in rows.iter().zip(&assignments[start..start + ROWS]) {
                    let at = z as usize * d + j0;
                    // SAFETY: `z < k`, so `at + width <= k * d`, the length of the three
                    // buffers; the mask keeps every access within `width` lanes.
                    unsafe {
                        let c = _mm512_maskz_loadu_pd(mask, centres.as_ptr().add(at));
                        let e = _mm512_maskz_sub_pd(mask, *row, c);
                        let s = _mm512_maskz_loadu_pd(mask, sum.as_ptr().add(at));
                        _mm512_mask_storeu_pd(sum.as_mut_ptr().add(at), mask, _mm512_add_pd(s, e));
                        let q = _mm512_maskz_loadu_pd(mask, sq.as_ptr().add(at));
                        _mm512_mask_storeu_pd(
                            sq.as_mut_ptr().add(at),
                            mask,
                            _mm512_fmadd_pd(e, e, q),
                        );
                    }
                }
            }
        }
        full
    }
}

/// The AVX2 form of the hard step, with explicit vector instructions: eight `f32` rows per
/// register (a tile of [`ROWS32`] in two), four `f64`.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Single, ROWS, ROWS32};

    /// How far ahead (in rows) of the tile being scored each column is prefetched.
    const PREFETCH: usize = 64;

    /// [`super::hard_step_tiles`] with AVX2: the AVX-512 form's operations on every row, in
    /// the same order (the same scores to the bit, the same rows deferred, the same sums),
    /// each tile's two halves of eight rows in turn.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn hard_step(
        columns: &[&[f64]],
        centre: &[f64],
        single: &Single<'_>,
        means: &[f64],
        at: &mut [u64],
        best: &mut [f64],
        sum: &mut [f64],
        sq: &mut [f64],
        deferred: &mut Vec<u32>,
        tile: &mut [[f32; ROWS32]],
    ) -> usize {
        let d = columns.len();
        let m = at.len();
        let k = single.a.len();
        assert!(d > 0 && columns.iter().all(|c| c.len() == m) && best.len() == m);
        assert!(centre.len() == d && tile.len() >= d && single.w.len() == d * k);
        assert!(single.h.len() == k && means.len() == k * d);
        assert!(sum.len() == k * d && sq.len() == k * d);
        assert!(k < 1 << 24);
        let tile = &mut tile[..d];
        let full = m - m % ROWS32;
        let zero = _mm256_setzero_ps();
        let lowest = _mm256_set1_ps(f32::NEG_INFINITY);
        for start in (0..full).step_by(ROWS32) {
            // Centre the tile in `f64`, round it to `f32`; its squared norms in `f32`.
            let mut xn = [zero; 2];
            for ((t, col), &c) in tile.iter_mut().zip(columns).zip(centre) {
                // (A hint for the rows ahead, as the AVX-512 form's.)
                let ahead = col.as_ptr().wrapping_add(start + PREFETCH);
                _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(ROWS).cast());
                // SAFETY: `start + ROWS32 <= m == col.len()`; `t` holds `ROWS32` values.
                unsafe {
                    let c = _mm256_set1_pd(c);
                    let p = col.as_ptr().add(start);
                    let quarter =
                        |o: usize| _mm256_cvtpd_ps(_mm256_sub_pd(_mm256_loadu_pd(p.add(o)), c));
                    let low = _mm256_set_m128(quarter(4), quarter(0));
                    let high = _mm256_set_m128(quarter(12), quarter(8));
                    _mm256_storeu_ps(t.as_mut_ptr(), low);
                    _mm256_storeu_ps(t.as_mut_ptr().add(ROWS), high);
                    xn[0] = _mm256_fmadd_ps(low, low, xn[0]);
                    xn[1] = _mm256_fmadd_ps(high, high, xn[1]);
                }
            }
            let mut z = [0u32; ROWS32];
            let mut defer = 0u32;
            for (half, &xn) in xn.iter().enumerate() {
                let rows = half * ROWS;
                // Every component's score and the best two, as the AVX-512 form takes them.
                let (mut f, mut s, mut lead) = (lowest, lowest, zero);
                let mut step = |c: usize, acc: __m256| {
                    let x = if single.shared {
                        acc
                    } else {
                        _mm256_fnmadd_ps(_mm256_set1_ps(single.h[c]), xn, acc)
                    };
                    let ahead = _mm256_cmp_ps::<_CMP_GT_OQ>(x, f);
                    lead = _mm256_blendv_ps(lead, _mm256_set1_ps(c as f32), ahead);
                    s = _mm256_max_ps(s, _mm256_min_ps(x, f));
                    f = _mm256_max_ps(f, x);
                };
                let mut c0 = 0;
                while c0 + 8 <= k {
                    let mut acc: [__m256; 8] =
                        std::array::from_fn(|q| _mm256_set1_ps(single.a[c0 + q]));
                    for (t, w) in tile.iter().zip(single.w.chunks_exact(k)) {
                        // SAFETY: `t` holds `ROWS32` values.
                        let e = unsafe { _mm256_loadu_ps(t.as_ptr().add(rows)) };
                        let w = &w[c0..c0 + 8];
                        for q in 0..8 {
                            acc[q] = _mm256_fmadd_ps(e, _mm256_set1_ps(w[q]), acc[q]);
                        }
                    }
                    for (q, &a) in acc.iter().enumerate() {
                        step(c0 + q, a);
                    }
                    c0 += 8;
                }
                for c in c0..k {
                    let mut acc = _mm256_set1_ps(single.a[c]);
                    for (t, w) in tile.iter().zip(single.w.chunks_exact(k)) {
                        // SAFETY: `t` holds `ROWS32` values.
                        let e = unsafe { _mm256_loadu_ps(t.as_ptr().add(rows)) };
                        acc = _mm256_fmadd_ps(e, _mm256_set1_ps(w[c]), acc);
                    }
                    step(c, acc);
                }
                // Rows whose gap is within the bound, or whose norm is past the limit.
                let slack = _mm256_fmadd_ps(
                    _mm256_set1_ps(single.slope),
                    xn,
                    _mm256_set1_ps(single.base),
                );
                let close =
                    _mm256_cmp_ps::<_CMP_LE_OQ>(_mm256_sub_ps(f, s), _mm256_add_ps(slack, slack));
                let within = _mm256_cmp_ps::<_CMP_LE_OQ>(xn, _mm256_set1_ps(single.limit));
                let bits = (_mm256_movemask_ps(close) | !_mm256_movemask_ps(within)) & 0xff;
                defer |= (bits as u32) << rows;
                let f = if single.shared {
                    _mm256_fnmadd_ps(_mm256_set1_ps(single.h[0]), xn, f)
                } else {
                    f
                };
                let lead = _mm256_cvttps_epi32(lead);
                // SAFETY: `best` and `at` hold `ROWS32` values from `start`, `z` `ROWS32`.
                unsafe {
                    let out = best.as_mut_ptr().add(start + rows);
                    _mm256_storeu_pd(out, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));
                    _mm256_storeu_pd(out.add(4), _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(f)));
                    _mm256_storeu_si256(z.as_mut_ptr().add(rows).cast(), lead);
                    let out = at.as_mut_ptr().add(start + rows);
                    let low = _mm256_cvtepu32_epi64(_mm256_castsi256_si128(lead));
                    let high = _mm256_cvtepu32_epi64(_mm256_extracti128_si256::<1>(lead));
                    _mm256_storeu_si256(out.cast(), low);
                    _mm256_storeu_si256(out.add(4).cast(), high);
                }
            }
            if defer != 0 {
                for i in (0..ROWS32).filter(|i| defer >> i & 1 != 0) {
                    deferred.push((start + i) as u32);
                }
            }
            assert!(z.iter().all(|&z| (z as usize) < k));
            add_rows(columns, start, means, &z, defer, sum, sq);
        }
        full
    }

    /// [`super::accumulate_assigned_tiles`]: its whole tiles of [`ROWS32`] rows.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn accumulate_assigned(
        columns: &[&[f64]],
        centres: &[f64],
        assignments: &[u32],
        sum: &mut [f64],
        sq: &mut [f64],
    ) -> usize {
        let m = assignments.len();
        let full = m - m % ROWS32;
        if columns.is_empty() {
            // (No coordinate: nothing to add.)
            return full;
        }
        let k = sum.len() / columns.len();
        assert!(columns.iter().all(|c| c.len() == m));
        assert!(assignments.iter().all(|&z| (z as usize) < k));
        for (start, z) in (0..full)
            .step_by(ROWS32)
            .zip(assignments.as_chunks::<ROWS32>().0)
        {
            add_rows(columns, start, centres, z, 0, sum, sq);
        }
        full
    }

    /// The hard step's statistics of the [`ROWS32`] rows from `start` (row `start + i` in
    /// component `z[i]`, passed over where bit `i` of `skip` is set): `x − μ_z` added to
    /// row `z` of `sum` and its elementwise square to `sq`, in `f64`, row by row. Four rows
    /// and four coordinates at a time, transposed in registers.
    #[target_feature(enable = "avx2,fma")]
    fn add_rows(
        columns: &[&[f64]],
        start: usize,
        means: &[f64],
        z: &[u32; ROWS32],
        skip: u32,
        sum: &mut [f64],
        sq: &mut [f64],
    ) {
        let d = columns.len();
        let len = means.len();
        assert!(sum.len() == len && sq.len() == len);
        assert!(columns.iter().all(|c| c.len() >= start + ROWS32));
        for rows in (start..start + ROWS32).step_by(4) {
            let first = rows - start;
            if skip >> first & 0xf == 0xf {
                continue;
            }
            for j0 in (0..d).step_by(4) {
                let width = 4.min(d - j0);
                // SAFETY: `rows + 4 <= start + ROWS32 <= col.len()`.
                let col = |i: usize| match columns.get(j0 + i) {
                    Some(col) if i < width => unsafe { _mm256_loadu_pd(col.as_ptr().add(rows)) },
                    _ => _mm256_setzero_pd(),
                };
                let (a, b, c, e) = (col(0), col(1), col(2), col(3));
                let (t0, t1) = (_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b));
                let (t2, t3) = (_mm256_unpacklo_pd(c, e), _mm256_unpackhi_pd(c, e));
                let row = [
                    _mm256_permute2f128_pd::<0x20>(t0, t2),
                    _mm256_permute2f128_pd::<0x20>(t1, t3),
                    _mm256_permute2f128_pd::<0x31>(t0, t2),
                    _mm256_permute2f128_pd::<0x31>(t1, t3),
                ];
                let mask = _mm256_set_epi64x(
                    if width > 3 { -1 } else { 0 },
                    if width > 2 { -1 } else { 0 },
                    if width > 1 { -1 } else { 0 },
                    -1,
                );
                for (r, &row) in row.iter().enumerate() {
                    if skip >> (first + r) & 1 != 0 {
                        continue;
                    }
                    let at = z[first + r] as usize * d + j0;
                    assert!(at + width <= len);
                    // SAFETY: `at + width <= len`, the length of the three buffers; with
                    // fewer than four coordinates the mask keeps every access within them.
                    unsafe {
                        if width == 4 {
                            // Plain loads and stores: a row's store forwards to the next
                            // row's load of the same component's sums (masked ones do not).
                            let mu = _mm256_loadu_pd(means.as_ptr().add(at));
                            let e = _mm256_sub_pd(row, mu);
                            let s = _mm256_loadu_pd(sum.as_ptr().add(at));
                            _mm256_storeu_pd(sum.as_mut_ptr().add(at), _mm256_add_pd(s, e));
                            let q = _mm256_loadu_pd(sq.as_ptr().add(at));
                            _mm256_storeu_pd(sq.as_mut_ptr().add(at), _mm256_fmadd_pd(e, e, q));
                        } else {
                            let mu = _mm256_maskload_pd(means.as_ptr().add(at), mask);
                            let e = _mm256_sub_pd(row, mu);
                            let s = _mm256_maskload_pd(sum.as_ptr().add(at), mask);
                            _mm256_maskstore_pd(
                                sum.as_mut_ptr().add(at),
                                mask,
                                _mm256_add_pd(s, e),
                            );
                            let q = _mm256_maskload_pd(sq.as_ptr().add(at), mask);
                            _mm256_maskstore_pd(
                                sq.as_mut_ptr().add(at),
                                mask,
                                _mm256_fmadd_pd(e, e, q),
                            );
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(m: usize, d: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut state = seed;
        (0..d)
            .map(|_| {
                (0..m)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state % 10_000) as f64 / 100.0 - 50.0
                    })
                    .collect()
            })
            .collect()
    }

    /// The widest form of each kernel against the portable loop, on every tail length and
    /// a column count that is not a multiple of eight.
    #[test]
    fn vector_forms_match_the_portable_loops() {
        for (m, d, k) in [
            (8, 1, 1),
            (23, 3, 5),
            (64, 16, 16),
            (37, 11, 9),
            (9, 19, 17),
        ] {
            let cols = data(m, d, 0x9e37_79b9 + m as u64);
            let columns: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
            let means = data(k, d, 7 + k as u64);
            let centre: Vec<f64> = means
                .iter()
                .map(|c| c.iter().sum::<f64>() / k as f64)
                .collect();
            let mut mct = vec![0.0; d * k];
            let mut norms = vec![0.0; k];
            for j in 0..d {
                for c in 0..k {
                    mct[j * k + c] = means[j][c] - centre[j];
                    norms[c] += mct[j * k + c] * mct[j * k + c];
                }
            }
            let constant: Vec<f64> = (0..k).map(|c| -(c as f64)).collect();
            let half: Vec<f64> = (0..k).map(|c| 0.5 / (1.0 + c as f64)).collect();
            // Log priors with a tie-maker: components 0 and 1 equal when `k` is odd.
            let prior: Vec<f64> = (0..k).map(|c| -0.1 * (c / 2) as f64).collect();
            let comps = Components {
                centre: &centre,
                mct: &mct,
                norms: &norms,
                constant: &constant,
                half_precision: &half,
                log_prior: &prior,
            };
            let mut tile = vec![[0.0; ROWS]; d];
            let run = |portable: bool, tile: &mut Vec<[f64; ROWS]>| {
                let mut out = vec![vec![0.25; m]; k];
                let mut outs: Vec<&mut [f64]> = out.iter_mut().map(|o| o.as_mut_slice()).collect();
                let mut xn = vec![0.0; m];
                if portable {
                    scores::<4>(&columns, &comps, &mut outs, &mut xn, tile);
                } else {
                    add_spherical_scores(&columns, &comps, &mut outs, &mut xn, tile);
                }
                (out, xn)
            };
            let (a, an) = run(true, &mut tile);
            let (b, bn) = run(false, &mut tile);
            for (x, y) in a
                .iter()
                .flatten()
                .chain(&an)
                .zip(b.iter().flatten().chain(&bn))
            {
                assert!((x - y).abs() <= 1e-9 * (1.0 + x.abs()), "{x} vs {y}");
            }
            // The one-pass argmax (the dispatched form and the portable one) against the scan
            // of prior + scores.
            for portable in [false, true] {
                let lj: Vec<Vec<f64>> = (0..k)
                    .map(|c| a[c].iter().map(|&s| prior[c] + (s - 0.25)).collect())
                    .collect();
                let cols: Vec<&[f64]> = lj.iter().map(|c| c.as_slice()).collect();
                let lj2 = ndarray::Array2::from_shape_fn((m, k), |(b, c)| cols[c][b]);
                let (mut at, mut first, mut second) = (vec![0; m], vec![0.0; m], vec![0.0; m]);
                top_two(lj2.view(), &mut at, &mut first, &mut second);
                let (mut at2, mut first2, mut second2) = (vec![0; m], vec![0.0; m], vec![0.0; m]);
                let mut top = TopTwo {
                    at: &mut at2,
                    best: &mut first2,
                    second: &mut second2,
                    nan: false,
                };
                let mut xn = vec![0.0; m];
                if portable {
                    top.nan = scores_top_two::<4>(&columns, &comps, &mut top, &mut xn, &mut tile);
                } else {
                    spherical_top_two(&columns, &comps, &mut top, &mut xn, &mut tile);
                }
                assert!(!top.nan);
                for b in 0..m {
                    assert_eq!(at[b], at2[b], "row {b}");
                    let close = |x: f64, y: f64| x == y || (x - y).abs() <= 1e-9 * (1.0 + x.abs());
                    assert!(close(first[b], first2[b]) && close(second[b], second2[b]));
                }
            }
            // Top two of the scores, against a row-by-row scan.
            let lj: Vec<&[f64]> = a.iter().map(|c| c.as_slice()).collect();
            let (mut at, mut first, mut second) = (vec![0; m], vec![0.0; m], vec![0.0; m]);
            if let Some((done, nan)) = top_two_tiles(&lj, &mut at, &mut first, &mut second) {
                assert!(!nan);
                assert_eq!(done, m - m % ROWS);
                for b in 0..done {
                    let mut row: Vec<(f64, usize)> = (0..k).map(|c| (a[c][b], c)).collect();
                    row.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
                    assert_eq!((at[b] as usize, first[b]), (row[0].1, row[0].0));
                    let s = row.get(1).map_or(f64::NEG_INFINITY, |r| r.0);
                    assert_eq!(second[b], s);
                }
            }
            // Statistics of an assignment, against the row-by-row sums.
            let z: Vec<u32> = (0..m).map(|b| ((b * 7 + 3) % k) as u32).collect();
            let centres: Vec<f64> = (0..k)
                .flat_map(|c| (0..d).map(move |j| (c + j) as f64))
                .collect();
            let (mut sum, mut sq) = (vec![0.5; k * d], vec![0.5; k * d]);
            if let Some(done) = accumulate_assigned_tiles(&columns, &centres, &z, &mut sum, &mut sq)
            {
                let (mut s2, mut q2) = (vec![0.5; k * d], vec![0.5; k * d]);
                for b in 0..done {
                    let c = z[b] as usize;
                    for j in 0..d {
                        let e = cols[j][b] - centres[c * d + j];
                        s2[c * d + j] += e;
                        q2[c * d + j] += e * e;
                    }
                }
                for (x, y) in sum.iter().chain(&sq).zip(s2.iter().chain(&q2)) {
                    assert!((x - y).abs() <= 1e-12 * (1.0 + x.abs()), "{x} vs {y}");
                }
            }
        }
    }

    /// The AVX2 hard step and statistics against the AVX-512 ones, bit for bit (where the CPU
    /// has both): the same components, values, deferred rows and sums, on shapes with every
    /// remainder of four coordinates, groups of eight components and fewer, shared and
    /// per-component precisions, and rows past the single-precision limit and at ties.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_hard_step_is_the_avx512_ones() {
        let has = |f: &str| match f {
            "avx512" => std::arch::is_x86_feature_detected!("avx512f"),
            _ => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
        };
        if !has("avx512") || !has("avx2") {
            return;
        }
        for (m, d, k, shared) in [
            (48, 8, 16, true),
            (64, 5, 3, false),
            (208, 11, 9, false),
            (32, 1, 20, true),
            (16, 4, 1, true),
        ] {
            let cols = data(m, d, 0x51_7cc1 + (m * d + k) as u64);
            let mut cols = cols;
            // A row past the limit, and rows repeating a centre's values (ties).
            cols[0][3] = 1e20;
            let columns: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
            let means: Vec<f64> = (0..k * d).map(|i| ((i * 37) % 101) as f64 - 50.0).collect();
            let centre: Vec<f64> = (0..d)
                .map(|j| (0..k).map(|c| means[c * d + j]).sum::<f64>() / k as f64)
                .collect();
            let h: Vec<f32> = (0..k)
                .map(|c| {
                    if shared {
                        0.01
                    } else {
                        0.01 + 0.001 * c as f32
                    }
                })
                .collect();
            let w: Vec<f32> = (0..d * k)
                .map(|i| {
                    let (j, c) = (i / k, i % k);
                    (2.0 * h[c] as f64 * (means[c * d + j] - centre[j])) as f32
                })
                .collect();
            let a: Vec<f32> = (0..k).map(|c| -((c % 3) as f32) * 0.5).collect();
            let single = Single {
                w: &w,
                a: &a,
                h: &h,
                shared,
                base: 1e-3,
                slope: 1e-6,
                limit: 1e12,
            };
            let run = |wide: bool| {
                let (mut at, mut best) = (vec![0u64; m], vec![0.0; m]);
                let (mut sum, mut sq, mut deferred) =
                    (vec![0.0; k * d], vec![0.0; k * d], Vec::new());
                let mut tile = vec![[0.0f32; ROWS32]; d];
                // SAFETY: the CPU has both (checked above).
                let done = unsafe {
                    if wide {
                        avx512::hard_step(
                            &columns,
                            &centre,
                            &single,
                            &means,
                            &mut at,
                            &mut best,
                            &mut sum,
                            &mut sq,
                            &mut deferred,
                            &mut tile,
                        )
                    } else {
                        avx2::hard_step(
                            &columns,
                            &centre,
                            &single,
                            &means,
                            &mut at,
                            &mut best,
                            &mut sum,
                            &mut sq,
                            &mut deferred,
                            &mut tile,
                        )
                    }
                };
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                (done, at, bits(&best), bits(&sum), bits(&sq), deferred)
            };
            let (wide, narrow) = (run(true), run(false));
            assert_eq!(wide.0, m - m % ROWS32);
            assert!(wide.5.contains(&3), "the row past the limit is deferred");
            assert_eq!(wide, narrow, "m {m}, d {d}, k {k}");
            let z: Vec<u32> = (0..m).map(|b| ((b * 5 + 1) % k) as u32).collect();
            let stats = |wide: bool| {
                let (mut sum, mut sq) = (vec![0.25; k * d], vec![0.25; k * d]);
                // SAFETY: the CPU has both (checked above).
                let done = unsafe {
                    if wide {
                        avx512::accumulate_assigned(&columns, &means, &z, &mut sum, &mut sq)
                    } else {
                        avx2::accumulate_assigned(&columns, &means, &z, &mut sum, &mut sq)
                    }
                };
                // (The AVX-512 form's tiles are eight rows, the AVX2 form's sixteen.)
                assert_eq!(done % ROWS, 0);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                (bits(&sum), bits(&sq))
            };
            assert_eq!(stats(true), stats(false), "m {m}, d {d}, k {k}");
        }
    }
}
