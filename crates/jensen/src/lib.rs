//! jensen: write a latent-variable model declaratively, get its closed-form EM updates.
//!
//! Two ways in, one plan underneath:
//! - a model file, compiled at run time with [`compile`] and fitted by the plan executor
//!   ([`exec::PlanModel`]) — what `jensen fit` does;
//! - `#[derive(Model)]` on a struct, which turns the model file into typed Rust at compile
//!   time (see [`Model`]).
//!
//! Both run the same kernels through the same EM driver ([`runtime::fit`]).
//!
//! Data comes in as a [`Table`] — read from CSV by [`csv::read`] (default feature `csv`) or
//! built in memory — bound to the model's data items by [`bind()`]. A fit is saved and read
//! back as a [`FitDocument`] (the JSON of `jensen fit --out`).

pub mod bind;
#[cfg(feature = "csv")]
pub mod csv;
pub mod document;
pub mod error;
pub mod exec;
pub mod memory;
#[cfg(feature = "npy")]
pub mod npy;
pub mod params;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod rows;
pub mod sample;
#[cfg(feature = "csv")]
pub mod stream;

pub use jensen_derive::Model;
pub use jensen_lang as lang;
pub use jensen_lang::{compile, Diagnostic, Plan};
pub use jensen_runtime as runtime;
pub use jensen_runtime::{fit, FitError, FitOptions, FitResult, InitStrategy, Predict};
pub use ndarray;
pub use serde;

pub use bind::{bind, BindError, BindOptions, Bound, RowLabels, RowWeights, Sequences, Table};
pub use document::FitDocument;
pub use error::Error;
pub use exec::PlanModel;
pub use params::DynParams;
pub use rows::RowsError;
