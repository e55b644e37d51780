//! How much memory a fit needs, estimated from the lowered program's layout and the
//! resolved sizes of the index sets before anything is allocated, and the bound it is held
//! to. [`crate::bind()`] refuses data whose fit would not fit, naming what drives the size:
//! the cell that implied a number of categories, a constant, a `--set` override, the rows or
//! the columns.
//!
//! The estimate is a lower bound of what one EM run holds at once — the parameters (the
//! current and the next), the statistics (one copy per task of rows, as the E-step
//! collects them, and their total; a chain's batches of whole sequences can be up to twice
//! as many as the tasks), the latent's counts and transition counts per task, the
//! per-iteration derived values (logarithms of probabilities, Cholesky factors, factor
//! posteriors), two `N × K` per-row buffers (responsibilities, or a chain's state posteriors
//! and emissions, which its result and its decoding hold) and the data with its column-major
//! copy. Restarts, threads and
//! temporaries add to it, so refusing beyond the bound never refuses a fit that would have
//! run.
//!
//! The bound is the memory available to the process (`MemAvailable` in `/proc/meminfo`, and
//! a cgroup's limit when lower) or, where that cannot be read, [`FALLBACK_LIMIT`]; a given
//! limit (`--max-memory`, [`crate::BindOptions::memory_limit`]) replaces it.

use std::fmt;

use jensen_lang::ir::SetSize;
use jensen_lang::program::{DerivedKind, Dim, Elem};
use jensen_lang::{Plan, Program};
use jensen_runtime::em::TASK_ROWS;

/// The bound used when the available memory cannot be read (not Linux): 8 GiB.
pub const FALLBACK_LIMIT: u64 = 8 << 30;

/// A number of categories implied by a cell that is above the number of rows is refused
/// when the memory it drives exceeds this (1 GiB) and no limit was given: most of those
/// categories cannot occur in the data, so the cell is most likely a wrong code.
pub const SUSPICIOUS_BYTES: f64 = (1u64 << 30) as f64;

/// What a fit needs: the total, and its largest array.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    /// Bytes, at least.
    pub bytes: f64,
    /// The largest single array: what it is and its shape.
    pub largest: (String, Vec<f64>),
}

impl Need {
    fn add(&mut self, what: impl FnOnce() -> String, shape: Vec<f64>, copies: f64) {
        let each = 8.0 * shape.iter().product::<f64>();
        self.bytes += copies * each;
        if each > 8.0 * self.largest.1.iter().product::<f64>() {
            self.largest = (what(), shape);
        }
    }

    /// `the parameter `q`, 2 × 100000000001 numbers (1.5 TiB)`.
    pub fn describe_largest(&self) -> String {
        let (what, shape) = &self.largest;
        let dims: Vec<String> = shape.iter().map(|&d| format!("{d}")).collect();
        format!(
            "the largest is {what}, {} numbers ({})",
            dims.join(" × "),
            bytes(8.0 * shape.iter().product::<f64>())
        )
    }
}

