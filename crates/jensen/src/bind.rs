//! Binding a table of data to a model's data items: which columns feed which item, the sizes
//! of the index sets, and a check of every value — with errors that name the file, the row
//! and the column.

use std::collections::BTreeMap;
use std::ops::Range;

use ndarray::{Array1, Array2};
use thiserror::Error;

use jensen_lang::ast::DeclKind;
use jensen_lang::ir::{ElemType, SetSize, VarId};
use jensen_lang::plan::{BlockKind, Trials};
use jensen_lang::Plan;
use jensen_runtime::chain::{sequences_from_ids, sequences_from_lengths};
use jensen_runtime::data::ValueKind;
use jensen_runtime::gaps::{self, Fill, Gaps};

use crate::memory::{self, SizeSource};

/// A table of data: named columns, numeric or text (a column is text when none of its
/// cells is a number; [`crate::csv`] reports a stray non-number in a numeric column).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where it came from, for messages (a file name).
    pub source: String,
    /// Column names.
    pub headers: Vec<String>,
    /// Column values; `None` for a text column.
    pub columns: Vec<Option<Vec<f64>>>,
    /// The cells of text columns (`None` for a numeric column), e.g. sequence names.
    pub text: Vec<Option<Vec<String>>>,
    /// Number of rows.
    pub n_rows: usize,
    /// The 1-based line of each row in its file, for messages; empty when row `r` (0-based)
    /// is on line `r + 2` (a header line, then one line per row), as when the table was not
    /// read from a file with blank lines. See [`Table::line`].
    pub lines: Vec<usize>,
    /// Per column, the 0-based rows whose cell is empty (a numeric column holds NaN there);
    /// empty, or shorter than the columns, when no cell is. See [`Table::empty_cells`].
    pub missing: Vec<Vec<usize>>,
}

impl Table {
    /// The 0-based rows whose cell in column `c` is empty.
    pub fn empty_cells(&self, c: usize) -> &[usize] {
        self.missing.get(c).map_or(&[], Vec::as_slice)
    }

    /// The 1-based line of 0-based row `row` in the file: from [`Table::lines`] when given,
    /// else `row + 2`.
    pub fn line(&self, row: usize) -> usize {
        self.lines.get(row).copied().unwrap_or(row + 2)
    }

    /// The rows `rows` (0-based, ascending) of the table, with their lines.
    pub fn select(&self, rows: &[usize]) -> Table {
        let position: BTreeMap<usize, usize> =
            rows.iter().enumerate().map(|(i, &r)| (r, i)).collect();
        Table {
            source: self.source.clone(),
            headers: self.headers.clone(),
            columns: (self.columns.iter())
                .map(|c| c.as_ref().map(|c| rows.iter().map(|&r| c[r]).collect()))
                .collect(),
            text: (self.text.iter())
                .map(|c| {
                    c.as_ref()
                        .map(|c| rows.iter().map(|&r| c[r].clone()).collect())
                })
                .collect(),
            n_rows: rows.len(),
            lines: rows.iter().map(|&r| self.line(r)).collect(),
            missing: (0..self.headers.len())
                .map(|c| {
                    (self.empty_cells(c).iter())
                        .filter_map(|r| position.get(r).copied())
                        .collect()
                })
                .collect(),
        }
    }

    /// The rows of `parts` one after the other (tables of the same columns, e.g. chunks of
    /// one file, each with its lines). A column that is text in any part is text: the
    /// numbers of the others are written out (an empty cell stays empty).
    pub fn concat(parts: Vec<Table>) -> Table {
        let Some(head) = parts.first() else {
            return Table {
                source: String::new(),
                headers: Vec::new(),
                columns: Vec::new(),
                text: Vec::new(),
                n_rows: 0,
                lines: Vec::new(),
                missing: Vec::new(),
            };
        };
        let width = head.headers.len();
        let text: Vec<bool> = (0..width)
            .map(|c| parts.iter().any(|p| p.text[c].is_some()))
            .collect();
        let mut out = Table {
            source: head.source.clone(),
            headers: head.headers.clone(),
            columns: text.iter().map(|&t| (!t).then(Vec::new)).collect(),
            text: text.iter().map(|&t| t.then(Vec::new)).collect(),
            n_rows: 0,
            lines: Vec::new(),
            missing: vec![Vec::new(); width],
        };
        for part in parts {
            for c in 0..width {
                let empty = part.empty_cells(c);
                out.missing[c].extend(empty.iter().map(|r| r + out.n_rows));
                match (
                    &mut out.columns[c],
                    &mut out.text[c],
                    &part.columns[c],
                    &part.text[c],
                ) {
                    (Some(to), _, Some(from), _) => to.extend_from_slice(from),
                    (_, Some(to), _, Some(from)) => to.extend(from.iter().cloned()),
                    (_, Some(to), Some(from), _) => {
                        to.extend(from.iter().enumerate().map(|(r, v)| {
                            if empty.contains(&r) {
                                String::new()
                            } else {
                                v.to_string()
                            }
                        }))
                    }
                    _ => unreachable!("a column is text in the whole if in any part"),
                }
            }
            out.lines.extend((0..part.n_rows).map(|r| part.line(r)));
            out.n_rows += part.n_rows;
        }
        // A text column has no empty cells of its own (they are empty strings).
        for (c, t) in text.iter().enumerate() {
            if *t {
                out.missing[c].clear();
            }
        }
        out
    }
}

/// How to bind: constant overrides (`--set K=3`), explicit column lists (`--bind x=a,b`) and
/// columns to leave out of the default "all numeric columns".
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BindOptions {
    /// Constant values overriding the model's defaults.
    pub consts: BTreeMap<String, usize>,
    /// Columns for a data item, overriding the model.
    pub columns: BTreeMap<String, Vec<String>>,
    /// Columns never taken by default.
    pub exclude: Vec<String>,
    /// How the rows split into independent sequences (chains only).
    pub sequences: Sequences,
    /// Labels of a category item read from a text column, in code order (label `i` is
    /// category `i`), e.g. those of an earlier fit. Without an entry the labels are the
    /// column's distinct cells, sorted.
    pub categories: BTreeMap<String, Vec<String>>,
    /// The memory, in bytes, a fit of the bound data may need (`--max-memory`). Without it,
    /// the memory available to the process bounds the fit, and a number of categories
    /// implied by a cell above the number of rows is refused when it alone needs more than
    /// [`crate::memory::SUSPICIOUS_BYTES`]. See [`crate::memory`].
    pub memory_limit: Option<u64>,
    /// A column holding a weight per row (`--weights COL`), for a model that declares no
    /// `weight` item: the column is read as one would be (`data w[N]: weight`), and left out
    /// of the columns other items take by default.
    pub weights: Option<String>,
    /// A column giving the discrete latent's value for some rows (`--labels COL`, partial
    /// labels), empty where unknown; overrides the model's `latent z[N]: 0..K from (col)`.
    pub labels: Option<String>,
    /// The text labels of the latent's values in code order (e.g. those of an earlier fit):
    /// without them a text label column is coded in sorted order.
    pub label_names: Option<Vec<String>>,
    /// Bind without labels when the label column is absent (decoding new data), instead of
    /// failing.
    pub labels_optional: bool,
    /// The table is one chunk of a larger file ([`crate::stream`]): its rows' weights may all
    /// be zero (the whole file's total is checked instead).
    pub chunk: bool,
    /// The number of categories of a category item read from numeric codes, as an earlier
    /// fit had it (by item name): new data keep it — a file without the largest code binds
    /// to the fit's categories — and a code at or above it is an error naming the cell.
    pub category_counts: BTreeMap<String, usize>,
}

