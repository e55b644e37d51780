//! SVG pictures of fits: objective traces, model-selection curves, component scatters with
//! covariance ellipses, and decoded state sequences.
//!
//! Drawn with `plotters`' SVG backend and no font feature: text is written as SVG `<text>`
//! elements in the `sans-serif` family (the viewer picks the font; plotters only estimates text
//! extents for layout), so nothing here touches system font libraries. Every function is pure,
//! validates its input and returns the SVG document as a `String`, or a human-readable error.
//! The same input always gives the same bytes.

use std::error::Error;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The Tableau 10 categorical palette (chosen to stay distinguishable under common forms of
/// colour blindness); category `i` uses colour `i % 10`.
const PALETTE: [u32; 10] = [
    0x4E79A7, 0xF28E2B, 0xE15759, 0x76B7B2, 0x59A14F, 0xEDC948, 0xB07AA1, 0xFF9DA7, 0x9C755F,
    0xBAB0AC,
];
const FONT: &str = "sans-serif";
const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);
/// Rows drawn at most by [`states_svg`] before it thins the series uniformly.
const MAX_ROWS: usize = 5000;
/// Segments of each drawn ellipse.
const ELLIPSE_SEGMENTS: usize = 100;

type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type Drawn = Result<(), Box<dyn Error>>;
type Curve = Vec<(f64, f64)>;

/// One (model, K) fit of a model-selection run.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectPoint {
    pub model: String,
    pub k: usize,
    pub bic: f64,
    pub aic: f64,
    pub icl: f64,
}

/// A 2-D Gaussian of a fitted component, for its ellipse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ellipse {
    pub mean: [f64; 2],
    pub cov: [[f64; 2]; 2],
}

/// The palette colour of category `i` (cycled after 10).
fn palette(i: usize) -> RGBColor {
    let c = PALETTE[i % PALETTE.len()];
    RGBColor((c >> 16) as u8, (c >> 8) as u8, c as u8)
}

/// Renders into a fresh SVG string of `size` pixels (white background).
fn render(size: (u32, u32), draw: impl FnOnce(&Area) -> Drawn) -> Result<String, String> {
    let mut out = String::new();
    let res: Drawn = (|| {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        Ok(root.present()?)
    })();
    res.map_err(|e| format!("drawing the plot failed: {e}"))?;
    Ok(out)
}

/// Min and max of the finite values, or `None` if there are none.
fn finite_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let finite = values.into_iter().filter(|v| v.is_finite());
    finite.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A tick label for `v` on an axis spanning `span`, with just enough digits to tell ticks apart.
fn tick_label(v: f64, span: f64) -> String {
    let step = span / 10.0;
    let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
    let mag = v.abs();
    if mag != 0.0 && !(1e-4..1e7).contains(&mag) {
        let digits = (mag / step).log10().ceil().clamp(1.0, 12.0) as usize;
        format!("{v:.*e}", digits - 1)
    } else {
        let dec = (-step.log10()).ceil().clamp(0.0, 12.0) as usize;
        format!("{v:.dec$}")
    }
}

/// The label of an integer-valued tick; other ticks get none.
fn int_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// One axis of a chart: its padded range, its description and whether its values are integers.
struct Axis<'s> {
    lo: f64,
    hi: f64,
    desc: &'s str,
    int: bool,
}

impl<'s> Axis<'s> {
    /// Covers `lo..=hi`, padded by 5% each side (at least 0.5 for integers); a zero (or
    /// negligible) span is widened around its value.
    fn new(desc: &'s str, lo: f64, hi: f64, int: bool) -> Result<Self, String> {
        let (span, mag) = (hi - lo, lo.abs().max(hi.abs()));
        let pad = match () {
            _ if int => (span * 0.05).max(0.5),
            _ if span > mag * 1e-9 && span > 0.0 => span * 0.05,
            _ if mag > 0.0 => mag * 0.05,
            _ => 1.0,
        };
        let (a, b) = (lo - pad, hi + pad);
        if !(a.is_finite() && b.is_finite() && a < b) {
            return Err(format!("cannot plot values from {lo} to {hi} on one axis"));
        }
        let (lo, hi) = (a, b);
        Ok(Axis { lo, hi, desc, int })
    }

    fn label(&self, v: f64) -> String {
        match self.int {
            true => int_label(v),
            false => tick_label(v, self.hi - self.lo),
        }
    }

    fn labels(&self) -> usize {
        match self.int {
            true => ((self.hi - self.lo).min(9.0) as usize + 1).max(2),
            false => 10,
        }
    }
}

