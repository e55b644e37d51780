//! Rendering diagnostics with miette: source excerpt, label, code and hint.

use jensen::lang::{Diagnostic, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

#[derive(Debug)]
struct Report {
    diag: Diagnostic,
    src: NamedSource<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diag.message)
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
        (!self.diag.hint.is_empty())
            .then(|| Box::new(&self.diag.hint) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let s = self.diag.span;
        let span = SourceSpan::new(s.start.into(), s.end.saturating_sub(s.start));
        let label = (!self.diag.label.is_empty()).then(|| self.diag.label.clone());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            label, span,
        ))))
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
    let mut out = String::new();
    for d in diags {
        let report = Report {
            diag: d.clone(),
            src: NamedSource::new(path, source.to_string()),
        };
        let at = jensen::lang::LineCol::of(source, d.span.start);
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
