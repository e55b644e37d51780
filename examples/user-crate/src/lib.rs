//! A user's crate: a record type whose fields are a model's data items, streamed from CSV
//! with `csv` and `serde` into the model `#[derive(jensen::Model)]` generates, and fitted.

use serde::Deserialize;

/// One eruption of Old Faithful, a row of `faithful.csv`.
#[derive(Debug, Clone, Deserialize, jensen::Model)]
#[model(file = "models/eruptions.em")]
pub struct Eruption {
    /// Duration in minutes.
    pub eruptions: f64,
    /// Wait before it, in minutes.
    pub waiting: f64,
}

/// Why a file could not be fitted.
#[derive(Debug)]
pub enum Error {
    /// The file could not be opened.
    Csv(csv::Error),
    /// A row could not be parsed, or the rows do not fit the model.
    Rows(jensen::RowsError),
    /// The fit failed.
    Fit(jensen::FitError),
}

/// Fits the two-component mixture to a CSV file of eruptions, its rows streamed into the
/// model's columns as they are parsed.
pub fn fit_file(path: &str) -> Result<jensen::FitResult<eruption::Params>, Error> {
    let mut reader = csv::Reader::from_path(path).map_err(Error::Csv)?;
    let model = eruption::Model::try_from_rows(
        reader.deserialize::<Eruption>(),
        eruption::Consts::default(),
    )
    .map_err(Error::Rows)?;
    jensen::fit(&model, &jensen::FitOptions::default()).map_err(Error::Fit)
}
