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

use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::{parse_macro_input, DeriveInput, LitStr};

/// Derives a typed EM model from `#[model(file = "path/relative/to/Cargo.toml.em")]`
/// (optionally `method = "vb"`).
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
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("file") {
                file = Some(meta.value()?.parse()?);
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
                    "unknown key: expected `file = \"models/NAME.em\"` or `method = \"vb\"`",
                ))
            }
        })?;
    }
    let Some(file) = file else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "missing `#[model(file = \"models/NAME.em\")]` naming the model file (relative to Cargo.toml)",
        ));
    };
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
    // Model paths are relative to the crate's manifest; `JENSEN_MODEL_DIR` replaces it where
    // the crate being compiled is not where the files are (trybuild's compile-fail tests).
    let dir = std::env::var("JENSEN_MODEL_DIR")
        .or_else(|_| std::env::var("CARGO_MANIFEST_DIR"))
        .unwrap_or_else(|_| ".".into());
    let path = std::path::Path::new(&dir).join(file.value());
    let source = std::fs::read_to_string(&path).map_err(|e| {
        syn::Error::new_spanned(
            &file,
            format!("cannot read model file {}: {e}", path.display()),
        )
    })?;
    let plan = match jensen_lang::compile_for(&source, method) {
        Ok((plan, _warnings)) => plan,
        Err(diags) => {
            let message = diags
                .iter()
                .map(|d| d.to_plain(&file.value(), &source))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(syn::Error::new_spanned(&file, message));
        }
    };
    let name = input.ident.to_string();
    let path_str = path.to_string_lossy().into_owned();
    let generated = jensen_codegen::generate(&plan, &name, Some(&path_str));
    let text = jensen_codegen::format_module(generated.module)?;
    let tokens: proc_macro2::TokenStream = text
        .parse()
        .map_err(|e| syn::Error::new_spanned(&file, format!("jensen generated code that does not parse ({e}); please report this with the model file")))?;
    let module = format_ident!("__jensen_{}", jensen_codegen::snake_case(&name));
    let items = generated.items;
    let vis = &input.vis;
    let ident = &input.ident;
    let explain = jensen_codegen::explain(&plan);
    let records = match &body.fields {
        syn::Fields::Named(fields) => records(&plan, ident, fields, &file.value())?,
        _ => quote!(),
    };
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, clippy::needless_range_loop)]
        mod #module {
            #tokens
        }
        #vis use #module::{#(#items),*};

        impl #ident {
            /// The derived updates as math: what `jensen explain` prints for the model file.
            /// Snapshot it (`insta::assert_snapshot!(Self::explain())`) to review any change
            /// of a derived formula.
            pub fn explain() -> &'static str {
                #explain
            }

            /// The Rust this derive generated for the model file, formatted: what
            /// `jensen generate` prints.
            pub fn generated_source() -> &'static str {
                #text
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
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            Kind::Int
        }
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
        SetSize::Const(c) => Some(plan.model.consts[c].default),
        SetSize::Columns(_) => plan.model.vars[v].columns.as_ref().map(Vec::len),
        _ => None,
    }
}