/// How the rows of a table split into independent sequences, for a chain-structured latent.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Sequences {
    /// One sequence of every row.
    #[default]
    Whole,
    /// Consecutive sequences of these lengths (as hmmlearn's `lengths`).
    Lengths(Vec<usize>),
    /// A sequence-id column: consecutive rows with the same id form one sequence. The column
    /// may hold numbers or text and is never taken as data.
    Column(String),
}

/// One bound data item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Columns read.
    pub columns: Vec<String>,
    /// Values, `rows × columns`.
    pub values: Array2<f64>,
    /// For a category read from a text column: the label of each category, in code order
    /// (sorted unless [`BindOptions::categories`] gave them).
    pub labels: Option<Vec<String>>,
    /// The missing cells (empty in the file): `values` holds placeholders there
    /// ([`jensen_runtime::gaps::take`]) and each row's E-step integrates them out.
    pub gaps: Gaps,
}

impl Item {
    /// The columns whose value is the same in every row, with that value.
    pub fn constant_columns(&self) -> Vec<(&str, f64)> {
        self.values
            .columns()
            .into_iter()
            .zip(&self.columns)
            .filter_map(|(col, name)| {
                let first = *col.first()?;
                col.iter()
                    .all(|&x| x == first || (x.is_nan() && first.is_nan()))
                    .then_some((name.as_str(), first))
            })
            .collect()
    }
}

/// Data bound to a plan: sizes of all index sets and the values of every data item.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// Size of every index set (by set id).
    pub sizes: Vec<usize>,
    /// Number of rows.
    pub n_rows: usize,
    /// Per variable id: the bound values of data items.
    pub items: Vec<Option<Item>>,
    /// Consecutive row ranges that are independent sequences (chains only; one sequence of
    /// every row unless [`BindOptions`] says otherwise).
    pub sequences: Vec<Range<usize>>,
    /// A weight per row, with where it came from: the model's `weight` item or the column of
    /// [`BindOptions::weights`] (checked: finite, at least 0, not all 0, the same within
    /// each sequence of a chain). `None`: every row weighs 1.
    pub weights: Option<RowWeights>,
    /// The discrete latent's value where a label column gives it (`None` where the cell is
    /// empty); `None` without a label column.
    pub labels: Option<RowLabels>,
}

/// SplitMix64's finaliser: a bijection of `u64` whose every output bit depends on every
/// input bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Partial labels of the discrete latent ([`Bound::labels`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RowLabels {
    /// Per row, the latent's value, or `None` where the cell is empty.
    pub values: Vec<Option<u32>>,
    /// The column they come from.
    pub column: String,
    /// For a text column, the label of each value, in code order (sorted).
    pub names: Option<Vec<String>>,
}

/// The weight of every row ([`Bound::weights`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RowWeights {
    /// One weight per row.
    pub values: Array1<f64>,
    /// Where they come from: the column's name.
    pub column: String,
    /// `Σ w`, the number of observations the rows stand for.
    pub total: f64,
}

impl Bound {
    /// A check of the order of the rows within each sequence: the sum over the rows (with
    /// wrap-around) of a hash of the row's data values and its position in its sequence.
    /// The rows split into any groups of whole sequences give the same sum, in any order of
    /// the groups; a sequence split in two, or rows of a sequence in another order, change
    /// it (unless the rows moved hold the same values). A query engine's partitions are
    /// checked with it against the rows the driver read.
    pub fn sequence_check(&self) -> u64 {
        let mut total = 0u64;
        for seq in &self.sequences {
            for (position, row) in seq.clone().enumerate() {
                let mut h = mix(position as u64 ^ 0x6a09_e667_f3bc_c909);
                for item in self.items.iter().flatten() {
                    for &v in item.values.row(row) {
                        h = mix(h ^ v.to_bits());
                    }
                }
                total = total.wrapping_add(h);
            }
        }
        total
    }

    /// The bound values of data variable `v`.
    pub fn item(&self, v: VarId) -> &Item {
        self.items[v].as_ref().expect("every data item is bound")
    }

    /// The same data, bound to `plan`, with a weight per row given by a program (`column`
    /// names them in messages), checked as a weight column is; replaces any weights already
    /// bound.
    pub fn with_weights(
        mut self,
        plan: &Plan,
        column: &str,
        values: Vec<f64>,
    ) -> Result<Self, jensen_runtime::data::DataError> {
        if values.len() != self.n_rows {
            return Err(jensen_runtime::data::DataError::Weights(format!(
                "{} weights in `{column}` for {} rows: give one weight per row",
                values.len(),
                self.n_rows
            )));
        }
        let values = Array1::from(values);
        let sequences = plan.latent.is_chain().then_some(&self.sequences[..]);
        let total = jensen_runtime::data::check_weights(column, values.view(), sequences)?;
        for (v, item) in self.items.iter().enumerate() {
            let Some(item) = item else { continue };
            if squared_in_statistics(plan.model.vars[v].ty) {
                let name = &plan.model.vars[v].name;
                jensen_runtime::data::check_weighted_sums(name, item.values.view(), values.view())?;
            }
        }
        self.weights = Some(RowWeights {
            values,
            column: column.to_string(),
            total,
        });
        Ok(self)
    }
}

