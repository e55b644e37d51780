//! What a worker needs to run one E-step over its rows (a [`Job`]), and the statistics it
//! sends back ([`encode`], [`decode`]): the aggregate's state ([`Partial`]), as bytes.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::{DataFusionError, Result};
use jensen::bind::{bind, Table};
use jensen::exec::{DataContext, ExecStats, PlanModel};
use jensen::lang::ir::{Fixed, Method};
use jensen::{BindOptions, DynParams, Plan};
use jensen_runtime::init::Scaling;
use jensen_runtime::mixture::LatentStats;
use jensen_runtime::{MixtureModel, PassStats};
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

/// One pass's work, as the driver sends it: the model file, how the rows bind to it, what
/// the model of some rows must know of all of them, and the parameters. A field this
/// version does not know is an error, not ignored: a worker of another version must not run
/// another pass than the one asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// The model file's text.
    pub model: String,
    /// How it is fitted: `em` or `vb` (the file's, or the one the driver chose).
    pub method: String,
    /// The parameters fixed at fit time ([`jensen::lang::ir::Fixed::Given`]).
    pub given: Vec<String>,
    /// How a table binds to the model (the categories found over all rows among them).
    pub options: BindOptions,
    /// The whole data's context.
    pub context: DataContext,
    /// The parameters of this pass's E-step.
    pub params: DynParams,
    /// The aggregate's arguments, in order: the columns' names and whether each is read as
    /// text.
    pub columns: Vec<(String, bool)>,
    /// The shape of each slot of the statistics, and the number of components: what every
    /// partition's statistics must have to be added.
    pub layout: (Vec<Vec<usize>>, usize),
    /// The start's pass instead of an E-step: each row a member of its nearest centre's
    /// component ([`jensen_runtime::start_stats`]) under the neutral parameters
    /// [`Job::params`].
    #[serde(default)]
    pub start: Option<Start>,
}

/// The seeding's result that the start's pass assigns every row by ([`Job::start`]): the
/// scaling of the seeding features and the centres, row by row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Start {
    /// The features' means.
    pub mean: Vec<f64>,
    /// The features' scales.
    pub scale: Vec<f64>,
    /// The centres, one row of the scaled features each.
    pub centres: Vec<Vec<f64>>,
}

impl Start {
    /// The start of `scaling` and `centres`.
    pub fn new(scaling: &Scaling, centres: &Array2<f64>) -> Start {
        Start {
            mean: scaling.mean.to_vec(),
            scale: scaling.scale.to_vec(),
            centres: centres.rows().into_iter().map(|r| r.to_vec()).collect(),
        }
    }

    /// The scaling and the centres, checked.
    fn parts(&self) -> Result<(Scaling, Array2<f64>)> {
        let d = self.mean.len();
        if self.scale.len() != d || self.centres.iter().any(|c| c.len() != d) {
            return Err(failed(
                "the start's centres do not have the features' width",
            ));
        }
        let cells: Vec<f64> = self.centres.iter().flatten().copied().collect();
        let centres = Array2::from_shape_vec((self.centres.len(), d), cells)
            .map_err(|e| failed(e.to_string()))?;
        Ok((
            Scaling {
                mean: Array1::from(self.mean.clone()),
                scale: Array1::from(self.scale.clone()),
            },
            centres,
        ))
    }
}

/// A [`Job`] compiled once per worker: the plan, and the parsed parts.
#[derive(Debug)]
pub struct Compiled {
    /// A chain's column of sequence ids (its record batches are cut into whole sequences).
    pub(crate) sequences: Option<String>,
    /// The start's pass: the seeding's scaling and centres.
    pub(crate) start: Option<(Scaling, Array2<f64>)>,
    pub(crate) plan: Plan,
    pub(crate) options: BindOptions,
    pub(crate) context: Arc<DataContext>,
    pub(crate) params: DynParams,
    pub(crate) columns: Vec<(String, bool)>,
    pub(crate) layout: (Vec<Vec<usize>>, usize),
}

/// An error of the aggregate, naming jensen.
pub(crate) fn failed(what: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("jensen E-step: {what}"))
}

impl Job {
    /// The job of an E-step of `head`'s plan (compiled from the text `model`) under
    /// `params`, over tables of `columns` bound with `options`; with `start`, the start's
    /// pass under the neutral parameters `params` instead.
    pub fn new(
        model: &str,
        head: &PlanModel<'_>,
        options: &BindOptions,
        params: &DynParams,
        columns: Vec<(String, bool)>,
        start: Option<Start>,
    ) -> Job {
        let plan = head.plan();
        Job {
            model: model.to_string(),
            method: plan.model.method.name().to_string(),
            given: (plan.model.vars.iter())
                .filter(|v| v.fixed == Some(Fixed::Given))
                .map(|v| v.name.clone())
                .collect(),
            options: options.clone(),
            context: head.context().as_ref().clone(),
            params: params.clone(),
            columns,
            layout: (head.zero_stats().shapes(), head.n_components()),
            start,
        }
    }

