//! The fit document: what `jensen fit --out FIT.json` writes and `jensen decode` reads.
//!
//! It holds the model's source text (so the fit can be used from any directory), how the
//! data was bound (columns and category labels), the constants, the fitted parameters and
//! the fit's diagnostics. Floats are written with the shortest representation that reads
//! back to the same bits, and serde_json is built with `float_roundtrip`, so reading a
//! document gives back exactly the parameters that were fitted.
//!
//! From Rust, decoding new data under a saved fit:
//!
//! ```no_run
//! use jensen::{FitDocument, PlanModel};
//!
//! let doc = FitDocument::from_json(&std::fs::read_to_string("fit.json")?)?;
//! let source = doc.model_source.clone().expect("written by `jensen fit --out`");
//! let (plan, _warnings) = jensen::compile(&source).expect("the model compiled when it was fitted");
//! let table = jensen::csv::read("new.csv")?;
//! let bound = jensen::bind(&plan, &table, &doc.bind_options())?;
//! let model = PlanModel::new(&plan, &bound);
//! let params = model.check_params(&doc.params)?;
//! let (path, _) = jensen::runtime::decode(&model, &params)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bind::{BindOptions, Bound};
use crate::params::DynParams;
use jensen_lang::Plan;

/// A fit as `jensen fit --out` writes it (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitDocument {
    /// The model's name.
    pub model: String,
    /// The model file, as named when fitting.
    pub model_file: String,
    /// The text of the model file (absent in documents written before it was stored: then
    /// the model is read from `model_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_source: Option<String>,
    /// The data file.
    pub data: String,
    /// Which columns each data item read, and the labels of text categories.
    #[serde(default)]
    pub binding: Vec<ItemBinding>,
    /// Lengths of the independent sequences (one sequence of every row for a mixture).
    pub sequences: Vec<usize>,
    /// The column whose ids split the rows into sequences (`--sequence`), when one did:
    /// new data with that column is split by it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_column: Option<String>,
    /// The value of every constant of the model.
    pub constants: BTreeMap<String, usize>,
    /// Number of rows.
    pub n_rows: usize,
    /// The rows' weights, when they have them: the column and `Σ w` (the number of
    /// observations BIC counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<WeightsUsed>,
    /// The partial labels of the latent, when a column gave them: the column, how many rows
    /// were labelled, and a text column's labels in code order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelsUsed>,
    /// `ln p(x | params)`.
    pub log_likelihood: f64,
    /// `ln p(params)`, the regularising prior of the variances (`--reg-covar`).
    #[serde(default)]
    pub log_prior: f64,
    /// The E-step used: `soft` (EM) or `hard` (classification EM).
    #[serde(default = "soft")]
    pub e_step: String,
    /// A hard E-step's objective without the prior: `ln p(x, z* | params)` at the final
    /// assignments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_log_likelihood: Option<f64>,
    /// For k-means (known covariances `c I`, equal weights, hard E-step), the
    /// within-cluster sum of squares at the final assignments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inertia: Option<f64>,
    /// The objective the fit maximises right after each E-step, iterations
    /// `0..=iterations`: `ln p(x | θ) + ln p(θ)` for a soft E-step,
    /// `max_z ln p(x, z | θ) + ln p(θ)` for a hard one.
    pub elbo_trace: Vec<f64>,
    /// How the fit ended: `converged`, `not_converged`, `degenerate` (a variance at the
    /// regularisation floor: the likelihood is unbounded there) or `unsettled` (components
    /// kept being re-seeded).
    #[serde(default)]
    pub status: String,
    /// What makes the fit doubtful, one sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Number of M-steps.
    pub iterations: usize,
    /// The exact number of iterations asked for (`--iterations`), if any: then the
    /// convergence rule was not applied and `converged` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations_requested: Option<usize>,
    /// Whether the convergence rule was met.
    pub converged: bool,
    /// `-2 ℓ + p ln N`.
    pub bic: f64,
    /// `-2 ℓ + 2 p`.
    pub aic: f64,
    /// Free parameters `p`.
    pub free_parameters: usize,
    /// Seed of the initialisation.
    pub seed: u64,
    /// Index of the kept restart.
    pub restart: usize,
    /// Final log-likelihood of every restart (`null` for one that failed numerically).
    pub restart_log_likelihoods: Vec<Option<f64>>,
    /// The priors' hyperparameters computed from the data (`mean(x)`, `cov(x)`), with their
    /// values on the fitted data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_hyperparameters: Vec<crate::exec::DataHyperparameter>,
    /// The fitted parameters, by name (read back in name order; a model's
    /// `check_params` restores declaration order).
    pub params: DynParams,
    /// Most probable component of every row.
    pub assignments: Vec<usize>,
    /// For a chain: the jointly most probable path.
    #[serde(default)]
    pub viterbi: Option<Viterbi>,
    /// Components re-seeded during the kept run.
    #[serde(default)]
    pub reseeds: Vec<Reseed>,
    /// How the parameters were inferred: `em` (point estimates) or `vb` (variational Bayes:
    /// `params` holds each posterior's mean-like value and strength).
    #[serde(default = "em")]
    pub method: String,
    /// Variational Bayes: the posterior mean of every parameter with a posterior (a
    /// covariance's `E[Σ]`, a variance's `E[v]`, where they exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posterior_means: Option<Vec<crate::exec::PosteriorMean>>,
    /// Wall-clock time of the kept run.
    pub timing: Timing,
}

