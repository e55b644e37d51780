//! Predictions of a fitted model, for any [`MixtureModel`] — a generated one
//! (`#[derive(Model)]`) or the plan executor — on the rows it holds: bind new data to a model
//! (e.g. `GmmModel::from_rows(new_rows, consts)`) and pass the fitted parameters to predict
//! on new rows.

use ndarray::{Array1, Array2};

use crate::em::{decode, posterior};
use crate::error::NumericalIssue;
use crate::mixture::MixtureModel;

/// `predict`, `predict_proba` and `score_samples` in scikit-learn's sense, for every
/// [`MixtureModel`].
pub trait Predict: MixtureModel + Sized {
    /// The posterior probability of each latent value for each row (`N × K`): the
    /// responsibilities of a mixture, the state posteriors `p(z_t = k | x)` of a chain
    /// (forward–backward within each sequence).
    fn predict_proba(&self, params: &Self::Params) -> Result<Array2<f64>, NumericalIssue> {
        let cache = self.prepare(params)?;
        Ok(posterior(self, &cache).0)
    }

    /// Each row's log-likelihood: `ln p(x_n)` for a mixture; for a chain
    /// `ln p(x_t | x_0..x_{t−1})` within the row's sequence, so that the rows of a sequence
    /// sum to its log-likelihood.
    fn score_samples(&self, params: &Self::Params) -> Result<Array1<f64>, NumericalIssue> {
        let cache = self.prepare(params)?;
        Ok(posterior(self, &cache).1)
    }

    /// The log-likelihood of all the rows, `Σ_n` [`Predict::score_samples`].
    fn score(&self, params: &Self::Params) -> Result<f64, NumericalIssue> {
        Ok(self.score_samples(params)?.sum())
    }

    /// The most probable latent value of each row: its most probable component for a
    /// mixture, the Viterbi path of its sequence for a chain.
    fn predict(&self, params: &Self::Params) -> Result<Vec<usize>, NumericalIssue> {
        Ok(decode(self, params)?.0)
    }
}

impl<M: MixtureModel> Predict for M {}
