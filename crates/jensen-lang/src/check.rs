//! Names, sizes and types: [`ast::File`] → [`Model`], reporting every problem.

use std::collections::{HashMap, HashSet};

use crate::ast::{self, BinOp, DeclKind, Expr, Item, Size, TypeExpr};
use crate::diag::{suggest, DiagCode, Diagnostic, LineIndex, Span};
use crate::ir::*;

/// Why variational Bayes refuses an improper prior.
const PROPER: &str = "variational Bayes needs a proper prior (its ELBO subtracts the posterior's KL divergence from the prior, infinite for an improper one)";

/// Distributions users may reach for that have no closed-form block yet.
const NOT_YET: &[(&str, &str)] = &[
    ("Multinomial", "model each draw with `Categorical`, or use one `Poisson` per count column"),
    ("Dirichlet", "conjugate priors (MAP-EM) are not supported yet; remove the prior to fit by maximum likelihood"),
    ("Beta", "conjugate priors (MAP-EM) are not supported yet; remove the prior to fit by maximum likelihood"),
    ("InvWishart", "conjugate priors (MAP-EM) are not supported yet; remove the prior to fit by maximum likelihood"),
    ("StudentT", "the M-step of a Student-t's degrees of freedom ν has no closed form (it solves an equation in digamma functions); fit `MvNormal` instead — outliers then take components of their own, so allow one or two more"),
];

/// The largest size an index set may have, whether it comes from a constant
/// (`const K: int = …`), a literal (`vector[3]`) or an override at fit time (`--set K=…`):
/// 2³¹ − 1. Larger sizes are certainly mistakes (a single parameter over such a set would
/// not fit in memory); the data-driven sizes (rows, columns) are bounded when data is bound.
pub const MAX_SIZE: usize = (1 << 31) - 1;

/// Why `value` cannot be the size of an index set (zero, or above [`MAX_SIZE`]), if it cannot,
/// as the end of a sentence whose subject is the constant: "`K` must be at least 1, …". The
/// same rule applies to constants in the model file and to `--set` overrides.
pub fn size_problem(value: usize) -> Option<String> {
    if value == 0 {
        Some("must be at least 1: an index set needs at least one element".into())
    } else if value > MAX_SIZE {
        Some(format!(
            "must be at most {MAX_SIZE} (2^31 - 1), the largest size of an index set"
        ))
    } else {
        None
    }
}

/// Checks a parsed file. Returns the model when no error was found (warnings may be present).
pub fn check(file: &ast::File, source: &str, diags: &mut Vec<Diagnostic>) -> Option<Model> {
    check_for(file, source, diags, None)
}

/// [`check`], with the inference method chosen by the caller (`jensen fit --method vb`) in
/// place of the file's `method` line.
pub fn check_for(
    file: &ast::File,
    source: &str,
    diags: &mut Vec<Diagnostic>,
    method: Option<Method>,
) -> Option<Model> {
    let errors_before = diags.iter().filter(|d| d.is_error()).count();
    let mut c = Checker {
        diags,
        model: Model::default_named(),
        declared: HashMap::new(),
        set_mentions: Vec::new(),
        source,
        lines: LineIndex::new(source),
        poisoned: file.poisoned.iter().cloned().collect(),
        declaration_errors: 0,
        set_ids: HashMap::new(),
        var_ids: HashMap::new(),
    };
    let mut model_seen: Option<Span> = None;
    let mut e_step_seen: Option<Span> = None;
    let mut method_seen: Option<Span> = None;
    for item in &file.items {
        match item {
            Item::EStep(mode) => {
                if let Some(first) = e_step_seen {
                    c.error(
                        Diagnostic::error(DiagCode::EStep, mode.span, "a second `estep` line")
                            .label("second mode here")
                            .hint(format!(
                                "a model has one default E-step; the first `estep` line is line {}",
                                c.lines.of(source, first.start).line
                            )),
                    );
                    continue;
                }
                e_step_seen = Some(mode.span);
                match mode.name.as_str() {
                    "soft" => c.model.e_step = EStepKind::Soft,
                    "hard" => c.model.e_step = EStepKind::Hard,
                    other => c.error(
                        Diagnostic::error(DiagCode::EStep, mode.span, format!("unknown E-step `{other}`"))
                            .label("not `soft` or `hard`")
                            .hint("write `estep hard` for classification EM (each row's most probable component; k-means with unit covariances and equal weights) or `estep soft` for EM"),
                    ),
                }
            }
            Item::Method(name) => {
                if let Some(first) = method_seen {
                    c.error(
                        Diagnostic::error(DiagCode::Method, name.span, "a second `method` line")
                            .label("second method here")
                            .hint(format!(
                                "a model has one default method; the first `method` line is line {}",
                                c.lines.of(source, first.start).line
                            )),
                    );
                    continue;
                }
                method_seen = Some(name.span);
                match name.name.as_str() {
                    "em" => c.model.method = Method::Em,
                    "vb" => c.model.method = Method::Vb,
                    other => c.error(
                        Diagnostic::error(DiagCode::Method, name.span, format!("unknown method `{other}`"))
                            .label("not `em` or `vb`")
                            .hint("write `method vb` for mean-field variational Bayes (a posterior for every parameter with a conjugate prior, the ELBO as the objective) or `method em` for EM (maximum likelihood, or MAP with the priors written)"),
                    ),
                }
            }
            Item::Model(name) => {
                if let Some(first) = model_seen {
                    c.error(
                        Diagnostic::error(DiagCode::Duplicate, name.span, "a second `model` line")
                            .label("second name here")
                            .hint(format!(
                                "a file holds one model; the first `model` line is line {}",
                                c.lines.of(source, first.start).line
                            )),
                    );
                } else {
                    model_seen = Some(name.span);
                    c.model.name = name.name.clone();
                }
            }
            Item::Const(k) => {
                let before = c.diags.len();
                c.constant(k);
                if c.diags.len() > before {
                    c.poisoned.insert(k.name.name.clone());
                    c.declaration_errors += 1;
                }
            }
            Item::Decl(d) => {
                let before = c.diags.len();
                c.decl(d);
                if c.diags.len() > before {
                    c.poisoned.insert(d.name.name.clone());
                    c.declaration_errors += 1;
                }
            }
            Item::Sample(_) => {}
        }
    }
    if let Some(method) = method {
        c.model.method = method;
    }
    if c.model.method == Method::Vb && c.model.e_step == EStepKind::Hard {
        if let Some(span) = e_step_seen {
            c.error(
                Diagnostic::error(DiagCode::Method, span, "variational Bayes with a hard E-step")
                    .label("`estep hard` here")
                    .hint("variational Bayes keeps the whole posterior of the latent; remove `estep hard`, or fit with `--method em`"),
            );
        }
    }
    c.resolve_sizes(file);
    for item in &file.items {
        if let Item::Sample(s) = item {
            c.sample(s);
        }
    }
    if file.items.is_empty() {
        c.error(Diagnostic::error(DiagCode::Empty, Span::new(0, 0), "the model file is empty")
            .hint("start with `model NAME`, then declare data, parameters and a latent, and write `~` statements"));
    }
    let model = c.model;
    let errors_after = diags.iter().filter(|d| d.is_error()).count();
    (errors_after == errors_before).then_some(model)
}

impl Model {
    fn default_named() -> Self {
        Model {
            name: "model".into(),
            consts: vec![],
            sets: vec![],
            vars: vec![],
            factors: vec![],
            e_step: EStepKind::Soft,
            method: Method::Em,
        }
    }
}

struct Checker<'a> {
    diags: &'a mut Vec<Diagnostic>,
    model: Model,
    /// Every declared name (constants and variables) with its declaration span.
    declared: HashMap<String, Span>,
    /// First mention of every set.
    set_mentions: Vec<Span>,
    source: &'a str,
    /// The source's lines, for "line N" in hints.
    lines: LineIndex,
    /// Names whose declaration failed: not reported again.
    poisoned: HashSet<String>,
    /// Errors in declarations, which make "size not known" errors likely cascades.
    declaration_errors: usize,
    /// Every set of `model.sets` by name.
    set_ids: HashMap<String, SetId>,
    /// Every variable of `model.vars` by name.
    var_ids: HashMap<String, VarId>,
}

/// The type of an argument expression.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ArgTy {
    Elem(ElemType),
    Identity,
    Diag(ElemType),
    Scaled(ElemType),
    Number(f64),
    /// `c * I` with a number `c`.
    ScaledNumber(f64),
    /// `1 / K`: equal probabilities over an index set.
    Reciprocal(SetId),
    /// `c * cov(x)`: a summary of a data item times a number.
    Summary(Summary, VarId, f64),
    /// `dot(beta[z[n]], u[n]) + c[z[n]]`: a mean linear in data.
    Regression,
    Other,
}