/// The partial labels a fit clamped ([`FitDocument::labels`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsUsed {
    /// The column of labels.
    pub column: String,
    /// How many rows had a label.
    pub labelled: usize,
    /// A text column's labels, in code order (component `k` is label `k`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
}

/// The weights a fit gave its rows ([`FitDocument::weights`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsUsed {
    /// The column of weights.
    pub column: String,
    /// Their sum.
    pub total: f64,
    /// How many rows weigh 0 (left out of the fit).
    pub zero_rows: usize,
}

impl FitDocument {
    /// Reads a document from JSON text.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The document as pretty-printed JSON, with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a fit document serialises");
        text.push('\n');
        text
    }

    /// Options that bind new data as the fit's data was bound: the same constants, the same
    /// columns for every data item, the same category labels.
    pub fn bind_options(&self) -> BindOptions {
        BindOptions {
            consts: self.constants.clone(),
            columns: self
                .binding
                .iter()
                .map(|b| (b.item.clone(), b.columns.clone()))
                .collect(),
            categories: self
                .binding
                .iter()
                .filter_map(|b| Some((b.item.clone(), b.labels.clone()?)))
                .collect(),
            category_counts: self
                .binding
                .iter()
                .filter_map(|b| Some((b.item.clone(), b.categories?)))
                .collect(),
            // The fit's label column and the codes of its labels, when the new data have it.
            labels: self.labels.as_ref().map(|l| l.column.clone()),
            label_names: self.labels.as_ref().and_then(|l| l.names.clone()),
            labels_optional: true,
            ..BindOptions::default()
        }
    }
}

/// The columns a data item was bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemBinding {
    /// The data item.
    pub item: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// For a category read from a text column: the label of each category, in code order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// For a category read from numeric codes: the number of categories (new data keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<usize>,
    /// The missing cells of each column (empty cells, integrated out of their rows' E-step),
    /// in column order; empty when every cell was given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<usize>,
    /// The rows with a missing cell.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missing_rows: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ItemBinding {
    /// The number of missing cells.
    pub fn missing_cells(&self) -> usize {
        self.missing.iter().sum()
    }

    /// The binding of every data item of `plan` in `bound`, in declaration order.
    pub fn of(plan: &Plan, bound: &Bound) -> Vec<ItemBinding> {
        bound
            .items
            .iter()
            .enumerate()
            .filter_map(|(v, item)| {
                let item = item.as_ref()?;
                let var = &plan.model.vars[v];
                let categories = match var.ty {
                    jensen_lang::ir::ElemType::Cat(set) if item.labels.is_none() => {
                        Some(bound.sizes[set])
                    }
                    _ => None,
                };
                Some(ItemBinding {
                    item: var.name.clone(),
                    columns: item.columns.clone(),
                    labels: item.labels.clone(),
                    categories,
                    missing: if item.gaps.is_empty() {
                        Vec::new()
                    } else {
                        item.gaps.per_column().to_vec()
                    },
                    missing_rows: item.gaps.rows(),
                })
            })
            .collect()
    }
}

/// The Viterbi path of a chain and its joint log-probability `ln p(x, z*)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Viterbi {
    /// State per row (empty for a fit read in chunks: `--posterior` writes the path).
    pub path: Vec<usize>,
    /// `ln p(x, z*)`.
    pub log_prob: f64,
}

/// A component replaced during the fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reseed {
    /// Iteration after whose M-step the component was replaced (0 = at initialisation).
    pub iteration: usize,
    /// The component.
    pub component: usize,
    /// The row (0-based) it was centred on.
    pub row: usize,
    /// `"empty"` or `"singular"`.
    pub reason: String,
}

impl From<&jensen_runtime::ReseedEvent> for Reseed {
    fn from(r: &jensen_runtime::ReseedEvent) -> Self {
        Reseed {
            iteration: r.iteration,
            component: r.component,
            row: r.row,
            reason: r.reason.to_string(),
        }
    }
}

/// Wall-clock time of the phases of the kept run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Initialisation, seconds.
    pub init_seconds: f64,
    /// The EM loop, seconds.
    pub em_seconds: f64,
    /// `em_seconds` per iteration.
    pub seconds_per_iteration: f64,
}

