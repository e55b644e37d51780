//! The CSV reader now lives in the library, as [`jensen::csv`] (default feature `csv`);
//! this module re-exports it for code that still names `jensen_cli::csvdata`.

pub use jensen::csv::{read, read_bytes, read_from, read_with, CsvError, CsvOptions};
