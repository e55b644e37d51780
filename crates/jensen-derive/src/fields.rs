//! A model derived from a struct's fields, without a model file: each field is a data item
//! whose family follows from its type (or its `#[model(family = …)]`), every item modelled
//! given one discrete latent — `#[model(components = K)]` for a mixture, `#[model(chain = K)]`
//! for a hidden Markov model. The result is model-file text, compiled by the same language
//! as any file (and shown by the struct's `model_file()`).

use std::fmt::Write as _;

use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{LitFloat, LitInt, LitStr};

use crate::{shape, Kind, Shape};

/// The discrete latent of a model derived from fields.
#[derive(Clone, Copy)]
pub(crate) enum LatentSpec {
    /// `components = K`: independent rows.
    Mixture(usize),
    /// `chain = K`: a Markov chain along the rows.
    Chain(usize),
}

/// A field's `#[model(...)]`.
#[derive(Default)]
pub(crate) struct FieldSpec {
    pub(crate) skip: bool,
    family: Option<LitStr>,
    cov: Option<LitStr>,
    shared: bool,
    categories: Option<usize>,
    trials: Option<u64>,
    shape: Option<f64>,
    /// The first key given other than `skip`, for the error of a model read from a file.
    first_key: Option<proc_macro2::Span>,
}

/// Reads a field's `#[model(...)]` attributes.
pub(crate) fn field_spec(f: &syn::Field, errors: &mut Vec<syn::Error>) -> FieldSpec {
    let mut spec = FieldSpec::default();
    for a in f.attrs.iter().filter(|a| a.path().is_ident("model")) {
        let parsed = a.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            let known = ["shared", "family", "cov", "categories", "trials", "shape"];
            if known.contains(&key.as_str()) && spec.first_key.is_none() {
                spec.first_key = Some(meta.path.span());
            }
            match key.as_str() {
                "skip" => spec.skip = true,
                "shared" => spec.shared = true,
                "family" => spec.family = Some(meta.value()?.parse()?),
                "cov" => spec.cov = Some(meta.value()?.parse()?),
                "categories" => {
                    let n: LitInt = meta.value()?.parse()?;
                    let n: usize = n.base10_parse()?;
                    if n == 0 {
                        return Err(meta.error("a category needs at least one value"));
                    }
                    spec.categories = Some(n);
                }
                "trials" => {
                    let n: LitInt = meta.value()?.parse()?;
                    spec.trials = Some(n.base10_parse()?);
                }
                "shape" => {
                    let x: LitFloat = meta.value()?.parse()?;
                    spec.shape = Some(x.base10_parse()?);
                }
                _ => return Err(meta.error(
                    "unknown key on a field: expected `skip`, `family = \"…\"`, `cov = \"full\" | \"diag\" | \"spherical\"`, `shared`, `categories = C`, `trials = T` or `shape = a`",
                )),
            }
            Ok(())
        });
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    spec
}

impl FieldSpec {
    /// For a struct read from a model file: only `skip` is allowed.
    pub(crate) fn only_skip(&self, errors: &mut Vec<syn::Error>) {
        if let Some(span) = self.first_key {
            errors.push(syn::Error::new(
                span,
                "the model comes from its file: a field attribute other than `#[model(skip)]` (for a field that is not data) belongs to a model derived from the fields (`#[model(components = K)]` on the struct, without `file`)",
            ));
        }
    }
}

/// Names the derived model reserves for the latent and its parameters.
const RESERVED: [&str; 8] = ["z", "w", "p0", "A", "K", "N", "T", "I"];

/// The model language's keywords, and the names it refuses as Rust reserves them.
const KEYWORDS: [&str; 13] = [
    "model", "const", "data", "param", "latent", "estep", "method", "from", "except", "self",
    "Self", "super", "crate",
];

