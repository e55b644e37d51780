//! `#[derive(Model)]`: turns a model file into typed Rust at compile time.
//!
//! A thin shim: the model file is compiled by `jensen-lang` and the code comes from
//! `jensen-codegen` — the same text `jensen generate` prints. The file is included with
//! `include_str!`, so the crate rebuilds when it changes. Errors in the model file become a
//! `compile_error!` that names `file:line:col` for every diagnostic.
//!
//! ```text
//! #[derive(jensen::Model)]
//! #[model(file = "models/gmm.em")]
//! pub struct Gmm;
//! // generates GmmParams, GmmData, GmmConsts, GmmModel (a `MixtureModel`), ...
//! ```
//!
//! On a struct with named fields, the fields are the model's data items, one record per row:
//! each field's type is checked against its item (`f64` for `real` and `positive`, an integer
//! for `count`, `bool` for `binary`, an integer or a fieldless `Clone` enum for a category,
//! `[T; N]` or `Vec<T>` for the vector types, `Option<T>` for a value that may be missing),
//! and `GmmData::from_rows` / `GmmModel::from_rows` read the records. A field marked
//! `#[model(skip)]` is not data.
//!
//! Without a file, `#[model(components = K)]` (a mixture) or `#[model(chain = K)]` (a hidden
//! Markov model) derives the model from the fields: `f64` → Normal, an integer → Poisson,
//! `bool` → Bernoulli, a fieldless enum (or an integer with `categories = C`) → Categorical,
//! `[f64; D]`/`Vec<f64>` → MvNormal, `[bool; D]` → Bernoulli per coordinate, `[u32; V]` →
//! Multinomial; field attributes choose another family (`family = "lognormal"`,
//! `"exponential"`, `"gamma"` with `shape = a`, `"geometric"`, `"binomial"` with
//! `trials = T`), the covariance (`cov = "full" | "diag" | "spherical"`) and a parameter
//! shared by the components (`shared`). The model file it amounts to is `Row::model_file()`.
//!
//! Every derive also makes a module named after the struct in snake case (or
//! `#[model(module = "name")]`) holding the generated items under short names:
//! `gmm::Model`, `gmm::Params`, `gmm::Data`, `gmm::Consts`, …

mod fields;

use proc_macro::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{parse_macro_input, DeriveInput, LitStr};