/// Why data could not be bound.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BindError {
    /// The table has no rows.
    #[error("{file} has no data rows")]
    Empty {
        /// Source.
        file: String,
    },
    /// A needed column is not in the table.
    #[error("{file} has no column `{column}` for data `{item}` (columns: {available})")]
    MissingColumn {
        /// Source.
        file: String,
        /// Data item.
        item: String,
        /// Wanted column.
        column: String,
        /// Columns present.
        available: String,
    },
    /// A needed column holds text.
    #[error("{file}: column `{column}` holds text, but data `{item}` needs numbers")]
    TextColumn {
        /// Source.
        file: String,
        /// Data item.
        item: String,
        /// Column.
        column: String,
    },
    /// No columns could be chosen.
    #[error("{file} has no numeric column for data `{item}`")]
    NoColumns {
        /// Source.
        file: String,
        /// Data item.
        item: String,
    },
    /// A value the item does not admit.
    #[error("{file}, row {row} (line {line}), column `{column}`: {} is not {expected} (data `{item}`)", jensen_runtime::data::show_value(*value))]
    BadValue {
        /// Source.
        file: String,
        /// 1-based data row.
        row: usize,
        /// 1-based line in a file with a header line.
        line: usize,
        /// Column.
        column: String,
        /// The value.
        value: f64,
        /// What was expected.
        expected: String,
        /// Data item.
        item: String,
    },
    /// `--set` names no constant of the model.
    #[error("`{name}` is not a constant of the model (constants: {available})")]
    UnknownConst {
        /// The name given.
        name: String,
        /// The model's constants.
        available: String,
    },
    /// A constant set to zero.
    #[error("constant `{name}` must be at least 1")]
    ZeroConst {
        /// The constant.
        name: String,
    },
    /// Two items disagree on a size.
    #[error("size `{set}` is {first} from `{first_item}` but {second} from `{second_item}`")]
    SizeConflict {
        /// The set.
        set: String,
        /// First size.
        first: usize,
        /// Its source.
        first_item: String,
        /// Second size.
        second: usize,
        /// Its source.
        second_item: String,
    },
    /// The sequences do not fit the rows.
    #[error("{file}: {message}")]
    Sequences {
        /// Source.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A continuous latent with at least as many dimensions as the data it explains.
    #[error("{}", jensen_runtime::data::latent_dim_message(latent, size, *dim, item, *columns))]
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
    /// A text cell of a category column that cannot be given a category.
    #[error("{file}, row {row} (line {line}), column `{column}`: {what} (data `{item}`)")]
    BadLabel {
        /// Source.
        file: String,
        /// 1-based data row.
        row: usize,
        /// 1-based line in a file with a header line.
        line: usize,
        /// Column.
        column: String,
        /// What is wrong.
        what: String,
        /// Data item.
        item: String,
    },
    /// A fit would need more memory than the bound allows.
    #[error(
        "{driver}: a fit would need at least {} of memory ({largest}), more than {limit_from} ({}); {}, or raise the bound with --max-memory (e.g. --max-memory 64G)",
        crate::memory::bytes(*needed), crate::memory::bytes(*limit as f64), driver.hint()
    )]
    Memory {
        /// What makes the fit this large.
        driver: Box<SizeSource>,
        /// Bytes a fit needs, at least.
        needed: f64,
        /// The bound, in bytes.
        limit: u64,
        /// Where the bound comes from.
        limit_from: String,
        /// The largest array.
        largest: String,
    },
    /// A category code far above the number of rows that alone makes the fit large.
    #[error(
        "{driver}, more categories than the {rows} rows (most of them cannot occur in the data), which alone need at least {} of memory ({largest}); {}; if the codes are right, allow it with --max-memory (e.g. --max-memory 64G)",
        crate::memory::bytes(*needed), driver.hint()
    )]
    SuspiciousCategories {
        /// The cell.
        driver: Box<SizeSource>,
        /// Number of rows.
        rows: usize,
        /// Bytes the categories drive, at least.
        needed: f64,
        /// The largest array.
        largest: String,
    },
    /// Labels that cannot be given to the latent.
    #[error("{file}: {message}")]
    Labels {
        /// Source.
        file: String,
        /// What is wrong, and what to do.
        message: String,
    },
    /// Row weights that cannot weigh the rows.
    #[error("{file}: {message}")]
    Weights {
        /// Source.
        file: String,
        /// What is wrong, and what to do.
        message: String,
    },
    /// `--bind` names no data item.
    #[error("`{name}` is not a data item of the model (data: {available})")]
    UnknownItem {
        /// The name given.
        name: String,
        /// The model's data items.
        available: String,
    },
}

impl BindError {
    /// The error with its row counted after `before` earlier rows (of earlier chunks of a
    /// file read chunk by chunk).
    pub fn after_rows(mut self, before: usize) -> Self {
        match &mut self {
            BindError::BadValue { row, .. } | BindError::BadLabel { row, .. } => *row += before,
            BindError::Memory { driver, .. } | BindError::SuspiciousCategories { driver, .. } => {
                if let SizeSource::Cell { row, .. } = driver.as_mut() {
                    *row += before;
                }
            }
            _ => {}
        }
        self
    }
}

fn value_kind(ty: ElemType, categories: usize) -> ValueKind {
    match ty {
        ElemType::Count | ElemType::CountVec(_) => ValueKind::Count,
        ElemType::Positive => ValueKind::Positive,
        ElemType::Binary | ElemType::BinaryVec(_) => ValueKind::Binary,
        ElemType::Cat(_) => ValueKind::Category(categories),
        ElemType::Weight => ValueKind::Weight,
        _ => ValueKind::Real,
    }
}

