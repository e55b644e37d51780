//! Diagnostics: every problem found in a model file, with its span, message and a hint.
//!
//! Every diagnostic carries a stable [`DiagCode`], shown as e.g. `E-syntax`: `E-` codes are
//! errors (the model cannot be used), `W-` codes warnings. The codes:
//!
//! | code | variant | meaning |
//! |------|---------|---------|
//! | `E-syntax` | [`Syntax`](DiagCode::Syntax) | A line does not parse. |
//! | `E-empty` | [`Empty`](DiagCode::Empty) | The file holds no model at all. |
//! | `E-duplicate` | [`Duplicate`](DiagCode::Duplicate) | A second `model` line, or a name declared twice. |
//! | `E-const-type` | [`ConstType`](DiagCode::ConstType) | A constant declared with a type other than `int`. |
//! | `E-const-value` | [`ConstValue`](DiagCode::ConstValue) | A constant's value is not a whole number, is below 1, or is above [`crate::check::MAX_SIZE`]. |
//! | `E-decl-type` | [`DeclType`](DiagCode::DeclType) | A declaration (`data`, `param`, `latent`) with a type that kind cannot have. |
//! | `E-data-plates` | [`DataPlates`](DiagCode::DataPlates) | A data item not indexed by its rows exactly once. |
//! | `E-from` | [`From`](DiagCode::From) | A wrong `from` or `except` column clause. |
//! | `E-type` | [`Type`](DiagCode::Type) | An unknown type, a type with the wrong number of sizes, or a category range not starting at 0. |
//! | `E-size` | [`Size`](DiagCode::Size) | An index set whose size is unknown, or that is used both for rows and for a dimension, or a literal size below 1 or above [`crate::check::MAX_SIZE`]. |
//! | `E-target` | [`Target`](DiagCode::Target) | The left of `~` is not a declared variable. |
//! | `E-index` | [`Index`](DiagCode::Index) | A wrong index: the number of indices, a loop variable, an index set, or an element selected by something that is not a discrete latent. |
//! | `E-name` | [`Name`](DiagCode::Name) | An unknown name (variable or index), or a declaration named `self`, `Self`, `super`, `crate` or `_`. |
//! | `E-arg` | [`Arg`](DiagCode::Arg) | A malformed argument (a loop variable used as a value, `diag` with several arguments). |
//! | `E-func` | [`Func`](DiagCode::Func) | An unknown function in an argument. |
//! | `E-dist` | [`Dist`](DiagCode::Dist) | An unknown distribution (the known ones are [`crate::ir::DISTRIBUTIONS`]). |
//! | `E-arity` | [`Arity`](DiagCode::Arity) | A distribution with the wrong number of arguments. |
//! | `E-arg-type` | [`ArgType`](DiagCode::ArgType) | An argument of the wrong type for its distribution. |
//! | `E-target-type` | [`TargetType`](DiagCode::TargetType) | A distribution applied to a variable of the wrong type. |
//! | `E-unsupported` | [`Unsupported`](DiagCode::Unsupported) | Valid in the language but not supported yet: a distribution without a closed-form block, several latents, dynamics of a continuous latent. |
//! | `E-no-closed-form` | [`NoClosedForm`](DiagCode::NoClosedForm) | The derivation finds no closed-form M-step: a prior of a family not supported (or written on part of a parameter, or twice), a parameter shared in a way that breaks conjugacy, a mean that is not linear. |
//! | `E-unused-param` | [`UnusedParam`](DiagCode::UnusedParam) | A parameter that appears in no statement. |
//! | `E-no-latent` | [`NoLatent`](DiagCode::NoLatent) | The model has no latent variable, so there is nothing for EM to infer. |
//! | `E-latent-plates` | [`LatentPlates`](DiagCode::LatentPlates) | A latent not indexed like the data rows it explains. |
//! | `E-latent-prior` | [`LatentPrior`](DiagCode::LatentPrior) | A latent with no distribution or two, or a chain without its first state or its transitions. |
//! | `E-nesting` | [`Nesting`](DiagCode::Nesting) | Brackets, or an expression's operators and indices, nested deeper than [`crate::parse::MAX_DEPTH`] levels. |
//! | `E-estep` | [`EStep`](DiagCode::EStep) | An `estep` line with a mode other than `soft` or `hard`, or a second `estep` line. |
//! | `E-method` | [`Method`](DiagCode::Method) | A `method` line other than `em` or `vb`, a second one, or what variational Bayes cannot do (a hard E-step, an improper prior, a regression, a latent scale). |
//! | `E-weights` | [`Weights`](DiagCode::Weights) | A `weight` item modelled by a statement or used in one, a second `weight` item, or one not indexed by the latent's rows. |
//! | `W-unused-data` | [`UnusedData`](DiagCode::UnusedData) | Warning: a data item that no statement models. |

