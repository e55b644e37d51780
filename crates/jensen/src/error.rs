//! [`Error`](enum@Error): any error of the library's layers, for `?` in code that reads data, binds it,
//! fits and samples. Each layer keeps its own enum, whose messages say what to do; this one
//! wraps them unchanged.

use thiserror::Error;

/// Any error of jensen, by layer.
///
/// ```no_run
/// fn run() -> Result<(), jensen::Error> {
///     let (plan, _warnings) = jensen::compile(&std::fs::read_to_string("models/gmm.em").unwrap())?;
///     let table = jensen::csv::read("data/faithful.csv")?;
///     let bound = jensen::bind(&plan, &table, &jensen::BindOptions::default())?;
///     let model = jensen::PlanModel::new(&plan, &bound);
///     let fit = jensen::fit(&model, &jensen::FitOptions::default().restarts(4).build()?)?;
///     println!("{}", fit.log_likelihood);
///     Ok(())
/// }
/// ```
#[derive(Debug, Error)]
pub enum Error {
    /// The model text does not compile: every diagnostic, each with its span and hint
    /// (render them with line and column against the text with
    /// [`jensen_lang::Diagnostic::to_plain`]).
    #[error("the model has {} error(s): {}", .0.len(), first_message(.0))]
    Model(Vec<jensen_lang::Diagnostic>),
    /// A CSV file could not be read.
    #[cfg(feature = "csv")]
    #[error(transparent)]
    Csv(#[from] crate::csv::CsvError),
    /// A `.npy` file could not be read.
    #[cfg(feature = "npy")]
    #[error(transparent)]
    Npy(#[from] crate::npy::NpyError),
    /// A Parquet file could not be read.
    #[cfg(feature = "parquet")]
    #[error(transparent)]
    Parquet(#[from] crate::parquet::ParquetError),
    /// A fit document (`jensen fit --out`) could not be read.
    #[error("not a fit document: {0}")]
    Document(#[from] serde_json::Error),
    /// Parameters or a prior that do not suit the model (`PlanModel::check_params`, `fix`,
    /// `check_priors`).
    #[error("{0}")]
    Params(String),
    /// A table does not bind to the model's data items.
    #[error(transparent)]
    Bind(#[from] crate::bind::BindError),
    /// Records of a derived struct do not make the model's data.
    #[error(transparent)]
    Rows(#[from] crate::rows::RowsError),
    /// Data given to a generated model is out of its range.
    #[error(transparent)]
    Data(#[from] jensen_runtime::data::DataError),
    /// The fit could not run or failed.
    #[error(transparent)]
    Fit(#[from] jensen_runtime::FitError),
    /// Parameters could not be sampled from.
    #[error(transparent)]
    Sample(#[from] crate::sample::SampleError),
}

fn first_message(diags: &[jensen_lang::Diagnostic]) -> String {
    diags.first().map_or_else(String::new, |d| {
        if d.hint.is_empty() {
            d.message.clone()
        } else {
            format!("{} ({})", d.message, d.hint)
        }
    })
}

impl From<Vec<jensen_lang::Diagnostic>> for Error {
    fn from(diags: Vec<jensen_lang::Diagnostic>) -> Self {
        Error::Model(diags)
    }
}