/// The memory one EM run of `program` over `n_rows` rows in `n_sequences` sequences needs,
/// with index-set sizes `sizes` (as numbers, so that no product overflows).
pub fn estimate(
    plan: &Plan,
    program: &Program,
    sizes: &[f64],
    n_rows: f64,
    n_sequences: f64,
) -> Need {
    let dim = |d: Dim| match d {
        Dim::Set(s) => sizes[s],
        Dim::Lit(n) => n as f64,
        Dim::SetPlus(s, n) => sizes[s] + n as f64,
    };
    let elem = |e: Elem| e.dims().into_iter().map(dim).collect::<Vec<f64>>();
    let k = program.components.map_or(1.0, |c| sizes[c]);
    let tasks = (n_rows / TASK_ROWS as f64).ceil().max(1.0);
    let summarised = program.summary.is_some() && k == 1.0;
    let mut need = Need {
        bytes: 0.0,
        largest: (String::new(), vec![0.0]),
    };
    let param_shape = |var: usize| {
        let p = program.param(var);
        let mut shape = if p.per_component { vec![k] } else { vec![] };
        shape.extend(elem(p.elem));
        shape
    };
    for p in &program.params {
        // (A posterior's strength slot has its own shape: a number, or the loadings' row
        // covariance factor, per component or shared.)
        let shape = if p.posterior_of.is_some() {
            let mut shape = if p.per_component { vec![k] } else { vec![] };
            shape.extend(elem(p.elem));
            shape
        } else {
            param_shape(p.var)
        };
        need.add(|| format!("the parameter `{}`", p.name), shape, 2.0);
    }
    let stat_copies = if summarised { 1.0 } else { tasks + 1.0 };
    for s in &program.stats {
        let mut shape = vec![k];
        shape.extend(elem(s.elem));
        need.add(|| format!("the statistic `{}`", s.name), shape, stat_copies);
    }
    // Every task's latent statistics hold counts, initial counts and K × K transitions.
    need.add(
        || "the latent's transition counts (one K × K per task of rows)".into(),
        vec![k, k],
        stat_copies,
    );
    need.add(|| "the latent's counts".into(), vec![k], 2.0 * stat_copies);
    if plan.latent.is_chain() {
        need.add(
            || "the transitions of each sequence".into(),
            vec![k, k],
            n_sequences,
        );
    }
    for d in &program.derived {
        let what = || format!("the cached `{}`", d.name);
        match d.kind {
            DerivedKind::LogVector(v) | DerivedKind::LogMatrix(v) => {
                need.add(what, param_shape(v), 1.0)
            }
            DerivedKind::LogRows(p) => {
                let c = param_shape(p.param).last().copied().unwrap_or(1.0);
                need.add(what, vec![k, c], 1.0)
            }
            DerivedKind::Cholesky(p) => {
                let mut shape = param_shape(p.param);
                if !p.per_component {
                    shape.insert(0, 1.0);
                }
                need.add(what, shape, 1.0)
            }
            DerivedKind::Posteriors { loading, .. } => {
                // Per component: `M` (L × L) and its projection (L × D), as the loadings.
                let mut shape = param_shape(loading.param);
                if !loading.per_component {
                    shape.insert(0, k);
                }
                need.add(what, shape, 2.0)
            }
        }
    }
    if !summarised {
        need.add(
            || "the per-row responsibilities".into(),
            vec![n_rows, k],
            2.0,
        );
    }
    for (v, var) in plan.model.vars.iter().enumerate() {
        if var.kind != jensen_lang::ast::DeclKind::Data {
            continue;
        }
        let columns = var.ty.vector_set().map_or(1.0, |d| sizes[d]);
        // The bound values and the executor's column-major copy.
        need.add(
            || format!("the data `{}`", plan.model.vars[v].name),
            vec![n_rows, columns],
            2.0,
        );
    }
    need
}

/// What makes an index set as large as it is.
#[derive(Debug, Clone, PartialEq)]
pub enum SizeSource {
    /// A literal size written in the model (`0..3`).
    Literal {
        /// The set.
        set: String,
        /// Its size.
        size: usize,
    },
    /// A constant: the model's default, or `--set` ([`crate::BindOptions::consts`]).
    Const {
        /// The constant.
        name: String,
        /// Its value.
        value: usize,
        /// Whether the value was given as an override.
        overridden: bool,
    },
    /// The rows of the data.
    Rows {
        /// File.
        file: String,
        /// Number of rows.
        rows: usize,
    },
    /// The columns of a vector data item.
    Columns {
        /// The set.
        set: String,
        /// The data item.
        item: String,
        /// Its number of columns.
        columns: usize,
    },
    /// The distinct labels of a category item read from text.
    Labels {
        /// File.
        file: String,
        /// The set.
        set: String,
        /// The data item.
        item: String,
        /// Number of labels.
        labels: usize,
    },
    /// The number of categories of a category item as a saved fit had them
    /// ([`crate::BindOptions::category_counts`]).
    Fitted {
        /// The set.
        set: String,
        /// The data item.
        item: String,
        /// Number of categories.
        count: usize,
    },
    /// The largest code of a category item read from numbers: the categories are
    /// `0..=value`.
    Cell {
        /// File.
        file: String,
        /// 1-based data row.
        row: usize,
        /// 1-based line.
        line: usize,
        /// Column.
        column: String,
        /// The cell's value.
        value: f64,
        /// The set.
        set: String,
        /// The data item.
        item: String,
    },
}

