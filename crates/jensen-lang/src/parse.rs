//! Source text → [`crate::ast::File`], with every syntax error of the file reported.
//!
//! The file is cut into logical lines (a line continues while a bracket is open), and the
//! pest grammar parses each on its own, so a syntax error costs only its own line.

use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;

use crate::ast::*;
use crate::diag::{DiagCode, Diagnostic, Span};

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct ModelParser;

/// Parses a whole file; syntax errors go to the returned diagnostics.
pub fn parse(source: &str) -> (File, Vec<Diagnostic>) {
    // Track the tokens expected at the furthest position, for "expected `:`" messages.
    pest::set_error_detail(true);
    let mut file = File::default();
    let mut diags = Vec::new();
    for (start, text) in logical_lines(source) {
        match ModelParser::parse(Rule::line, text) {
            Ok(mut pairs) => {
                let line = pairs
                    .next()
                    .expect("the `line` rule always yields one pair");
                for pair in line.into_inner() {
                    if pair.as_rule() != Rule::EOI {
                        file.items.push(item(pair, start));
                    }
                }
            }
            Err(e) => {
                // A declaration that failed to parse still declares its name, so later lines
                // using it do not pile up "unknown name" errors.
                let mut words = text
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty());
                if let (Some("data" | "param" | "latent" | "const"), Some(name)) =
                    (words.next(), words.next())
                {
                    file.poisoned.push(name.to_string());
                }
                diags.push(syntax_error(e, start, text))
            }
        }
    }
    (file, diags)
}

/// Splits the source into `(offset, text)` logical lines: a newline inside `(` or `[` does
/// not end the line. Comments are kept (the grammar skips them) but their brackets are ignored.
fn logical_lines(source: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut depth: i32 = 0;
    let mut start = 0;
    let mut in_comment = false;
    let bytes = source.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' => {
                in_comment = false;
                if depth <= 0 {
                    out.push((start, &source[start..i]));
                    start = i + 1;
                    depth = 0;
                }
            }
            _ if in_comment => {}
            b'/' if bytes.get(i + 1) == Some(&b'/') => in_comment = true,
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            _ => {}
        }
    }
    if start < source.len() {
        out.push((start, &source[start..]));
    }
    out
}

fn span(pair: &Pair<'_, Rule>, offset: usize) -> Span {
    let s = pair.as_span();
    Span::new(offset + s.start(), offset + s.end())
}

fn ident(pair: Pair<'_, Rule>, offset: usize) -> Ident {
    Ident {
        span: span(&pair, offset),
        name: pair.as_str().to_string(),
    }
}

fn item(pair: Pair<'_, Rule>, offset: usize) -> Item {
    let whole = span(&pair, offset);
    match pair.as_rule() {
        Rule::model_decl => Item::Model(ident(
            pair.into_inner().next().expect("grammar: model name"),
            offset,
        )),
        Rule::const_decl => {
            let mut it = pair.into_inner();
            let name = ident(it.next().expect("grammar: const name"), offset);
            let ty = ident(it.next().expect("grammar: const type"), offset);
            let value = it.next().expect("grammar: const value");
            Item::Const(ConstDecl {
                name,
                ty,
                value_span: span(&value, offset),
                value: value.as_str().to_string(),
                span: whole,
            })
        }
        Rule::data_decl | Rule::param_decl | Rule::latent_decl => {
            let kind = match pair.as_rule() {
                Rule::data_decl => DeclKind::Data,
                Rule::param_decl => DeclKind::Param,
                _ => DeclKind::Latent,
            };
            let mut name = None;
            let mut plates = Vec::new();
            let mut ty = None;
            let mut columns = None;
            let mut except = None;
            let column_list = |p: Pair<'_, Rule>| -> Vec<Ident> {
                p.into_inner()
                    .map(|c| {
                        let inner = c.into_inner().next().expect("grammar: column");
                        let mut id = ident(inner, offset);
                        id.name = id.name.trim_matches('"').to_string();
                        id
                    })
                    .collect()
            };
            for p in pair.into_inner() {
                match p.as_rule() {
                    Rule::ident => name = Some(ident(p, offset)),
                    Rule::plates => plates = p.into_inner().map(|i| ident(i, offset)).collect(),
                    Rule::named_type | Rule::range_type => ty = Some(type_expr(p, offset)),
                    Rule::from_clause => columns = Some(column_list(p)),
                    Rule::except_clause => except = Some(column_list(p)),
                    _ => {}
                }
            }
            Item::Decl(Decl {
                kind,
                name: name.expect("grammar: declaration name"),
                plates,
                ty: ty.expect("grammar: declaration type"),
                columns,
                except,
                span: whole,
            })
        }
        Rule::sample_stmt => {
            let mut it = pair.into_inner();
            let target = expr(it.next().expect("grammar: target"), offset);
            let dist = ident(it.next().expect("grammar: distribution"), offset);
            let args = it
                .next()
                .map(|a| a.into_inner().map(|e| expr(e, offset)).collect())
                .unwrap_or_default();
            Item::Sample(Sample {
                target,
                dist,
                args,
                span: whole,
            })
        }
        r => unreachable!("grammar: unexpected item rule {r:?}"),
    }
}

