//! `jensen sample`: data drawn from a saved fit, as CSV with the fit's column names (ready to
//! be fitted again).

use std::io::Write;
use std::process::ExitCode;

use rand::SeedableRng;

use crate::failure::{self, csv_error, Failure};
use crate::input::{number_cell, DataArgs};
use crate::predict::SavedFit;

#[derive(Debug, clap::Args)]
pub(crate) struct SampleArgs {
    /// A fit written by `jensen fit --out`.
    fit: String,
    /// Rows to draw (for a chain: per sequence).
    #[arg(short = 'n', long = "rows", value_parser = crate::input::at_least_one)]
    rows: Option<usize>,
    /// Chains: independent sequences of `-n` rows each (a `sequence` column numbers them
    /// when there are several).
    #[arg(long, default_value_t = 1, value_parser = crate::input::at_least_one, conflicts_with = "data")]
    sequences: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Read the model from this file instead of the text stored in the fit.
    #[arg(long, value_name = "FILE")]
    model: Option<String>,
    /// Data whose rows the draws follow, for a model that conditions on some of its items (a
    /// regression's covariates, a binomial's trial counts, a multinomial's row totals): one
    /// draw per row (its sequences too), the conditioning columns copied through. Bound as
    /// the fit's data was.
    #[arg(long, conflicts_with = "rows")]
    data: Option<String>,
    /// Columns for a data item of `--data`, e.g. `--bind u=depth` (repeatable).
    #[arg(long = "bind", value_name = "ITEM=COL,COL", requires = "data")]
    bind: Vec<String>,
    /// Chains: the sequence-id column of `--data`.
    #[arg(
        long,
        value_name = "COLUMN",
        requires = "data",
        conflicts_with = "lengths"
    )]
    sequence: Option<String>,
    /// Chains: lengths of the consecutive sequences of `--data`.
    #[arg(long, value_name = "N,N,...", requires = "data")]
    lengths: Option<String>,
    /// Also write the drawn latent values: the component (or state) under the latent's
    /// name, and a continuous latent's coordinates. A refit must leave them out
    /// (`--exclude z`).
    #[arg(long)]
    latent: bool,
    /// Write the CSV here instead of standard output.
    #[arg(long)]
    out: Option<String>,
}

/// A cell: whole numbers without a fraction (counts, codes), else the shortest round trip.
fn cell(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        number_cell(v)
    }
}

/// A category's label where the item has labels, else the value as a cell.
fn labelled(v: f64, labels: Option<&Vec<String>>) -> String {
    match labels {
        Some(l) if v >= 0.0 && (v as usize) < l.len() => l[v as usize].clone(),
        _ => cell(v),
    }
}

/// Rows drawn at a time for a mixture (whose rows are independent), so that a large `-n`
/// streams to the output.
const CHUNK: usize = 65_536;

/// The most cells one sequence of a chain may hold in memory (2 GiB of values).
const MAX_SEQUENCE_CELLS: usize = 1 << 28;

