//! Reading a CSV file into a [`Table`], with errors that name the file, the row (and line)
//! and the column. Behind the default cargo feature `csv`.
//!
//! The file needs a header line of column names, then one line per row. A column is text
//! when none of its cells is a number (e.g. iris species, sequence names); otherwise every
//! cell must be a number. Cells are trimmed; `\n`, `\r\n` and `\r` line endings and a UTF-8
//! byte-order mark are accepted.
//!
//! Records are read as raw bytes and every cell is parsed as it is read: a numeric column is
//! held as `f64`s only, and text is kept only for the columns that turn out to be text. When
//! the calling thread's rayon pool has more than one thread, a chunk of more than 4096 rows
//! (a whole file, say) is read in a pipeline after its first 4096: the records on the calling
//! thread, their cells parsed on a second one, a batch of 4096 rows at a time and in order, so
//! the table, its line numbers and its error are those of a read on one thread
//! (`cargo run --release -p jensen --example read_csv -- FILE` times both).
//!
//! ```no_run
//! let table = jensen::csv::read("data/faithful.csv")?;
//! assert_eq!(table.headers, ["eruptions", "waiting"]);
//! # Ok::<(), jensen::csv::CsvError>(())
//! ```

use std::io::Read;

use thiserror::Error;

use crate::bind::Table;

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
    /// A column with no name in the header holds data.
    #[error("{file}, row {row} (line {line}): column {position} has no name in the header, but holds `{cell}`: name it in the header line (a column with no name is read only when all its cells are empty, as left by a trailing delimiter)")]
    UnnamedColumn {
        /// File.
        file: String,
        /// 1-based position of the column in the header.
        position: usize,
        /// 1-based data row of its first non-empty cell.
        row: usize,
        /// 1-based line of that row.
        line: usize,
        /// The cell.
        cell: String,
    },
    /// Two columns with the same name.
    #[error("{file}: column `{column}` appears twice in the header")]
    DuplicateColumn {
        /// File.
        file: String,
        /// Column.
        column: String,
    },
    /// The header is one column that contains another common delimiter: the file is most
    /// likely separated by that delimiter.
    #[error(
        "{file}: the header `{header}` is a single column containing {}: the file seems to use {} as delimiter; jensen reads {}-separated files (pass `--delimiter {}` to read it)",
        show(*found), show(*found), name(*expected), shell(*found)
    )]
    Delimiter {
        /// File.
        file: String,
        /// The header line as read.
        header: String,
        /// The delimiter the file seems to use.
        found: u8,
        /// The delimiter it was read with.
        expected: u8,
    },
}

fn show(d: u8) -> String {
    match d {
        b'\t' => "a tab".into(),
        d => format!("'{}'", d as char),
    }
}

fn name(d: u8) -> String {
    match d {
        b',' => "comma".into(),
        b';' => "semicolon".into(),
        b'\t' => "tab".into(),
        d => format!("'{}'", d as char),
    }
}

fn shell(d: u8) -> String {
    match d {
        b'\t' => "tab".into(),
        d => format!("'{}'", d as char),
    }
}

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field delimiter (default `,`).
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { delimiter: b',' }
    }
}

/// Reads the comma-separated file at `path`.
pub fn read(path: &str) -> Result<Table, CsvError> {
    read_with(path, &CsvOptions::default())
}

/// Reads the file at `path` as `opts` says.
pub fn read_with(path: &str, opts: &CsvOptions) -> Result<Table, CsvError> {
    let file = std::fs::File::open(path).map_err(|e| CsvError::Io {
        file: path.to_string(),
        message: e.to_string(),
    })?;
    read_from(path, file, opts)
}

/// Reads the CSV file at `path` with the delimiter of its header line: of comma, tab,
/// semicolon and `|`, the one found most often outside quotes (a comma when none is, as in a
/// file of one column). The file is opened once, so a pipe (`/dev/stdin`) reads as a file
/// does.
///
/// ```no_run
/// let table = jensen::csv::read_detected("data/faithful.csv")?;
/// # Ok::<(), jensen::csv::CsvError>(())
/// ```
pub fn read_detected(path: &str) -> Result<Table, CsvError> {
    Ok(Chunks::open_detected(path)?
        .next_chunk(usize::MAX)?
        .expect("the first chunk is read even without rows"))
}

