//! Error types of the runtime. Every message says what to do next.

use thiserror::Error;

/// A numerical problem met while preparing or updating parameters.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum NumericalIssue {
    /// A covariance matrix that must be symmetric positive definite is not.
    #[error("covariance `{param}`{} is not positive definite", component_suffix(*.component))]
    NotPositiveDefinite {
        /// Parameter name as written in the model.
        param: String,
        /// Mixture component, when the parameter is indexed by the latent.
        component: Option<usize>,
    },
    /// A parameter value is outside its constraint (negative variance, weights not summing to one...).
    #[error("parameter `{param}`{} violates its constraint: {why}", component_suffix(*.component))]
    Constraint {
        /// Parameter name as written in the model.
        param: String,
        /// Mixture component, when the parameter is indexed by the latent.
        component: Option<usize>,
        /// What is wrong.
        why: String,
    },
}

impl NumericalIssue {
    /// The mixture component the issue is confined to, if any.
    pub fn component(&self) -> Option<usize> {
        match self {
            NumericalIssue::NotPositiveDefinite { component, .. }
            | NumericalIssue::Constraint { component, .. } => *component,
        }
    }
}

fn component_suffix(component: Option<usize>) -> String {
    component
        .map(|k| format!(" of component {k}"))
        .unwrap_or_default()
}

/// Why a fit stopped without a result.
#[derive(Debug, Error)]
pub enum FitError {
    /// Fewer rows than components: EM cannot give every component a point.
    #[error("{rows} rows of data are fewer than the {components} components")]
    TooFewRows {
        /// Rows of data.
        rows: usize,
        /// Number of mixture components.
        components: usize,
    },
    /// A numerical problem the driver could not repair by re-seeding a component.
    #[error("{issue} (at iteration {iteration}); increase the covariance regularisation (--reg-covar), supply other starting parameters, or, in a mixture, reduce the number of components")]
    Numerical {
        /// The problem.
        issue: NumericalIssue,
        /// EM iteration at which it occurred (0 = initial parameters).
        iteration: usize,
    },
    /// The log-likelihood became NaN or infinite.
    #[error("the log-likelihood is not finite ({value}) at iteration {iteration}; check the data for extreme values or supply better starting parameters")]
    NonFinite {
        /// The offending value.
        value: f64,
        /// EM iteration.
        iteration: usize,
    },
    /// The ELBO decreased by more than round-off: the derived updates are wrong.
    #[error("the ELBO decreased in the {stage} of iteration {iteration} (from {before} to {after}); EM never decreases it, so this is a bug in the derived updates: please report it with the model file")]
    NotMonotone {
        /// EM iteration.
        iteration: usize,
        /// "E-step" or "M-step".
        stage: &'static str,
        /// ELBO before the step.
        before: f64,
        /// ELBO after the step.
        after: f64,
    },
    /// Starting parameters supplied by the user are unusable.
    #[error("invalid starting parameters: {0}")]
    InvalidInit(String),
    /// The thread pool could not be built.
    #[error("could not start {threads} worker threads: {message}")]
    ThreadPool {
        /// Requested thread count.
        threads: usize,
        /// What rayon said.
        message: String,
    },
}
