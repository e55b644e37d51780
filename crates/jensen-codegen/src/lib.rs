//! Back-ends of the update plan: Rust code ([`generate`], used by `#[derive(Model)]` and
//! `jensen generate`) and math text ([`explain`], used by `jensen explain`).
//!
//! Output is deterministic: it is built by walking the plan's vectors in order (no hash-map
//! iteration) and formatted with prettyplease.

mod explain;
mod rust;
mod steps;

pub use explain::explain;
pub use rust::{format_module, generate, generate_module, Generated};

/// `gmm_diag` → `GmmDiag`.
pub fn camel_case(name: &str) -> String {
    name.split(['_', '-'])
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `GmmDiag` → `gmm_diag`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}