impl SizeSource {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            SizeSource::Fitted { item, .. } => format!(
                "the fit has too many categories of `{item}` for this machine: refit with fewer"
            ),
            SizeSource::Literal { set, .. } => format!("write a smaller size for `{set}` in the model"),
            SizeSource::Const { name, overridden: true, .. } => {
                format!("pass a smaller value to `--set {name}=…`")
            }
            SizeSource::Const { name, .. } => {
                format!("lower the constant `{name}` in the model, or override it with `--set {name}=…`")
            }
            SizeSource::Rows { .. } => {
                "fit a sample of the rows or fewer components, or read the file a chunk at a time with `jensen fit --stream`".into()
            }
            SizeSource::Columns { item, .. } => format!(
                "bind fewer columns to `{item}` (`--bind {item}=…` or `--exclude`), or use a diagonal covariance"
            ),
            SizeSource::Labels { item, .. } => format!(
                "a category per distinct label of `{item}` is too many: bind a column with fewer labels"
            ),
            SizeSource::Cell { set, .. } => format!(
                "category codes are 0, 1, …, {set} − 1, so the largest code sets `{set}`: correct the cell, recode the column to consecutive codes, or give the categories as text labels"
            ),
        }
    }
}

impl fmt::Display for SizeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeSource::Fitted { set, item, count } => write!(
                f,
                "the {count} categories of data `{item}` in the fit (`{set}` = {count})"
            ),
            SizeSource::Literal { set, size } => {
                write!(f, "the size {size} of `{set}` written in the model")
            }
            SizeSource::Const {
                name,
                value,
                overridden: true,
            } => write!(f, "`--set {name}={value}`"),
            SizeSource::Const { name, value, .. } => {
                write!(f, "constant `{name}` = {value} (the model's value)")
            }
            SizeSource::Rows { file, rows } => write!(f, "the {rows} rows of {file}"),
            SizeSource::Columns { set, item, columns } => {
                write!(f, "the {columns} columns of data `{item}` (`{set}` = {columns})")
            }
            SizeSource::Labels {
                file,
                set,
                item,
                labels,
            } => write!(
                f,
                "{file}: the {labels} distinct labels of data `{item}` (`{set}` = {labels} categories)"
            ),
            SizeSource::Cell {
                file,
                row,
                line,
                column,
                value,
                set,
                item,
            } => write!(
                f,
                "{file}, row {row} (line {line}), column `{column}`: the code {} makes `{set}` = {} categories of data `{item}`",
                jensen_runtime::data::show_value(*value),
                jensen_runtime::data::show_value(value + 1.0),
            ),
        }
    }
}

/// The part of the estimate `sets` drive: how much lower it would be with each of them at
/// size 1 (and one row, for the rows).
pub fn driven_by(
    plan: &Plan,
    program: &Program,
    sizes: &[f64],
    n_rows: f64,
    n_sequences: f64,
    sets: &[usize],
) -> f64 {
    let mut smaller = sizes.to_vec();
    let mut rows = n_rows;
    for &s in sets {
        smaller[s] = 1.0;
        if plan.model.sets[s].size == SetSize::Rows {
            rows = 1.0;
        }
    }
    estimate(plan, program, sizes, n_rows, n_sequences).bytes
        - estimate(plan, program, &smaller, rows, n_sequences.min(rows)).bytes
}

/// The source among `sources` (each with the sets it sizes) that drives the estimate most
/// ([`driven_by`]); `None` when every set has size 1.
pub fn driver<'s>(
    plan: &Plan,
    program: &Program,
    sizes: &[f64],
    n_rows: f64,
    n_sequences: f64,
    sources: &'s [(SizeSource, Vec<usize>)],
) -> Option<&'s SizeSource> {
    sources
        .iter()
        .filter(|(_, sets)| sets.iter().any(|&s| sizes[s] > 1.0))
        .map(|(source, sets)| {
            let drop = driven_by(plan, program, sizes, n_rows, n_sequences, sets);
            (source, drop)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(source, _)| source)
}

