//! The `jensen` command line: the only place that reads files and renders for a terminal.

pub mod cli;
pub mod csvdata;
pub mod render;
