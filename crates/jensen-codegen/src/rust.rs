//! Plan → Rust: typed parameters, data, statistics and a `MixtureModel` implementation that
//! calls the runtime's kernels in the same order as the plan executor.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use jensen_lang::ast::DeclKind;
use jensen_lang::ir::{ElemType, SetId, SetSize, Summary, VarId};
use jensen_lang::plan::{BlockKind, Cov, PRef, Trials};
use jensen_lang::program::{Elem as ProgramElem, HyperSlot, Operand, RowTerms};
use jensen_lang::{Plan, Program};

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
        program: Program::lower(plan),
        name: name.to_string(),
    }
    .all(source_path)
}

pub(crate) struct Gen<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) program: Program,
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
pub(crate) fn mentions(tokens: &TokenStream, name: &str) -> bool {
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
pub(crate) fn usage(body: &TokenStream) -> (TokenStream, TokenStream) {
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

pub(crate) fn ident(s: &str) -> Ident {
    syn::parse_str::<Ident>(s).unwrap_or_else(|_| Ident::new_raw(s, Span::call_site()))
}

impl Gen<'_> {
    pub(crate) fn item(&self, suffix: &str) -> Ident {
        format_ident!("{}{}", self.name, suffix)
    }

    pub(crate) fn var(&self, v: VarId) -> Ident {
        ident(&self.plan.model.vars[v].name)
    }

    fn elem(&self, v: VarId) -> Elem {
        match self.plan.model.vars[v].ty {
            ElemType::Real
            | ElemType::Positive
            | ElemType::Prob
            | ElemType::Count
            | ElemType::Binary
            | ElemType::Cat(_)
            | ElemType::Weight => Elem::Scalar,
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

    pub(crate) fn array_ty(dims: usize) -> TokenStream {
        match dims {
            0 => quote!(f64),
            1 => quote!(Array1<f64>),
            2 => quote!(Array2<f64>),
            3 => quote!(Array3<f64>),
            _ => quote!(ArrayD<f64>),
        }
    }

    pub(crate) fn size(&self, s: SetId) -> TokenStream {
        self.size_in(s, quote!(self.sizes))
    }

    /// The number of rows as an `f64`, or the sum of their weights (`data w[N]: weight`).
    pub(crate) fn row_total(&self) -> TokenStream {
        if self.plan.row_weights.is_some() {
            quote!(self.total_weight)
        } else {
            let n = self.size(self.plan.rows());
            quote!(#n as f64)
        }
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

    pub(crate) fn k(&self) -> TokenStream {
        match self.plan.components() {
            Some(comps) => self.size(comps),
            None => quote!(1),
        }
    }

    /// `Vec<FactorPosterior>` of a linear-Gaussian block under the parameters `src` (one per
    /// component), failing with the noise parameter when it is not positive.
    pub(crate) fn factor_posteriors(&self, b: usize, src: TokenStream) -> TokenStream {
        let BlockKind::LinearGaussian { loading, noise, .. } = self.plan.blocks[b].kind else {
            unreachable!("linear-Gaussian blocks")
        };
        let k = self.k();
        let kk = quote!(k);
        let w = self.access(&src, loading, &kk);
        let np = noise.pref().expect("linear-Gaussian noise is a parameter");
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
        // Variational Bayes: the rows' covariance factor of the loadings' posterior.
        let row_cov = self.program.derived.iter().find_map(|d| match d.kind {
            jensen_lang::program::DerivedKind::Posteriors {
                loading: l,
                row_cov,
                ..
            } if l == loading => row_cov,
            _ => None,
        });
        let new = match (noise, row_cov) {
            (Cov::Spherical(_), None) => quote!(linear::FactorPosterior::isotropic(#w, #v)),
            (_, None) => quote!(linear::FactorPosterior::new(#w, #v)),
            (_, Some(slot)) => {
                let f = ident(&self.program.params[slot].name);
                let rc = if loading.per_component {
                    quote!(#src.#f.index_axis(Axis(0), k))
                } else {
                    quote!(#src.#f.view())
                };
                if matches!(noise, Cov::Spherical(_)) {
                    quote!(linear::FactorPosterior::isotropic_with_row_cov(#w, #v, #rc))
                } else {
                    quote!(linear::FactorPosterior::with_row_cov(#w, #v, #rc))
                }
            }
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

    fn linear_blocks(&self) -> Vec<usize> {
        self.plan
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b.kind, BlockKind::LinearGaussian { .. }))
            .map(|(b, _)| b)
            .collect()
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
        self.plan.model.vars[v].ty.vector_set().is_some()
    }

    fn moment(&self, b: usize, what: &str) -> Ident {
        format_ident!("{}_{}", self.plan.block_prefix(b), what)
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
        let method = if self.program.method == jensen_lang::ir::Method::Vb {
            "mean-field variational Bayes"
        } else {
            "EM"
        };
        let header = format!(
            " Generated by jensen from model `{}`: {method} with closed-form updates. Do not edit; regenerate with `jensen generate`.",
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
                    "ArrayViewMut1",
                    "ArrayViewMut2",
                    "Axis",
                    "aview1",
                ][..],
            ),
            (
                "::jensen::runtime::data",
                &["self", "DataError", "ValueKind"][..],
            ),
            ("::jensen::runtime::gaps", &["self", "Fill", "Gaps"][..]),
            (
                "::jensen::runtime::kernels",
                &[
                    "discrete",
                    "exponential",
                    "gaussian",
                    "linear",
                    "missing",
                    "moments",
                    "regression",
                    "robust",
                    "vb",
                ][..],
            ),
            ("::jensen::runtime::linalg", &["Cholesky"][..]),
            (
                "::jensen::runtime::mixture",
                &[
                    "add_log_weights",
                    "inertia",
                    "one_hot",
                    "reseed_weight",
                    "reseed_weight_of",
                    "set_log_uniform",
                    "set_log_weights",
                    "FloorHit",
                ][..],
            ),
            (
                "::jensen::runtime",
                &[
                    "chain",
                    "Assigned",
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
                    "self" if path.ends_with("gaps") => mentions(&body, "Gaps"),
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
        // Variational Bayes: each posterior's strength, after the parameters.
        let strengths = self.program.params.iter().filter_map(|slot| {
            let of = slot.posterior_of?;
            let f = ident(&slot.name);
            let doc = if slot.elem == jensen_lang::program::Elem::Scalar {
                format!(
                    " The strength of the posterior of `{}` (variational Bayes).",
                    self.program.params[of].name
                )
            } else {
                format!(
                    " The covariance factor `V` of every row of the posterior of `{}` given its noise, `Cov[w_d | ψ_d] = ψ_d V` (variational Bayes).",
                    self.program.params[of].name
                )
            };
            let dims = slot.elem.ndim() + usize::from(slot.per_component);
            let ty = Self::array_ty(dims);
            Some(if dims > 0 {
                quote! { #[doc = #doc] #[serde(with = "::jensen::runtime::nested")] pub #f: #ty }
            } else {
                quote! { #[doc = #doc] pub #f: #ty }
            })
        });
        let fields = fields.chain(strengths);
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

    /// The data items the blocks read, in declaration order: each may have missing cells.
    fn gap_items(&self) -> Vec<VarId> {
        self.data_vars()
            .into_iter()
            .filter(|&v| self.plan.blocks.iter().any(|b| b.data == v))
            .collect()
    }

    /// `x_gaps`: the field holding the missing cells of data item `v`.
    pub(crate) fn gaps_field(&self, v: VarId) -> Ident {
        format_ident!("{}_gaps", self.var(v))
    }

    fn data_vars(&self) -> Vec<VarId> {
        (0..self.plan.model.vars.len())
            .filter(|&v| self.plan.model.vars[v].kind == DeclKind::Data)
            .collect()
    }

    /// The field of the discrete latent's partial labels (`latent z[N]: 0..K from (col)`),
    /// with the latent's declaration.
    fn label_field(&self) -> Option<(Ident, String)> {
        self.plan.label_column()?;
        let (z, _) = self.plan.latent.var_components()?;
        Some((self.var(z), self.plan.model.vars[z].text.clone()))
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
        let labels = self.label_field().map(|(z, text)| {
            let doc = format!(
                " The known values of `{text}`, one per row: `Some(k)` where labelled, `None` where not"
            );
            quote! { #[doc = #doc] pub #z: Vec<Option<u32>> }
        });
        quote! {
            /// Observed data of the model.
            #[derive(Debug, Clone, PartialEq)]
            #[allow(non_snake_case)]
            pub struct #name { #(#fields,)* #labels }
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

    /// `Vec<Cholesky>` of a full covariance parameter (one per component, or one if tied),
    /// failing with the component whose matrix is not positive definite.
    pub(crate) fn cholesky_factors(&self, p: PRef, src: TokenStream) -> TokenStream {
        let k = self.k();
        let pname = self.plan.name(p.param);
        let field = self.var(p.param);
        if p.per_component {
            quote! {
                (0..#k)
                    .map(|k| {
                        Cholesky::new(#src.#field.index_axis(Axis(0), k))
                            .ok_or_else(|| NumericalIssue::NotPositiveDefinite { param: #pname.into(), component: Some(k) })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        } else {
            quote! {
                vec![Cholesky::new(#src.#field.view())
                    .ok_or_else(|| NumericalIssue::NotPositiveDefinite { param: #pname.into(), component: None })?]
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
        // A moment of the data: `moments::NAME(x, …)`, or with the rows' weights
        // `moments::weighted::NAME(x, w, …)`.
        let weights = self.plan.row_weights.map(|w| self.var(w));
        let moment = |name: &str, x: &TokenStream, extra: Option<TokenStream>| {
            let f = format_ident!("{name}");
            let extra = extra.map(|e| quote!(, #e));
            match &weights {
                None => quote!(moments::#f(#x #extra)),
                Some(w) => quote!(moments::weighted::#f(#x, data.#w.view() #extra)),
            }
        };
        if let Some(w) = &weights {
            moment_fields.push(quote!(total_weight: f64));
            moment_init.push(quote!(total_weight: data.#w.sum()));
        }
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
            let floor = Some(quote!(moments::RESEED_FLOOR));
            let value = moment("column_means", &x, None);
            moment_init.push(quote!(#mean: #value));
            let value = moment("column_variances", &x, floor.clone());
            moment_init.push(quote!(#var: #value));
            if self
                .program
                .penalties
                .iter()
                .any(|p| p.call.args.contains(&Operand::DataScale(b)))
            {
                let scale = self.moment(b, "scale");
                moment_fields.push(quote!(#scale: Array1<f64>));
                let value = moment("column_scales", &x, None);
                moment_init.push(quote!(#scale: #value));
            }
            if block.kind.full_scatter() {
                let cov = self.moment(b, "cov");
                moment_fields.push(quote!(#cov: Array2<f64>));
                let value = moment("covariance", &x, floor);
                moment_init.push(quote!(#cov: #value));
            }
            if self.program.summary.is_some() {
                // With more rows than columns the E-step runs on the mean and a root of the scatter.
                let scatter = self.moment(b, "scatter_root");
                moment_fields.push(quote!(#scatter: Option<Array2<f64>>));
                let value = moment("scatter_root", &x, None);
                moment_init
                    .push(quote!(#scatter: (data.#f.nrows() > data.#f.ncols()).then(|| #value)));
            }
            if let Some(terms) = self.program.blocks[b].row_terms {
                // A missing cell has no such term.
                let lf = self.moment(b, terms.suffix());
                let g = self.gaps_field(block.data);
                moment_fields.push(quote!(#lf: Array1<f64>));
                let value = match terms {
                    RowTerms::LogFactorial => quote!(discrete::log_factorials(data.#f.view())),
                    // The data are held as `ln x` already.
                    RowTerms::LogValue => quote!(data.#f.clone()),
                    RowTerms::LogCoefficient => {
                        quote!(discrete::multinomial_log_coefficients(data.#f.view()))
                    }
                    RowTerms::LogChoose => match block.kind.trials() {
                        Some(Trials::Known(t)) => {
                            let t = proc_macro2::Literal::f64_unsuffixed(t);
                            quote!(discrete::binomial_log_coefficients(data.#f.view(), #t))
                        }
                        Some(Trials::Column(t)) => {
                            let t = self.var(t);
                            quote!(discrete::binomial_rows_log_coefficients(data.#f.view(), data.#t.view()))
                        }
                        None => unreachable!("binomial coefficients belong to a binomial block"),
                    },
                };
                moment_init.push(quote!(#lf: gaps::clear(&#g, #value)));
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
            if var.ty == ElemType::Weight {
                // Every weight admitted, not all zero (per sequence: `with_lengths`).
                checks.push(quote!(data::check_weights(#n, data.#f.view(), None)?;));
                continue;
            }
            let (view, kind) = match var.ty {
                ElemType::Vector(d) | ElemType::BinaryVec(d) | ElemType::CountVec(d) => {
                    let size = self.size_in(d, quote!(sizes));
                    let set = &self.plan.model.sets[d].name;
                    checks.push(quote!(data::check_columns(#n, data.#f.ncols(), #set, #size)?;));
                    (
                        quote!(data.#f.view()),
                        match var.ty {
                            ElemType::BinaryVec(_) => quote!(ValueKind::Binary),
                            ElemType::CountVec(_) => quote!(ValueKind::Count),
                            _ => quote!(ValueKind::Real),
                        },
                    )
                }
                ElemType::Count => (
                    quote!(data.#f.view().insert_axis(Axis(1))),
                    quote!(ValueKind::Count),
                ),
                ElemType::Positive => (
                    quote!(data.#f.view().insert_axis(Axis(1))),
                    quote!(ValueKind::Positive),
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
            // A binomial's successes are at most its known trials (trials from a column are
            // checked below, after that column's own checks).
            for block in self.plan.blocks.iter().filter(|b| b.data == v) {
                if let Some(Trials::Known(t)) = block.kind.trials() {
                    let t = proc_macro2::Literal::f64_unsuffixed(t);
                    checks.push(quote!(data::check_at_most_trials(#n, #view, #t)?;));
                }
            }
            if let (
                Some(w),
                ElemType::Vector(_)
                | ElemType::Real
                | ElemType::Positive
                | ElemType::Count
                | ElemType::CountVec(_),
            ) = (self.plan.row_weights, var.ty)
            {
                let w = self.var(w);
                checks.push(quote!(data::check_weighted_sums(#n, #view, data.#w.view())?;));
            }
        }
        // An item a block reads without modelling it (a binomial's trials, a regression's
        // covariates) is needed in every row: a statement of its own may not leave it gaps.
        for block in &self.plan.blocks {
            let (read, what) = match block.kind {
                BlockKind::Binomial {
                    trials: Trials::Column(t),
                    ..
                } => (t, "the number of trials"),
                _ if block.kind.regression().is_some() => (
                    block.kind.regression().expect("a regression").2,
                    "the covariates",
                ),
                _ => continue,
            };
            let (rf, rn) = (self.var(read), self.plan.name(read));
            if self.gap_items().contains(&read) {
                let rg = self.gaps_field(read);
                let why = format!(
                    "it holds {what} of `{}`, which every row needs",
                    self.plan.model.factors[block.factor].text
                );
                checks.push(quote!(data::refuse_gaps(#rn, &#rg, #why)?;));
            }
            if let BlockKind::Binomial { .. } = block.kind {
                // Each row's successes are at most its trials (a missing count is skipped).
                let (f, n, g) = (
                    self.var(block.data),
                    self.plan.name(block.data),
                    self.gaps_field(block.data),
                );
                checks.push(quote! {
                    data::check_at_most_trials_by_row(#n, data.#f.view(), &#g, #rn, data.#rf.view())?;
                });
            }
        }
        if let (Some((z, _)), Some((_, k))) =
            (self.label_field(), self.plan.latent.var_components())
        {
            let name = z.to_string();
            let k = self.size_in(k, quote!(sizes));
            checks.push(
                quote!(data::check_labels(#name, &data.#z, #k, data.#first.len_of(Axis(0)))?;),
            );
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
        // Missing cells (NaN): found, and placeholders written, before anything reads the data.
        let mut takes = Vec::new();
        for v in self.gap_items() {
            let (f, g) = (self.var(v), self.gaps_field(v));
            let fill = match self.plan.model.vars[v].ty {
                ElemType::Vector(_) | ElemType::Real | ElemType::Positive => quote!(Fill::Mean),
                _ => quote!(Fill::Mode),
            };
            let take = if self.data_is_vector(v) {
                quote!(gaps::take(&mut data.#f, #fill))
            } else {
                quote!(gaps::take_column(&mut data.#f, #fill))
            };
            takes.push(quote!(let #g = #take;));
            moment_fields.push(quote!(#g: Gaps));
            moment_init.push(quote!(#g));
            // A block without kernels for a gap refuses them.
            if let Some(b) = self
                .program
                .blocks
                .iter()
                .find(|b| b.data == v && b.missing.is_none())
            {
                let n = self.plan.name(v);
                let why = format!(
                    "`{}` refuses them: {}",
                    b.statement,
                    b.gaps_refused.as_deref().unwrap_or("no kernels for them")
                );
                checks.push(quote!(data::refuse_gaps(#n, &#g, #why)?;));
            }
        }
        // An item modelled on the log scale is held as `ln x` (after its values are checked).
        let transforms: Vec<TokenStream> = self
            .data_vars()
            .into_iter()
            .filter(|&v| self.plan.blocks.iter().any(|b| b.data == v && b.log_scale))
            .map(|v| {
                let f = self.var(v);
                quote!(data.#f.mapv_inplace(f64::ln);)
            })
            .collect();
        let label_layout = self.label_field().map(|(z, _)| quote!(#z: data.#z));
        let layout: Vec<TokenStream> = data_vars
            .iter()
            .map(|&v| {
                let f = self.var(v);
                if self.data_is_vector(v) {
                    quote!(#f: data::column_major(data.#f))
                } else if self.plan.model.vars[v].ty == ElemType::Weight {
                    // Contiguous, so that `row_weights` can lend it as a slice.
                    quote!(#f: data.#f.as_standard_layout().into_owned())
                } else {
                    quote!(#f: data.#f)
                }
            })
            .chain(label_layout)
            .collect();
        let doc = format!(
            " Model `{}` bound to data, ready for `jensen::fit`.",
            self.plan.model.name
        );
        let (seq_field, seq_init, seq_methods) = if self.plan.latent.is_chain() {
            // A chain's weights are one per sequence.
            let weights_per_sequence = self.plan.row_weights.map(|w| {
                let (f, n) = (self.var(w), self.plan.name(w));
                quote!(data::check_weights(#n, self.data.#f.view(), Some(&self.sequences))?;)
            });
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
                        #weights_per_sequence
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
        let variational = self.variational_methods();
        // The priors' hyperparameters that summarise the data, computed and checked here.
        for h in &self.program.hypers {
            let f = format_ident!("{}", h.name);
            let d = self.var(h.data);
            let x = if self.data_is_vector(h.data) {
                quote!(data.#d.view())
            } else {
                quote!(data.#d.view().insert_axis(Axis(1)))
            };
            let value = match (h.summary, h.elem) {
                (Summary::Mean, ProgramElem::Scalar) => {
                    let m = moment("column_means", &x, None);
                    quote!(#m[0])
                }
                (Summary::Mean, _) => moment("column_means", &x, None),
                (Summary::Var, ProgramElem::Scalar) => moment("mean_sample_variance", &x, None),
                (Summary::Var, _) => moment("sample_variances", &x, None),
                (Summary::Cov, _) => moment("sample_covariance", &x, None),
            };
            let value = if h.factor == 1.0 {
                value
            } else {
                let c = proc_macro2::Literal::f64_unsuffixed(h.factor);
                quote!(#c * #value)
            };
            let (param, summary) = (self.plan.name(h.param), self.hyper_summary(h));
            let role = if h.summary == Summary::Mean {
                quote!(data::PriorRole::Location)
            } else {
                quote!(data::PriorRole::Scale)
            };
            let (ty, checked) = match h.elem {
                ProgramElem::Scalar => (
                    quote!(f64),
                    quote!(data::prior_number(#param, #summary, #value, #role)?),
                ),
                ProgramElem::Vector(_) => (
                    quote!(Array1<f64>),
                    quote!(data::prior_vector(#param, #summary, #value, #role)?),
                ),
                ProgramElem::Matrix(..) => (
                    quote!(Array2<f64>),
                    quote!(data::prior_scale_matrix(#param, #summary, #value)?),
                ),
            };
            let doc = format!(
                " `{}`: `{summary}`, from the data.",
                self.plan.model.factors[self.prior_factor(h.param)].text
            );
            moment_fields.push(quote!(#[doc = #doc] #f: #ty));
            moment_init.push(quote!(#f: #checked));
        }
        let allow = if self.program.hypers.is_empty() {
            quote!()
        } else {
            quote!(#[allow(non_snake_case)])
        };
        quote! {
            #[doc = #doc]
            #[derive(Debug)]
            #allow
            pub struct #name {
                data: #data,
                sizes: #sizes,
                #seq_field
                #(#moment_fields,)*
            }

            impl #name {
                /// Binds data: sizes from the constants and the data, every value checked.
                pub fn new(data: #data, consts: #consts) -> Result<Self, DataError> {
                    let mut data = data;
                    #(#takes)*
                    let sizes = #sizes { #(#size_init,)* };
                    #(#checks)*
                    #(#transforms)*
                    // Column-major storage: the kernels read each column of a block contiguously.
                    let data = #data { #(#layout,)* };
                    Ok(Self { #(#moment_init,)* #seq_init data, sizes })
                }

                #seq_methods
                #latent_methods
                #variational

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

    /// A hyperparameter's summary as written, `0.5 * cov(x)`.
    fn hyper_summary(&self, h: &HyperSlot) -> String {
        jensen_lang::check::render_summary(h.summary, self.plan.name(h.data), h.factor)
    }

    /// The statement of `param`'s prior.
    fn prior_factor(&self, param: VarId) -> usize {
        self.plan
            .updates
            .iter()
            .find(|u| u.param == param)
            .and_then(|u| u.prior.as_ref())
            .expect("a hyperparameter belongs to a prior")
            .factor
    }

    /// `latent_means`: the posterior mean of the continuous latent (the factor scores), for a
    /// model with a linear-Gaussian block.
    fn latent_means(&self) -> TokenStream {
        let (Some(c), Some(&b)) = (self.plan.continuous, self.linear_blocks().first()) else {
            return quote!();
        };
        let BlockKind::LinearGaussian {
            mean,
            loading,
            noise,
        } = self.plan.blocks[b].kind
        else {
            unreachable!("linear-Gaussian blocks")
        };
        let params = self.item("Params");
        let posts = self.factor_posteriors(b, quote!(params));
        let x = self.var(self.plan.blocks[b].data);
        let g = self.gaps_field(self.plan.blocks[b].data);
        let m = self.access(&quote!(params), mean, &quote!(k));
        let w = self.access(&quote!(params), loading, &quote!(k));
        let pv = noise.pref().expect("a noise parameter");
        let psi = self.access(&quote!(params), pv, &quote!(k));
        let psi = match noise {
            Cov::Spherical(_) => quote!(linear::isotropic(#psi, self.data.#x.ncols()).view()),
            _ => psi,
        };
        let (n, l) = (self.size(self.plan.rows()), self.size(c.dim));
        let each = self.each_component(quote! {
            let mut means = posts[k].posterior_means(self.data.#x.view(), #m);
            // A row with a gap: the posterior given its observed coordinates.
            missing::factor_scores(self.data.#x.view(), &gaps, #m, #w, #psi, means.view_mut());
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
                let gaps = self.#g.within(0..#n);
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
        let log_joint_writes = self.program.log_joint_writes().then(|| {
            quote! {
                fn log_joint_writes(&self) -> bool { true }
            }
        });
        let (zero, merge) = self.zero_and_merge();
        let accumulate = self.accumulate();
        let log_joint_bounded = self.log_joint_bounded();
        let hard_step = self.hard_step();
        let accumulate_assigned = self.accumulate_assigned();
        let summaries = self.summaries_e_step();
        let m_step = self.m_step();
        let expected = self.expected();
        let log_prior = self.log_prior();
        let factors = self.factors();
        let e_step_mode = self.e_step_mode();
        let inertia = self.inertia();
        let in_data_units = self.init_in_data_units();
        let free = self.free_parameters();
        let magnitude = self.magnitude();
        let neutral = self.neutral();
        let randomise = self.randomise();
        let features = self.features();
        let reseed = self.reseed();
        let keeps_empty = self.keeps_empty_components();
        let row_labels = self.label_field().map(|(z, _)| {
            quote! {
                fn row_labels(&self) -> Option<&[Option<u32>]> {
                    Some(&self.data.#z)
                }
            }
        });
        let row_weights = self.plan.row_weights.map(|w| {
            let f = self.var(w);
            quote! {
                fn row_weights(&self) -> Option<&[f64]> {
                    self.data.#f.as_slice()
                }
            }
        });
        let gaps = self.gap_items();
        let has_gaps = (!gaps.is_empty()).then(|| {
            let fields = gaps.iter().map(|&v| self.gaps_field(v));
            quote! {
                fn has_gaps(&self) -> bool {
                    #(!self.#fields.is_empty())||*
                }
            }
        });
        quote! {
            impl MixtureModel for #name {
                type Params = #params;
                type Cache = #cache;
                type Stats = #stats;

                fn n_rows(&self) -> usize { #n }

                #row_weights
                #row_labels
                #has_gaps

                fn n_components(&self) -> usize { #k }

                #prepare
                #log_joint
                #log_joint_writes

                fn zero_stats(&self) -> #stats {
                    #stats { #(#zero,)* }
                }

                #accumulate
                #log_joint_bounded
                #hard_step
                #accumulate_assigned
                #summaries

                fn merge(&self, into: &mut #stats, other: &#stats) {
                    #(#merge)*
                }

                #m_step
                #expected
                #log_prior

                fn free_parameters(&self) -> usize { #free }

                #e_step_mode
                #inertia
                #in_data_units
                #keeps_empty
                #factors

                #magnitude

                #neutral
                #randomise
                #features
                #reseed
                #chain
            }
        }
    }

    /// `body` for every component `k`: a loop, or `let k = 0;` for a model without a
    /// discrete latent (one component).
    pub(crate) fn each_component(&self, body: TokenStream) -> TokenStream {
        if self.plan.components().is_none() {
            return if mentions(&body, "k") {
                quote! {
                    let k = 0;
                    #body
                }
            } else {
                body
            };
        }
        let k = self.k();
        quote! {
            for k in 0..#k {
                #body
            }
        }
    }

    /// `|Σ t_n|` of every block's per-row terms (`ln x!`, `ln x`, the binomial and
    /// multinomial coefficients: terms that cancel in the log-likelihood).
    fn magnitude(&self) -> TokenStream {
        let terms: Vec<TokenStream> = self
            .program
            .blocks
            .iter()
            .enumerate()
            .filter_map(|(b, block)| block.row_terms.map(|t| (b, t)))
            .map(|(b, t)| {
                let lf = self.moment(b, t.suffix());
                match self.plan.row_weights {
                    None => quote!(self.#lf.sum().abs()),
                    Some(w) => {
                        let w = self.var(w);
                        quote!(moments::weighted::sum(self.#lf.view(), self.data.#w.view()).abs())
                    }
                }
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

    fn features(&self) -> TokenStream {
        // The modelled data; the rows' weights weigh the seeding instead.
        let modelled = self
            .data_vars()
            .into_iter()
            .filter(|&v| Some(v) != self.plan.row_weights);
        let views = modelled.map(|v| {
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
}