/// A chart with axes and mesh on `area`, under `caption` if it is not empty.
fn chart<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    x: Axis,
    y: Axis,
) -> Result<Chart<'a, 'b>, Box<dyn Error>> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(15).x_label_area_size(45);
    builder.y_label_area_size(85);
    if !caption.is_empty() {
        builder.caption(caption, (FONT, 22));
    }
    let mut chart = builder.build_cartesian_2d(x.lo..x.hi, y.lo..y.hi)?;
    let (xf, yf) = (|v: &f64| x.label(*v), |v: &f64| y.label(*v));
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(x.labels()).y_labels(y.labels());
    mesh.x_label_formatter(&xf).y_label_formatter(&yf);
    mesh.x_desc(x.desc).y_desc(y.desc);
    mesh.axis_desc_style((FONT, 16)).draw()?;
    Ok(chart)
}

/// Adds a legend entry (drawn by `swatch` at the entry's pixel position) without data.
fn key<'a, 'b, E>(
    chart: &mut Chart<'a, 'b>,
    label: &str,
    swatch: impl Fn((i32, i32)) -> E + 'a,
) -> Drawn
where
    E: IntoDynElement<'a, SVGBackend<'b>, (i32, i32)>,
{
    let nothing = std::iter::empty::<Circle<(f64, f64), i32>>();
    chart.draw_series(nothing)?.label(label).legend(swatch);
    Ok(())
}

/// Legend entries "`name` j" with a dot of colour j, for j in `0..k`.
fn category_keys(chart: &mut Chart, name: &str, k: usize) -> Drawn {
    for j in 0..k {
        let style = palette(j).filled();
        key(chart, &format!("{name} {j}"), move |(x, y)| {
            Circle::new((x + 10, y), 5, style)
        })?;
    }
    Ok(())
}

/// Draws the legend at `pos`.
fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, pos: SeriesLabelPosition) -> Drawn {
    let mut labels = chart.configure_series_labels();
    labels.position(pos).border_style(BLACK);
    labels
        .background_style(WHITE.mix(0.85))
        .label_font((FONT, 14));
    Ok(labels.draw()?)
}

