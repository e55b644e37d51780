//! Writes the differential catalogue: every meaningful combination of block kind, scalar or
//! vector data, per-component, tied or shared parameters, and mixture, chain or single latent
//! structure, as model files in `OUT_DIR/catalogue/` and one Rust module that compiles each
//! through `#[derive(Model)]` and declares its test (`tests/catalogue.rs` includes it), plus
//! the list of cases with their data items alone (`catalogue_cases.rs`, for
//! `tests/campaign.rs`).

use std::fmt::Write as _;
use std::path::Path;

/// How a data item is generated and read.
#[derive(Clone, Copy)]
enum Kind {
    /// Three real columns `a, b, c`.
    Real3,
    /// One real column.
    Real,
    /// Counts.
    Count,
    /// One 0/1 column.
    Bit,
    /// Four 0/1 columns `e1..e4`.
    Bits4,
    /// Three count columns `m_1..m_3` (a `count[C]` vector).
    Counts3,
    /// A category `0..3`.
    Category,
    /// One column of numbers above zero.
    Positive,
    /// A count column of numbers of trials, above every generated count (12 to 19).
    Trials,
}

/// An emission: data items, parameter declarations and statements, with `Z` standing for the
/// latent's value (`z[n]`) and `I_` for the row index.
struct Emission {
    name: &'static str,
    data: &'static [(&'static str, Kind)],
    params: &'static [&'static str],
    statements: &'static [&'static str],
    /// Uses a continuous latent `h` of this dimension.
    latent_dim: Option<usize>,
}