fn size(pair: Pair<'_, Rule>, offset: usize) -> Size {
    let inner = pair.into_inner().next().expect("grammar: size");
    match inner.as_rule() {
        // Digits only, so the parse can fail only by overflow.
        Rule::int => Size::Lit(
            inner.as_str().parse().unwrap_or(usize::MAX),
            span(&inner, offset),
        ),
        _ => Size::Name(ident(inner, offset)),
    }
}

fn type_expr(pair: Pair<'_, Rule>, offset: usize) -> TypeExpr {
    let whole = span(&pair, offset);
    match pair.as_rule() {
        Rule::range_type => {
            let mut it = pair.into_inner();
            let lo = it
                .next()
                .expect("grammar: range start")
                .as_str()
                .parse()
                .unwrap_or(usize::MAX);
            TypeExpr::Range {
                lo,
                hi: size(it.next().expect("grammar: range end"), offset),
                span: whole,
            }
        }
        _ => {
            let mut it = pair.into_inner();
            let name = ident(it.next().expect("grammar: type name"), offset);
            TypeExpr::Named {
                name,
                sizes: it.map(|s| size(s, offset)).collect(),
                span: whole,
            }
        }
    }
}

fn pratt() -> PrattParser<Rule> {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left))
        .op(Op::prefix(Rule::neg))
}

fn expr(pair: Pair<'_, Rule>, offset: usize) -> Expr {
    pratt()
        .map_primary(|p| primary(p, offset))
        .map_prefix(|op, rhs| {
            let s = span(&op, offset).join(rhs.span());
            Expr::Neg(Box::new(rhs), s)
        })
        .map_infix(|lhs, op, rhs| {
            let op = match op.as_rule() {
                Rule::add => BinOp::Add,
                Rule::sub => BinOp::Sub,
                _ => BinOp::Mul,
            };
            let s = lhs.span().join(rhs.span());
            Expr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                span: s,
            }
        })
        .parse(pair.into_inner())
}

fn primary(pair: Pair<'_, Rule>, offset: usize) -> Expr {
    let whole = span(&pair, offset);
    match pair.as_rule() {
        Rule::number => Expr::Num(pair.as_str().parse().unwrap_or(f64::NAN), whole),
        Rule::expr => expr(pair, offset),
        Rule::call => {
            let mut it = pair.into_inner();
            let func = ident(it.next().expect("grammar: function"), offset);
            let args = it
                .next()
                .map(|a| a.into_inner().map(|e| expr(e, offset)).collect())
                .unwrap_or_default();
            Expr::Call {
                func,
                args,
                span: whole,
            }
        }
        _ => {
            let mut it = pair.into_inner();
            let name = ident(it.next().expect("grammar: name"), offset);
            Expr::Index {
                name,
                indices: it.map(|e| expr(e, offset)).collect(),
                span: whole,
            }
        }
    }
}

