//! Back-ends of the update plan: Rust code and math text.

use jensen_lang::Plan;

/// The math-notation explanation of a plan.
pub fn explain(plan: &Plan) -> String {
    format!("model {}\n", plan.model.name)
}

/// `gmm_diag` → `GmmDiag`.
pub fn camel_case(name: &str) -> String {
    name.split('_')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Generated module source.
pub fn generate_module(plan: &Plan, name: &str) -> Result<String, syn::Error> {
    let _ = (plan, name);
    Ok(String::new())
}
