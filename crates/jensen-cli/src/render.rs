//! Rendering diagnostics with miette: source excerpt, label, code and hint.
//!
//! miette is handed an excerpt of the file, not the file: the lines around the diagnostic's
//! span, each line longer than [`MAX_LINE`] bytes cut to a window around the span (with `…`
//! where text is left out), and the line numbers and columns of the file. The renderer pads
//! with `format!` widths, which cannot exceed 65,535, so a long line would panic; and reading
//! the excerpt from the whole file for every diagnostic would make rendering quadratic. Here
//! the file's lines are indexed once, and each diagnostic costs the size of its excerpt.

use std::ops::Range;

use jensen::lang::{Diagnostic, LineIndex, Severity};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

/// Lines longer than this (in bytes) are shown as a window around the span.
pub const MAX_LINE: usize = 200;
/// How much of a long line is shown before the span's start (bytes, about).
const BEFORE: usize = 60;
/// How much of a long line is shown from the span's start (bytes, about).
const AFTER: usize = 100;
/// A span over more lines than this is shown by its first line only.
const MAX_SPAN_LINES: usize = 40;
/// Messages, labels and hints are cut to this many characters.
const MAX_TEXT: usize = 500;
/// Marks left-out text.
const ELLIPSIS: &str = "…";

#[derive(Debug)]
struct Report {
    diag: Diagnostic,
    /// The span in the excerpt's coordinates.
    span: SourceSpan,
    src: Excerpt,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&cut(&self.diag.message))
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.diag.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        (!self.diag.hint.is_empty()).then(|| Box::new(cut(&self.diag.hint)) as Box<_>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let label = (!self.diag.label.is_empty()).then(|| cut(&self.diag.label));
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            label, self.span,
        ))))
    }
}

/// `text` cut to [`MAX_TEXT`] characters.
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT) {
        Some((at, _)) => format!("{}{ELLIPSIS}", &text[..at]),
        None => text.to_string(),
    }
}

/// The lines of a file, found once. Line breaks are those miette counts (`\n`, `\r\n` and a
/// lone `\r`), so that the excerpt's line numbers are the ones miette would show.
struct Lines<'s> {
    source: &'s str,
    /// `(start, end of text, start of the next line)` of every line.
    lines: Vec<(usize, usize, usize)>,
}

impl<'s> Lines<'s> {
    fn new(source: &'s str) -> Self {
        let bytes = source.as_bytes();
        let mut lines = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    lines.push((start, i, i + 1));
                    start = i + 1;
                }
                b'\r' => {
                    let next = if bytes.get(i + 1) == Some(&b'\n') {
                        i + 2
                    } else {
                        i + 1
                    };
                    lines.push((start, i, next));
                    start = next;
                    i = next;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        // The text after the last break (possibly empty) is a line too.
        lines.push((start, bytes.len(), bytes.len()));
        Lines { source, lines }
    }