/// Whether an attribute is `#[model(skip)]` (the field is not data).
fn skip_attr(a: &syn::Attribute) -> bool {
    let mut skip = false;
    if a.path().is_ident("model") {
        let _ = a.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                skip = true;
            } else if meta.input.peek(syn::Token![=]) {
                // Consume the value of any other key.
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    skip
}

/// Whether a field's kind is a type the derive does not know (an enum, presumably).
fn kind_other(shape: (bool, Kind)) -> bool {
    shape.1 == Kind::Other
}

/// The model-file text of a struct's fields.
pub(crate) fn synthesize(
    ident: &syn::Ident,
    fields: &syn::FieldsNamed,
    latent: LatentSpec,
) -> syn::Result<String> {
    let mut errors = Vec::new();
    let (row, rows, k) = match latent {
        LatentSpec::Mixture(k) => ("n", "N", k),
        LatentSpec::Chain(k) => ("t", "T", k),
    };
    // The model's name: the struct's in snake case, unless the language reserves it.
    let mut name = jensen_codegen::snake_case(&ident.unraw().to_string());
    if KEYWORDS.contains(&name.as_str()) {
        name.push_str("_model");
    }
    // The names the model file gives each field's parameters and sets, to find clashes.
    let data_fields: Vec<(String, &syn::Ident)> = fields
        .named
        .iter()
        .filter(|f| !f.attrs.iter().any(skip_attr))
        .filter_map(|f| f.ident.as_ref().map(|i| (i.unraw().to_string(), i)))
        .collect();
    for (fname, fident) in &data_fields {
        if KEYWORDS.contains(&fname.as_str()) || fname == "_" {
            errors.push(syn::Error::new_spanned(
                fident,
                format!("`{fname}` is a keyword of the model language: rename the field (with `#[serde(rename = \"{fname}\")]` it still reads the column `{fname}`), or write a model file"),
            ));
        } else if fname == row {
            errors.push(syn::Error::new_spanned(
                fident,
                format!("`{fname}` is the derived model's row index (`x[{row}] ~ …`): rename the field (with `#[serde(rename = \"{fname}\")]` it still reads the column `{fname}`)"),
            ));
        }
        for suffix in ["_mu", "_var", "_cov", "_rate", "_p", "_probs"] {
            let derived = format!("{fname}{suffix}");
            if let Some((_, other)) = data_fields.iter().find(|(n, _)| *n == derived) {
                errors.push(syn::Error::new_spanned(
                    other,
                    format!("`{derived}` names a parameter of field `{fname}` in the derived model: rename one of the two fields"),
                ));
            }
        }
        for prefix in ["C_", "D_", "V_"] {
            let derived = format!("{prefix}{fname}");
            if let Some((_, other)) = data_fields.iter().find(|(n, _)| *n == derived) {
                errors.push(syn::Error::new_spanned(
                    other,
                    format!("`{derived}` names the size of field `{fname}` in the derived model: rename one of the two fields"),
                ));
            }
        }
    }
    let mut consts = String::new();
    let mut data = String::new();
    let mut params = String::new();
    let mut statements = String::new();
    for f in &fields.named {
        let spec = field_spec(f, &mut errors);
        if spec.skip {
            continue;
        }
        let fname = f.ident.as_ref().expect("named fields").unraw().to_string();
        if RESERVED.contains(&fname.as_str()) {
            errors.push(syn::Error::new_spanned(
                &f.ident,
                format!("`{fname}` names the derived model's latent or its parameters ({}): rename the field (with `#[serde(rename = \"{fname}\")]` it still reads the column `{fname}`), or write a model file", RESERVED.join(", ")),
            ));
            continue;
        }
        let Some(shape) = shape(&f.ty).map(|s| match s {
            Shape::Scalar(s) => (false, s.kind),
            Shape::Vector(s, _) => (true, s.kind),
        }) else {
            errors.push(syn::Error::new_spanned(
                &f.ty,
                "a field of the model is `f64`, an integer, `bool`, a fieldless enum (a category), `Option` of one of those (a value that may be missing), or `[T; N]` or `Vec<T>` of those (mark it `#[model(skip)]` if it is not data)",
            ));
            continue;
        };
        // Each parameter per component (`x_mu[K]`, used as `x_mu[z[n]]`) or shared.
        let per = |shared: bool| {
            if shared {
                (String::new(), String::new())
            } else {
                ("[K]".to_string(), format!("[z[{row}]]"))
            }
        };
        let (d, u) = per(false);
        let family = spec.family.as_ref().map(LitStr::value);
        let bad_family = |allowed: &str| {
            syn::Error::new_spanned(
                spec.family.as_ref().expect("a family was given"),
                format!("field `{fname}`: this type takes the families {allowed}"),
            )
        };
        let fam = family.as_deref();
        // Each attribute must be one the field's family uses.
        let resolved = match shape {
            (false, Kind::Float) => family.as_deref().unwrap_or("normal"),
            (false, Kind::Int)
                if spec.categories.is_none() && family.as_deref() != Some("categorical") =>
            {
                family.as_deref().unwrap_or("poisson")
            }
            (false, Kind::Int | Kind::Other) => "categorical",
            (false, Kind::Bool) | (true, Kind::Bool) => "bernoulli",
            (true, Kind::Float) => "mvnormal",
            (true, Kind::Int) => "multinomial",
            (true, Kind::Other) => "",
        };
        let uses: &[&str] = match resolved {
            "normal" | "lognormal" | "mvnormal" => &["shared"],
            "categorical" => &["categories"],
            "binomial" => &["trials"],
            "gamma" => &["shape"],
            _ => &[],
        };
        let mut unused = false;
        for (given, attr, what) in [
            (spec.shared, "shared", "a variance or covariance shared by the components (Normal, log-normal, multivariate Normal)"),
            (spec.categories.is_some(), "categories", "the number of categories of a categorical field"),
            (spec.trials.is_some(), "trials", "the number of trials of a binomial field"),
            (spec.shape.is_some(), "shape", "the known shape of a Gamma field"),
        ] {
            if given && !uses.contains(&attr) {
                unused = true;
                errors.push(syn::Error::new_spanned(
                    &f.ident,
                    format!("field `{fname}` is {resolved}: `{attr}` gives {what}, which it does not have; remove it, or choose the family it belongs to"),
                ));
            }
        }
        if unused {
            continue;
        }
        if let Some(cov) = spec.cov.as_ref().filter(|_| shape != (true, Kind::Float)) {
            errors.push(syn::Error::new_spanned(
                cov,
                format!(
                    "field `{fname}`: `cov` applies to a vector of `f64` (a multivariate Normal)"
                ),
            ));
        }
        match shape {
            (false, Kind::Float) => match fam.unwrap_or("normal") {
                f @ ("normal" | "lognormal") => {
                    let (vd, vu) = per(spec.shared);
                    let ty = if f == "normal" { "real" } else { "positive" };
                    let dist = if f == "normal" { "Normal" } else { "LogNormal" };
                    let _ = writeln!(data, "data   {fname}[{rows}]: {ty}");
                    let _ = writeln!(params, "param  {fname}_mu{d}: real\nparam  {fname}_var{vd}: positive");
                    let _ = writeln!(statements, "{fname}[{row}] ~ {dist}({fname}_mu{u}, {fname}_var{vu})");
                }
                "exponential" => {
                    let _ = writeln!(data, "data   {fname}[{rows}]: positive");
                    let _ = writeln!(params, "param  {fname}_rate{d}: positive");
                    let _ = writeln!(statements, "{fname}[{row}] ~ Exponential({fname}_rate{u})");
                }
                "gamma" => {
                    let Some(a) = spec.shape else {
                        errors.push(syn::Error::new_spanned(&f.ident, format!("field `{fname}`: a Gamma family needs its known shape, e.g. `#[model(family = \"gamma\", shape = 2.0)]`")));
                        continue;
                    };
                    let _ = writeln!(data, "data   {fname}[{rows}]: positive");
                    let _ = writeln!(params, "param  {fname}_rate{d}: positive");
                    let _ = writeln!(statements, "{fname}[{row}] ~ Gamma({a:?}, {fname}_rate{u})");
                }
                _ => errors.push(bad_family("\"normal\" (the default), \"lognormal\", \"exponential\" and \"gamma\"")),
            },
            (false, Kind::Int) if spec.categories.is_none() && fam != Some("categorical") => {
                match fam.unwrap_or("poisson") {
                    "poisson" => {
                        let _ = writeln!(data, "data   {fname}[{rows}]: count");
                        let _ = writeln!(params, "param  {fname}_rate{d}: positive");
                        let _ = writeln!(statements, "{fname}[{row}] ~ Poisson({fname}_rate{u})");
                    }
                    "geometric" => {
                        let _ = writeln!(data, "data   {fname}[{rows}]: count");
                        let _ = writeln!(params, "param  {fname}_p{d}: prob");
                        let _ = writeln!(statements, "{fname}[{row}] ~ Geometric({fname}_p{u})");
                    }
                    "binomial" => {
                        let Some(t) = spec.trials else {
                            errors.push(syn::Error::new_spanned(&f.ident, format!("field `{fname}`: a binomial family needs its number of trials, e.g. `#[model(family = \"binomial\", trials = 16)]`")));
                            continue;
                        };
                        let _ = writeln!(data, "data   {fname}[{rows}]: count");
                        let _ = writeln!(params, "param  {fname}_p{d}: prob");
                        let _ = writeln!(statements, "{fname}[{row}] ~ Binomial({t}, {fname}_p{u})");
                    }
                    _ => errors.push(bad_family("\"poisson\" (the default), \"geometric\", \"binomial\" (with `trials`) and \"categorical\" (with `categories`, or for an enum)")),
                }
            }
            (false, Kind::Int | Kind::Other) => {
                if fam.is_some_and(|f| f != "categorical") {
                    errors.push(bad_family("\"categorical\""));
                    continue;
                }
                // The derive sees a type's name, not its variants: an enum's categories are
                // given, so that new data cannot change their number.
                if kind_other(shape) && spec.categories.is_none() {
                    errors.push(syn::Error::new_spanned(
                        &f.ty,
                        format!("field `{fname}`: a type other than `f64`, an integer or `bool` is a category, a fieldless enum whose variants the derive cannot see: give their number, `#[model(categories = C)]` (a type alias of `f64` or of an integer must be written as that type)"),
                    ));
                    continue;
                }
                let set = format!("C_{fname}");
                if let Some(c) = spec.categories {
                    let _ = writeln!(consts, "const {set}: int = {c}");
                }
                let _ = writeln!(data, "data   {fname}[{rows}]: 0..{set}");
                let _ = writeln!(params, "param  {fname}_probs{d}: simplex[{set}]");
                let _ = writeln!(statements, "{fname}[{row}] ~ Categorical({fname}_probs{u})");
            }
            (false, Kind::Bool) => {
                if fam.is_some_and(|f| f != "bernoulli") {
                    errors.push(bad_family("\"bernoulli\""));
                    continue;
                }
                let _ = writeln!(data, "data   {fname}[{rows}]: binary");
                let _ = writeln!(params, "param  {fname}_p{d}: prob");
                let _ = writeln!(statements, "{fname}[{row}] ~ Bernoulli({fname}_p{u})");
            }
            (true, Kind::Float) => {
                if fam.is_some_and(|f| f != "mvnormal") {
                    errors.push(bad_family("\"mvnormal\""));
                    continue;
                }
                let set = format!("D_{fname}");
                let (cd, cu) = per(spec.shared);
                let _ = writeln!(data, "data   {fname}[{rows}]: vector[{set}]");
                let _ = writeln!(params, "param  {fname}_mu{d}: vector[{set}]");
                let cov = spec.cov.as_ref().map(LitStr::value);
                let arg = match cov.as_deref().unwrap_or("full") {
                    "full" => {
                        let _ = writeln!(params, "param  {fname}_cov{cd}: cov[{set}]");
                        format!("{fname}_cov{cu}")
                    }
                    "diag" => {
                        let _ = writeln!(params, "param  {fname}_var{cd}: positive[{set}]");
                        format!("diag({fname}_var{cu})")
                    }
                    "spherical" => {
                        let _ = writeln!(params, "param  {fname}_var{cd}: positive");
                        format!("{fname}_var{cu} * I")
                    }
                    other => {
                        errors.push(syn::Error::new_spanned(
                            spec.cov.as_ref().expect("given"),
                            format!("unknown covariance `{other}`: expected \"full\", \"diag\" or \"spherical\""),
                        ));
                        continue;
                    }
                };
                let _ = writeln!(statements, "{fname}[{row}] ~ MvNormal({fname}_mu{u}, {arg})");
            }
            (true, Kind::Bool) => {
                if fam.is_some_and(|f| f != "bernoulli") {
                    errors.push(bad_family("\"bernoulli\""));
                    continue;
                }
                let set = format!("D_{fname}");
                let _ = writeln!(data, "data   {fname}[{rows}]: binary[{set}]");
                let _ = writeln!(params, "param  {fname}_p{d}: prob[{set}]");
                let _ = writeln!(statements, "{fname}[{row}] ~ Bernoulli({fname}_p{u})");
            }
            (true, Kind::Int) => {
                if fam.is_some_and(|f| f != "multinomial") {
                    errors.push(bad_family("\"multinomial\" (counts over categories)"));
                    continue;
                }
                let set = format!("V_{fname}");
                let _ = writeln!(data, "data   {fname}[{rows}]: count[{set}]");
                let _ = writeln!(params, "param  {fname}_probs{d}: simplex[{set}]");
                let _ = writeln!(statements, "{fname}[{row}] ~ Multinomial({fname}_probs{u})");
            }
            (true, Kind::Other) => errors.push(syn::Error::new_spanned(
                &f.ty,
                "a vector of categories is not a family of the language: write one field per category item",
            )),
        }
    }
    if statements.is_empty() && errors.is_empty() {
        errors.push(syn::Error::new_spanned(
            ident,
            "no field is data: a model derived from the fields needs at least one field that is not `#[model(skip)]`",
        ));
    }
    if let Some(e) = errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        return Err(e);
    }
    let latent = match latent {
        LatentSpec::Mixture(_) => {
            format!("param  w: simplex[K]\n{params}latent z[N]: 0..K\nz[n] ~ Categorical(w)\n")
        }
        LatentSpec::Chain(_) => format!(
            "param  p0: simplex[K]\nparam  A[K]: simplex[K]\n{params}latent z[T]: 0..K\nz[0] ~ Categorical(p0)\nz[t] ~ Categorical(A[z[t-1]])\n"
        ),
    };
    Ok(format!(
        "// Derived from the fields of `struct {ident}` by #[derive(jensen::Model)].\nmodel {name}\nconst K: int = {k}\n{consts}{data}{latent}{statements}"
    ))
}
