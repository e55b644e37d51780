//! Plan → Rust: typed parameters, data, statistics and a `MixtureModel` implementation that
//! calls the runtime's kernels in the same order as the plan executor.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use jensen_lang::ast::DeclKind;
use jensen_lang::ir::{ElemType, SetId, SetSize, VarId};
use jensen_lang::plan::{Block, BlockKind, Cov, PRef, Rule, StatKind, Update};
use jensen_lang::Plan;

/// Generated items for a model, before formatting.
#[derive(Debug)]
pub struct Generated {
    /// Items to place in a module (with their `use` lines).
    pub module: TokenStream,
    /// Names of the public items, for re-export.
    pub items: Vec<Ident>,
}

/// A formatted, standalone module of generated Rust (what `jensen generate` prints).
pub fn generate_module(plan: &Plan, name: &str) -> Result<String, syn::Error> {
    format_module(generate(plan, name, None).module)
}

/// Formats generated items with prettyplease, then turns the doc comments placed on
/// statements into plain comments and separates items with blank lines.
pub fn format_module(module: TokenStream) -> Result<String, syn::Error> {
    let file: syn::File = syn::parse2(module)?;
    let text = prettyplease::unparse(&file);
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut prev = "";
    let (mut open_use, mut closed_use) = (false, false);
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        let starts_item =
            !trimmed.is_empty() && !trimmed.starts_with('}') && !trimmed.starts_with(')');
        let after_block = (indent == 0 && prev == "}") || (indent == 4 && prev == "    }");
        // The end of the imports: the last `use` ended on the previous line (a one-line `use`,
        // or the `};` closing a long one).
        let use_ended = (prev.starts_with("use ") && !prev.ends_with('{')) || closed_use;
        let after_uses = indent == 0 && use_ended && !trimmed.starts_with("use ");
        if indent == 0 && !trimmed.is_empty() {
            closed_use = open_use && trimmed == "};";
            open_use = (trimmed.starts_with("use ") && trimmed.ends_with('{'))
                || (open_use && trimmed != "};");
        }
        let after_inner_doc = prev.starts_with("//!") && !trimmed.starts_with("//!");
        if starts_item && (after_block || after_uses || after_inner_doc) {
            out.push('\n');
        }
        if indent >= 8 && trimmed.starts_with("///") {
            out.push_str(&line[..indent]);
            out.push_str("//");
            out.push_str(&trimmed[3..]);
        } else {
            out.push_str(line);
        }
        out.push('\n');
        prev = line;
    }
    Ok(out)
}

/// Generates the items of model `name` (the struct's identifier). `source_path`, when given,
/// is an absolute path included with `include_str!` so the crate rebuilds when the file changes.
pub fn generate(plan: &Plan, name: &str, source_path: Option<&str>) -> Generated {
    Gen {
        plan,
        name: name.to_string(),
    }
    .all(source_path)
}

struct Gen<'a> {
    plan: &'a Plan,
    name: String,
}

/// Shape class of a parameter's element.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Elem {
    Scalar,
    Vector,
    Matrix,
}

/// Whether generated tokens mention an identifier.
fn mentions(tokens: &TokenStream, name: &str) -> bool {
    fn walk(tokens: TokenStream, name: &str) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => i == name,
            proc_macro2::TokenTree::Group(g) => walk(g.stream(), name),
            _ => false,
        })
    }
    walk(tokens.clone(), name)
}

/// The `let p = &cache.params;` line if the body uses `p`, and the name of the workspace argument.
fn usage(body: &TokenStream) -> (TokenStream, TokenStream) {
    let p = if mentions(body, "p") {
        quote!(let p = &cache.params;)
    } else {
        quote!()
    };
    let ws = if mentions(body, "ws") {
        quote!(ws)
    } else {
        quote!(_ws)
    };
    (p, ws)
}

fn ident(s: &str) -> Ident {
    syn::parse_str::<Ident>(s).unwrap_or_else(|_| Ident::new_raw(s, Span::call_site()))
}