/// `from_rows` for a struct whose named fields are the model's data items.
fn records(
    plan: &jensen_lang::Plan,
    ident: &syn::Ident,
    fields: &syn::FieldsNamed,
    file: &str,
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
    let skipped = |f: &syn::Field| {
        f.attrs.iter().any(|a| {
            a.path().is_ident("model") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "skip")
        })
    };
    let mut bodies = Vec::new();
    let mut inits = Vec::new();
    let mut finish = Vec::new();
    let mut label_value = None;
    for f in &fields.named {
        let name = f.ident.as_ref().expect("named fields");
        let field_name = name.to_string();
        if skipped(f) {
            continue;
        }
        let ty = &f.ty;
        if let Some(z) = labels.filter(|&z| plan.model.vars[z].name == field_name) {
            match shape(ty) {
                Some(Shape::Scalar(s)) if s.optional && matches!(s.kind, Kind::Int | Kind::Other) => {
                    label_value = Some(if s.kind == Kind::Int {
                        quote!(r.#name.map(|v| v as u32))
                    } else {
                        quote!(r.#name.as_ref().map(|v| ::core::clone::Clone::clone(v) as u32))
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
        let var = &plan.model.vars[v];
        let (want, accepted) = match var.ty {
            ElemType::Real | ElemType::Positive | ElemType::Prob | ElemType::Weight => (
                Some((false, vec![Kind::Float])),
                "`f64` (or `Option<f64>` where a value may be missing)",
            ),
            ElemType::Count => (
                Some((false, vec![Kind::Int])),
                "an integer such as `u32` (or `Option<u32>`)",
            ),
            ElemType::Binary => (
                Some((false, vec![Kind::Bool])),
                "`bool` (or `Option<bool>`)",
            ),
            ElemType::Cat(_) => (
                Some((false, vec![Kind::Int, Kind::Other])),
                "an integer from 0, or a fieldless `Clone` enum (or `Option` of either)",
            ),
            ElemType::Vector(_) => (
                Some((true, vec![Kind::Float])),
                "`[f64; N]` or `Vec<f64>` (elements `Option<f64>` where a value may be missing)",
            ),
            ElemType::BinaryVec(_) => {
                (Some((true, vec![Kind::Bool])), "`[bool; N]` or `Vec<bool>`")
            }
            ElemType::CountVec(_) => (Some((true, vec![Kind::Int])), "`[u32; N]` or `Vec<u32>`"),
            _ => (None, ""),
        };
        let Some((vector, kinds)) = want else {
            errors.push(syn::Error::new_spanned(
                ty,
                format!("`{}` cannot come from a record field", var.text),
            ));
            continue;
        };
        let shape = shape(ty);
        let ok = match &shape {
            Some(Shape::Scalar(s)) => !vector && kinds.contains(&s.kind),
            Some(Shape::Vector(s, _)) => vector && kinds.contains(&s.kind),
            None => false,
        };
        if !ok {
            errors.push(syn::Error::new_spanned(
                ty,
                format!(
                    "field `{field_name}` is data `{}` in {file}: its type must be {accepted}",
                    var.text
                ),
            ));
            continue;
        }
        let column = format_ident!("__{}", field_name);
        match shape.expect("checked") {
            Shape::Scalar(s) => {
                let value = match (s.kind, s.optional) {
                    (Kind::Other, false) => {
                        quote!((::core::clone::Clone::clone(&r.#name) as u32) as f64)
                    }
                    (Kind::Other, true) => {
                        quote!(r.#name.as_ref().map_or(f64::NAN, |v| (::core::clone::Clone::clone(v) as u32) as f64))
                    }
                    _ => quote!(::jensen::rows::Cell::value(&r.#name)),
                };
                inits.push(quote!(let mut #column: Vec<f64> = Vec::new();));
                bodies.push(quote!(#column.push(#value);));
                finish.push(quote!(#name: ::jensen::ndarray::Array1::from(#column)));
            }
            Shape::Vector(_, len) => {
                let set = var.ty.vector_set().expect("a vector item");
                if let (Some(len), Some(want)) = (len, known_width(plan, v, set)) {
                    if len != want {
                        errors.push(syn::Error::new_spanned(
                            ty,
                            format!("field `{field_name}` has {len} values, but `{}` in {file} has {want}", var.text),
                        ));
                        continue;
                    }
                }
                let width = format_ident!("__{}_width", field_name);
                inits.push(quote!(let mut #column: Vec<f64> = Vec::new(); let mut #width: Option<usize> = None;));
                bodies.push(quote!(::jensen::rows::push_vector(&mut #column, &mut #width, r.#name.iter(), i, #field_name)?;));
                finish.push(quote!(#name: ::jensen::rows::matrix(n, #width, #column)));
            }
        }
    }
    for &v in &data_vars {
        let var = &plan.model.vars[v];
        let present = fields
            .named
            .iter()
            .any(|f| !skipped(f) && f.ident.as_ref().is_some_and(|i| *i == var.name));
        if !present {
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
        let zf = format_ident!("{}", plan.model.vars[z].name);
        let value = label_value.unwrap_or(quote!(None));
        inits.push(quote!(let mut __labels: Vec<Option<u32>> = Vec::new();));
        bodies.push(quote!(__labels.push(#value);));
        finish.push(quote!(#zf: __labels));
    }
    let name = ident.to_string();
    let data = format_ident!("{}Data", name);
    let model = format_ident!("{}Model", name);
    let consts = format_ident!("{}Consts", name);
    Ok(quote! {
        impl #data {
            /// The data of the records, one per row (a slice, or any iterator of records or
            /// references to them, e.g. streaming from `csv` and `serde`).
            pub fn from_rows<I, R>(rows: I) -> Result<Self, ::jensen::RowsError>
            where
                I: IntoIterator<Item = R>,
                R: ::core::borrow::Borrow<#ident>,
            {
                #(#inits)*
                let mut n = 0usize;
                for (i, r) in rows.into_iter().enumerate() {
                    let r: &#ident = ::core::borrow::Borrow::borrow(&r);
                    #(#bodies)*
                    n = i + 1;
                }
                let _ = n;
                Ok(Self { #(#finish,)* })
            }
        }

        impl #model {
            /// Binds the records ([`#data::from_rows`]) with the given constants.
            pub fn from_rows<I, R>(rows: I, consts: #consts) -> Result<Self, ::jensen::RowsError>
            where
                I: IntoIterator<Item = R>,
                R: ::core::borrow::Borrow<#ident>,
            {
                Ok(Self::new(#data::from_rows(rows)?, consts)?)
            }
        }
    })
}
