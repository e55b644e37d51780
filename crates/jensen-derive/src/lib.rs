//! `#[derive(Model)]`: a thin shim; the work is done by `jensen-codegen`.
use proc_macro::TokenStream;

/// Derives a typed EM model from a model file.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