/// Binds `table` to the data items of `plan`.
pub fn bind(plan: &Plan, table: &Table, opts: &BindOptions) -> Result<Bound, BindError> {
    let model = &plan.model;
    let file = table.source.clone();
    if table.n_rows == 0 {
        return Err(BindError::Empty { file });
    }
    for name in opts.consts.keys() {
        if !model.consts.iter().any(|c| &c.name == name) {
            let available = model
                .consts
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(BindError::UnknownConst {
                name: name.clone(),
                available,
            });
        }
    }
    let data_vars: Vec<VarId> = (0..model.vars.len())
        .filter(|&v| model.vars[v].kind == DeclKind::Data)
        .collect();
    for name in opts.columns.keys() {
        if !data_vars.iter().any(|&v| &model.vars[v].name == name) {
            let available = data_vars
                .iter()
                .map(|&v| model.vars[v].name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(BindError::UnknownItem {
                name: name.clone(),
                available,
            });
        }
    }
    // A category item may read a text column (its labels become codes); others need numbers.
    let column_index = |item: &str, name: &str, text: bool| -> Result<usize, BindError> {
        let i = table
            .headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| BindError::MissingColumn {
                file: file.clone(),
                item: item.to_string(),
                column: name.to_string(),
                available: table.headers.join(", "),
            })?;
        if table.columns[i].is_none() && !text {
            return Err(BindError::TextColumn {
                file: file.clone(),
                item: item.into(),
                column: name.into(),
            });
        }
        Ok(i)
    };

    let sequences = sequences(plan, table, opts)?;
    let mut exclude = opts.exclude.clone();
    if let Sequences::Column(c) = &opts.sequences {
        exclude.push(c.clone());
    }
    let label_column = opts.labels.as_deref().or(plan.label_column());
    if let Some(c) = label_column {
        exclude.push(c.to_string());
    }
    if let Some(c) = &opts.weights {
        if let Some(w) = plan.row_weights {
            return Err(BindError::Weights {
                file,
                message: format!(
                    "the model already weighs its rows by `{}`: drop --weights {c}, or bind `{}` to that column (--bind {}={c})",
                    model.vars[w].name, model.vars[w].name, model.vars[w].name
                ),
            });
        }
        exclude.push(c.clone());
    }
    // Items that take columns by default: every one but the rows' weights, whose column no
    // other item takes by default.
    let modelled = data_vars
        .iter()
        .filter(|&&v| model.vars[v].ty != ElemType::Weight)
        .count();
    if let Some(w) = plan.row_weights {
        let var = &model.vars[w];
        match opts.columns.get(&var.name).or(var.columns.as_ref()) {
            Some(cols) => exclude.extend(cols.iter().cloned()),
            None => exclude.push(var.name.clone()),
        }
    }
    let mut items: Vec<Option<Item>> = vec![None; model.vars.len()];
    // Which blocks integrate out missing cells.
    let program = jensen_lang::Program::lower(plan);
    for &v in &data_vars {
        let var = &model.vars[v];
        let vector = var.ty.vector_set().is_some();
        let category = matches!(var.ty, ElemType::Cat(_));
        let chosen: Vec<usize> = if let Some(cols) =
            opts.columns.get(&var.name).or(var.columns.as_ref())
        {
            cols.iter()
                .map(|c| column_index(&var.name, c, category))
                .collect::<Result<_, _>>()?
        } else if let Some(except) = &var.except {
            // Every numeric column not excluded and not claimed by another data item.
            let claimed = |h: &String| {
                except.contains(h)
                    || exclude.contains(h)
                    || data_vars.iter().any(|&o| {
                        o != v && {
                            let other = &model.vars[o];
                            opts.columns
                                .get(&other.name)
                                .or(other.columns.as_ref())
                                .map_or(other.name == *h, |c| c.contains(h))
                        }
                    })
            };
            // Columns named in `except` need not be present: the clause only removes.
            numeric_columns(table, claimed).ok_or_else(|| BindError::NoColumns {
                file: file.clone(),
                item: var.name.clone(),
            })?
        } else if let Some(i) = table.headers.iter().position(|h| *h == var.name) {
            vec![column_index(&var.name, &table.headers[i], category)?]
        } else if vector && modelled == 1 {
            numeric_columns(table, |h| exclude.contains(h)).ok_or_else(|| BindError::NoColumns {
                file: file.clone(),
                item: var.name.clone(),
            })?
        } else {
            return Err(BindError::MissingColumn {
                file,
                item: var.name.clone(),
                column: var.name.clone(),
                available: table.headers.join(", "),
            });
        };
        // Column-major, as the table and the E-step's kernels hold them: the executor reads
        // these values in place (no second copy), and each column fills contiguously.
        let mut values = jensen_runtime::data::zeros_aligned_f(table.n_rows, chosen.len());
        let labels = category_labels(table, &chosen, opts.categories.get(&var.name));
        // An empty cell of an item a block reads is a missing value (NaN until the gaps are
        // taken below); the rows' weights must all be given.
        let takes_gaps = plan.blocks.iter().any(|b| b.data == v);
        for (j, &c) in chosen.iter().enumerate() {
            match (&table.columns[c], &table.text[c], &labels) {
                (Some(col), _, _) => {
                    if let Some(&i) = table.empty_cells(c).first().filter(|_| !takes_gaps) {
                        return Err(BindError::BadLabel {
                            file: file.clone(),
                            row: i + 1,
                            line: table.line(i),
                            column: table.headers[c].clone(),
                            what: match (var.ty, read_by(plan, v)) {
                                (ElemType::Weight, _) => "the cell is empty, but every row's weight must be given: remove the row, or give it weight 0".into(),
                                (_, Some((statement, what))) => format!("the cell is empty, but it holds {what} of `{statement}`, which every row needs: remove the row, or fill the cell"),
                                _ => "the cell is empty, but no statement models this item, so every row needs a value: remove the row, or fill the cell".into(),
                            },
                            item: var.name.clone(),
                        });
                    }
                    for (i, &x) in col.iter().enumerate() {
                        values[[i, j]] = x;
                    }
                }
                (None, Some(cells), Some(labels)) => {
                    let codes: BTreeMap<&str, usize> = labels
                        .iter()
                        .enumerate()
                        .map(|(k, l)| (l.as_str(), k))
                        .collect();
                    for (i, cell) in cells.iter().enumerate() {
                        if takes_gaps && cell.is_empty() {
                            values[[i, j]] = f64::NAN;
                            continue;
                        }
                        values[[i, j]] = *codes.get(cell.as_str()).ok_or_else(|| {
                            let what = if cell.is_empty() {
                                "the cell is empty, but no statement models this item, so every row needs a value".to_string()
                            } else {
                                format!(
                                    "`{cell}` is not one of the categories {}",
                                    list_labels(labels)
                                )
                            };
                            BindError::BadLabel {
                                file: file.clone(),
                                row: i + 1,
                                line: table.line(i),
                                column: table.headers[c].clone(),
                                what,
                                item: var.name.clone(),
                            }
                        })? as f64;
                    }
                }
                _ => unreachable!("a column is numeric or text; text only for a category"),
            }
        }
        // The same placeholders as a generated model's `new` writes.
        let fill = match var.ty {
            ElemType::Vector(_) | ElemType::Real | ElemType::Positive => Fill::Mean,
            _ => Fill::Mode,
        };
        let gaps = gaps::take(&mut values, fill);
        if let (Some(row), Some(block)) = (
            gaps.first_row(),
            program
                .blocks
                .iter()
                .find(|b| b.data == v && b.missing.is_none()),
        ) {
            let j = (0..chosen.len())
                .find(|&j| {
                    table.empty_cells(chosen[j]).binary_search(&row).is_ok()
                        || table.text[chosen[j]]
                            .as_ref()
                            .is_some_and(|t| t[row].is_empty())
                })
                .unwrap_or(0);
            return Err(BindError::BadLabel {
                file: file.clone(),
                row: row + 1,
                line: table.line(row),
                column: table.headers[chosen[j]].clone(),
                what: format!(
                    "the cell is empty, and `{}` refuses missing cells: {} ({} missing in all; remove or fill those rows)",
                    block.statement,
                    block.gaps_refused.as_deref().unwrap_or("no kernels for them"),
                    gaps.cells()
                ),
                item: var.name.clone(),
            });
        }
        items[v] = Some(Item {
            columns: chosen.iter().map(|&c| table.headers[c].clone()).collect(),
            values,
            labels,
            gaps,
        });
    }

    // Sizes of the index sets.
    let mut sizes = vec![0usize; model.sets.len()];
    let mut size_source: Vec<Option<String>> = vec![None; model.sets.len()];
    // What makes each set as large as it is, with the sets it sizes (a constant may size
    // several).
    let mut sources: Vec<(SizeSource, Vec<usize>)> = Vec::new();
    for (s, set) in model.sets.iter().enumerate() {
        let (size, source) = match set.size {
            SetSize::Literal(n) => (
                n,
                SizeSource::Literal {
                    set: set.name.clone(),
                    size: n,
                },
            ),
            SetSize::Const(c) => {
                let k = &model.consts[c];
                let value = opts.consts.get(&k.name).copied().unwrap_or(k.default);
                if value == 0 {
                    return Err(BindError::ZeroConst {
                        name: k.name.clone(),
                    });
                }
                let source = SizeSource::Const {
                    name: k.name.clone(),
                    value,
                    overridden: opts.consts.contains_key(&k.name),
                };
                (value, source)
            }
            SetSize::Rows => (
                table.n_rows,
                SizeSource::Rows {
                    file: file.clone(),
                    rows: table.n_rows,
                },
            ),
            SetSize::Columns(v) => {
                let columns = items[v].as_ref().expect("data bound").columns.len();
                let source = SizeSource::Columns {
                    set: set.name.clone(),
                    item: model.vars[v].name.clone(),
                    columns,
                };
                (columns, source)
            }
            SetSize::Categories(v) => {
                let item = items[v].as_ref().expect("data bound");
                match &item.labels {
                    Some(labels) => (
                        labels.len(),
                        SizeSource::Labels {
                            file: file.clone(),
                            set: set.name.clone(),
                            item: model.vars[v].name.clone(),
                            labels: labels.len(),
                        },
                    ),
                    None => {
                        // Whole numbers below 2^53: the largest code, plus one, is exact.
                        check(table, &model.vars[v].name, item, ValueKind::Count)?;
                        if let Some(&count) = opts.category_counts.get(&model.vars[v].name) {
                            if let Some(((i, j), &x)) =
                                item.values.indexed_iter().find(|(_, &x)| x >= count as f64)
                            {
                                return Err(BindError::BadLabel {
                                    file: file.clone(),
                                    row: i + 1,
                                    line: table.line(i),
                                    column: item.columns[j].clone(),
                                    what: format!(
                                        "the code {} is not one of the fit's {count} categories (0 to {})",
                                        jensen_runtime::data::show_value(x),
                                        count - 1
                                    ),
                                    item: model.vars[v].name.clone(),
                                });
                            }
                            (
                                count,
                                SizeSource::Fitted {
                                    set: set.name.clone(),
                                    item: model.vars[v].name.clone(),
                                    count,
                                },
                            )
                        } else {
                            let ((i, j), &max) = item
                                .values
                                .indexed_iter()
                                .fold(None, |m: Option<((usize, usize), &f64)>, (ij, x)| match m {
                                    Some((_, y)) if y >= x => m,
                                    _ => Some((ij, x)),
                                })
                                .expect("at least one row");
                            let source = SizeSource::Cell {
                                file: file.clone(),
                                row: i + 1,
                                line: table.line(i),
                                column: item.columns[j].clone(),
                                value: max,
                                set: set.name.clone(),
                                item: model.vars[v].name.clone(),
                            };
                            (max as usize + 1, source)
                        }
                    }
                }
            }
        };
        sizes[s] = size;
        match sources.iter_mut().find(|(known, _)| *known == source) {
            Some((_, sets)) => sets.push(s),
            None => sources.push((source, vec![s])),
        }
        if let SetSize::Columns(v) | SetSize::Categories(v) = set.size {
            size_source[s] = Some(model.vars[v].name.clone());
        }
    }
    // Every vector item must match the size its type names (a second item over `D`, or a literal).
    for &v in &data_vars {
        let var = &model.vars[v];
        if let Some(d) = var.ty.vector_set() {
            let have = items[v].as_ref().expect("data bound").columns.len();
            if have != sizes[d] {
                return Err(BindError::SizeConflict {
                    set: model.sets[d].name.clone(),
                    first: sizes[d],
                    first_item: size_source[d].clone().unwrap_or_else(|| "the model".into()),
                    second: have,
                    second_item: var.name.clone(),
                });
            }
        }
    }
    if let Some(c) = plan.continuous {
        for b in &plan.blocks {
            if let (BlockKind::LinearGaussian { .. }, ElemType::Vector(d)) =
                (b.kind, model.vars[b.data].ty)
            {
                if sizes[c.dim] >= sizes[d] {
                    return Err(BindError::LatentDim {
                        latent: model.vars[c.var].name.clone(),
                        size: model.sets[c.dim].name.clone(),
                        dim: sizes[c.dim],
                        item: model.vars[b.data].name.clone(),
                        columns: sizes[d],
                    });
                }
            }
        }
    }
    for &v in &data_vars {
        let var = &model.vars[v];
        let categories = match var.ty {
            ElemType::Cat(c) => sizes[c],
            _ => 0,
        };
        let item = items[v].as_mut().expect("data bound");
        if let (Some(labels), ElemType::Cat(c)) = (&item.labels, var.ty) {
            // More labels than the model's categories: name the first row beyond them.
            if let Some((i, j)) = item
                .values
                .indexed_iter()
                .find(|(_, &x)| x as usize >= categories)
                .map(|(ij, _)| ij)
            {
                let code = item.values[[i, j]] as usize;
                return Err(BindError::BadLabel {
                    file: file.clone(),
                    row: i + 1,
                    line: table.line(i),
                    column: item.columns[j].clone(),
                    what: format!(
                        "`{}` is category {code} of the {} labels {}, but `{}` = {categories}",
                        labels[code],
                        labels.len(),
                        list_labels(labels),
                        model.sets[c].name,
                    ),
                    item: var.name.clone(),
                });
            }
        }
        let kind = value_kind(var.ty, categories);
        check(table, &var.name, item, kind)?;
        if matches!(kind, ValueKind::Real | ValueKind::Positive) {
            check_sums(table, &var.name, item)?;
        }
    }
    // An item a block reads without modelling it (a binomial's trials, a regression's
    // covariates) is needed in every row: a statement of its own may not leave it gaps.
    for block in &plan.blocks {
        let read = match block.kind {
            BlockKind::Binomial {
                trials: Trials::Column(t),
                ..
            } => t,
            _ if block.kind.regression().is_some() => {
                block.kind.regression().expect("a regression").2
            }
            _ => continue,
        };
        let item = items[read].as_ref().expect("data bound");
        if let (Some(row), Some((statement, what))) = (item.gaps.first_row(), read_by(plan, read)) {
            let j = item.gaps.columns_of(row).first().copied().unwrap_or(0);
            return Err(BindError::BadLabel {
                file: file.clone(),
                row: row + 1,
                line: table.line(row),
                column: item.columns[j].clone(),
                what: format!(
                    "the cell is empty, but it holds {what} of `{statement}`, which every row needs ({} missing in all; remove or fill those rows)",
                    item.gaps.cells()
                ),
                item: model.vars[read].name.clone(),
            });
        }
    }
    // A binomial's successes are at most its trials.
    for block in &plan.blocks {
        let item = items[block.data].as_ref().expect("data bound");
        let name = &model.vars[block.data].name;
        match block.kind.trials() {
            Some(Trials::Known(t)) => {
                jensen_runtime::data::check_at_most_trials(name, item.values.view(), t)
                    .map_err(|bad| bad_value(table, item, bad))?;
            }
            Some(Trials::Column(t)) => {
                let trials = items[t].as_ref().expect("data bound");
                jensen_runtime::data::check_at_most_trials_by_row(
                    name,
                    item.values.column(0),
                    &item.gaps,
                    &model.vars[t].name,
                    trials.values.column(0),
                )
                .map_err(|bad| bad_value(table, item, bad))?;
            }
            None => {}
        }
    }
    let weights = row_weights(plan, table, &items, &sequences, opts)?;
    let labels = match label_column {
        Some(c) if opts.labels_optional && !table.headers.iter().any(|h| h == c) => None,
        Some(c) => Some(row_labels(
            plan,
            table,
            c,
            &sizes,
            opts.label_names.as_deref(),
        )?),
        None => None,
    };
    check_memory(plan, table, &sizes, &sources, sequences.len(), opts)?;
    for &v in &data_vars {
        if plan.blocks.iter().any(|b| b.data == v && b.log_scale) {
            // Held as `ln x` (the block's only statement reads it so; the Jacobian `ln x` of
            // each observed value enters the objective as the block's per-row terms).
            let item = items[v].as_mut().expect("data bound");
            item.values.mapv_inplace(f64::ln);
        }
    }
    Ok(Bound {
        sizes,
        n_rows: table.n_rows,
        items,
        sequences,
        weights,
        labels,
    })
}

