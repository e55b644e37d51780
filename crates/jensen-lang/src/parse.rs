//! Source text → [`crate::ast::File`], with every syntax error of the file reported.
//!
//! The file is cut into logical lines (a line continues while a bracket is open), and the
//! pest grammar parses each on its own, so a syntax error costs only its own line.
//!
//! Nesting is bounded by [`MAX_DEPTH`]: the parser (recursive descent), the syntax tree's
//! construction and every later walk of it (checking, rendering, dropping) recurse once per
//! level, so a line whose brackets nest deeper, or an expression whose tree would be deeper
//! (a chain of `a + b + …` is one level per operator), is reported as an `E-nesting` error
//! instead of being handed on. Brackets are counted on the text before pest sees it.

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
    for line in logical_lines(source) {
        let (start, text) = (line.start, line.text);
        let result = match line.too_deep {
            // Pest is recursive descent: a line nested deeper than the limit never reaches it.
            Some(at) => Err(nesting_error(start + at, "brackets nest")),
            None => ModelParser::parse(Rule::line, text)
                .map_err(|e| syntax_error(e, start, text))
                .and_then(|mut pairs| {
                    let line = pairs
                        .next()
                        .expect("the `line` rule always yields one pair");
                    // The tree is built only when it is shallow enough for every walk of it.
                    match line.clone().into_inner().find_map(|p| too_deep(&p, start)) {
                        Some(d) => Err(d),
                        None => Ok(line),
                    }
                }),
        };
        match result {
            Ok(line) => {
                for pair in line.into_inner() {
                    if pair.as_rule() != Rule::EOI {
                        file.items.push(item(pair, start));
                    }
                }
            }
            Err(d) => {
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
                diags.push(d)
            }
        }
    }
    (file, diags)
}

/// How deeply a line may nest: brackets (`(`, `[`) counted on the text, and the depth of an
/// expression's tree, where every operator of a chain like `a + b + c` is one level, as are
/// an index (`mu[z[n]]` is two) and a function call. Real models need a handful of levels
/// (`x[n] ~ MvNormal(W * h[n] + mu[z[n]], diag(psi))` needs four). The bound keeps the
/// recursion of the parser and of every walk of the tree well inside a 2 MiB thread stack
/// in a debug build (the tests run there; `tests/tests/fuzz_models.rs` checks it).
pub const MAX_DEPTH: usize = 64;

/// One logical line of the source.
struct LogicalLine<'a> {
    /// Byte offset of the line in the source.
    start: usize,
    /// Its text.
    text: &'a str,
    /// Offset in `text` of the bracket at which the nesting first passes [`MAX_DEPTH`].
    too_deep: Option<usize>,
}

/// Splits the source into logical lines: a newline inside `(` or `[` does not end the line.
/// Comments are kept (the grammar skips them) but their brackets are ignored.
fn logical_lines(source: &str) -> Vec<LogicalLine<'_>> {
    let mut out = Vec::new();
    let mut depth: i64 = 0;
    let mut start = 0;
    let mut in_comment = false;
    let mut too_deep = None;
    let bytes = source.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' => {
                in_comment = false;
                if depth <= 0 {
                    out.push(LogicalLine {
                        start,
                        text: &source[start..i],
                        too_deep: too_deep.take(),
                    });
                    start = i + 1;
                    depth = 0;
                }
            }
            _ if in_comment => {}
            b'/' if bytes.get(i + 1) == Some(&b'/') => in_comment = true,
            b'(' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH as i64 && too_deep.is_none() {
                    too_deep = Some(i - start);
                }
            }
            b')' | b']' => depth -= 1,
            _ => {}
        }
    }
    if start < source.len() {
        out.push(LogicalLine {
            start,
            text: &source[start..],
            too_deep,
        });
    }
    out
}

/// The `E-nesting` error at byte `at`.
fn nesting_error(at: usize, what: &str) -> Diagnostic {
    Diagnostic::error(
        DiagCode::Nesting,
        Span::new(at, at + 1),
        format!("{what} deeper than {MAX_DEPTH} levels"),
    )
    .label(format!("level {} starts here", MAX_DEPTH + 1))
    .hint(format!(
        "a model needs a few levels, e.g. `MvNormal(W * h[n] + mu[z[n]], diag(psi))`; brackets, \
         indices, calls and every operator of a chain like `a + b + c` each add one, up to \
         {MAX_DEPTH}"
    ))
}

/// The `E-nesting` error of the first expression under `pair` whose tree would be deeper
/// than [`MAX_DEPTH`], if any. Recurses along the brackets only, which the text scan bounded.
fn too_deep(pair: &Pair<'_, Rule>, offset: usize) -> Option<Diagnostic> {
    match pair.as_rule() {
        Rule::expr => depth(pair, MAX_DEPTH)
            .err()
            .map(|at| nesting_error(offset + at, "this expression nests")),
        _ => pair.clone().into_inner().find_map(|p| too_deep(&p, offset)),
    }
}