pub(crate) fn sample(args: SampleArgs) -> Result<ExitCode, Failure> {
    let fit = SavedFit::read(&args.fit, args.model.as_deref())?;
    let plan = &fit.plan;
    let chain = plan.latent.is_chain();
    if args.sequences > 1 && !chain {
        return Err(failure::options(format!(
            "--sequences {}: `{}` has no chain, its rows are independent; draw -n {} rows",
            args.sequences,
            fit.doc.model,
            args.rows.unwrap_or(1).saturating_mul(args.sequences)
        )));
    }
    let data_args = args.data.as_ref().map(|data| DataArgs {
        data: data.clone(),
        set: Vec::new(),
        bind: args.bind.clone(),
        exclude: Vec::new(),
        sequence: args.sequence.clone(),
        lengths: args.lengths.clone(),
        weights: None,
        labels: None,
        delimiter: None,
        max_memory: None,
    });
    let given = data_args.as_ref().map(|d| fit.bind(d)).transpose()?;
    // The parameters, checked against the model (at the data's sizes, or the fit's).
    let params = match &given {
        Some(g) => fit.params(&jensen::PlanModel::new(plan, &g.bound))?,
        None => fit.params_alone()?,
    };
    // Draws, by the rows' independent groups: chunks of a mixture's rows, a chain's
    // sequences, or all the given data's rows at once.
    let groups: Vec<usize> = match (&given, args.rows) {
        (Some(_), Some(_)) => {
            return Err(failure::options(
                "-n with --data: the draws follow the data's rows; give one or the other",
            ))
        }
        (Some(g), None) => vec![g.bound.n_rows],
        (None, Some(n)) if chain => {
            let width = 2 + fit
                .doc
                .binding
                .iter()
                .map(|b| b.columns.len())
                .sum::<usize>();
            if n.saturating_mul(width) > MAX_SEQUENCE_CELLS {
                return Err(failure::options(format!(
                    "-n {n}: a sequence of {n} rows × {width} columns is drawn in memory, more than {MAX_SEQUENCE_CELLS} cells; draw more, shorter sequences (--sequences)"
                )));
            }
            vec![n; args.sequences]
        }
        (None, Some(n)) => {
            let mut chunks = vec![CHUNK; n / CHUNK];
            if n % CHUNK > 0 {
                chunks.push(n % CHUNK);
            }
            chunks
        }
        (None, None) => return Err(failure::options("give -n ROWS or --data FILE")),
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let draw = |lengths: &[usize], rng: &mut rand_chacha::ChaCha8Rng| {
        jensen::sample::sample(
            plan,
            &params,
            lengths,
            given.as_ref().map(|g| &g.bound),
            rng,
        )
        .map_err(|e| match e {
            jensen::sample::SampleError::NeedsData { .. }
            | jensen::sample::SampleError::Lengths(_) => failure::options(e),
            jensen::sample::SampleError::Param { .. } => {
                failure::model(format!("{}: {e}", fit.model_path))
            }
            _ => failure::options(format!("{}: {e}", args.fit)),
        })
    };
    // The given data's own sequences.
    let given_lengths: Option<Vec<usize>> = given
        .as_ref()
        .map(|g| g.bound.sequences.iter().map(|s| s.len()).collect());
    let first_lengths = given_lengths.clone().unwrap_or_else(|| vec![groups[0]]);
    let first = draw(&first_lengths, &mut rng)?;
    let sequences = given_lengths.as_ref().map_or(groups.len(), Vec::len);
    // Columns: the sequence (a chain drawn in several), the latent on request, then each
    // item under the fit's column names; items given rather than drawn are copied through,
    // and a weight or label column the model reads is written (weights 1, labels empty) so
    // that the draws refit with the same model.
    let binding = &fit.doc.binding;
    let taken: Vec<&String> = binding.iter().flat_map(|b| &b.columns).collect();
    let unique = |name: String| {
        if taken.contains(&&name) {
            format!("latent_{name}")
        } else {
            name
        }
    };
    let sequence_column = (chain && sequences > 1).then(|| unique("sequence".into()));
    let latent = plan
        .latent
        .var_components()
        .filter(|_| args.latent)
        .map(|(v, _)| unique(plan.name(v).to_string()));
    let mut header: Vec<String> = Vec::new();
    header.extend(sequence_column.clone());
    header.extend(latent.clone());
    let factors = first
        .factors
        .as_ref()
        .filter(|_| args.latent)
        .map(|h| h.ncols());
    if let (Some(c), Some(l)) = (plan.continuous, factors) {
        let name = plan.name(c.var);
        header.extend((0..l).map(|j| unique(format!("{name}{j}"))));
    }
    // Each drawn item's columns and category labels.
    let mut drawn: Vec<(Vec<String>, Option<&Vec<String>>)> = Vec::new();
    for (name, values) in &first.items {
        let b = binding.iter().find(|b| b.item == *name);
        let columns = match b {
            Some(b) if b.columns.len() == values.ncols() => b.columns.clone(),
            _ if values.ncols() == 1 => vec![name.clone()],
            _ => (0..values.ncols()).map(|c| format!("{name}{c}")).collect(),
        };
        drawn.push((columns, b.and_then(|b| b.labels.as_ref())));
    }
    for (columns, _) in &drawn {
        header.extend(columns.iter().cloned());
    }
    // Items given, not drawn: copied through.
    let copied: Vec<&jensen::bind::Item> = given
        .iter()
        .flat_map(|g| g.bound.items.iter().enumerate())
        .filter(|(v, item)| item.is_some() && !first.items.iter().any(|(n, _)| n == plan.name(*v)))
        .filter_map(|(_, item)| item.as_ref())
        .collect();
    for item in &copied {
        header.extend(item.columns.iter().cloned());
    }
    // A weight item or column, and a label column, when not copied from the data.
    let mut ones: Vec<String> = Vec::new();
    let mut empty: Vec<String> = Vec::new();
    if given.is_none() {
        if let Some(w) = plan.row_weights {
            let b = binding.iter().find(|b| b.item == plan.name(w));
            ones.extend(b.map_or_else(|| vec![plan.name(w).to_string()], |b| b.columns.clone()));
        }
        if let Some(w) = &fit.doc.weights {
            if !ones.contains(&w.column) {
                ones.push(w.column.clone());
            }
        }
        if let Some(l) = &fit.doc.labels {
            empty.push(l.column.clone());
        }
    }
    header.extend(ones.iter().cloned());
    header.extend(empty.iter().cloned());
    let (mut w, dest) = failure::csv_output(args.out.as_deref())?;
    let dest = dest.as_str();
    w.write_record(&header).map_err(|e| csv_error(e, dest))?;
    let mut rec: Vec<String> = Vec::with_capacity(header.len());
    let mut write = |draws: &jensen::sample::Draws,
                     sequence: usize,
                     w: &mut csv::Writer<Box<dyn Write>>|
     -> Result<(), Failure> {
        for (s, seq) in draws.sequences.iter().enumerate() {
            for i in seq.clone() {
                rec.clear();
                if sequence_column.is_some() {
                    rec.push((sequence + s).to_string());
                }
                if latent.is_some() {
                    rec.push(draws.states[i].to_string());
                }
                if let (Some(h), Some(_)) = (&draws.factors, factors) {
                    rec.extend(h.row(i).iter().map(|&v| number_cell(v)));
                }
                for ((_, values), (_, labels)) in draws.items.iter().zip(&drawn) {
                    rec.extend(values.row(i).iter().map(|&v| labelled(v, *labels)));
                }
                for item in &copied {
                    rec.extend(
                        item.values
                            .row(i)
                            .iter()
                            .map(|&v| labelled(v, item.labels.as_ref())),
                    );
                }
                rec.extend(ones.iter().map(|_| "1".to_string()));
                rec.extend(empty.iter().map(|_| String::new()));
                w.write_record(&rec).map_err(|e| csv_error(e, dest))?;
            }
        }
        Ok(())
    };
    write(&first, 0, &mut w)?;
    drop(first);
    for (g, &len) in groups.iter().enumerate().skip(1) {
        let draws = draw(&[len], &mut rng)?;
        write(&draws, if chain { g } else { 0 }, &mut w)?;
    }
    w.flush()
        .map_err(|e| csv_error(csv::Error::from(e), dest))?;
    if let Some(c) = &sequence_column {
        eprintln!(
            "{sequences} sequences in column `{c}`: refit with `--sequence {c}`, e.g. `jensen fit {} --data FILE --sequence {c}`",
            fit.model_path
        );
    }
    Ok(ExitCode::SUCCESS)
}