impl From<jensen_runtime::Timing> for Timing {
    fn from(t: jensen_runtime::Timing) -> Self {
        Timing {
            init_seconds: t.init_seconds,
            em_seconds: t.em_seconds,
            seconds_per_iteration: t.seconds_per_iteration,
        }
    }
}

/// The E-step of a document written before the field existed.
fn soft() -> String {
    "soft".into()
}

/// The method of a document written before the field existed.
fn em() -> String {
    "em".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    /// Doubles whose shortest decimal form is long or near a rounding boundary, subnormals,
    /// and pseudo-random bit patterns.
    fn awkward_floats() -> Vec<f64> {
        let mut v = vec![
            0.1 + 0.2,
            1.0 / 3.0,
            -2.0 / 3.0,
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE / 3.0, // subnormal
            5e-324,
            f64::MAX,
            -1130.2639655372307,
            f64::from_bits(0x000f_ffff_ffff_ffff), // the largest subnormal
            9007199254740993.0,
            0.0,
            -0.0,
            1e23,
            8.98846567431158e307,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        while v.len() < 2000 {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
            let x = f64::from_bits(bits);
            if x.is_finite() {
                v.push(x);
            }
        }
        v
    }

    fn document(values: &[f64]) -> FitDocument {
        let mut params = DynParams::default();
        params.insert(
            "mu",
            ArrayD::from_shape_vec(IxDyn(&[values.len() / 2, 2]), values.to_vec()).unwrap(),
        );
        params.insert("s", DynParams::scalar(values[7]));
        FitDocument {
            model: "m".into(),
            model_file: "m.em".into(),
            model_source: Some("model m\n".into()),
            data: "d.csv".into(),
            binding: vec![ItemBinding {
                item: "label".into(),
                columns: vec!["species".into()],
                labels: Some(vec!["a".into(), "b".into()]),
                categories: None,
                missing: vec![3],
                missing_rows: 2,
            }],
            sequences: vec![3],
            sequence_column: Some("run".into()),
            constants: [("K".to_string(), 2)].into(),
            n_rows: 3,
            weights: None,
            labels: None,
            log_likelihood: values[7],
            log_prior: 0.0,
            e_step: "soft".into(),
            complete_log_likelihood: None,
            inertia: None,
            status: "converged".into(),
            warnings: Vec::new(),
            elbo_trace: values[..10].to_vec(),
            iterations: 9,
            iterations_requested: None,
            converged: true,
            bic: values[1],
            aic: values[2],
            free_parameters: 5,
            seed: 0,
            restart: 0,
            restart_log_likelihoods: vec![Some(values[7]), None],
            data_hyperparameters: vec![crate::exec::DataHyperparameter {
                name: "mu_prior_mean".into(),
                summary: "mean(x)".into(),
                value: ArrayD::from_shape_vec(IxDyn(&[2]), values[3..5].to_vec()).unwrap(),
            }],
            params,
            assignments: vec![0, 1, 0],
            viterbi: None,
            reseeds: Vec::new(),
            method: "em".into(),
            posterior_means: None,
            timing: Timing::default(),
        }
    }

    #[test]
    fn every_float_reads_back_to_the_same_bits() {
        let values = awkward_floats();
        let doc = document(&values);
        let back = FitDocument::from_json(&doc.to_json()).unwrap();
        let (a, b) = (
            doc.params.get("mu").unwrap(),
            back.params.get("mu").unwrap(),
        );
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a.iter().zip(b.iter()) {
            assert_eq!(x.to_bits(), y.to_bits(), "{x:e} read back as {y:e}");
        }
        assert_eq!(back.log_likelihood.to_bits(), doc.log_likelihood.to_bits());
        for (x, y) in doc.elbo_trace.iter().zip(&back.elbo_trace) {
            assert_eq!(x.to_bits(), y.to_bits());
        }
        // Everything else too (parameters compare by name: they read back in name order).
        assert_eq!(
            FitDocument {
                params: DynParams::default(),
                ..back
            },
            FitDocument {
                params: DynParams::default(),
                ..doc
            }
        );
    }

    #[test]
    fn bind_options_repeat_the_binding() {
        let doc = document(&awkward_floats());
        let opts = doc.bind_options();
        assert_eq!(opts.consts["K"], 2);
        assert_eq!(opts.columns["label"], ["species"]);
        assert_eq!(opts.categories["label"], ["a", "b"]);
    }

    #[test]
    fn a_document_without_the_newer_fields_still_reads() {
        let mut value: serde_json::Value =
            serde_json::from_str(&document(&awkward_floats()).to_json()).unwrap();
        let object = value.as_object_mut().unwrap();
        for key in ["model_source", "binding", "iterations_requested", "viterbi"] {
            object.remove(key);
        }
        let doc: FitDocument = serde_json::from_value(value).unwrap();
        assert_eq!(doc.model_source, None);
        assert!(doc.binding.is_empty());
    }
}