/// The bound a fit is held to when none is given, and where it comes from.
pub fn machine_limit() -> (u64, &'static str) {
    let kib = |text: &str, field: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(field))?;
        let value: u64 = line[field.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(value.saturating_mul(1024))
    };
    let number =
        |path: &str| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| kib(&m, "MemAvailable:").or_else(|| kib(&m, "MemTotal:")));
    // A cgroup limit below the machine's: what is left of it. The process's own group
    // (`/proc/self/cgroup`: v2's `0::/path`, v1's `N:memory:/path`), then the root's.
    let mut groups: Vec<(String, String)> = Vec::new();
    if let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") {
        for line in own.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let path = path.trim_end_matches('/');
            if controllers.is_empty() {
                for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                    groups.push((
                        format!("{root}{path}/memory.max"),
                        format!("{root}{path}/memory.current"),
                    ));
                }
            } else if controllers.split(',').any(|c| c == "memory") {
                groups.push((
                    format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"),
                    format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes"),
                ));
            }
        }
    }
    groups.push((
        "/sys/fs/cgroup/memory.max".into(),
        "/sys/fs/cgroup/memory.current".into(),
    ));
    groups.push((
        "/sys/fs/cgroup/memory/memory.limit_in_bytes".into(),
        "/sys/fs/cgroup/memory/memory.usage_in_bytes".into(),
    ));
    // The group's usage counts the page cache of files read (a large data file read in
    // chunks fills it), which the kernel reclaims before the limit bites: its file pages
    // (v1's `total_active_file` and `total_inactive_file`, v2's `active_file` and
    // `inactive_file`) are not counted as used.
    let reclaimable = |used: &str| -> u64 {
        let stat = std::path::Path::new(used).with_file_name("memory.stat");
        let Ok(text) = std::fs::read_to_string(stat) else {
            return 0;
        };
        let value = |wanted: &[&str]| -> u64 {
            text.lines()
                .find_map(|l| {
                    let (key, value) = l.split_once(' ')?;
                    wanted.contains(&key).then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0)
        };
        let v1 = value(&["total_active_file"]) + value(&["total_inactive_file"]);
        if v1 > 0 {
            v1
        } else {
            value(&["active_file"]) + value(&["inactive_file"])
        }
    };
    let cgroup = groups
        .iter()
        .filter_map(|(max, used)| {
            let usage = number(used).unwrap_or(0).saturating_sub(reclaimable(used));
            Some(number(max)?.saturating_sub(usage))
        })
        .min();
    let (limit, from) = match (available, cgroup) {
        (Some(a), Some(c)) if c < a => (c, "the memory left to this process's control group"),
        (Some(a), _) => (a, "the available memory"),
        (None, Some(c)) if c < FALLBACK_LIMIT => {
            (c, "the memory left to this process's control group")
        }
        _ => (
            FALLBACK_LIMIT,
            "the default bound (the available memory could not be read)",
        ),
    };
    match address_space_left() {
        Some(left) if left < limit => (
            left,
            "the address space left under this process's limit (`ulimit -v`)",
        ),
        _ => (limit, from),
    }
}

/// What is left of the process's address-space limit (`ulimit -v`, `RLIMIT_AS`: its soft
/// limit in `/proc/self/limits`, less `VmSize` in `/proc/self/status`); `None` without a
/// limit or where they cannot be read. An allocation beyond it fails, which Rust turns into
/// an abort: the bound keeps a fit from getting there.
fn address_space_left() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let used: u64 = status
        .lines()
        .find(|l| l.starts_with("VmSize:"))?
        .trim_start_matches("VmSize:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(soft.saturating_sub(used.saturating_mul(1024)))
}

/// Whether the table of the CSV file at `path` (read whole) fits the memory bound (`limit`,
/// else [`machine_limit`]): estimated before anything is read from the file's size and its
/// first MiB (bytes per row, columns), so that a file too large for memory is refused with a
/// message instead of failing an allocation. `Err` says how large the table would be and what
/// to do; a file that cannot be read passes (the reader reports it). (Feature `csv`.)
#[cfg(feature = "csv")]
pub fn check_csv_file(path: &str, limit: Option<u64>) -> Result<(), String> {
    use std::io::Read;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if !meta.is_file() {
        return Ok(());
    }
    let mut head = Vec::with_capacity(1 << 20);
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(());
    };
    if file.take(1 << 20).read_to_end(&mut head).is_err() {
        return Ok(());
    }
    let Some(header_end) = head.iter().position(|&b| b == b'\n') else {
        return Ok(());
    };
    let header = &head[..header_end];
    let delimiter = crate::csv::delimiter_of(header);
    let columns = header.iter().filter(|&&b| b == delimiter).count() + 1;
    let body = &head[header_end + 1..];
    // Whole rows of the sample: up to its last line break.
    let Some(last) = body.iter().rposition(|&b| b == b'\n') else {
        return Ok(());
    };
    let rows = body[..=last].iter().filter(|&&b| b == b'\n').count().max(1);
    let bytes_per_row = (last + 1) as f64 / rows as f64;
    let est_rows = (meta.len() as f64 - header_end as f64) / bytes_per_row;
    // The table's columns alone (binding copies them, and the fit's own bound is checked
    // when the data are bound): a margin for an estimate from the first rows.
    check_table(
        path,
        &format!(
            "about {} rows of {columns} columns ({} of CSV)",
            est_rows.round() as u64,
            bytes(meta.len() as f64)
        ),
        est_rows * columns as f64 * 8.0,
        limit,
    )
}