/// The discrete latent's partial labels from `column`: whole numbers `0..K`, or text labels
/// (at most `K`, coded in sorted order); an empty cell is an unlabelled row.
fn row_labels(
    plan: &Plan,
    table: &Table,
    column: &str,
    sizes: &[usize],
    given_names: Option<&[String]>,
) -> Result<RowLabels, BindError> {
    let Some((z, k_set)) = plan.latent.var_components() else {
        return Err(BindError::Labels {
            file: table.source.clone(),
            message: format!(
                "model `{}` has no discrete latent for the labels in `{column}` to give",
                plan.model.name
            ),
        });
    };
    let k = sizes[k_set];
    let latent = plan.model.vars[z].name.clone();
    let c = table
        .headers
        .iter()
        .position(|h| h == column)
        .ok_or_else(|| BindError::MissingColumn {
            file: table.source.clone(),
            item: format!("the labels of `{latent}`"),
            column: column.to_string(),
            available: table.headers.join(", "),
        })?;
    let bad = |row: usize, what: String| BindError::BadLabel {
        file: table.source.clone(),
        row: row + 1,
        line: table.line(row),
        column: column.to_string(),
        what,
        item: latent.clone(),
    };
    match (&table.columns[c], &table.text[c]) {
        (Some(values), _) => {
            let empty = table.empty_cells(c);
            let mut out = Vec::with_capacity(values.len());
            for (i, &v) in values.iter().enumerate() {
                if empty.binary_search(&i).is_ok() {
                    out.push(None);
                } else if v >= 0.0 && v.fract() == 0.0 && v < k as f64 {
                    out.push(Some(v as u32));
                } else {
                    return Err(bad(
                        i,
                        format!(
                            "{} is not a value of `{latent}` (a whole number in 0..{k}, or an empty cell for an unlabelled row)",
                            jensen_runtime::data::show_value(v)
                        ),
                    ));
                }
            }
            Ok(RowLabels {
                values: out,
                column: column.to_string(),
                names: None,
            })
        }
        (None, Some(cells)) => {
            // The labels given (an earlier fit's), else the column's distinct labels, sorted.
            let given = given_names.map(<[String]>::to_vec);
            let names = category_labels(table, &[c], given.as_ref()).expect("a text column");
            let mut values = Vec::with_capacity(cells.len());
            for (i, cell) in cells.iter().enumerate() {
                if cell.is_empty() {
                    values.push(None);
                    continue;
                }
                match names.iter().position(|n| n == cell) {
                    Some(code) if code < k => values.push(Some(code as u32)),
                    Some(code) => {
                        return Err(bad(
                            i,
                            format!(
                                "`{cell}` is label {} of the {} labels {}, but `{latent}` has {k} values: set the number of components to at least {} (e.g. --set {}={})",
                                code + 1,
                                names.len(),
                                list_labels(&names),
                                names.len(),
                                plan.model.sets[k_set].name,
                                names.len()
                            ),
                        ))
                    }
                    None => {
                        return Err(bad(
                            i,
                            format!("`{cell}` is not one of the labels {}", list_labels(&names)),
                        ))
                    }
                }
            }
            Ok(RowLabels {
                values,
                column: column.to_string(),
                names: Some(names),
            })
        }
        (None, None) => unreachable!("a column is numeric or text"),
    }
}

