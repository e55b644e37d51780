//! Printing the lowered program as Rust: every operand, kernel call, loop over components
//! and pooled update of the generated `MixtureModel` comes from [`Program`]; nothing here
//! decides what a model means.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use jensen_lang::ir::{EStepKind, Method};
use jensen_lang::plan::{BlockKind, StatKind, Trials};
use jensen_lang::program::{
    At, Call, DataForm, Derived, DerivedKind, Dim, Elem, Operand, ParamSlot, Reseed, Size, Src,
    Start, TermValue, UpdateStep, UpdateValue,
};

use crate::rust::{ident, mentions, usage, Gen};

/// Rust tokens of a kernel's path (`gaussian::mean_from_stats`).
fn path(p: &str) -> TokenStream {
    p.parse().expect("kernel path")
}

/// The names an update uses for its pooled statistic and count.
#[derive(Clone, Copy)]
struct Pool {
    value: &'static str,
    count: &'static str,
    scalar: bool,
}

/// The E-step pass a block's kernels are printed for ([`Gen::block_parts`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    LogJoint,
    Accumulate,
}

impl Gen<'_> {
    /// The mean number of trials of binomial block `b`, as an expression: the known number,
    /// or the (weighted) mean of its trials column.
    fn mean_trials(&self, b: usize) -> TokenStream {
        match self.plan.blocks[b].kind.trials() {
            Some(Trials::Known(t)) => {
                let t = proc_macro2::Literal::f64_unsuffixed(t);
                quote!(#t)
            }
            Some(Trials::Column(t)) => {
                let t = self.var(t);
                let x = quote!(self.data.#t.view().insert_axis(Axis(1)));
                match self.plan.row_weights.map(|w| self.var(w)) {
                    None => quote!(moments::column_means(#x)[0]),
                    Some(w) => quote!(moments::weighted::column_means(#x, self.data.#w.view())[0]),
                }
            }
            None => unreachable!("a binomial block"),
        }
    }

    fn dim(&self, d: Dim) -> TokenStream {
        match d {
            Dim::Lit(n) => {
                let n = proc_macro2::Literal::usize_unsuffixed(n);
                quote!(#n)
            }
            Dim::Set(s) => self.size(s),
            Dim::SetPlus(s, n) => {
                let size = self.size(s);
                let n = proc_macro2::Literal::usize_unsuffixed(n);
                quote!((#size + #n))
            }
        }
    }

    fn zeros(&self, elem: Elem) -> TokenStream {
        match elem {
            Elem::Scalar => quote!(0.0),
            Elem::Vector(d) => {
                let d = self.dim(d);
                quote!(Array1::<f64>::zeros(#d))
            }
            Elem::Matrix(r, c) => {
                let (r, c) = (self.dim(r), self.dim(c));
                quote!(Array2::<f64>::zeros((#r, #c)))
            }
        }
    }

    /// A size expression, as Rust arithmetic on `usize` (sizes are checked to be at
    /// least one, and no difference in a free-parameter count can go below zero).
    pub(crate) fn size_expr(&self, s: &Size) -> TokenStream {
        match s {
            Size::Dim(Dim::Lit(n)) => {
                let n = proc_macro2::Literal::usize_unsuffixed(*n);
                quote!(#n)
            }
            Size::Dim(d) => self.dim(*d),
            Size::Mul(a, b) => {
                let (a, b) = (self.size_expr(a), self.size_expr(b));
                quote!(#a * #b)
            }
            Size::Add(a, b) => {
                let (a, b) = (self.size_expr(a), self.size_expr(b));
                quote!((#a + #b))
            }
            Size::Sub(a, b) => {
                let (a, b) = (self.size_expr(a), self.size_expr(b));
                quote!((#a - #b))
            }
            Size::Div(a, n) => {
                let a = self.size_expr(a);
                let n = proc_macro2::Literal::usize_unsuffixed(*n);
                quote!((#a / #n))
            }
            Size::Min(a, b) => {
                let left = self.size_expr(a);
                let left = if matches!(**a, Size::Mul(..)) {
                    quote!((#left))
                } else {
                    left
                };
                let b = self.size_expr(b);
                quote!(#left.min(#b))
            }
        }
    }

    fn src(&self, src: Src) -> TokenStream {
        match src {
            Src::Cache => quote!(p),
            Src::Prev => quote!(prev),
            Src::Params => quote!(params),
            Src::Centre => quote!(centre),
            // The M-step's new values are local bindings named like the parameters.
            Src::Next => quote!(),
        }
    }

    fn index(at: At) -> Option<TokenStream> {
        match at {
            At::K => Some(quote!(k)),
            At::Zero => Some(quote!(0)),
            At::Whole => None,
        }
    }

    fn place(src: TokenStream, f: Ident) -> TokenStream {
        if src.is_empty() {
            quote!(#f)
        } else {
            quote!(#src.#f)
        }
    }

    /// The name of a derived quantity computed inside a method (not taken from the cache).
    fn local(d: &Derived, src: Src) -> Ident {
        let base = match d.kind {
            DerivedKind::Cholesky(_) => "chol",
            DerivedKind::Posteriors { .. } => "post",
            _ => "value",
        };
        match src {
            Src::Centre => format_ident!("centre_{base}"),
            _ => format_ident!("{base}"),
        }
    }

    /// A derived quantity as a place (`cache.x_chol[k]`).
    fn derived_place(&self, id: usize, src: Src, at: At) -> TokenStream {
        let d = &self.program.derived[id];
        let base = match src {
            Src::Cache => {
                let f = ident(&d.name);
                quote!(cache.#f)
            }
            _ => {
                let f = Self::local(d, src);
                quote!(#f)
            }
        };
        match d.kind {
            DerivedKind::Cholesky(_) | DerivedKind::Posteriors { .. } => {
                let i = Self::index(at).unwrap_or(quote!(0));
                quote!(#base[#i])
            }
            DerivedKind::LogRows(_) => {
                let i = Self::index(at).unwrap_or(quote!(0));
                quote!(#base.row(#i))
            }
            DerivedKind::LogVector(_) | DerivedKind::LogMatrix(_) => quote!(#base.view()),
        }
    }

    /// An operand, in the context of a block (for its rows and moments) and a pool.
    fn operand(&self, op: &Operand, block: Option<usize>, pool: Option<Pool>) -> TokenStream {
        let prefix = || self.plan.block_prefix(block.expect("a block's operand"));
        match op {
            Operand::Rows => quote!(x),
            Operand::Column(var) => {
                let f = self.var(*var);
                quote!(self.data.#f.slice(s![rows.clone()]))
            }
            Operand::Covariates(var) => {
                let f = self.var(*var);
                if matches!(
                    self.plan.model.vars[*var].ty,
                    jensen_lang::ir::ElemType::Vector(_)
                ) {
                    quote!(self.data.#f.slice(s![rows.clone(), ..]))
                } else {
                    quote!(self.data.#f.slice(s![rows.clone()]).insert_axis(Axis(1)))
                }
            }
            Operand::RowTerms => {
                let b = block.expect("a block's operand");
                let terms = self.program.blocks[b].row_terms.expect("per-row terms");
                let f = format_ident!("{}_{}", prefix(), terms.suffix());
                quote!(self.#f.slice(s![rows.clone()]))
            }
            Operand::Out => quote!(out.column_mut(k)),
            Operand::OutAll => quote!(out.view_mut()),
            Operand::Bound => quote!(bound.view_mut()),
            Operand::Assigned => quote!(assigned),
            Operand::LogUniform => quote!(aview1(&[-(self.n_components() as f64).ln()])),
            Operand::Assignments => quote!(assignments),
            Operand::AsVector(value) => {
                let v = self.operand(value, block, pool);
                quote!(aview1(&[#v]))
            }
            Operand::Resp => quote!(resp.column(k)),
            Operand::CompleteResp => quote!(complete.column(k)),
            Operand::RespAll => quote!(resp.view()),
            Operand::CompleteRespAll => quote!(complete.view()),
            Operand::Gaps => quote!(&gaps),
            Operand::Before => quote!(before.column(k)),
            Operand::Workspace => quote!(ws),
            Operand::Param {
                src,
                var,
                at,
                elem,
                as_vector,
            } => {
                let f = self.var(*var);
                let base = Self::place(self.src(*src), f);
                let per_component = self
                    .program
                    .params
                    .iter()
                    .any(|p| p.var == *var && p.per_component);
                let value = match (elem, Self::index(*at)) {
                    (Elem::Scalar, Some(i)) => quote!(#base[#i]),
                    // Every component's value, as a vector.
                    (Elem::Scalar, None) if per_component => quote!(#base.view()),
                    (Elem::Scalar, None) => base,
                    (Elem::Vector(_), Some(i)) => quote!(#base.row(#i)),
                    (Elem::Matrix(..), Some(i)) => quote!(#base.index_axis(Axis(0), #i)),
                    (_, None) => quote!(#base.view()),
                };
                if *as_vector {
                    quote!(Array1::from_elem(1, #value).view())
                } else {
                    value
                }
            }
            Operand::Slot { src, slot, at } => {
                let p = &self.program.params[*slot];
                let base = Self::place(self.src(*src), ident(&p.name));
                match Self::index(*at) {
                    // (The loadings' row covariance factor is a matrix per component.)
                    Some(i) if p.elem != Elem::Scalar => quote!(#base.index_axis(Axis(0), #i)),
                    None if p.elem != Elem::Scalar => quote!(#base.view()),
                    Some(i) => quote!(#base[#i]),
                    None if p.per_component => quote!(#base.view()),
                    None => base,
                }
            }
            Operand::Isotropic(var, like) => {
                let (v, m) = (
                    self.operand(var, block, pool),
                    self.operand(like, block, pool),
                );
                quote!(linear::isotropic(#v, #m.len()).view())
            }
            Operand::Stat { slot, at, mutable } => {
                let s = &self.program.stats[*slot];
                let f = ident(&s.name);
                if *at == At::Whole {
                    return if *mutable {
                        quote!(stats.#f.view_mut())
                    } else {
                        quote!(stats.#f.view())
                    };
                }
                let i = Self::index(*at).unwrap_or(quote!(0));
                match (s.elem, mutable) {
                    (Elem::Scalar, true) => quote!(&mut stats.#f[#i]),
                    (Elem::Scalar, false) => quote!(stats.#f[#i]),
                    (Elem::Vector(_), true) => quote!(stats.#f.row_mut(#i)),
                    (Elem::Vector(_), false) => quote!(stats.#f.row(#i)),
                    (Elem::Matrix(..), true) => quote!(stats.#f.index_axis_mut(Axis(0), #i)),
                    (Elem::Matrix(..), false) => quote!(stats.#f.index_axis(Axis(0), #i)),
                }
            }
            Operand::Derived { id, src, at } => {
                let place = self.derived_place(*id, *src, *at);
                match self.program.derived[*id].kind {
                    DerivedKind::Cholesky(_) | DerivedKind::Posteriors { .. } => quote!(&#place),
                    _ => place,
                }
            }
            Operand::LogDetPrecision(post) => {
                let Operand::Derived { id, src, at } = **post else {
                    unreachable!("a posterior")
                };
                let place = self.derived_place(id, src, at);
                quote!(#place.log_det_precision())
            }
            Operand::Count(at) => {
                let i = Self::index(*at).unwrap_or(quote!(0));
                quote!(counts[#i])
            }
            Operand::RowCount => self.row_total(),
            Operand::Number(v) => {
                // Checked finite and positive when the model was checked.
                let lit = proc_macro2::Literal::f64_unsuffixed(*v);
                quote!(#lit)
            }
            Operand::Hyper(i) => {
                let h = &self.program.hypers[*i];
                let f = format_ident!("{}", h.name);
                match h.elem {
                    Elem::Scalar => quote!(self.#f),
                    _ => quote!(self.#f.view()),
                }
            }
            Operand::DataMean => {
                let f = format_ident!("{}_mean", prefix());
                quote!(self.#f.view())
            }
            Operand::DataScatterRoot => {
                let f = format_ident!("{}_scatter_root", prefix());
                quote!(self.#f.as_ref()?.view())
            }
            Operand::Reg => quote!(config.reg_covar),
            Operand::DataScale(b) => {
                let f = format_ident!("{}_scale", self.plan.block_prefix(*b));
                quote!(self.#f.view())
            }
            Operand::LatentCounts => quote!(counts),
            Operand::LatentInitial => quote!(latent.initial.view()),
            Operand::LatentTransitions => quote!(latent.transitions.view()),
            Operand::Pooled => {
                let pool = pool.expect("inside a pooled update");
                let v = format_ident!("{}", pool.value);
                if pool.scalar {
                    quote!(#v)
                } else {
                    quote!(#v.view())
                }
            }
            Operand::PooledCount => {
                let c = format_ident!("{}", pool.expect("inside a pooled update").count);
                quote!(#c)
            }
        }
    }

    /// A kernel call.
    fn call(&self, c: &Call, block: Option<usize>, pool: Option<Pool>) -> TokenStream {
        let f = path(c.kernel.path());
        let args = c.args.iter().map(|a| self.operand(a, block, pool));
        quote!(#f(#(#args),*))
    }

    /// `let x = …;`: the block's rows in the current chunk.
    fn rows(&self, b: usize) -> TokenStream {
        let block = &self.program.blocks[b];
        let f = self.var(block.data);
        match block.form {
            DataForm::Matrix => quote!(let x = self.data.#f.slice(s![rows.clone(), ..]);),
            DataForm::Column => quote!(let x = self.data.#f.slice(s![rows.clone()]);),
            DataForm::ColumnAsMatrix => {
                quote!(let x = self.data.#f.slice(s![rows.clone()]).insert_axis(Axis(1));)
            }
        }
    }

    /// A derived quantity's value, computed from the parameters `src`.
    fn derived_value(&self, d: &Derived, src: TokenStream) -> TokenStream {
        let k = self.k();
        match d.kind {
            DerivedKind::LogVector(v) | DerivedKind::LogMatrix(v) => {
                let f = self.var(v);
                quote!(#src.#f.mapv(f64::ln))
            }
            DerivedKind::LogRows(p) => {
                let f = self.var(p.param);
                if p.per_component {
                    quote!(#src.#f.mapv(f64::ln))
                } else {
                    quote!(#src.#f.mapv(f64::ln).insert_axis(Axis(0)).broadcast((#k, #src.#f.len())).expect("broadcast").to_owned())
                }
            }
            DerivedKind::Cholesky(p) => self.cholesky_factors(p, src),
            DerivedKind::Posteriors { loading, noise, .. } => {
                let b = self
                    .plan
                    .blocks
                    .iter()
                    .position(|b| {
                        matches!(b.kind, BlockKind::LinearGaussian { loading: l, noise: n, .. } if l == loading && n == noise)
                    })
                    .expect("the block of a posterior");
                self.factor_posteriors(b, src)
            }
        }
    }

    pub(crate) fn cache_struct(&self) -> TokenStream {
        let name = self.item("Cache");
        let params = self.item("Params");
        let fields = self.program.derived.iter().map(|d| {
            let f = ident(&d.name);
            let (ty, doc) = match d.kind {
                DerivedKind::LogVector(v) => (
                    quote!(Array1<f64>),
                    format!(" `ln {}`.", self.plan.name(v)),
                ),
                DerivedKind::LogMatrix(v) => (
                    quote!(Array2<f64>),
                    format!(" `ln {}`, the chain's transition matrix.", self.plan.name(v)),
                ),
                DerivedKind::LogRows(p) => (
                    quote!(Array2<f64>),
                    format!(" `ln {}`, a row per component.", self.plan.name(p.param)),
                ),
                DerivedKind::Cholesky(p) => (
                    quote!(Vec<Cholesky>),
                    format!(
                        " Cholesky factors of `{}`{}.",
                        self.plan.name(p.param),
                        if p.per_component { ", one per component" } else { "" }
                    ),
                ),
                DerivedKind::Posteriors { loading, .. } => (
                    quote!(Vec<linear::FactorPosterior>),
                    format!(
                        " Posterior of the continuous latent under the loadings `{}`, one per component.",
                        self.plan.name(loading.param)
                    ),
                ),
            };
            quote! { #[doc = #doc] #f: #ty }
        });
        let (params_doc, offsets) = if self.program.method == Method::Vb {
            (
                quote!(#[doc = " The parameters the E-step reads: each posterior's effective value."]),
                quote!(#[doc = " Each component's offsets `E_q[ln p(x | θ)] − ln p(x | θ̃)`, summed over the blocks."] offsets: Array1<f64>,),
            )
        } else {
            (quote!(), quote!())
        };
        quote! {
            /// Quantities computed once per iteration from the parameters.
            #[derive(Debug)]
            pub struct #name {
                #params_doc
                params: #params,
                #offsets
                #(#fields,)*
            }
        }
    }

    pub(crate) fn prepare(&self) -> TokenStream {
        let params = self.item("Params");
        let cache = self.item("Cache");
        let lets = self.program.derived.iter().map(|d| {
            let f = ident(&d.name);
            let value = self.derived_value(d, quote!(params));
            quote!(let #f = #value;)
        });
        let fields = self.program.derived.iter().map(|d| ident(&d.name));
        if self.program.method == Method::Vb {
            return quote! {
                fn prepare(&self, params: &#params) -> Result<#cache, NumericalIssue> {
                    let offsets = self.offsets(params);
                    let params = &self.effective(params);
                    #(#lets)*
                    Ok(#cache { params: params.clone(), offsets, #(#fields,)* })
                }
            };
        }
        quote! {
            fn prepare(&self, params: &#params) -> Result<#cache, NumericalIssue> {
                #(#lets)*
                Ok(#cache { params: params.clone(), #(#fields,)* })
            }
        }
    }

    /// Variational Bayes: `effective` (each posterior's effective value, which the E-step
    /// reads) and `offsets`, inherent methods of the model; nothing under EM.
    pub(crate) fn variational_methods(&self) -> TokenStream {
        if self.program.method != Method::Vb {
            return quote!();
        }
        let params = self.item("Params");
        let k = self.k();
        let steps: TokenStream = self
            .program
            .effective
            .iter()
            .map(|step| {
                let slot = &self.program.params[step.param];
                let f = ident(&slot.name);
                let value = self.call(&step.call, None, None);
                let value = if step.first_element {
                    quote!(#value[0])
                } else {
                    value
                };
                if !step.per_component {
                    return quote!(effective.#f = #value;);
                }
                let assign = match slot.elem {
                    Elem::Scalar => quote!(effective.#f[k] = #value;),
                    Elem::Vector(_) => quote!(effective.#f.row_mut(k).assign(&#value);),
                    Elem::Matrix(..) => {
                        quote!(effective.#f.index_axis_mut(Axis(0), k).assign(&#value);)
                    }
                };
                quote!(for k in 0..#k { #assign })
            })
            .collect();
        let offsets: Vec<TokenStream> = self
            .program
            .offsets
            .iter()
            .map(|c| self.call(c, None, None))
            .collect();
        let offsets = if offsets.is_empty() {
            quote!(Array1::zeros(#k))
        } else {
            quote!(Array1::from_shape_fn(#k, |k| #(#offsets)+*))
        };
        let (mutable, effective) = if steps.is_empty() {
            (quote!(), quote!(effective))
        } else {
            (quote!(mut), quote!(effective))
        };
        quote! {
            /// The parameters the variational E-step reads: each posterior's mean replaced by
            /// its effective value (`exp E[ln w]`, …).
            pub fn effective(&self, params: &#params) -> #params {
                let #mutable #effective = params.clone();
                #steps
                effective
            }

            /// Each component's offsets `E_q[ln p(x | θ)] − ln p(x | θ̃)`, summed over the blocks.
            pub fn offsets(&self, params: &#params) -> Array1<f64> {
                #offsets
            }
        }
    }

    /// `keeps_empty_components`: printed for variational Bayes, which keeps an empty
    /// component at its prior.
    pub(crate) fn keeps_empty_components(&self) -> TokenStream {
        if self.program.method != Method::Vb {
            return quote!();
        }
        quote! {
            fn keeps_empty_components(&self) -> bool {
                true
            }
        }
    }

    /// `// statement { let x = …; prelude; for k { body } }` for every block of `pass` (the
    /// latent's prior beside the first block's statement when that block's call sets it).
    fn per_block(
        &self,
        pass: Pass,
        prelude: impl Fn(usize) -> TokenStream,
        each: impl Fn(usize) -> TokenStream,
    ) -> TokenStream {
        self.program
            .blocks
            .iter()
            .enumerate()
            .map(|(b, block)| {
                let doc = match self.latent_prior_text() {
                    Some(prior)
                        if pass == Pass::LogJoint && b == 0 && self.program.log_prior_in_block =>
                    {
                        format!(" {prior}; {}", block.statement)
                    }
                    _ => format!(" {}", block.statement),
                };
                let rows = self.rows(b);
                let prelude = prelude(b);
                let body = each(b);
                let looped = if body.is_empty() {
                    quote!()
                } else {
                    self.each_component(body)
                };
                quote! {
                    #[doc = #doc]
                    {
                        #rows
                        #prelude
                        #looped
                    }
                }
            })
            .collect()
    }

    /// Block `b`'s part of `log_joint` or `accumulate`: before its loop over the components,
    /// the rows with a gap (and what the gap kernels read of them) and the block's form for
    /// every component at once when it has one; in the loop, its per-component call unless
    /// that form ran, then its gap kernel.
    fn block_parts(&self, b: usize, pass: Pass) -> (TokenStream, TokenStream) {
        let block = &self.program.blocks[b];
        let (whole, each, gap, gap_input) = match pass {
            Pass::LogJoint => (
                block.log_densities.as_ref(),
                &block.log_density,
                block.missing.as_ref().map(|m| &m.log_density),
                match &block.log_densities {
                    // (The block's call sets the prior: the gap kernels start from it.)
                    Some(sets) if b == 0 && self.program.log_prior_in_block => {
                        let prior = self.operand(&sets.args[1], Some(b), None);
                        quote!(let before = gaps.prior_rows(#prior, self.n_components());)
                    }
                    _ => quote!(let before = gaps.rows_of(out.view());),
                },
            ),
            Pass::Accumulate => (
                block.accumulate_all.as_ref(),
                &block.accumulate,
                block.missing.as_ref().map(|m| &m.accumulate),
                quote!(let complete = gaps.zero_rows(resp.view());),
            ),
        };
        let gaps = match gap {
            Some(_) => {
                let gaps = self.gaps(b);
                quote!(#gaps #gap_input)
            }
            None => quote!(),
        };
        let (before, call) = match whole {
            Some(c) => {
                let call = self.call(c, Some(b), None);
                (quote!(#gaps #call;), quote!())
            }
            None => {
                let call = self.call(each, Some(b), None);
                (gaps, quote!(#call;))
            }
        };
        match gap {
            Some(g) => {
                let gap = self.call(g, Some(b), None);
                (before, quote!(#call #gap;))
            }
            None => (before, call),
        }
    }

    /// `let gaps = …;`: the rows of the chunk with a missing cell of block `b`'s data.
    fn gaps(&self, b: usize) -> TokenStream {
        let f = format_ident!("{}_gaps", self.var(self.program.blocks[b].data));
        quote!(let gaps = self.#f.within(rows.clone());)
    }

    /// `// z[n] ~ Categorical(w)` and the latent prior's call, when the log-joint has one and
    /// the first block's call does not set it.
    fn latent_prior(&self) -> TokenStream {
        match &self.program.log_prior {
            Some(c) if !self.program.log_prior_in_block => {
                let text = self
                    .latent_prior_text()
                    .expect("a latent prior has its statement");
                let doc = format!(" {text}");
                let call = self.call(c, None, None);
                quote! { #[doc = #doc] #call; }
            }
            _ => quote!(),
        }
    }

    /// The latent prior's statement (`z[n] ~ Categorical(w)`), when the log-joint has it.
    fn latent_prior_text(&self) -> Option<&str> {
        self.program.log_prior.as_ref()?;
        let factor = *self.plan.latent.prior_factors().first()?;
        Some(&self.plan.model.factors[factor].text)
    }

    pub(crate) fn log_joint(&self) -> TokenStream {
        let cache = self.item("Cache");
        let prior = self.latent_prior();
        let blocks = self.per_block(
            Pass::LogJoint,
            |b| self.block_parts(b, Pass::LogJoint).0,
            |b| self.block_parts(b, Pass::LogJoint).1,
        );
        let (p, ws) = usage(&blocks);
        let offsets = if self.program.method == Method::Vb {
            quote! {
                /// Variational Bayes: each component's offsets.
                add_log_weights(out.view_mut(), cache.offsets.view());
            }
        } else {
            quote!()
        };
        quote! {
            fn log_joint(&self, cache: &#cache, rows: Range<usize>, mut out: ArrayViewMut2<'_, f64>, #ws: &mut Workspace) {
                #p
                #prior
                #offsets
                #blocks
            }
        }
    }

    /// `// statement { let x = …; call }` for every block: the block's form for every
    /// component at once when `whole` gives one, else its per-component call in a loop.
    fn per_block_whole<'a>(
        &self,
        whole: impl Fn(usize) -> Option<&'a Call>,
        each: impl Fn(usize) -> Call,
    ) -> TokenStream {
        (0..self.program.blocks.len())
            .map(|b| {
                let doc = format!(" {}", self.program.blocks[b].statement);
                let rows = self.rows(b);
                let body = match whole(b) {
                    Some(c) => {
                        let call = self.call(c, Some(b), None);
                        quote!(#call;)
                    }
                    None => {
                        let call = self.call(&each(b), Some(b), None);
                        self.each_component(quote!(#call;))
                    }
                };
                quote! {
                    #[doc = #doc]
                    {
                        #rows
                        #body
                    }
                }
            })
            .collect()
    }

    /// `log_joint_bounded`, when a block has a faster form of its scores for the hard
    /// E-step.
    pub(crate) fn log_joint_bounded(&self) -> TokenStream {
        let blocks = &self.program.blocks;
        if blocks.iter().all(|b| b.scores.is_none()) {
            return quote!();
        }
        let cache = self.item("Cache");
        let prior = self.latent_prior();
        let body = self.per_block_whole(
            |b| {
                blocks[b]
                    .scores
                    .as_ref()
                    .or(blocks[b].log_densities.as_ref())
            },
            |b| blocks[b].log_density.clone(),
        );
        let (p, ws) = usage(&body);
        quote! {
            fn log_joint_bounded(&self, cache: &#cache, rows: Range<usize>, mut out: ArrayViewMut2<'_, f64>, mut bound: ArrayViewMut1<'_, f64>, #ws: &mut Workspace) -> bool {
                #p
                #prior
                #body
                true
            }
        }
    }

    /// `hard_step`, when the model's only block has the one-pass hard E-step.
    pub(crate) fn hard_step(&self) -> TokenStream {
        let Some((b, call)) = self
            .program
            .blocks
            .iter()
            .enumerate()
            .find_map(|(b, block)| block.hard_step.as_ref().map(|c| (b, c)))
        else {
            return quote!();
        };
        let cache = self.item("Cache");
        let stats = self.item("Stats");
        let doc = format!(" {}", self.program.blocks[b].statement);
        let rows = self.rows(b);
        let call = self.call(call, Some(b), None);
        let body = quote! {
            #[doc = #doc]
            {
                #rows
                if !#call {
                    return false;
                }
            }
        };
        let (p, ws) = usage(&body);
        quote! {
            fn hard_step(&self, cache: &#cache, rows: Range<usize>, assigned: &mut Assigned<'_>, stats: &mut #stats, #ws: &mut Workspace) -> bool {
                #p
                #body
                true
            }
        }
    }

    /// `accumulate_assigned`, when a block has a faster form for a hard assignment's
    /// statistics.
    pub(crate) fn accumulate_assigned(&self) -> TokenStream {
        let blocks = &self.program.blocks;
        if blocks.iter().all(|b| b.accumulate_assigned.is_none()) {
            return quote!();
        }
        let cache = self.item("Cache");
        let stats = self.item("Stats");
        let body = self.per_block_whole(
            |b| blocks[b].accumulate_assigned.as_ref(),
            // Only called without gaps (`has_gaps`): every row's responsibilities count.
            |b| {
                let mut call = blocks[b].accumulate.clone();
                for a in &mut call.args {
                    if *a == Operand::CompleteResp {
                        *a = Operand::Resp;
                    }
                }
                call
            },
        );
        let (p, ws) = usage(&body);
        let cache_arg = if p.is_empty() && !mentions(&body, "cache") {
            quote!(_cache)
        } else {
            quote!(cache)
        };
        // One-hot responsibilities for the blocks without the assigned form.
        let resp = if mentions(&body, "resp") {
            quote!(let resp = one_hot(assignments, self.n_components());)
        } else {
            quote!()
        };
        quote! {
            fn accumulate_assigned(&self, #cache_arg: &#cache, rows: Range<usize>, assignments: &[u32], stats: &mut #stats, #ws: &mut Workspace) {
                #p
                #resp
                #body
            }
        }
    }

    pub(crate) fn accumulate(&self) -> TokenStream {
        let cache = self.item("Cache");
        let stats = self.item("Stats");
        let blocks = self.per_block(
            Pass::Accumulate,
            |b| self.block_parts(b, Pass::Accumulate).0,
            |b| self.block_parts(b, Pass::Accumulate).1,
        );
        let (p, ws) = usage(&blocks);
        let cache_arg = if p.is_empty() && !mentions(&blocks, "cache") {
            quote!(_cache)
        } else {
            quote!(cache)
        };
        quote! {
            fn accumulate(&self, #cache_arg: &#cache, rows: Range<usize>, resp: ArrayView2<'_, f64>, stats: &mut #stats, #ws: &mut Workspace) {
                #p
                #blocks
            }
        }
    }

    /// `e_step_from_summaries` of a model whose statistics are linear in the data's mean
    /// and scatter.
    pub(crate) fn summaries_e_step(&self) -> TokenStream {
        let Some(calls) = &self.program.summary else {
            return quote!();
        };
        let stats = self.item("Stats");
        let cache = self.item("Cache");
        let blocks = calls.iter().enumerate().map(|(b, c)| {
            let doc = format!(" {}", self.program.blocks[b].statement);
            let call = self.call(c, Some(b), None);
            quote! {
                #[doc = #doc]
                loglik += #call;
            }
        });
        quote! {
            /// One component, and every statistic linear in the data's mean and scatter: with
            /// more rows than columns, the E-step costs O(D² L) per iteration, whatever the
            /// number of rows.
            fn e_step_from_summaries(&self, cache: &#cache) -> Option<(#stats, f64)> {
                let p = &cache.params;
                let mut stats = self.zero_stats();
                let mut loglik = 0.0;
                #(#blocks)*
                Some((stats, loglik))
            }
        }
    }

    pub(crate) fn stats_struct(&self) -> TokenStream {
        let name = self.item("Stats");
        let fields = self.program.stats.iter().map(|s| {
            let f = ident(&s.name);
            let ty = Self::array_ty(s.elem.ndim() + 1);
            let gaussian = matches!(
                self.plan.blocks[s.block].kind,
                BlockKind::MvNormal { .. }
                    | BlockKind::Normal { .. }
                    | BlockKind::LinearGaussian { .. }
            );
            let multinomial = matches!(
                self.plan.blocks[s.block].kind,
                BlockKind::Multinomial { .. }
            );
            let regression = matches!(
                self.plan.blocks[s.block].kind,
                BlockKind::Regression { .. }
            );
            let mv_regression = matches!(
                self.plan.blocks[s.block].kind,
                BlockKind::MvRegression { .. }
            );
            let student = matches!(
                self.plan.blocks[s.block].kind,
                BlockKind::StudentT { .. }
            );
            let what = match s.kind {
                StatKind::Sum if student => {
                    "Σ_n r_nk w_nk (x_n − c_k), about the means before the M-step, weighted by the latent scales' posterior means"
                }
                StatKind::Scatter if student => {
                    "Σ_n r_nk w_nk (x_n − c_k)(x_n − c_k)ᵀ, weighted by the latent scales' posterior means"
                }
                StatKind::Counts if multinomial => "Σ_n r_nk x_nc",
                StatKind::ScaleWeight => "Σ_n r_nk w_nk, the latent scales' posterior means (Sum and Scatter are weighted by r w)",
                StatKind::ScaleConstant => {
                    "Σ_n r_nk [(D/2 + ν/2 − 1) E[ln u] − (ν/2) w + H(q(u))], the objective's terms of the latent scale"
                }
                StatKind::SumSq if regression => {
                    "Σ_n r_nk e_n², the squared residuals under the coefficients before the M-step"
                }
                StatKind::SumSq if mv_regression => {
                    "Σ_n r_nk e_n², elementwise, the squared residuals under the coefficients before the M-step"
                }
                StatKind::Scatter if mv_regression => {
                    "Σ_n r_nk e_n e_nᵀ, the residuals' scatter under the coefficients before the M-step"
                }
                StatKind::DesignCross if mv_regression => {
                    "Σ_n r_nk a_n e_nᵀ (a row per design column), e_n = x_n − B u_n − μ the residual under the coefficients before the M-step"
                }
                StatKind::Sum if gaussian => {
                    "Σ_n r_nk (x_n − c_k), about the means before the M-step"
                }
                StatKind::Sum => "Σ_n r_nk x_n",
                StatKind::LogSum => "Σ_n r_nk ln x_n",
                StatKind::Trials => "Σ_n r_nk T_n, the expected number of trials",
                StatKind::DesignScatter => {
                    "Σ_n r_nk a_n a_nᵀ over the design a_n: the covariates u_n, then a 1 for the intercept when there is one"
                }
                StatKind::DesignCross => {
                    "Σ_n r_nk a_n e_n, e_n = y_n − βᵀu_n − c the residual under the coefficients before the M-step"
                }
                StatKind::Scatter => "Σ_n r_nk (x_n − c_k)(x_n − c_k)ᵀ",
                StatKind::SumSq => "Σ_n r_nk (x_n − c_k)², elementwise",
                StatKind::Counts => "Σ_n r_nk [x_n = c]",
                StatKind::LatentSum => "Σ_n r_nk E[h_n]",
                StatKind::Cross => {
                    "Σ_n r_nk E[h_n (x_n − c_k − W h_n)ᵀ], the latent against the residual under the loadings before the M-step"
                }
                StatKind::LatentScatter => "Σ_n r_nk E[h_n h_nᵀ]",
                StatKind::ResidualSq => {
                    "Σ_n r_nk E[(x_n − c_k − W h_n)²], elementwise, under the loadings before the M-step"
                }
                StatKind::GapEntropy => {
                    "Σ_n r_nk H_nk, the entropy of row n's missing cells given its observed ones"
                }
            };
            let doc = format!(" `{}`: {what}", self.program.blocks[s.block].statement);
            quote! { #[doc = #doc] pub #f: #ty }
        });
        quote! {
            /// Expected sufficient statistics, per component: plain sums, so chunks of rows
            /// reduce with `merge` in any grouping (`zero_stats` is the identity).
            #[derive(Debug, Clone, PartialEq)]
            pub struct #name { #(#fields,)* }
        }
    }

    /// `zero_stats` fields and `merge` statements.
    pub(crate) fn zero_and_merge(&self) -> (Vec<TokenStream>, Vec<TokenStream>) {
        let k = self.k();
        self.program
            .stats
            .iter()
            .map(|s| {
                let f = ident(&s.name);
                let dims: Vec<TokenStream> =
                    s.elem.dims().into_iter().map(|d| self.dim(d)).collect();
                let ty = format_ident!("Array{}", s.elem.ndim() + 1);
                let zero = if dims.is_empty() {
                    quote!(#f: #ty::zeros(#k))
                } else {
                    quote!(#f: #ty::zeros((#k, #(#dims),*)))
                };
                (zero, quote!(into.#f += &other.#f;))
            })
            .unzip()
    }

    pub(crate) fn m_step(&self) -> TokenStream {
        let params = self.item("Params");
        let stats = self.item("Stats");
        let steps: TokenStream = self.program.m_step.iter().map(|s| self.update(s)).collect();
        let fields = self.program.params.iter().map(|p| ident(&p.name));
        let config = if mentions(&steps, "config") {
            quote!(config)
        } else {
            quote!(_config)
        };
        let counts = if mentions(&steps, "counts") {
            quote!(let counts = latent.counts.view();)
        } else {
            quote!()
        };
        let stats_arg = if mentions(&steps, "stats") {
            quote!(stats)
        } else {
            quote!(_stats)
        };
        quote! {
            fn m_step(&self, #stats_arg: &#stats, latent: &LatentStats, prev: &#params, #config: &MStepConfig) -> Result<#params, NumericalIssue> {
                #counts
                #steps
                Ok(#params { #(#fields,)* })
            }
        }
    }

    fn update(&self, step: &UpdateStep) -> TokenStream {
        let slot = &self.program.params[step.param];
        let f = ident(&slot.name);
        if step.value == UpdateValue::Fixed {
            let doc = format!(
                " `{}`: fixed, not estimated.",
                self.plan.model.vars[slot.var].text
            );
            // (A scalar is `Copy`.)
            let value = if slot.elem == Elem::Scalar && !slot.per_component {
                quote!(prev.#f)
            } else {
                quote!(prev.#f.clone())
            };
            return quote! { #[doc = #doc] let #f = #value; };
        }
        let family = |i: usize| {
            self.plan.updates[i]
                .prior
                .as_ref()
                .map(|p| p.family)
                .filter(|_| self.program.method == Method::Vb)
        };
        let doc = match slot.posterior_of {
            Some(of) if slot.elem != Elem::Scalar => format!(
                " The posterior of `{}`: its rows' covariance factor V = (α I + S_h)⁻¹ (`Cov[w_d | ψ_d] = ψ_d V`).",
                self.program.params[of].name
            ),
            Some(of) => format!(
                " The posterior of `{}`: its strength, {}.",
                self.program.params[of].name,
                family(of).map_or("", |f| posterior_text(f).1)
            ),
            None if family(step.param).is_some() => format!(
                " The posterior of `{}`: {}.",
                slot.name,
                family(step.param).map_or("", |f| posterior_text(f).0)
            ),
            None => format!(
                " {}",
                crate::explain::update_formula(self.plan, &self.plan.updates[step.param])
            ),
        };
        let value = self.update_value(step);
        let value = if step.first_element {
            quote!(#value[0])
        } else {
            value
        };
        if !step.per_component {
            return quote! { #[doc = #doc] let #f = #value; };
        }
        let k = self.k();
        let assign = match slot.elem {
            Elem::Scalar => quote!(#f[k] = #value;),
            Elem::Vector(_) => quote!(#f.row_mut(k).assign(&#value);),
            Elem::Matrix(..) => quote!(#f.index_axis_mut(Axis(0), k).assign(&#value);),
        };
        quote! {
            #[doc = #doc]
            let mut #f = prev.#f.clone();
            for k in 0..#k {
                #assign
            }
        }
    }

    fn update_value(&self, step: &UpdateStep) -> TokenStream {
        let (acc, terms, finish) = match &step.value {
            UpdateValue::Call(c) => return self.call(c, None, None),
            UpdateValue::Pooled { acc, terms, finish } => (acc, terms, finish),
            UpdateValue::Fixed => unreachable!("a fixed parameter has no update"),
        };
        let scale = matches!(
            finish.kernel,
            jensen_lang::program::Kernel::CovarianceFromScatter
                | jensen_lang::program::Kernel::VariancesFromScatter
                | jensen_lang::program::Kernel::VarianceFromScatter
        );
        let (value, count) = if scale {
            ("scatter", "count")
        } else {
            ("sum", "n")
        };
        let pool = Pool {
            value,
            count,
            scalar: *acc == Elem::Scalar,
        };
        let term_value = |t: &TermValue| match t {
            TermValue::Operand(op) => self.operand(op, None, None),
            TermValue::Call(c) => self.call(c, None, None),
        };
        let single = self.plan.components().is_none();
        // One component's own statistic: the pooled sum is the term itself (adding it to
        // zero is exact), so it is passed straight to the closing formula.
        if (step.per_component || single) && terms.len() == 1 && !terms[0].sum_elements {
            let term = term_value(&terms[0].value);
            let k = if single { quote!(0) } else { quote!(k) };
            let inlined = Call {
                kernel: finish.kernel,
                args: finish
                    .args
                    .iter()
                    .map(|a| match (a, &terms[0].count) {
                        (Operand::PooledCount, Some(count)) => count.clone(),
                        (Operand::PooledCount, None) => {
                            Operand::Count(if single { At::Zero } else { At::K })
                        }
                        (other, _) => other.clone(),
                    })
                    .collect(),
            };
            let v = format_ident!("{value}");
            return match &terms[0].value {
                TermValue::Operand(_) => {
                    let args = inlined.args.iter().map(|a| match a {
                        Operand::Pooled => term.clone(),
                        other => self.operand(other, None, Some(pool)),
                    });
                    let f = path(finish.kernel.path());
                    let _ = k;
                    quote!(#f(#(#args),*))
                }
                TermValue::Call(_) => {
                    let close = self.call(&inlined, None, Some(pool));
                    quote! {{
                        let #v = #term;
                        #close
                    }}
                }
            };
        }
        let v = format_ident!("{value}");
        let c = format_ident!("{count}");
        let zero = self.zeros(*acc);
        // Categorical probabilities normalise the pooled counts and need no total.
        let needs_count = finish.args.contains(&Operand::PooledCount);
        let adds = terms.iter().map(|t| {
            let term = term_value(&t.value);
            let count = match &t.count {
                Some(c) => self.operand(c, None, None),
                None => quote!(counts[k]),
            };
            let (add, n) = if t.sum_elements {
                (
                    quote! { let a = #term; #v += a.sum(); },
                    quote!(#count * a.len() as f64),
                )
            } else if pool.scalar {
                (quote!(#v += #term;), count)
            } else {
                (quote!(#v += &#term;), count)
            };
            if needs_count {
                quote! { #add #c += #n; }
            } else {
                add
            }
        });
        let adds: TokenStream = adds.collect();
        let body = if step.per_component {
            adds
        } else {
            self.each_component(adds)
        };
        let close = self.call(finish, None, Some(pool));
        let count_init = if needs_count {
            quote!(let mut #c = 0.0;)
        } else {
            quote!()
        };
        quote! {{
            let mut #v = #zero;
            #count_init
            #body
            #close
        }}
    }

    pub(crate) fn expected(&self) -> TokenStream {
        let params = self.item("Params");
        let stats = self.item("Stats");
        let prior: Vec<TokenStream> = self
            .program
            .expected_prior
            .iter()
            .map(|c| self.call(c, None, None))
            .collect();
        let prior = if prior.is_empty() {
            quote!(0.0)
        } else {
            quote!(#(#prior)+*)
        };
        let blocks: TokenStream = self
            .program
            .blocks
            .iter()
            .enumerate()
            .map(|(b, block)| {
                let locals = block.expected_locals.iter().map(|&(id, src)| {
                    let d = &self.program.derived[id];
                    let name = Self::local(d, src);
                    let value = self.derived_value(d, self.src(src));
                    quote!(let #name = #value;)
                });
                let constant = if let Some(terms) = block.row_terms {
                    let f = format_ident!("{}_{}", self.plan.block_prefix(b), terms.suffix());
                    // Subtracted (`ln x!`, `ln x`) or added (a multinomial coefficient).
                    let sign = if terms.sign() < 0.0 { quote!(-) } else { quote!() };
                    match self.plan.row_weights {
                        None => quote!(total += #sign self.#f.sum();),
                        Some(w) => {
                            let w = self.var(w);
                            quote!(total += #sign moments::weighted::sum(self.#f.view(), self.data.#w.view());)
                        }
                    }
                } else {
                    quote!()
                };
                let call = self.call(&block.expected, Some(b), None);
                let each = self.each_component(quote!(total += #call;));
                // The entropy of the missing cells, which the statistics hold at their
                // conditional expectations.
                let gaps = block.missing.as_ref().map(|m| {
                    let h = ident(&self.program.stats[m.entropy].name);
                    quote!(total += stats.#h.sum();)
                });
                let doc = format!(" {}", block.statement);
                quote! {
                    #[doc = #doc]
                    {
                        #(#locals)*
                        #constant
                        #each
                        #gaps
                    }
                }
            })
            .collect();
        let centre = if mentions(&blocks, "centre") {
            quote!(centre)
        } else {
            quote!(_centre)
        };
        let variational = if self.program.method == Method::Vb {
            quote! {
                // Variational Bayes: the expectation under the posteriors is the expected
                // log-likelihood at the effective parameters plus each component's offsets.
                let offsets = self.offsets(params);
                let params = &self.effective(params);
            }
        } else {
            quote!()
        };
        let offsets = if self.program.method == Method::Vb {
            quote!(total += offsets.dot(&counts);)
        } else {
            quote!()
        };
        quote! {
            fn expected_log_joint(&self, stats: &#stats, latent: &LatentStats, #centre: &#params, params: &#params) -> Result<f64, NumericalIssue> {
                #variational
                let counts = latent.counts.view();
                let mut total = #prior;
                #offsets
                #blocks
                Ok(total)
            }
        }
    }

    /// `log_prior`: the regularising prior of every variance and covariance.
    pub(crate) fn log_prior(&self) -> TokenStream {
        let program = &self.program;
        if program.penalties.is_empty() && program.priors.is_empty() && program.kl.is_empty() {
            return quote!();
        }
        let params = self.item("Params");
        let term = |call: &Call, per_component: bool, doc: Option<String>| {
            let call = self.call(call, None, None);
            let doc = doc.map(|d| quote!(#[doc = #d]));
            if per_component {
                let k = self.k();
                quote!(#doc for k in 0..#k { total += #call; })
            } else {
                quote!(#doc total += #call;)
            }
        };
        let terms: TokenStream = (program.penalties.iter())
            .map(|p| term(&p.call, p.per_component, None))
            .chain(program.priors.iter().map(|p| {
                let doc = format!(" {}", self.plan.model.factors[p.factor].text);
                term(&p.call, p.per_component, Some(doc))
            }))
            .chain(program.kl.iter().map(|p| {
                // Variational Bayes: minus the posterior's divergence from this prior.
                let doc = format!(" − KL(q ‖ p) of {}", self.plan.model.factors[p.factor].text);
                let call = self.call(&p.call, None, None);
                if p.per_component {
                    let k = self.k();
                    quote!(#[doc = #doc] for k in 0..#k { total -= #call; })
                } else {
                    quote!(#[doc = #doc] total -= #call;)
                }
            }))
            .collect();
        if program.penalties.is_empty() {
            return quote! {
                fn log_prior(&self, params: &#params, _config: &MStepConfig) -> f64 {
                    let mut total = 0.0;
                    #terms
                    total
                }
            };
        }
        let checks: TokenStream = self
            .program
            .penalties
            .iter()
            .map(|p| {
                let share = self.call(&p.share, None, None);
                let name = &self.program.params[p.param].name;
                if p.per_component {
                    let k = self.k();
                    quote! {
                        for k in 0..#k {
                            let share = #share;
                            if share > gaussian::FLOOR_SHARE {
                                hits.push(FloorHit { param: #name.into(), component: Some(k), share });
                            }
                        }
                    }
                } else {
                    quote! {
                        let share = #share;
                        if share > gaussian::FLOOR_SHARE {
                            hits.push(FloorHit { param: #name.into(), component: None, share });
                        }
                    }
                }
            })
            .collect();
        let counts = if mentions(&checks, "counts") {
            quote!(let counts = latent.counts.view();)
        } else {
            quote!(let _ = latent;)
        };
        quote! {
            fn log_prior(&self, params: &#params, config: &MStepConfig) -> f64 {
                let mut total = 0.0;
                #terms
                total
            }

            fn floor_hits(&self, params: &#params, latent: &LatentStats, config: &MStepConfig) -> Vec<FloorHit> {
                #counts
                let mut hits = Vec::new();
                #checks
                hits
            }
        }
    }

    /// `init_in_data_units`: printed for a model with a known covariance.
    pub(crate) fn init_in_data_units(&self) -> TokenStream {
        if self.program.init_in_data_units {
            quote!(
                fn init_in_data_units(&self) -> bool {
                    true
                }
            )
        } else {
            quote!()
        }
    }

    /// `inertia`: printed for a model whose complete-data log-likelihood is an affine
    /// function of the within-cluster sum of squares (k-means).
    pub(crate) fn inertia(&self) -> TokenStream {
        let Some(form) = &self.program.inertia else {
            return quote!();
        };
        let c = proc_macro2::Literal::f64_unsuffixed(form.scale);
        let dims: Vec<TokenStream> = form.dims.iter().map(|&d| self.dim(d)).collect();
        let n = self.row_total();
        // The missing cells have no term of the complete-data log-likelihood.
        let gaps = self.program.blocks.iter().map(|b| {
            let f = format_ident!("{}_gaps", self.var(b.data));
            quote!(&self.#f)
        });
        quote! {
            fn inertia(&self, complete: f64) -> Option<f64> {
                let missing = gaps::missing_cells(&[#(#gaps),*], self.row_weights());
                Some(inertia(complete, #n, self.n_components(), #(#dims)+*, #c, missing))
            }
        }
    }

    /// `e_step_mode`: printed for a model written with `estep hard` (soft is the trait's
    /// default).
    pub(crate) fn e_step_mode(&self) -> TokenStream {
        match self.program.e_step {
            EStepKind::Soft => quote!(),
            EStepKind::Hard => quote! {
                fn e_step_mode(&self) -> ::jensen::runtime::EStepMode {
                    ::jensen::runtime::EStepMode::Hard
                }
            },
        }
    }

    /// `factors`: the largest factor dimension, for the driver's row check.
    pub(crate) fn factors(&self) -> TokenStream {
        let dims: Vec<TokenStream> = self
            .program
            .loadings_factors()
            .map(|d| self.dim(d))
            .collect();
        match dims.as_slice() {
            [] => quote!(),
            [one] => quote!(fn factors(&self) -> usize { #one }),
            _ => quote!(fn factors(&self) -> usize { [#(#dims),*].into_iter().max().unwrap_or(0) }),
        }
    }

    pub(crate) fn free_parameters(&self) -> TokenStream {
        let terms = self
            .program
            .params
            .iter()
            .filter(|p| p.free != Size::Dim(Dim::Lit(0)))
            .map(|p| self.size_expr(&p.free));
        quote!(#(#terms)+*)
    }

    /// The full shape of a parameter, as size expressions.
    fn param_dims(&self, slot: &ParamSlot) -> Vec<TokenStream> {
        let mut dims = Vec::new();
        if slot.per_component {
            dims.push(self.k());
        }
        dims.extend(slot.elem.dims().into_iter().map(|d| self.dim(d)));
        dims
    }

    pub(crate) fn neutral(&self) -> TokenStream {
        let params = self.item("Params");
        let fields = self.program.params.iter().map(|slot| {
            let f = ident(&slot.name);
            let dims = self.param_dims(slot);
            let shape = match dims.len() {
                0 => quote!(()),
                1 => dims[0].clone(),
                _ => quote!((#(#dims),*)),
            };
            let array = format_ident!("Array{}", dims.len());
            let last = dims.last().cloned().unwrap_or(quote!(1));
            let moment = |b: usize, what: &str| {
                let m = format_ident!("{}_{what}", self.plan.block_prefix(b));
                quote!(self.#m)
            };
            let scalar = slot.elem == Elem::Scalar;
            // One component's value, for the data-driven starts.
            let one = match slot.start {
                Start::Uniform => {
                    return quote!(#f: #array::from_elem(#shape, 1.0 / #last as f64));
                }
                Start::Fill(v) => {
                    let v = proc_macro2::Literal::f64_unsuffixed(v);
                    return if dims.is_empty() {
                        quote!(#f: #v)
                    } else {
                        quote!(#f: #array::from_elem(#shape, #v))
                    };
                }
                Start::Zeros => return quote!(#f: #array::zeros(#shape)),
                Start::Identity => quote!(Array2::<f64>::eye(#last)),
                Start::ScaledIdentity(c) => {
                    let c = proc_macro2::Literal::f64_unsuffixed(c);
                    quote!(Array2::<f64>::eye(#last) * #c)
                }
                Start::Given => unreachable!("a value given at fit time is the executor's"),
                Start::DataMean(b) if scalar => {
                    let m = moment(b, "mean");
                    quote!(#m[0])
                }
                Start::DataMean(b) => {
                    let m = moment(b, "mean");
                    quote!(#m.clone())
                }
                Start::DataMeanFloored(b) => {
                    let m = moment(b, "mean");
                    quote!(#m[0].max(::jensen::runtime::kernels::PROB_FLOOR))
                }
                Start::DataVariances(b) => {
                    let v = moment(b, "var");
                    quote!(#v.clone())
                }
                Start::DataCovariance(b) => {
                    let c = moment(b, "cov");
                    quote!(#c.clone())
                }
                Start::DataVarianceMean(b) => {
                    let v = moment(b, "var");
                    quote!(#v.mean().unwrap_or(1.0))
                }
                Start::DataMeanInverse(b) => {
                    let m = moment(b, "mean");
                    quote!(exponential::inverse_rate(#m[0]))
                }
                Start::DataMeanBinomial(b) => {
                    let m = moment(b, "mean");
                    let t = self.mean_trials(b);
                    quote!(discrete::binomial_prob_of_mean(#m[0], #t))
                }
                Start::DataMeanGeometric(b) => {
                    let m = moment(b, "mean");
                    quote!(discrete::geometric_prob_of_mean(#m[0]))
                }
                Start::DataMeanGammaRate(b) => {
                    let m = moment(b, "mean");
                    let shape = gamma_shape(self.plan, b);
                    quote!(exponential::gamma_rate_of_mean(#m[0], #shape))
                }
            };
            let value = match (slot.per_component, slot.elem) {
                (false, _) => one,
                (true, Elem::Scalar) => quote!(#array::from_elem(#shape, #one)),
                (true, _) => quote!({
                    let one = #one;
                    let mut all = #array::zeros(#shape);
                    for mut slot in all.outer_iter_mut() {
                        slot.assign(&one);
                    }
                    all
                }),
            };
            quote!(#f: #value)
        });
        quote! {
            fn neutral_params(&self) -> #params {
                #params { #(#fields,)* }
            }
        }
    }

    /// Random starting loadings of every linear-Gaussian block, at the scale of its data.
    pub(crate) fn randomise(&self) -> TokenStream {
        let params = self.item("Params");
        let steps: Vec<TokenStream> = self
            .program
            .params
            .iter()
            .filter_map(|slot| {
                let b = slot.random?;
                let f = ident(&slot.name);
                let var = format_ident!("{}_var", self.plan.block_prefix(b));
                let Elem::Matrix(_, l) = slot.elem else {
                    unreachable!("loadings are matrices")
                };
                let l = self.dim(l);
                let draw =
                    quote!(linear::random_loadings(rng, self.#var.mapv(f64::sqrt).view(), #l));
                Some(if slot.per_component {
                    quote! {
                        for mut w in params.#f.outer_iter_mut() {
                            w.assign(&#draw);
                        }
                    }
                } else {
                    quote!(params.#f = #draw;)
                })
            })
            .collect();
        if steps.is_empty() {
            return quote!();
        }
        quote! {
            fn randomise_neutral(&self, params: &mut #params, rng: &mut dyn RngCore) {
                #(#steps)*
            }
        }
    }

    pub(crate) fn reseed(&self) -> TokenStream {
        let params = self.item("Params");
        let n = self.size(self.plan.rows());
        let weighted = self.plan.row_weights.is_some();
        let steps = self.program.params.iter().filter_map(|slot| {
            let f = ident(&slot.name);
            let row = |b: usize| {
                let data = self.plan.blocks[b].data;
                let df = self.var(data);
                if matches!(self.program.blocks[b].form, DataForm::Matrix) {
                    quote!(self.data.#df.row(row))
                } else {
                    quote!(self.data.#df.slice(s![row..row + 1]))
                }
            };
            let moment = |b: usize, what: &str| {
                let m = format_ident!("{}_{what}", self.plan.block_prefix(b));
                quote!(self.#m)
            };
            let scalar = slot.elem == Elem::Scalar;
            Some(match slot.reseed {
                Reseed::Keep => return None,
                Reseed::Weight if weighted => {
                    quote!(reseed_weight_of(&mut params.#f, k, self.total_weight);)
                }
                Reseed::Weight => quote!(reseed_weight(&mut params.#f, k, #n);),
                Reseed::ChainState(initial) if weighted => {
                    let p0 = ident(&self.program.params[initial].name);
                    quote!(chain::reseed_state_of(&mut params.#p0, &mut params.#f, k, self.total_weight);)
                }
                Reseed::ChainState(initial) => {
                    let p0 = ident(&self.program.params[initial].name);
                    quote!(chain::reseed_state(&mut params.#p0, &mut params.#f, k, #n);)
                }
                Reseed::Row(b) if scalar => {
                    let x = row(b);
                    quote!(params.#f[k] = #x[0];)
                }
                Reseed::Row(b) => {
                    let x = row(b);
                    quote!(params.#f.row_mut(k).assign(&#x);)
                }
                Reseed::RowFloored(b) => {
                    let x = row(b);
                    quote!(params.#f[k] = #x[0].max(::jensen::runtime::kernels::PROB_FLOOR);)
                }
                Reseed::RowInverse(b) => {
                    let x = row(b);
                    quote!(params.#f[k] = exponential::inverse_rate(#x[0]);)
                }
                Reseed::RowRegression(b)
                    if matches!(self.plan.blocks[b].kind, BlockKind::MvRegression { .. }) =>
                {
                    let (_, intercept, covariates) = self.plan.blocks[b]
                        .kind
                        .regression()
                        .expect("a regression block");
                    let (x, uf) = (row(b), self.var(covariates));
                    let with = intercept.is_some();
                    quote!(params.#f.index_axis_mut(Axis(0), k).assign(&regression::mv_regression_coefficients_at_row(self.data.#uf.row(row), #x, #with));)
                }
                Reseed::RowRegression(b) => {
                    let BlockKind::Regression {
                        covariates,
                        intercept,
                        ..
                    } = self.plan.blocks[b].kind
                    else {
                        unreachable!("a regression block")
                    };
                    let (y, uf) = (self.var(self.plan.blocks[b].data), self.var(covariates));
                    let u = if matches!(self.plan.model.vars[covariates].ty, jensen_lang::ir::ElemType::Vector(_)) {
                        quote!(self.data.#uf.row(row))
                    } else {
                        quote!(self.data.#uf.slice(s![row..row + 1]))
                    };
                    let with = intercept.is_some();
                    let value = quote!(regression::regression_coefficients_at_row(#u, self.data.#y[row], #with));
                    if slot.elem == Elem::Scalar {
                        quote!(params.#f[k] = #value[0];)
                    } else {
                        quote!(params.#f.row_mut(k).assign(&#value);)
                    }
                }
                Reseed::RowBinomial(b) => {
                    let x = row(b);
                    let t = match self.plan.blocks[b].kind.trials() {
                        Some(Trials::Known(t)) => {
                            let t = proc_macro2::Literal::f64_unsuffixed(t);
                            quote!(#t)
                        }
                        Some(Trials::Column(t)) => {
                            let t = self.var(t);
                            quote!(self.data.#t[row])
                        }
                        None => unreachable!("a binomial block"),
                    };
                    quote!(params.#f[k] = discrete::binomial_prob_at_row(#x[0], #t);)
                }
                Reseed::RowGeometric(b) => {
                    let x = row(b);
                    quote!(params.#f[k] = discrete::geometric_prob_of_mean(#x[0]);)
                }
                Reseed::RowGammaRate(b) => {
                    let x = row(b);
                    let shape = gamma_shape(self.plan, b);
                    quote!(params.#f[k] = exponential::gamma_rate_of_mean(#x[0], #shape);)
                }
                Reseed::RowProbability(b) if scalar => {
                    let x = row(b);
                    quote!(params.#f[k] = 0.25 + 0.5 * #x[0];)
                }
                Reseed::RowProbability(b) => {
                    let x = row(b);
                    quote!(params.#f.row_mut(k).assign(&#x.mapv(|b| 0.25 + 0.5 * b));)
                }
                Reseed::RowCategory(b) => {
                    let x = row(b);
                    quote!({
                        let p = discrete::categorical_probs_at_row(#x[0], params.#f.ncols());
                        params.#f.row_mut(k).assign(&p);
                    })
                }
                Reseed::RowCounts(b) => {
                    let x = row(b);
                    quote!(params.#f.row_mut(k).assign(&discrete::multinomial_probs_at_row(#x));)
                }
                Reseed::DataCovariance(b) => {
                    let c = moment(b, "cov");
                    quote!(params.#f.index_axis_mut(Axis(0), k).assign(&#c);)
                }
                Reseed::DataVariances(b) => {
                    let v = moment(b, "var");
                    quote!(params.#f.row_mut(k).assign(&#v);)
                }
                Reseed::DataVarianceMean(b) => {
                    let v = moment(b, "var");
                    quote!(params.#f[k] = #v.mean().unwrap_or(1.0);)
                }
            })
        });
        let steps: TokenStream = steps.collect();
        let row = if mentions(&steps, "row") {
            quote!(row)
        } else {
            quote!(_row)
        };
        // A single component is never empty: nothing to re-seed.
        let (params_arg, k_arg) = if steps.is_empty() {
            (quote!(_params), quote!(_k))
        } else {
            (quote!(params), quote!(k))
        };
        quote! {
            fn reseed(&self, #params_arg: &mut #params, #k_arg: usize, #row: usize) {
                #steps
            }
        }
    }
}

/// What a variational posterior keeps in the parameter's slot and in its strength.
fn posterior_text(family: jensen_lang::plan::PriorFamily) -> (&'static str, &'static str) {
    use jensen_lang::plan::PriorFamily::*;
    match family {
        Dirichlet { .. } => ("its mean α / Σ α", "Σ α"),
        Gamma { .. } => ("its mean a / b", "the shape a"),
        Beta { .. } => ("its mean a / (a + b)", "a + b"),
        InvWishart { .. } => ("Ψ / ν = E[Σ⁻¹]⁻¹", "the degrees of freedom ν"),
        InvGamma { .. } => ("b / a = E[1 / v]⁻¹", "the shape a"),
        NormalMean { .. } => ("its mean m", "the precision weight κ"),
    }
}

/// The known shape of Gamma block `b`, as a literal.
fn gamma_shape(plan: &jensen_lang::Plan, b: usize) -> proc_macro2::Literal {
    let shape = plan.blocks[b].kind.gamma_shape();
    proc_macro2::Literal::f64_unsuffixed(shape.expect("a Gamma rate's start reads a Gamma block"))
}