/// Whether a table that takes `needed` bytes to read whole (`what`: its rows and columns, in
/// the message) fits the memory bound (`limit`, else [`machine_limit`]), before anything of
/// the file at `path` is read: `Err` says how large it would be and what to do.
pub fn check_table(path: &str, what: &str, needed: f64, limit: Option<u64>) -> Result<(), String> {
    let (limit, from) = match limit {
        Some(l) => (l, "the bound given (--max-memory)".to_string()),
        None => {
            let (l, from) = machine_limit();
            (l, from.to_string())
        }
    };
    if needed > limit as f64 {
        return Err(format!(
            "{path}: {what} need at least {} of memory to read whole (the table alone, before it is bound and fitted), more than {from} ({}); fit it with `--stream`, which reads a chunk of rows at a time, or raise the bound with --max-memory",
            bytes(needed),
            bytes(limit as f64),
        ));
    }
    Ok(())
}

/// `1.5 TiB`, `812 MiB`.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = b;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} bytes")
    } else if value >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Parses a memory size: bytes, or a number with a binary unit (`K`, `M`, `G`, `T`,
/// optionally followed by `iB` or `B`), e.g. `64G`, `1.5T`, `512MiB`.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let scale = match unit {
        "" => 1u64,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        "P" => 1 << 50,
        _ => return None,
    };
    let value = number * scale as f64;
    (value.is_finite() && value >= 1.0 && value < u64::MAX as f64).then_some(value as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_parsed_and_shown() {
        assert_eq!(parse_bytes("64G"), Some(64 << 30));
        assert_eq!(parse_bytes("1.5T"), Some(3 << 39));
        assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_bytes("100 kB"), Some(100 << 10));
        assert_eq!(parse_bytes("4096"), Some(4096));
        for bad in ["", "G", "-1G", "1X", "0"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
        assert_eq!(bytes(512.0), "512 bytes");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(1.6e12), "1.5 TiB");
        assert_eq!(bytes((8u64 << 30) as f64), "8 GiB");
    }

    #[test]
    fn the_categories_drive_what_scales_with_them() {
        let source = "model m\nconst K: int = 2\ndata c[N]: 0..C\nparam w: simplex[K]\n\
                      param q[K]: simplex[C]\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\n\
                      c[n] ~ Categorical(q[z[n]])\n";
        let plan = jensen_lang::compile(source).expect("compiles").0;
        let program = Program::lower(&plan);
        let set = |name: &str| plan.model.sets.iter().position(|s| s.name == name).unwrap();
        let (k, c, n) = (set("K"), set("C"), set("N"));
        let mut sizes = vec![1.0; plan.model.sets.len()];
        sizes[k] = 2.0;
        sizes[n] = 100.0;
        sizes[c] = 1e6;
        let need = estimate(&plan, &program, &sizes, 100.0, 1.0);
        // `q` (K × C): the current and next parameters, the statistic in one task and the
        // total, and its logarithms — five copies of 16 MB, and little else.
        let kc = 8.0 * 2.0 * 1e6;
        let driven = driven_by(&plan, &program, &sizes, 100.0, 1.0, &[c]);
        assert!((5.0 * kc - 100.0..=5.0 * kc).contains(&driven), "{driven}");
        assert!(
            need.bytes >= driven && need.bytes < driven + 1e5,
            "{}",
            need.bytes
        );
        assert_eq!(need.largest.1, [2.0, 1e6]);
        assert!(need
            .describe_largest()
            .contains("2 × 1000000 numbers (15.3 MiB)"));
        // N × K responsibilities scale with the rows.
        sizes[c] = 3.0;
        let rows = driven_by(&plan, &program, &sizes, 1e7, 1.0, &[n]);
        assert!(rows >= 2.0 * 8.0 * 2.0 * (1e7 - 1.0), "{rows}");
    }

    #[test]
    fn the_machine_has_a_bound() {
        let (limit, from) = machine_limit();
        assert!(limit > 0, "{from}");
    }
}
