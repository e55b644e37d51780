//! The E-step as a DataFusion aggregate function: [`EStep`].

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BinaryArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use jensen::bind::Table;
use jensen::exec::ExecCache;
use jensen::stream::WholeSequences;
use jensen_runtime::{MixtureModel, PassStats};

use crate::job::{decode, encode, failed, Compiled, Job, Partial};

/// The aggregate's name in query plans.
pub const NAME: &str = "jensen_e_step";

/// The soft E-step of one jensen model under fixed parameters, as an aggregate function of
/// the data's columns: each partition's accumulator binds its batches to the model and adds
/// their statistics ([`PassStats::of`]); its state is the statistics as bytes
/// ([`crate::job::encode`]), which the final aggregate merges; its value is every row's
/// statistics. A chain's accumulator cuts its batches where the sequence id changes
/// ([`WholeSequences`]) and runs forward–backward along each whole sequence: a partition
/// must read whole sequences in order (whole files, each a sequence or several). The function carries its [`Job`] (the model, the data's context, the
/// parameters), which [`crate::codec`] writes into a serialised plan for another process.
#[derive(Debug)]
pub struct EStep {
    bytes: Arc<[u8]>,
    job: Arc<Compiled>,
    signature: Signature,
}

impl EStep {
    /// The aggregate of `job`.
    pub fn new(job: &Job) -> Result<EStep> {
        EStep::from_bytes(job.to_bytes().into())
    }

    /// The aggregate of the job in `bytes` ([`Job::to_bytes`]).
    pub fn from_bytes(bytes: Arc<[u8]>) -> Result<EStep> {
        let job = Arc::new(Job::compile(&bytes)?);
        Ok(EStep {
            bytes,
            job,
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    }

    /// The job, as bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// As an aggregate function of DataFusion's.
    pub fn udaf(self) -> AggregateUDF {
        AggregateUDF::from(self)
    }
}

impl PartialEq for EStep {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for EStep {}

impl Hash for EStep {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl AggregateUDFImpl for EStep {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(EStepAccumulator {
            cut: self.job.sequences.as_deref().map(WholeSequences::new),
            job: self.job.clone(),
            cache: None,
            total: None,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[statistics]", args.name),
            DataType::Binary,
            true,
        ))])
    }
}

/// One partition's statistics.
#[derive(Debug)]
struct EStepAccumulator {
    job: Arc<Compiled>,
    /// The parameters' derived quantities, prepared at the first batch.
    cache: Option<ExecCache>,
    /// The statistics so far (`None`: no rows yet).
    total: Option<Partial>,
    /// A chain's rows of the last sequence read, waiting for the rest.
    cut: Option<WholeSequences>,
}

impl EStepAccumulator {
    /// The statistics so far, as bytes (of no rows when there were none), after the rows
    /// that waited for the rest of their sequence: the partition has no more.
    fn bytes(&mut self) -> Result<Vec<u8>> {
        if let Some(last) = self.cut.as_mut().and_then(WholeSequences::finish) {
            self.add(&last)?;
        }
        Ok(match &self.total {
            Some(total) => encode(total),
            None => encode(&self.job.empty()),
        })
    }

    /// Adds the rows of `table` (a chain's: whole sequences).
    fn add(&mut self, table: &Table) -> Result<()> {
        if table.n_rows == 0 {
            return Ok(());
        }
        let model = self.job.model(table)?;
        if self.cache.is_none() {
            let cache = model
                .prepare(&self.job.params)
                .map_err(|issue| failed(format!("the parameters cannot be prepared: {issue}")))?;
            self.cache = Some(cache);
        }
        let cache = self.cache.as_ref().expect("prepared");
        let pass = match &self.job.start {
            None => PassStats::of(&model, cache),
            Some((scaling, centres)) => {
                jensen_runtime::start_stats(&model, cache, scaling, centres)
            }
        };
        let part = match self.cut {
            None => Partial {
                pass,
                sequences: 0,
                sequence_check: 0,
            },
            Some(_) => Partial {
                pass,
                sequences: model.bound().sequences.len() as u64,
                sequence_check: model.bound().sequence_check(),
            },
        };
        self.job.merge(&mut self.total, part)
    }
}

impl Accumulator for EStepAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let table = self.job.table(values)?;
        let whole = match &mut self.cut {
            None => Some(table),
            Some(cut) => cut.push(table),
        };
        match whole {
            Some(table) => self.add(&table),
            None => Ok(()),
        }
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(states) = states.first() else {
            return Ok(());
        };
        let states = states
            .as_any()
            .downcast_ref::<BinaryArray>()
            .ok_or_else(|| failed("the state is not binary"))?;
        for i in 0..states.len() {
            if states.is_null(i) {
                continue;
            }
            let part = decode(states.value(i), &self.job.layout)?;
            self.job.merge(&mut self.total, part)?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.bytes()?))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(Some(self.bytes()?)))
    }

    fn size(&self) -> usize {
        let stats = self.total.as_ref().map_or(0, |t| {
            t.pass
                .stats
                .slots()
                .iter()
                .map(|s| s.len() * 8)
                .sum::<usize>()
                + t.pass.latent.transitions.len() * 8
        });
        // A chain's rows waiting for the rest of their sequence: a number per cell.
        let waiting = self.cut.as_ref().map_or(0, |c| {
            c.waiting_rows() * self.job.columns.len() * std::mem::size_of::<f64>()
        });
        std::mem::size_of_val(self) + stats + waiting
    }
}