use serde::{Serialize, Serializer};

/// The stable short code of a [`Diagnostic`]. [`DiagCode::as_str`] is the text shown to users
/// and written when a diagnostic is serialised; the module documentation lists every code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DiagCode {
    /// `E-syntax`: A line does not parse.
    Syntax,
    /// `E-empty`: The file holds no model at all.
    Empty,
    /// `E-duplicate`: A second `model` line, or a name declared twice.
    Duplicate,
    /// `E-const-type`: A constant declared with a type other than `int`.
    ConstType,
    /// `E-const-value`: A constant's value is not a whole number, is below 1, or is above [`crate::check::MAX_SIZE`].
    ConstValue,
    /// `E-decl-type`: A declaration (`data`, `param`, `latent`) with a type that kind cannot have.
    DeclType,
    /// `E-data-plates`: A data item not indexed by its rows exactly once.
    DataPlates,
    /// `E-from`: A wrong `from` or `except` column clause.
    From,
    /// `E-type`: An unknown type, a type with the wrong number of sizes, or a category range not starting at 0.
    Type,
    /// `E-size`: An index set whose size is unknown, or that is used both for rows and for a dimension, or a literal size below 1 or above [`crate::check::MAX_SIZE`].
    Size,
    /// `E-target`: The left of `~` is not a declared variable.
    Target,
    /// `E-index`: A wrong index: the number of indices, a loop variable, an index set, or an element selected by something that is not a discrete latent.
    Index,
    /// `E-name`: An unknown name (variable or index), or a declaration named `self`, `Self`, `super`, `crate` or `_`.
    Name,
    /// `E-arg`: A malformed argument (a loop variable used as a value, `diag` with several arguments).
    Arg,
    /// `E-func`: An unknown function in an argument.
    Func,
    /// `E-dist`: An unknown distribution (the known ones are [`crate::ir::DISTRIBUTIONS`]).
    Dist,
    /// `E-arity`: A distribution with the wrong number of arguments.
    Arity,
    /// `E-arg-type`: An argument of the wrong type for its distribution.
    ArgType,
    /// `E-target-type`: A distribution applied to a variable of the wrong type.
    TargetType,
    /// `E-unsupported`: Valid in the language but not supported yet: a distribution without a closed-form block, several latents, dynamics of a continuous latent.
    Unsupported,
    /// `E-no-closed-form`: The derivation finds no closed-form M-step: a prior of a family not supported (or written on part of a parameter, or twice), a parameter shared in a way that breaks conjugacy, a mean that is not linear.
    NoClosedForm,
    /// `E-unused-param`: A parameter that appears in no statement.
    UnusedParam,
    /// `E-no-latent`: The model has no latent variable, so there is nothing for EM to infer.
    NoLatent,
    /// `E-latent-plates`: A latent not indexed like the data rows it explains.
    LatentPlates,
    /// `E-latent-prior`: A latent with no distribution or two, or a chain without its first state or its transitions.
    LatentPrior,
    /// `E-nesting`: Brackets, or an expression's operators and indices, nested deeper than [`crate::parse::MAX_DEPTH`] levels.
    Nesting,
    /// `E-estep`: An `estep` line with a mode other than `soft` or `hard`, or a second `estep` line.
    EStep,
    /// `E-method`: A `method` line other than `em` or `vb`, a second one, or what variational Bayes cannot do (a hard E-step, an improper prior, a regression, a latent scale).
    Method,
    /// `E-weights`: A `weight` item modelled by a statement or used in one, a second `weight` item, or one not indexed by the latent's rows.
    Weights,
    /// `W-unused-data`: Warning: a data item that no statement models.
    UnusedData,
}