/// Whether the squares of an item's values enter the statistics, so that their weighted sums
/// must stay finite (the items the generated code checks too).
fn squared_in_statistics(ty: ElemType) -> bool {
    matches!(
        ty,
        ElemType::Vector(_)
            | ElemType::Real
            | ElemType::Positive
            | ElemType::Count
            | ElemType::CountVec(_)
    )
}

/// The rows' weights: the model's `weight` item, or the column `--weights` names, checked
/// (each value, their sum, one per sequence, and the weighted sums of squares of the data).
fn row_weights(
    plan: &Plan,
    table: &Table,
    items: &[Option<Item>],
    sequences: &[Range<usize>],
    opts: &BindOptions,
) -> Result<Option<RowWeights>, BindError> {
    let (values, column, item) =
        if let Some(w) = plan.row_weights {
            let item = items[w].as_ref().expect("data bound");
            (
                item.values.column(0).to_owned(),
                item.columns[0].clone(),
                plan.model.vars[w].name.clone(),
            )
        } else if let Some(c) = &opts.weights {
            let i = table.headers.iter().position(|h| h == c).ok_or_else(|| {
                BindError::MissingColumn {
                    file: table.source.clone(),
                    item: "--weights".into(),
                    column: c.clone(),
                    available: table.headers.join(", "),
                }
            })?;
            let Some(col) = &table.columns[i] else {
                return Err(BindError::TextColumn {
                    file: table.source.clone(),
                    item: "--weights".into(),
                    column: c.clone(),
                });
            };
            (
                Array1::from(col.clone()),
                c.clone(),
                "--weights".to_string(),
            )
        } else {
            return Ok(None);
        };
    let seqs = plan.latent.is_chain().then_some(sequences);
    let checked = match opts.chunk && values.iter().all(|&w| w == 0.0) {
        // A chunk whose rows all weigh zero: valid values, nothing to add.
        true => Ok(0.0),
        false => jensen_runtime::data::check_weights(&column, values.view(), seqs),
    };
    let total = checked.map_err(|e| match e {
        jensen_runtime::data::DataError::Value(bad) => BindError::BadValue {
            file: table.source.clone(),
            row: bad.row + 1,
            line: table.line(bad.row),
            column: column.clone(),
            value: bad.value,
            expected: bad.expected,
            item: item.clone(),
        },
        other => BindError::Weights {
            file: table.source.clone(),
            message: other.to_string(),
        },
    })?;
    for (v, bound) in items.iter().enumerate() {
        let Some(bound) = bound else { continue };
        if !squared_in_statistics(plan.model.vars[v].ty) {
            continue;
        }
        jensen_runtime::data::check_weighted_sums(
            &plan.model.vars[v].name,
            bound.values.view(),
            values.view(),
        )
        .map_err(|e| BindError::Weights {
            file: table.source.clone(),
            message: e.to_string(),
        })?;
    }
    Ok(Some(RowWeights {
        values,
        column,
        total,
    }))
}

