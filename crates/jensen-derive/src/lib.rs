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

use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::{parse_macro_input, DeriveInput, LitStr};

/// Derives a typed EM model from `#[model(file = "path/relative/to/Cargo.toml.em")]`.
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
    if !matches!(input.data, syn::Data::Struct(_)) {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "`#[derive(Model)]` applies to a struct",
        ));
    }
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "a model struct cannot have generic parameters",
        ));
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
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
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, clippy::needless_range_loop)]
        mod #module {
            #tokens
        }
        #vis use #module::{#(#items),*};
    })
}
