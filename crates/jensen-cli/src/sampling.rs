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
    /// Chains: independent sequences of `-n` rows each (a `sequence` column numbers them).
    #[arg(long, default_value_t = 1, value_parser = crate::input::at_least_one)]
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

pub(crate) fn sample(args: SampleArgs) -> Result<ExitCode, Failure> {
    let fit = SavedFit::read(&args.fit, args.model.as_deref())?;
    let plan = &fit.plan;
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
    let lengths: Vec<usize> = match (&given, args.rows) {
        (Some(_), Some(_)) => {
            return Err(failure::options(
                "-n with --data: the draws follow the data's rows; give one or the other",
            ))
        }
        (Some(g), None) => g.bound.sequences.iter().map(|s| s.len()).collect(),
        (None, Some(n)) => {
            if n.checked_mul(args.sequences)
                .is_none_or(|t| t > 100_000_000)
            {
                return Err(failure::options(format!(
                    "-n {n} × --sequences {}: at most 100,000,000 rows at a time",
                    args.sequences
                )));
            }
            vec![n; args.sequences]
        }
        (None, None) => return Err(failure::options("give -n ROWS or --data FILE")),
    };
    if let Some(g) = &given {
        let model = jensen::PlanModel::new(plan, &g.bound);
        fit.params(&model)?;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let draws = jensen::sample::sample(
        plan,
        &fit.doc.params,
        &lengths,
        given.as_ref().map(|g| &g.bound),
        &mut rng,
    )
    .map_err(|e| match e {
        jensen::sample::SampleError::NeedsData { .. } | jensen::sample::SampleError::Lengths(_) => {
            failure::options(e)
        }
        _ => failure::options(format!("{}: {e}", args.fit)),
    })?;
    // Columns: the sequence (chains), the latent, the continuous latent, then each item
    // under the fit's column names; items given rather than drawn are copied through.
    let binding = &fit.doc.binding;
    let taken: Vec<&String> = binding.iter().flat_map(|b| &b.columns).collect();
    let unique = |name: String| {
        if taken.contains(&&name) {
            format!("latent_{name}")
        } else {
            name
        }
    };
    let chain = plan.latent.is_chain();
    let mut header: Vec<String> = Vec::new();
    if chain {
        header.push(unique("sequence".into()));
    }
    let latent = plan
        .latent
        .var_components()
        .filter(|_| args.latent)
        .map(|(v, _)| unique(plan.name(v).to_string()));
    header.extend(latent.clone());
    let factors = draws.factors.as_ref().filter(|_| args.latent);
    if let (Some(c), Some(h)) = (plan.continuous, factors) {
        let name = plan.name(c.var);
        header.extend((0..h.ncols()).map(|j| unique(format!("{name}{j}"))));
    }
    // Each output item: its columns' names, values and category labels.
    type Out<'a> = (
        Vec<String>,
        &'a ndarray::Array2<f64>,
        Option<&'a Vec<String>>,
    );
    let mut items: Vec<Out<'_>> = Vec::new();
    for (name, values) in &draws.items {
        let b = binding.iter().find(|b| b.item == *name);
        let columns = match b {
            Some(b) if b.columns.len() == values.ncols() => b.columns.clone(),
            _ if values.ncols() == 1 => vec![name.clone()],
            _ => (0..values.ncols()).map(|c| format!("{name}{c}")).collect(),
        };
        items.push((columns, values, b.and_then(|b| b.labels.as_ref())));
    }
    if let Some(g) = &given {
        for (v, item) in g.bound.items.iter().enumerate() {
            let Some(item) = item else { continue };
            let name = plan.name(v);
            if draws.items.iter().any(|(n, _)| n == name) {
                continue;
            }
            items.push((item.columns.clone(), &item.values, item.labels.as_ref()));
        }
    }
    for (columns, _, _) in &items {
        header.extend(columns.iter().cloned());
    }
    let dest = args.out.as_deref().unwrap_or("standard output");
    let mut w: csv::Writer<Box<dyn Write>> = csv::Writer::from_writer(match &args.out {
        Some(p) => Box::new(
            std::fs::File::create(p)
                .map_err(|e| failure::other(format!("cannot write {p}: {e}")))?,
        ),
        None => Box::new(std::io::stdout()),
    });
    w.write_record(&header).map_err(|e| csv_error(e, dest))?;
    let mut rec: Vec<String> = Vec::with_capacity(header.len());
    for (s, seq) in draws.sequences.iter().enumerate() {
        for i in seq.clone() {
            rec.clear();
            if chain {
                rec.push(s.to_string());
            }
            if latent.is_some() {
                rec.push(draws.states[i].to_string());
            }
            if let Some(h) = factors {
                rec.extend(h.row(i).iter().map(|&v| number_cell(v)));
            }
            for (_, values, labels) in &items {
                for &v in values.row(i) {
                    rec.push(match labels {
                        Some(l) if v >= 0.0 && (v as usize) < l.len() => l[v as usize].clone(),
                        _ => cell(v),
                    });
                }
            }
            w.write_record(&rec).map_err(|e| csv_error(e, dest))?;
        }
    }
    w.flush()
        .map_err(|e| csv_error(csv::Error::from(e), dest))?;
    Ok(ExitCode::SUCCESS)
}
