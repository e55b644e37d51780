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
    /// Too few rows for the factors of a linear-Gaussian block: with `L` factors and at most
    /// `L + 1` rows, `W Wᵀ` reproduces the sample covariance exactly and the likelihood is
    /// unbounded.
    #[error("{rows} rows of data are too few for {factors} factors: a linear-Gaussian block with L factors needs at least L + 2 rows (with fewer, W Wᵀ reproduces the sample covariance exactly and the likelihood is unbounded); use fewer factors or more rows")]
    TooFewRowsForFactors {
        /// Rows of data.
        rows: usize,
        /// The largest number of factors of a linear-Gaussian block.
        factors: usize,
    },
    /// A numerical problem the driver could not repair by re-seeding a component.
    #[error("{issue} (at iteration {iteration}); increase the covariance regularisation (`reg_covar`), supply other starting parameters, or, in a mixture, reduce the number of components")]
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
    /// Starting parameters supplied by the user ([`crate::InitStrategy::Params`]) are
    /// unusable: the model cannot prepare them (a covariance that is not positive definite, a
    /// parameter outside its constraint). The driver re-seeds components of parameters it
    /// chose itself, but never alters the user's.
    #[error("invalid starting parameters: {0}; supply parameters that satisfy the model's constraints, or let the fit choose them from the data")]
    InvalidInit(String),
    /// An option of the fit has a value the library refuses (see [`crate::FitOptions::check`]).
    #[error("invalid option `{option}` = {value}: {reason}")]
    InvalidOption {
        /// The option, as named in [`crate::FitOptions`] or [`crate::MStepConfig`].
        option: &'static str,
        /// The refused value.
        value: String,
        /// What the value must be.
        reason: &'static str,
    },
    /// A pass over data read chunk by chunk ([`crate::em::Chunks`]) failed: the file could
    /// not be read again, or a row of a later chunk is not valid data. The message names the
    /// file, row and column.
    #[error("{0}")]
    Source(String),
    /// The thread pool could not be built.
    #[error("could not start {threads} worker threads: {message}")]
    ThreadPool {
        /// Requested thread count.
        threads: usize,
        /// What rayon said.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runtime errors speak in terms of the library's options, never a command-line flag.
    #[test]
    fn messages_name_options_not_flags() {
        let issue = NumericalIssue::NotPositiveDefinite {
            param: "Sigma".into(),
            component: Some(1),
        };
        let errors = [
            FitError::TooFewRows {
                rows: 1,
                components: 2,
            },
            FitError::Numerical {
                issue: issue.clone(),
                iteration: 3,
            },
            FitError::NonFinite {
                value: f64::NAN,
                iteration: 0,
            },
            FitError::NotMonotone {
                iteration: 1,
                stage: "M-step",
                before: 0.0,
                after: -1.0,
            },
            FitError::InvalidInit(issue.to_string()),
            FitError::InvalidOption {
                option: "reg_covar",
                value: "-1".into(),
                reason: "must be a finite number at least 0",
            },
            FitError::ThreadPool {
                threads: 2,
                message: "no".into(),
            },
        ];
        for e in &errors {
            let text = e.to_string();
            assert!(!text.contains("--"), "{text}");
        }
        assert!(errors[1].to_string().contains("`reg_covar`"));
    }
}