/// The sequences of `table` as `opts` asks; an error if the model has no chain to split.
fn sequences(
    plan: &Plan,
    table: &Table,
    opts: &BindOptions,
) -> Result<Vec<Range<usize>>, BindError> {
    let error = |message: String| BindError::Sequences {
        file: table.source.clone(),
        message,
    };
    if !plan.latent.is_chain() && opts.sequences != Sequences::Whole {
        return Err(error(format!(
            "model `{}` has no chain-structured latent, so its rows cannot be split into sequences; remove the sequence option",
            plan.model.name
        )));
    }
    let ranges = match &opts.sequences {
        Sequences::Whole => return Ok(std::iter::once(0..table.n_rows).collect()),
        Sequences::Lengths(lengths) => sequences_from_lengths(lengths, table.n_rows),
        Sequences::Column(name) => {
            let c = table
                .headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| {
                    error(format!(
                        "no sequence-id column `{name}` (columns: {})",
                        table.headers.join(", ")
                    ))
                })?;
            match (&table.columns[c], &table.text[c]) {
                (Some(values), _) => sequences_from_ids(values),
                (None, Some(text)) => sequences_from_ids(text),
                (None, None) => unreachable!("a column is numeric or text"),
            }
        }
    };
    ranges.map_err(|e| match e {
        jensen_runtime::data::DataError::Sequences(m) => error(m),
        other => error(other.to_string()),
    })
}

/// The labels of a category item whose `chosen` columns include text: `given` (from an
/// earlier fit), or the distinct non-empty cells of its text columns, sorted. `None` when
/// every column is numeric.
fn category_labels(
    table: &Table,
    chosen: &[usize],
    given: Option<&Vec<String>>,
) -> Option<Vec<String>> {
    let texts: Vec<&Vec<String>> = chosen
        .iter()
        .filter_map(|&c| table.text[c].as_ref())
        .collect();
    if texts.is_empty() {
        return None;
    }
    if let Some(given) = given {
        return Some(given.clone());
    }
    let distinct: std::collections::BTreeSet<&str> = texts
        .iter()
        .flat_map(|cells| cells.iter().map(String::as_str))
        .filter(|cell| !cell.is_empty())
        .collect();
    Some(distinct.into_iter().map(str::to_string).collect())
}

/// `(a = 0, b = 1, …)`, shortened after a dozen labels.
fn list_labels(labels: &[String]) -> String {
    let shown: Vec<String> = labels
        .iter()
        .take(12)
        .enumerate()
        .map(|(k, l)| format!("{k} = {l}"))
        .collect();
    let more = if labels.len() > 12 { ", …" } else { "" };
    format!("({}{more})", shown.join(", "))
}

/// Indices of the numeric columns not `skipped`; `None` when there are none.
fn numeric_columns(table: &Table, skipped: impl Fn(&String) -> bool) -> Option<Vec<usize>> {
    let all: Vec<usize> = (0..table.headers.len())
        .filter(|&i| table.columns[i].is_some() && !skipped(&table.headers[i]))
        .collect();
    (!all.is_empty()).then_some(all)
}

fn check(table: &Table, name: &str, item: &Item, kind: ValueKind) -> Result<(), BindError> {
    jensen_runtime::data::check_values(name, item.values.view(), kind)
        .map_err(|bad| bad_value(table, item, bad))
}

/// The statement that reads data item `v` without modelling it (a binomial's trials, a
/// regression's covariates), and what the item holds for it.
fn read_by(plan: &Plan, v: VarId) -> Option<(&str, &'static str)> {
    plan.blocks.iter().find_map(|b| {
        let what = match b.kind {
            _ if b.kind.trials() == Some(Trials::Column(v)) => "the number of trials",
            _ if b.kind.regression().map(|r| r.2) == Some(v) => "the covariates",
            _ => return None,
        };
        Some((plan.model.factors[b.factor].text.as_str(), what))
    })
}

/// A value an item does not admit, with its file, row, line and column.
fn bad_value(table: &Table, item: &Item, bad: jensen_runtime::data::BadValue) -> BindError {
    BindError::BadValue {
        file: table.source.clone(),
        row: bad.row + 1,
        line: table.line(bad.row),
        column: item.columns[bad.column].clone(),
        value: bad.value,
        expected: bad.expected,
        item: bad.item,
    }
}

/// Fails unless every column of a real-valued item has a sum of squares that stays finite
/// with room for centring and for adding up the item's columns (each value is already at
/// most [`jensen_runtime::data::MAX_MAGNITUDE`], so this fails only for very many rows),
/// naming the column's largest value.
fn check_sums(table: &Table, name: &str, item: &Item) -> Result<(), BindError> {
    let d = item.values.ncols() as f64;
    for (j, column) in item.values.columns().into_iter().enumerate() {
        let squares: f64 = column.iter().map(|x| x * x).sum();
        if (8.0 * d * squares).is_finite() {
            continue;
        }
        let (i, &value) = column
            .indexed_iter()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .expect("rows");
        return Err(BindError::BadValue {
            file: table.source.clone(),
            row: i + 1,
            line: table.line(i),
            column: item.columns[j].clone(),
            value,
            expected: format!(
                "a number whose column's sum of squares over the {} rows stays finite — it is the largest of its column, whose squares add up beyond the largest number; rescale the column (e.g. change its units)",
                item.values.nrows()
            ),
            item: name.to_string(),
        });
    }
    Ok(())
}