/// The delimiter of a header line (see [`read_detected`]).
pub fn delimiter_of(header: &[u8]) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b'\t', b';', b'|'];
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &b in header {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    // The first of the most frequent (a comma on ties and when none occurs).
    let mut best = 0;
    for i in 1..CANDIDATES.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

/// Reads comma-separated text already in memory; `file` names it in messages.
pub fn read_bytes(file: &str, bytes: &[u8]) -> Result<Table, CsvError> {
    read_from(file, bytes, &CsvOptions::default())
}

/// A column while the rows are read.
enum Column {
    /// No cell has been a number yet: the cells so far, in case the column is text.
    Undecided { cells: Vec<String>, any_text: bool },
    /// Some cell was a number: the values (NaN in place of a bad or empty cell), the first
    /// bad cell, `(0-based row, cell)`, and the rows of the empty cells.
    Numeric {
        values: Vec<f64>,
        first_bad: Option<(usize, String)>,
        empty: Vec<usize>,
    },
}

impl Column {
    fn push(&mut self, row: usize, cell: &[u8]) {
        let number = parse_number(cell);
        match self {
            Column::Numeric {
                values,
                first_bad,
                empty,
            } => {
                values.push(number.unwrap_or(f64::NAN));
                // (A number's text is not kept: no `String` per numeric cell.)
                if number.is_none() {
                    let cell = text(cell);
                    if cell.is_empty() {
                        empty.push(row);
                    } else if first_bad.is_none() {
                        *first_bad = Some((row, cell));
                    }
                }
            }
            Column::Undecided { cells, any_text } => match number {
                Some(v) => {
                    // Every earlier cell was not a number: the first that is not empty is the
                    // error; the empty ones are gaps.
                    let first_bad = cells
                        .iter()
                        .enumerate()
                        .find(|(_, c)| !c.is_empty())
                        .map(|(r, c)| (r, c.clone()));
                    let empty = (0..cells.len()).filter(|&r| cells[r].is_empty()).collect();
                    let mut values = Vec::new();
                    values.resize(cells.len(), f64::NAN);
                    values.push(v);
                    *self = Column::Numeric {
                        values,
                        first_bad,
                        empty,
                    };
                }
                None => {
                    let cell = text(cell);
                    *any_text |= !cell.is_empty();
                    cells.push(cell);
                }
            },
        }
    }
}

/// A cell's text, trimmed; a cell that marks a missing value (`NA`, `NaN`, any case) is
/// empty.
fn text(cell: &[u8]) -> String {
    let t = String::from_utf8_lossy(cell).trim().to_string();
    if marks_missing(&t) {
        String::new()
    } else {
        t
    }
}

/// `NA` (R) and `NaN` (NumPy, pandas), in any case: written for a missing value, read as an
/// empty cell.
fn marks_missing(cell: &str) -> bool {
    cell.eq_ignore_ascii_case("na") || cell.eq_ignore_ascii_case("nan")
}

fn parse_number(cell: &[u8]) -> Option<f64> {
    let cell = std::str::from_utf8(cell).ok()?.trim();
    if marks_missing(cell) {
        return None;
    }
    cell.parse::<f64>().ok()
}

/// Reads CSV from `reader` as `opts` says; `file` names it in messages.
pub fn read_from<R: Read>(file: &str, reader: R, opts: &CsvOptions) -> Result<Table, CsvError> {
    let mut chunks = Chunks::new(file, reader, opts)?;
    Ok(chunks
        .next_chunk(usize::MAX)?
        .expect("the first chunk is read even without rows"))
}

/// A CSV file read a chunk of rows at a time ([`Chunks::next_chunk`]), each chunk a [`Table`]
/// of its own whose lines ([`Table::lines`]) are those of the file; errors name the row among
/// all the file's rows.
pub struct Chunks<R: Read> {
    file: String,
    reader: ::csv::Reader<Tracked<R>>,
    headers: Vec<String>,
    record: ::csv::ByteRecord,
    /// Rows read before the next chunk.
    before: usize,
    /// The line of the last row read.
    previous: usize,
    /// Whether the input is exhausted (after the first chunk, which is read even when empty).
    done: bool,
    started: bool,
    /// Columns (by position in the header) kept as text in every chunk, numbers included
    /// ([`Chunks::keep_text`]).
    text: Vec<bool>,
    options: CsvOptions,
}

impl Chunks<std::io::BufReader<std::fs::File>> {
    /// The CSV file at `path`, with the delimiter of its header line ([`read_detected`]).
    pub fn open_detected(path: &str) -> Result<Self, CsvError> {
        use std::io::BufRead;
        let io = |e: std::io::Error| CsvError::Io {
            file: path.to_string(),
            message: e.to_string(),
        };
        let file = std::fs::File::open(path).map_err(io)?;
        // The header line from the reader's first buffer (one read, up to 1 MiB: the header
        // of any file, the first chunk of a pipe), which is not consumed.
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        let delimiter = delimiter_of(reader.fill_buf().map_err(io)?);
        Chunks::new(path, reader, &CsvOptions { delimiter })
    }
}

impl<R: Read> Chunks<R> {
    /// Reads the header line of `reader` (`file` names it in messages).
    pub fn new(file: &str, reader: R, opts: &CsvOptions) -> Result<Self, CsvError> {
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .delimiter(opts.delimiter)
            // (Not trimmed by the reader: every cell is trimmed where it is read, `text` and
            // `parse_number`, with `str::trim`, which removes all the reader would.)
            .from_reader(Tracked::new(reader));
        let headers = reader
            .byte_headers()
            .map(|h| h.iter().map(text).collect::<Vec<String>>());
        let headers = headers.map_err(|e| error(file, e, &reader))?;
        if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
            return Err(CsvError::Empty { file: file.into() });
        }
        if let [header] = headers.as_slice() {
            if let Some(&found) = [b',', b';', b'\t', b'|']
                .iter()
                .find(|&&d| d != opts.delimiter && header.as_bytes().contains(&d))
            {
                return Err(CsvError::Delimiter {
                    file: file.into(),
                    header: header.clone(),
                    found,
                    expected: opts.delimiter,
                });
            }
        }
        for (i, h) in headers.iter().enumerate() {
            if !h.is_empty() && headers[..i].contains(h) {
                return Err(CsvError::DuplicateColumn {
                    file: file.into(),
                    column: h.clone(),
                });
            }
        }
        Ok(Chunks {
            file: file.into(),
            reader,
            headers,
            record: ::csv::ByteRecord::new(),
            before: 0,
            previous: 1,
            done: false,
            started: false,
            text: Vec::new(),
            options: opts.clone(),
        })
    }

    /// The column names of the header, in order (a column with no name is empty).
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The options it is read with (the delimiter detected, or given).
    pub fn options(&self) -> CsvOptions {
        self.options.clone()
    }

    /// Keeps the named columns as text in every chunk, as when the file is read whole and
    /// the column holds text somewhere: a chunk where such a column holds only empty cells
    /// (or only numbers) reads it as text all the same.
    pub fn keep_text(&mut self, columns: &[String]) {
        self.text = self.headers.iter().map(|h| columns.contains(h)).collect();
    }

    /// The number of rows read so far.
    pub fn rows_read(&self) -> usize {
        self.before
    }

    /// The next chunk of at most `max_rows` rows (at least 1), `None` after the last; the
    /// first chunk is returned even when the file has no rows.
    pub fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Table>, CsvError> {
        if self.done {
            return Ok(None);
        }
        let first = !self.started;
        self.started = true;
        let headers = &self.headers;
        let mut cells = Cells {
            // A column with no name (as a trailing delimiter leaves) is not stored: only its
            // first non-empty cell is kept, for the error if there is one.
            unnamed: headers.iter().map(String::is_empty).collect(),
            text_kept: (0..headers.len())
                .map(|c| self.text.get(c).copied().unwrap_or(false))
                .collect(),
            columns: (0..headers.len())
                .map(|_| Column::Undecided {
                    cells: Vec::new(),
                    any_text: false,
                })
                .collect(),
            unnamed_cell: None,
        };
        let before = self.before;
        let max_rows = max_rows.max(1);
        let mut read = RowsRead::default();
        // The first batch on this thread; the rest of a larger chunk, on a pool of several
        // threads, with the records read here and their cells parsed on another thread, a
        // batch at a time and in order (the same table).
        self.read_rows(&mut read, max_rows.min(BATCH_ROWS), &mut cells)?;
        if !self.done && read.rows < max_rows {
            let piped = rayon::current_num_threads() > 1
                && self.read_pipelined(&mut read, max_rows, &mut cells)?;
            if !piped {
                self.read_rows(&mut read, max_rows, &mut cells)?;
            }
        }
        let RowsRead {
            rows: n_rows,
            lines,
        } = read;
        self.before += n_rows;
        if n_rows == 0 && !first {
            return Ok(None);
        }
        finish_table(
            &self.file,
            &self.headers,
            cells.columns,
            n_rows,
            lines,
            cells.unnamed_cell,
        )
        .map(Some)
        .map_err(|e| e.after_rows(before))
    }

    /// Reads records into `cells` until the chunk holds `max_rows` rows (or the input ends),
    /// counting them in `read`.
    fn read_rows(
        &mut self,
        read: &mut RowsRead,
        max_rows: usize,
        cells: &mut Cells,
    ) -> Result<(), CsvError> {
        let mut record = std::mem::take(&mut self.record);
        let done = loop {
            if read.rows >= max_rows {
                break Ok(());
            }
            match self.next_record(&mut record, read.rows, &mut read.lines) {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
            cells.push(read.rows, &record);
            read.rows += 1;
        };
        self.record = record;
        done
    }

    /// [`Chunks::read_rows`] with the cells parsed on a second thread: batches of
    /// [`BATCH_ROWS`] records go to it through a channel and come back to be read into again.
    /// `false` (and nothing read) when the thread cannot be started. On an error the rows
    /// already sent are parsed, but only the error is returned, as on one thread.
    fn read_pipelined(
        &mut self,
        read: &mut RowsRead,
        max_rows: usize,
        cells: &mut Cells,
    ) -> Result<bool, CsvError> {
        use std::sync::mpsc::{channel, sync_channel};
        type Batch = (usize, Vec<::csv::ByteRecord>, usize);
        std::thread::scope(|scope| {
            // One batch waiting while one is parsed and the next read (three buffers at most).
            let (send, batches) = sync_channel::<Batch>(1);
            let (give_back, returned) = channel::<Vec<::csv::ByteRecord>>();
            let parser = std::thread::Builder::new()
                .name("jensen-csv".into())
                .spawn_scoped(scope, move || {
                    for (start, records, len) in batches {
                        for (i, record) in records[..len].iter().enumerate() {
                            cells.push(start + i, record);
                        }
                        // (The reader may have stopped: then the batch is dropped here.)
                        let _ = give_back.send(records);
                    }
                });
            let Ok(parser) = parser else {
                return Ok(false);
            };
            let outcome = loop {
                let mut records = returned.try_recv().unwrap_or_default();
                let (start, mut len) = (read.rows, 0);
                let mut end = false;
                let mut failed = None;
                while len < BATCH_ROWS && read.rows < max_rows {
                    if len == records.len() {
                        records.push(::csv::ByteRecord::new());
                    }
                    match self.next_record(&mut records[len], read.rows, &mut read.lines) {
                        Ok(true) => {}
                        Ok(false) => {
                            end = true;
                            break;
                        }
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                    len += 1;
                    read.rows += 1;
                }
                if let Some(e) = failed {
                    break Err(e);
                }
                if len > 0 && send.send((start, records, len)).is_err() {
                    // The parser stopped early: it panicked (resumed below).
                    break Ok(());
                }
                if end || read.rows >= max_rows {
                    break Ok(());
                }
            };
            drop(send);
            if let Err(panic) = parser.join() {
                std::panic::resume_unwind(panic);
            }
            outcome.map(|()| true)
        })
    }

    /// The next record into `record` (`false` at the end of the input), with its line kept in
    /// `lines` once some row is not on line `row + 2` (blank lines, quoted cells spanning
    /// lines, or earlier chunks came before it); `row` is its 0-based row in the chunk.
    fn next_record(
        &mut self,
        record: &mut ::csv::ByteRecord,
        row: usize,
        lines: &mut Vec<usize>,
    ) -> Result<bool, CsvError> {
        let reader = &mut self.reader;
        if !reader
            .read_byte_record(record)
            .map_err(|e| error(&self.file, e, reader))?
        {
            self.done = true;
            return Ok(false);
        }
        let newlines = record.as_slice().iter().filter(|&&b| b == b'\n').count();
        // At least one line after the previous row's (a line ending the csv reader does
        // not count, a lone `\r`, gives no line numbers: then one line per row).
        let line = last_line(reader)
            .saturating_sub(newlines)
            .max(self.previous + 1);
        self.previous = line;
        if lines.is_empty() && line != row + 2 {
            lines.extend((0..row).map(|r| r + 2));
        }
        if !lines.is_empty() {
            lines.push(line);
        }
        Ok(true)
    }
}

/// Records per batch of [`Chunks::read_pipelined`] (and read on the calling thread before
/// a second one is started).
const BATCH_ROWS: usize = 4096;

/// The rows of a chunk read so far, and their lines (empty while every row `r` is on line
/// `r + 2`).
#[derive(Default)]
struct RowsRead {
    rows: usize,
    lines: Vec<usize>,
}

/// What a chunk's cells are read into.
struct Cells {
    /// The columns with no name in the header.
    unnamed: Vec<bool>,
    /// The columns kept as text ([`Chunks::keep_text`]).
    text_kept: Vec<bool>,
    columns: Vec<Column>,
    /// The first non-empty cell of a column with no name: `(column, row, cell)`.
    unnamed_cell: Option<(usize, usize, String)>,
}

impl Cells {
    /// The cells of the record at 0-based `row` of the chunk.
    fn push(&mut self, row: usize, record: &::csv::ByteRecord) {
        for (c, (column, cell)) in self.columns.iter_mut().zip(record.iter()).enumerate() {
            if self.unnamed[c] {
                if self.unnamed_cell.is_none() && !cell.iter().all(u8::is_ascii_whitespace) {
                    self.unnamed_cell = Some((c, row, text(cell)));
                }
            } else if self.text_kept[c] {
                if let Column::Undecided { cells, any_text } = column {
                    cells.push(text(cell));
                    *any_text = true;
                }
            } else {
                column.push(row, cell);
            }
        }
    }
}

impl CsvError {
    /// The error with its row counted after `before` earlier rows (of earlier chunks).
    pub fn after_rows(mut self, before: usize) -> Self {
        match &mut self {
            CsvError::BadCell { row, .. } | CsvError::UnnamedColumn { row, .. } => *row += before,
            _ => {}
        }
        self
    }
}

/// The table of the columns read.
fn finish_table(
    file: &str,
    headers: &[String],
    columns: Vec<Column>,
    n_rows: usize,
    lines: Vec<usize>,
    unnamed_cell: Option<(usize, usize, String)>,
) -> Result<Table, CsvError> {
    let mut table = Table {
        source: file.into(),
        headers: Vec::with_capacity(headers.len()),
        columns: Vec::with_capacity(columns.len()),
        text: Vec::with_capacity(columns.len()),
        n_rows,
        lines,
        missing: Vec::new(),
    };
    if let Some((c, row, cell)) = unnamed_cell {
        return Err(CsvError::UnnamedColumn {
            file: file.into(),
            position: c + 1,
            row: row + 1,
            line: table.line(row),
            cell,
        });
    }
    let (headers, columns): (Vec<String>, Vec<Column>) = headers
        .iter()
        .cloned()
        .zip(columns)
        .filter(|(h, _)| !h.is_empty())
        .unzip();
    table.headers = headers;
    for (c, column) in columns.into_iter().enumerate() {
        match column {
            Column::Undecided { cells, any_text } if any_text => {
                // Every cell a number written with a decimal comma: numbers, not text.
                let mut filled = cells.iter().enumerate().filter(|(_, c)| !c.is_empty());
                // (A column kept as text may hold no cell at all in a chunk.)
                if filled.clone().next().is_some() && filled.clone().all(|(_, c)| decimal_comma(c))
                {
                    let (row, cell) = filled.next().expect("a non-empty cell");
                    return Err(bad_cell(&table, c, row, cell));
                }
                table.columns.push(None);
                table.text.push(Some(cells));
            }
            Column::Undecided { cells, .. } => {
                // Only empty cells (or no rows at all): a numeric column of gaps.
                table.missing.resize(c, Vec::new());
                table.missing.push((0..cells.len()).collect());
                table.columns.push(Some(vec![f64::NAN; cells.len()]));
                table.text.push(None);
            }
            Column::Numeric {
                first_bad: Some((row, cell)),
                ..
            } => return Err(bad_cell(&table, c, row, &cell)),
            Column::Numeric { values, empty, .. } => {
                if !empty.is_empty() {
                    table.missing.resize(c, Vec::new());
                    table.missing.push(empty);
                }
                table.columns.push(Some(values));
                table.text.push(None);
            }
        }
    }
    Ok(table)
}

/// The error for `cell`, at 0-based `row` of column `c` of `table`.
fn bad_cell(table: &Table, c: usize, row: usize, cell: &str) -> CsvError {
    let what = if cell.is_empty() {
        "the cell is empty".to_string()
    } else if decimal_comma(cell) {
        format!(
            "`{cell}` is not a number (numbers are read with a decimal point, not a decimal comma)"
        )
    } else {
        format!("`{cell}` is not a number")
    };
    CsvError::BadCell {
        file: table.source.clone(),
        row: row + 1,
        line: table.line(row),
        column: table.headers[c].clone(),
        what,
    }
}

/// `3,6`: a number written with a decimal comma.
fn decimal_comma(cell: &str) -> bool {
    cell.matches(',').count() == 1 && cell.replace(',', ".").parse::<f64>().is_ok()
}

/// The input, with what [`last_line`] needs to know of it.
struct Tracked<R> {
    inner: R,
    /// The first `\r` or `\n` of the input: whether lines end with `\r` (`\r\n`).
    first_break: Option<u8>,
    /// The last two pieces read, with their offsets: the bytes that ended the latest records.
    pieces: [(u64, Vec<u8>); 2],
    /// Bytes read.
    total: u64,
}

impl<R: Read> Tracked<R> {
    fn new(inner: R) -> Self {
        Tracked {
            inner,
            first_break: None,
            pieces: [(0, Vec::new()), (0, Vec::new())],
            total: 0,
        }
    }

    /// The byte at `offset`, if it is among the last pieces read.
    fn byte_at(&self, offset: u64) -> Option<u8> {
        self.pieces.iter().rev().find_map(|(start, bytes)| {
            let i = usize::try_from(offset.checked_sub(*start)?).ok()?;
            bytes.get(i).copied()
        })
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            let read = &buf[..n];
            if self.first_break.is_none() {
                self.first_break = read.iter().copied().find(|&b| b == b'\r' || b == b'\n');
            }
            self.pieces.swap(0, 1);
            let (start, bytes) = &mut self.pieces[1];
            *start = self.total;
            bytes.clear();
            bytes.extend_from_slice(read);
            self.total += n as u64;
        }
        Ok(n)
    }
}

/// The 1-based line of the file on which the record just read (or refused) ends. The csv
/// reader counts `\n`s: a record ended by `\n` has counted its own, one ended by `\r` (a
/// `\r\n` line, whose `\n` is read with the next record) or by the end of the input has
/// not. (`Position::line` of a record is where the reader stood before it, ahead of any
/// blank lines it skipped.)
fn last_line<R: Read>(reader: &::csv::Reader<Tracked<R>>) -> usize {
    let at = reader.position();
    let input = reader.get_ref();
    let counted = match at.byte().checked_sub(1).and_then(|b| input.byte_at(b)) {
        Some(b) => b == b'\n',
        // Not among the last pieces (an input read in tiny pieces): as the file's first line.
        None => input.first_break == Some(b'\n') && at.byte() < input.total,
    };
    (at.line() as usize).saturating_sub(counted as usize)
}

fn error<R: Read>(file: &str, e: ::csv::Error, reader: &::csv::Reader<Tracked<R>>) -> CsvError {
    let line = match e.kind() {
        // The record was read to its end.
        ::csv::ErrorKind::UnequalLengths { .. } => last_line(reader) as u64,
        _ => e.position().map_or(0, |p| p.line()),
    };
    let message = match e.kind() {
        ::csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields, but the header has {expected_len}"),
        ::csv::ErrorKind::Io(io) => {
            return CsvError::Io {
                file: file.into(),
                message: io.to_string(),
            }
        }
        _ => e.to_string(),
    };
    CsvError::Malformed {
        file: file.into(),
        line,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> Result<Table, CsvError> {
        read_bytes("t.csv", text.as_bytes())
    }

    /// `text` read on a pool of `threads` threads (two: its cells parsed on a second thread,
    /// past two batches of rows).
    fn read_on(threads: usize, text: &str) -> String {
        // (Debug: NaN equals NaN in the comparison.)
        on(threads, || format!("{:?}", read_str(text)))
    }

    fn on<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool")
            .install(f)
    }

    #[test]
    fn a_large_file_reads_the_same_with_its_cells_parsed_on_a_second_thread() {
        // 20,000 rows, past the batches of 4096: blank lines, a quoted cell over two lines,
        // gaps (empty and `NA`), spaces around cells, a text column, and a trailing
        // delimiter's column with no name.
        let mut text = String::from("x, y ,label,\n");
        for r in 0..20_000 {
            if r % 5000 == 17 {
                text.push('\n');
            }
            let y = match r {
                _ if r % 1234 == 5 => "NA".to_string(),
                _ if r % 777 == 3 => String::new(),
                _ => format!("{}", r as f64 / 7.0),
            };
            let label = if r == 9000 {
                "\"two\nlines\"".to_string()
            } else {
                format!("s{}", r % 3)
            };
            text.push_str(&format!("{}, {y} ,{label},\n", r as f64 * 0.5));
        }
        let serial = read_on(1, &text);
        assert_eq!(read_on(2, &text), serial);
        let table = read_str(&text).expect("a table");
        assert_eq!(table.n_rows, 20_000);
        assert_eq!(table.headers, ["x", "y", "label"]);
        assert_eq!(table.line(19_999), 20_000 + 1 + 4 + 1);
        assert_eq!(table.empty_cells(1).len(), 17 + 26);
        assert_eq!(table.text[2].as_ref().expect("text")[9000], "two\nlines");
        // The same errors, with the same rows and lines: a bad cell late in the file, a cell
        // in the column with no name, a record with a field too many.
        let bad = text.replace("\n7500, ", "\nabc, ");
        let unnamed = text.replacen("s1,\n", "s1,zzz\n", 3000);
        let malformed = text.replace("\n6000, ", "\n6000,1, ");
        for broken in [bad, unnamed, malformed] {
            let serial = read_on(1, &broken);
            assert!(serial.starts_with("Err("), "{}", &serial[..200]);
            assert_eq!(read_on(2, &broken), serial);
        }
        // In chunks of 9000 rows (each read in the pipeline), with a numeric column kept as
        // text, as a streamed fit reads a file.
        let chunked = |threads| {
            on(threads, || {
                let mut chunks = Chunks::new("t.csv", text.as_bytes(), &CsvOptions::default())
                    .expect("a header");
                chunks.keep_text(&["x".to_string()]);
                let mut tables = Vec::new();
                while let Some(table) = chunks.next_chunk(9000).expect("a chunk") {
                    tables.push(format!("{table:?}"));
                }
                tables
            })
        };
        let serial = chunked(1);
        assert_eq!(serial.len(), 3);
        assert!(serial[0].contains("\"0.5\""), "x kept as text");
        assert_eq!(chunked(2), serial);
    }

    #[test]
    fn the_delimiter_is_the_most_frequent_outside_quotes() {
        assert_eq!(delimiter_of(b"a,b,c\n1,2,3"), b',');
        assert_eq!(delimiter_of(b"a;b;c\r\n1,5;2,5;3"), b';');
        assert_eq!(delimiter_of(b"a\tb\tc"), b'\t');
        assert_eq!(delimiter_of(b"a|b"), b'|');
        // Commas inside a quoted name do not count.
        assert_eq!(delimiter_of(b"\"x, y\";z"), b';');
        // One column, or nothing: a comma.
        assert_eq!(delimiter_of(b"x\n1\n"), b',');
        assert_eq!(delimiter_of(b""), b',');
        // Ties go to the comma.
        assert_eq!(delimiter_of(b"a,b;c"), b',');
        // Only the header line counts.
        assert_eq!(delimiter_of(b"a;b\n1,2,3,4,5"), b';');
    }

    #[test]
    fn numeric_and_text_columns() {
        let t = read_str("a,name,b\n1,x,2.5\n-3e2, y ,4\n").unwrap();
        assert_eq!(t.headers, ["a", "name", "b"]);
        assert_eq!(t.n_rows, 2);
        assert_eq!(t.columns[0], Some(vec![1.0, -300.0]));
        assert_eq!(t.columns[1], None);
        assert_eq!(t.text[1], Some(vec!["x".to_string(), "y".to_string()]));
        assert_eq!(t.columns[2], Some(vec![2.5, 4.0]));
        assert_eq!(t.text[0], None);
    }

    #[test]
    fn crlf_line_endings_and_a_byte_order_mark_are_read() {
        let lf = read_str("a,name\n1,x\n2,y\n").unwrap();
        for text in [
            "a,name\r\n1,x\r\n2,y\r\n",
            "\u{feff}a,name\r\n1,x\r\n2,y\r\n",
            "a,name\r1,x\r2,y",
        ] {
            let t = read_str(text).unwrap();
            assert_eq!(t.headers, lf.headers, "{text:?}");
            assert_eq!(t.columns, lf.columns, "{text:?}");
            assert_eq!(t.text, lf.text, "{text:?}");
        }
    }

    #[test]
    fn a_text_cell_before_the_first_number_is_the_error() {
        let err = read_str("a,b\nx,1\n2,2\ny,3\n").unwrap_err();
        let CsvError::BadCell {
            row, column, what, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((*row, column.as_str()), (1, "a"));
        assert!(what.contains("`x`"), "{what}");
    }

    #[test]
    fn an_all_empty_column_is_a_column_of_gaps() {
        let t = read_str("a,b\n,1\n,2\n").unwrap();
        assert_eq!(t.empty_cells(0), &[0, 1]);
        assert!(t.columns[0].as_ref().unwrap().iter().all(|v| v.is_nan()));
        assert!(t.empty_cells(1).is_empty());
    }

    #[test]
    fn a_semicolon_separated_file_is_named() {
        let err = read_str("a;b\n1;2\n").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, CsvError::Delimiter { found: b';', .. }));
        assert!(
            msg.contains("';' as delimiter") && msg.contains("comma-separated"),
            "{msg}"
        );
        let opts = CsvOptions { delimiter: b';' };
        let t = read_from("t.csv", "a;b\n1;2\n".as_bytes(), &opts).unwrap();
        assert_eq!(t.columns, [Some(vec![1.0]), Some(vec![2.0])]);
        // A decimal comma gets a hint, in a column of numbers or of decimal commas only.
        for text in ["a;b\n1,5;2\n2,5;3\n", "a;b\n1;2\n2,5;3\n"] {
            let err = read_from("t.csv", text.as_bytes(), &opts).unwrap_err();
            assert!(
                matches!(&err, CsvError::BadCell { column, .. } if column == "a"),
                "{err:?}"
            );
            assert!(
                err.to_string().contains("`") && err.to_string().contains("decimal comma"),
                "{err}"
            );
        }
        // Tab-separated.
        let err = read_str("a\tb\n1\t2\n").unwrap_err();
        assert!(err.to_string().contains("a tab as delimiter"), "{err}");
    }

    /// The line of every row, with any line ending.
    fn lines(text: &str) -> Vec<usize> {
        let t = read_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        (0..t.n_rows).map(|r| t.line(r)).collect()
    }

    #[test]
    fn rows_keep_the_lines_of_the_file() {
        for end in ["\n", "\r\n"] {
            let text = ["a,b", "1,2", "", "3,4", "", "", "5,6", "7,8"].join(end);
            assert_eq!(lines(&text), [2, 4, 7, 8], "{end:?}, no final line ending");
            assert_eq!(lines(&(text.clone() + end)), [2, 4, 7, 8], "{end:?}");
            assert_eq!(lines(&(text.clone() + end + end)), [2, 4, 7, 8], "{end:?}");
            // Without blank lines, no line is stored.
            let plain = ["a,b", "1,2", "3,4", ""].join(end);
            assert_eq!(lines(&plain), [2, 3]);
            assert!(read_str(&plain).unwrap().lines.is_empty());
            // A quoted cell over two lines: the row's first line.
            let quoted = ["a,name", "1,\"x", "y\"", "", "2,z", ""].join(end);
            assert_eq!(lines(&quoted), [2, 5], "{end:?}");
            // A quoted cell that starts or ends with its line break (the cell is trimmed
            // where it is read, after the row's line is found from its raw bytes).
            let edges = ["a,name", "1,\"", "x\"", "2,\"y", "\"", "3,z", ""].join(end);
            assert_eq!(lines(&edges), [2, 4, 6], "{end:?}");
            let table = read_str(&edges).unwrap();
            assert_eq!(table.text[1].as_ref().unwrap(), &["x", "y", "z"], "{end:?}");
            // A malformed row after blank lines.
            let ragged = ["a,b", "1,2", "", "", "3,4,5", ""].join(end);
            let err = read_str(&ragged).unwrap_err();
            assert!(
                matches!(err, CsvError::Malformed { line: 5, .. }),
                "{end:?}: {err:?}"
            );
            let err = read_str(&ragged[..ragged.len() - end.len()]).unwrap_err();
            assert!(
                matches!(err, CsvError::Malformed { line: 5, .. }),
                "{end:?}: {err:?}"
            );
            // A bad cell after blank lines.
            let bad = ["a,b", "", "1,2", "", "x,4", ""].join(end);
            let err = read_str(&bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    CsvError::BadCell {
                        row: 2,
                        line: 5,
                        ..
                    }
                ),
                "{end:?}: {err:?}"
            );
        }
        // Mixed line endings, as left by editing one line of a `\r\n` file.
        assert_eq!(lines("a,b\r\n1,2\n\r\n7,4\r\n3,4\n5,6"), [2, 4, 5, 6]);
        let err = read_str("a,b\r\n1,2\n\r\nx,4\r\n").unwrap_err();
        assert!(
            matches!(
                err,
                CsvError::BadCell {
                    row: 2,
                    line: 4,
                    ..
                }
            ),
            "{err:?}"
        );
        // Lone `\r` line endings, which the reader does not count: one line per row.
        assert_eq!(lines("a,b\r1,2\r3,4\r"), [2, 3]);
    }

    /// A reader that hands out one byte at a time.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((&b, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = b;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn lines_are_right_across_the_reader_s_buffer_and_in_tiny_reads() {
        for end in ["\n", "\r\n"] {
            // 3000 rows, a blank line after every 100th: row r is on line r + 1 + (r - 1) / 100.
            let mut text = format!("a,b{end}");
            for r in 1..=3000 {
                let a = if r == 2500 {
                    "x".to_string()
                } else {
                    r.to_string()
                };
                text.push_str(&format!("{a},{r}{end}"));
                if r % 100 == 0 {
                    text.push_str(end);
                }
            }
            let want = 2500 + 1 + 2499 / 100;
            let err = read_str(&text).unwrap_err();
            assert!(
                matches!(err, CsvError::BadCell { row: 2500, line, .. } if line == want),
                "{end:?}: {err:?}"
            );
            let err =
                read_from("t.csv", Trickle(text.as_bytes()), &CsvOptions::default()).unwrap_err();
            assert!(
                matches!(err, CsvError::BadCell { row: 2500, line, .. } if line == want),
                "{end:?}, one byte at a time: {err:?}"
            );
        }
    }

    #[test]
    fn a_header_only_file_has_no_rows() {
        let t = read_str("a,b\n").unwrap();
        assert_eq!(t.n_rows, 0);
        assert_eq!(t.columns, [Some(vec![]), Some(vec![])]);
    }
}