impl DiagCode {
    /// Every code, in declaration order.
    pub const ALL: [DiagCode; 30] = [
        DiagCode::Syntax,
        DiagCode::Empty,
        DiagCode::Duplicate,
        DiagCode::ConstType,
        DiagCode::ConstValue,
        DiagCode::DeclType,
        DiagCode::DataPlates,
        DiagCode::From,
        DiagCode::Type,
        DiagCode::Size,
        DiagCode::Target,
        DiagCode::Index,
        DiagCode::Name,
        DiagCode::Arg,
        DiagCode::Func,
        DiagCode::Dist,
        DiagCode::Arity,
        DiagCode::ArgType,
        DiagCode::TargetType,
        DiagCode::Unsupported,
        DiagCode::NoClosedForm,
        DiagCode::UnusedParam,
        DiagCode::NoLatent,
        DiagCode::LatentPlates,
        DiagCode::LatentPrior,
        DiagCode::Nesting,
        DiagCode::EStep,
        DiagCode::Method,
        DiagCode::Weights,
        DiagCode::UnusedData,
    ];

    /// The code as shown, e.g. `"E-syntax"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DiagCode::Syntax => "E-syntax",
            DiagCode::Empty => "E-empty",
            DiagCode::Duplicate => "E-duplicate",
            DiagCode::ConstType => "E-const-type",
            DiagCode::ConstValue => "E-const-value",
            DiagCode::DeclType => "E-decl-type",
            DiagCode::DataPlates => "E-data-plates",
            DiagCode::From => "E-from",
            DiagCode::Type => "E-type",
            DiagCode::Size => "E-size",
            DiagCode::Target => "E-target",
            DiagCode::Index => "E-index",
            DiagCode::Name => "E-name",
            DiagCode::Arg => "E-arg",
            DiagCode::Func => "E-func",
            DiagCode::Dist => "E-dist",
            DiagCode::Arity => "E-arity",
            DiagCode::ArgType => "E-arg-type",
            DiagCode::TargetType => "E-target-type",
            DiagCode::Unsupported => "E-unsupported",
            DiagCode::NoClosedForm => "E-no-closed-form",
            DiagCode::UnusedParam => "E-unused-param",
            DiagCode::NoLatent => "E-no-latent",
            DiagCode::LatentPlates => "E-latent-plates",
            DiagCode::LatentPrior => "E-latent-prior",
            DiagCode::Nesting => "E-nesting",
            DiagCode::EStep => "E-estep",
            DiagCode::Method => "E-method",
            DiagCode::Weights => "E-weights",
            DiagCode::UnusedData => "W-unused-data",
        }
    }

    /// The code whose text is `text`, if any.
    pub fn from_text(text: &str) -> Option<DiagCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl std::fmt::Display for DiagCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DiagCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A byte range in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from byte offsets.
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Severity {
    /// The model cannot be used.
    Error,
    /// The model works, but something is probably not what was meant.
    Warning,
}

/// One problem in a model file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable short code, e.g. `E-syntax`.
    pub code: DiagCode,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
    /// Short text shown at the span.
    pub label: String,
    /// What to do about it.
    pub hint: String,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(code: DiagCode, span: Span, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: String::new(),
            hint: String::new(),
        }
    }

    /// A warning at `span`.
    pub fn warning(code: DiagCode, span: Span, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, span, message)
        }
    }

    /// Sets the label shown at the span.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Sets the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// One-line plain rendering, `file:line:col: error[code]: message (hint: ...)`, for places
    /// without a terminal renderer (the derive macro's `compile_error!`).
    pub fn to_plain(&self, file: &str, source: &str) -> String {
        let at = LineCol::of(source, self.span.start);
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut s = format!(
            "{file}:{}:{}: {kind}[{}]: {}",
            at.line, at.column, self.code, self.message
        );
        if !self.hint.is_empty() {
            s.push_str(&format!("\n  hint: {}", self.hint));
        }
        s
    }
}