impl Gen<'_> {
    fn item(&self, suffix: &str) -> Ident {
        format_ident!("{}{}", self.name, suffix)
    }

    fn var(&self, v: VarId) -> Ident {
        ident(&self.plan.model.vars[v].name)
    }

    fn elem(&self, v: VarId) -> Elem {
        match self.plan.model.vars[v].ty {
            ElemType::Real
            | ElemType::Positive
            | ElemType::Prob
            | ElemType::Count
            | ElemType::Binary
            | ElemType::Cat(_) => Elem::Scalar,
            ElemType::Cov(_) | ElemType::Matrix(..) => Elem::Matrix,
            _ => Elem::Vector,
        }
    }

    fn dims(&self, v: VarId) -> usize {
        let var = &self.plan.model.vars[v];
        var.plates.len()
            + match self.elem(v) {
                Elem::Scalar => 0,
                Elem::Vector => 1,
                Elem::Matrix => 2,
            }
    }

    fn array_ty(dims: usize) -> TokenStream {
        match dims {
            0 => quote!(f64),
            1 => quote!(Array1<f64>),
            2 => quote!(Array2<f64>),
            3 => quote!(Array3<f64>),
            _ => quote!(ArrayD<f64>),
        }
    }

    fn size(&self, s: SetId) -> TokenStream {
        self.size_in(s, quote!(self.sizes))
    }

    /// The size of a set, read from the sizes struct `base`.
    fn size_in(&self, s: SetId, base: TokenStream) -> TokenStream {
        match self.plan.set_size(s) {
            SetSize::Literal(n) => quote!(#n),
            _ => {
                let f = ident(&self.plan.model.sets[s].name);
                quote!(#base.#f)
            }
        }
    }

    fn k(&self) -> TokenStream {
        match self.plan.components() {
            Some(comps) => self.size(comps),
            None => quote!(1),
        }
    }

    /// The dimension `L` of the continuous latent.
    fn latent_dim(&self) -> TokenStream {
        let c = self
            .plan
            .continuous
            .expect("a linear-Gaussian block has a continuous latent");
        self.size(c.dim)
    }

    /// The index of a statistic's component for a parameter: `k`, or `0` for a parameter of
    /// a model without a discrete latent (one component).
    fn slot(&self, p: PRef) -> TokenStream {
        if p.per_component || self.plan.components().is_some() {
            quote!(k)
        } else {
            quote!(0)
        }
    }

    /// `Vec<FactorPosterior>` of a linear-Gaussian block under the parameters `src` (one per
    /// component), failing with the noise parameter when it is not positive.
    fn factor_posteriors(&self, b: usize, src: TokenStream) -> TokenStream {
        let BlockKind::LinearGaussian { loading, noise, .. } = self.plan.blocks[b].kind else {
            unreachable!("linear-Gaussian blocks")
        };
        let k = self.k();
        let kk = quote!(k);
        let w = self.access(&src, loading, &kk);
        let np = noise.pref();
        let v = self.access(&src, np, &kk);
        let (wname, nname) = (self.plan.name(loading.param), self.plan.name(np.param));
        let component = |p: PRef| {
            if p.per_component {
                quote!(Some(k))
            } else {
                quote!(None)
            }
        };
        let (wc, nc) = (component(loading), component(np));
        let new = match noise {
            Cov::Spherical(_) => quote!(linear::FactorPosterior::isotropic(#w, #v)),
            _ => quote!(linear::FactorPosterior::new(#w, #v)),
        };
        let failure = quote!(|e| e.issue(#wname, #wc, #nname, #nc));
        if self.plan.components().is_none() {
            return quote!(Vec::from([#new.map_err(#failure)?]));
        }
        quote! {
            (0..#k)
                .map(|k| #new.map_err(#failure))
                .collect::<Result<Vec<_>, _>>()?
        }
    }

    fn post_field(&self, b: usize) -> Ident {
        format_ident!("{}_post", self.plan.block_prefix(b))
    }

    /// The five statistics of a linear-Gaussian block: `s`, `q`, `s_h`, `C`, `S_h`.
    fn linear_stats(&self, b: usize) -> [Ident; 5] {
        [
            StatKind::Sum,
            StatKind::SumSq,
            StatKind::LatentSum,
            StatKind::Cross,
            StatKind::LatentScatter,
        ]
        .map(|s| self.stat(b, s))
    }

    /// `e_step_from_summaries` of a summarised model.
    fn summaries_e_step(&self) -> TokenStream {
        if !self.plan.summarised() {
            return quote!();
        }
        let stats = self.item("Stats");
        let cache = self.item("Cache");
        let n = self.size(self.plan.rows());
        let blocks = self.linear_blocks().into_iter().map(|b| {
            let BlockKind::LinearGaussian { mean, .. } = self.plan.blocks[b].kind else {
                unreachable!("linear-Gaussian blocks")
            };
            let c = self.access(&quote!(p), mean, &quote!(0));
            let (m, sc, post) = (
                self.moment(b, "mean"),
                self.moment(b, "scatter"),
                self.post_field(b),
            );
            let [sum, sq, hs, cr, hh] = self.linear_stats(b);
            let doc = format!(" {}", self.statement(&self.plan.blocks[b]));
            quote! {
                #[doc = #doc]
                loglik += linear::factor_summary_statistics(
                    #n as f64,
                    self.#m.view(),
                    self.#sc.as_ref()?.view(),
                    #c,
                    &cache.#post[0],
                    stats.#sum.row_mut(0),
                    stats.#sq.row_mut(0),
                    stats.#hs.row_mut(0),
                    stats.#cr.index_axis_mut(Axis(0), 0),
                    stats.#hh.index_axis_mut(Axis(0), 0),
                );
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

    fn linear_blocks(&self) -> Vec<usize> {
        self.plan
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b.kind, BlockKind::LinearGaussian { .. }))
            .map(|(b, _)| b)
            .collect()
    }

    /// `(initial, transition)` field names of a chain's parameters.
    fn chain_fields(&self) -> Option<(Ident, Ident)> {
        self.plan.chain().map(|(p0, a)| (self.var(p0), self.var(a)))
    }

    /// Shape of a parameter as a tuple/usize expression for `zeros`/`from_elem`.
    fn shape(&self, v: VarId) -> Vec<TokenStream> {
        let var = &self.plan.model.vars[v];
        let mut out: Vec<TokenStream> = var.plates.iter().map(|&p| self.size(p)).collect();
        match var.ty {
            ElemType::Vector(d)
            | ElemType::PositiveVec(d)
            | ElemType::ProbVec(d)
            | ElemType::Simplex(d) => out.push(self.size(d)),
            ElemType::Cov(d) => out.extend([self.size(d), self.size(d)]),
            ElemType::Matrix(r, c) => out.extend([self.size(r), self.size(c)]),
            _ => {}
        }
        out
    }

    /// Component `k` of a parameter, as a view (vectors, matrices) or a value (scalars).
    fn access(&self, src: &TokenStream, p: PRef, k: &TokenStream) -> TokenStream {
        let f = self.var(p.param);
        match (self.elem(p.param), p.per_component) {
            (Elem::Scalar, true) => quote!(#src.#f[#k]),
            (Elem::Scalar, false) => quote!(#src.#f),
            (Elem::Vector, true) => quote!(#src.#f.row(#k)),
            (Elem::Matrix, true) => quote!(#src.#f.index_axis(Axis(0), #k)),
            (_, false) => quote!(#src.#f.view()),
        }
    }

    fn data_is_vector(&self, v: VarId) -> bool {
        matches!(
            self.plan.model.vars[v].ty,
            ElemType::Vector(_) | ElemType::BinaryVec(_)
        )
    }

    /// The rows of a block's data, as a local binding.
    fn data_rows(&self, b: &Block) -> TokenStream {
        let f = self.var(b.data);
        if self.data_is_vector(b.data) {
            quote!(let x = self.data.#f.slice(s![rows.clone(), ..]);)
        } else if matches!(b.kind, BlockKind::Bernoulli { .. }) {
            quote!(let x = self.data.#f.slice(s![rows.clone()]).insert_axis(Axis(1));)
        } else {
            quote!(let x = self.data.#f.slice(s![rows.clone()]);)
        }
    }

    fn stat(&self, b: usize, kind: StatKind) -> Ident {
        format_ident!("{}_{}", self.plan.block_prefix(b), kind.suffix())
    }

    fn moment(&self, b: usize, what: &str) -> Ident {
        format_ident!("{}_{}", self.plan.block_prefix(b), what)
    }

    fn statement(&self, b: &Block) -> String {
        self.plan.model.factors[b.factor].text.clone()
    }

    fn all(&self, source_path: Option<&str>) -> Generated {
        let params = self.params_struct();
        let consts = self.consts_struct();
        let data = self.data_struct();
        let sizes = self.sizes_struct();
        let stats = self.stats_struct();
        let cache = self.cache_struct();
        let model = self.model_struct();
        let imp = self.mixture_impl();
        let model_ident = ident(&self.name);
        let source_const = match source_path {
            Some(path) => quote! {
                impl super::#model_ident {
                    /// The model file this code was generated from.
                    pub const SOURCE: &'static str = include_str!(#path);
                }
            },
            None => quote!(),
        };
        let header = format!(
            " Generated by jensen from model `{}`: EM with closed-form updates. Do not edit; regenerate with `jensen generate`.",
            self.plan.model.name
        );
        let body = quote! {
            #params
            #consts
            #data
            #sizes
            #stats
            #cache
            #model
            #imp
            #source_const
        };
        let imports: Vec<TokenStream> = [
            ("std::ops", &["Range"][..]),
            (
                "::jensen::ndarray",
                &[
                    "s",
                    "Array1",
                    "Array2",
                    "Array3",
                    "ArrayD",
                    "ArrayView1",
                    "ArrayView2",
                    "ArrayViewMut2",
                    "Axis",
                ][..],
            ),
            (
                "::jensen::runtime::data",
                &["self", "DataError", "ValueKind"][..],
            ),
            (
                "::jensen::runtime::kernels",
                &["discrete", "gaussian", "linear", "moments"][..],
            ),
            ("::jensen::runtime::linalg", &["Cholesky"][..]),
            (
                "::jensen::runtime::mixture",
                &["add_log_weights", "reseed_weight"][..],
            ),
            (
                "::jensen::runtime",
                &[
                    "chain",
                    "ChainPrior",
                    "LatentStats",
                    "MStepConfig",
                    "MixtureModel",
                    "NumericalIssue",
                    "RngCore",
                    "Workspace",
                ][..],
            ),
        ]
        .iter()
        .filter_map(|(path, names)| {
            let used: Vec<Ident> = names
                .iter()
                .filter(|n| match **n {
                    "self" => mentions(&body, "data"),
                    n => mentions(&body, n),
                })
                .map(|n| {
                    if *n == "self" {
                        Ident::new("self", Span::call_site())
                    } else {
                        ident(n)
                    }
                })
                .collect();
            let path: syn::Path = syn::parse_str(path).expect("import path");
            match used.len() {
                0 => None,
                1 => {
                    let u = &used[0];
                    Some(quote!(use #path::#u;))
                }
                _ => Some(quote!(use #path::{#(#used),*};)),
            }
        })
        .collect();
        let module = quote! {
            #![doc = #header]
            #(#imports)*
            #body
        };
        let items = [
            "Params", "Consts", "Data", "Sizes", "Stats", "Cache", "Model",
        ]
        .iter()
        .map(|s| self.item(s))
        .collect();
        Generated { module, items }
    }

    fn params_struct(&self) -> TokenStream {
        let name = self.item("Params");
        let fields = self.plan.updates.iter().map(|u| {
            let f = self.var(u.param);
            let ty = Self::array_ty(self.dims(u.param));
            let doc = format!(" `{}`", self.plan.model.vars[u.param].text);
            let with = if self.dims(u.param) > 0 {
                quote!(#[serde(with = "::jensen::runtime::nested")])
            } else {
                quote!()
            };
            quote! { #[doc = #doc] #with pub #f: #ty }
        });
        let doc = format!(
            " Parameters of model `{}`, named as in the model file.",
            self.plan.model.name
        );
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq, ::jensen::serde::Serialize, ::jensen::serde::Deserialize)]
            #[serde(crate = "::jensen::serde")]
            #[allow(non_snake_case)]
            pub struct #name { #(#fields,)* }
        }
    }

    fn consts_struct(&self) -> TokenStream {
        let name = self.item("Consts");
        let fields: Vec<TokenStream> = self
            .plan
            .model
            .consts
            .iter()
            .map(|c| {
                let f = ident(&c.name);
                let doc = format!(" `const {}: int = {}`", c.name, c.default);
                quote! { #[doc = #doc] pub #f: usize }
            })
            .collect();
        let defaults = self.plan.model.consts.iter().map(|c| {
            let f = ident(&c.name);
            let v = c.default;
            quote!(#f: #v)
        });
        quote! {
            /// Constants of the model; `Default` gives the values in the model file.
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            #[allow(non_snake_case)]
            pub struct #name { #(#fields,)* }

            impl Default for #name {
                fn default() -> Self { Self { #(#defaults,)* } }
            }
        }
    }

    fn data_vars(&self) -> Vec<VarId> {
        (0..self.plan.model.vars.len())
            .filter(|&v| self.plan.model.vars[v].kind == DeclKind::Data)
            .collect()
    }

    fn data_struct(&self) -> TokenStream {
        let name = self.item("Data");
        let fields = self.data_vars().into_iter().map(|v| {
            let f = self.var(v);
            let ty = if self.data_is_vector(v) {
                quote!(Array2<f64>)
            } else {
                quote!(Array1<f64>)
            };
            let doc = format!(
                " `{}`, one row per observation",
                self.plan.model.vars[v].text
            );
            quote! { #[doc = #doc] pub #f: #ty }
        });
        quote! {
            /// Observed data of the model.
            #[derive(Debug, Clone, PartialEq)]
            #[allow(non_snake_case)]
            pub struct #name { #(#fields,)* }
        }
    }

    fn sizes_struct(&self) -> TokenStream {
        let name = self.item("Sizes");
        let fields = self
            .plan
            .model
            .sets
            .iter()
            .filter(|s| !matches!(s.size, SetSize::Literal(_)))
            .map(|s| {
                let f = ident(&s.name);
                let doc = format!(" Size of `{}`.", s.name);
                quote! { #[doc = #doc] pub #f: usize }
            });
        quote! {
            /// Sizes of the index sets, from the constants and the data.
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            #[allow(non_snake_case)]
            pub struct #name { #(#fields,)* }
        }
    }

    fn stat_shape(&self, b: usize, kind: StatKind) -> (TokenStream, TokenStream) {
        let block = &self.plan.blocks[b];
        let k = self.k();
        let d = match self.plan.model.vars[block.data].ty {
            ElemType::Vector(d) | ElemType::BinaryVec(d) => Some(self.size(d)),
            _ => None,
        };
        match (kind, &d) {
            (StatKind::Scatter, Some(d)) => {
                (quote!(Array3<f64>), quote!(Array3::zeros((#k, #d, #d))))
            }
            (StatKind::LatentSum, _) => {
                let l = self.latent_dim();
                (quote!(Array2<f64>), quote!(Array2::zeros((#k, #l))))
            }
            (StatKind::Cross, Some(d)) => {
                let l = self.latent_dim();
                (quote!(Array3<f64>), quote!(Array3::zeros((#k, #l, #d))))
            }
            (StatKind::LatentScatter, _) => {
                let l = self.latent_dim();
                (quote!(Array3<f64>), quote!(Array3::zeros((#k, #l, #l))))
            }
            (StatKind::Counts, _) => {
                let BlockKind::Categorical { probs } = block.kind else {
                    unreachable!("counts are categorical")
                };
                let c = self.shape(probs.param).pop().expect("simplex size");
                (quote!(Array2<f64>), quote!(Array2::zeros((#k, #c))))
            }
            (_, Some(d)) => (quote!(Array2<f64>), quote!(Array2::zeros((#k, #d)))),
            (_, None) if matches!(block.kind, BlockKind::Bernoulli { .. }) => {
                (quote!(Array2<f64>), quote!(Array2::zeros((#k, 1))))
            }
            (_, None) => (quote!(Array1<f64>), quote!(Array1::zeros(#k))),
        }
    }

    fn stats_fields(&self) -> Vec<(usize, StatKind)> {
        self.plan
            .blocks
            .iter()
            .enumerate()
            .flat_map(|(b, block)| block.kind.stats().iter().map(move |s| (b, *s)))
            .collect()
    }

    fn stats_struct(&self) -> TokenStream {
        let name = self.item("Stats");
        let fields = self.stats_fields().into_iter().map(|(b, s)| {
            let f = self.stat(b, s);
            let (ty, _) = self.stat_shape(b, s);
            let what = match s {
                StatKind::Sum if self.is_gaussian(b) => {
                    "Σ_n r_nk (x_n − c_k), about the means before the M-step"
                }
                StatKind::Sum => "Σ_n r_nk x_n",
                StatKind::Scatter => "Σ_n r_nk (x_n − c_k)(x_n − c_k)ᵀ",
                StatKind::SumSq => "Σ_n r_nk (x_n − c_k)², elementwise",
                StatKind::Counts => "Σ_n r_nk [x_n = c]",
                StatKind::LatentSum => "Σ_n r_nk E[h_n]",
                StatKind::Cross => "Σ_n r_nk E[h_n] (x_n − c_k)ᵀ",
                StatKind::LatentScatter => "Σ_n r_nk E[h_n h_nᵀ]",
            };
            let doc = format!(" `{}`: {what}", self.statement(&self.plan.blocks[b]));
            quote! { #[doc = #doc] pub #f: #ty }
        });
        quote! {
            /// Expected sufficient statistics, per component: plain sums, so chunks of rows
            /// reduce with `merge` in any grouping (`zero_stats` is the identity).
            #[derive(Debug, Clone, PartialEq)]
            pub struct #name { #(#fields,)* }
        }
    }

    fn is_gaussian(&self, b: usize) -> bool {
        matches!(
            self.plan.blocks[b].kind,
            BlockKind::MvNormal { .. }
                | BlockKind::Normal { .. }
                | BlockKind::LinearGaussian { .. }
        )
    }

    fn full_chols(&self) -> Vec<(usize, PRef)> {
        self.plan
            .blocks
            .iter()
            .enumerate()
            .filter_map(|(b, block)| match block.kind {
                BlockKind::MvNormal {
                    cov: Cov::Full(p), ..
                } => Some((b, p)),
                _ => None,
            })
            .collect()
    }

    /// `Vec<Cholesky>` of a full covariance parameter (one per component, or one if tied),
    /// failing with the component whose matrix is not positive definite.
    fn cholesky_factors(&self, p: PRef) -> TokenStream {
        let k = self.k();
        let pname = self.plan.name(p.param);
        let field = self.var(p.param);
        if p.per_component {
            quote! {
                (0..#k)
                    .map(|k| {
                        Cholesky::new(params.#field.index_axis(Axis(0), k))
                            .ok_or_else(|| NumericalIssue::NotPositiveDefinite { param: #pname.into(), component: Some(k) })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        } else {
            quote! {
                vec![Cholesky::new(params.#field.view())
                    .ok_or_else(|| NumericalIssue::NotPositiveDefinite { param: #pname.into(), component: None })?]
            }
        }
    }

    fn chol_field(&self, b: usize) -> Ident {
        format_ident!("{}_chol", self.plan.block_prefix(b))
    }

    fn cache_struct(&self) -> TokenStream {
        let name = self.item("Cache");
        let params = self.item("Params");
        let chols = self.full_chols().into_iter().map(|(b, p)| {
            let f = self.chol_field(b);
            let doc = format!(
                " Cholesky factors of `{}`{}.",
                self.plan.name(p.param),
                if p.per_component {
                    ", one per component"
                } else {
                    ""
                }
            );
            quote! { #[doc = #doc] #f: Vec<Cholesky> }
        });
        let logs = self
            .plan
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b.kind, BlockKind::Categorical { .. }))
            .map(|(b, _)| {
                let f = format_ident!("{}_log_p", self.plan.block_prefix(b));
                quote! { #f: Array2<f64> }
            });
        let posts = self.linear_blocks().into_iter().map(|b| {
            let f = self.post_field(b);
            let doc = format!(
                " Posterior of the latent under `{}`, one per component.",
                self.statement(&self.plan.blocks[b])
            );
            quote! { #[doc = #doc] #f: Vec<linear::FactorPosterior> }
        });
        let prior_fields = if self.plan.latent.is_chain() {
            quote! {
                /// `ln` of the chain's initial distribution.
                log_initial: Array1<f64>,
                /// `ln` of the chain's transition matrix.
                log_transition: Array2<f64>,
            }
        } else if self.plan.weights().is_some() {
            quote!(log_w: Array1<f64>,)
        } else {
            quote!()
        };
        quote! {
            /// Quantities computed once per iteration from the parameters.
            #[derive(Debug)]
            pub struct #name {
                params: #params,
                #prior_fields
                #(#chols,)*
                #(#logs,)*
                #(#posts,)*
            }
        }
    }

    fn model_struct(&self) -> TokenStream {
        let name = self.item("Model");
        let data = self.item("Data");
        let sizes = self.item("Sizes");
        let consts = self.item("Consts");
        let mut moment_fields = Vec::new();
        let mut moment_init = Vec::new();
        for (b, block) in self.plan.blocks.iter().enumerate() {
            let f = self.var(block.data);
            let x = if self.data_is_vector(block.data) {
                quote!(data.#f.view())
            } else {
                quote!(data.#f.view().insert_axis(Axis(1)))
            };
            let (mean, var) = (self.moment(b, "mean"), self.moment(b, "var"));
            moment_fields.push(quote!(#mean: Array1<f64>));
            moment_fields.push(quote!(#var: Array1<f64>));
            moment_init.push(quote!(#mean: moments::column_means(#x)));
            moment_init.push(quote!(#var: moments::column_variances(#x, moments::RESEED_FLOOR)));
            if block.kind.full_scatter() {
                let cov = self.moment(b, "cov");
                moment_fields.push(quote!(#cov: Array2<f64>));
                moment_init.push(quote!(#cov: moments::covariance(#x, moments::RESEED_FLOOR)));
            }
            if self.plan.summarised() {
                // With more rows than columns the E-step runs on the mean and this scatter.
                let scatter = self.moment(b, "scatter");
                moment_fields.push(quote!(#scatter: Option<Array2<f64>>));
                moment_init.push(quote!(#scatter: (data.#f.nrows() > data.#f.ncols()).then(|| moments::scatter(#x))));
            }
            if matches!(block.kind, BlockKind::Poisson { .. }) {
                let lf = self.moment(b, "log_factorial");
                moment_fields.push(quote!(#lf: Array1<f64>));
                moment_init.push(quote!(#lf: discrete::log_factorials(data.#f.view())));
            }
        }
        // Sizes from constants and data.
        let data_vars = self.data_vars();
        let first = data_vars.first().map(|&v| self.var(v));
        let first_name = data_vars
            .first()
            .map(|&v| self.plan.name(v).to_string())
            .unwrap_or_default();
        let mut size_init = Vec::new();
        for (s, set) in self.plan.model.sets.iter().enumerate() {
            let f = ident(&set.name);
            let value = match set.size {
                SetSize::Literal(_) => continue,
                SetSize::Const(c) => {
                    let cf = ident(&self.plan.model.consts[c].name);
                    quote!(consts.#cf)
                }
                SetSize::Rows => quote!(data.#first.len_of(Axis(0))),
                SetSize::Columns(v) => {
                    let d = self.var(v);
                    quote!(data.#d.ncols())
                }
                SetSize::Categories(v) => {
                    let d = self.var(v);
                    let n = self.plan.name(v);
                    quote!(data::category_count(#n, data.#d.view().insert_axis(Axis(1)))?)
                }
            };
            let _ = s;
            size_init.push(quote!(#f: #value));
        }
        let mut checks = Vec::new();
        for c in &self.plan.model.consts {
            let cf = ident(&c.name);
            let n = &c.name;
            checks
                .push(quote!(if consts.#cf == 0 { return Err(DataError::ZeroConst(#n.into())); }));
        }
        checks.push(quote!(if data.#first.len_of(Axis(0)) == 0 { return Err(DataError::Empty); }));
        for (i, &v) in data_vars.iter().enumerate() {
            let f = self.var(v);
            let n = self.plan.name(v);
            let var = &self.plan.model.vars[v];
            if i > 0 {
                checks.push(quote!(data::check_rows(#n, data.#f.len_of(Axis(0)), #first_name, data.#first.len_of(Axis(0)))?;));
            }
            let (view, kind) = match var.ty {
                ElemType::Vector(d) | ElemType::BinaryVec(d) => {
                    let size = self.size_in(d, quote!(sizes));
                    let set = &self.plan.model.sets[d].name;
                    checks.push(quote!(data::check_columns(#n, data.#f.ncols(), #set, #size)?;));
                    (
                        quote!(data.#f.view()),
                        if matches!(var.ty, ElemType::BinaryVec(_)) {
                            quote!(ValueKind::Binary)
                        } else {
                            quote!(ValueKind::Real)
                        },
                    )
                }
                ElemType::Count => (
                    quote!(data.#f.view().insert_axis(Axis(1))),
                    quote!(ValueKind::Count),
                ),
                ElemType::Binary => (
                    quote!(data.#f.view().insert_axis(Axis(1))),
                    quote!(ValueKind::Binary),
                ),
                ElemType::Cat(c) => {
                    let size = self.size_in(c, quote!(sizes));
                    (
                        quote!(data.#f.view().insert_axis(Axis(1))),
                        quote!(ValueKind::Category(#size)),
                    )
                }
                _ => (
                    quote!(data.#f.view().insert_axis(Axis(1))),
                    quote!(ValueKind::Real),
                ),
            };
            checks.push(quote!(data::check_values(#n, #view, #kind)?;));
        }
        if let Some(c) = self.plan.continuous {
            let latent = self.plan.name(c.var);
            let size = &self.plan.model.sets[c.dim].name;
            let l = self.size_in(c.dim, quote!(sizes));
            for b in self.linear_blocks() {
                let data = self.plan.blocks[b].data;
                let n = self.plan.name(data);
                if let ElemType::Vector(d) = self.plan.model.vars[data].ty {
                    let d = self.size_in(d, quote!(sizes));
                    checks.push(quote!(data::check_latent_dim(#latent, #size, #l, #n, #d)?;));
                }
            }
        }
        let layout: Vec<TokenStream> = data_vars
            .iter()
            .map(|&v| {
                let f = self.var(v);
                if self.data_is_vector(v) {
                    quote!(#f: data::column_major(data.#f))
                } else {
                    quote!(#f: data.#f)
                }
            })
            .collect();
        let doc = format!(
            " Model `{}` bound to data, ready for `jensen::fit`.",
            self.plan.model.name
        );
        let (seq_field, seq_init, seq_methods) = if self.plan.latent.is_chain() {
            let rows_set = self.plan.rows();
            let n = self.size_in(rows_set, quote!(sizes));
            (
                quote! {
                    /// Independent sequences: consecutive row ranges covering every row.
                    sequences: Vec<Range<usize>>,
                },
                quote!(sequences: std::iter::once(0..#n).collect(),),
                quote! {
                    /// Splits the rows into independent sequences of these lengths (one
                    /// sequence of every row by default).
                    pub fn with_lengths(mut self, lengths: &[usize]) -> Result<Self, DataError> {
                        self.sequences = chain::sequences_from_lengths(lengths, self.n_rows())?;
                        Ok(self)
                    }

                    /// The independent sequences.
                    pub fn sequences(&self) -> &[Range<usize>] {
                        &self.sequences
                    }
                },
            )
        } else {
            (quote!(), quote!(), quote!())
        };
        let latent_methods = self.latent_means();
        quote! {
            #[doc = #doc]
            #[derive(Debug)]
            pub struct #name {
                data: #data,
                sizes: #sizes,
                #seq_field
                #(#moment_fields,)*
            }

            impl #name {
                /// Binds data: sizes from the constants and the data, every value checked.
                pub fn new(data: #data, consts: #consts) -> Result<Self, DataError> {
                    let sizes = #sizes { #(#size_init,)* };
                    #(#checks)*
                    // Column-major storage: the kernels read each column of a block contiguously.
                    let data = #data { #(#layout,)* };
                    Ok(Self { #(#moment_init,)* #seq_init data, sizes })
                }

                #seq_methods
                #latent_methods

                /// Sizes of the index sets.
                pub fn sizes(&self) -> #sizes {
                    self.sizes
                }

                /// The data.
                pub fn data(&self) -> &#data {
                    &self.data
                }
            }
        }
    }

    /// `latent_means`: the posterior mean of the continuous latent (the factor scores), for a
    /// model with a linear-Gaussian block.
    fn latent_means(&self) -> TokenStream {
        let (Some(c), Some(&b)) = (self.plan.continuous, self.linear_blocks().first()) else {
            return quote!();
        };
        let BlockKind::LinearGaussian { mean, .. } = self.plan.blocks[b].kind else {
            unreachable!("linear-Gaussian blocks")
        };
        let params = self.item("Params");
        let posts = self.factor_posteriors(b, quote!(params));
        let x = self.var(self.plan.blocks[b].data);
        let m = self.access(&quote!(params), mean, &quote!(k));
        let (n, l) = (self.size(self.plan.rows()), self.size(c.dim));
        let each = self.each_component(quote! {
            let means = posts[k].posterior_means(self.data.#x.view(), #m);
            out += &(&means * &resp.column(k).insert_axis(Axis(1)));
        });
        let doc = format!(
            " `E[{h}[n] | data]` for every row (the factor scores), averaged over the components with the responsibilities `resp` (`N × K`, e.g. `FitResult::responsibilities`).",
            h = self.plan.name(c.var)
        );
        quote! {
            #[doc = #doc]
            pub fn latent_means(&self, params: &#params, resp: ArrayView2<'_, f64>) -> Result<Array2<f64>, NumericalIssue> {
                let posts = #posts;
                let mut out = Array2::zeros((#n, #l));
                #each
                Ok(out)
            }
        }
    }

    fn mixture_impl(&self) -> TokenStream {
        let name = self.item("Model");
        let params = self.item("Params");
        let stats = self.item("Stats");
        let cache = self.item("Cache");
        let n = self.size(self.plan.rows());
        let k = self.k();
        let prepare = self.prepare();
        let chain = if self.plan.latent.is_chain() {
            quote! {
                fn sequences(&self) -> Option<&[Range<usize>]> {
                    Some(&self.sequences)
                }

                fn chain_prior<'c>(&self, cache: &'c #cache) -> Option<ChainPrior<'c>> {
                    Some(ChainPrior {
                        log_initial: cache.log_initial.view(),
                        log_transition: cache.log_transition.view(),
                    })
                }
            }
        } else {
            quote!()
        };
        let log_joint = self.log_joint();
        let zero = self.stats_fields().into_iter().map(|(b, s)| {
            let f = self.stat(b, s);
            let (_, init) = self.stat_shape(b, s);
            quote!(#f: #init)
        });
        let merge = self.stats_fields().into_iter().map(|(b, s)| {
            let f = self.stat(b, s);
            quote!(into.#f += &other.#f;)
        });
        let accumulate = self.accumulate();
        let summaries = self.summaries_e_step();
        let m_step = self.m_step();
        let expected = self.expected();
        let free = self.free_parameters();
        let magnitude = self.magnitude();
        let neutral = self.neutral();
        let randomise = self.randomise();
        let features = self.features();
        let reseed = self.reseed();
        quote! {
            impl MixtureModel for #name {
                type Params = #params;
                type Cache = #cache;
                type Stats = #stats;

                fn n_rows(&self) -> usize { #n }

                fn n_components(&self) -> usize { #k }

                #prepare
                #log_joint

                fn zero_stats(&self) -> #stats {
                    #stats { #(#zero,)* }
                }

                #accumulate
                #summaries

                fn merge(&self, into: &mut #stats, other: &#stats) {
                    #(#merge)*
                }

                #m_step
                #expected

                fn free_parameters(&self) -> usize { #free }

                #magnitude

                #neutral
                #randomise
                #features
                #reseed
                #chain
            }
        }
    }

    fn prepare(&self) -> TokenStream {
        let params = self.item("Params");
        let cache = self.item("Cache");
        let prior = match (self.plan.weights(), self.chain_fields()) {
            (Some(w), _) => {
                let w = self.var(w);
                quote!(log_w: params.#w.mapv(f64::ln),)
            }
            (None, Some((p0, a))) => quote! {
                log_initial: params.#p0.mapv(f64::ln),
                log_transition: params.#a.mapv(f64::ln),
            },
            (None, None) => quote!(),
        };
        let k = self.k();
        let mut lets = Vec::new();
        let mut fields = Vec::new();
        for (b, p) in self.full_chols() {
            let f = self.chol_field(b);
            let value = self.cholesky_factors(p);
            lets.push(quote!(let #f = #value;));
            fields.push(quote!(#f));
        }
        for (b, block) in self.plan.blocks.iter().enumerate() {
            if let BlockKind::Categorical { probs } = block.kind {
                let f = format_ident!("{}_log_p", self.plan.block_prefix(b));
                let pf = self.var(probs.param);
                let value = if probs.per_component {
                    quote!(params.#pf.mapv(f64::ln))
                } else {
                    quote!(params.#pf.mapv(f64::ln).insert_axis(Axis(0)).broadcast((#k, params.#pf.len())).expect("broadcast").to_owned())
                };
                lets.push(quote!(let #f = #value;));
                fields.push(quote!(#f));
            }
        }
        for b in self.linear_blocks() {
            let f = self.post_field(b);
            let value = self.factor_posteriors(b, quote!(params));
            lets.push(quote!(let #f = #value;));
            fields.push(quote!(#f));
        }
        quote! {
            fn prepare(&self, params: &#params) -> Result<#cache, NumericalIssue> {
                #(#lets)*
                Ok(#cache { params: params.clone(), #prior #(#fields,)* })
            }
        }
    }

    fn log_joint(&self) -> TokenStream {
        let cache = self.item("Cache");
        let prior = if self.plan.weights().is_none() {
            quote!()
        } else {
            let doc = format!(" {}", self.plan.model.factors[self.prior_factor()].text);
            quote! {
                #[doc = #doc]
                add_log_weights(out.view_mut(), cache.log_w.view());
            }
        };
        let blocks = self.plan.blocks.iter().enumerate().map(|(bi, b)| {
            let rows = self.data_rows(b);
            let p = quote!(p);
            let kk = quote!(k);
            let call = match b.kind {
                BlockKind::MvNormal { mean, cov } => {
                    let m = self.access(&p, mean, &kk);
                    match cov {
                        Cov::Full(c) => {
                            let f = self.chol_field(bi);
                            let idx = if c.per_component { quote!(k) } else { quote!(0) };
                            quote!(gaussian::mvn_full_add_log_density(x, #m, &cache.#f[#idx], out.column_mut(k), ws))
                        }
                        Cov::Diag(c) => {
                            let v = self.access(&p, c, &kk);
                            quote!(gaussian::mvn_diag_add_log_density(x, #m, #v, out.column_mut(k)))
                        }
                        Cov::Spherical(c) => {
                            let v = self.access(&p, c, &kk);
                            quote!(gaussian::mvn_spherical_add_log_density(x, #m, #v, out.column_mut(k)))
                        }
                    }
                }
                BlockKind::Normal { mean, var } => {
                    let (m, v) = (self.access(&p, mean, &kk), self.access(&p, var, &kk));
                    quote!(gaussian::normal_add_log_density(x, #m, #v, out.column_mut(k)))
                }
                BlockKind::Poisson { rate } => {
                    let r = self.access(&p, rate, &kk);
                    let lf = self.moment(bi, "log_factorial");
                    quote!(discrete::poisson_add_log_density(x, self.#lf.slice(s![rows.clone()]), #r, out.column_mut(k)))
                }
                BlockKind::Bernoulli { prob } => {
                    let pr = match self.elem(prob.param) {
                        Elem::Scalar => {
                            let v = self.access(&p, prob, &kk);
                            quote!(Array1::from_elem(1, #v).view())
                        }
                        _ => self.access(&p, prob, &kk),
                    };
                    quote!(discrete::bernoulli_add_log_density(x, #pr, out.column_mut(k)))
                }
                BlockKind::Categorical { .. } => {
                    let f = format_ident!("{}_log_p", self.plan.block_prefix(bi));
                    quote!(discrete::categorical_add_log_density(x, cache.#f.row(k), out.column_mut(k)))
                }
                BlockKind::LinearGaussian { mean, .. } => {
                    let m = self.access(&p, mean, &kk);
                    let f = self.post_field(bi);
                    quote!(linear::factor_add_log_density(x, #m, &cache.#f[k], out.column_mut(k), ws))
                }
            };
            self.per_component(b, rows, call)
        });
        let blocks: TokenStream = blocks.collect();
        let (p, ws) = usage(&blocks);
        quote! {
            fn log_joint(&self, cache: &#cache, rows: Range<usize>, mut out: ArrayViewMut2<'_, f64>, #ws: &mut Workspace) {
                #p
                #prior
                #blocks
            }
        }
    }

    /// `body` for every component `k`: a loop, or `let k = 0;` for a model without a
    /// discrete latent (one component).
    fn each_component(&self, body: TokenStream) -> TokenStream {
        if self.plan.components().is_none() {
            return quote! {
                let k = 0;
                #body
            };
        }
        let k = self.k();
        quote! {
            for k in 0..#k {
                #body
            }
        }
    }

    /// `// statement` then, with the block's rows bound to `x`, `call` for every component.
    fn per_component(&self, b: &Block, rows: TokenStream, call: TokenStream) -> TokenStream {
        let doc = format!(" {}", self.statement(b));
        let each = self.each_component(quote!(#call;));
        quote! {
            #[doc = #doc]
            {
                #rows
                #each
            }
        }
    }

    fn prior_factor(&self) -> usize {
        self.plan.latent.prior_factors()[0]
    }

    fn accumulate(&self) -> TokenStream {
        let cache = self.item("Cache");
        let stats = self.item("Stats");
        let blocks = self.plan.blocks.iter().enumerate().map(|(bi, b)| {
            let rows = self.data_rows(b);
            let p = quote!(p);
            let kk = quote!(k);
            let call = match b.kind {
                BlockKind::MvNormal { mean, cov } => {
                    let c = self.access(&p, mean, &kk);
                    let sum = self.stat(bi, StatKind::Sum);
                    match cov {
                        Cov::Full(_) => {
                            let sc = self.stat(bi, StatKind::Scatter);
                            quote!(gaussian::accumulate_scatter(x, #c, resp.column(k), stats.#sum.row_mut(k), stats.#sc.index_axis_mut(Axis(0), k), ws))
                        }
                        _ => {
                            let sq = self.stat(bi, StatKind::SumSq);
                            quote!(gaussian::accumulate_diag(x, #c, resp.column(k), stats.#sum.row_mut(k), stats.#sq.row_mut(k)))
                        }
                    }
                }
                BlockKind::Normal { mean, .. } => {
                    let c = self.access(&p, mean, &kk);
                    let (sum, sq) = (self.stat(bi, StatKind::Sum), self.stat(bi, StatKind::SumSq));
                    quote!(gaussian::accumulate_scalar(x, #c, resp.column(k), &mut stats.#sum[k], &mut stats.#sq[k]))
                }
                BlockKind::Poisson { .. } => {
                    let sum = self.stat(bi, StatKind::Sum);
                    quote!(discrete::accumulate_weighted_sum(x, resp.column(k), &mut stats.#sum[k]))
                }
                BlockKind::Bernoulli { .. } => {
                    let sum = self.stat(bi, StatKind::Sum);
                    quote!(discrete::accumulate_weighted_rows(x, resp.column(k), stats.#sum.row_mut(k)))
                }
                BlockKind::Categorical { .. } => {
                    let c = self.stat(bi, StatKind::Counts);
                    quote!(discrete::accumulate_category_counts(x, resp.column(k), stats.#c.row_mut(k)))
                }
                BlockKind::LinearGaussian { mean, .. } => {
                    let c = self.access(&p, mean, &kk);
                    let f = self.post_field(bi);
                    let [sum, sq, hs, cr, hh] = self.linear_stats(bi);
                    quote!(linear::accumulate_factor(
                        x,
                        #c,
                        resp.column(k),
                        &cache.#f[k],
                        stats.#sum.row_mut(k),
                        stats.#sq.row_mut(k),
                        stats.#hs.row_mut(k),
                        stats.#cr.index_axis_mut(Axis(0), k),
                        stats.#hh.index_axis_mut(Axis(0), k),
                        ws
                    ))
                }
            };
            self.per_component(b, rows, call)
        });
        let blocks: TokenStream = blocks.collect();
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

    /// Loops over the components an update pools: each component alone, or all of them.
    fn m_step(&self) -> TokenStream {
        let params = self.item("Params");
        let stats = self.item("Stats");
        // Loadings, then means (which use the new loadings), then the scales about them.
        let rank = |u: &&Update| match u.rule {
            Rule::Loadings => 0,
            Rule::Mean | Rule::FactorMean => 1,
            _ => 2,
        };
        let mut ordered: Vec<&Update> = self.plan.updates.iter().collect();
        ordered.sort_by_key(rank);
        let steps: Vec<TokenStream> = ordered.into_iter().map(|u| self.update(u)).collect();
        let fields = self.plan.updates.iter().map(|u| self.var(u.param));
        let steps: TokenStream = steps.into_iter().collect();
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

    fn update(&self, u: &Update) -> TokenStream {
        let f = self.var(u.param);
        let k = self.k();
        let per_k = self.plan.model.vars[u.param].plates.len() == 1;
        let doc = format!(" {}", crate::explain::update_formula(self.plan, u));
        // For a per-component parameter, `slot` is `k`; for a shared one the loop over
        // components happens inside and the slot is the whole parameter.
        let body = match u.rule {
            Rule::Weights => {
                return quote! { #[doc = #doc] let #f = discrete::simplex_from_counts(counts); }
            }
            Rule::InitialProbs => {
                return quote! { #[doc = #doc] let #f = discrete::simplex_from_counts(latent.initial.view()); }
            }
            Rule::Transitions => {
                return quote! { #[doc = #doc] let #f = chain::transitions_from_counts(latent.transitions.view(), prev.#f.view()); }
            }
            Rule::Mean => {
                let centre = self.access(
                    &quote!(prev),
                    PRef {
                        param: u.param,
                        per_component: per_k,
                    },
                    &quote!(k),
                );
                let scalar = self.elem(u.param) == Elem::Scalar;
                let sums: Vec<TokenStream> = u
                    .sources
                    .iter()
                    .map(|&b| {
                        let s = self.stat(b, StatKind::Sum);
                        if scalar {
                            quote!(stats.#s[k])
                        } else {
                            quote!(stats.#s.row(k))
                        }
                    })
                    .collect();
                let value = self.pool(per_k, scalar, &sums, |sum, n| {
                    if scalar {
                        quote!(gaussian::scalar_mean_from_stats(#centre, #sum, #n))
                    } else {
                        quote!(gaussian::mean_from_stats(#centre, #sum, #n))
                    }
                });
                return self.assign_slots(u, per_k, value, doc);
            }
            Rule::Loadings | Rule::FactorMean => return self.linear_update(u, per_k, doc),
            Rule::Covariance | Rule::DiagonalVariances | Rule::Variance => {
                self.scale_update(u, per_k)
            }
            Rule::Rate | Rule::Probability => {
                let scalar = u.rule == Rule::Rate || self.elem(u.param) == Elem::Scalar;
                let vector_stat = !matches!(
                    self.plan.blocks[u.sources[0]].kind,
                    BlockKind::Poisson { .. }
                );
                let sums: Vec<TokenStream> = u
                    .sources
                    .iter()
                    .map(|&b| {
                        let s = self.stat(b, StatKind::Sum);
                        if vector_stat {
                            quote!(stats.#s.row(k))
                        } else {
                            quote!(stats.#s[k])
                        }
                    })
                    .collect();
                self.pool(per_k, !vector_stat, &sums, |sum, n| {
                    match (u.rule, scalar) {
                        (Rule::Rate, _) => quote!(discrete::rate_from_stats(#sum, #n)),
                        (_, true) => quote!(discrete::probs_from_stats(#sum, #n)[0]),
                        _ => quote!(discrete::probs_from_stats(#sum, #n)),
                    }
                })
            }
            Rule::Probabilities => {
                let sums: Vec<TokenStream> = u
                    .sources
                    .iter()
                    .map(|&b| {
                        let s = self.stat(b, StatKind::Counts);
                        quote!(stats.#s.row(k))
                    })
                    .collect();
                self.pool(
                    per_k,
                    false,
                    &sums,
                    |sum, _| quote!(discrete::simplex_from_counts(#sum)),
                )
            }
        };
        let _ = k;
        self.assign_slots(u, per_k, body, doc)
    }

    /// Sums statistics over sources (and over components for a shared parameter) the same
    /// way the executor does, then applies `finish(sum, count)`.
    fn pool(
        &self,
        per_k: bool,
        scalar: bool,
        sums: &[TokenStream],
        finish: impl Fn(TokenStream, TokenStream) -> TokenStream,
    ) -> TokenStream {
        let k = self.k();
        if per_k && sums.len() == 1 {
            let s = &sums[0];
            return finish(s.clone(), quote!(counts[k]));
        }
        let first = &sums[0];
        let init = if scalar {
            quote!(0.0)
        } else {
            quote!(Array1::<f64>::zeros(#first.len()))
        };
        let sum_view = if scalar {
            quote!(sum)
        } else {
            quote!(sum.view())
        };
        let result = finish(sum_view, quote!(n));
        // Categorical probabilities normalise the pooled counts and need no total.
        let (n_init, n_add) = if mentions(&result, "n") {
            (quote!(let mut n = 0.0;), quote!(n += counts[k];))
        } else {
            (quote!(), quote!())
        };
        let adds = sums.iter().map(|s| {
            if scalar {
                quote!(sum += #s; #n_add)
            } else {
                quote!(sum += &#s; #n_add)
            }
        });
        if per_k {
            quote! {{
                let mut sum = { let k = 0; let _ = k; #init };
                #n_init
                #(#adds)*
                #result
            }}
        } else {
            quote! {{
                let mut sum = { let k = 0; let _ = k; #init };
                #n_init
                for k in 0..#k {
                    #(#adds)*
                }
                #result
            }}
        }
    }

    /// The loadings or the offset of a linear-Gaussian block (one source, by derivation).
    fn linear_update(&self, u: &Update, per_k: bool, doc: String) -> TokenStream {
        let b = u.sources[0];
        let BlockKind::LinearGaussian { loading, mean, .. } = self.plan.blocks[b].kind else {
            unreachable!("loadings and offsets belong to linear-Gaussian blocks")
        };
        let k = self.slot(loading);
        let [sum, _, hs, cr, hh] = self.linear_stats(b);
        let kk = quote!(k);
        let value = if u.rule == Rule::Loadings {
            let prev = self.access(&quote!(prev), loading, &kk);
            quote!(linear::loadings_from_stats(
                #prev,
                counts[#k],
                stats.#sum.row(#k),
                stats.#hs.row(#k),
                stats.#cr.index_axis(Axis(0), #k),
                stats.#hh.index_axis(Axis(0), #k)
            ))
        } else {
            let centre = self.access(&quote!(prev), mean, &kk);
            let wf = self.var(loading.param);
            let w = if loading.per_component {
                quote!(#wf.index_axis(Axis(0), k))
            } else {
                quote!(#wf.view())
            };
            quote!(linear::factor_mean_from_stats(
                #centre,
                stats.#sum.row(#k),
                stats.#hs.row(#k),
                counts[#k],
                #w
            ))
        };
        self.assign_slots(u, per_k, value, doc)
    }

    fn assign_slots(
        &self,
        u: &Update,
        per_k: bool,
        value: TokenStream,
        doc: String,
    ) -> TokenStream {
        let f = self.var(u.param);
        let k = self.k();
        if !per_k {
            return quote! { #[doc = #doc] let #f = #value; };
        }
        let assign = match self.elem(u.param) {
            Elem::Scalar => quote!(#f[k] = #value;),
            Elem::Vector => quote!(#f.row_mut(k).assign(&#value);),
            Elem::Matrix => quote!(#f.index_axis_mut(Axis(0), k).assign(&#value);),
        };
        quote! {
            #[doc = #doc]
            let mut #f = prev.#f.clone();
            for k in 0..#k {
                #assign
            }
        }
    }

    fn scale_update(&self, u: &Update, per_k: bool) -> TokenStream {
        // Each source contributes (statements, scatter term, count term).
        let parts: Vec<(TokenStream, TokenStream, TokenStream)> = u
            .sources
            .iter()
            .map(|&b| {
                let block = &self.plan.blocks[b];
                if let BlockKind::LinearGaussian { loading, mean, .. } = block.kind {
                    let c = self.access(&quote!(prev), mean, &quote!(k));
                    // The new loadings and offsets, bound by the updates before this one.
                    let (wf, mf) = (self.var(loading.param), self.var(mean.param));
                    let (w, m) = if loading.per_component {
                        (quote!(#wf.index_axis(Axis(0), k)), quote!(#mf.row(k)))
                    } else {
                        (quote!(#wf.view()), quote!(#mf.view()))
                    };
                    let [sum, sq, hs, cr, hh] = self.linear_stats(b);
                    let residual = quote!(linear::factor_residual(
                        #c,
                        stats.#sum.row(k),
                        stats.#sq.row(k),
                        stats.#hs.row(k),
                        stats.#cr.index_axis(Axis(0), k),
                        stats.#hh.index_axis(Axis(0), k),
                        counts[k],
                        #w,
                        #m
                    ));
                    return if u.rule == Rule::Variance {
                        (quote!(let a = #residual;), quote!(a.sum()), quote!(counts[k] * a.len() as f64))
                    } else {
                        (quote!(), residual, quote!(counts[k]))
                    };
                }
                let (BlockKind::MvNormal { mean, .. } | BlockKind::Normal { mean, .. }) = block.kind else { unreachable!("Gaussian") };
                let c = self.access(&quote!(prev), mean, &quote!(k));
                let mf = self.var(mean.param);
                let m = match (self.elem(mean.param), mean.per_component) {
                    (Elem::Scalar, true) => quote!(#mf[k]),
                    (Elem::Scalar, false) => quote!(#mf),
                    (_, true) => quote!(#mf.row(k)),
                    (_, false) => quote!(#mf.view()),
                };
                let sum = self.stat(b, StatKind::Sum);
                if matches!(block.kind, BlockKind::Normal { .. }) {
                    let sq = self.stat(b, StatKind::SumSq);
                    return (quote!(), quote!(gaussian::scalar_scatter_about(#c, stats.#sum[k], stats.#sq[k], counts[k], #m)), quote!(counts[k]));
                }
                match u.rule {
                    Rule::Covariance => {
                        let sc = self.stat(b, StatKind::Scatter);
                        (quote!(), quote!(gaussian::scatter_about(#c, stats.#sum.row(k), stats.#sc.index_axis(Axis(0), k), counts[k], #m)), quote!(counts[k]))
                    }
                    Rule::DiagonalVariances => {
                        let sq = self.stat(b, StatKind::SumSq);
                        (quote!(), quote!(gaussian::diag_scatter_about(#c, stats.#sum.row(k), stats.#sq.row(k), counts[k], #m)), quote!(counts[k]))
                    }
                    _ => {
                        let sq = self.stat(b, StatKind::SumSq);
                        (
                            quote!(let a = gaussian::diag_scatter_about(#c, stats.#sum.row(k), stats.#sq.row(k), counts[k], #m);),
                            quote!(a.sum()),
                            quote!(counts[k] * a.len() as f64),
                        )
                    }
                }
            })
            .collect();
        let d_of = |b: usize| match self.plan.model.vars[self.plan.blocks[b].data].ty {
            ElemType::Vector(d) => self.size(d),
            _ => quote!(1),
        };
        // Without a discrete latent the statistics have one component, `0`.
        let single = self.plan.components().is_none();
        let d = d_of(u.sources[0]);
        let matrix_like = matches!(u.rule, Rule::Covariance | Rule::DiagonalVariances);
        let (init, finish) = match u.rule {
            Rule::Covariance => (
                quote!(Array2::<f64>::zeros((#d, #d))),
                quote!(gaussian::covariance_from_scatter(
                    scatter.view(),
                    count,
                    config.reg_covar
                )),
            ),
            Rule::DiagonalVariances => (
                quote!(Array1::<f64>::zeros(#d)),
                quote!(gaussian::variances_from_scatter(
                    scatter.view(),
                    count,
                    config.reg_covar
                )),
            ),
            _ => (
                quote!(0.0),
                quote!(gaussian::variance_from_scatter(
                    scatter,
                    count,
                    config.reg_covar
                )),
            ),
        };
        if (per_k || single) && parts.len() == 1 {
            // One source: the pooled sum is the source itself (adding to zero is exact).
            let (pre, term, n) = &parts[0];
            let only = if per_k { quote!() } else { quote!(let k = 0;) };
            return quote! {{
                #only
                #pre
                let scatter = #term;
                let count = #n;
                #finish
            }};
        }
        let adds = parts.iter().map(|(pre, term, n)| {
            if matrix_like {
                quote! { #pre scatter += &#term; count += #n; }
            } else {
                quote! { #pre scatter += #term; count += #n; }
            }
        });
        let body = quote! { #(#adds)* };
        let body = if per_k {
            body
        } else {
            self.each_component(body)
        };
        quote! {{
            let mut scatter = #init;
            let mut count = 0.0;
            #body
            #finish
        }}
    }

    fn expected(&self) -> TokenStream {
        let params = self.item("Params");
        let stats = self.item("Stats");
        let prior = match (self.plan.weights(), self.chain_fields()) {
            (Some(w), _) => {
                let w = self.var(w);
                quote!(discrete::categorical_expected(counts, params.#w.view()))
            }
            (None, Some((p0, a))) => quote! {
                discrete::categorical_expected(latent.initial.view(), params.#p0.view())
                    + chain::transitions_expected(latent.transitions.view(), params.#a.view())
            },
            (None, None) => quote!(0.0),
        };
        let blocks = self.plan.blocks.iter().enumerate().map(|(bi, b)| {
            let p = quote!(params);
            let c = quote!(centre);
            let kk = quote!(k);
            let mut pre = quote!();
            let term = match b.kind {
                BlockKind::MvNormal { mean, cov } => {
                    let (cm, m) = (self.access(&c, mean, &kk), self.access(&p, mean, &kk));
                    let sum = self.stat(bi, StatKind::Sum);
                    match cov {
                        Cov::Full(cv) => {
                            let sc = self.stat(bi, StatKind::Scatter);
                            let value = self.cholesky_factors(cv);
                            pre = quote!(let chol = #value;);
                            let idx = if cv.per_component { quote!(k) } else { quote!(0) };
                            quote!(gaussian::mvn_full_expected(counts[k], #cm, stats.#sum.row(k), stats.#sc.index_axis(Axis(0), k), #m, &chol[#idx]))
                        }
                        Cov::Diag(cv) => {
                            let sq = self.stat(bi, StatKind::SumSq);
                            let v = self.access(&p, cv, &kk);
                            quote!(gaussian::mvn_diag_expected(counts[k], #cm, stats.#sum.row(k), stats.#sq.row(k), #m, #v))
                        }
                        Cov::Spherical(cv) => {
                            let sq = self.stat(bi, StatKind::SumSq);
                            let v = self.access(&p, cv, &kk);
                            quote!(gaussian::mvn_spherical_expected(counts[k], #cm, stats.#sum.row(k), stats.#sq.row(k), #m, #v))
                        }
                    }
                }
                BlockKind::Normal { mean, var } => {
                    let (cm, m, v) = (self.access(&c, mean, &kk), self.access(&p, mean, &kk), self.access(&p, var, &kk));
                    let (sum, sq) = (self.stat(bi, StatKind::Sum), self.stat(bi, StatKind::SumSq));
                    quote!(gaussian::normal_expected(counts[k], #cm, stats.#sum[k], stats.#sq[k], #m, #v))
                }
                BlockKind::Poisson { rate } => {
                    let lf = self.moment(bi, "log_factorial");
                    pre = quote!(total += -self.#lf.sum(););
                    let r = self.access(&p, rate, &kk);
                    let sum = self.stat(bi, StatKind::Sum);
                    quote!(discrete::poisson_expected(counts[k], stats.#sum[k], #r))
                }
                BlockKind::Bernoulli { prob } => {
                    let sum = self.stat(bi, StatKind::Sum);
                    let pr = match self.elem(prob.param) {
                        Elem::Scalar => {
                            let v = self.access(&p, prob, &kk);
                            quote!(Array1::from_elem(1, #v).view())
                        }
                        _ => self.access(&p, prob, &kk),
                    };
                    quote!(discrete::bernoulli_expected(counts[k], stats.#sum.row(k), #pr))
                }
                BlockKind::Categorical { probs } => {
                    let cnt = self.stat(bi, StatKind::Counts);
                    let pr = self.access(&p, probs, &kk);
                    quote!(discrete::categorical_expected(stats.#cnt.row(k), #pr))
                }
                BlockKind::LinearGaussian { loading, mean, noise } => {
                    let posts = self.factor_posteriors(bi, quote!(centre));
                    pre = quote!(let centre_post = #posts;);
                    let (cm, w, m) = (self.access(&c, mean, &kk), self.access(&p, loading, &kk), self.access(&p, mean, &kk));
                    let v = self.access(&p, noise.pref(), &kk);
                    let psi = match noise {
                        Cov::Spherical(_) => quote!(linear::isotropic(#v, #m.len()).view()),
                        _ => v,
                    };
                    let [sum, sq, hs, cr, hh] = self.linear_stats(bi);
                    quote!(linear::factor_expected(
                        counts[k],
                        #cm,
                        stats.#sum.row(k),
                        stats.#sq.row(k),
                        stats.#hs.row(k),
                        stats.#cr.index_axis(Axis(0), k),
                        stats.#hh.index_axis(Axis(0), k),
                        #w,
                        #m,
                        #psi,
                        centre_post[k].log_det_precision()
                    ))
                }
            };
            let doc = format!(" {}", self.statement(b));
            let each = self.each_component(quote!(total += #term;));
            quote! {
                #[doc = #doc]
                {
                    #pre
                    #each
                }
            }
        });
        let blocks: TokenStream = blocks.collect();
        let centre = if mentions(&blocks, "centre") {
            quote!(centre)
        } else {
            quote!(_centre)
        };
        quote! {
            fn expected_log_joint(&self, stats: &#stats, latent: &LatentStats, #centre: &#params, params: &#params) -> Result<f64, NumericalIssue> {
                let counts = latent.counts.view();
                let mut total = #prior;
                #blocks
                Ok(total)
            }
        }
    }

    fn free_parameters(&self) -> TokenStream {
        let terms = self.plan.updates.iter().map(|u| {
            let v = &self.plan.model.vars[u.param];
            let copies: Vec<TokenStream> = v.plates.iter().map(|&p| self.size(p)).collect();
            let each = match v.ty {
                ElemType::Simplex(k) => {
                    let k = self.size(k);
                    quote!((#k - 1))
                }
                ElemType::Vector(d) | ElemType::PositiveVec(d) | ElemType::ProbVec(d) => {
                    self.size(d)
                }
                ElemType::Cov(d) => {
                    let d = self.size(d);
                    quote!((#d * (#d + 1) / 2))
                }
                ElemType::Matrix(r, c) if u.rule == Rule::Loadings => {
                    // Identified up to a rotation of the latent space.
                    let (r, c) = (self.size(r), self.size(c));
                    quote!((#r * #c - #c * (#c - 1) / 2))
                }
                ElemType::Matrix(r, c) => {
                    let (r, c) = (self.size(r), self.size(c));
                    quote!((#r * #c))
                }
                _ => quote!(1),
            };
            quote!(#(#copies *)* #each)
        });
        quote!(#(#terms)+*)
    }

    /// `Σ |ln x!|` of the Poisson blocks (terms that cancel in the log-likelihood).
    fn magnitude(&self) -> TokenStream {
        let terms: Vec<TokenStream> = self
            .plan
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b.kind, BlockKind::Poisson { .. }))
            .map(|(b, _)| {
                let lf = self.moment(b, "log_factorial");
                quote!(self.#lf.sum().abs())
            })
            .collect();
        if terms.is_empty() {
            return quote!();
        }
        quote! {
            fn log_density_magnitude(&self) -> f64 {
                #(#terms)+*
            }
        }
    }

    fn neutral(&self) -> TokenStream {
        let params = self.item("Params");
        let k = self.k();
        let fields = self.plan.updates.iter().map(|u| {
            let f = self.var(u.param);
            let per_k = self.plan.model.vars[u.param].plates.len() == 1;
            let shape = self.shape(u.param);
            let inner: Vec<TokenStream> = if per_k {
                shape[1..].to_vec()
            } else {
                shape.clone()
            };
            let mean_of = |b: usize| self.moment(b, "mean");
            // Noise of a linear-Gaussian block starts at the data's variances.
            let linear_noise = u.sources.first().is_some_and(|&b| {
                matches!(self.plan.blocks[b].kind, BlockKind::LinearGaussian { .. })
            });
            let one = match u.rule {
                Rule::Loadings => {
                    let (r, c) = (&inner[0], &inner[1]);
                    quote!(Array2::<f64>::zeros((#r, #c)))
                }
                Rule::FactorMean => {
                    let m = mean_of(u.sources[0]);
                    quote!(self.#m.clone())
                }
                Rule::DiagonalVariances if linear_noise => {
                    let v = self.moment(u.sources[0], "var");
                    quote!(self.#v.clone())
                }
                Rule::Variance if linear_noise => {
                    let v = self.moment(u.sources[0], "var");
                    quote!(self.#v.mean().unwrap_or(1.0))
                }
                Rule::Weights | Rule::InitialProbs | Rule::Transitions => {
                    let kk = &inner[0];
                    quote!(Array1::from_elem(#kk, 1.0 / #kk as f64))
                }
                Rule::Mean => {
                    let m = mean_of(u.sources[0]);
                    if self.elem(u.param) == Elem::Scalar {
                        quote!(self.#m[0])
                    } else {
                        quote!(self.#m.clone())
                    }
                }
                Rule::Covariance => {
                    let d = &inner[0];
                    quote!(Array2::<f64>::eye(#d))
                }
                Rule::DiagonalVariances => {
                    let d = &inner[0];
                    quote!(Array1::<f64>::ones(#d))
                }
                Rule::Variance => quote!(1.0),
                Rule::Rate => {
                    let m = mean_of(u.sources[0]);
                    quote!(self.#m[0].max(::jensen::runtime::kernels::PROB_FLOOR))
                }
                Rule::Probability => {
                    if inner.is_empty() {
                        quote!(0.5)
                    } else {
                        let d = &inner[0];
                        quote!(Array1::from_elem(#d, 0.5))
                    }
                }
                Rule::Probabilities => {
                    let c = &inner[0];
                    quote!(Array1::from_elem(#c, 1.0 / #c as f64))
                }
            };
            let value = if u.rule == Rule::Transitions {
                let kk = &inner[0];
                quote!(Array2::from_elem((#kk, #kk), 1.0 / #kk as f64))
            } else if !per_k || u.rule == Rule::Weights {
                one
            } else {
                match self.elem(u.param) {
                    Elem::Scalar => quote!(Array1::from_elem(#k, #one)),
                    Elem::Vector => quote!({
                        let one = #one;
                        let mut all = Array2::zeros((#k, one.len()));
                        for mut row in all.rows_mut() { row.assign(&one); }
                        all
                    }),
                    Elem::Matrix => quote!({
                        let one = #one;
                        let mut all = Array3::zeros((#k, one.nrows(), one.ncols()));
                        for mut slot in all.outer_iter_mut() { slot.assign(&one); }
                        all
                    }),
                }
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
    fn randomise(&self) -> TokenStream {
        let params = self.item("Params");
        let steps: Vec<TokenStream> = self
            .plan
            .updates
            .iter()
            .filter(|u| u.rule == Rule::Loadings)
            .map(|u| {
                let f = self.var(u.param);
                let var = self.moment(u.sources[0], "var");
                let l = self.latent_dim();
                let draw =
                    quote!(linear::random_loadings(rng, self.#var.mapv(f64::sqrt).view(), #l));
                if self.plan.model.vars[u.param].plates.len() == 1 {
                    quote! {
                        for mut w in params.#f.outer_iter_mut() {
                            w.assign(&#draw);
                        }
                    }
                } else {
                    quote!(params.#f = #draw;)
                }
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

    fn features(&self) -> TokenStream {
        let views = self.data_vars().into_iter().map(|v| {
            let f = self.var(v);
            if self.data_is_vector(v) {
                quote!(self.data.#f.view())
            } else {
                quote!(self.data.#f.view().insert_axis(Axis(1)))
            }
        });
        quote! {
            fn init_features(&self) -> Array2<f64> {
                ::jensen::ndarray::concatenate(Axis(1), &[#(#views),*]).expect("data items have the same rows")
            }
        }
    }

    fn reseed(&self) -> TokenStream {
        let params = self.item("Params");
        let n = self.size(self.plan.rows());
        let steps = self.plan.updates.iter().filter_map(|u| {
            let f = self.var(u.param);
            match u.rule {
                // An empty component keeps its loadings; its mean moves to the row.
                Rule::Loadings => return None,
                Rule::Weights => return Some(quote!(reseed_weight(&mut params.#f, k, #n);)),
                Rule::InitialProbs => return None,
                Rule::Transitions => {
                    let (p0, _) = self.chain_fields().expect("a chain");
                    return Some(
                        quote!(chain::reseed_state(&mut params.#p0, &mut params.#f, k, #n);),
                    );
                }
                _ => {}
            }
            if self.plan.model.vars[u.param].plates.len() != 1 {
                return None;
            }
            let b = u.sources[0];
            let data = self.plan.blocks[b].data;
            let df = self.var(data);
            let row = if self.data_is_vector(data) {
                quote!(self.data.#df.row(row))
            } else {
                quote!(self.data.#df.slice(s![row..row + 1]))
            };
            let (var, cov) = (self.moment(b, "var"), self.moment(b, "cov"));
            let scalar = self.elem(u.param) == Elem::Scalar;
            Some(match (u.rule, scalar) {
                (Rule::Mean, true) => quote!(params.#f[k] = #row[0];),
                (Rule::Mean | Rule::FactorMean, false) => {
                    quote!(params.#f.row_mut(k).assign(&#row);)
                }
                (Rule::Covariance, _) => {
                    quote!(params.#f.index_axis_mut(Axis(0), k).assign(&self.#cov);)
                }
                (Rule::DiagonalVariances, _) => quote!(params.#f.row_mut(k).assign(&self.#var);),
                (Rule::Variance, _) => quote!(params.#f[k] = self.#var.mean().unwrap_or(1.0);),
                (Rule::Rate, _) => {
                    quote!(params.#f[k] = #row[0].max(::jensen::runtime::kernels::PROB_FLOOR);)
                }
                (Rule::Probability, true) => quote!(params.#f[k] = 0.25 + 0.5 * #row[0];),
                (Rule::Probability, false) => {
                    quote!(params.#f.row_mut(k).assign(&#row.mapv(|b| 0.25 + 0.5 * b));)
                }
                (Rule::Probabilities, _) => quote!({
                    let c = params.#f.ncols();
                    let mut p = Array1::from_elem(c, 0.5 / c as f64);
                    p[#row[0] as usize] += 0.5;
                    params.#f.row_mut(k).assign(&p);
                }),
                (Rule::Weights | Rule::InitialProbs | Rule::Transitions | Rule::Loadings, _) => {
                    unreachable!("handled above")
                }
                (Rule::FactorMean, true) => unreachable!("offsets are vectors"),
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