impl Checker<'_> {
    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn declare(&mut self, name: &ast::Ident) -> bool {
        // Names that cannot be Rust identifiers, even raw ones (the generated code uses the
        // model's names).
        if matches!(
            name.name.as_str(),
            "self" | "Self" | "super" | "crate" | "_"
        ) {
            self.error(
                Diagnostic::error(
                    DiagCode::Name,
                    name.span,
                    format!("`{}` is reserved and cannot name a declaration", name.name),
                )
                .label("reserved name")
                .hint("choose another name (the generated Rust uses the model's names, and Rust reserves `self`, `Self`, `super`, `crate` and `_`)"),
            );
            return false;
        }
        if let Some(prev) = self.declared.get(&name.name) {
            let prev = *prev;
            self.error(
                Diagnostic::error(
                    DiagCode::Duplicate,
                    name.span,
                    format!("`{}` is declared twice", name.name),
                )
                .label("declared again here")
                .hint(format!(
                    "rename one of them; the first declaration is on line {}",
                    self.lines.of(self.source, prev.start).line
                )),
            );
            return false;
        }
        self.declared.insert(name.name.clone(), name.span);
        true
    }

    fn constant(&mut self, k: &ast::ConstDecl) {
        if k.ty.name != "int" {
            self.error(
                Diagnostic::error(
                    DiagCode::ConstType,
                    k.ty.span,
                    format!("constants must be `int`, not `{}`", k.ty.name),
                )
                .label("type here")
                .hint("constants size index sets, e.g. `const K: int = 3`"),
            );
            return;
        }
        let digits = !k.value.is_empty() && k.value.bytes().all(|b| b.is_ascii_digit());
        let value = match k.value.parse::<usize>() {
            Ok(v) => v,
            // Digits only: the number overflows; reported as too large below.
            Err(_) if digits => usize::MAX,
            Err(_) => {
                self.error(
                    Diagnostic::error(
                        DiagCode::ConstValue,
                        k.value_span,
                        format!("`{}` is not a whole number", shorten(&k.value)),
                    )
                    .label("value here")
                    .hint("write a non-negative whole number, e.g. `const K: int = 3`"),
                );
                return;
            }
        };
        if value == 0 {
            self.error(
                Diagnostic::error(
                    DiagCode::ConstValue,
                    k.value_span,
                    format!("`{}` must be at least 1", k.name.name),
                )
                .label("value here")
                .hint("an index set needs at least one element"),
            );
        } else if value > MAX_SIZE {
            self.error(
                Diagnostic::error(
                    DiagCode::ConstValue,
                    k.value_span,
                    format!(
                        "`{}` = {} is too large for the size of an index set",
                        k.name.name,
                        shorten(&k.value)
                    ),
                )
                .label("value here")
                .hint(format!(
                    "sizes are at most {MAX_SIZE} (2^31 - 1); a constant counts components or \
                     dimensions, e.g. `const K: int = 3`"
                )),
            );
        }
        if self.declare(&k.name) {
            self.model.consts.push(Const {
                name: k.name.name.clone(),
                default: value,
                span: k.span,
            });
        }
    }

    fn set(&mut self, name: &str, span: Span) -> SetId {
        if let Some(&i) = self.set_ids.get(name) {
            return i;
        }
        let size = match name.parse::<usize>() {
            Ok(n) => SetSize::Literal(n),
            // Resolved in `resolve_sizes`; `Rows` is a placeholder.
            Err(_) => SetSize::Rows,
        };
        self.model.sets.push(IndexSet {
            name: name.into(),
            size,
        });
        self.set_ids.insert(name.into(), self.model.sets.len() - 1);
        self.set_mentions.push(span);
        self.model.sets.len() - 1
    }

    fn size(&mut self, s: &Size) -> SetId {
        match s {
            Size::Name(i) => self.set(&i.name, i.span),
            Size::Lit(n, span) => {
                if size_problem(*n).is_some() {
                    let shown = if *n == usize::MAX {
                        "this number".to_string()
                    } else {
                        format!("{n}")
                    };
                    self.error(
                        Diagnostic::error(
                            DiagCode::Size,
                            *span,
                            format!("{shown} cannot be the size of an index set"),
                        )
                        .label("size here")
                        .hint(format!(
                            "sizes are whole numbers from 1 to {MAX_SIZE} (2^31 - 1)"
                        )),
                    );
                }
                self.set(&n.to_string(), *span)
            }
        }
    }

    fn decl(&mut self, d: &ast::Decl) {
        let plates: Vec<SetId> = d.plates.iter().map(|p| self.set(&p.name, p.span)).collect();
        let Some(ty) = self.elem_type(d.kind, &d.ty) else {
            return;
        };
        let kind_word = match d.kind {
            DeclKind::Data => "data",
            DeclKind::Param => "param",
            DeclKind::Latent => "latent",
        };
        let allowed = match d.kind {
            DeclKind::Data => matches!(
                ty,
                ElemType::Real
                    | ElemType::Vector(_)
                    | ElemType::Count
                    | ElemType::CountVec(_)
                    | ElemType::Positive
                    | ElemType::Binary
                    | ElemType::BinaryVec(_)
                    | ElemType::Cat(_)
                    | ElemType::Weight
            ),
            DeclKind::Param => !matches!(
                ty,
                ElemType::Count
                    | ElemType::CountVec(_)
                    | ElemType::Binary
                    | ElemType::BinaryVec(_)
                    | ElemType::Cat(_)
                    | ElemType::Weight
            ),
            DeclKind::Latent => matches!(
                ty,
                ElemType::Cat(_) | ElemType::Vector(_) | ElemType::Positive
            ),
        };
        if !allowed {
            let hint = match d.kind {
                DeclKind::Data => "data may be `real`, `vector[D]`, `count`, `count[V]`, `positive`, `binary`, `binary[D]`, a category range `0..C`, or `weight` (a weight per row)",
                DeclKind::Param => "parameters are continuous: `real`, `vector[D]`, `matrix[R, C]`, `simplex[K]`, `positive`, `positive[D]`, `cov[D]`, `prob` or `prob[D]`",
                DeclKind::Latent => "a latent is a category `0..K` (mixtures), a `vector[L]` (continuous latents) or `positive` (a per-row scale: Student-t emissions)",
            };
            self.error(
                Diagnostic::error(
                    DiagCode::DeclType,
                    d.ty.span(),
                    format!(
                        "`{}` cannot be declared `{kind_word}` with type `{}`",
                        d.name.name,
                        self.model.type_name(ty)
                    ),
                )
                .label("type here")
                .hint(hint),
            );
            return;
        }
        if ty == ElemType::Weight {
            if let Some(first) = self.model.vars.iter().find(|v| v.ty == ElemType::Weight) {
                self.error(
                    Diagnostic::error(DiagCode::Weights, d.name.span, format!("a second weight item `{}` (the first is `{}`)", d.name.name, first.name))
                        .label("declared here")
                        .hint("a row has one weight: multiply the columns into one (e.g. a frequency times a design weight)"),
                );
                return;
            }
        }
        if d.kind == DeclKind::Data && plates.len() != 1 {
            self.error(
                Diagnostic::error(
                    DiagCode::DataPlates,
                    d.name.span,
                    format!("data `{}` must be indexed by its rows, once", d.name.name),
                )
                .label("declared here")
                .hint(format!(
                    "write `data {}[N]: ...` (vector-valued rows use `vector[D]`)",
                    d.name.name
                )),
            );
            return;
        }
        if let Some(cols) = &d.except {
            if d.kind != DeclKind::Data || ty.vector_set().is_none() {
                self.error(
                    Diagnostic::error(DiagCode::From, cols[0].span, "only vector-valued data items take `except (...)`")
                        .label("here")
                        .hint("`except` reads every numeric column but these into a `vector[D]`, `binary[D]` or `count[V]` item; name one column with `from (col)` instead"),
                );
                return;
            }
        }
        if let Some(cols) = &d.columns {
            let labels = d.kind == DeclKind::Latent && matches!(ty, ElemType::Cat(_));
            if d.kind != DeclKind::Data && !labels {
                self.error(
                    Diagnostic::error(
                        DiagCode::From,
                        d.span,
                        "only data items, and a discrete latent's partial labels, are read `from` columns",
                    )
                    .label("here")
                    .hint("remove the `from (...)` clause (a discrete latent `latent z[N]: 0..K from (label)` reads its known values from a column, empty where unknown)"),
                );
                return;
            }
            let scalar = ty.vector_set().is_none();
            if scalar && cols.len() != 1 {
                self.error(
                    Diagnostic::error(
                        DiagCode::From,
                        cols[1].span,
                        format!(
                            "`{}` holds one value per row but names {} columns",
                            d.name.name,
                            cols.len()
                        ),
                    )
                    .label("extra column")
                    .hint("name exactly one column, or declare the item as `vector[D]`"),
                );
                return;
            }
        }
        if !self.declare(&d.name) {
            return;
        }
        // A known value: every entry (a covariance `c I`), admitted by the type.
        let fixed = match d.fixed {
            None => None,
            Some((v, span)) => {
                let problem = match ty {
                    _ if !v.is_finite() => Some("a finite number".to_string()),
                    ElemType::Simplex(k) => Some(format!("a probability vector, which one number cannot be (equal mixing weights are `Categorical(1 / {})`)", self.model.sets[k].name)),
                    ElemType::Positive | ElemType::PositiveVec(_) if v <= 0.0 => Some("a positive number".into()),
                    ElemType::Cov(_) if v <= 0.0 => Some("a positive number (the covariance is that number times `I`)".into()),
                    ElemType::Prob | ElemType::ProbVec(_) if !(v > 0.0 && v < 1.0) => Some("a probability strictly between 0 and 1".into()),
                    _ => None,
                };
                if let Some(what) = problem {
                    let plates = if d.plates.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "[{}]",
                            d.plates
                                .iter()
                                .map(|p| p.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    let example = match ty {
                        ElemType::Prob | ElemType::ProbVec(_) => Some("0.5"),
                        ElemType::Real | ElemType::Vector(_) | ElemType::Matrix(..) => Some("0.0"),
                        ElemType::Simplex(_) => None,
                        _ => Some("1.0"),
                    };
                    let hint = match example {
                        Some(e) => format!("write e.g. `param {}{plates}: {} = {e}`, or leave out `= …` to estimate it", d.name.name, self.model.type_name(ty)),
                        None => "leave out `= …`: equal, fixed mixing weights are written `z[n] ~ Categorical(1 / K)`, and any other known value is given at fit time, `jensen fit --fix NAME=FILE.json`".into(),
                    };
                    self.error(
                        Diagnostic::error(
                            DiagCode::Arg,
                            span,
                            format!("the known value of `{}` must be {what}", d.name.name),
                        )
                        .label("fixed value")
                        .hint(hint),
                    );
                    return;
                }
                Some(crate::ir::Fixed::Number(v))
            }
        };
        let text = format!(
            "{kind_word} {}{}: {}",
            d.name.name,
            if plates.is_empty() {
                String::new()
            } else {
                format!(
                    "[{}]",
                    d.plates
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            self.model.type_name(ty)
        );
        let text = match fixed {
            Some(crate::ir::Fixed::Number(v)) => format!("{text} = {v}"),
            _ => text,
        };
        self.var_ids
            .insert(d.name.name.clone(), self.model.vars.len());
        self.model.vars.push(Var {
            fixed,
            text,
            name: d.name.name.clone(),
            kind: d.kind,
            plates,
            ty,
            columns: d
                .columns
                .as_ref()
                .map(|c| c.iter().map(|i| i.name.clone()).collect()),
            except: d
                .except
                .as_ref()
                .map(|c| c.iter().map(|i| i.name.clone()).collect()),
            span: d.span,
        });
    }

    fn elem_type(&mut self, kind: DeclKind, ty: &TypeExpr) -> Option<ElemType> {
        match ty {
            TypeExpr::Range { lo, hi, span } => {
                if *lo != 0 {
                    self.error(
                        Diagnostic::error(DiagCode::Type, *span, "category ranges start at 0")
                            .label("range here")
                            .hint("write `0..K`: categories are numbered 0, 1, ..., K-1"),
                    );
                    return None;
                }
                Some(ElemType::Cat(self.size(hi)))
            }
            TypeExpr::Named { name, sizes, span } => {
                let n = sizes.len();
                let arity = |expected: &[usize]| expected.contains(&n);
                let (ok, example) = match name.name.as_str() {
                    "real" => (arity(&[0]), "real"),
                    "vector" => (arity(&[1]), "vector[D]"),
                    "matrix" => (arity(&[2]), "matrix[D, L]"),
                    "simplex" => (arity(&[1]), "simplex[K]"),
                    "positive" => (arity(&[0, 1]), "positive or positive[D]"),
                    "cov" => (arity(&[1]), "cov[D]"),
                    "prob" => (arity(&[0, 1]), "prob or prob[D]"),
                    "count" => (arity(&[0, 1]), "count or count[V]"),
                    "binary" => (arity(&[0, 1]), "binary or binary[D]"),
                    "weight" => (arity(&[0]), "weight"),
                    other => {
                        let known = [
                            "real", "vector", "matrix", "simplex", "positive", "cov", "prob",
                            "count", "binary", "weight",
                        ];
                        let hint = match suggest(other, known) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "types are real, vector[D], matrix[R, C], simplex[K], positive, positive[D], cov[D], prob, prob[D], count, count[V], binary, binary[D], weight and ranges 0..K".into(),
                        };
                        let _ = kind;
                        self.error(
                            Diagnostic::error(
                                DiagCode::Type,
                                name.span,
                                format!("unknown type `{other}`"),
                            )
                            .label("type here")
                            .hint(hint),
                        );
                        return None;
                    }
                };
                if !ok {
                    self.error(
                        Diagnostic::error(
                            DiagCode::Type,
                            *span,
                            format!("`{}` does not take {n} size(s)", name.name),
                        )
                        .label("type here")
                        .hint(format!("write `{example}`")),
                    );
                    return None;
                }
                let ids: Vec<SetId> = sizes.iter().map(|s| self.size(s)).collect();
                Some(match (name.name.as_str(), ids.as_slice()) {
                    ("real", []) => ElemType::Real,
                    ("vector", [d]) => ElemType::Vector(*d),
                    ("matrix", [r, c]) => ElemType::Matrix(*r, *c),
                    ("simplex", [k]) => ElemType::Simplex(*k),
                    ("positive", []) => ElemType::Positive,
                    ("positive", [d]) => ElemType::PositiveVec(*d),
                    ("cov", [d]) => ElemType::Cov(*d),
                    ("prob", []) => ElemType::Prob,
                    ("prob", [d]) => ElemType::ProbVec(*d),
                    ("count", []) => ElemType::Count,
                    ("count", [d]) => ElemType::CountVec(*d),
                    ("binary", []) => ElemType::Binary,
                    ("binary", [d]) => ElemType::BinaryVec(*d),
                    ("weight", []) => ElemType::Weight,
                    _ => unreachable!("arity checked above"),
                })
            }
        }
    }

    /// Decides where each named set's size comes from.
    fn resolve_sizes(&mut self, file: &ast::File) {
        let _ = file;
        // Where each set's size could come from, in one pass over the data items.
        let mut sources = vec![Vec::new(); self.model.sets.len()];
        for (v, var) in self.model.vars.iter().enumerate() {
            if var.kind != DeclKind::Data {
                continue;
            }
            if let Some(&id) = var.plates.first() {
                sources[id].push(SetSize::Rows);
            }
            match var.ty {
                ElemType::Vector(d) | ElemType::BinaryVec(d) | ElemType::CountVec(d) => {
                    sources[d].push(SetSize::Columns(v))
                }
                ElemType::Cat(c) => sources[c].push(SetSize::Categories(v)),
                _ => {}
            }
        }
        let consts: HashMap<String, usize> = self
            .model
            .consts
            .iter()
            .enumerate()
            .map(|(k, c)| (c.name.clone(), k))
            .collect();
        for (id, sources) in sources.iter().enumerate() {
            let name = self.model.sets[id].name.clone();
            if matches!(self.model.sets[id].size, SetSize::Literal(_)) {
                continue;
            }
            if let Some(&k) = consts.get(name.as_str()) {
                self.model.sets[id].size = SetSize::Const(k);
                continue;
            }
            let rows = sources.contains(&SetSize::Rows);
            let other = sources.iter().find(|s| **s != SetSize::Rows).copied();
            let span = self.set_mentions[id];
            match (rows, other) {
                (true, Some(_)) => self.error(
                    Diagnostic::error(DiagCode::Size, span, format!("`{name}` is used both for rows and for a dimension of data"))
                        .label("first mentioned here")
                        .hint("use one name for the rows (e.g. `N`) and another for the dimension (e.g. `D`)"),
                ),
                (true, None) => self.model.sets[id].size = SetSize::Rows,
                (false, Some(s)) => self.model.sets[id].size = s,
                (false, None) if self.declaration_errors > 0 || !self.poisoned.is_empty() => {}
                (false, None) => self.error(
                    Diagnostic::error(DiagCode::Size, span, format!("the size of `{name}` is not known"))
                        .label("first mentioned here")
                        .hint(format!(
                            "declare `const {name}: int = ...`, or use `{name}` as the rows or a dimension of a data item"
                        )),
                ),
            }
        }
    }

    fn sample(&mut self, s: &ast::Sample) {
        let Expr::Index {
            name,
            indices,
            span,
        } = &s.target
        else {
            self.error(
                Diagnostic::error(
                    DiagCode::Target,
                    s.target.span(),
                    "the left of `~` must be a declared variable",
                )
                .label("not a variable")
                .hint("write e.g. `x[n] ~ MvNormal(...)`"),
            );
            return;
        };
        let Some(target) = self.lookup_var(name) else {
            return;
        };
        let var = self.model.vars[target].clone();
        if var.ty == ElemType::Weight {
            let rows = var
                .plates
                .first()
                .map_or("N", |&p| self.model.sets[p].name.as_str());
            self.error(
                Diagnostic::error(DiagCode::Weights, s.span, format!("weight `{}` is not modelled: it multiplies the terms of its row", var.name))
                    .label("statement on a weight")
                    .hint(format!("remove this statement; to model these values as data, declare `data {}[{rows}]: positive` (or `real`)", var.name)),
            );
            return;
        }
        if let Some((w, span)) = s.args.iter().find_map(|a| self.weight_in(a)) {
            self.error(
                Diagnostic::error(DiagCode::Weights, span, format!("weight `{w}` cannot appear in a distribution's arguments"))
                    .label("weight used here")
                    .hint(format!("a weight multiplies its row's statistics and terms of the objective, nothing else; to use `{w}` as a value, declare it `real` or `positive`")),
            );
            return;
        }
        if indices.len() != var.plates.len() {
            self.error(
                Diagnostic::error(
                    DiagCode::Index,
                    *span,
                    format!(
                        "`{}` has {} index set(s) but is written with {} index(es)",
                        name.name,
                        var.plates.len(),
                        indices.len()
                    ),
                )
                .label("here")
                .hint(self.index_example(target)),
            );
            return;
        }
        let mut loops: Vec<(String, SetId)> = Vec::new();
        let mut target_indices = Vec::new();
        for (idx, &plate) in indices.iter().zip(&var.plates) {
            match idx {
                Expr::Index {
                    name: loop_name,
                    indices: inner,
                    ..
                } if inner.is_empty() && !self.declared.contains_key(&loop_name.name) => {
                    if loops.iter().any(|(n, _)| *n == loop_name.name) {
                        self.error(
                            Diagnostic::error(
                                DiagCode::Index,
                                loop_name.span,
                                format!("loop variable `{}` is used twice", loop_name.name),
                            )
                            .label("again here")
                            .hint("give each index its own name"),
                        );
                        return;
                    }
                    loops.push((loop_name.name.clone(), plate));
                    target_indices.push(Index::Loop(loops.len() - 1));
                }
                Expr::Num(v, _) if v.fract() == 0.0 && *v >= 0.0 => {
                    target_indices.push(Index::Lit(*v as usize))
                }
                Expr::Binary {
                    op: BinOp::Sub | BinOp::Add,
                    lhs,
                    rhs,
                    ..
                } => {
                    // `z[t-1]`-style targets only make sense for chains; resolved below with the loops.
                    let sign = if matches!(idx, Expr::Binary { op: BinOp::Sub, .. }) {
                        -1
                    } else {
                        1
                    };
                    let resolved = self.index(lhs, &loops, plate).zip(match rhs.as_ref() {
                        Expr::Num(v, _) => Some(sign * *v as i64),
                        _ => None,
                    });
                    match resolved {
                        Some((Index::Loop(l), by)) => {
                            target_indices.push(Index::Shift { loop_var: l, by })
                        }
                        _ => {
                            self.bad_index(idx);
                            return;
                        }
                    }
                }
                other => {
                    self.error(
                        Diagnostic::error(
                            DiagCode::Index,
                            other.span(),
                            "the left of `~` is indexed by new loop variables",
                        )
                        .label("expected a fresh name such as `n`")
                        .hint(format!(
                            "write e.g. `{}[n] ~ ...`; `n` then runs over the rows",
                            name.name
                        )),
                    );
                    return;
                }
            }
        }
        let dist = match Dist::from_name(&s.dist.name) {
            Some(d) => d,
            None => {
                if let Some((_, why)) = NOT_YET.iter().find(|(n, _)| *n == s.dist.name) {
                    self.error(
                        Diagnostic::error(
                            DiagCode::Unsupported,
                            s.dist.span,
                            format!("`{}` has no closed-form EM block yet", s.dist.name),
                        )
                        .label("distribution here")
                        .hint(*why),
                    );
                } else {
                    let hint = match suggest(&s.dist.name, DISTRIBUTIONS.iter().map(|d| d.name)) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None => format!("distributions are {}", Dist::names_in_prose()),
                    };
                    self.error(
                        Diagnostic::error(
                            DiagCode::Dist,
                            s.dist.span,
                            format!("unknown distribution `{}`", s.dist.name),
                        )
                        .label("distribution here")
                        .hint(hint),
                    );
                }
                return;
            }
        };
        let mut args = Vec::new();
        for a in &s.args {
            match self.arg(a, &loops) {
                Some(arg) => args.push(arg),
                None => return,
            }
        }
        let text = format!(
            "{} ~ {}({})",
            render(&s.target),
            s.dist.name,
            s.args.iter().map(render).collect::<Vec<_>>().join(", ")
        );
        let factor = Factor {
            target,
            target_indices,
            loops,
            dist,
            args,
            span: s.span,
            target_span: *span,
            text,
        };
        if self.signature(&factor, s) {
            self.model.factors.push(factor);
        }
    }

    fn index_example(&self, var: VarId) -> String {
        let v = &self.model.vars[var];
        let names: Vec<&str> = v
            .plates
            .iter()
            .map(|&p| self.model.sets[p].name.as_str())
            .collect();
        if names.is_empty() {
            format!(
                "`{}` is declared without index sets; write it without brackets",
                v.name
            )
        } else {
            format!(
                "`{}` is declared `{}[{}]`",
                v.name,
                v.name,
                names.join(", ")
            )
        }
    }

    fn bad_index(&mut self, e: &Expr) {
        self.error(
            Diagnostic::error(DiagCode::Index, e.span(), "unsupported index expression")
                .label("here")
                .hint("an index is a loop variable (`n`), a latent value (`z[n]`), a literal (`0`) or a shift (`t-1`)"),
        );
    }

    /// The first variable of type `weight` that `e` names, with where.
    fn weight_in(&self, e: &Expr) -> Option<(String, Span)> {
        match e {
            Expr::Num(..) => None,
            Expr::Index { name, indices, .. } => {
                let weight = self
                    .var_ids
                    .get(&name.name)
                    .is_some_and(|&v| self.model.vars[v].ty == ElemType::Weight);
                if weight {
                    return Some((name.name.clone(), name.span));
                }
                indices.iter().find_map(|i| self.weight_in(i))
            }
            Expr::Call { args, .. } => args.iter().find_map(|a| self.weight_in(a)),
            Expr::Binary { lhs, rhs, .. } => self.weight_in(lhs).or_else(|| self.weight_in(rhs)),
            Expr::Neg(inner, _) => self.weight_in(inner),
        }
    }

    fn lookup_var(&mut self, name: &ast::Ident) -> Option<VarId> {
        if let Some(&v) = self.var_ids.get(&name.name) {
            return Some(v);
        }
        if self.poisoned.contains(&name.name) {
            return None;
        }
        let message = if self.model.consts.iter().any(|c| c.name == name.name) {
            format!("`{}` is a constant, not a variable", name.name)
        } else {
            format!("unknown name `{}`", name.name)
        };
        let names: Vec<String> = self.model.vars.iter().map(|v| v.name.clone()).collect();
        let hint = match suggest(&name.name, names.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "declare it with `data`, `param` or `latent` first".into(),
        };
        self.error(
            Diagnostic::error(DiagCode::Name, name.span, message)
                .label("not declared")
                .hint(hint),
        );
        None
    }

    /// Resolves an index expression that must range over `plate`.
    fn index(&mut self, e: &Expr, loops: &[(String, SetId)], plate: SetId) -> Option<Index> {
        match e {
            Expr::Num(v, _) if v.fract() == 0.0 && *v >= 0.0 => Some(Index::Lit(*v as usize)),
            Expr::Index {
                name,
                indices,
                span,
            } if indices.is_empty() => {
                let Some(l) = loops.iter().position(|(n, _)| *n == name.name) else {
                    if self.var_ids.contains_key(&name.name) {
                        self.error(
                            Diagnostic::error(
                                DiagCode::Index,
                                *span,
                                format!("`{}` is a variable, not a loop index", name.name),
                            )
                            .label("here")
                            .hint(format!(
                                "index by a latent's value, e.g. `{}[n]`",
                                name.name
                            )),
                        );
                    } else {
                        let bound: Vec<&str> = loops.iter().map(|(n, _)| n.as_str()).collect();
                        self.error(
                            Diagnostic::error(
                                DiagCode::Name,
                                *span,
                                format!("unknown index `{}`", name.name),
                            )
                            .label("not bound")
                            .hint(if bound.is_empty() {
                                "loop variables are bound by the left of `~`, e.g. `x[n] ~ ...`"
                                    .to_string()
                            } else {
                                format!(
                                    "the left of `~` binds {}",
                                    bound
                                        .iter()
                                        .map(|b| format!("`{b}`"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }),
                        );
                    }
                    return None;
                };
                if !self.model.same_set(loops[l].1, plate) {
                    self.error(
                        Diagnostic::error(
                            DiagCode::Index,
                            *span,
                            format!(
                                "`{}` runs over `{}` but this position is indexed by `{}`",
                                name.name,
                                self.model.sets[loops[l].1].name,
                                self.model.sets[plate].name
                            ),
                        )
                        .label("index set mismatch")
                        .hint("index each position by a variable running over the declared set"),
                    );
                    return None;
                }
                Some(Index::Loop(l))
            }
            Expr::Index {
                name,
                indices,
                span,
            } => {
                let var = self.lookup_var(name)?;
                let v = self.model.vars[var].clone();
                if v.kind != DeclKind::Latent {
                    self.error(
                        Diagnostic::error(
                            DiagCode::Index,
                            *span,
                            format!(
                                "`{}` is not a latent variable, so it cannot select an element",
                                name.name
                            ),
                        )
                        .label("here")
                        .hint(if v.kind == DeclKind::Data {
                            "parameters are selected by a latent's value, e.g. `mu[z[n]]`; a parameter chosen by data (a regression, or a chain whose transitions depend on inputs) has no closed-form M-step here, so model the data as an emission of the latent instead".to_string()
                        } else {
                            "parameters are selected by a latent's value, e.g. `mu[z[n]]`".to_string()
                        }),
                    );
                    return None;
                }
                let ElemType::Cat(values) = v.ty else {
                    self.error(
                        Diagnostic::error(
                            DiagCode::Index,
                            *span,
                            format!(
                                "`{}` is continuous, so it cannot select an element",
                                name.name
                            ),
                        )
                        .label("here")
                        .hint("only categorical latents (`0..K`) can index parameters"),
                    );
                    return None;
                };
                if indices.len() != v.plates.len() {
                    self.error(
                        Diagnostic::error(
                            DiagCode::Index,
                            *span,
                            format!("`{}` needs {} index(es)", name.name, v.plates.len()),
                        )
                        .label("here")
                        .hint(self.index_example(var)),
                    );
                    return None;
                }
                let mut inner = Vec::new();
                for (i, &p) in indices.iter().zip(&v.plates) {
                    inner.push(self.index(i, loops, p)?);
                }
                if !self.model.same_set(values, plate) {
                    self.error(
                        Diagnostic::error(
                            DiagCode::Index,
                            *span,
                            format!(
                                "`{}` takes values in 0..{} but this position is indexed by `{}`",
                                name.name,
                                self.model.sets[values].name,
                                self.model.sets[plate].name
                            ),
                        )
                        .label("index set mismatch")
                        .hint(format!(
                            "declare the indexed parameter over `{}`",
                            self.model.sets[values].name
                        )),
                    );
                    return None;
                }
                Some(Index::Latent {
                    var,
                    indices: inner,
                })
            }
            Expr::Binary {
                op: BinOp::Sub | BinOp::Add,
                lhs,
                rhs,
                ..
            } => {
                let by = match (rhs.as_ref(), e) {
                    (Expr::Num(v, _), Expr::Binary { op: BinOp::Sub, .. }) => -(*v as i64),
                    (Expr::Num(v, _), _) => *v as i64,
                    _ => {
                        self.bad_index(e);
                        return None;
                    }
                };
                match self.index(lhs, loops, plate)? {
                    Index::Loop(l) => Some(Index::Shift { loop_var: l, by }),
                    _ => {
                        self.bad_index(e);
                        None
                    }
                }
            }
            other => {
                self.bad_index(other);
                None
            }
        }
    }

    fn arg(&mut self, e: &Expr, loops: &[(String, SetId)]) -> Option<Arg> {
        let span = e.span();
        let kind = match e {
            Expr::Num(v, _) => ArgKind::Number(*v),
            Expr::Neg(inner, _) => match inner.as_ref() {
                Expr::Num(v, _) => ArgKind::Number(-v),
                _ => ArgKind::Expr(render(e), Vec::new()),
            },
            Expr::Index { name, indices, .. }
                if name.name == "I" && indices.is_empty() && !self.var_ids.contains_key("I") =>
            {
                ArgKind::Identity
            }
            Expr::Index {
                name,
                indices,
                span,
            } => {
                if loops.iter().any(|(n, _)| *n == name.name) {
                    self.error(
                        Diagnostic::error(DiagCode::Arg, *span, format!("loop variable `{}` cannot be used as a value", name.name))
                            .label("here")
                            .hint("arguments are parameters, possibly selected by a latent, e.g. `mu[z[n]]`"),
                    );
                    return None;
                }
                let var = self.lookup_var(name)?;
                let plates = self.model.vars[var].plates.clone();
                if indices.len() != plates.len() {
                    self.error(
                        Diagnostic::error(
                            DiagCode::Index,
                            *span,
                            format!(
                                "`{}` has {} index set(s) but is written with {} index(es)",
                                name.name,
                                plates.len(),
                                indices.len()
                            ),
                        )
                        .label("here")
                        .hint(if plates.is_empty() {
                            self.index_example(var)
                        } else {
                            format!(
                                "{}; select an element, e.g. `{}[z[n]]`",
                                self.index_example(var),
                                name.name
                            )
                        }),
                    );
                    return None;
                }
                let mut resolved = Vec::new();
                for (i, &p) in indices.iter().zip(&plates) {
                    resolved.push(self.index(i, loops, p)?);
                }
                ArgKind::Var {
                    var,
                    indices: resolved,
                }
            }
            Expr::Call { func, args, .. } if func.name == "diag" => {
                if args.len() != 1 {
                    self.error(
                        Diagnostic::error(DiagCode::Arg, span, "`diag` takes one argument")
                            .label("here")
                            .hint("write `diag(v[z[n]])` with `param v[K]: positive[D]`"),
                    );
                    return None;
                }
                ArgKind::Diag(Box::new(self.arg(&args[0], loops)?))
            }
            Expr::Call { func, args, .. } if func.name == "dot" => {
                let [a, b] = args.as_slice() else {
                    self.error(
                        Diagnostic::error(DiagCode::Arg, span, "`dot` takes two arguments")
                            .label("here")
                            .hint("write `dot(beta[z[n]], u[n])` with `param beta[K]: vector[P]` and `data u[N]: vector[P]`"),
                    );
                    return None;
                };
                let (a, b) = (self.arg(a, loops)?, self.arg(b, loops)?);
                match (&a.kind, &b.kind) {
                    (ArgKind::Var { .. }, ArgKind::Var { .. })
                        if self.is_data(&a) != self.is_data(&b) =>
                    {
                        let (coef, covariates) = if self.is_data(&b) { (a, b) } else { (b, a) };
                        ArgKind::Regression {
                            coef: Box::new(coef),
                            covariates: Box::new(covariates),
                            intercept: None,
                        }
                    }
                    _ => {
                        self.error(
                            Diagnostic::error(DiagCode::Arg, span, "`dot` takes a parameter and a data item")
                                .label("here")
                                .hint("write `dot(beta[z[n]], u[n])` with `param beta[K]: vector[P]` and `data u[N]: vector[P]`: the coefficients and the covariates of a regression"),
                        );
                        return None;
                    }
                }
            }
            Expr::Call { func, args, .. } if Summary::from_name(&func.name).is_some() => {
                let summary = Summary::from_name(&func.name)?;
                self.summary(summary, args, span)?
            }
            Expr::Call { func, .. } => {
                self.error(
                    Diagnostic::error(
                        DiagCode::Func,
                        func.span,
                        format!("unknown function `{}`", func.name),
                    )
                    .label("here")
                    .hint("the functions are `diag(v)`, a diagonal covariance, `dot(beta[z[n]], u[n])`, a regression's mean, and the data summaries `mean(x)`, `var(x)` and `cov(x)`, hyperparameters of a prior"),
                );
                return None;
            }
            Expr::Binary {
                op: BinOp::Mul,
                lhs,
                rhs,
                ..
            } => {
                let l = self.arg(lhs, loops)?;
                let r = self.arg(rhs, loops)?;
                match (&l.kind, &r.kind) {
                    (
                        ArgKind::Number(c),
                        &ArgKind::Summary {
                            summary,
                            data,
                            factor,
                        },
                    )
                    | (
                        &ArgKind::Summary {
                            summary,
                            data,
                            factor,
                        },
                        ArgKind::Number(c),
                    ) => ArgKind::Summary {
                        summary,
                        data,
                        factor: c * factor,
                    },
                    (_, ArgKind::Identity) => ArgKind::ScaledIdentity(Box::new(l)),
                    (ArgKind::Identity, _) => ArgKind::ScaledIdentity(Box::new(r)),
                    // `beta[z[n]] * u[n]`: a coefficient times a data item (a regression).
                    (ArgKind::Var { .. }, ArgKind::Var { .. })
                        if self.is_data(&r) != self.is_data(&l) =>
                    {
                        let (coef, covariates) = if self.is_data(&r) { (l, r) } else { (r, l) };
                        ArgKind::Regression {
                            coef: Box::new(coef),
                            covariates: Box::new(covariates),
                            intercept: None,
                        }
                    }
                    (ArgKind::Var { .. }, ArgKind::Var { .. })
                        if self.is_continuous(&r) && !self.is_continuous(&l) =>
                    {
                        ArgKind::Linear {
                            loading: Box::new(l),
                            latent: Box::new(r),
                            offset: None,
                        }
                    }
                    _ if self.involves_continuous(&l) || self.involves_continuous(&r) => {
                        ArgKind::LatentExpr(render(e), vars_of(&[&l, &r]))
                    }
                    _ => ArgKind::Expr(render(e), vars_of(&[&l, &r])),
                }
            }
            Expr::Binary {
                op: BinOp::Div,
                lhs,
                rhs,
                ..
            } => match (lhs.as_ref(), rhs.as_ref()) {
                // `1 / K`: equal probabilities over the index set `K`.
                (Expr::Num(one, _), Expr::Index { name, indices, .. })
                    if *one == 1.0
                        && indices.is_empty()
                        && !self.var_ids.contains_key(&name.name)
                        && self.set_ids.contains_key(&name.name) =>
                {
                    ArgKind::Reciprocal(self.set_ids[&name.name])
                }
                (Expr::Num(one, _), Expr::Index { name, indices, .. })
                    if *one == 1.0
                        && indices.is_empty()
                        && self.model.consts.iter().any(|c| c.name == name.name) =>
                {
                    self.error(
                        Diagnostic::error(DiagCode::ArgType, span, format!("`1 / {}`: `{}` is not the size of an index set", name.name, name.name))
                            .label("equal probabilities over what?")
                            .hint("equal weights are written over the latent's values: `z[n] ~ Categorical(1 / K)` with `latent z[N]: 0..K`"),
                    );
                    return None;
                }
                (Expr::Num(a, _), Expr::Num(b, _)) if *b != 0.0 => ArgKind::Number(a / b),
                // `cov(x) / 10`.
                (Expr::Call { .. }, Expr::Num(b, _)) if *b != 0.0 => {
                    let l = self.arg(lhs, loops)?;
                    match l.kind {
                        ArgKind::Summary {
                            summary,
                            data,
                            factor,
                        } => ArgKind::Summary {
                            summary,
                            data,
                            factor: factor / b,
                        },
                        ArgKind::Diag(_) => ArgKind::Over(Box::new(l), *b),
                        _ => ArgKind::Expr(render(e), vars_of(&[&l])),
                    }
                }
                // `Sigma[k] / 0.01`.
                (_, Expr::Num(b, _)) if *b != 0.0 => {
                    let l = self.arg(lhs, loops)?;
                    match l.kind {
                        ArgKind::Var { .. } | ArgKind::Diag(_) | ArgKind::ScaledIdentity(_) => {
                            ArgKind::Over(Box::new(l), *b)
                        }
                        _ => ArgKind::Expr(render(e), vars_of(&[&l])),
                    }
                }
                _ => {
                    let l = self.arg(lhs, loops)?;
                    let r = self.arg(rhs, loops)?;
                    // `Sigma[z[n]] / u[n]`: a covariance over a per-row latent scale.
                    match &r.kind {
                        ArgKind::Var { var, indices }
                            if self.model.vars[*var].kind == DeclKind::Latent
                                && self.model.vars[*var].ty == ElemType::Positive
                                && indices.as_slice() == [Index::Loop(0)]
                                && matches!(
                                    l.kind,
                                    ArgKind::Var { .. }
                                        | ArgKind::Diag(_)
                                        | ArgKind::ScaledIdentity(_)
                                ) =>
                        {
                            ArgKind::OverLatent {
                                cov: Box::new(l),
                                scale: *var,
                            }
                        }
                        _ => ArgKind::Expr(render(e), vars_of(&[&l, &r])),
                    }
                }
            },
            Expr::Binary { op, lhs, rhs, .. } => {
                let l = self.arg(lhs, loops)?;
                let r = self.arg(rhs, loops)?;
                let continuous = self.involves_continuous(&l) || self.involves_continuous(&r);
                // `dot(beta[z[n]], u[n]) + c[z[n]]` or `c[z[n]] + …`: a regression's intercept.
                match (op, &l.kind, &r.kind) {
                    (
                        BinOp::Add,
                        ArgKind::Regression {
                            intercept: None, ..
                        },
                        ArgKind::Var { .. },
                    )
                    | (
                        BinOp::Add,
                        ArgKind::Var { .. },
                        ArgKind::Regression {
                            intercept: None, ..
                        },
                    ) if !self.is_data(&l) && !self.is_data(&r) => {
                        let (regression, c) = if matches!(l.kind, ArgKind::Regression { .. }) {
                            (l, r)
                        } else {
                            (r, l)
                        };
                        let ArgKind::Regression {
                            coef, covariates, ..
                        } = regression.kind
                        else {
                            unreachable!("one side is a regression")
                        };
                        return Some(Arg {
                            kind: ArgKind::Regression {
                                coef,
                                covariates,
                                intercept: Some(Box::new(c)),
                            },
                            span,
                        });
                    }
                    _ => {}
                }
                // `W * h[n] + mu` or `mu + W * h[n]`.
                let (linear, offset) = match (&l.kind, &r.kind) {
                    (ArgKind::Linear { offset: None, .. }, ArgKind::Var { .. }) => (l, r),
                    (ArgKind::Var { .. }, ArgKind::Linear { offset: None, .. }) => (r, l),
                    _ => {
                        return Some(Arg {
                            kind: if continuous {
                                ArgKind::LatentExpr(render(e), vars_of(&[&l, &r]))
                            } else {
                                ArgKind::Expr(render(e), vars_of(&[&l, &r]))
                            },
                            span,
                        })
                    }
                };
                let vars = vars_of(&[&linear, &offset]);
                match (op, linear.kind) {
                    (
                        BinOp::Add,
                        ArgKind::Linear {
                            loading, latent, ..
                        },
                    ) if !self.is_continuous(&offset) => ArgKind::Linear {
                        loading,
                        latent,
                        offset: Some(Box::new(offset)),
                    },
                    _ => ArgKind::LatentExpr(render(e), vars),
                }
            }
        };
        Some(Arg { kind, span })
    }

    /// `mean(x)`, `var(x)` or `cov(x)`: one argument, a real-valued data item written without
    /// indices.
    fn summary(&mut self, summary: Summary, args: &[Expr], span: Span) -> Option<ArgKind> {
        let name = summary.name();
        let example = format!(
            "write `{name}(x)` with `data x[N]: vector[D]` (or `real`), over every row of `x`"
        );
        let item = match args {
            [Expr::Index { name, indices, .. }] if indices.is_empty() => Some(name),
            _ => None,
        };
        let Some(item) = item else {
            self.error(
                Diagnostic::error(
                    DiagCode::Arg,
                    span,
                    format!("`{name}` takes one data item, written without indices"),
                )
                .label("here")
                .hint(example),
            );
            return None;
        };
        let data = self.lookup_var(item)?;
        let v = &self.model.vars[data];
        let real = matches!(v.ty, ElemType::Real | ElemType::Vector(_));
        if v.kind != DeclKind::Data || !real || (summary == Summary::Cov && v.ty == ElemType::Real)
        {
            let what = match v.kind {
                DeclKind::Data => format!("`{}` data", self.model.type_name(v.ty)),
                DeclKind::Param => "a parameter".to_string(),
                DeclKind::Latent => "a latent variable".to_string(),
            };
            self.error(
                Diagnostic::error(
                    DiagCode::ArgType,
                    item.span,
                    format!(
                        "`{name}` summarises real-valued data, but `{}` is {what}",
                        v.name
                    ),
                )
                .label("not a summary's data")
                .hint(if summary == Summary::Cov {
                    "write `cov(x)` with `data x[N]: vector[D]`; for one real column use `var(y)`"
                        .to_string()
                } else {
                    example
                }),
            );
            return None;
        }
        Some(ArgKind::Summary {
            summary,
            data,
            factor: 1.0,
        })
    }

    /// Whether an argument is a continuous latent, e.g. `h[n]` with `latent h[N]: vector[L]`.
    fn is_continuous(&self, a: &Arg) -> bool {
        matches!(&a.kind, ArgKind::Var { var, .. }
            if self.model.vars[*var].kind == DeclKind::Latent
                && matches!(self.model.vars[*var].ty, ElemType::Vector(_)))
    }

    /// Whether an argument is a data item, e.g. `u[n]`.
    fn is_data(&self, a: &Arg) -> bool {
        matches!(&a.kind, ArgKind::Var { var, .. } if self.model.vars[*var].kind == DeclKind::Data)
    }

    /// Whether an argument mentions a continuous latent anywhere.
    fn involves_continuous(&self, a: &Arg) -> bool {
        match &a.kind {
            ArgKind::Linear { .. } | ArgKind::LatentExpr(..) => true,
            ArgKind::Diag(inner) | ArgKind::ScaledIdentity(inner) | ArgKind::Over(inner, _) => {
                self.involves_continuous(inner)
            }
            _ => self.is_continuous(a),
        }
    }

    fn arg_ty(&self, a: &Arg) -> ArgTy {
        match &a.kind {
            ArgKind::Var { var, .. } => ArgTy::Elem(self.model.vars[*var].ty),
            ArgKind::Identity => ArgTy::Identity,
            ArgKind::Number(v) => ArgTy::Number(*v),
            ArgKind::Diag(inner) => match self.arg_ty(inner) {
                ArgTy::Elem(t) => ArgTy::Diag(t),
                _ => ArgTy::Other,
            },
            ArgKind::ScaledIdentity(inner) => match self.arg_ty(inner) {
                ArgTy::Elem(t) => ArgTy::Scaled(t),
                ArgTy::Number(v) => ArgTy::ScaledNumber(v),
                _ => ArgTy::Other,
            },
            ArgKind::Reciprocal(set) => ArgTy::Reciprocal(*set),
            &ArgKind::Summary {
                summary,
                data,
                factor,
            } => ArgTy::Summary(summary, data, factor),
            ArgKind::Over(..) => ArgTy::Other,
            ArgKind::Expr(..) | ArgKind::Linear { .. } | ArgKind::LatentExpr(..) => ArgTy::Other,
            // (The covariance's type; the derivation judges the scale.)
            ArgKind::OverLatent { cov, .. } => self.arg_ty(cov),
            // (Its parts are judged by the derivation.)
            ArgKind::Regression { .. } => ArgTy::Regression,
        }
    }

    fn describe(&self, t: ArgTy) -> String {
        match t {
            ArgTy::Elem(e) => format!("`{}`", self.model.type_name(e)),
            ArgTy::Identity => "the identity `I`".into(),
            ArgTy::Diag(e) => format!("`diag` of `{}`", self.model.type_name(e)),
            ArgTy::Scaled(e) => format!("`{}` times `I`", self.model.type_name(e)),
            ArgTy::Number(v) => format!("the number {v}"),
            ArgTy::ScaledNumber(v) => format!("`{v} * I`"),
            ArgTy::Reciprocal(s) => format!("`1 / {}`", self.model.sets[s].name),
            ArgTy::Summary(summary, data, factor) => format!(
                "the data summary `{}`",
                render_summary(summary, &self.model.vars[data].name, factor)
            ),
            ArgTy::Regression => "a regression on data".into(),
            ArgTy::Other => "a compound expression".into(),
        }
    }

    /// Checks arity and argument types of a statement; reports and returns false on mismatch.
    fn signature(&mut self, f: &Factor, s: &ast::Sample) -> bool {
        let target_ty = self.model.vars[f.target].ty;
        let target_name = &self.model.vars[f.target].name;
        let DistSig { arity, example, .. } = *f.dist.sig();
        if f.args.len() != arity {
            self.error(
                Diagnostic::error(
                    DiagCode::Arity,
                    s.dist.span.join(s.span),
                    format!(
                        "`{}` takes {arity} argument(s), found {}",
                        f.dist.name(),
                        f.args.len()
                    ),
                )
                .label("here")
                .hint(format!("write {example}")),
            );
            return false;
        }
        let tys: Vec<ArgTy> = f.args.iter().map(|a| self.arg_ty(a)).collect();
        if self.model.vars[f.target].kind == DeclKind::Param
            && matches!(f.dist, Dist::MvNormal | Dist::Normal)
        {
            return self.mean_prior_signature(f);
        }
        if self.model.vars[f.target].kind == DeclKind::Data {
            if let Some(d) = self.outside_closed_form(f) {
                self.error(d);
                return false;
            }
        }
        let m = &self.model;
        let vb = m.method == Method::Vb;
        // (argument position, expected description, hint) of the first mismatch.
        let mismatch: Option<(usize, String, String)> = match f.dist {
            Dist::Categorical => match target_ty {
                ElemType::Cat(c) => match tys[0] {
                    ArgTy::Elem(ElemType::Simplex(k)) if m.same_set(k, c) => None,
                    ArgTy::Reciprocal(k) if m.same_set(k, c) => None,
                    ArgTy::Reciprocal(k) => Some((0, format!("equal probabilities over `{}`", m.sets[c].name), format!("`{target_name}` takes values in 0..{c}, so equal probabilities are `1 / {c}`, not `1 / {}`", m.sets[k].name, c = m.sets[c].name))),
                    ArgTy::Elem(ElemType::Simplex(k)) => Some((0, format!("a `simplex[{}]`", m.sets[c].name), format!("`{target_name}` takes values in 0..{}, but the probabilities are over `{}`", m.sets[c].name, m.sets[k].name))),
                    _ => Some((0, "a probability vector (`simplex[K]`)".into(), "declare e.g. `param w: simplex[K]`".into())),
                },
                _ => return self.target_mismatch(f, "a category (`0..K`)"),
            },
            Dist::MvNormal => match target_ty {
                ElemType::Vector(d) => {
                    let mean_ok = match tys[0] {
                        ArgTy::Elem(ElemType::Vector(e)) => m.same_set(d, e).then_some(()).ok_or(format!("the mean is over `{}` but `{target_name}` is over `{}`", m.sets[e].name, m.sets[d].name)),
                        ArgTy::Number(0.0) => Ok(()),
                        ArgTy::Other => Ok(()), // judged by the derivation (linear-Gaussian means)
                        ArgTy::Summary(..) => Err(format!("a summary of the data is a hyperparameter of a prior; the mean of `{target_name}` is a parameter: declare e.g. `param mu[K]: vector[{}]`", m.sets[d].name)),
                        // Judged by the derivation (the coefficients' shape).
                        ArgTy::Regression => Ok(()),
                        _ => Err(format!("declare e.g. `param mu[K]: vector[{}]`", m.sets[d].name)),
                    };
                    let cov_ok = match tys[1] {
                        ArgTy::Elem(ElemType::Cov(e)) | ArgTy::Diag(ElemType::PositiveVec(e)) => {
                            m.same_set(d, e).then_some(()).ok_or(format!("the covariance is over `{}` but `{target_name}` is over `{}`", m.sets[e].name, m.sets[d].name))
                        }
                        ArgTy::Scaled(ElemType::Positive) | ArgTy::Identity => Ok(()),
                        ArgTy::ScaledNumber(v) if v > 0.0 && v.is_finite() => Ok(()),
                        ArgTy::ScaledNumber(v) => Err(format!("a fixed covariance `c * I` needs a positive number `c`, not {v}")),
                        _ => Err(format!(
                            "write `Sigma[z[n]]` with `param Sigma[K]: cov[{d}]`, `diag(v[z[n]])` with `param v[K]: positive[{d}]`, or `s[z[n]] * I` with `param s[K]: positive`",
                            d = m.sets[d].name
                        )),
                    };
                    match (mean_ok, cov_ok) {
                        (Err(h), _) => Some((0, format!("a mean vector (`vector[{}]`)", m.sets[d].name), h)),
                        (_, Err(h)) => Some((1, "a covariance (`cov[D]`, `diag(positive[D])` or `positive * I`)".into(), h)),
                        _ => None,
                    }
                }
                _ => return self.target_mismatch(f, "a vector (`vector[D]`)"),
            },
            Dist::Normal => match target_ty {
                ElemType::Real => match (tys[0], tys[1]) {
                    (ArgTy::Elem(ElemType::Real) | ArgTy::Number(_) | ArgTy::Regression, ArgTy::Elem(ElemType::Positive)) => None,
                    (ArgTy::Elem(ElemType::Real) | ArgTy::Number(_) | ArgTy::Regression, ArgTy::Number(v)) if v > 0.0 => None,
                    (ArgTy::Elem(ElemType::Real) | ArgTy::Number(_) | ArgTy::Regression, _) => Some((1, "a variance (`positive`)".into(), "declare e.g. `param v[K]: positive`; `Normal` takes the variance, not the standard deviation".into())),
                    _ => Some((0, "a mean (`real`)".into(), "declare e.g. `param m[K]: real`".into())),
                },
                _ => return self.target_mismatch(f, "a real number (`real`)"),
            },
            Dist::Poisson => match (target_ty, tys[0]) {
                (ElemType::Count, ArgTy::Elem(ElemType::Positive)) => None,
                (ElemType::Count, _) => Some((0, "a rate (`positive`)".into(), "declare e.g. `param rate[K]: positive`".into())),
                _ => return self.target_mismatch(f, "a count (`count`)"),
            },
            Dist::Exponential => match (target_ty, tys[0]) {
                (ElemType::Positive, ArgTy::Elem(ElemType::Positive)) => None,
                (ElemType::Positive, _) => Some((0, "a rate (`positive`)".into(), "declare e.g. `param rate[K]: positive`; `Exponential` takes the rate, the inverse of the mean".into())),
                _ => return self.target_mismatch(f, "positive data (`positive`)"),
            },
            Dist::Binomial => match (target_ty, tys[0], tys[1]) {
                (ElemType::Count, ArgTy::Number(t), ArgTy::Elem(ElemType::Prob)) if t >= 1.0 && t.fract() == 0.0 && t <= 1e9 => None,
                (ElemType::Count, ArgTy::Number(t), _) if t >= 1.0 && t.fract() == 0.0 && t <= 1e9 => Some((1, "a success probability (`prob`)".into(), "declare e.g. `param p[K]: prob`; the mean count is T p".into())),
                // Trials from a count column of the same rows: `Binomial(t[n], p[z[n]])`.
                (ElemType::Count, ArgTy::Elem(ElemType::Count), _) => match &f.args[0].kind {
                    ArgKind::Var { var, indices } if m.vars[*var].kind == DeclKind::Data && *indices != f.target_indices => Some((0, format!("the trials of the same row (`{}[{}]`)", m.vars[*var].name, f.loops.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")), format!("a row's successes `{target_name}` are out of that row's trials: index `{}` as `{target_name}` is indexed", m.vars[*var].name))),
                    ArgKind::Var { var, .. } if m.vars[*var].kind == DeclKind::Data && *var == f.target => Some((0, "a number of trials other than the successes".into(), "the trials are a second count column, e.g. `data t[N]: count` with `x[n] ~ Binomial(t[n], p[z[n]])`".into())),
                    ArgKind::Var { var, .. } if m.vars[*var].kind == DeclKind::Data && vb => Some((0, "a known number of trials (variational Bayes)".into(), "variational Bayes takes the same known number of trials in every row for now (with trials that differ by row, the E-step's expected log-density is not that of one effective probability); fit by MAP-EM (`method em` with the Beta prior), or write a number".into())),
                    ArgKind::Var { var, .. } if m.vars[*var].kind == DeclKind::Data => match tys[1] {
                        ArgTy::Elem(ElemType::Prob) => None,
                        _ => Some((1, "a success probability (`prob`)".into(), format!("declare e.g. `param p[K]: prob`; the mean count is {}[n] · p", m.vars[*var].name))),
                    },
                    _ => Some((0, "a number of trials: a whole number or a `count` data column".into(), "write e.g. `Binomial(20, p[z[n]])`, or `Binomial(t[n], p[z[n]])` with `data t[N]: count`; trials to estimate are not supported".into())),
                },
                (ElemType::Count, _, _) => Some((0, "a number of trials: a whole number from 1 to 10⁹, or a `count` data column".into(), "write e.g. `Binomial(20, p[z[n]])`, or `Binomial(t[n], p[z[n]])` with `data t[N]: count` for trials that differ by row; trials to estimate are not supported".into())),
                _ => return self.target_mismatch(f, "a count (`count`)"),
            },
            Dist::Geometric => match (target_ty, tys[0]) {
                (ElemType::Count, ArgTy::Elem(ElemType::Prob)) => None,
                (ElemType::Count, _) => Some((0, "a success probability (`prob`)".into(), "declare e.g. `param p[K]: prob`; the mean count is (1 − p) / p".into())),
                _ => return self.target_mismatch(f, "a count (`count`)"),
            },
            Dist::Bernoulli => match (target_ty, tys[0]) {
                (ElemType::Binary, ArgTy::Elem(ElemType::Prob)) => None,
                (ElemType::BinaryVec(d), ArgTy::Elem(ElemType::ProbVec(e))) if m.same_set(d, e) => None,
                (ElemType::Binary, _) => Some((0, "a probability (`prob`)".into(), "declare e.g. `param p[K]: prob`".into())),
                (ElemType::BinaryVec(d), _) => Some((0, format!("probabilities (`prob[{}]`)", m.sets[d].name), format!("declare e.g. `param p[K]: prob[{}]`", m.sets[d].name))),
                _ => return self.target_mismatch(f, "binary data (`binary` or `binary[D]`)"),
            },
            Dist::LogNormal => match target_ty {
                ElemType::Positive => match (tys[0], tys[1]) {
                    (ArgTy::Elem(ElemType::Real) | ArgTy::Number(_), ArgTy::Elem(ElemType::Positive)) => None,
                    (ArgTy::Elem(ElemType::Real) | ArgTy::Number(_), ArgTy::Number(v)) if v > 0.0 => None,
                    (ArgTy::Elem(ElemType::Real) | ArgTy::Number(_), _) => Some((1, "a variance of ln x (`positive`)".into(), "declare e.g. `param v[K]: positive`; `LogNormal(m, v)` takes the mean and the variance of ln x".into())),
                    _ => Some((0, "the mean of ln x (`real`)".into(), "declare e.g. `param m[K]: real`; `LogNormal(m, v)` takes the mean and the variance of ln x, not of x".into())),
                },
                _ => return self.target_mismatch(f, "positive data (`positive`)"),
            },
            Dist::Multinomial => match (target_ty, tys[0]) {
                (ElemType::CountVec(d), ArgTy::Elem(ElemType::Simplex(e))) if m.same_set(d, e) => None,
                (ElemType::CountVec(d), _) => Some((0, format!("category probabilities (`simplex[{}]`)", m.sets[d].name), format!("declare e.g. `param theta[K]: simplex[{}]`; the row's total count is the sum of its cells", m.sets[d].name))),
                _ => return self.target_mismatch(f, "a vector of counts (`count[V]`)"),
            },
            Dist::Dirichlet => match (target_ty, tys[0]) {
                (ElemType::Simplex(_), ArgTy::Number(v)) if vb && v > 0.0 && v.is_finite() => None,
                (ElemType::Simplex(_), ArgTy::Number(v)) if v >= 1.0 && v.is_finite() => None,
                (ElemType::Simplex(_), ArgTy::Number(v)) if v > 0.0 && v.is_finite() => Some((0, "a concentration of at least 1".into(), format!("with a concentration {v} below 1 the posterior has no mode when a count is under {}: MAP-EM needs at least 1 (1 is the flat prior); variational Bayes (`method vb`) takes any positive concentration", 1.0 - v))),
                (ElemType::Simplex(_), _) if vb => Some((0, "a positive concentration".into(), format!("{PROPER}: write e.g. `Dirichlet(0.5)`"))),
                (ElemType::Simplex(_), _) => Some((0, "a concentration (a number of at least 1)".into(), "write e.g. `Dirichlet(2.0)`: every probability gets 2 − 1 = 1 pseudo-count".into())),
                _ => return self.target_mismatch(f, "a probability vector (`simplex[K]`)"),
            },
            Dist::InvGamma => match target_ty {
                ElemType::Positive | ElemType::PositiveVec(_) => match (tys[0], tys[1]) {
                    (ArgTy::Number(a), ArgTy::Number(_) | ArgTy::Summary(..)) if vb && !(a > 0.0 && a.is_finite()) => Some((0, "a positive shape".into(), format!("{PROPER}; `InvGamma(-1, b)`, hmmlearn's flat-volume default, is improper: write e.g. `InvGamma(1.0, 0.5)`"))),
                    (ArgTy::Number(a), ArgTy::Number(b)) if a >= -1.0 && a.is_finite() && b > 0.0 && b.is_finite() => None,
                    (ArgTy::Number(a), ArgTy::Summary(summary, data, c)) if a >= -1.0 && a.is_finite() => {
                        let data_ty = m.vars[data].ty;
                        let fits = match (target_ty, data_ty) {
                            (ElemType::PositiveVec(d), ElemType::Vector(e)) => m.same_set(d, e),
                            (ElemType::Positive, _) => true,
                            _ => false,
                        };
                        if summary != Summary::Var || !(c > 0.0 && c.is_finite()) {
                            Some((1, "a positive scale: a number, or a positive multiple of `var(x)`".into(), "write e.g. `InvGamma(1.0, 0.5 * var(x))`: the scale b adds 2b to every sum of squares".into()))
                        } else if !fits {
                            Some((1, format!("a scale per coordinate of `{target_name}`"), format!("`{target_name}` is `{}` but `{}` is `{}`: summarise data over the same coordinates", m.type_name(target_ty), m.vars[data].name, m.type_name(data_ty))))
                        } else {
                            None
                        }
                    }
                    (ArgTy::Number(a), ArgTy::Number(_)) if !(a >= -1.0 && a.is_finite()) => Some((0, "a shape of at least −1".into(), format!("with a shape {a} below −1 the posterior of a variance may have no mode; `InvGamma(-1, b)` is the flat-volume prior (hmmlearn's default `covars_weight = 1`)"))),
                    (ArgTy::Number(_), _) => Some((1, "a positive scale".into(), "write e.g. `InvGamma(1.0, 0.5)`: the scale b adds 2b to every sum of squares".into())),
                    _ => Some((0, "a shape (a number of at least −1)".into(), "write e.g. `InvGamma(1.0, 0.5)`".into())),
                },
                _ => return self.target_mismatch(f, "a variance (`positive` or `positive[D]`)"),
            },
            // Positive data from a Gamma of known shape (an estimated shape was refused above).
            Dist::Gamma if m.vars[f.target].kind == DeclKind::Data => match (target_ty, tys[0], tys[1]) {
                (ElemType::Positive, ArgTy::Number(a), ArgTy::Elem(ElemType::Positive)) if (1e-6..=1e6).contains(&a) => None,
                (ElemType::Positive, ArgTy::Number(a), _) if (1e-6..=1e6).contains(&a) => Some((1, "a rate (`positive`)".into(), "declare e.g. `param b[K]: positive`; `Gamma(a, b)` takes the shape a and the rate b (mean a / b)".into())),
                (ElemType::Positive, _, _) => Some((0, "a known shape from 1e-6 to 1e6 (a number)".into(), "write e.g. `Gamma(2.0, b[z[n]])`: the shape is known, the rate is estimated; a shape outside 1e-6..1e6 loses the density's precision (coefficient of variation 1 / √a)".into())),
                _ => return self.target_mismatch(f, "positive data (`positive`)"),
            },
            // A per-row latent scale: `u[n] ~ Gamma(ν/2, ν/2)`, ν known (a Student-t).
            Dist::Gamma if m.vars[f.target].kind == DeclKind::Latent => match (target_ty, tys[0], tys[1]) {
                (ElemType::Positive, ArgTy::Number(a), ArgTy::Number(b)) if a == b && a > 0.0 && a <= 1e6 => None,
                (ElemType::Positive, ArgTy::Number(a), _) if a > 0.0 && a <= 1e6 => Some((1, format!("the same number as the shape ({a}): `Gamma(ν/2, ν/2)`"), format!("a latent scale's prior is `Gamma(ν/2, ν/2)`, which makes the emissions Student-t with ν = {} degrees of freedom: write `Gamma({a}, {a})`", 2.0 * a))),
                (ElemType::Positive, _, _) => Some((0, "half the degrees of freedom ν, a number from 0 to 1e6".into(), "write e.g. `u[n] ~ Gamma(2.0, 2.0)` for Student-t emissions with ν = 4; a ν to estimate is not supported".into())),
                _ => return self.target_mismatch(f, "a positive latent scale (`positive`)"),
            },
            Dist::Gamma => match target_ty {
                ElemType::Positive => match (tys[0], tys[1]) {
                    (ArgTy::Number(a), ArgTy::Number(b)) if vb && a > 0.0 && a.is_finite() && b > 0.0 && b.is_finite() => None,
                    (ArgTy::Number(a), ArgTy::Number(b)) if vb && !(a > 0.0 && a.is_finite() && b > 0.0 && b.is_finite()) => Some((if a > 0.0 && a.is_finite() { 1 } else { 0 }, "a positive number".into(), format!("{PROPER}: write e.g. `Gamma(2.0, 0.5)`"))),
                    (ArgTy::Number(a), ArgTy::Number(b)) if a >= 1.0 && a.is_finite() && b >= 0.0 && b.is_finite() => None,
                    (ArgTy::Number(a), ArgTy::Number(_)) if !(a >= 1.0 && a.is_finite()) => Some((0, "a shape of at least 1".into(), format!("with a shape {a} below 1 the posterior of a rate has no mode when its data sum to zero: MAP-EM needs at least 1"))),
                    (ArgTy::Number(_), _) => Some((1, "a rate of at least 0".into(), "write e.g. `Gamma(2.0, 0.5)`: a − 1 pseudo-events over b pseudo-rows".into())),
                    _ => Some((0, "a shape (a number of at least 1)".into(), "write e.g. `Gamma(2.0, 0.5)`".into())),
                },
                _ => return self.target_mismatch(f, "a rate (`positive`)"),
            },
            Dist::Beta => match target_ty {
                ElemType::Prob | ElemType::ProbVec(_) => match (tys[0], tys[1]) {
                    (ArgTy::Number(a), ArgTy::Number(b)) if vb && a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() => None,
                    (ArgTy::Number(a), ArgTy::Number(_)) if vb => Some((if a > 0.0 && a.is_finite() { 1 } else { 0 }, "a positive number".into(), format!("{PROPER}: write e.g. `Beta(0.5, 0.5)`"))),
                    (ArgTy::Number(a), ArgTy::Number(b)) if a >= 1.0 && b >= 1.0 && a.is_finite() && b.is_finite() => None,
                    (ArgTy::Number(a), _) if !(a >= 1.0 && a.is_finite()) => Some((0, "a number of at least 1".into(), "MAP-EM needs a, b ≥ 1 (1 is flat): below 1 the posterior has no mode at 0 or 1".into())),
                    _ => Some((1, "a number of at least 1".into(), "write e.g. `Beta(2.0, 2.0)`".into())),
                },
                _ => return self.target_mismatch(f, "a probability (`prob` or `prob[D]`)"),
            },
            Dist::InvWishart => match target_ty {
                ElemType::Cov(_) => match (tys[0], tys[1]) {
                    (ArgTy::Number(nu), _) if vb && !(nu > 0.0 && nu.is_finite()) => Some((0, "degrees of freedom above D − 1".into(), format!("{PROPER}: an inverse-Wishart on a D × D covariance needs ν > D − 1; write e.g. `InvWishart(5.0, 0.1 * I)`"))),
                    (ArgTy::Number(nu), ArgTy::ScaledNumber(c)) if nu.is_finite() && c > 0.0 && c.is_finite() => None,
                    (ArgTy::Number(nu), ArgTy::Identity) if nu.is_finite() => None,
                    (ArgTy::Number(nu), ArgTy::Summary(summary, data, c)) if nu.is_finite() => {
                        let data_ty = m.vars[data].ty;
                        if summary != Summary::Cov || !(c > 0.0 && c.is_finite()) {
                            Some((1, "a scale matrix: `c * I` or `c * cov(x)` with a positive number `c`".into(), "write e.g. `InvWishart(5.0, 0.1 * I)` or `InvWishart(5.0, cov(x))`".into()))
                        } else if !matches!((target_ty, data_ty), (ElemType::Cov(d), ElemType::Vector(e)) if m.same_set(d, e)) {
                            Some((1, format!("a scale matrix the size of `{target_name}`"), format!("`{target_name}` is `{}` but `{}` is `{}`: summarise data over the same coordinates", m.type_name(target_ty), m.vars[data].name, m.type_name(data_ty))))
                        } else {
                            None
                        }
                    }
                    (ArgTy::Number(_), _) => Some((1, "a scale matrix `c * I` or `c * cov(x)` with a positive number `c`".into(), "write e.g. `InvWishart(5.0, 0.1 * I)`, or `InvWishart(5.0, cov(x))` for the data's covariance".into())),
                    _ => Some((0, "degrees of freedom (a number)".into(), "write e.g. `InvWishart(5.0, 0.1 * I)`".into())),
                },
                _ => return self.target_mismatch(f, "a covariance matrix (`cov[D]`)"),
            },
        };
        if let Some((pos, expected, hint)) = mismatch {
            let found = self.describe(tys[pos]);
            self.error(
                Diagnostic::error(
                    DiagCode::ArgType,
                    f.args[pos].span,
                    format!(
                        "argument {} of `{}` must be {expected}, but this is {found}",
                        pos + 1,
                        f.dist.name()
                    ),
                )
                .label("wrong kind of argument")
                .hint(hint),
            );
            return false;
        }
        true
    }

    /// A prior on a mean, `mu[k] ~ MvNormal(m0, Sigma[k] / κ)` or `m[k] ~ Normal(m0, v[k] / κ)`:
    /// a number and the block's covariance over a positive number (whether it is the block's
    /// covariance is for the derivation to see).
    fn mean_prior_signature(&mut self, f: &Factor) -> bool {
        let example = if f.dist == Dist::Normal {
            "`m[k] ~ Normal(0.0, v[k] / 0.01)` or `Normal(mean(y), v[k] / 0.01)`: the prior mean (a number, or the mean of the data `m` models), and the variance of the block divided by the prior's weight κ"
        } else {
            "`mu[k] ~ MvNormal(0.0, Sigma[k] / 0.01)` or `MvNormal(mean(x), Sigma[k] / 0.01)`: the prior mean (a number for every coordinate, or the mean of the data `mu` models), and the covariance of the block divided by the prior's weight κ"
        };
        let target_ty = self.model.vars[f.target].ty;
        let mean_ok = match f.args[0].kind {
            ArgKind::Number(m0) => m0.is_finite(),
            ArgKind::Summary {
                summary: Summary::Mean,
                data,
                factor,
            } => {
                factor.is_finite()
                    && match (target_ty, self.model.vars[data].ty) {
                        (ElemType::Vector(d), ElemType::Vector(e)) => self.model.same_set(d, e),
                        (ElemType::Real, ElemType::Real) => true,
                        _ => false,
                    }
            }
            _ => false,
        };
        let (pos, expected) = match (mean_ok, &f.args[1].kind) {
            (true, ArgKind::Over(_, kappa)) if *kappa > 0.0 && kappa.is_finite() => {
                return true;
            }
            (true, _) => (1, "the block's covariance over a positive number"),
            _ => (
                0,
                "the prior mean: a number, or `mean(x)` of data over the same coordinates",
            ),
        };
        self.error(
            Diagnostic::error(
                DiagCode::ArgType,
                f.args[pos].span,
                format!(
                    "argument {} of a `{}` prior on a mean must be {expected}",
                    pos + 1,
                    f.dist.name()
                ),
            )
            .label("wrong kind of argument")
            .hint(format!("write {example}")),
        );
        false
    }

    /// A statement on data that is valid but outside the closed-form class, said with the
    /// statement's part at fault, why, and the nearest model that is inside it: a `Gamma`
    /// emission, and a mean that depends on data (a regression).
    fn outside_closed_form(&self, f: &Factor) -> Option<Diagnostic> {
        let m = &self.model;
        let target = &m.vars[f.target].name;
        if f.dist == Dist::Gamma && !matches!(f.args[0].kind, ArgKind::Number(_)) {
            let why = format!("`Gamma` emissions with an estimated shape have no closed-form M-step: the shape's update solves ln a − ψ(a) = ln x̄ − mean(ln x), an equation in the digamma function (here for `{target}`)");
            return Some(
                Diagnostic::error(DiagCode::Unsupported, f.args[0].span, why)
                    .label("estimated shape")
                    .hint("fix the shape at a number, `Gamma(2.0, b[z[n]])` (a Gamma of known shape: closed-form rate), or use `Exponential(rate[z[n]])` (shape 1); or `LogNormal(m[z[n]], v[z[n]])` (a Normal on ln x: closed form too)"),
            );
        }
        if matches!(f.dist, Dist::Normal | Dist::MvNormal) {
            if let ArgKind::Expr(text, vars) = &f.args[0].kind {
                let data: Vec<&str> = vars
                    .iter()
                    .filter(|&&v| m.vars[v].kind == DeclKind::Data && v != f.target)
                    .map(|&v| m.vars[v].name.as_str())
                    .collect();
                if let (Some(first), true) = (data.first(), text.contains(" - ")) {
                    return Some(
                        Diagnostic::error(
                            DiagCode::Unsupported,
                            f.args[0].span,
                            format!("a regression's intercept is added: `{text}` subtracts it"),
                        )
                        .label("subtracted")
                        .hint(format!("write `+ c[z[n]]`: the intercept is fitted, so its sign is free (e.g. `dot(beta[z[n]], {first}[n]) + c[z[n]]`)")),
                    );
                }
                if let Some(first) = data.first() {
                    return Some(
                        Diagnostic::error(
                            DiagCode::Unsupported,
                            f.args[0].span,
                            format!("a mean that depends on data `{first}` as `{text}` has no closed-form M-step"),
                        )
                        .label("mean depends on data")
                        .hint(format!("a mean linear in data is a regression: write `{target}[n] ~ Normal(dot(beta[z[n]], {first}[n]) + c[z[n]], s[z[n]])` with `data {first}[N]: vector[P]` and `param beta[K]: vector[P]` (or `beta[z[n]] * {first}[n] + c[z[n]]` for one `real` covariate)")),
                    );
                }
            }
        }
        None
    }

    fn target_mismatch(&mut self, f: &Factor, expected: &str) -> bool {
        let v = &self.model.vars[f.target];
        let found = self.model.type_name(v.ty);
        let name = v.name.clone();
        self.error(
            Diagnostic::error(
                DiagCode::TargetType,
                f.target_span,
                format!(
                    "`{}` models {expected}, but `{name}` is `{found}`",
                    f.dist.name()
                ),
            )
            .label("sampled variable")
            .hint(match f.dist {
                Dist::Poisson => {
                    "declare the column as `count`, or model it with `Normal`".to_string()
                }
                Dist::MvNormal => {
                    "declare the data as `vector[D]`, or use `Normal` for one real column"
                        .to_string()
                }
                Dist::Normal if v.ty == ElemType::Positive => format!("declare `{name}` as `real` to model it with a Normal (which puts mass below zero), or keep it `positive` and write `LogNormal(m, v)`, `Gamma(a, rate)` or `Exponential(rate)`"),
                Dist::Normal => "use `MvNormal` for vector data".to_string(),
                Dist::LogNormal => "declare the data as `positive` (every value above zero): `LogNormal` models ln x as Normal".to_string(),
                Dist::Multinomial => "declare the columns of counts as one item, e.g. `data x[N]: count[V] from (c1, c2, c3)`; a single count is `Binomial(T, p)` or `Poisson(rate)`".to_string(),
                Dist::Dirichlet => {
                    "a Dirichlet is a prior on a `simplex` parameter, e.g. `w ~ Dirichlet(2.0)`"
                        .to_string()
                }
                Dist::InvGamma => "an inverse-Gamma is a prior on a variance parameter, e.g. `v[k] ~ InvGamma(1.0, 0.5)` with `param v[K]: positive[D]`".to_string(),
                Dist::InvWishart => "an inverse-Wishart is a prior on a covariance parameter, e.g. `Sigma[k] ~ InvWishart(5.0, 0.1 * I)` with `param Sigma[K]: cov[D]`".to_string(),
                Dist::Gamma => "a Gamma is a prior on a rate parameter, e.g. `rate[k] ~ Gamma(2.0, 0.5)` with `param rate[K]: positive`".to_string(),
                Dist::Beta => "a Beta is a prior on a probability parameter, e.g. `p[k] ~ Beta(2.0, 2.0)` with `param p[K]: prob[D]`".to_string(),
                Dist::Exponential => {
                    "declare the column as `positive` (every value above zero)".to_string()
                }
                _ => format!("choose a distribution for `{found}` values"),
            }),
        );
        false
    }
}

/// `c * cov(x)` as written in a model file (`cov(x)` when `c` is 1).
pub fn render_summary(summary: Summary, data: &str, factor: f64) -> String {
    let name = summary.name();
    if factor == 1.0 {
        format!("{name}({data})")
    } else {
        format!("{factor} * {name}({data})")
    }
}

/// The variables the arguments mention, in order of appearance.
fn vars_of(args: &[&Arg]) -> Vec<VarId> {
    let mut out = Vec::new();
    for a in args {
        a.mentioned(&mut out);
    }
    out
}

/// Source-like text of an expression, for messages. Linear in the size of the expression
/// (one buffer, written once).
pub fn render(e: &Expr) -> String {
    let mut out = String::new();
    render_into(e, &mut out);
    out
}

fn render_into(e: &Expr, out: &mut String) {
    use std::fmt::Write;
    let list = |items: &[Expr], out: &mut String| {
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            render_into(x, out);
        }
    };
    match e {
        // Writing into a String cannot fail.
        Expr::Num(v, _) => {
            let _ = write!(out, "{v}");
        }
        Expr::Neg(x, _) => {
            out.push('-');
            render_into(x, out);
        }
        Expr::Index { name, indices, .. } if indices.is_empty() => out.push_str(&name.name),
        Expr::Index { name, indices, .. } => {
            out.push_str(&name.name);
            out.push('[');
            list(indices, out);
            out.push(']');
        }
        Expr::Call { func, args, .. } => {
            out.push_str(&func.name);
            out.push('(');
            list(args, out);
            out.push(')');
        }
        Expr::Binary { op, lhs, rhs, .. } => {
            render_into(lhs, out);
            out.push_str(match op {
                BinOp::Add => " + ",
                BinOp::Sub => " - ",
                BinOp::Mul => " * ",
                BinOp::Div => " / ",
            });
            render_into(rhs, out);
        }
    }
}

/// `text` cut to its first 60 characters (with `…`) for a message.
pub fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    const KEEP: usize = 60;
    match text.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
        None => text.into(),
    }
}