    /// The line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.lines
            .partition_point(|&(start, _, _)| start <= offset)
            .saturating_sub(1)
    }

    /// The excerpt miette renders for `span`, and the span in its coordinates.
    fn excerpt(&self, name: &str, span: Range<usize>) -> (Excerpt, SourceSpan) {
        let len = self.source.len();
        let start = floor_boundary(self.source, span.start.min(len));
        let mut end = floor_boundary(self.source, span.end.clamp(start, len));
        let first = self.line_of(start);
        let mut last = self.line_of(end.saturating_sub(1).max(start));
        if last - first > MAX_SPAN_LINES {
            last = first;
            end = self.lines[first].1.max(start);
        }
        // One line of context on either side (what the handler asks for), and one more after
        // so that miette stops reading where it would in the whole file.
        let from = first.saturating_sub(1);
        let to = (last + 2).min(self.lines.len() - 1);
        let mut text = String::new();
        let mut shifts = Vec::with_capacity(to - from + 1);
        let (mut new_start, mut new_end) = (0, 0);
        for l in from..=to {
            let (ls, le, next) = self.lines[l];
            let line = &self.source[ls..le];
            let base = text.len();
            // The window of the line that is shown, in offsets into the line.
            let window = if line.len() <= MAX_LINE {
                0..line.len()
            } else if l == first {
                let from = floor_boundary(line, (start - ls).saturating_sub(BEFORE));
                let to = ceil_boundary(line, (start - ls + AFTER).min(line.len()));
                from..to
            } else if l == last {
                let from = floor_boundary(line, (end - ls).saturating_sub(BEFORE));
                let to = ceil_boundary(line, (end - ls + AFTER).min(line.len()));
                from..to
            } else {
                0..floor_boundary(line, MAX_LINE)
            };
            let prefix = if window.start > 0 { ELLIPSIS } else { "" };
            let suffix = if window.end < line.len() {
                ELLIPSIS
            } else {
                ""
            };
            text.push_str(prefix);
            text.push_str(&line[window.clone()]);
            text.push_str(suffix);
            text.push_str(&self.source[le..next]);
            let shown = prefix.len() + window.len();
            // An offset into the line (or its line break), as an offset into the excerpt:
            // text left out maps to the nearest shown position.
            let map = |at: usize| {
                if at > line.len() {
                    base + shown + suffix.len() + (at - line.len())
                } else {
                    base + prefix.len() + at.clamp(window.start, window.end) - window.start
                }
            };
            if l == first {
                new_start = map(start - ls);
            }
            if l == last {
                new_end = map(end - ls);
            }
            shifts.push(window.start as isize - prefix.len() as isize);
        }
        let excerpt = Excerpt {
            name: name.to_string(),
            text,
            first_line: from,
            shifts,
        };
        let span = SourceSpan::new(new_start.into(), new_end.saturating_sub(new_start));
        (excerpt, span)
    }
}

/// The largest char boundary of `s` at or before `at`.
fn floor_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The smallest char boundary of `s` at or after `at`.
fn ceil_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// A few lines of a file, long ones cut, that miette reads as if they were the file.
#[derive(Debug)]
struct Excerpt {
    name: String,
    text: String,
    /// The file's line number (0-based) of the excerpt's first line.
    first_line: usize,
    /// Per excerpt line: file column minus excerpt column (bytes), for the header's column.
    shifts: Vec<isize>,
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        let shift = self.shifts.get(inner.line()).copied().unwrap_or(0);
        let column = if inner.column() == 0 {
            0
        } else {
            (inner.column() as isize + shift).max(0) as usize
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            column,
            inner.line_count() + self.first_line,
        )))
    }
}