/// Fails when a fit with `sizes` would need more memory than the bound, or when a category
/// code far above the rows alone needs a lot of it, naming what drives the size.
fn check_memory(
    plan: &Plan,
    table: &Table,
    sizes: &[usize],
    sources: &[(SizeSource, Vec<usize>)],
    n_sequences: usize,
    opts: &BindOptions,
) -> Result<(), BindError> {
    let n_rows = table.n_rows;
    let program = jensen_lang::Program::lower(plan);
    let sizes: Vec<f64> = sizes.iter().map(|&s| s as f64).collect();
    let (n, seqs) = (n_rows as f64, n_sequences as f64);
    let need = memory::estimate(plan, &program, &sizes, n, seqs);
    let (limit, limit_from) = match opts.memory_limit {
        Some(limit) => (limit, "the given bound".to_string()),
        None => {
            let (limit, from) = memory::machine_limit();
            (limit, from.to_string())
        }
    };
    if need.bytes > limit as f64 {
        let driver = memory::driver(plan, &program, &sizes, n, seqs, sources).map_or_else(
            || SizeSource::Rows {
                file: table.source.clone(),
                rows: n_rows,
            },
            Clone::clone,
        );
        return Err(BindError::Memory {
            driver: Box::new(driver),
            needed: need.bytes,
            limit,
            limit_from,
            largest: need.describe_largest(),
        });
    }
    if opts.memory_limit.is_none() {
        // A code above the rows: categories that mostly cannot occur, refused when costly.
        for (source, sets) in sources {
            if !matches!(source, SizeSource::Cell { .. }) || sets.iter().all(|&s| sizes[s] <= n) {
                continue;
            }
            let drop = memory::driven_by(plan, &program, &sizes, n, seqs, sets);
            if drop > memory::SUSPICIOUS_BYTES {
                return Err(BindError::SuspiciousCategories {
                    driver: Box::new(source.clone()),
                    rows: n_rows,
                    needed: drop,
                    largest: need.describe_largest(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Normal and a category, with `C` from the data or (`fixed`) a constant of 2.
    fn plan(fixed: bool) -> Plan {
        let (decl, set) = if fixed {
            ("const C: int = 2\n", "0..C")
        } else {
            ("", "0..C")
        };
        let source = format!(
            "model m\nconst K: int = 2\n{decl}data x[N]: real\ndata c[N]: {set}\nparam w: simplex[K]\n\
             param mu[K]: real\nparam v[K]: positive\nparam q[K]: simplex[C]\nlatent z[N]: 0..K\n\
             z[n] ~ Categorical(w)\nx[n] ~ Normal(mu[z[n]], v[z[n]])\nc[n] ~ Categorical(q[z[n]])\n"
        );
        jensen_lang::compile(&source)
            .unwrap_or_else(|d| panic!("{d:?}"))
            .0
    }

    fn table(labels: &[&str]) -> Table {
        Table {
            source: "t.csv".into(),
            headers: vec!["x".into(), "c".into(), "k".into()],
            columns: vec![
                Some((0..labels.len()).map(|i| i as f64).collect()),
                None,
                Some(vec![3.0; labels.len()]),
            ],
            missing: Vec::new(),
            text: vec![
                None,
                Some(labels.iter().map(|l| l.to_string()).collect()),
                None,
            ],
            n_rows: labels.len(),
            lines: Vec::new(),
        }
    }

    fn codes(bound: &Bound, plan: &Plan) -> Vec<f64> {
        let c = plan.model.vars.iter().position(|v| v.name == "c").unwrap();
        bound.item(c).values.column(0).to_vec()
    }

    #[test]
    fn a_text_category_gets_sorted_codes() {
        let plan = plan(false);
        let t = table(&["tue", "mon", "wed", "mon"]);
        let bound = bind(&plan, &t, &BindOptions::default()).unwrap();
        assert_eq!(codes(&bound, &plan), [1.0, 0.0, 2.0, 0.0]);
        let c = plan.model.vars.iter().position(|v| v.name == "c").unwrap();
        assert_eq!(
            bound.item(c).labels.as_deref().unwrap(),
            ["mon", "tue", "wed"]
        );
        // C comes from the labels.
        let set = plan.model.sets.iter().position(|s| s.name == "C").unwrap();
        assert_eq!(bound.sizes[set], 3);
    }

    #[test]
    fn given_labels_fix_the_codes_and_the_number_of_categories() {
        let plan = plan(false);
        let opts = BindOptions {
            categories: [("c".to_string(), vec!["a".into(), "b".into(), "z".into()])].into(),
            ..Default::default()
        };
        let bound = bind(&plan, &table(&["z", "a", "z"]), &opts).unwrap();
        assert_eq!(codes(&bound, &plan), [2.0, 0.0, 2.0]);
        let set = plan.model.sets.iter().position(|s| s.name == "C").unwrap();
        assert_eq!(bound.sizes[set], 3, "b is a category though absent here");

        let err = bind(&plan, &table(&["a", "q"]), &opts).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, BindError::BadLabel { row: 2, line: 3, column, .. } if column == "c"),
            "{err:?}"
        );
        assert!(
            msg.contains("`q` is not one of the categories (0 = a, 1 = b, 2 = z)"),
            "{msg}"
        );
    }

    #[test]
    fn an_empty_label_is_a_missing_value() {
        let p = plan(false);
        let bound = bind(&p, &table(&["a", "", "b"]), &BindOptions::default()).unwrap();
        let item = bound.item(p.model.var("c").expect("the category item"));
        assert_eq!(item.gaps.cells(), 1);
        assert_eq!(item.gaps.first_row(), Some(1));
        // The placeholder is a category the item admits (the most frequent; the first on a tie).
        assert_eq!(item.values.column(0).to_vec(), vec![0.0, 0.0, 1.0]);
    }

    #[test]
    fn more_labels_than_a_constant_allows_are_named() {
        let err = bind(
            &plan(true),
            &table(&["a", "b", "c"]),
            &BindOptions::default(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, BindError::BadLabel { row: 3, .. }),
            "{err:?}"
        );
        assert!(
            msg.contains("`c` is category 2 of the 3 labels") && msg.contains("`C` = 2"),
            "{msg}"
        );
        // Within the constant: fine.
        bind(&plan(true), &table(&["b", "a"]), &BindOptions::default()).unwrap();
    }

    #[test]
    fn a_text_column_for_a_real_item_is_still_refused() {
        let plan = plan(false);
        let opts = BindOptions {
            columns: [("x".to_string(), vec!["c".to_string()])].into(),
            ..Default::default()
        };
        let err = bind(&plan, &table(&["a", "b"]), &opts).unwrap_err();
        assert!(matches!(err, BindError::TextColumn { .. }), "{err:?}");
    }

    #[test]
    fn constant_columns_are_found() {
        let item = Item {
            columns: vec!["a".into(), "b".into(), "c".into()],
            values: ndarray::array![[1.0, 2.0, 0.5], [1.0, 3.0, 0.5]],
            labels: None,
            gaps: Gaps::default(),
        };
        assert_eq!(item.constant_columns(), [("a", 1.0), ("c", 0.5)]);
    }
}