/// Splits a polyline into the runs of consecutive points for which `keep` holds.
fn runs<P: Copy>(points: impl IntoIterator<Item = P>, keep: impl Fn(&P) -> bool) -> Vec<Vec<P>> {
    let mut out = vec![Vec::new()];
    for p in points {
        let last = out.len() - 1;
        if keep(&p) {
            out[last].push(p);
        } else if !out[last].is_empty() {
            out.push(Vec::new());
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// A square marker centred at the pixel origin.
fn square(style: ShapeStyle) -> Rectangle<(i32, i32)> {
    Rectangle::new([(-4, -4), (4, 4)], style)
}

/// The objective per iteration of a fit (EM: the log-likelihood or log posterior; VB: the ELBO),
/// against the iteration number (1-based). `objective` names the y axis. Non-finite values are
/// skipped (the line is broken there) and counted in the title; none finite is an error.
pub fn trace_svg(title: &str, objective: &str, trace: &[f64]) -> Result<String, String> {
    if trace.is_empty() {
        return Err("the objective trace is empty".into());
    }
    let (lo, hi) = finite_bounds(trace.iter().copied())
        .ok_or_else(|| format!("the {objective} trace has no finite value"))?;
    let y = Axis::new(objective, lo, hi, false)?;
    let caption = match trace.iter().filter(|v| !v.is_finite()).count() {
        0 => title.to_string(),
        m => format!("{title} ({m} non-finite values skipped)"),
    };
    render((800, 600), |root| {
        let x = Axis::new("iteration", 1.0, trace.len() as f64, true)?;
        let mut chart = chart(root, &caption, x, y)?;
        let style = palette(0).stroke_width(2);
        let pts = trace.iter().enumerate().map(|(i, &v)| ((i + 1) as f64, v));
        for run in runs(pts, |p| p.1.is_finite()) {
            chart.draw_series(LineSeries::new(run.iter().copied(), style))?;
            if trace.len() <= 60 || run.len() == 1 {
                chart.draw_series(run.iter().map(|&p| Circle::new(p, 3, style.filled())))?;
            }
        }
        Ok(())
    })
}

/// Model selection: x = K, y = criterion value (lower is better); one line per model (colour)
/// per criterion (BIC solid with circles, AIC dashed with triangles, ICL dotted with squares).
/// Non-finite values are skipped. The minimum of `best_criterion` ("BIC", "AIC" or "ICL", any
/// case; ties go to the first in input order) is ringed and labelled; it is an error if that
/// criterion has no finite value.
pub fn select_svg(
    title: &str,
    points: &[SelectPoint],
    best_criterion: &str,
) -> Result<String, String> {
    const CRITERIA: [&str; 3] = ["BIC", "AIC", "ICL"];
    let value = |p: &SelectPoint, c: usize| [p.bic, p.aic, p.icl][c];
    if points.is_empty() {
        return Err("no model-selection results to plot".into());
    }
    let bc = CRITERIA
        .iter()
        .position(|c| c.eq_ignore_ascii_case(best_criterion))
        .ok_or_else(|| {
            format!("unknown criterion {best_criterion:?} (expected BIC, AIC or ICL)")
        })?;
    let best = points
        .iter()
        .filter(|p| value(p, bc).is_finite())
        .fold(None, |b, p| match b {
            Some(b) if value(b, bc) <= value(p, bc) => Some(b),
            _ => Some(p),
        });
    let best = best.ok_or_else(|| format!("no fit has a finite {} value", CRITERIA[bc]))?;
    let (lo, hi) = finite_bounds(points.iter().flat_map(|p| [p.bic, p.aic, p.icl]))
        .ok_or("no fit has a finite criterion value")?;
    let y = Axis::new("criterion (lower is better)", lo, hi, false)?;
    let kmin = points.iter().map(|p| p.k).min().unwrap_or(1);
    let kmax = points.iter().map(|p| p.k).max().unwrap_or(1);
    let mut models: Vec<&str> = Vec::new();
    for p in points {
        if !models.contains(&p.model.as_str()) {
            models.push(&p.model);
        }
    }
    render((800, 600), |root| {
        let x = Axis::new("K (number of components)", kmin as f64, kmax as f64, true)?;
        let (mid_x, mid_y) = ((x.lo + x.hi) / 2.0, (y.lo + y.hi) / 2.0);
        let mut chart = chart(root, title, x, y)?;
        for (mi, model) in models.iter().enumerate() {
            let style = palette(mi).stroke_width(2);
            let fill = style.filled();
            let mut mine: Vec<&SelectPoint> = points.iter().filter(|p| p.model == *model).collect();
            mine.sort_by_key(|p| p.k);
            for c in 0..CRITERIA.len() {
                let pts = mine.iter().map(|p| (p.k as f64, value(p, c)));
                for run in runs(pts, |p| p.1.is_finite()) {
                    let pts = run.iter().copied();
                    match c {
                        0 => chart.draw_series(LineSeries::new(pts, style))?,
                        1 => chart.draw_series(DashedLineSeries::new(pts, 8, 5, style))?,
                        _ => chart.draw_series(DashedLineSeries::new(pts, 2, 4, style))?,
                    };
                    let pts = run.iter().copied();
                    match c {
                        0 => chart.draw_series(pts.map(|p| Circle::new(p, 4, fill)))?,
                        1 => chart.draw_series(pts.map(|p| TriangleMarker::new(p, 5, fill)))?,
                        _ => chart.draw_series(pts.map(|p| EmptyElement::at(p) + square(fill)))?,
                    };
                }
            }
            key(&mut chart, model, move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], style)
            })?;
        }
        let (style, fill) = (BLACK.stroke_width(1), BLACK.filled());
        let line = move |(x, y): (i32, i32), size| {
            EmptyElement::at((x + 10, y))
                + DashedPathElement::new([(-10, 0), (10, 0)], size, 4, style)
        };
        for (c, name) in CRITERIA.iter().enumerate() {
            if points.iter().any(|p| value(p, c).is_finite()) {
                match c {
                    0 => key(&mut chart, name, move |p| {
                        line(p, 20) + Circle::new((0, 0), 4, fill)
                    }),
                    1 => key(&mut chart, name, move |p| {
                        line(p, 6) + TriangleMarker::new((0, 0), 5, fill)
                    }),
                    _ => key(&mut chart, name, move |p| line(p, 2) + square(fill)),
                }?;
            }
        }
        let (bx, by) = (best.k as f64, value(best, bc));
        let (right, low) = (bx > mid_x, by < mid_y);
        let h = if right { HPos::Right } else { HPos::Left };
        let v = if low { VPos::Bottom } else { VPos::Top };
        let (dx, dy) = (if right { -12 } else { 12 }, if low { -12 } else { 12 });
        let text = format!(
            "best {}: {}, K = {} ({by:.2})",
            CRITERIA[bc], best.model, best.k
        );
        let font = TextStyle::from((FONT, 15).into_font()).pos(Pos::new(h, v));
        // A backing box from the text's estimated extent (about 0.55 em a character).
        let w = (text.chars().count() as f64 * 0.55 * 15.0 / 1.24) as i32 + 4;
        let (x0, y0) = (
            if right { dx - w } else { dx - 4 },
            if low { dy - 15 } else { dy - 2 },
        );
        let back = Rectangle::new([(x0, y0), (x0 + w + 4, y0 + 17)], WHITE.mix(0.85).filled());
        let mark = EmptyElement::at((bx, by))
            + Circle::new((0, 0), 10, BLACK.stroke_width(2))
            + back
            + Text::new(text, (dx, dy), font);
        chart.draw_series(std::iter::once(mark))?;
        legend(&mut chart, SeriesLabelPosition::UpperMiddle)
    })
}