/// An upper bound of the depth of the tree [`expr`] builds from `pair`, or the offset (in the
/// logical line) of the operator or bracket at which it passes `limit`.
fn depth(pair: &Pair<'_, Rule>, limit: usize) -> Result<usize, usize> {
    match pair.as_rule() {
        Rule::expr => {
            // A chain `p0 op p1 op p2 …` (each primary possibly negated) builds a tree at most
            // as deep as its operators plus its deepest primary.
            let mut ops = Vec::new();
            let mut deepest = 0;
            for p in pair.clone().into_inner() {
                match p.as_rule() {
                    Rule::add | Rule::sub | Rule::mul | Rule::div | Rule::neg => {
                        ops.push(p.as_span().start());
                        if ops.len() >= limit {
                            return Err(p.as_span().start());
                        }
                    }
                    _ => deepest = deepest.max(depth(&p, limit - ops.len())?),
                }
            }
            let total = ops.len() + deepest;
            if total > limit {
                // The operator at which the chain passes the limit.
                return Err(ops[limit.saturating_sub(deepest)]);
            }
            Ok(total)
        }
        Rule::call | Rule::indexed => {
            let mut deepest = 0;
            for p in pair.clone().into_inner() {
                match p.as_rule() {
                    Rule::ident => {}
                    _ if limit <= 1 => return Err(p.as_span().start()),
                    _ => deepest = deepest.max(depth(&p, limit - 1)?),
                }
            }
            Ok(1 + deepest)
        }
        Rule::args => {
            let mut deepest = 0;
            for p in pair.clone().into_inner() {
                deepest = deepest.max(depth(&p, limit)?);
            }
            Ok(deepest)
        }
        _ => Ok(1),
    }
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
        Rule::estep_decl => Item::EStep(ident(
            pair.into_inner().next().expect("grammar: E-step mode"),
            offset,
        )),
        Rule::method_decl => Item::Method(ident(
            pair.into_inner().next().expect("grammar: method name"),
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
            let mut fixed = None;
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
                    Rule::fixed_value => {
                        let span = span(&p, offset);
                        let negative = p.as_str().contains('-');
                        let digits = p
                            .into_inner()
                            .find(|q| q.as_rule() == Rule::number)
                            .expect("grammar: a number");
                        let v: f64 = digits.as_str().parse().unwrap_or(f64::INFINITY);
                        fixed = Some((if negative { -v } else { v }, span));
                    }
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
                fixed,
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
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
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
                Rule::div => BinOp::Div,
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
        Rule::add | Rule::sub | Rule::mul | Rule::div => "an operator",
        Rule::EOI => "the end of the line",
        Rule::model_decl
        | Rule::const_decl
        | Rule::estep_decl
        | Rule::method_decl
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
    let found = crate::check::shorten(text[start..end].trim());
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
    fn brackets_deeper_than_the_limit_are_reported_where_they_pass_it() {
        let deep = format!(
            "x[n] ~ MvNormal({}mu{}, S)",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        let src = format!("model m\n{deep}\nparam : :\n");
        let (file, diags) = parse(&src);
        assert_eq!(file.items.len(), 1);
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert_eq!(diags[0].code, DiagCode::Nesting);
        // `MvNormal(` is the first level; the bracket of level MAX_DEPTH + 1 is flagged.
        let at = "model m\nx[n] ~ MvNormal(".len() + MAX_DEPTH - 1;
        assert_eq!(diags[0].span, Span::new(at, at + 1));
        assert_eq!(diags[1].code, DiagCode::Syntax);
    }

    #[test]
    fn a_chain_deeper_than_the_limit_is_reported_at_its_operator() {
        let terms = |n: usize| vec!["a"; n].join(" + ");
        // A chain of k terms is a tree k levels deep.
        let (_, diags) = parse(&format!("x[n] ~ N({})", terms(MAX_DEPTH)));
        assert!(diags.is_empty(), "{diags:?}");
        let src = format!("x[n] ~ N({})", terms(10_000));
        let (file, diags) = parse(&src);
        assert!(file.items.is_empty());
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, DiagCode::Nesting);
        let at = "x[n] ~ N(".len() + MAX_DEPTH * "a + ".len() - 2;
        assert_eq!(&src[at..at + 1], "+");
        assert_eq!(diags[0].span.start, at);
    }

    #[test]
    fn nesting_across_lines_and_declarations_is_bounded_too() {
        let deep = format!("param q{}: real\n", "[".repeat(MAX_DEPTH + 1));
        let (file, diags) = parse(&format!("model m\n{deep}data x[N]: vector[q]\n"));
        // The unclosed brackets swallow the rest of the file into one logical line.
        assert_eq!(file.items.len(), 1);
        assert_eq!(diags[0].code, DiagCode::Nesting);
        assert_eq!(file.poisoned, vec!["q".to_string()]);
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
