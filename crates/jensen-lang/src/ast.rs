//! The spanned syntax tree of a model file, as written (no names resolved).

use crate::diag::Span;

/// A name with its place in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A whole model file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    /// The items in source order.
    pub items: Vec<Item>,
    /// Names declared on lines that failed to parse (not reported again as unknown).
    pub poisoned: Vec<String>,
}

/// One line of a model file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `model NAME`
    Model(Ident),
    /// `const K: int = 2`
    Const(ConstDecl),
    /// `estep hard`: the model's default E-step (the mode as written).
    EStep(Ident),
    /// `method vb`: the model's default inference method.
    Method(Ident),
    /// `data`, `param` or `latent` declaration.
    Decl(Decl),
    /// `target ~ Dist(args)`
    Sample(Sample),
}

/// `const NAME: TYPE = VALUE`
#[derive(Debug, Clone, PartialEq)]
pub struct ConstDecl {
    /// The constant.
    pub name: Ident,
    /// Its type as written (`int`).
    pub ty: Ident,
    /// The value as written.
    pub value: String,
    /// The value's span.
    pub value_span: Span,
    /// The whole line.
    pub span: Span,
}

/// Which kind of declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclKind {
    /// Observed.
    Data,
    /// Estimated by the M-step.
    Param,
    /// Inferred by the E-step.
    Latent,
}

/// `data x[N]: vector[D] from (a, b)`, `param mu[K]: vector[D]`, `latent z[N]: 0..K`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    /// Data, param or latent.
    pub kind: DeclKind,
    /// The declared name.
    pub name: Ident,
    /// Index sets the variable is replicated over.
    pub plates: Vec<Ident>,
    /// Element type.
    pub ty: TypeExpr,
    /// CSV columns a data item is read from (`from (a, b)`).
    pub columns: Option<Vec<Ident>>,
    /// Columns left out of "every other numeric column" (`except (label)`).
    pub except: Option<Vec<Ident>>,
    /// A parameter's known value (`param s[K]: positive = 2.5`): fixed, not estimated.
    pub fixed: Option<(f64, Span)>,
    /// The whole line.
    pub span: Span,
}

/// A size in a type: a set name or a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Size {
    /// A named index set or constant.
    Name(Ident),
    /// A literal number.
    Lit(usize, Span),
}

impl Size {
    /// Where it is written.
    pub fn span(&self) -> Span {
        match self {
            Size::Name(i) => i.span,
            Size::Lit(_, s) => *s,
        }
    }
}

/// Element type of a declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeExpr {
    /// `name` or `name[sizes]`, e.g. `vector[D]`, `cov[D]`, `positive`.
    Named {
        /// Type name.
        name: Ident,
        /// Sizes in brackets.
        sizes: Vec<Size>,
        /// Whole type.
        span: Span,
    },
    /// `0..K`: an integer in a range.
    Range {
        /// Lower bound (must be 0).
        lo: usize,
        /// Upper bound (exclusive).
        hi: Size,
        /// Whole type.
        span: Span,
    },
}

impl TypeExpr {
    /// Where it is written.
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named { span, .. } | TypeExpr::Range { span, .. } => *span,
        }
    }
}

/// `target ~ Dist(args)`
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Left of `~`.
    pub target: Expr,
    /// Distribution name.
    pub dist: Ident,
    /// Arguments.
    pub args: Vec<Expr>,
    /// The whole statement.
    pub span: Span,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number.
    Num(f64, Span),
    /// `name` or `name[i, j]`.
    Index {
        /// The name.
        name: Ident,
        /// Indices (empty without brackets).
        indices: Vec<Expr>,
        /// Whole expression.
        span: Span,
    },
    /// `f(args)`, e.g. `diag(v)`.
    Call {
        /// Function name.
        func: Ident,
        /// Arguments.
        args: Vec<Expr>,
        /// Whole expression.
        span: Span,
    },
    /// `a op b`.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
        /// Whole expression.
        span: Span,
    },
    /// `-a`.
    Neg(Box<Expr>, Span),
}

impl Expr {
    /// Where it is written.
    pub fn span(&self) -> Span {
        match self {
            Expr::Num(_, s) | Expr::Neg(_, s) => *s,
            Expr::Index { span, .. } | Expr::Call { span, .. } | Expr::Binary { span, .. } => *span,
        }
    }
}