/// 1-based line and column (in characters) of a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineCol {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl LineCol {
    /// The position of `offset` in `source` (clamped to its length).
    pub fn of(source: &str, offset: usize) -> LineCol {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        LineCol {
            line,
            column: source[line_start..offset].chars().count() + 1,
        }
    }
}

/// The lines of a source, found once, so that the line and column of many offsets cost a
/// binary search each rather than a scan of the file.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    /// Byte offsets of the `\n`s.
    newlines: Vec<usize>,
}

impl LineIndex {
    /// Indexes `source`.
    pub fn new(source: &str) -> Self {
        LineIndex {
            newlines: source
                .bytes()
                .enumerate()
                .filter_map(|(i, b)| (b == b'\n').then_some(i))
                .collect(),
        }
    }

    /// [`LineCol::of`] for the `source` this index was built from.
    pub fn of(&self, source: &str, offset: usize) -> LineCol {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.newlines.partition_point(|&n| n < offset);
        let start = if line == 0 {
            0
        } else {
            self.newlines[line - 1] + 1
        };
        LineCol {
            line: line + 1,
            column: source[start..offset].chars().count() + 1,
        }
    }
}

/// Edit distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(!ca.eq_ignore_ascii_case(&cb));
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within a small edit distance.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = |c: &str| (name.len().max(c.len()) / 3).max(1);
    let chars = name.chars().count();
    candidates
        .into_iter()
        // The distance is at least the difference in length: skip what cannot be close
        // (and never compare a very long name character by character).
        .filter(|c| chars.abs_diff(c.chars().count()) <= limit(c))
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= limit(c))
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_listed_once_and_well_formed() {
        for (i, code) in DiagCode::ALL.into_iter().enumerate() {
            // `ALL` is in declaration order and complete (the last variant is its last entry).
            assert_eq!(code as usize, i);
            let text = code.as_str();
            assert!(
                (text.starts_with("E-") || text.starts_with("W-"))
                    && text[2..]
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '-'),
                "{text}"
            );
            assert_eq!(DiagCode::from_text(text), Some(code));
            assert_eq!(code.to_string(), text);
        }
        assert_eq!(DiagCode::UnusedData as usize + 1, DiagCode::ALL.len());
        assert_eq!(DiagCode::from_text("E-nonsense"), None);
    }

    #[test]
    fn the_module_docs_list_every_code() {
        let docs = include_str!("diag.rs");
        for code in DiagCode::ALL {
            let row = format!("//! | `{code}` | [`{code:?}`](DiagCode::{code:?}) |");
            assert!(docs.contains(&row), "no row for {code}");
        }
    }

    #[test]
    fn the_line_index_agrees_with_line_col() {
        let source = "ab\nc\u{e9}d\n\nlast";
        let index = LineIndex::new(source);
        for offset in 0..=source.len() + 2 {
            assert_eq!(
                index.of(source, offset),
                LineCol::of(source, offset),
                "{offset}"
            );
        }
    }

    #[test]
    fn suggest_skips_names_of_very_different_length() {
        assert_eq!(suggest("muu", ["mu", "Sigma"]), Some("mu"));
        assert_eq!(suggest(&"q".repeat(100_000), ["q", "qq"]), None);
    }

    #[test]
    fn codes_render_as_their_text() {
        let w = Diagnostic::warning(DiagCode::UnusedData, Span::new(0, 1), "unused");
        assert!(!w.is_error());
        assert_eq!(w.code.as_str(), "W-unused-data");
        let e = Diagnostic::error(DiagCode::Syntax, Span::new(0, 1), "bad");
        assert!(e.to_plain("m.em", "x").contains("error[E-syntax]"));
    }
}
