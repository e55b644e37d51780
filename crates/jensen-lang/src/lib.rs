//! The jensen model language, stage by stage: [`parse`] (pest grammar → spanned [`ast`]),
//! [`check`] (names, sizes and types → the model [`ir`]), and [`derive`](mod@derive) (IR → the
//! [`plan`] of closed-form EM updates), then [`program`] (the plan lowered to kernel calls,
//! which every back-end prints or interprets). Every stage reports all its problems as
//! [`Diagnostic`]s with a span and a hint; nothing here panics on user input.

pub mod ast;
pub mod check;
pub mod derive;
pub mod diag;
pub mod ir;
pub mod parse;
pub mod plan;
pub mod program;

pub use diag::{Diagnostic, LineCol, LineIndex, Severity, Span};
pub use plan::Plan;
pub use program::Program;

/// Parses, checks and derives a model file in one go. `Err` holds every diagnostic that is an
/// error (warnings are returned alongside a successful plan).
pub fn compile(source: &str) -> Result<(Plan, Vec<Diagnostic>), Vec<Diagnostic>> {
    compile_for(source, None)
}

/// [`compile`] with the inference method chosen by the caller (`--method vb`), which takes
/// the place of the file's `method` line.
pub fn compile_for(
    source: &str,
    method: Option<ir::Method>,
) -> Result<(Plan, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (file, mut diags) = parse::parse(source);
    let model = check::check_for(&file, source, &mut diags, method);
    let plan = match model {
        Some(m) if !diags.iter().any(Diagnostic::is_error) => derive::derive(m, &mut diags),
        _ => None,
    };
    match plan {
        Some(plan) if !diags.iter().any(Diagnostic::is_error) => Ok((plan, diags)),
        _ => {
            diags.sort_by_key(|d| (d.span.start, d.span.end));
            Err(diags)
        }
    }
}