/// Renders every diagnostic of a file, with the source excerpt, the way `jensen check` prints them.
pub fn render(path: &str, source: &str, diags: &[Diagnostic], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let lines = Lines::new(source);
    let index = LineIndex::new(source);
    let mut out = String::new();
    for d in diags {
        let (src, span) = lines.excerpt(path, d.span.start..d.span.end);
        let report = Report {
            diag: d.clone(),
            span,
            src,
        };
        let at = index.of(source, d.span.start);
        out.push_str(&format!("{path}:{}:{}\n", at.line, at.column));
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &report);
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    out.push_str(&format!(
        "{errors} error(s), {warnings} warning(s) in {path}\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jensen::lang::diag::DiagCode;
    use jensen::lang::Span;
    use miette::NamedSource;

    /// The rendering of the whole file, as miette does it with the file as the source: the
    /// reference for files without long lines.
    fn whole_file(path: &str, source: &str, d: &Diagnostic) -> String {
        #[derive(Debug)]
        struct Whole<'d> {
            diag: &'d Diagnostic,
            src: NamedSource<String>,
        }
        impl std::fmt::Display for Whole<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.diag.message)
            }
        }
        impl std::error::Error for Whole<'_> {}
        impl miette::Diagnostic for Whole<'_> {
            fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
                Some(Box::new(self.diag.code))
            }
            fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
                (!self.diag.hint.is_empty()).then(|| Box::new(&self.diag.hint) as Box<_>)
            }
            fn source_code(&self) -> Option<&dyn SourceCode> {
                Some(&self.src)
            }
            fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
                let s = self.diag.span;
                let label = (!self.diag.label.is_empty()).then(|| self.diag.label.clone());
                Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
                    label,
                    SourceSpan::new(s.start.into(), s.end - s.start),
                ))))
            }
        }
        let handler =
            GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
        let at = jensen::lang::LineCol::of(source, d.span.start);
        let mut out = format!("{path}:{}:{}\n", at.line, at.column);
        let report = Whole {
            diag: d,
            src: NamedSource::new(path, source.to_string()),
        };
        let _ = handler.render_report(&mut out, &report);
        out
    }

    fn files() -> Vec<(String, String)> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let mut out = Vec::new();
        for dir in ["models", "tests/err"] {
            let mut paths: Vec<_> = std::fs::read_dir(format!("{root}/{dir}"))
                .expect("read the directory")
                .map(|e| e.expect("entry").path())
                .collect();
            paths.sort();
            for p in paths {
                let text = std::fs::read_to_string(&p).expect("read a model file");
                out.push((p.display().to_string(), text));
            }
        }
        out
    }

    /// For lines up to [`MAX_LINE`] bytes the excerpt renders byte for byte as the whole file
    /// does: every span (empty, short, to the end of the line, over several lines) of every
    /// file in `models/` and `tests/err/`, also with `\r\n` and lone `\r` line breaks and
    /// multi-byte characters.
    #[test]
    fn the_excerpt_renders_as_the_whole_file() {
        let mut compared = 0;
        for (path, text) in files() {
            let variants = [
                text.clone(),
                text.replace('\n', "\r\n"),
                text.replace('\n', "\r"),
                text.replace("x", "ξ"),
                text.trim_end().to_string(),
            ];
            for source in variants {
                let len = source.len();
                let mut starts: Vec<usize> = (0..=len).step_by(9).collect();
                starts.push(len);
                for start in starts {
                    for width in [0, 1, 30, 120] {
                        let end = (start + width).min(len);
                        if !source.is_char_boundary(start) || !source.is_char_boundary(end) {
                            continue;
                        }
                        let d = Diagnostic::error(DiagCode::Syntax, Span::new(start, end), "m")
                            .label("here")
                            .hint("h");
                        let ours = render(&path, &source, std::slice::from_ref(&d), false);
                        let reference = whole_file(&path, &source, &d);
                        assert_eq!(
                            ours.strip_suffix(&format!("1 error(s), 0 warning(s) in {path}\n")),
                            Some(reference.as_str()),
                            "{path} span {start}..{end}:\n{source:?}"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 5_000, "{compared}");
    }

    /// Long lines are cut around the span; the position printed is the file's.
    #[test]
    fn a_long_line_is_shown_as_a_window_with_the_file_position() {
        for len in [65_536, 1_000_000] {
            let source = format!("model m\n{}BAD{}\nnext\n", "é".repeat(len), "a".repeat(len));
            let start = "model m\n".len() + "é".len() * len;
            let d = Diagnostic::error(DiagCode::Syntax, Span::new(start, start + 3), "bad")
                .label("here")
                .hint("h");
            let out = render("f.em", &source, &[d], false);
            assert!(out.starts_with(&format!("f.em:2:{}\n", len + 1)), "{out}");
            assert!(
                out.contains(&format!("[f.em:2:{}]", "é".len() * len + 1)),
                "{out}"
            );
            assert!(out.contains("…éééé") && out.contains("BADaaaa") && out.contains("a…"));
            assert!(out.contains(" 3 │ next"), "{out}");
            assert!(out.lines().all(|l| l.chars().count() < 300), "{out}");
        }
    }
}