/// The points of the Mahalanobis-radius-`r` ellipse of `e` (closed), or `None` if the mean or
/// covariance is not finite or the covariance not positive definite. Uses the Cholesky factor
/// `L` of the (symmetrised) covariance: `mean + r L (cos t, sin t)`.
fn ellipse_points(e: &Ellipse, r: f64) -> Option<Curve> {
    let [[sxx, sxy0], [sxy1, syy]] = e.cov;
    let all = [sxx, sxy0, sxy1, syy, e.mean[0], e.mean[1]];
    if !all.iter().all(|v| v.is_finite()) || sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    let a = sxx.sqrt();
    let b = 0.5 * (sxy0 + sxy1) / a;
    let c2 = syy - b * b;
    if c2 <= syy * 1e-12 {
        return None;
    }
    let c = c2.sqrt();
    let pts = (0..=ELLIPSE_SEGMENTS).map(|i| {
        let (s, co) = (std::f64::consts::TAU * i as f64 / ELLIPSE_SEGMENTS as f64).sin_cos();
        (e.mean[0] + r * a * co, e.mean[1] + r * (b * co + c * s))
    });
    Some(pts.collect())
}

/// Scatter of two data columns, each point coloured by its component (`labels[i]` in `0..k`),
/// with each component's covariance ellipses at Mahalanobis radius 1 (solid) and 2 (dashed) and
/// its mean marked. `ellipses` has one entry per component, or is empty for none; a component
/// whose entry is `None` or whose covariance is not positive definite gets no ellipse. Points
/// with non-finite coordinates are skipped (none left is an error). The axes cover the data and
/// the ellipses, the latter at most 25% of the data span beyond it; ellipses are clipped there.
#[allow(clippy::too_many_arguments)]
pub fn scatter_svg(
    title: &str,
    x_name: &str,
    y_name: &str,
    x: &[f64],
    y: &[f64],
    labels: &[usize],
    k: usize,
    ellipses: &[Option<Ellipse>],
) -> Result<String, String> {
    let n = x.len();
    if k == 0 {
        return Err("the number of components K must be at least 1".into());
    }
    if y.len() != n || labels.len() != n {
        let (ny, nl) = (y.len(), labels.len());
        return Err(format!(
            "mismatched lengths: {n} x values, {ny} y values, {nl} labels"
        ));
    }
    if let Some(l) = labels.iter().find(|&&l| l >= k) {
        return Err(format!("label {l} is out of range for K = {k}"));
    }
    if !ellipses.is_empty() && ellipses.len() != k {
        return Err(format!("{} ellipses given for K = {k}", ellipses.len()));
    }
    let finite = |i: &usize| x[*i].is_finite() && y[*i].is_finite();
    let pts: Vec<usize> = (0..n).filter(finite).collect();
    let none = "no point has finite coordinates";
    let (xlo, xhi) = finite_bounds(pts.iter().map(|&i| x[i])).ok_or(none)?;
    let (ylo, yhi) = finite_bounds(pts.iter().map(|&i| y[i])).ok_or(none)?;
    let ells: Vec<(usize, &Ellipse)> = ellipses
        .iter()
        .enumerate()
        .filter_map(|(j, e)| Some((j, e.as_ref()?)))
        .collect();
    let curves: Vec<(usize, Curve, Curve)> = ells
        .iter()
        .filter_map(|&(j, e)| Some((j, ellipse_points(e, 1.0)?, ellipse_points(e, 2.0)?)))
        .collect();
    let (ex, ey) = (0.25 * (xhi - xlo), 0.25 * (yhi - ylo));
    let outer = curves.iter().flat_map(|c| c.2.iter());
    let xs = outer
        .clone()
        .map(|p| p.0.clamp(xlo - ex, xhi + ex))
        .chain([xlo, xhi]);
    let ys = outer
        .map(|p| p.1.clamp(ylo - ey, yhi + ey))
        .chain([ylo, yhi]);
    let (x0, x1) = finite_bounds(xs).unwrap_or((xlo, xhi));
    let (y0, y1) = finite_bounds(ys).unwrap_or((ylo, yhi));
    let (xa, ya) = (
        Axis::new(x_name, x0, x1, false)?,
        Axis::new(y_name, y0, y1, false)?,
    );
    let inside = {
        let (xr, yr) = (xa.lo..=xa.hi, ya.lo..=ya.hi);
        move |p: &(f64, f64)| xr.contains(&p.0) && yr.contains(&p.1)
    };
    let caption = match n - pts.len() {
        0 => title.to_string(),
        m => format!("{title} ({m} points with non-finite coordinates skipped)"),
    };
    render((800, 600), |root| {
        let mut chart = chart(root, &caption, xa, ya)?;
        let dot = |i: &usize| Circle::new((x[*i], y[*i]), 3, palette(labels[*i]).mix(0.6).filled());
        chart.draw_series(pts.iter().map(dot))?;
        for (j, one, two) in &curves {
            let style = palette(*j).stroke_width(2);
            for run in runs(one.iter().copied(), &inside) {
                chart.draw_series(LineSeries::new(run, style))?;
            }
            for run in runs(two.iter().copied(), &inside) {
                chart.draw_series(DashedLineSeries::new(run, 8, 5, style))?;
            }
        }
        for &(j, e) in &ells {
            let m = (e.mean[0], e.mean[1]);
            if m.0.is_finite() && m.1.is_finite() && inside(&m) {
                let mark = EmptyElement::at(m)
                    + Circle::new((0, 0), 7, WHITE.filled())
                    + Circle::new((0, 0), 7, palette(j).stroke_width(3))
                    + Cross::new((0, 0), 4, BLACK.stroke_width(2));
                chart.draw_series(std::iter::once(mark))?;
            }
        }
        category_keys(&mut chart, "component", k)?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

/// A chain's decoded states over time: the data column `values` (named `value_name`) as a line
/// against the row index t with each point coloured by its state `states[t]` (in `0..k`), and
/// below it the state index as a step line. Lines break at non-finite values and at `boundaries`
/// (row indices `0 < b < len` where a new independent sequence starts), which are drawn as
/// vertical dashed lines (thin solid ones if there are more than 100) in both panels, just before
/// row b. Over 5000 rows, every s-th row is drawn (s = ceil(rows / 5000)) and the title says so.
pub fn states_svg(
    title: &str,
    value_name: &str,
    values: &[f64],
    states: &[usize],
    k: usize,
    boundaries: &[usize],
) -> Result<String, String> {
    let n = values.len();
    if k == 0 {
        return Err("the number of states K must be at least 1".into());
    }
    if n == 0 {
        return Err("the series is empty".into());
    }
    if states.len() != n {
        return Err(format!(
            "mismatched lengths: {n} values, {} states",
            states.len()
        ));
    }
    if let Some(s) = states.iter().find(|&&s| s >= k) {
        return Err(format!("state {s} is out of range for K = {k}"));
    }
    if let Some(b) = boundaries.iter().find(|&&b| b == 0 || b >= n) {
        return Err(format!("sequence boundary {b} is not within 1..{n}"));
    }
    let (lo, hi) = finite_bounds(values.iter().copied()).ok_or("the series has no finite value")?;
    let ya = Axis::new(value_name, lo, hi, false)?;
    let mut bounds = boundaries.to_vec();
    bounds.sort_unstable();
    bounds.dedup();
    let seq = |t: usize| bounds.partition_point(|&b| b <= t);
    let stride = n.div_ceil(MAX_ROWS);
    let caption = match stride {
        1 => title.to_string(),
        s => format!("{title} (1 row in {s} of {n} drawn)"),
    };
    // The drawn rows, in pieces that each lie within one sequence.
    let mut pieces: Vec<Vec<usize>> = Vec::new();
    for t in (0..n).step_by(stride) {
        match pieces.last_mut() {
            Some(p) if seq(p[p.len() - 1]) == seq(t) => p.push(t),
            _ => pieces.push(vec![t]),
        }
    }
    render((900, 600), |root| {
        let root = root.titled(&caption, (FONT, 22))?;
        let (top, bottom) = root.split_vertically(340);
        let (v0, v1) = (ya.lo, ya.hi);
        let t_axis = |desc| Axis::new(desc, 0.0, (n - 1) as f64, true);
        let mut upper = chart(&top, "", t_axis("")?, ya)?;
        let sa = Axis::new("state", 0.0, (k - 1) as f64, true)?;
        let (s0, s1) = (sa.lo, sa.hi);
        let mut lower = chart(&bottom, "", t_axis("t (row)")?, sa)?;
        for &b in &bounds {
            let bx = b as f64 - 0.5;
            for (lo, hi, chart) in [(v0, v1, &mut upper), (s0, s1, &mut lower)] {
                let line = [(bx, lo), (bx, hi)];
                match bounds.len() <= 100 {
                    true => chart.draw_series(DashedLineSeries::new(line, 6, 4, BLACK.into()))?,
                    false => chart.draw_series(LineSeries::new(line, BLACK.mix(0.3)))?,
                };
            }
        }
        for piece in &pieces {
            let pts = piece.iter().map(|&t| (t as f64, values[t]));
            for run in runs(pts, |p| p.1.is_finite()) {
                upper.draw_series(LineSeries::new(run, GREY))?;
            }
            // Vertices of the step line: its ends and both sides of each change of state.
            let mut step = Vec::new();
            for (i, &t) in piece.iter().enumerate() {
                let changed = i > 0 && states[piece[i - 1]] != states[t];
                if changed {
                    step.push((t as f64, states[piece[i - 1]] as f64));
                }
                if i == 0 || i + 1 == piece.len() || changed {
                    step.push((t as f64, states[t] as f64));
                }
            }
            lower.draw_series(LineSeries::new(step, palette(0).stroke_width(2)))?;
        }
        let dots = pieces.iter().flatten().filter(|&&t| values[t].is_finite());
        let dot = |&t: &usize| Circle::new((t as f64, values[t]), 2, palette(states[t]).filled());
        upper.draw_series(dots.map(dot))?;
        category_keys(&mut upper, "state", k)?;
        legend(&mut upper, SeriesLabelPosition::UpperRight)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `svg`, checks the root and that every coordinate is a finite number, and returns
    /// the number of elements named `tag`.
    fn count(svg: &str, tag: &str) -> usize {
        let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let finite = |v: &str| v.parse::<f64>().is_ok_and(f64::is_finite);
        for node in doc.descendants().filter(|n| n.is_element()) {
            for attr in ["x", "y", "cx", "cy", "r", "width", "height", "points"] {
                let value = node.attribute(attr).unwrap_or("");
                let mut numbers = value.split([' ', ',']).filter(|v| !v.is_empty());
                assert!(numbers.all(finite), "{attr}={value}");
            }
        }
        doc.descendants().filter(|n| n.has_tag_name(tag)).count()
    }

    /// The number of `polyline`s of an empty chart's axes and ticks.
    fn axis_lines() -> usize {
        let svg = scatter_svg("s", "a", "b", &[1.0], &[1.0], &[0], 1, &[]);
        count(&svg.unwrap(), "polyline")
    }

    fn series<T>(n: usize, f: impl Fn(usize) -> T) -> Vec<T> {
        (0..n).map(f).collect()
    }

    fn sel(model: &str, k: usize, bic: f64) -> SelectPoint {
        let (model, aic, icl) = (model.to_string(), bic - 10.0, bic + 5.0);
        SelectPoint {
            model,
            k,
            bic,
            aic,
            icl,
        }
    }

    fn ell(mean: [f64; 2], cov: [[f64; 2]; 2]) -> Option<Ellipse> {
        Some(Ellipse { mean, cov })
    }

    #[test]
    fn trace_draws_and_skips_non_finite() {
        let trace = series(30, |i| -500.0 - 500.0 * (-(i as f64) / 5.0).exp());
        let svg = trace_svg("EM", "log-likelihood", &trace).unwrap();
        assert_eq!(count(&svg, "circle"), 30);
        assert!(svg.contains("log-likelihood") && svg.contains("iteration"));
        let bad = [1.0, 2.0, f64::NAN, 4.0, f64::INFINITY, 5.0];
        let svg = trace_svg("t", "ELBO", &bad).unwrap();
        assert_eq!(count(&svg, "circle"), 4, "one per finite value");
        assert!(svg.contains("(2 non-finite values skipped)") && !svg.contains("NaN"));
        assert_eq!(svg, trace_svg("t", "ELBO", &bad).unwrap());
    }

    #[test]
    fn trace_edge_cases() {
        assert!(trace_svg("t", "ELBO", &[]).is_err());
        assert!(trace_svg("t", "ELBO", &[f64::NAN, f64::NEG_INFINITY]).is_err());
        assert!(trace_svg("t", "ELBO", &[f64::MAX, -f64::MAX]).is_err());
        let near = -1234.5678;
        for trace in [
            &[-3.5][..],
            &[2.0; 10],
            &[0.0; 3],
            &[1e-300, 2e-300],
            &[near, near + 1e-7],
        ] {
            let svg = trace_svg("<edge & \"case\">", "y", trace).unwrap();
            assert_eq!(count(&svg, "circle"), trace.len());
            assert!(svg.contains("&lt;edge &amp; &quot;case&quot;&gt;"));
        }
    }

    #[test]
    fn select_draws_lines_and_best() {
        let mut points = Vec::new();
        for (m, base) in [("gmm-full", 1000.0), ("gmm-diag", 1040.0)] {
            points.extend((1..=5).map(|k| sel(m, k, base + 30.0 * (k as f64 - 3.0).powi(2))));
        }
        points.push(sel("gmm-diag", 6, 1200.0));
        points[10].icl = f64::NAN;
        let svg = select_svg("selection", &points, "bic").unwrap();
        // 2 BIC lines and the dashes of 4 others; 11 BIC circles, 1 in the legend, the ring.
        assert!(count(&svg, "polyline") >= axis_lines() + 2 + 4 * 10);
        assert_eq!(count(&svg, "circle"), 11 + 1 + 1);
        assert!(svg.contains("best BIC: gmm-full, K = 3"));
        assert_eq!(svg, select_svg("selection", &points, "BIC").unwrap());
    }

    #[test]
    fn select_edge_cases() {
        assert!(select_svg("s", &[], "BIC").is_err());
        assert!(select_svg("s", &[sel("m", 1, 10.0)], "XIC").is_err());
        let mut nan = sel("m", 2, 10.0);
        nan.bic = f64::NAN;
        assert!(select_svg("s", std::slice::from_ref(&nan), "BIC").is_err());
        assert!(select_svg("s", &[nan], "AIC").is_ok());
        let svg = select_svg("s", &[sel("m", 1, 10.0)], "ICL").unwrap();
        assert_eq!(count(&svg, "circle"), 3);
        let flat = [sel("a", 1, 5.0), sel("a", 2, 5.0), sel("b", 1, 5.0)];
        let svg = select_svg("s", &flat, "AIC").unwrap();
        assert!(svg.contains("best AIC: a, K = 1"));
    }

    #[test]
    fn ellipse_rejects_non_positive_definite() {
        let e = |cov| ell([0.0, 0.0], cov).unwrap();
        assert!(ellipse_points(&e([[1.0, 1.0], [1.0, 1.0]]), 1.0).is_none());
        assert!(ellipse_points(&e([[-1.0, 0.0], [0.0, 1.0]]), 1.0).is_none());
        assert!(ellipse_points(&e([[1.0, f64::NAN], [0.0, 1.0]]), 1.0).is_none());
        let pts = ellipse_points(&e([[4.0, 0.0], [0.0, 1.0]]), 2.0).unwrap();
        assert_eq!(pts.len(), ELLIPSE_SEGMENTS + 1);
        let radius = |&(x, y): &(f64, f64)| x * x / 4.0 + y * y;
        assert!(pts.iter().all(|p| (radius(p) - 4.0).abs() < 1e-9));
    }

    #[test]
    fn scatter_draws_points_ellipses_and_means() {
        let n = 60;
        let x = series(n, |i| (i % 3 * 5) as f64 + (i as f64 * 0.37).sin());
        let y = series(n, |i| (i % 3 * 2) as f64 + (i as f64 * 0.91).cos());
        let labels = series(n, |i| i % 3);
        let cov = [[1.0, 0.5], [0.5, 2.0]];
        let ells = [ell([0.0, 0.0], cov), ell([5.0, 2.0], cov), None];
        let svg = scatter_svg("s", "height", "weight", &x, &y, &labels, 3, &ells).unwrap();
        // n points, 2 circles for each of 2 means, 3 legend dots.
        assert_eq!(count(&svg, "circle"), n + 2 * 2 + 3);
        // Per ellipse, the solid one and the 2-sd dashes.
        assert!(count(&svg, "polyline") >= axis_lines() + 2 * 10);
        assert!(svg.contains("component 2") && svg.contains("height") && svg.contains("weight"));
        let mut xs = x.clone();
        xs[0] = f64::NAN;
        let svg = scatter_svg("s", "a", "b", &xs, &y, &labels, 3, &[]).unwrap();
        assert!(svg.contains("1 points with non-finite"));
        assert_eq!(count(&svg, "circle"), n - 1 + 3);
    }

    #[test]
    fn scatter_edge_cases() {
        let one = [1.0];
        let scatter = |x: &[f64], y: &[f64], l: &[usize], k, e: &[Option<Ellipse>]| {
            scatter_svg("s", "a", "b", x, y, l, k, e)
        };
        assert!(scatter(&[], &[], &[], 1, &[]).is_err());
        assert!(scatter(&one, &[1.0, 2.0], &[0], 1, &[]).is_err());
        assert!(scatter(&one, &one, &[1], 1, &[]).is_err());
        assert!(scatter(&one, &one, &[0], 0, &[]).is_err());
        assert!(scatter(&one, &one, &[0], 1, &[None, None]).is_err());
        assert!(scatter(&[f64::NAN], &one, &[0], 1, &[]).is_err());
        let singular = ell([1.0, 1.0], [[1.0, 1.0], [1.0, 1.0]]);
        let svg = scatter(&one, &one, &[0], 1, &[singular]).unwrap();
        assert_eq!(count(&svg, "polyline"), axis_lines());
        let unit = ell([2.0, 3.0], [[1.0, 0.0], [0.0, 1.0]]);
        let svg = scatter(&[2.0; 4], &[3.0; 4], &[0; 4], 1, &[unit]).unwrap();
        assert_eq!(count(&svg, "circle"), 4 + 2 + 1);
    }

    #[test]
    fn states_draws_both_panels() {
        let n = 200;
        let states = series(n, |t| (t / 25) % 3);
        let values = series(n, |t| states[t] as f64 * 3.0 + (t as f64).sin());
        let svg = states_svg("decode", "price", &values, &states, 3, &[100, 150]).unwrap();
        assert_eq!(count(&svg, "circle"), n + 3);
        // A value line and a step line per sequence, and dashes of 2 boundaries in 2 panels.
        assert!(count(&svg, "polyline") >= 3 * 2 + 2 * 2 * 10);
        assert!(svg.contains("price") && svg.contains("state 2") && svg.contains("t (row)"));
        let again = states_svg("decode", "price", &values, &states, 3, &[150, 100]);
        assert_eq!(svg, again.unwrap());
    }

    #[test]
    fn states_thins_long_series_and_checks_input() {
        let n = 12_001;
        let values = series(n, |t| (t as f64 / 300.0).sin());
        let states = series(n, |t| usize::from(values[t] > 0.0));
        let svg = states_svg("long", "v", &values, &states, 2, &[6000]).unwrap();
        assert!(svg.contains("(1 row in 3 of 12001 drawn)"));
        assert_eq!(count(&svg, "circle"), 4001 + 2);
        let states_svg = |v: &[f64], s: &[usize], k, b: &[usize]| states_svg("s", "v", v, s, k, b);
        assert!(states_svg(&[], &[], 1, &[]).is_err());
        assert!(states_svg(&[1.0, 2.0], &[0], 1, &[]).is_err());
        assert!(states_svg(&[1.0], &[1], 1, &[]).is_err());
        assert!(states_svg(&[1.0], &[0], 0, &[]).is_err());
        assert!(states_svg(&[1.0, 2.0], &[0, 0], 1, &[2]).is_err());
        assert!(states_svg(&[1.0, 2.0], &[0, 0], 1, &[0]).is_err());
        assert!(states_svg(&[f64::NAN], &[0], 1, &[]).is_err());
        let svg = states_svg(&[4.0, f64::NAN, 4.0], &[0, 0, 0], 1, &[]).unwrap();
        assert_eq!(count(&svg, "circle"), 2 + 1);
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn tick_labels_resolve_the_axis() {
        assert_eq!(tick_label(0.5, 1.0), "0.5");
        assert_eq!(tick_label(-1234.567, 0.01), "-1234.567");
        assert_eq!(tick_label(1e-17, 1.0), "0.0");
        assert_eq!(tick_label(2.5e8, 1e8), "2.5e8");
        assert_eq!(tick_label(3e-6, 1e-5), "3e-6");
        assert_eq!([int_label(3.0), int_label(2.5)], ["3", ""]);
    }
}
