//! Why a command stopped, and the exit status that tells a script so.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success (also when standard output is closed by its reader, e.g. `… \| head`) |
//! | 1 | anything else: a file that cannot be written, an internal error |
//! | 2 | bad options: the command line is wrong (clap's usage errors too) |
//! | 3 | numerical failure: the fit failed, or finished doubtful (degenerate, unsettled); a doubtful fit is still written |
//! | 4 | bad model: the model file cannot be read or has errors (every diagnostic is printed) |
//! | 5 | bad data: the data file cannot be read, parsed or bound to the model |

use std::process::ExitCode;

/// Why a command stopped before finishing.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Exit status 1: a file that cannot be written, anything not classified below.
    Other(String),
    /// Exit status 2: the command line asks for something impossible.
    Options(String),
    /// Exit status 3: the fit failed numerically.
    Numerical(String),
    /// Exit status 4: the model file cannot be read or does not compile. `None` when its
    /// diagnostics were printed already.
    Model(Option<String>),
    /// Exit status 5: the data cannot be read or bound.
    Data(String),
    /// Standard output was closed by its reader (e.g. `jensen predict … | head`): nothing
    /// more is wanted, so the command stops quietly with status 0.
    ClosedOutput,
}

/// The exit status of a doubtful fit (degenerate, unsettled), which is still written.
pub(crate) const DOUBTFUL: u8 = 3;

impl Failure {
    /// The exit status.
    pub(crate) fn code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::ClosedOutput => 0,
            Failure::Other(_) => 1,
            Failure::Options(_) => 2,
            Failure::Numerical(_) => DOUBTFUL,
            Failure::Model(_) => 4,
            Failure::Data(_) => 5,
        })
    }

    /// The message for stderr, if one is still to be printed.
    pub(crate) fn message(&self) -> Option<&str> {
        match self {
            Failure::Other(m)
            | Failure::Options(m)
            | Failure::Numerical(m)
            | Failure::Data(m)
            | Failure::Model(Some(m)) => Some(m),
            Failure::Model(None) | Failure::ClosedOutput => None,
        }
    }

    /// A fit's error, classified: too few rows is the data's fault, a bad start or option
    /// the command line's, the rest numerical.
    pub(crate) fn from_fit(e: jensen::runtime::FitError) -> Failure {
        use jensen::runtime::FitError as E;
        let message = e.to_string();
        match e {
            E::TooFewRows { .. } | E::TooFewRowsForFactors { .. } => Failure::Data(message),
            E::InvalidInit(_) | E::InvalidOption { .. } => Failure::Options(message),
            E::ThreadPool { .. } => Failure::Other(message),
            _ => Failure::Numerical(message),
        }
    }
}

/// Shorthands that classify an error message.
pub(crate) fn options<E: ToString>(e: E) -> Failure {
    Failure::Options(e.to_string())
}

/// A data error.
pub(crate) fn data<E: ToString>(e: E) -> Failure {
    Failure::Data(e.to_string())
}

/// A model error.
pub(crate) fn model<E: ToString>(e: E) -> Failure {
    Failure::Model(Some(e.to_string()))
}

/// A numerical error.
pub(crate) fn numerical<E: ToString>(e: E) -> Failure {
    Failure::Numerical(e.to_string())
}

/// Any other error.
pub(crate) fn other<E: ToString>(e: E) -> Failure {
    Failure::Other(e.to_string())
}

/// A failed write to standard output: a closed pipe ends the command quietly.
pub(crate) fn stdout_error(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::ClosedOutput
    } else {
        Failure::Other(format!("cannot write to standard output: {e}"))
    }
}

/// A failed CSV write to `dest`.
pub(crate) fn csv_error(e: csv::Error, dest: &str) -> Failure {
    match e.kind() {
        csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
            Failure::ClosedOutput
        }
        _ => Failure::Other(format!("cannot write {dest}: {e}")),
    }
}

/// A CSV writer to the file `out`, or to standard output; with the destination's name for
/// messages.
pub(crate) fn csv_output(
    out: Option<&str>,
) -> Result<(csv::Writer<Box<dyn std::io::Write>>, String), Failure> {
    let sink: Box<dyn std::io::Write> = match out {
        Some(p) => Box::new(
            std::fs::File::create(p)
                .map_err(|e| Failure::Other(format!("cannot write {p}: {e}")))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    Ok((
        csv::Writer::from_writer(sink),
        out.unwrap_or("standard output").to_string(),
    ))
}

/// `print!` that stops the command quietly when standard output is closed.
macro_rules! out {
    ($($arg:tt)*) => {
        write!(std::io::stdout(), $($arg)*).map_err($crate::failure::stdout_error)?
    };
}

/// `println!` that stops the command quietly when standard output is closed.
macro_rules! outln {
    () => {
        writeln!(std::io::stdout()).map_err($crate::failure::stdout_error)?
    };
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::failure::stdout_error)?
    };
}
