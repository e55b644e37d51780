//! The `jensen` command line: parses the command, reads the model file and renders
//! diagnostics and results for a terminal. CSV data is read by [`jensen::csv`], fits are
//! written and read as [`jensen::FitDocument`]s.

pub mod cli;
pub mod render;
