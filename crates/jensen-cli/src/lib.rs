//! The `jensen` command line: parses the command, reads the model file and renders
//! diagnostics and results for a terminal. CSV data is read by [`jensen::csv`], fits are
//! written and read as [`jensen::FitDocument`]s.
//!
//! The exit statuses are documented in `failure`'s module documentation and in the README.

#[macro_use]
mod failure;
pub mod cli;
mod figures;
mod fit;
mod input;
mod plot;
mod predict;
pub mod render;
mod sampling;
mod select;
mod stream;