const EMISSIONS: &[Emission] = &[
    Emission {
        name: "mvn_full",
        data: &[("x", Kind::Real3)],
        params: &["mu[K]: vector[D]", "S[K]: cov[D]"],
        statements: &["x[I_] ~ MvNormal(mu[Z], S[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "mvn_full_tied",
        data: &[("x", Kind::Real3)],
        params: &["mu[K]: vector[D]", "S: cov[D]"],
        statements: &["x[I_] ~ MvNormal(mu[Z], S)"],
        latent_dim: None,
    },
    Emission {
        name: "mvn_diag",
        data: &[("x", Kind::Real3)],
        params: &["mu[K]: vector[D]", "v[K]: positive[D]"],
        statements: &["x[I_] ~ MvNormal(mu[Z], diag(v[Z]))"],
        latent_dim: None,
    },
    Emission {
        name: "mvn_diag_tied",
        data: &[("x", Kind::Real3)],
        params: &["mu[K]: vector[D]", "v: positive[D]"],
        statements: &["x[I_] ~ MvNormal(mu[Z], diag(v))"],
        latent_dim: None,
    },
    Emission {
        name: "mvn_spherical",
        data: &[("x", Kind::Real3)],
        params: &["mu[K]: vector[D]", "s[K]: positive"],
        statements: &["x[I_] ~ MvNormal(mu[Z], s[Z] * I)"],
        latent_dim: None,
    },
    Emission {
        name: "mvn_spherical_tied",
        data: &[("x", Kind::Real3)],
        params: &["mu[K]: vector[D]", "s: positive"],
        statements: &["x[I_] ~ MvNormal(mu[Z], s * I)"],
        latent_dim: None,
    },
    Emission {
        name: "normal",
        data: &[("y", Kind::Real)],
        params: &["m[K]: real", "v[K]: positive"],
        statements: &["y[I_] ~ Normal(m[Z], v[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "normal_tied",
        data: &[("y", Kind::Real)],
        params: &["m[K]: real", "v: positive"],
        statements: &["y[I_] ~ Normal(m[Z], v)"],
        latent_dim: None,
    },
    Emission {
        name: "normal_shared_variance",
        data: &[("y", Kind::Real), ("y2", Kind::Real)],
        params: &["m[K]: real", "m2[K]: real", "v[K]: positive"],
        statements: &["y[I_] ~ Normal(m[Z], v[Z])", "y2[I_] ~ Normal(m2[Z], v[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "poisson",
        data: &[("cnt", Kind::Count)],
        params: &["rate[K]: positive"],
        statements: &["cnt[I_] ~ Poisson(rate[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "poisson_shared",
        data: &[("cnt", Kind::Count), ("y", Kind::Real)],
        params: &["rate: positive", "m[K]: real", "v[K]: positive"],
        statements: &["cnt[I_] ~ Poisson(rate)", "y[I_] ~ Normal(m[Z], v[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "exponential",
        data: &[("pos", Kind::Positive)],
        params: &["rate[K]: positive"],
        statements: &["pos[I_] ~ Exponential(rate[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "exponential_shared",
        data: &[("pos", Kind::Positive), ("y", Kind::Real)],
        params: &["rate: positive", "m[K]: real", "v[K]: positive"],
        statements: &["pos[I_] ~ Exponential(rate)", "y[I_] ~ Normal(m[Z], v[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "binomial",
        data: &[("cnt", Kind::Count)],
        params: &["p[K]: prob"],
        statements: &["cnt[I_] ~ Binomial(1000000, p[Z])"],
        latent_dim: None,
    },
    // Trials from a column: each row its own number.
    Emission {
        name: "binomial_trials_column",
        data: &[("cnt", Kind::Count), ("tr", Kind::Trials)],
        params: &["p[K]: prob"],
        statements: &["cnt[I_] ~ Binomial(tr[I_], p[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "binomial_shared",
        data: &[("cnt", Kind::Count), ("cnt2", Kind::Count)],
        params: &["p: prob", "q[K]: prob"],
        statements: &[
            "cnt[I_] ~ Binomial(1000000, p)",
            "cnt2[I_] ~ Binomial(1000000, q[Z])",
        ],
        latent_dim: None,
    },
    // One parameter per component in statements on different data items (issue 11, item 7):
    // the updates pool the items' statistics.
    // Regressions (issue 11, item 4): on a vector of covariates with an intercept, on one
    // real covariate without, and two responses sharing a variance.
    Emission {
        name: "regression",
        data: &[("x", Kind::Real3), ("y", Kind::Real)],
        params: &["beta[K]: vector[D]", "c[K]: real", "s[K]: positive"],
        statements: &["y[I_] ~ Normal(dot(beta[Z], x[I_]) + c[Z], s[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "regression_scalar",
        data: &[("y", Kind::Real), ("y2", Kind::Real)],
        params: &["beta[K]: real", "s[K]: positive"],
        statements: &["y2[I_] ~ Normal(beta[Z] * y[I_], s[Z])"],
        latent_dim: None,
    },
    // Multivariate regressions: a full covariance with an intercept, a diagonal one without,
    // a covariance shared by the components, a fixed intercept.
    Emission {
        name: "mv_regression",
        data: &[("x", Kind::Real3), ("x2", Kind::Real3)],
        params: &["B[K]: matrix[D, D]", "mu[K]: vector[D]", "S[K]: cov[D]"],
        statements: &["x2[I_] ~ MvNormal(B[Z] * x[I_] + mu[Z], S[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "mv_regression_diag_origin",
        data: &[("x", Kind::Real3), ("x2", Kind::Real3)],
        params: &["B[K]: matrix[D, D]", "v[K]: positive[D]"],
        statements: &["x2[I_] ~ MvNormal(B[Z] * x[I_], diag(v[Z]))"],
        latent_dim: None,
    },
    Emission {
        name: "mv_regression_tied",
        data: &[("x", Kind::Real3), ("x2", Kind::Real3)],
        params: &["B[K]: matrix[D, D]", "mu[K]: vector[D]", "S: cov[D]"],
        statements: &["x2[I_] ~ MvNormal(B[Z] * x[I_] + mu[Z], S)"],
        latent_dim: None,
    },
    Emission {
        name: "mv_regression_fixed_intercept",
        data: &[("x", Kind::Real3), ("x2", Kind::Real3)],
        params: &[
            "B[K]: matrix[D, D]",
            "mu[K]: vector[D] = 0.5",
            "S[K]: cov[D]",
        ],
        statements: &["x2[I_] ~ MvNormal(B[Z] * x[I_] + mu[Z], S[Z])"],
        latent_dim: None,
    },
    // A fixed intercept leaves the covariates' block of the least squares (item 7).
    Emission {
        name: "regression_fixed_intercept",
        data: &[("x", Kind::Real3), ("y", Kind::Real)],
        params: &["beta[K]: vector[D]", "c[K]: real = 0.5", "s[K]: positive"],
        statements: &["y[I_] ~ Normal(dot(beta[Z], x[I_]) + c[Z], s[Z])"],
        latent_dim: None,
    },
    // A fixed variance and a fixed mean.
    Emission {
        name: "normal_fixed",
        data: &[("y", Kind::Real), ("y2", Kind::Real)],
        params: &[
            "m[K]: real",
            "v[K]: positive = 0.8",
            "m2[K]: real = 1.0",
            "v2[K]: positive",
        ],
        statements: &[
            "y[I_] ~ Normal(m[Z], v[Z])",
            "y2[I_] ~ Normal(m2[Z], v2[Z])",
        ],
        latent_dim: None,
    },
    Emission {
        name: "regression_shared_variance",
        data: &[("x", Kind::Real3), ("y", Kind::Real), ("y2", Kind::Real)],
        params: &[
            "beta[K]: vector[D]",
            "c[K]: real",
            "m[K]: real",
            "s[K]: positive",
        ],
        statements: &[
            "y[I_] ~ Normal(dot(beta[Z], x[I_]) + c[Z], s[Z])",
            "y2[I_] ~ Normal(m[Z], s[Z])",
        ],
        latent_dim: None,
    },
    // One probability for statements of different numbers of trials: the expected trials pool.
    Emission {
        name: "binomial_pooled_trials",
        data: &[("cnt", Kind::Count), ("cnt2", Kind::Count)],
        params: &["p[K]: prob"],
        statements: &[
            "cnt[I_] ~ Binomial(20, p[Z])",
            "cnt2[I_] ~ Binomial(30, p[Z])",
        ],
        latent_dim: None,
    },
    Emission {
        name: "poisson_pooled",
        data: &[("cnt", Kind::Count), ("cnt2", Kind::Count)],
        params: &["rate[K]: positive"],
        statements: &["cnt[I_] ~ Poisson(rate[Z])", "cnt2[I_] ~ Poisson(rate[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "normal_pooled",
        data: &[("y", Kind::Real), ("y2", Kind::Real)],
        params: &["m[K]: real", "v[K]: positive"],
        statements: &["y[I_] ~ Normal(m[Z], v[Z])", "y2[I_] ~ Normal(m[Z], v[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "bernoulli_pooled",
        data: &[("e", Kind::Bit), ("e2", Kind::Bit)],
        params: &["p[K]: prob"],
        statements: &["e[I_] ~ Bernoulli(p[Z])", "e2[I_] ~ Bernoulli(p[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "exponential_pooled",
        data: &[("pos", Kind::Positive), ("pos2", Kind::Positive)],
        params: &["rate[K]: positive"],
        statements: &[
            "pos[I_] ~ Exponential(rate[Z])",
            "pos2[I_] ~ Exponential(rate[Z])",
        ],
        latent_dim: None,
    },
    Emission {
        name: "geometric_pooled",
        data: &[("cnt", Kind::Count), ("cnt2", Kind::Count)],
        params: &["p[K]: prob"],
        statements: &["cnt[I_] ~ Geometric(p[Z])", "cnt2[I_] ~ Geometric(p[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "lognormal",
        data: &[("pos", Kind::Positive)],
        params: &["m[K]: real", "v[K]: positive"],
        statements: &["pos[I_] ~ LogNormal(m[Z], v[Z])"],
        latent_dim: None,
    },
    Emission {
        // One log-scale variance for two items (pooled), means per component.
        name: "lognormal_shared",
        data: &[("pos", Kind::Positive), ("y", Kind::Real)],
        params: &["m[K]: real", "m2[K]: real", "v: positive"],
        statements: &["pos[I_] ~ LogNormal(m[Z], v)", "y[I_] ~ Normal(m2[Z], v)"],
        latent_dim: None,
    },
    Emission {
        name: "multinomial",
        data: &[("m", Kind::Counts3)],
        params: &["q[K]: simplex[C]"],
        statements: &["m[I_] ~ Multinomial(q[Z])"],
        latent_dim: None,
    },
    Emission {
        // One probability vector for a categorical value and a vector of counts over the
        // same categories: their counts pool.
        name: "multinomial_categorical_shared",
        data: &[("m", Kind::Counts3), ("c", Kind::Category)],
        params: &["q[K]: simplex[C]"],
        statements: &["m[I_] ~ Multinomial(q[Z])", "c[I_] ~ Categorical(q[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "geometric",
        data: &[("cnt", Kind::Count)],
        params: &["p[K]: prob"],
        statements: &["cnt[I_] ~ Geometric(p[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "geometric_shared",
        data: &[("cnt", Kind::Count), ("cnt2", Kind::Count)],
        params: &["p: prob", "q[K]: prob"],
        statements: &["cnt[I_] ~ Geometric(p)", "cnt2[I_] ~ Geometric(q[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "gamma",
        data: &[("pos", Kind::Positive)],
        params: &["rate[K]: positive"],
        statements: &["pos[I_] ~ Gamma(2.5, rate[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "gamma_shared",
        data: &[("pos", Kind::Positive), ("pos2", Kind::Positive)],
        params: &["rate: positive", "rate2[K]: positive"],
        statements: &[
            "pos[I_] ~ Gamma(0.5, rate)",
            "pos2[I_] ~ Gamma(3.0, rate2[Z])",
        ],
        latent_dim: None,
    },
    Emission {
        name: "bernoulli_bits",
        data: &[("e", Kind::Bits4)],
        params: &["p[K]: prob[E]"],
        statements: &["e[I_] ~ Bernoulli(p[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "bernoulli_bit",
        data: &[("bit", Kind::Bit)],
        params: &["p[K]: prob"],
        statements: &["bit[I_] ~ Bernoulli(p[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "bernoulli_shared",
        data: &[("e", Kind::Bits4), ("y", Kind::Real)],
        params: &["p: prob[E]", "m[K]: real", "v[K]: positive"],
        statements: &["e[I_] ~ Bernoulli(p)", "y[I_] ~ Normal(m[Z], v[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "categorical",
        data: &[("g", Kind::Category)],
        params: &["q[K]: simplex[C]"],
        statements: &["g[I_] ~ Categorical(q[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "categorical_shared",
        data: &[("g", Kind::Category), ("y", Kind::Real)],
        params: &["q: simplex[C]", "m[K]: real", "v[K]: positive"],
        statements: &["g[I_] ~ Categorical(q)", "y[I_] ~ Normal(m[Z], v[Z])"],
        latent_dim: None,
    },
    Emission {
        name: "mixed_types",
        data: &[
            ("x", Kind::Real3),
            ("cnt", Kind::Count),
            ("bit", Kind::Bit),
            ("g", Kind::Category),
        ],
        params: &[
            "mu[K]: vector[D]",
            "v[K]: positive[D]",
            "rate[K]: positive",
            "p[K]: prob",
            "q[K]: simplex[C]",
        ],
        statements: &[
            "x[I_] ~ MvNormal(mu[Z], diag(v[Z]))",
            "cnt[I_] ~ Poisson(rate[Z])",
            "bit[I_] ~ Bernoulli(p[Z])",
            "g[I_] ~ Categorical(q[Z])",
        ],
        latent_dim: None,
    },
    Emission {
        name: "factor_diag",
        data: &[("x", Kind::Real3)],
        params: &[
            "W[K]: matrix[D, L]",
            "mu[K]: vector[D]",
            "psi[K]: positive[D]",
        ],
        statements: &["x[I_] ~ MvNormal(W[Z] * h[I_] + mu[Z], diag(psi[Z]))"],
        latent_dim: Some(1),
    },
    Emission {
        name: "factor_diag_shared_noise",
        data: &[("x", Kind::Real3)],
        params: &["W[K]: matrix[D, L]", "mu[K]: vector[D]", "psi: positive[D]"],
        statements: &["x[I_] ~ MvNormal(W[Z] * h[I_] + mu[Z], diag(psi))"],
        latent_dim: Some(1),
    },
    Emission {
        name: "factor_spherical",
        data: &[("x", Kind::Real3)],
        params: &["W[K]: matrix[D, L]", "mu[K]: vector[D]", "s2[K]: positive"],
        statements: &["x[I_] ~ MvNormal(W[Z] * h[I_] + mu[Z], s2[Z] * I)"],
        latent_dim: Some(1),
    },
    // (D − L)² < D + L: the loadings' count is capped at the full covariance.
    Emission {
        name: "factor_capped",
        data: &[("x", Kind::Real3)],
        params: &["W[K]: matrix[D, L]", "mu[K]: vector[D]", "psi: positive[D]"],
        statements: &["x[I_] ~ MvNormal(W[Z] * h[I_] + mu[Z], diag(psi))"],
        latent_dim: Some(2),
    },
];

/// The latent structures.
#[derive(Clone, Copy, PartialEq)]
enum Latent {
    Mixture,
    Chain,
    Single,
}

fn columns(kind: Kind, name: &str) -> Vec<String> {
    match kind {
        Kind::Real3 => ["a", "b", "c"]
            .iter()
            .map(|c| format!("{name}_{c}"))
            .collect(),
        Kind::Bits4 => (1..=4).map(|i| format!("{name}_{i}")).collect(),
        Kind::Counts3 => (1..=3).map(|i| format!("{name}_{i}")).collect(),
        _ => vec![name.to_string()],
    }
}

fn model(e: &Emission, latent: Latent, case: &str) -> Option<String> {
    let (i, rows) = match latent {
        Latent::Chain => ("t", "T"),
        _ => ("n", "N"),
    };
    // A single component: only models with a continuous latent, and no per-component slot.
    if latent == Latent::Single && e.latent_dim.is_none() {
        return None;
    }
    let mut m = format!("model {case}\n");
    if latent != Latent::Single {
        m.push_str("const K: int = 2\n");
    }
    if let Some(l) = e.latent_dim {
        let _ = writeln!(m, "const L: int = {l}");
    }
    for (name, kind) in e.data {
        let ty = match kind {
            Kind::Real3 => "vector[D]",
            Kind::Real => "real",
            Kind::Count | Kind::Trials => "count",
            Kind::Bit => "binary",
            Kind::Bits4 => "binary[E]",
            Kind::Counts3 => "count[C]",
            Kind::Category => "0..C",
            Kind::Positive => "positive",
        };
        let from = match kind {
            Kind::Real3 | Kind::Bits4 | Kind::Counts3 => {
                format!(" from ({})", columns(*kind, name).join(", "))
            }
            _ => String::new(),
        };
        let _ = writeln!(m, "data {name}[{rows}]: {ty}{from}");
    }
    let single = |p: &str| {
        if latent == Latent::Single {
            p.replace("[K]", "")
        } else {
            p.to_string()
        }
    };
    match latent {
        Latent::Mixture => m.push_str("param w: simplex[K]\n"),
        Latent::Chain => m.push_str("param p0: simplex[K]\nparam A[K]: simplex[K]\n"),
        Latent::Single => {}
    }
    for p in e.params {
        let _ = writeln!(m, "param {}", single(p));
    }
    if latent != Latent::Single {
        let _ = writeln!(m, "latent z[{rows}]: 0..K");
    }
    if e.latent_dim.is_some() {
        let _ = writeln!(m, "latent h[{rows}]: vector[L]");
    }
    match latent {
        Latent::Mixture => m.push_str("z[n] ~ Categorical(w)\n"),
        Latent::Chain => m.push_str("z[0] ~ Categorical(p0)\nz[t] ~ Categorical(A[z[t-1]])\n"),
        Latent::Single => {}
    }
    if e.latent_dim.is_some() {
        let _ = writeln!(m, "h[{i}] ~ MvNormal(0, I)");
    }
    for s in e.statements {
        let s = s.replace("I_", i);
        let s = if latent == Latent::Single {
            s.replace("[Z]", "")
        } else {
            s.replace('Z', &format!("z[{i}]"))
        };
        let _ = writeln!(m, "{s}");
    }
    Some(m)
}

fn main() {
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let dir = Path::new(&out).join("catalogue");
    std::fs::create_dir_all(&dir).expect("catalogue directory");
    let mut modules = String::new();
    let mut tests = String::new();
    let mut table = String::from("/// A data item: its name, its columns and the kind of values generated for it.\npub type Item = (&'static str, &'static [&'static str], &'static str);\n\n/// `(case, data items)`.\npub const CASES: &[(&str, &[Item])] = &[\n");
    for latent in [Latent::Mixture, Latent::Chain, Latent::Single] {
        for e in EMISSIONS {
            let prefix = match latent {
                Latent::Mixture => "mixture",
                Latent::Chain => "chain",
                Latent::Single => "single",
            };
            let case = format!("{prefix}_{}", e.name);
            let Some(source) = model(e, latent, &case) else {
                continue;
            };
            let path = dir.join(format!("{case}.em"));
            std::fs::write(&path, &source).expect("write model");
            let _ = writeln!(
                modules,
                "pub mod {case} {{\n    #[derive(jensen::Model)]\n    #[model(file = {:?})]\n    pub struct Case;\n}}",
                path.display().to_string()
            );
            let fields: Vec<String> = e
                .data
                .iter()
                .map(|(name, kind)| {
                    let how = match kind {
                        Kind::Real3 | Kind::Bits4 | Kind::Counts3 => "matrix",
                        _ => "column",
                    };
                    format!("{name}: {how}")
                })
                .collect();
            let _ = writeln!(tests, "case!({case}, {{ {} }});", fields.join(", "));
            let items: Vec<String> = e
                .data
                .iter()
                .map(|(name, kind)| {
                    let kind_name = match kind {
                        Kind::Real3 | Kind::Real => "real",
                        Kind::Count | Kind::Counts3 => "count",
                        Kind::Bit | Kind::Bits4 => "bit",
                        Kind::Category => "category",
                        Kind::Positive => "positive",
                        Kind::Trials => "trials",
                    };
                    format!("({name:?}, &{:?}, {kind_name:?})", columns(*kind, name))
                })
                .collect();
            let _ = writeln!(table, "    ({case:?}, &[{}]),", items.join(", "));
        }
    }
    table.push_str("];\n");
    let text = format!(
        "/// One module per case, each compiled through `#[derive(Model)]`.\npub mod catalogue {{\n{modules}\n{table}}}\n\n{tests}"
    );
    std::fs::write(Path::new(&out).join("catalogue.rs"), text).expect("write catalogue");
    // The table alone, for tests that read the model files at run time (`tests/campaign.rs`)
    // without compiling every case through the derive macro.
    std::fs::write(Path::new(&out).join("catalogue_cases.rs"), &table).expect("write cases");
    println!("cargo::rerun-if-changed=build.rs");
}