/// Derives a typed EM model from `#[model(file = "models/NAME.em")]`, the path relative to
/// the crate's `Cargo.toml` (or to `JENSEN_MODEL_DIR` when set: compile-fail tests, whose
/// crate is built elsewhere), optionally with `method = "vb"`.
///
/// For `struct Gmm` it generates `GmmParams` (the parameters, named as in the file; serde),
/// `GmmData` (one array per data item), `GmmConsts` (the file's constants; `Default` gives
/// their values), `GmmSizes`, `GmmStats` (additive sufficient statistics) and `GmmModel`
/// (`GmmModel::new(data, consts)`, a `jensen::runtime::MixtureModel` for `jensen::fit`), and
/// on `Gmm` itself `Gmm::explain()` (the derived updates as math) and
/// `Gmm::generated_source()` (the generated Rust), for snapshot tests.
///
/// On a struct with named fields the fields are the data items, one record per row, their
/// types checked against the items at compile time; `GmmData::from_rows(rows)` and
/// `GmmModel::from_rows(rows, consts)` read a slice or any iterator of records. Fields that
/// are not data carry `#[model(skip)]`. A field named after a latent declared with labels
/// (`latent z[N]: 0..K from (col)`) holds them as `Option<u32>`.
///
/// Without `file`, `components = K` or `chain = K` derives the model from the fields (see
/// the crate documentation); `Gmm::model_file()` returns its text. `module = "name"` names
/// the module of short names (`gmm::Model`, `gmm::Params`, …; default: the struct's name in
/// snake case).
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let mut file: Option<LitStr> = None;
    let mut method: Option<jensen_lang::ir::Method> = None;
    let mut latent: Option<(fields::LatentSpec, syn::Path)> = None;
    let mut module_name: Option<LitStr> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("file") {
                file = Some(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("components") || meta.path.is_ident("chain") {
                let k: syn::LitInt = meta.value()?.parse()?;
                let k: usize = k.base10_parse()?;
                if k == 0 {
                    return Err(meta.error("a latent needs at least one value (K ≥ 1)"));
                }
                if latent.is_some() {
                    return Err(meta.error("give one of `components = K` (a mixture) and `chain = K` (a hidden Markov model)"));
                }
                let spec = if meta.path.is_ident("chain") {
                    fields::LatentSpec::Chain(k)
                } else {
                    fields::LatentSpec::Mixture(k)
                };
                latent = Some((spec, meta.path.clone()));
                Ok(())
            } else if meta.path.is_ident("module") {
                let name: LitStr = meta.value()?.parse()?;
                if syn::parse_str::<syn::Ident>(&name.value()).is_err() {
                    return Err(syn::Error::new_spanned(&name, "the module's name must be a Rust identifier"));
                }
                module_name = Some(name);
                Ok(())
            } else if meta.path.is_ident("method") {
                let value: LitStr = meta.value()?.parse()?;
                method = Some(match value.value().as_str() {
                    "em" => jensen_lang::ir::Method::Em,
                    "vb" => jensen_lang::ir::Method::Vb,
                    other => {
                        return Err(syn::Error::new_spanned(
                            &value,
                            format!("unknown method `{other}`: expected `\"em\"` (EM: maximum likelihood, or MAP with the file's priors) or `\"vb\"` (variational Bayes)"),
                        ))
                    }
                });
                Ok(())
            } else {
                Err(meta.error(
                    "unknown key: expected `file = \"models/NAME.em\"`, `components = K` or `chain = K` (a model derived from the fields), `module = \"name\"` or `method = \"vb\"`",
                ))
            }
        })?;
    }
    if let (Some(file), Some((_, path))) = (&file, &latent) {
        let mut e = syn::Error::new_spanned(
            path,
            "a model comes from its file or from the struct's fields, not both: drop `file` to derive it from the fields, or this key to read the file",
        );
        e.combine(syn::Error::new_spanned(file, "the model file"));
        return Err(e);
    }
    if file.is_none() && latent.is_none() {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "missing `#[model(file = \"models/NAME.em\")]` naming the model file (relative to Cargo.toml), or `#[model(components = K)]` / `#[model(chain = K)]` to derive a mixture / hidden Markov model from the struct's fields",
        ));
    }
    let syn::Data::Struct(body) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "`#[derive(Model)]` applies to a struct",
        ));
    };
    if let syn::Fields::Unnamed(f) = &body.fields {
        return Err(syn::Error::new_spanned(
            f,
            "a tuple struct cannot be a model's records: name the fields after the model's data items (`struct Row { x: [f64; 2] }`), or write a unit struct (`struct Gmm;`)",
        ));
    }
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "a model struct cannot have generic parameters",
        ));
    }
    let name = input.ident.unraw().to_string();
    // The model's text, where errors point (a span), what messages call it, and the file
    // the generated code includes (so that the crate rebuilds when it changes).
    let (source, span, label, path_str): (String, proc_macro2::Span, String, Option<String>) =
        match (&file, latent) {
            (Some(file), _) => {
                // Model paths are relative to the crate's manifest; `JENSEN_MODEL_DIR`
                // replaces it where the crate being compiled is not where the files are
                // (trybuild's compile-fail tests). Cargo does not track it: a change needs a
                // rebuild of the crate that derives.
                let dir = std::env::var("JENSEN_MODEL_DIR")
                    .or_else(|_| std::env::var("CARGO_MANIFEST_DIR"))
                    .unwrap_or_else(|_| ".".into());
                let path = std::path::Path::new(&dir).join(file.value());
                let source = std::fs::read_to_string(&path).map_err(|e| {
                    syn::Error::new_spanned(
                        file,
                        format!("cannot read model file {}: {e}", path.display()),
                    )
                })?;
                (
                    source,
                    file.span(),
                    file.value(),
                    Some(path.to_string_lossy().into_owned()),
                )
            }
            (None, Some((spec, key))) => {
                let syn::Fields::Named(named) = &body.fields else {
                    return Err(syn::Error::new_spanned(
                        &input.ident,
                        "a model derived from the fields needs a struct with named fields, one per data item",
                    ));
                };
                let source = fields::synthesize(&input.ident, named, spec)?;
                (
                    source,
                    key.span(),
                    format!("the model derived from `{name}`"),
                    None,
                )
            }
            (None, None) => unreachable!("refused above"),
        };
    let plan = match jensen_lang::compile_for(&source, method) {
        Ok((plan, _warnings)) => plan,
        Err(diags) => {
            let mut message = diags
                .iter()
                .map(|d| d.to_plain(&label, &source))
                .collect::<Vec<_>>()
                .join("\n");
            if file.is_none() {
                message.push_str(&format!("\nthe model derived from the fields:\n{source}"));
            }
            return Err(syn::Error::new(span, message));
        }
    };
    let generated = jensen_codegen::generate(&plan, &name, path_str.as_deref());
    let text = jensen_codegen::format_module(generated.module)?;
    // The source as shown names the model file as the attribute does (the code compiled
    // includes it by its absolute path, which differs between machines): generated and
    // formatted with that name, so that no line break depends on where the crate sits.
    let shown = match &file {
        Some(f) => jensen_codegen::format_module(
            jensen_codegen::generate(&plan, &name, Some(&f.value())).module,
        )?,
        None => text.clone(),
    };
    let tokens: proc_macro2::TokenStream = text.parse().map_err(|e| {
        syn::Error::new(
            span,
            format!("jensen generated code that does not parse ({e}); please report this with the model file"),
        )
    })?;
    let module = format_ident!("__jensen_{}", jensen_codegen::snake_case(&name));
    let items = generated.items;
    let vis = &input.vis;
    let ident = &input.ident;
    let explain = jensen_codegen::explain(&plan);
    // (A struct with no named fields, `struct Gmm {}`, is a unit struct.)
    let records = match &body.fields {
        syn::Fields::Named(fields) if !fields.named.is_empty() => {
            records(&plan, ident, fields, &label, file.is_none())?
        }
        _ => quote!(),
    };
    // `mod gmm { pub use …::{GmmModel as Model, GmmParams as Params, …} }`: the generated
    // names without the struct's prefix.
    let short: Vec<syn::Ident> = items
        .iter()
        .map(|i| {
            let text = i.to_string();
            format_ident!("{}", text.strip_prefix(&name).unwrap_or(&text))
        })
        .collect();
    // (A Rust keyword, `struct Type` → `mod type`, is written raw; `crate`, `self`,
    // `super` and `Self` cannot be.)
    let public = match &module_name {
        Some(m) => format_ident!("{}", m.value()),
        None => {
            let snake = jensen_codegen::snake_case(&name);
            if syn::parse_str::<syn::Ident>(&snake).is_ok() {
                format_ident!("{}", snake)
            } else if ["crate", "self", "super", "Self", "_"].contains(&snake.as_str()) {
                format_ident!("{}_model", snake)
            } else {
                syn::Ident::new_raw(&snake, proc_macro2::Span::call_site())
            }
        }
    };
    let public_doc = format!(
        " The items generated for [`{name}`] under short names: `Model`, `Params`, `Data`, `Consts`, `Sizes`, `Stats` and `Cache` (`{name}Model`, `{name}Params`, …)."
    );
    let method_tokens = match method {
        Some(jensen_lang::ir::Method::Vb) => {
            quote!(::core::option::Option::Some(::jensen::lang::ir::Method::Vb))
        }
        Some(jensen_lang::ir::Method::Em) => {
            quote!(::core::option::Option::Some(::jensen::lang::ir::Method::Em))
        }
        None => quote!(::core::option::Option::None),
    };
    let params_ty = format_ident!("{}Params", name);
    let model_file = match &file {
        Some(_) => quote!(),
        None => quote! {
            /// The model file derived from the struct's fields: `jensen fit`, `explain` and
            /// `generate` take it as it is.
            pub fn model_file() -> &'static str {
                #source
            }
        },
    };
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, clippy::needless_range_loop)]
        mod #module {
            #tokens
        }
        #vis use #module::{#(#items),*};

        #[doc = #public_doc]
        #vis mod #public {
            pub use super::#module::{#(#items as #short),*};
        }

        impl #ident {
            /// The derived updates as math: what `jensen explain` prints for the model file.
            /// Snapshot it (`insta::assert_snapshot!(Self::explain())`) to review any change
            /// of a derived formula.
            pub fn explain() -> &'static str {
                #explain
            }

            /// The Rust this derive generated for the model file, formatted (what
            /// `jensen generate` prints, with the model file's path as the attribute gives
            /// it).
            pub fn generated_source() -> &'static str {
                #shown
            }

            #model_file

            /// The model's plan, compiled at first use from the text this derive compiled.
            pub fn plan() -> &'static ::jensen::Plan {
                static PLAN: ::std::sync::OnceLock<::jensen::Plan> = ::std::sync::OnceLock::new();
                PLAN.get_or_init(|| {
                    ::jensen::lang::compile_for(#source, #method_tokens)
                        .expect("the model compiled when the crate was built")
                        .0
                })
            }

            /// Draws data from the model at `params`: one independent sequence per length (a
            /// mixture's rows are independent whatever the split), the latent and every data
            /// item a statement models. A model that conditions on data (covariates, trial
            /// counts, row totals) cannot be drawn without it: use `jensen::sample::sample`
            /// with bound data.
            pub fn sample<R: ::jensen::runtime::RngCore + ?Sized>(
                params: &#params_ty,
                lengths: &[usize],
                rng: &mut R,
            ) -> ::core::result::Result<::jensen::sample::Draws, ::jensen::Error> {
                let params = ::jensen::DynParams::from_typed(params)?;
                ::core::result::Result::Ok(::jensen::sample::sample(
                    Self::plan(),
                    &params,
                    lengths,
                    ::core::option::Option::None,
                    rng,
                )?)
            }
        }

        #records
    })
}

