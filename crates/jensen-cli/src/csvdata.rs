//! Reading a CSV file into a [`Table`], with errors that name the file, row and column.

use jensen::Table;
use thiserror::Error;

/// Why a CSV file could not be read.
#[derive(Debug, Error)]
pub enum CsvError {
    /// The file could not be opened or read.
    #[error("cannot read {file}: {message}")]
    Io {
        /// File.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// The file holds no header line.
    #[error("{file} is empty: expected a header line with column names, then one line per row")]
    Empty {
        /// File.
        file: String,
    },
    /// A malformed line (wrong number of fields, bad quoting).
    #[error("{file}, line {line}: {message}")]
    Malformed {
        /// File.
        file: String,
        /// 1-based line.
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
    /// A cell of a numeric column that is not a number.
    #[error("{file}, row {row} (line {line}), column `{column}`: {what}")]
    BadCell {
        /// File.
        file: String,
        /// 1-based data row.
        row: usize,
        /// 1-based line.
        line: usize,
        /// Column name.
        column: String,
        /// Description.
        what: String,
    },
    /// Two columns with the same name.
    #[error("{file}: column `{column}` appears twice in the header")]
    DuplicateColumn {
        /// File.
        file: String,
        /// Column.
        column: String,
    },
}

/// Reads `path`. A column is text when none of its cells is a number (e.g. iris species);
/// otherwise every cell must be a number.
pub fn read(path: &str) -> Result<Table, CsvError> {
    let file = path.to_string();
    let bytes = std::fs::read(path).map_err(|e| CsvError::Io {
        file: file.clone(),
        message: e.to_string(),
    })?;
    read_bytes(&file, &bytes)
}

/// Reads CSV text already in memory; `file` names it in messages.
pub fn read_bytes(file: &str, bytes: &[u8]) -> Result<Table, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| malformed(file, &e))?
        .iter()
        .map(str::to_string)
        .collect();
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Err(CsvError::Empty { file: file.into() });
    }
    for (i, h) in headers.iter().enumerate() {
        if headers[..i].contains(h) {
            return Err(CsvError::DuplicateColumn {
                file: file.into(),
                column: h.clone(),
            });
        }
    }
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    for record in reader.records() {
        let record = record.map_err(|e| malformed(file, &e))?;
        for (c, v) in record.iter().enumerate() {
            cells[c].push(v.to_string());
        }
    }
    let n_rows = cells.first().map_or(0, Vec::len);
    let mut columns = Vec::with_capacity(headers.len());
    let mut text = Vec::with_capacity(headers.len());
    for (c, col) in cells.iter().enumerate() {
        let parsed: Vec<Option<f64>> = col.iter().map(|s| s.parse::<f64>().ok()).collect();
        if n_rows > 0 && parsed.iter().all(Option::is_none) && col.iter().any(|s| !s.is_empty()) {
            columns.push(None);
            text.push(Some(col.clone()));
            continue;
        }
        text.push(None);
        let mut values = Vec::with_capacity(n_rows);
        for (r, (p, raw)) in parsed.iter().zip(col).enumerate() {
            match p {
                Some(v) => values.push(*v),
                None => {
                    let what = if raw.is_empty() {
                        "the cell is empty (missing values are not supported yet: remove the row or fill the value)".to_string()
                    } else {
                        format!("`{raw}` is not a number")
                    };
                    return Err(CsvError::BadCell {
                        file: file.into(),
                        row: r + 1,
                        line: r + 2,
                        column: headers[c].clone(),
                        what,
                    });
                }
            }
        }
        columns.push(Some(values));
    }
    Ok(Table {
        source: file.into(),
        headers,
        columns,
        text,
        n_rows,
    })
}

fn malformed(file: &str, e: &csv::Error) -> CsvError {
    let line = e.position().map_or(0, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields, but the header has {expected_len}")
        }
        _ => e.to_string(),
    };
    CsvError::Malformed {
        file: file.into(),
        line,
        message,
    }
}