fn rule_name(rule: &Rule) -> &'static str {
    match rule {
        Rule::ident => "a name",
        Rule::int => "a whole number",
        Rule::number => "a number",
        Rule::string => "a quoted column name",
        Rule::plates => "index sets like `[N]`",
        Rule::named_type | Rule::range_type => {
            "a type such as `vector[D]`, `cov[D]`, `simplex[K]` or `0..K`"
        }
        Rule::size => "a size",
        Rule::from_clause => "`from (columns)`",
        Rule::except_clause => "`except (columns)`",
        Rule::expr | Rule::indexed | Rule::call => "an expression",
        Rule::args => "arguments",
        Rule::add | Rule::sub | Rule::mul => "an operator",
        Rule::EOI => "the end of the line",
        Rule::model_decl
        | Rule::const_decl
        | Rule::data_decl
        | Rule::param_decl
        | Rule::latent_decl
        | Rule::sample_stmt => "a declaration or a `~` statement",
        _ => "something else",
    }
}

fn syntax_error(e: pest::error::Error<Rule>, offset: usize, text: &str) -> Diagnostic {
    let (mut start, mut end) = match e.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((a, b)) => (a, b),
    };
    let mut expected: Vec<String> = Vec::new();
    if let Some(attempts) = e.parse_attempts() {
        start = attempts.max_position.min(text.len());
        end = start;
        for t in attempts.expected_tokens() {
            let t = t.to_string();
            if !t.trim().is_empty() && t != "//" {
                expected.push(format!("`{t}`"));
            }
        }
    }
    if expected.is_empty() {
        if let ErrorVariant::ParsingError { positives, .. } = &e.variant {
            expected.extend(positives.iter().map(|r| rule_name(r).to_string()));
        }
    }
    expected.sort();
    expected.dedup();
    // Point at the offending token rather than at an empty position.
    let rest = &text[start..];
    let token_len = if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())
    } else {
        rest.chars().next().map_or(0, char::len_utf8)
    };
    let end = end.max(start + token_len).min(text.len());
    let found = text[start..end].trim();
    let expected = if expected.is_empty() {
        "a declaration or a statement".to_string()
    } else {
        expected.join(" or ")
    };
    let message = match &e.variant {
        ErrorVariant::CustomError { message } => message.clone(),
        _ if found.is_empty() => format!("expected {expected}, found the end of the line"),
        _ => format!("expected {expected}, found `{found}`"),
    };
    let hint = line_hint(text.trim_start());
    Diagnostic::error(
        DiagCode::Syntax,
        Span::new(offset + start, offset + end),
        format!("syntax error: {message}"),
    )
    .label("here")
    .hint(hint)
}

fn line_hint(line: &str) -> &'static str {
    let first = line
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("");
    match first {
        "model" => "write `model NAME`",
        "const" => "write `const NAME: int = VALUE`, e.g. `const K: int = 3`",
        "data" => "write `data NAME[N]: TYPE`, e.g. `data x[N]: vector[D]`, optionally `from (col1, col2)`",
        "param" => "write `param NAME[K]: TYPE`, e.g. `param mu[K]: vector[D]` or `param w: simplex[K]`",
        "latent" => "write `latent NAME[N]: 0..K`",
        _ if line.contains('~') => "a statement reads `target ~ Distribution(arg, ...)`, e.g. `x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])`",
        _ => "each line is a declaration (`model`, `const`, `data`, `param`, `latent`) or a statement `x[n] ~ Dist(...)`",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_gaussian_mixture() {
        let src = "model gmm\nconst K: int = 2\ndata x[N]: vector[D]\nparam w: simplex[K]\nparam mu[K]: vector[D]\nparam Sigma[K]: cov[D]\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\nx[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])\n";
        let (file, diags) = parse(src);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(file.items.len(), 9);
    }

    #[test]
    fn reports_every_bad_line() {
        let (file, diags) = parse("model m\nparam mu[K] vector[D]\nx[n] ~ \ndata x[N]: real\n");
        assert_eq!(diags.len(), 2);
        assert_eq!(file.items.len(), 2);
    }

    #[test]
    fn continues_lines_inside_brackets() {
        let (file, diags) = parse("x[n] ~ MvNormal(\n  mu[z[n]],\n  Sigma[z[n]])\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(file.items.len(), 1);
    }

    #[test]
    fn precedence_of_products_over_sums() {
        let (file, _) = parse("x[n] ~ MvNormal(W * h[n] + mu, diag(psi))");
        let Item::Sample(s) = &file.items[0] else {
            panic!()
        };
        assert!(matches!(&s.args[0], Expr::Binary { op: BinOp::Add, .. }));
    }
}