    /// The job as bytes (JSON: every `f64` exact).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a job serialises")
    }

    /// Compiles the job in `bytes`.
    pub fn compile(bytes: &[u8]) -> Result<Compiled> {
        let job: Job = serde_json::from_slice(bytes)
            .map_err(|e| failed(format!("not a job from this version of jensen ({e})")))?;
        let method = match job.method.as_str() {
            "em" => Method::Em,
            "vb" => Method::Vb,
            m => return Err(failed(format!("unknown method `{m}`"))),
        };
        let (mut plan, _) = jensen::lang::compile_for(&job.model, Some(method)).map_err(|e| {
            failed(format!(
                "the model does not compile here: {}",
                jensen::Error::Model(e)
            ))
        })?;
        for name in &job.given {
            let var = (plan.model.vars.iter_mut())
                .find(|v| &v.name == name)
                .ok_or_else(|| failed(format!("the model has no parameter `{name}`")))?;
            var.fixed = Some(Fixed::Given);
        }
        let sequences = match (&job.options.sequences, plan.latent.is_chain()) {
            (_, false) => None,
            (jensen::bind::Sequences::Column(c), true) => Some(c.clone()),
            (_, true) => {
                return Err(failed(
                    "a chain's sequences must be named by a column of sequence ids",
                ))
            }
        };
        let start = job.start.as_ref().map(Start::parts).transpose()?;
        Ok(Compiled {
            sequences,
            start,
            plan,
            options: job.options,
            context: Arc::new(job.context),
            params: job.params,
            columns: job.columns,
            layout: job.layout,
        })
    }
}

impl Compiled {
    /// The table of one batch of the aggregate's arguments.
    pub(crate) fn table(&self, values: &[ArrayRef]) -> Result<Table> {
        if values.len() != self.columns.len() {
            return Err(failed(format!(
                "{} columns given, the job names {}",
                values.len(),
                self.columns.len()
            )));
        }
        let fields: Vec<Field> = (self.columns.iter().zip(values))
            .map(|((name, _), v)| Field::new(name, v.data_type().clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), values.to_vec())?;
        jensen::parquet::table_of_batches("a partition", &schema, [Ok(batch)]).map_err(failed)
    }

    /// The statistics of no rows.
    pub(crate) fn empty(&self) -> Partial {
        let (shapes, k) = &self.layout;
        let zeros = shapes.iter().map(|s| ArrayD::zeros(IxDyn(s))).collect();
        Partial {
            pass: PassStats {
                stats: ExecStats::from_slots(zeros, shapes).expect("the layout's shapes"),
                latent: LatentStats::zeros(*k),
                loglik: 0.0,
                worst: f64::INFINITY,
            },
            sequences: 0,
            sequence_check: 0,
        }
    }

    /// Adds `part` to `total`, both checked against the layout.
    pub(crate) fn merge(&self, total: &mut Option<Partial>, part: Partial) -> Result<()> {
        check(&part.pass, &self.layout)?;
        match total {
            None => *total = Some(part),
            Some(t) => {
                t.pass.merge_with(&part.pass, ExecStats::add);
                t.sequences += part.sequences;
                t.sequence_check = t.sequence_check.wrapping_add(part.sequence_check);
            }
        }
        Ok(())
    }

    /// The model of `table`'s rows, with the whole data's context.
    pub(crate) fn model(&self, table: &Table) -> Result<PlanModel<'_>> {
        let bound = bind(&self.plan, table, &self.options).map_err(failed)?;
        Ok(PlanModel::of_chunk(&self.plan, bound, self.context.clone()))
    }
}

/// Whether `s` has the shapes of `layout`.
fn check(s: &PassStats<ExecStats>, layout: &(Vec<Vec<usize>>, usize)) -> Result<()> {
    let k = layout.1;
    let fits = s.stats.shapes() == layout.0
        && s.latent.counts.len() == k
        && s.latent.initial.len() == k
        && s.latent.transitions.dim() == (k, k);
    if fits {
        Ok(())
    } else {
        Err(failed(
            "a partition's statistics have another shape than the first pass found (did the data change?)",
        ))
    }
}