/// What a record field holds: a value, or a vector of values.
enum Shape {
    Scalar(Scalar),
    /// The element, and the array's length (`None` for a `Vec`).
    Vector(Scalar, Option<usize>),
}

/// A value's Rust type.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Float,
    Int,
    Bool,
    /// Any other type: a fieldless enum (a category), converted with `as u32`.
    Other,
}

#[derive(Clone, Copy)]
struct Scalar {
    kind: Kind,
    optional: bool,
}

fn last_segment(ty: &syn::Type) -> Option<&syn::PathSegment> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn generic_arg(seg: &syn::PathSegment) -> Option<&syn::Type> {
    match &seg.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

fn scalar(ty: &syn::Type, optional: bool) -> Option<Scalar> {
    let seg = last_segment(ty)?;
    let name = seg.ident.to_string();
    if name == "Option" && !optional {
        return scalar(generic_arg(seg)?, true);
    }
    if !matches!(seg.arguments, syn::PathArguments::None) {
        return None;
    }
    let kind = match name.as_str() {
        "f64" | "f32" => Kind::Float,
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" => Kind::Int,
        "bool" => Kind::Bool,
        "Vec" | "String" | "str" | "Option" => return None,
        _ => Kind::Other,
    };
    Some(Scalar { kind, optional })
}

fn shape(ty: &syn::Type) -> Option<Shape> {
    match ty {
        syn::Type::Array(a) => {
            let len = match &a.len {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n),
                    ..
                }) => n.base10_parse().ok(),
                _ => None,
            };
            Some(Shape::Vector(scalar(&a.elem, false)?, len))
        }
        _ => {
            let seg = last_segment(ty)?;
            if seg.ident == "Vec" {
                return Some(Shape::Vector(scalar(generic_arg(seg)?, false)?, None));
            }
            Some(Shape::Scalar(scalar(ty, false)?))
        }
    }
}