/// What a partition sends: its E-step's statistics and, for a chain, the number of sequences
/// and their [`jensen::bind::Bound::sequence_check`], which the driver compares with the
/// rows it read (a sequence split between partitions, or read out of order, changes them).
#[derive(Debug, Clone)]
pub struct Partial {
    /// The statistics.
    pub pass: PassStats<ExecStats>,
    /// A chain's sequences (0 for a mixture).
    pub sequences: u64,
    /// Their order check (0 for a mixture), added with wrap-around.
    pub sequence_check: u64,
}

/// The statistics' format, changed with every change to them or to the job (so that a
/// worker of an earlier version, which would ignore a job's new field, is refused).
const MAGIC: &[u8; 4] = b"JNS4";

/// The statistics as bytes: the slots (each its shape, then its values), the latent
/// statistics, `ln p(x)`, the worst row's `ln p(x_n)`, the number of
/// sequences and their order check, little-endian.
pub fn encode(partial: &Partial) -> Vec<u8> {
    let s = &partial.pass;
    let mut out = MAGIC.to_vec();
    let u64s = |out: &mut Vec<u8>, v: u64| out.extend_from_slice(&v.to_le_bytes());
    let f64s = |out: &mut Vec<u8>, v: f64| out.extend_from_slice(&v.to_le_bytes());
    let slots = s.stats.slots();
    u64s(&mut out, slots.len() as u64);
    for slot in slots {
        u64s(&mut out, slot.ndim() as u64);
        for &d in slot.shape() {
            u64s(&mut out, d as u64);
        }
        for &v in slot.iter() {
            f64s(&mut out, v);
        }
    }
    let k = s.latent.counts.len();
    u64s(&mut out, k as u64);
    for v in (s.latent.counts.iter())
        .chain(s.latent.initial.iter())
        .chain(s.latent.transitions.iter())
    {
        f64s(&mut out, *v);
    }
    for v in [s.loglik, s.worst] {
        f64s(&mut out, v);
    }
    u64s(&mut out, partial.sequences);
    u64s(&mut out, partial.sequence_check);
    out
}

/// Reads little-endian words off a byte slice.
struct Words<'b>(&'b [u8]);

impl Words<'_> {
    fn u64(&mut self) -> Result<u64> {
        if self.0.len() < 8 {
            return Err(failed("the statistics end early"));
        }
        let (head, rest) = self.0.split_at(8);
        self.0 = rest;
        Ok(u64::from_le_bytes(head.try_into().expect("8 bytes")))
    }

    fn f64(&mut self) -> Result<f64> {
        self.u64().map(f64::from_bits)
    }

    fn f64s(&mut self, n: usize) -> Result<Vec<f64>> {
        if self.0.len() / 8 < n {
            return Err(failed("the statistics end early"));
        }
        (0..n).map(|_| self.f64()).collect()
    }

    /// A count no larger than what the remaining bytes could hold.
    fn len(&mut self) -> Result<usize> {
        let n = self.u64()?;
        if n > (self.0.len() / 8) as u64 + 1 {
            return Err(failed(
                "the statistics are damaged (a length past their end)",
            ));
        }
        Ok(n as usize)
    }
}

/// The statistics [`encode`] wrote, checked against the layout of `job` ([`Job::layout`]).
pub fn decode(bytes: &[u8], layout: &(Vec<Vec<usize>>, usize)) -> Result<Partial> {
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return Err(failed("not statistics from this version of jensen"));
    };
    let mut w = Words(rest);
    let n_slots = w.len()?;
    let mut slots = Vec::with_capacity(n_slots);
    for _ in 0..n_slots {
        let ndim = w.len()?;
        let shape: Vec<usize> = (0..ndim).map(|_| w.len()).collect::<Result<_>>()?;
        let cells = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| failed("the statistics are damaged (a shape too large)"))?;
        let values = w.f64s(cells)?;
        slots.push(
            ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| failed(e.to_string()))?,
        );
    }
    let stats = ExecStats::from_slots(slots, &layout.0)
        .ok_or_else(|| failed("the statistics do not fit this model's layout"))?;
    let k = w.len()?;
    if k != layout.1 {
        return Err(failed("the statistics are of another number of components"));
    }
    let counts = Array1::from(w.f64s(k)?);
    let initial = Array1::from(w.f64s(k)?);
    let transitions =
        Array2::from_shape_vec((k, k), w.f64s(k * k)?).map_err(|e| failed(e.to_string()))?;
    let (loglik, worst) = (w.f64()?, w.f64()?);
    let (sequences, sequence_check) = (w.u64()?, w.u64()?);
    if !w.0.is_empty() {
        return Err(failed("the statistics have bytes past their end"));
    }
    Ok(Partial {
        pass: PassStats {
            stats,
            latent: LatentStats {
                counts,
                initial,
                transitions,
            },
            loglik,
            worst,
        },
        sequences,
        sequence_check,
    })
}