/// The size of a vector data item's set when the model file fixes it.
fn known_width(plan: &jensen_lang::Plan, v: usize, set: usize) -> Option<usize> {
    use jensen_lang::ir::SetSize;
    match plan.model.sets[set].size {
        SetSize::Literal(n) => Some(n),
        // (A constant may be set at run time: its default is no bound on the field.)
        SetSize::Columns(_) => plan.model.vars[v].columns.as_ref().map(Vec::len),
        _ => None,
    }
}

/// The identifier of a model name in generated code (raw for a Rust keyword), as codegen
/// names the data struct's fields.
fn model_ident(name: &str) -> syn::Ident {
    syn::parse_str::<syn::Ident>(name)
        .unwrap_or_else(|_| syn::Ident::new_raw(name, proc_macro2::Span::call_site()))
}

/// `from_rows` and `try_from_rows` for a struct whose named fields are the model's data
/// items.
fn records(
    plan: &jensen_lang::Plan,
    ident: &syn::Ident,
    fields: &syn::FieldsNamed,
    file: &str,
    from_fields: bool,
) -> syn::Result<proc_macro2::TokenStream> {
    use jensen_lang::ast::DeclKind;
    use jensen_lang::ir::ElemType;
    let mut errors: Vec<syn::Error> = Vec::new();
    let data_vars: Vec<usize> = (0..plan.model.vars.len())
        .filter(|&v| plan.model.vars[v].kind == DeclKind::Data)
        .collect();
    let labels = plan
        .label_column()
        .and(plan.latent.var_components())
        .map(|(z, _)| z);
    let mut bodies = Vec::new();
    let mut inits = Vec::new();
    let mut finish = Vec::new();
    let mut label_value = None;
    let mut present = std::collections::HashSet::new();
    for (at, f) in fields.named.iter().enumerate() {
        let name = f.ident.as_ref().expect("named fields");
        let field_name = name.unraw().to_string();
        let spec = fields::field_spec(f, &mut errors);
        if !from_fields {
            spec.only_skip(&mut errors);
        }
        if spec.skip {
            continue;
        }
        let ty = &f.ty;
        // Locals named by position: no data item's name can collide with them.
        let column = format_ident!("__jensen_column_{}", at);
        let width = format_ident!("__jensen_width_{}", at);
        if let Some(z) = labels.filter(|&z| plan.model.vars[z].name == field_name) {
            present.insert(field_name.clone());
            match shape(ty) {
                Some(Shape::Scalar(s))
                    if s.optional && matches!(s.kind, Kind::Int | Kind::Other) =>
                {
                    // A label beyond `u32` is out of range: `u32::MAX`, refused with the row.
                    label_value = Some(if s.kind == Kind::Int {
                        quote_spanned!(ty.span()=> r.#name.map(|v| ::core::convert::TryFrom::try_from(v).unwrap_or(u32::MAX)))
                    } else {
                        quote_spanned!(ty.span()=> r.#name.as_ref().map(|v| ::core::clone::Clone::clone(v) as u32))
                    });
                }
                _ => errors.push(syn::Error::new_spanned(
                    ty,
                    format!(
                        "field `{field_name}` holds the partial labels of `{}`: write `Option<u32>` (or `Option` of a fieldless enum), `None` where a row is not labelled",
                        plan.model.vars[z].text
                    ),
                )),
            }
            continue;
        }
        let Some(&v) = data_vars
            .iter()
            .find(|&&v| plan.model.vars[v].name == field_name)
        else {
            let names: Vec<&str> = data_vars
                .iter()
                .map(|&v| plan.model.vars[v].name.as_str())
                .collect();
            errors.push(syn::Error::new_spanned(
                name,
                format!(
                    "`{field_name}` is not a data item of {file} (its data items: {}); mark the field `#[model(skip)]` if it is not data",
                    names.join(", ")
                ),
            ));
            continue;
        };
        present.insert(field_name.clone());
        let var = &plan.model.vars[v];
        // (vector, element kinds, missing values allowed, the types to write)
        let (vector, kinds, missing, accepted): (bool, &[Kind], bool, &str) = match var.ty {
            ElemType::Real | ElemType::Positive | ElemType::Prob => (
                false,
                &[Kind::Float],
                true,
                "`f64` (or `Option<f64>` where a value may be missing)",
            ),
            ElemType::Weight => (false, &[Kind::Float], false, "`f64` (a weight cannot be missing)"),
            ElemType::Count => (false, &[Kind::Int], true, "an integer such as `u32` (or `Option<u32>`)"),
            ElemType::Binary => (false, &[Kind::Bool], true, "`bool` (or `Option<bool>`)"),
            ElemType::Cat(_) => (
                false,
                &[Kind::Int, Kind::Other],
                true,
                "an integer from 0, or a fieldless `Clone` enum whose variants are the categories in order (or `Option` of either)",
            ),
            ElemType::Vector(_) => (
                true,
                &[Kind::Float],
                true,
                "`[f64; N]` or `Vec<f64>` (elements `Option<f64>` where a value may be missing)",
            ),
            ElemType::BinaryVec(_) => (true, &[Kind::Bool], true, "`[bool; N]` or `Vec<bool>` (elements `Option<bool>` where a value may be missing)"),
            ElemType::CountVec(_) => (true, &[Kind::Int], true, "`[u32; N]` or `Vec<u32>` (elements `Option<u32>` where a value may be missing)"),
            _ => {
                errors.push(syn::Error::new_spanned(
                    ty,
                    format!("`{}` cannot come from a record field", var.text),
                ));
                continue;
            }
        };
        let shape = shape(ty);
        let ok = match &shape {
            Some(Shape::Scalar(s)) => {
                !vector && kinds.contains(&s.kind) && (missing || !s.optional)
            }
            Some(Shape::Vector(s, _)) => {
                vector && kinds.contains(&s.kind) && (missing || !s.optional)
            }
            None => false,
        };
        let Some(shape) = shape.filter(|_| ok) else {
            errors.push(syn::Error::new_spanned(
                ty,
                format!(
                    "field `{field_name}` is data `{}` in {file}: its type must be {accepted}",
                    var.text
                ),
            ));
            continue;
        };
        let item = model_ident(&var.name);
        match shape {
            Shape::Scalar(s) => {
                // An enum converts by its discriminant (the cast's error, for a type that is
                // not a fieldless enum, points at the field's type).
                let value = match (s.kind, s.optional) {
                    (Kind::Other, false) => {
                        quote_spanned!(ty.span()=> (::core::clone::Clone::clone(&r.#name) as u32) as f64)
                    }
                    (Kind::Other, true) => {
                        quote_spanned!(ty.span()=> r.#name.as_ref().map_or(f64::NAN, |v| (::core::clone::Clone::clone(v) as u32) as f64))
                    }
                    _ => quote!(::jensen::rows::Cell::value(&r.#name)),
                };
                inits.push(quote!(let mut #column: ::std::vec::Vec<f64> = ::std::vec::Vec::new();));
                bodies.push(quote!(#column.push(#value);));
                finish.push(quote!(#item: ::jensen::ndarray::Array1::from(#column)));
            }
            Shape::Vector(_, len) => {
                let set = var.ty.vector_set().expect("a vector item");
                if let (Some(len), Some(want)) = (len, known_width(plan, v, set)) {
                    if len != want {
                        errors.push(syn::Error::new_spanned(
                            ty,
                            format!(
                                "field `{field_name}` has {len} values, but `{}` in {file} has {want}",
                                var.text
                            ),
                        ));
                        continue;
                    }
                }
                inits.push(quote! {
                    let mut #column: ::std::vec::Vec<f64> = ::std::vec::Vec::new();
                    let mut #width: ::core::option::Option<usize> = ::core::option::Option::None;
                });
                bodies.push(quote!(::jensen::rows::push_vector(&mut #column, &mut #width, r.#name.iter(), __jensen_row, #field_name)?;));
                finish.push(quote!(#item: ::jensen::rows::matrix(__jensen_rows, #width, #column)));
            }
        }
    }
    for &v in &data_vars {
        let var = &plan.model.vars[v];
        if !present.contains(&var.name) {
            errors.push(syn::Error::new_spanned(
                ident,
                format!(
                    "no field for data `{}` of {file}: add a field `{}`",
                    var.text, var.name
                ),
            ));
        }
    }
    if let Some(first) = errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        return Err(first);
    }
    if let Some(z) = labels {
        // Without a field for them, no row is labelled.
        let zf = model_ident(&plan.model.vars[z].name);
        let value = label_value.unwrap_or(quote!(::core::option::Option::None));
        inits.push(quote!(let mut __jensen_labels: ::std::vec::Vec<::core::option::Option<u32>> = ::std::vec::Vec::new();));
        bodies.push(quote!(__jensen_labels.push(#value);));
        finish.push(quote!(#zf: __jensen_labels));
    }
    let name = ident.unraw().to_string();
    let data = format_ident!("{}Data", name);
    let model = format_ident!("{}Model", name);
    let consts = format_ident!("{}Consts", name);
    let doc_model = format!(" Binds the records ([`{data}::from_rows`]) with the given constants.");
    let doc_try_model =
        format!(" Binds fallible records ([`{data}::try_from_rows`]) with the given constants.");
    Ok(quote! {
        impl #data {
            /// The data of the records, one per row: a slice, or any iterator of records or
            /// references to them.
            #[allow(non_snake_case)]
            pub fn from_rows(
                rows: impl ::core::iter::IntoIterator<Item = impl ::core::borrow::Borrow<#ident>>,
            ) -> ::core::result::Result<Self, ::jensen::RowsError> {
                Self::try_from_rows(rows.into_iter().map(::core::result::Result::<_, ::core::convert::Infallible>::Ok))
            }

            /// The data of fallible records, read as they come (e.g. `csv::Reader::deserialize`):
            /// the first error stops the reading and is returned with its record's number.
            #[allow(non_snake_case)]
            pub fn try_from_rows<E>(
                rows: impl ::core::iter::IntoIterator<Item = ::core::result::Result<impl ::core::borrow::Borrow<#ident>, E>>,
            ) -> ::core::result::Result<Self, ::jensen::RowsError>
            where
                E: ::core::convert::Into<::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Send + ::core::marker::Sync>>,
            {
                #(#inits)*
                let mut __jensen_rows = 0usize;
                for (__jensen_row, __jensen_record) in rows.into_iter().enumerate() {
                    let __jensen_record = __jensen_record.map_err(|e| ::jensen::RowsError::Record {
                        row: __jensen_row,
                        source: e.into(),
                    })?;
                    let r: &#ident = ::core::borrow::Borrow::borrow(&__jensen_record);
                    #(#bodies)*
                    __jensen_rows = __jensen_row + 1;
                }
                let _ = __jensen_rows;
                ::core::result::Result::Ok(Self { #(#finish,)* })
            }
        }

        impl #model {
            #[doc = #doc_model]
            pub fn from_rows(
                rows: impl ::core::iter::IntoIterator<Item = impl ::core::borrow::Borrow<#ident>>,
                consts: #consts,
            ) -> ::core::result::Result<Self, ::jensen::RowsError> {
                ::core::result::Result::Ok(Self::new(#data::from_rows(rows)?, consts)?)
            }

            #[doc = #doc_try_model]
            pub fn try_from_rows<E>(
                rows: impl ::core::iter::IntoIterator<Item = ::core::result::Result<impl ::core::borrow::Borrow<#ident>, E>>,
                consts: #consts,
            ) -> ::core::result::Result<Self, ::jensen::RowsError>
            where
                E: ::core::convert::Into<::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Send + ::core::marker::Sync>>,
            {
                ::core::result::Result::Ok(Self::new(#data::try_from_rows(rows)?, consts)?)
            }
        }
    })
}
