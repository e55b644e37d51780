//! Plan → math text: the E-step, the statistics, every M-step formula and the ELBO, as
//! `jensen explain` prints them.

use std::fmt::Write;

use jensen_lang::ir::{EStepKind, ElemType, Fixed, Method, Summary, VarId};
use jensen_lang::plan::{
    BlockKind, Cov, Hyper, Latent, PRef, Prior, PriorFamily, Rule, StatKind, Trials, Update,
};
use jensen_lang::program::{Dim, Size};
use jensen_lang::{Plan, Program};

/// How block `b` treats a row's missing cells (empty, `NA` or `NaN`), from its lowered
/// kernels: the density of the observed cells, and what the statistics hold in place of a
/// missing cell.
fn missing_text(plan: &Plan, b: usize) -> String {
    use jensen_lang::program::Kernel::*;
    let program = Program::lower(plan);
    let Some(m) = &program.blocks[b].missing else {
        return format!(
            "refused (data with a gap are an error): {}",
            program.blocks[b]
                .gaps_refused
                .as_deref()
                .unwrap_or("no kernels for them")
        );
    };
    let kind = plan.blocks[b].kind;
    let held = match (m.accumulate.kernel, kind) {
        (MissingMvnFullAccumulate, BlockKind::MvNormal { mean, cov }) => {
            let (mu, s) = (p(plan, mean), cov.pref().map_or("Σ".into(), |c| p(plan, c)));
            format!(
                "density N(x_o | {mu}_o, {s}_oo) of the observed coordinates o; the statistics take E[x_m | x_o] = {mu}_m + {s}_mo {s}_oo⁻¹ (x_o − {mu}_o) and add {s}_mm − {s}_mo {s}_oo⁻¹ {s}_om to the scatter"
            )
        }
        (
            MissingMvnDiagAccumulate | MissingMvnSphericalAccumulate,
            BlockKind::MvNormal { mean, cov },
        ) => {
            let v = match cov {
                Cov::Fixed(c) => fixed_cov(c),
                _ => p(plan, cov.pref().expect("a variance parameter")),
            };
            format!(
                "the factors of the missing coordinates j leave the density; the statistics take {}_j and add the variance ({v}) to the squares",
                p(plan, mean)
            )
        }
        (MissingNormalAccumulate, BlockKind::Normal { mean, var }) => format!(
            "a missing value leaves the density; the statistics take {} and add {} to the squares",
            p(plan, mean),
            p(plan, var)
        ),
        (MissingRegressionAccumulate, BlockKind::Regression { var, .. }) => format!(
            "a missing response leaves the density; its design enters A, its residual's expectation (0 under the coefficients before the M-step) b, and {} the squared residuals (the covariates must be observed)",
            p(plan, var)
        ),
        (
            MissingMvRegressionFullAccumulate,
            BlockKind::MvRegression {
                cov: Cov::Full(s), ..
            },
        ) => {
            let s = p(plan, s);
            format!(
                "density N(e_o | 0, {s}_oo) of the observed coordinates' residuals e = x − (B u + μ) under the coefficients before the M-step; the statistics take E[e_m | e_o] = {s}_mo {s}_oo⁻¹ e_o and add {s}_mm − {s}_mo {s}_oo⁻¹ {s}_om to the residuals' scatter; the row's design still enters A (the covariates must be observed)"
            )
        }
        (MissingMvRegressionDiagAccumulate, BlockKind::MvRegression { cov, .. }) => format!(
            "the factors of the missing coordinates j leave the density; the row's design still enters A, the missing residuals' expectation (0 under the coefficients before the M-step) the cross, and {}_j the squared residuals (the covariates must be observed)",
            p(plan, cov.pref().expect("a variance parameter"))
        ),
        (MissingPoissonAccumulate, BlockKind::Poisson { rate }) => format!(
            "a missing count leaves the density (and Σ ln x!); the statistics take {}",
            p(plan, rate)
        ),
        (MissingExponentialAccumulate, BlockKind::Exponential { rate }) => format!(
            "a missing value leaves the density; the statistics take 1 / {}",
            p(plan, rate)
        ),
        (
            MissingBinomialAccumulate | MissingBinomialRowsAccumulate,
            BlockKind::Binomial { trials, prob },
        ) => format!(
            "a missing count leaves the density; the statistics take {} {}",
            trials_text(plan, trials),
            p(plan, prob)
        ),
        (MissingGeometricAccumulate, BlockKind::Geometric { prob }) => format!(
            "a missing count leaves the density; the statistics take (1 − {p}) / {p}",
            p = p(plan, prob)
        ),
        (MissingGammaAccumulate, BlockKind::Gamma { shape, rate }) => format!(
            "a missing value leaves the density; the statistics take {shape} / {r} and ψ({shape}) − ln {r}",
            r = p(plan, rate)
        ),
        (MissingCategoricalAccumulate, BlockKind::Categorical { probs }) => format!(
            "a missing category leaves the density; the counts add {}",
            p(plan, probs)
        ),
        (MissingBernoulliAccumulate, BlockKind::Bernoulli { prob }) => format!(
            "the factors of the missing bits j leave the density; the sums take {}_j",
            p(plan, prob)
        ),
        (MissingFactorAccumulate, BlockKind::LinearGaussian { .. }) => {
            let (h, _) = continuous(plan);
            format!(
                "density N(x_o | μ_o, W_o W_oᵀ + Ψ_o) of the observed coordinates o; the statistics take the posterior of {h} given x_o, and a missing coordinate j adds W_j E[{h} | x_o] to the sum and ψ_j to the squared residual"
            )
        }
        _ => unreachable!("a block's gap kernels match its family"),
    };
    format!(
        "{held}; the conditional entropy of the missing cells ({}) enters F",
        program.stats[m.entropy].name
    )
}

fn p(plan: &Plan, r: PRef) -> String {
    let name = plan.name(r.param);
    if r.per_component {
        format!("{name}[k]")
    } else {
        name.to_string()
    }
}

/// A binomial block's trials as written: `16`, or `t[n]` for a count column.
fn trials_text(plan: &Plan, trials: Trials) -> String {
    match trials {
        Trials::Known(t) => format!("{t}"),
        Trials::Column(v) => data(plan, v),
    }
}

fn data(plan: &Plan, v: VarId) -> String {
    // An item modelled on the log scale enters the statistics and updates as `ln x`.
    if plan.blocks.iter().any(|b| b.data == v && b.log_scale) {
        format!("ln {}[n]", plan.name(v))
    } else {
        format!("{}[n]", plan.name(v))
    }
}

/// `[k]` with a discrete latent; nothing for a single component.
fn k_index(plan: &Plan) -> &'static str {
    if plan.components().is_some() {
        "[k]"
    } else {
        ""
    }
}

/// The weight of row `n` in component `k` inside a sum over rows: `r[n,k] `, or nothing for
/// a single component (every row has weight 1).
fn weight(plan: &Plan) -> &'static str {
    if plan.components().is_some() {
        "r[n,k] "
    } else {
        ""
    }
}

/// The count of rows in component `k`: `N[k]`, or `N` for a single component.
fn count_k(plan: &Plan) -> &'static str {
    if plan.components().is_some() {
        "N[k]"
    } else {
        "N"
    }
}

/// The name of the continuous latent and of its dimension.
fn continuous(plan: &Plan) -> (&str, &str) {
    let c = plan
        .continuous
        .expect("a linear-Gaussian block has a continuous latent");
    (plan.name(c.var), plan.model.sets[c.dim].name.as_str())
}

/// The dimension of a block's (vector) data item.
fn data_dim(plan: &Plan, b: usize) -> String {
    match plan.model.vars[plan.blocks[b].data].ty {
        ElemType::Vector(d) => plan.model.sets[d].name.clone(),
        _ => "1".into(),
    }
}

/// The noise covariance of a linear-Gaussian block as written: `diag(psi)` or `s2 I`.
fn noise_cov(plan: &Plan, noise: Cov) -> String {
    match noise {
        Cov::Spherical(c) => format!("{} I", p(plan, c)),
        Cov::Diag(c) | Cov::Full(c) => format!("diag({})", p(plan, c)),
        Cov::Fixed(c) => fixed_cov(c),
    }
}

/// A known covariance `c I` as written: `I`, or `2.5 I`.
fn fixed_cov(c: f64) -> String {
    if c == 1.0 {
        "I".into()
    } else {
        format!("{c} I")
    }
}

/// A symbol of a linear-Gaussian block (`M`, `G`, `B`, `ρ`, …): suffixed with the block's
/// name when several blocks are linear-Gaussian, and indexed by `k` with a discrete latent.
fn lin_sym(plan: &Plan, b: usize, base: &str, per_k: bool) -> String {
    let several = plan
        .blocks
        .iter()
        .filter(|o| matches!(o.kind, BlockKind::LinearGaussian { .. }))
        .count()
        > 1;
    let mut s = base.to_string();
    if several {
        let _ = write!(s, "_{}", plan.block_prefix(b));
    }
    if per_k {
        s.push_str("[k]");
    }
    s
}

/// Variational Bayes: the name of the slot holding the loadings' posterior row covariance
/// factor `V` (`None` under EM, or for loadings without a prior).
fn row_cov_name(plan: &Plan, loading: PRef) -> Option<String> {
    let u = plan.updates.iter().find(|u| u.param == loading.param)?;
    (plan.model.method == Method::Vb && u.rule == Rule::Loadings && u.prior.is_some())
        .then(|| format!("{}_row_cov", plan.name(loading.param)))
}

/// The expected log-density of a linear-Gaussian block plus the latent's prior and
/// posterior entropy, per row and component: its term in the ELBO.
fn linear_elbo_term(plan: &Plan, b: usize) -> String {
    let block = &plan.blocks[b];
    let BlockKind::LinearGaussian {
        loading,
        mean,
        noise,
    } = block.kind
    else {
        unreachable!("a linear-Gaussian block")
    };
    let (h, _) = continuous(plan);
    let x = data(plan, block.data);
    let given = if plan.components().is_some() {
        " | k"
    } else {
        ""
    };
    format!(
        "E_h[ln N({x} | {} {h}[n] + {}, {}) + ln N({h}[n] | 0, I)] + H(q({h}[n]{given}))",
        p(plan, loading),
        p(plan, mean),
        noise_cov(plan, noise)
    )
}

/// A regression's mean as written: `βᵀu[n] + c` in the block's names.
fn regression_mean(plan: &Plan, b: usize, at: &str) -> String {
    let kind = &plan.blocks[b].kind;
    let (coef, intercept, covariates) = kind.regression().expect("a regression block");
    let beta = format!("{}{at}", plan.name(coef.param));
    let u = data(plan, covariates);
    let product = if plan.model.vars[covariates].ty == ElemType::Real
        || matches!(kind, BlockKind::MvRegression { .. })
    {
        format!("{beta} {u}")
    } else {
        format!("{beta}ᵀ{u}")
    };
    match intercept {
        Some(c) => format!("{product} + {}{at}", plan.name(c.param)),
        None => product,
    }
}

/// `ln p(x_n | z_n = k)` of a block, in words.
fn density(plan: &Plan, b: usize) -> (String, Option<String>) {
    let block = &plan.blocks[b];
    let x = data(plan, block.data);
    match block.kind {
        BlockKind::StudentT { mean, cov, nu, .. } => (
            format!("ln t_{nu}({x} | {}, {})", p(plan, mean), p(plan, cov)),
            Some(format!(
                "ln t_ν(x | μ, Σ) = ln Γ((ν + D)/2) − ln Γ(ν/2) − (D/2) ln νπ − ½ ln|Σ| − ((ν + D)/2) ln(1 + δ/ν),  δ = ‖L⁻¹(x − μ)‖², ν = {nu}: the Normal with Σ / u integrated over u ~ Gamma(ν/2, ν/2)"
            )),
        ),
        BlockKind::Regression { var, .. } => (
            format!(
                "ln N({x} | {}, {})",
                regression_mean(plan, b, k_index(plan)),
                p(plan, var)
            ),
            Some("ln N(y | βᵀu + c, s) = −½ (ln 2π + ln s + (y − βᵀu − c)² / s)".into()),
        ),
        BlockKind::MvRegression { cov, .. } => {
            let mean = regression_mean(plan, b, k_index(plan));
            match cov {
                Cov::Diag(v) => (
                    format!("ln N({x} | {mean}, diag({}))", p(plan, v)),
                    Some("ln N(x | B u + μ, diag(v)) = −½ Σ_d (ln 2π + ln v_d + e_d² / v_d),  e = x − B u − μ".into()),
                ),
                _ => {
                    let c = cov.pref().expect("a full covariance");
                    (
                        format!("ln N({x} | {mean}, {})", p(plan, c)),
                        Some(format!(
                            "ln N(x | B u + μ, Σ) = −½ (D ln 2π + ln|Σ| + ‖L⁻¹e‖²),  e = x − B u − μ, Σ = L Lᵀ (Cholesky; {} factored once per iteration)",
                            plan.name(c.param)
                        )),
                    )
                }
            }
        }
        BlockKind::MvNormal { mean, cov } => {
            let m = p(plan, mean);
            match cov {
                Cov::Full(c) => (
                    format!("ln N({x} | {m}, {})", p(plan, c)),
                    Some(format!(
                        "ln N(x | μ, Σ) = −½ (D ln 2π + ln|Σ| + ‖L⁻¹(x − μ)‖²), with Σ = L Lᵀ (Cholesky; {} factored once per iteration)",
                        plan.name(c.param)
                    )),
                ),
                Cov::Diag(c) => (
                    format!("ln N({x} | {m}, diag({}))", p(plan, c)),
                    Some("ln N(x | μ, diag(v)) = −½ Σ_d (ln 2π + ln v_d + (x_d − μ_d)² / v_d)".into()),
                ),
                Cov::Spherical(c) => (
                    format!("ln N({x} | {m}, {} I)", p(plan, c)),
                    Some("ln N(x | μ, s I) = −½ (D ln 2π + D ln s + ‖x − μ‖² / s)".into()),
                ),
                Cov::Fixed(c) => (
                    format!("ln N({x} | {m}, {})", fixed_cov(c)),
                    Some(format!(
                        "ln N(x | μ, c I) = −½ (D ln 2π + D ln c + ‖x − μ‖² / c),  c = {c} (known, not estimated)"
                    )),
                ),
            }
        }
        BlockKind::Normal { mean, var } if block.log_scale => (
            format!(
                "ln LogNormal({}[n] | {}, {})",
                plan.name(block.data),
                p(plan, mean),
                p(plan, var)
            ),
            Some("ln LogNormal(x | m, v) = ln N(ln x | m, v) − ln x = −½ (ln 2π + ln v + (ln x − m)² / v) − ln x   (m, v: the mean and variance of ln x; the data are held as ln x)".into()),
        ),
        BlockKind::Normal { mean, var } => (
            format!("ln N({x} | {}, {})", p(plan, mean), p(plan, var)),
            Some("ln N(y | m, v) = −½ (ln 2π + ln v + (y − m)² / v)".into()),
        ),
        BlockKind::Poisson { rate } => (
            format!("ln Poisson({x} | {})", p(plan, rate)),
            Some("ln Poisson(x | λ) = x ln λ − λ − ln x!".into()),
        ),
        BlockKind::Exponential { rate } => (
            format!("ln Exponential({x} | {})", p(plan, rate)),
            Some("ln Exponential(x | λ) = ln λ − λ x".into()),
        ),
        BlockKind::Binomial { trials, prob } => (
            format!(
                "ln Binomial({x} | {}, {})",
                trials_text(plan, trials),
                p(plan, prob)
            ),
            Some("ln Binomial(x | T, p) = ln C(T, x) + x ln p + (T − x) ln(1 − p)".into()),
        ),
        BlockKind::Geometric { prob } => (
            format!("ln Geometric({x} | {})", p(plan, prob)),
            Some(
                "ln Geometric(x | p) = x ln(1 − p) + ln p   (x failures before the first success)"
                    .into(),
            ),
        ),
        BlockKind::Gamma { shape, rate } => (
            format!("ln Gamma({x} | {shape}, {})", p(plan, rate)),
            Some("ln Gamma(x | a, b) = a ln b − ln Γ(a) + (a − 1) ln x − b x".into()),
        ),
        BlockKind::Bernoulli { prob } => (
            format!("ln Bernoulli({x} | {})", p(plan, prob)),
            Some("ln Bernoulli(x | p) = Σ_d [x_d ln p_d + (1 − x_d) ln(1 − p_d)]".into()),
        ),
        BlockKind::Categorical { probs } => (format!("ln {}[{x}]", p(plan, probs)), None),
        BlockKind::Multinomial { probs } => (
            format!("ln Multinomial({x} | {})", p(plan, probs)),
            Some("ln Multinomial(x | θ) = ln n! − Σ_v ln x_v! + Σ_v x_v ln θ_v,  n = Σ_v x_v (the row's total, known)".into()),
        ),
        BlockKind::LinearGaussian {
            loading,
            mean,
            noise,
        } => {
            let w = p(plan, loading);
            let marginal = format!(
                "ln N({x} | {}, {w} {w}ᵀ + {})",
                p(plan, mean),
                noise_cov(plan, noise)
            );
            let (generic, m) = match noise {
                Cov::Spherical(_) | Cov::Fixed(_) => ("ln N(x | μ, W Wᵀ + s I) = −½ (D ln 2π + D ln s + ln|M| + ‖e − W ĥ‖² / s + ‖ĥ‖²),  e = x − μ,  ĥ = E_h[h] = B e", "Wᵀ W / s"),
                Cov::Diag(_) | Cov::Full(_) => ("ln N(x | μ, W Wᵀ + diag(ψ)) = −½ (D ln 2π + Σ_d ln ψ_d + ln|M| + Σ_d (e − W ĥ)_d² / ψ_d + ‖ĥ‖²),  e = x − μ,  ĥ = E_h[h] = B e", "Wᵀ Ψ⁻¹ W"),
            };
            let text = format!(
                "{generic}\n      (the quadratic form is the minimum over h of ‖e − W h‖²_Ψ⁻¹ + ‖h‖², reached at ĥ: two non-negative terms, by the Woodbury identity;\n       ln|W Wᵀ + Ψ| = ln|Ψ| + ln|M| by the determinant lemma, M = I + {m}: no D × D matrix is formed or inverted)"
            );
            // Variational Bayes with a posterior on the loadings: the latent's prior is
            // N(0, P⁻¹), and the marginal the effective model's.
            if row_cov_name(plan, loading).is_some() {
                return (
                    marginal.replace(&format!("{w} {w}ᵀ"), &format!("{w} P⁻¹ {w}ᵀ")),
                    Some(
                        text.replace("W Wᵀ", "W P⁻¹ Wᵀ")
                            .replace("‖ĥ‖²", "ĥᵀ P ĥ")
                            .replace("‖h‖²", "hᵀ P h")
                            .replace("+ ln|M|", "+ ln|M| − ln|P|")
                            .replace("M = I + ", "M = P + "),
                    ),
                );
            }
            (
                marginal,
                Some(text),
            )
        }
    }
}

/// The posterior of the continuous latent under each linear-Gaussian block, line by line
/// (without indentation).
fn posterior_lines(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    let has_k = plan.components().is_some();
    let (h, l) = continuous(plan);
    let z = plan
        .latent
        .var_components()
        .map(|(z, _)| plan.name(z).to_string());
    for (b, block) in plan.blocks.iter().enumerate() {
        let BlockKind::LinearGaussian {
            loading,
            mean,
            noise,
        } = block.kind
        else {
            continue;
        };
        let x = data(plan, block.data);
        let d = data_dim(plan, b);
        let (w, m) = (p(plan, loading), p(plan, mean));
        let psi = lin_sym(
            plan,
            b,
            "Ψ",
            noise
                .pref()
                .expect("linear-Gaussian noise is a parameter")
                .per_component,
        );
        let mm = lin_sym(plan, b, "M", has_k);
        let g = lin_sym(plan, b, "G", has_k);
        let bb = lin_sym(plan, b, "B", has_k);
        let (q, cond) = match &z {
            Some(z) => (
                format!("q({h}[n] | k)"),
                format!("p({h}[n] | {x}, {z}[n] = k)"),
            ),
            None => (format!("q({h}[n])"), format!("p({h}[n] | {x})")),
        };
        // (Under variational Bayes, the optimal factor given q(θ), not a posterior at θ.)
        let cond = if plan.model.method == Method::Vb {
            "its optimum given q(θ)".to_string()
        } else {
            cond
        };
        match row_cov_name(plan, loading) {
            None => lines.push(format!(
                "{psi} = {},  {mm} = I + {w}ᵀ {psi}⁻¹ {w},  {g} = {mm}⁻¹   ({l} × {l}; no {d} × {d} inverse)",
                noise_cov(plan, noise)
            )),
            Some(v) => {
                lines.push(format!(
                    "{psi} = {},  {mm} = P + {w}ᵀ {psi}⁻¹ {w},  P = I + {d} {v},  {g} = {mm}⁻¹   ({l} × {l}; no {d} × {d} inverse)",
                    noise_cov(plan, noise)
                ));
                lines.push(format!(
                    "  (variational Bayes: {w} the loadings' posterior means, {psi} = E[{psi}⁻¹]⁻¹, {v} their rows' covariance factor: E_q[{w}ᵀ Ψ⁻¹ {w}] = {w}ᵀ {psi}⁻¹ {w} + {d} {v},"
                ));
                lines.push(format!(
                    "   so q({h}[n]) is the posterior of the point model ({w}, {psi}) under the prior N(0, P⁻¹); the SVD below is of the whitened {w} R⁻ᵀ, P = R Rᵀ, mapped back by R⁻ᵀ)"
                ));
            }
        }
        lines.push(format!("{bb} = {g} {w}ᵀ {psi}⁻¹   ({l} × {d})"));
        lines.push(format!(
            "  (once per iteration, from the thin SVD {psi}^(−½) {w} = U S Vᵀ: {g} = V (I + S²)⁻¹ Vᵀ, {bb} = V S (I + S²)⁻¹ Uᵀ {psi}^(−½), ln|{mm}| = Σ_j ln(1 + s_j²);"
        ));
        lines.push(format!(
            "   formed in the basis where {mm} is diagonal, they keep their digits when {mm} is ill-conditioned; a Cholesky of {mm} when {l} > {d})"
        ));
        lines.push(format!(
            "{q} = N({h}[n] | {bb} ({x} − {m}), {g})   = {cond}, the same {g} for every row"
        ));
        lines.push(format!(
            "E_h[{h}[n]] = {bb} ({x} − {m}),   E_h[{h}[n] {h}[n]ᵀ] = {g} + E_h[{h}[n]] E_h[{h}[n]]ᵀ   (E_h: the expectation under {q})"
        ));
    }
    lines
}

fn stat_name(plan: &Plan, b: usize, s: StatKind) -> String {
    format!("{}_{}{}", plan.block_prefix(b), s.suffix(), k_index(plan))
}

/// The loadings of a linear-Gaussian block before the M-step (`W°`), under which the E-step's
/// posterior and the residual statistics were computed.
fn loading_before(plan: &Plan, b: usize) -> String {
    match plan.blocks[b].kind {
        BlockKind::LinearGaussian { loading, .. } => format!("{}°", p(plan, loading)),
        _ => unreachable!("a linear-Gaussian block"),
    }
}

fn centre(plan: &Plan, b: usize) -> String {
    match plan.blocks[b].kind {
        BlockKind::MvNormal { mean, .. }
        | BlockKind::Normal { mean, .. }
        | BlockKind::StudentT { mean, .. }
        | BlockKind::LinearGaussian { mean, .. } => {
            format!("{}°", p(plan, mean))
        }
        _ => String::new(),
    }
}

/// The expected squared residual of a linear-Gaussian block, computed from its statistics
/// (two lines, without indentation): what the noise M-step pools and the ELBO divides.
fn residual_lines(plan: &Plan, b: usize) -> [String; 2] {
    let block = &plan.blocks[b];
    let BlockKind::LinearGaussian { loading, mean, .. } = block.kind else {
        unreachable!("a linear-Gaussian block")
    };
    let has_k = plan.components().is_some();
    let (h, _) = continuous(plan);
    let x = data(plan, block.data);
    let (w, m) = (p(plan, loading), p(plan, mean));
    let rho = lin_sym(plan, b, "ρ", has_k);
    let st = |s| stat_name(plan, b, s);
    [
        format!(
            "{rho}_d = Σ_n {}E_h[({x} − {w} {h}[n] − {m})_d²], from the statistics, with a = {m} − {m}°, w_d the d-th row of {w} and Δ_d = w_d − w°_d:",
            weight(plan)
        ),
        format!(
            "{} = {}_d − 2 Δ_dᵀ {}_{{·d}} + Δ_dᵀ {} Δ_d − 2 a_d ({}_d − w_dᵀ {}) + {} a_d²",
            " ".repeat(rho.chars().count() + 2),
            st(StatKind::ResidualSq),
            st(StatKind::Cross),
            st(StatKind::LatentScatter),
            st(StatKind::Sum),
            st(StatKind::LatentSum),
            count_k(plan)
        ),
    ]
}

/// The ELBO term of a linear-Gaussian block from its statistics (one line, without
/// indentation): `−½ (n (D ln 2π + ln|Ψ|) + Σ_d ρ_d / ψ_d) + ½ (n L − tr S_h − n ln|M°|)`.
fn linear_elbo_value(plan: &Plan, b: usize) -> String {
    let BlockKind::LinearGaussian { noise, .. } = plan.blocks[b].kind else {
        unreachable!("a linear-Gaussian block")
    };
    let has_k = plan.components().is_some();
    let (_, l) = continuous(plan);
    let d = data_dim(plan, b);
    let n = count_k(plan);
    let rho = lin_sym(plan, b, "ρ", has_k);
    let m0 = lin_sym(plan, b, "M°", has_k);
    let (log_det, quad) = match noise {
        Cov::Spherical(c) => {
            let s = p(plan, c);
            (format!("{d} ln {s}"), format!("Σ_d {rho}_d / {s}"))
        }
        Cov::Fixed(c) => (format!("{d} ln {c}"), format!("Σ_d {rho}_d / {c}")),
        Cov::Diag(c) | Cov::Full(c) => {
            let v = p(plan, c);
            (format!("Σ_d ln {v}_d"), format!("Σ_d {rho}_d / {v}_d"))
        }
    };
    format!(
        "−½ ({n} ({d} ln 2π + {log_det}) + {quad}) + ½ ({n} {l} − tr {} − {n} ln|{m0}|)",
        stat_name(plan, b, StatKind::LatentScatter)
    )
}

/// The M-step formula of one parameter, on one line.
pub fn update_formula(plan: &Plan, u: &Update) -> String {
    let var = &plan.model.vars[u.param];
    let per_k = var.plates.len() == 1;
    let has_k = plan.components().is_some();
    let lhs = if per_k {
        format!("{}[k]", var.name)
    } else {
        var.name.clone()
    };
    match var.fixed {
        Some(Fixed::Number(c)) if matches!(var.ty, ElemType::Cov(_)) => {
            return format!(
                "{lhs} = {c} I   (fixed in the model file: not estimated, not counted in BIC/AIC)"
            );
        }
        Some(Fixed::Number(c)) => {
            return format!(
                "{lhs} = {c}   (fixed in the model file: not estimated, not counted in BIC/AIC)"
            );
        }
        Some(Fixed::Given) => {
            return format!("{lhs} = the value given at fit time (`--fix`: not estimated, not counted in BIC/AIC)");
        }
        None => {}
    }
    let over = |terms: Vec<String>| -> String {
        let inner = terms.join(" + ");
        if !per_k && has_k {
            format!("Σ_k ({inner})")
        } else if terms.len() > 1 {
            format!("({inner})")
        } else {
            inner
        }
    };
    let count = || {
        let n = u.sources.len();
        let c = if n == 1 {
            "N[k]".to_string()
        } else {
            format!("{n}·N[k]")
        };
        if per_k {
            c
        } else if n == 1 {
            "N".to_string()
        } else {
            format!("{n}·N")
        }
    };
    let r = weight(plan);
    if let Some(
        prior @ Prior {
            family: PriorFamily::Dirichlet { .. },
            ..
        },
    ) = &u.prior
    {
        return map_formula(plan, u, prior, &lhs);
    }
    match u.rule {
        Rule::Weights => format!("{}[k] = N[k] / N", var.name),
        Rule::InitialProbs => format!(
            "{}[k] = S0[k] / Σ_j S0[j]   (expected first states of the sequences)",
            var.name
        ),
        Rule::Transitions => format!(
            "{0}[j,k] = T[j,k] / Σ_k' T[j,k']   (Baum–Welch; a state never left keeps its row of {0})",
            var.name
        ),
        Rule::Mean
            if u
                .sources
                .iter()
                .any(|&b| matches!(plan.blocks[b].kind, BlockKind::StudentT { .. })) =>
        {
            // The rows weighted by the scales' posterior means.
            let names = |kind| {
                u.sources
                    .iter()
                    .map(|&b| stat_name(plan, b, kind))
                    .collect::<Vec<_>>()
            };
            format!(
                "{lhs} = {lhs}° + {} / {}   (the mean weighted by r w: an outlying row, with a small w, counts less)",
                over(names(StatKind::Sum)),
                over(names(StatKind::ScaleWeight))
            )
        }
        Rule::Mean => {
            let sums = u
                .sources
                .iter()
                .map(|&b| stat_name(plan, b, StatKind::Sum))
                .collect();
            match u.prior.as_ref().map(|p| (p.family, &plan.model.factors[p.factor].text)) {
                Some((PriorFamily::NormalMean { mean, kappa, .. }, statement)) => {
                    let mean = hyper_text(plan, mean, 1.0);
                    format!(
                        "{lhs} = {lhs}° + ({} + {kappa} ({mean} − {lhs}°)) / ({} + {kappa})   (the posterior mode under `{statement}`: κ = {kappa} pseudo-rows at {mean})",
                        over(sums),
                        count()
                    )
                }
                _ => format!("{lhs} = {lhs}° + {} / {}", over(sums), count()),
            }
        }
        Rule::RegressionCoefficients | Rule::RegressionIntercept => {
            let b = u.sources[0];
            let (coef, intercept, _) = plan.blocks[b]
                .kind
                .regression()
                .expect("a regression block");
            let (scatter, cross) = (
                stat_name(plan, b, StatKind::DesignScatter),
                stat_name(plan, b, StatKind::DesignCross),
            );
            let beta = p(plan, coef);
            let ridge = "a Cholesky solve, with a ridge from 1e-12 of A's mean diagonal up only if A is (numerically) singular";
            let multivariate = matches!(plan.blocks[b].kind, BlockKind::MvRegression { .. });
            if multivariate && u.rule == Rule::RegressionCoefficients {
                match intercept {
                    Some(c) if plan.model.vars[c.param].fixed.is_some() => format!(
                        "{lhs} = {lhs}° + (A_ββ⁻¹ C_β)ᵀ,  A = {scatter}, C = {cross} without the intercept's row   (weighted least squares per response coordinate on one design, the intercept held at its known value, as a step from the coefficients before the M-step: {ridge})"
                    ),
                    Some(_) => format!(
                        "{lhs} = {lhs}° + (A⁻¹ C without its last row)ᵀ,  A = {scatter}, C = {cross}   (weighted least squares per response coordinate on one design, jointly with the intercept, as a step from the coefficients before the M-step: {ridge}, one factor for every coordinate)"
                    ),
                    None => format!(
                        "{lhs} = {lhs}° + (A⁻¹ C)ᵀ,  A = {scatter}, C = {cross}   (weighted least squares per response coordinate on one design, as a step from the coefficients before the M-step: {ridge}, one factor for every coordinate)"
                    ),
                }
            } else if multivariate {
                format!(
                    "{lhs} = {lhs}° + ({cross}[last] − ({beta} − {beta}°) {scatter}[..last, last]) / {}   (the intercept's normal equations, given the new {beta}; kept when the component is empty)",
                    count()
                )
            } else if u.rule == Rule::RegressionCoefficients {
                match intercept {
                    Some(c) if plan.model.vars[c.param].fixed.is_some() => format!(
                        "{lhs} = {lhs}° + A_ββ⁻¹ b_β,  A = {scatter}, b = {cross} without the intercept's row   (weighted least squares with the intercept held at its known value, as a step from the coefficients before the M-step: {ridge})"
                    ),
                    Some(_) => format!(
                        "{lhs} = {lhs}° + (A⁻¹ b) without its last entry,  A = {scatter}, b = {cross}   (weighted least squares jointly with the intercept, as a step from the coefficients before the M-step: {ridge})"
                    ),
                    None => format!(
                        "{lhs} = {lhs}° + A⁻¹ b,  A = {scatter}, b = {cross}   (weighted least squares, as a step from the coefficients before the M-step: {ridge})"
                    ),
                }
            } else {
                format!(
                    "{lhs} = {lhs}° + ({cross}[last] − {scatter}[last, ..last] ({beta} − {beta}°)) / {}   (the intercept's normal equation, given the new {beta}; kept when the component is empty)",
                    count()
                )
            }
        }
        Rule::Loadings | Rule::FactorMean => {
            let b = u.sources[0];
            let BlockKind::LinearGaussian { loading, mean, .. } = plan.blocks[b].kind else {
                unreachable!("loadings and offsets come from linear-Gaussian blocks")
            };
            let st = |s| stat_name(plan, b, s);
            let n = count();
            let (w, m) = (p(plan, loading), p(plan, mean));
            if u.rule == Rule::Loadings {
                let (_, l) = continuous(plan);
                let empty = if has_k {
                    format!("{n} = 0 or ")
                } else {
                    String::new()
                };
                if let Some(Prior {
                    family: PriorFamily::NormalMean { kappa, .. },
                    factor,
                }) = u.prior
                {
                    return format!(
                        "{lhs} = {lhs}° + ((H + {kappa} I)⁻¹ (R̃ − {kappa} {lhs}°ᵀ))ᵀ,  H = {} − {} {}ᵀ / {n},  R̃ = {} − {} ({} − {lhs}° {})ᵀ / {n}   (the ridge: the posterior mode under `{}`, jointly with {m}, as a step from {w}°: Cholesky solve of the {l} × {l} system; an empty component takes the prior's mode 0)",
                        st(StatKind::LatentScatter),
                        st(StatKind::LatentSum),
                        st(StatKind::LatentSum),
                        st(StatKind::Cross),
                        st(StatKind::LatentSum),
                        st(StatKind::Sum),
                        st(StatKind::LatentSum),
                        plan.model.factors[factor].text,
                    );
                }
                format!(
                    "{lhs} = {lhs}° + ({} − {} ({} − {lhs}° {})ᵀ / {n})ᵀ ({} − {} {}ᵀ / {n})⁻¹   (least squares jointly with {m}, as a step from {w}°: Cholesky solve of the {l} × {l} system; {w}° kept if {empty}it is singular)",
                    st(StatKind::Cross),
                    st(StatKind::LatentSum),
                    st(StatKind::Sum),
                    st(StatKind::LatentSum),
                    st(StatKind::LatentScatter),
                    st(StatKind::LatentSum),
                    st(StatKind::LatentSum),
                )
            } else {
                format!(
                    "{lhs} = {lhs}° + ({} − {w} {}) / {n}   (new {w})",
                    st(StatKind::Sum),
                    st(StatKind::LatentSum),
                )
            }
        }
        Rule::Covariance | Rule::DiagonalVariances | Rule::Variance => {
            let mut linear = false;
            let scatters: Vec<String> = u
                .sources
                .iter()
                .map(|&b| {
                    let block = &plan.blocks[b];
                    let x = data(plan, block.data);
                    if let BlockKind::StudentT { mean, .. } = block.kind {
                        let m = p(plan, mean);
                        return format!("Σ_n {r}w[n,k] ({x} − {m})({x} − {m})ᵀ");
                    }
                    if let BlockKind::Regression { .. } = block.kind {
                        // (From the statistics about the coefficients before the M-step.)
                        let mean = regression_mean(plan, b, k_index(plan));
                        return format!("Σ_n {r}({x} − ({mean}))²");
                    }
                    if let BlockKind::MvRegression { .. } = block.kind {
                        let mean = regression_mean(plan, b, k_index(plan));
                        return match u.rule {
                            Rule::DiagonalVariances => {
                                format!("Σ_n {r}({x} − ({mean}))²  (elementwise)")
                            }
                            _ => format!("Σ_n {r}({x} − ({mean}))({x} − ({mean}))ᵀ"),
                        };
                    }
                    if let BlockKind::LinearGaussian { loading, mean, .. } = block.kind {
                        linear = true;
                        let (h, _) = continuous(plan);
                        let e = format!("{x} − {} {h}[n] − {}", p(plan, loading), p(plan, mean));
                        return match u.rule {
                            Rule::DiagonalVariances => format!("Σ_n {r}E_h[({e})∘({e})]"),
                            _ => format!("Σ_n {r}E_h[‖{e}‖²]"),
                        };
                    }
                    let (BlockKind::MvNormal { mean, .. } | BlockKind::Normal { mean, .. }) =
                        block.kind
                    else {
                        return String::new();
                    };
                    let m = p(plan, mean);
                    match (u.rule, block.kind) {
                        (Rule::Covariance, _) => format!("Σ_n {r}({x} − {m})({x} − {m})ᵀ"),
                        (_, BlockKind::Normal { .. }) => format!("Σ_n {r}({x} − {m})²"),
                        (Rule::DiagonalVariances, _) => {
                            format!("Σ_n {r}({x} − {m})∘({x} − {m})")
                        }
                        _ => format!("Σ_n {r}‖{x} − {m}‖²"),
                    }
                })
                .collect();
            let dims: Vec<String> = u
                .sources
                .iter()
                .map(|&b| match plan.model.vars[plan.blocks[b].data].ty {
                    ElemType::Vector(d) if u.rule == Rule::Variance => {
                        format!("{}·", plan.model.sets[d].name)
                    }
                    _ => String::new(),
                })
                .collect();
            let denom = if u.rule == Rule::Variance && dims.iter().any(|d| !d.is_empty()) {
                let nk = count_k(plan);
                let parts: Vec<String> = dims.iter().map(|d| format!("{d}{nk}")).collect();
                let c = parts.join(" + ");
                if per_k || !has_k {
                    c
                } else {
                    format!("Σ_k ({c})")
                }
            } else {
                count()
            };
            let reg = match u.rule {
                Rule::Covariance => "ε·diag(s)",
                Rule::DiagonalVariances => "ε·s",
                _ => "ε·D·min(s)",
            };
            let new = if linear {
                "new loadings and means"
            } else {
                "new means"
            };
            let scatter = over(scatters);
            let lhs = lhs.trim_end();
            let written = u.prior.as_ref().map(|p| (p.family, &plan.model.factors[p.factor].text));
            match written {
                Some((PriorFamily::InvWishart { dof, scale }, statement)) => {
                    let d = match var.ty {
                        ElemType::Cov(d) => plan.model.sets[d].name.clone(),
                        _ => "D".into(),
                    };
                    let (extra, rows, with) = mean_prior_terms(plan, u.param, true);
                    let scale = scale_matrix_text(plan, scale);
                    let rows = match rows.as_str() {
                        "" => "1".to_string(),
                        "1" => "2".to_string(),
                        k => format!("1 + {k}"),
                    };
                    format!(
                        "{lhs} = ({scatter} + {scale}{extra}) / ({denom}{}{d} + {rows})   ({new}; the posterior mode under `{statement}`{with})",
                        signed(dof),
                    )
                }
                Some((PriorFamily::InvGamma { shape, scale }, statement)) => {
                    let (extra, rows, with) = mean_prior_terms(plan, u.param, false);
                    // A spherical variance's mean prior adds a row of D coordinates.
                    let spherical = !extra.is_empty()
                        && self_is_scalar(plan, u.param)
                        && mean_is_vector(plan, u.param);
                    let tied = rows.len() > 1 || rows.chars().any(char::is_alphabetic);
                    if spherical {
                        let extra = extra.replacen(" (", " ‖", 1).replacen(")²", "‖²", 1);
                        let values = if tied { format!("{rows}·D") } else { "D".into() };
                        return format!(
                            "{lhs} = ({scatter} + {}{extra}) / ({denom}{} + {values})   ({new}; the posterior mode under `{statement}`: 2b and 2a + 2{})",
                            hyper_text(plan, scale, 2.0),
                            signed(2.0 * shape + 2.0).trim_end_matches(" + "),
                            with.replace("(one more row)", "(one more row of D coordinates)")
                                .replace("(one more row per component)", "(one more row of D coordinates per component)")
                        );
                    }
                    let count = match rows.as_str() {
                        "" => signed(2.0 * shape + 2.0).trim_end_matches(" + ").to_string(),
                        "1" => signed(2.0 * shape + 3.0).trim_end_matches(" + ").to_string(),
                        k => format!("{}{k}", signed(2.0 * shape + 2.0)),
                    };
                    format!(
                        "{lhs} = ({scatter} + {}{extra}) / ({denom}{count})   ({new}; the posterior mode under `{statement}`: 2b and 2a + 2{with})",
                        hyper_text(plan, scale, 2.0),
                    )
                }
                _ => format!(
                    "{lhs} = ({scatter} + {reg}) / ({denom})   ({new}; the MAP update under the \
                     prior −½ tr({reg}·{lhs}⁻¹), s = the data columns' variances, ε = reg_covar)"
                ),
            }
        }
        Rule::Rate | Rule::Probability => {
            let sums = u
                .sources
                .iter()
                .map(|&b| stat_name(plan, b, StatKind::Sum))
                .collect();
            let clamp = if u.rule == Rule::Rate {
                "floored at 1e-12"
            } else {
                "clamped to [1e-12, 1 − 1e-12]"
            };
            match u.prior.as_ref().map(|p| (p.family, &plan.model.factors[p.factor].text)) {
                Some((PriorFamily::Gamma { shape, rate }, statement)) => format!(
                    "{lhs} = ({}{}) / ({}{})   ({clamp}; the posterior mode under `{statement}`)",
                    over(sums),
                    signed(shape - 1.0).trim_end_matches(" + "),
                    count(),
                    signed(rate).trim_end_matches(" + ")
                ),
                Some((PriorFamily::Beta { a, b }, statement)) => format!(
                    "{lhs} = ({}{}) / ({}{})   ({clamp}; the posterior mode under `{statement}`)",
                    over(sums),
                    signed(a - 1.0).trim_end_matches(" + "),
                    count(),
                    signed(a + b - 2.0).trim_end_matches(" + ")
                ),
                _ => format!("{lhs} = {} / {}   ({clamp})", over(sums), count()),
            }
        }
        Rule::BinomialProb => {
            // Successes over the expected number of trials, pooled.
            let names = |kind| {
                u.sources
                    .iter()
                    .map(|&b| stat_name(plan, b, kind))
                    .collect::<Vec<_>>()
            };
            let (sums, trials) = (over(names(StatKind::Sum)), over(names(StatKind::Trials)));
            match u.prior.as_ref().map(|p| (p.family, &plan.model.factors[p.factor].text)) {
                Some((PriorFamily::Beta { a, b }, statement)) => format!(
                    "{lhs} = ({sums}{}) / ({trials}{})   (clamped to [1e-12, 1 − 1e-12]; the posterior mode under `{statement}`)",
                    signed(a - 1.0).trim_end_matches(" + "),
                    signed(a + b - 2.0).trim_end_matches(" + ")
                ),
                _ => format!("{lhs} = {sums} / {trials}   (clamped to [1e-12, 1 − 1e-12])"),
            }
        }
        Rule::GeometricProb => {
            let sums: Vec<String> = u
                .sources
                .iter()
                .map(|&b| stat_name(plan, b, StatKind::Sum))
                .collect();
            let total = format!("{} + {}", count(), over(sums.clone()));
            match u.prior.as_ref().map(|p| (p.family, &plan.model.factors[p.factor].text)) {
                Some((PriorFamily::Beta { a, b }, statement)) => format!(
                    "{lhs} = ({}{}) / ({total}{})   (at most 1 − 1e-12; the posterior mode under `{statement}`)",
                    count(),
                    signed(a - 1.0).trim_end_matches(" + "),
                    signed(a + b - 2.0).trim_end_matches(" + ")
                ),
                _ => format!("{lhs} = {} / ({total})   (at most 1 − 1e-12)", count()),
            }
        }
        Rule::GammaRate => {
            let shape = gamma_shape(plan, u);
            let sums = u
                .sources
                .iter()
                .map(|&b| stat_name(plan, b, StatKind::Sum))
                .collect();
            match u.prior.as_ref().map(|p| (p.family, &plan.model.factors[p.factor].text)) {
                Some((PriorFamily::Gamma { shape: a, rate }, statement)) => format!(
                    "{lhs} = ({shape} · {}{}) / ({}{})   (1e-12 if zero; the posterior mode under `{statement}`)",
                    count(),
                    signed(a - 1.0).trim_end_matches(" + "),
                    over(sums),
                    signed(rate).trim_end_matches(" + ")
                ),
                _ => format!("{lhs} = {shape} · {} / {}   (1e-12 for an empty component; the shape {shape} is known)", count(), over(sums)),
            }
        }
        Rule::ExponentialRate => {
            let sums = u
                .sources
                .iter()
                .map(|&b| stat_name(plan, b, StatKind::Sum))
                .collect();
            match u.prior.as_ref().map(|p| (p.family, &plan.model.factors[p.factor].text)) {
                Some((PriorFamily::Gamma { shape, rate }, statement)) => format!(
                    "{lhs} = ({}{}) / ({}{})   (1e-12 if zero; the posterior mode under `{statement}`)",
                    count(),
                    signed(shape - 1.0).trim_end_matches(" + "),
                    over(sums),
                    signed(rate).trim_end_matches(" + ")
                ),
                _ => format!("{lhs} = {} / {}   (1e-12 for an empty component)", count(), over(sums)),
            }
        }
        Rule::Probabilities => {
            let sums = u
                .sources
                .iter()
                .map(|&b| stat_name(plan, b, StatKind::Counts))
                .collect();
            format!("{lhs}[c] ∝ {}[c]   (normalised to sum to 1)", over(sums))
        }
    }
}

/// Whether parameter `v` is one number per component (a variance).
fn self_is_scalar(plan: &Plan, v: VarId) -> bool {
    matches!(plan.model.vars[v].ty, ElemType::Positive | ElemType::Real)
}

/// Whether the mean whose prior is scaled by `scale` is a vector.
fn mean_is_vector(plan: &Plan, scale: VarId) -> bool {
    plan.updates.iter().any(|v| {
        matches!(v.prior, Some(Prior { family: PriorFamily::NormalMean { scale: s, .. }, .. }) if s == scale)
            && matches!(plan.model.vars[v.param].ty, ElemType::Vector(_))
    })
}

/// With a prior on the mean scaled by covariance `scale`: the term it adds to the scatter,
/// the one row it adds to the count, and a note naming the prior.
/// A normal prior on the means scaled by `scale`: its term in the scale's update (`+ κ (μ −
/// m0)(μ − m0)ᵀ`, summed over the components when they share the scale), the rows it adds
/// (`1`, the components' set when shared, or empty without such a prior) and the words.
fn mean_prior_terms(plan: &Plan, scale: VarId, outer: bool) -> (String, String, String) {
    plan.updates
        .iter()
        .find_map(|v| match v.prior {
            Some(Prior {
                family:
                    PriorFamily::NormalMean {
                        kappa, scale: s, ..
                    },
                factor,
            }) if s == scale && v.rule == Rule::Loadings => {
                // The loadings' prior `w_d ~ N(0, ψ_d I / α)`: each row's squares, L rows each
                // (every component's when they share the noise).
                let var = &plan.model.vars[v.param];
                let l = continuous(plan).1;
                let shared = match (
                    var.plates.as_slice(),
                    plan.model.vars[scale].plates.is_empty(),
                ) {
                    ([k], true) => Some(plan.model.sets[*k].name.clone()),
                    _ => None,
                };
                // One variance for every coordinate (probabilistic PCA): every loading's square,
                // D L of them.
                let isotropic = plan.model.vars[scale].ty == ElemType::Positive;
                let per_row = match var.ty {
                    ElemType::Matrix(d, _) if isotropic => {
                        format!("{}·{l}", plan.model.sets[d].name)
                    }
                    _ => l.to_string(),
                };
                let (sum, rows) = match &shared {
                    Some(k) => ("Σ_k ", format!("{k}·{per_row}")),
                    None => ("", per_row),
                };
                let at = if var.plates.is_empty() { "" } else { "[k]" };
                let entry = if isotropic { "" } else { "_d" };
                let extra = if outer {
                    format!(" + {kappa} {sum}{}{at} {}{at}ᵀ", var.name, var.name)
                } else {
                    format!(" + {kappa} {sum}‖{}{at}{entry}‖²", var.name)
                };
                let statement = &plan.model.factors[factor].text;
                let words = format!(
                    " and `{statement}` ({rows} more values{})",
                    if shared.is_some() {
                        ", every component's"
                    } else {
                        ""
                    }
                );
                Some((extra, rows, words))
            }
            Some(Prior {
                family:
                    PriorFamily::NormalMean {
                        mean,
                        kappa,
                        scale: s,
                    },
                factor,
            }) if s == scale => {
                let var = &plan.model.vars[v.param];
                let at = if var.plates.is_empty() { "" } else { "[k]" };
                // Per-component means over a shared scale: every component's deviation.
                let shared = match (
                    var.plates.as_slice(),
                    plan.model.vars[scale].plates.is_empty(),
                ) {
                    ([k], true) => Some(plan.model.sets[*k].name.clone()),
                    _ => None,
                };
                let d = format!("({}{at} − {})", var.name, hyper_text(plan, mean, 1.0));
                let sum = if shared.is_some() { "Σ_k " } else { "" };
                let extra = if outer {
                    format!(" + {kappa} {sum}{d}{d}ᵀ")
                } else {
                    format!(" + {kappa} {sum}{d}²")
                };
                let statement = &plan.model.factors[factor].text;
                Some(match shared {
                    Some(k) => (
                        extra,
                        k,
                        format!(" and `{statement}` (one more row per component)"),
                    ),
                    None => (
                        extra,
                        "1".into(),
                        format!(" and `{statement}` (one more row)"),
                    ),
                })
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// The log-density of a prior family, as `explain` defines it.
fn density_text(family: PriorFamily) -> &'static str {
    match family {
        PriorFamily::Dirichlet { .. } => "ln Dir(p | α) = ln Γ(Kα) − K ln Γ(α) + (α − 1) Σ_j ln p_j   (K entries of p)",
        PriorFamily::InvGamma { .. } => "ln IG(v | a, b) = a ln b − ln Γ(a) − (a + 1) ln v − b / v   (for a ≤ 0, improper: the last two terms)",
        PriorFamily::InvWishart { .. } => "ln IW(Σ | ν, Ψ0) = (ν/2) ln|Ψ0| − (νD/2) ln 2 − ln Γ_D(ν/2) − ((ν + D + 1)/2) ln|Σ| − ½ tr(Ψ0 Σ⁻¹)   (Ψ0 = c·I or a data summary; for ν ≤ D − 1, improper: the last two terms)",
        PriorFamily::Gamma { .. } => "ln Gamma(λ | a, b) = a ln b − ln Γ(a) + (a − 1) ln λ − b λ   (shape a, rate b; for b = 0, improper: (a − 1) ln λ)",
        PriorFamily::Beta { .. } => "ln Beta(p | a, b) = (a − 1) ln p + (b − 1) ln (1 − p) − ln B(a, b)",
        PriorFamily::NormalMean { .. } => "ln N(μ | m0, Σ / κ) = −½ (D ln 2π − D ln κ + ln|Σ| + κ (μ − m0)ᵀ Σ⁻¹ (μ − m0))   (Σ diagonal for a diagonal covariance, a variance for a Normal)",
    }
}

/// `times` times a hyperparameter: a number, or `c·cov(x)`.
fn hyper_text(plan: &Plan, h: Hyper, times: f64) -> String {
    match h {
        Hyper::Number(v) => format!("{}", times * v),
        Hyper::Data {
            summary,
            data,
            factor,
        } => {
            let f = times * factor;
            let summary = format!("{}({})", summary.name(), plan.name(data));
            if f == 1.0 {
                summary
            } else {
                format!("{f}·{summary}")
            }
        }
    }
}

/// What each prior hyperparameter that summarises the data stands for.
fn data_hyperparameters(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    for u in &plan.updates {
        let Some(prior) = &u.prior else { continue };
        let hyper = match prior.family {
            PriorFamily::NormalMean { mean, .. } => mean,
            PriorFamily::InvWishart { scale, .. } | PriorFamily::InvGamma { scale, .. } => scale,
            _ => continue,
        };
        let Hyper::Data { summary, data, .. } = hyper else {
            continue;
        };
        let x = plan.name(data);
        let n = &plan.model.sets[plan.rows()].name;
        let shared = matches!(plan.model.vars[u.param].ty, ElemType::Positive)
            && matches!(plan.model.vars[data].ty, ElemType::Vector(_));
        let what = match summary {
            Summary::Mean => format!("Σ_n {x}[n] / {n}, the mean of each coordinate of {x}"),
            Summary::Var if shared => format!(
                "Σ_n ({x}[n] − mean({x}))² / ({n} − 1), the sample variance of each coordinate of {x}, averaged over the coordinates (one variance shared by them)"
            ),
            Summary::Var => format!(
                "Σ_n ({x}[n] − mean({x}))² / ({n} − 1), the sample variance of each coordinate of {x}"
            ),
            Summary::Cov => format!(
                "Σ_n ({x}[n] − mean({x}))({x}[n] − mean({x}))ᵀ / ({n} − 1), the sample covariance of {x}"
            ),
        };
        lines.push(format!(
            "{}({x}) = {what}: in the prior on {}, computed once when the data are bound",
            summary.name(),
            plan.name(u.param)
        ));
    }
    lines
}

/// An inverse-Wishart scale matrix: `c·I` or `c·cov(x)`.
fn scale_matrix_text(plan: &Plan, h: Hyper) -> String {
    match h {
        Hyper::Number(c) => format!("{c}·I"),
        data => hyper_text(plan, data, 1.0),
    }
}

/// ` + x + ` or ` − |x| + ` (a term in a sum, then the start of the next).
fn signed(x: f64) -> String {
    if x < 0.0 {
        format!(" − {} + ", -x)
    } else {
        format!(" + {x} + ")
    }
}

/// The M-step of a parameter with a conjugate prior: the posterior mode.
fn map_formula(plan: &Plan, u: &Update, prior: &Prior, lhs: &str) -> String {
    let var = &plan.model.vars[u.param].name;
    let statement = &plan.model.factors[prior.factor].text;
    let PriorFamily::Dirichlet { concentration: a } = prior.family else {
        unreachable!("the formulas of scale priors are written with the scales")
    };
    // (Rounded to 12 significant digits: `1.1 − 1` prints as 0.1, not 0.10000000000000009.)
    let pseudo: f64 = format!("{:.11e}", a - 1.0).parse().unwrap_or(a - 1.0);
    let counts = match u.rule {
        Rule::Weights => "N[k]".to_string(),
        Rule::InitialProbs => "S0[k]".to_string(),
        Rule::Transitions => "T[j,k]".to_string(),
        _ => {
            let sums: Vec<String> = u
                .sources
                .iter()
                .map(|&b| format!("{}[c]", stat_name(plan, b, StatKind::Counts)))
                .collect();
            sums.join(" + ")
        }
    };
    let target = match u.rule {
        Rule::Weights | Rule::InitialProbs => format!("{var}[k]"),
        Rule::Transitions => format!("{var}[j,k]"),
        _ => format!("{lhs}[c]"),
    };
    format!(
        "{target} ∝ {counts} + {pseudo}   (posterior mode under `{statement}`: α − 1 = {pseudo} pseudo-counts per entry; normalised to sum to 1)"
    )
}

/// "per component" or "shared (tied)".
fn sharing(c: PRef) -> &'static str {
    if c.per_component {
        "per component"
    } else {
        "shared (tied)"
    }
}

/// The derived updates of a plan in math notation.
pub fn explain(plan: &Plan) -> String {
    let mut out = String::new();
    let rn = &plan.model.sets[plan.rows()].name;
    let discrete = plan
        .latent
        .var_components()
        .map(|(z, k)| (plan.name(z), plan.model.sets[k].name.as_str()));
    let cont = plan
        .continuous
        .map(|c| (plan.name(c.var), plan.model.sets[c.dim].name.as_str()));
    let has_linear = plan
        .blocks
        .iter()
        .any(|b| matches!(b.kind, BlockKind::LinearGaussian { .. }));
    let chain = plan.chain().map(|(p0, a)| (plan.name(p0), plan.name(a)));
    let _ = writeln!(out, "model {}", plan.model.name);
    let _ = writeln!(out);
    let _ = writeln!(out, "Structure");
    match discrete {
        Some((zn, kn)) if chain.is_some() => {
            let _ = writeln!(
                out,
                "  latent   {zn}[n] ∈ {{0, …, {kn}−1}}, a first-order Markov chain along each sequence of rows in 0..{rn}"
            );
        }
        Some((zn, kn)) => {
            let _ = writeln!(
                out,
                "  latent   {zn}[n] ∈ {{0, …, {kn}−1}}, independent for n in 0..{rn}"
            );
        }
        None => {}
    }
    if let (Some(col), Some((zn, _))) = (plan.label_column(), discrete) {
        let _ = writeln!(
            out,
            "  labels   {zn}[n] is known where column `{col}` has a value (semi-supervised): there r[n,k] = 1 for the given k, 0 for the others, and the row's term of the objective is ln p(x[n], {zn}[n])"
        );
    }
    let row_weight = plan.row_weights.map(|w| plan.name(w));
    if let Some(wn) = row_weight {
        let unit = if chain.is_some() {
            "row n's sequence (one weight per sequence)"
        } else {
            "row n"
        };
        let _ = writeln!(
            out,
            "  weights  {wn}[n] ≥ 0 multiplies the statistics and the terms of the objective of {unit}: a row of weight 2 counts as two copies of it, of weight 0 as none"
        );
    }
    if let Some((hn, ln)) = cont {
        match discrete {
            Some((zn, _)) => {
                let _ = writeln!(
                    out,
                    "  latent   {hn}[n] ∈ ℝ^{ln}, {hn}[n] ~ N(0, I), independent of {zn} and for n in 0..{rn}"
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  latent   {hn}[n] ∈ ℝ^{ln}, {hn}[n] ~ N(0, I), independent for n in 0..{rn}; no discrete latent (a single component)"
                );
            }
        }
    }
    for f in &plan.model.factors {
        let _ = writeln!(out, "  factor   {}", f.text);
    }
    for (b, block) in plan.blocks.iter().enumerate() {
        let how = match block.kind {
            BlockKind::Regression { covariates, .. } => format!(
                "Normal regression on {} (weighted least squares per component)",
                data(plan, covariates)
            ),
            BlockKind::MvRegression {
                covariates, cov, ..
            } => format!(
                "multivariate Normal regression on {} ({} residual covariance; weighted least squares per component, one design for every response coordinate)",
                data(plan, covariates),
                if matches!(cov, Cov::Diag(_)) {
                    "diagonal"
                } else {
                    "full"
                }
            ),
            BlockKind::StudentT { nu, scale, .. } => format!(
                "multivariate Student-t, ν = {nu}: a Normal whose covariance the latent scale {}[n] ~ Gamma({}, {}) divides; E-step weights w = E[{}[n] | x, z] = (ν + D)/(ν + δ)",
                plan.name(scale),
                nu / 2.0,
                nu / 2.0,
                plan.name(scale)
            ),
            BlockKind::MvNormal {
                cov: Cov::Full(c), ..
            } => format!("multivariate Normal, full covariance {}", sharing(c)),
            BlockKind::MvNormal {
                cov: Cov::Diag(c), ..
            } => format!("multivariate Normal, diagonal covariance {}", sharing(c)),
            BlockKind::MvNormal {
                cov: Cov::Spherical(c),
                ..
            } => format!("multivariate Normal, spherical covariance {}", sharing(c)),
            BlockKind::MvNormal {
                cov: Cov::Fixed(c), ..
            } => format!(
                "multivariate Normal, known covariance {} (not estimated)",
                fixed_cov(c)
            ),
            BlockKind::Normal { .. } if block.log_scale => {
                "log-normal: a univariate Normal on ln x (mean and variance of ln x), with the Jacobian −ln x".into()
            }
            BlockKind::Normal { .. } => "univariate Normal (mean, variance)".into(),
            BlockKind::Poisson { .. } => "Poisson counts".into(),
            BlockKind::Exponential { .. } => "exponential positive values".into(),
            BlockKind::Gamma { shape, .. } => {
                format!("Gamma positive values, known shape {shape} (rate estimated)")
            }
            BlockKind::Geometric { .. } => "geometric counts (failures before a success)".into(),
            BlockKind::Binomial {
                trials: Trials::Known(t),
                ..
            } => format!("binomial counts of successes in {t} trials"),
            BlockKind::Binomial {
                trials: Trials::Column(t),
                ..
            } => format!(
                "binomial counts of successes in {} trials (a count column)",
                data(plan, t)
            ),
            BlockKind::Bernoulli { .. } => "independent Bernoulli bits".into(),
            BlockKind::Categorical { .. } => "categorical value".into(),
            BlockKind::Multinomial { .. } => "multinomial counts (the row's total known)".into(),
            BlockKind::LinearGaussian { noise, .. } => {
                let (h, _) = continuous(plan);
                let (kind, name) = match noise {
                    Cov::Spherical(_) | Cov::Fixed(_) => ("spherical", "probabilistic PCA"),
                    Cov::Diag(_) | Cov::Full(_) => ("diagonal", "factor analysis"),
                };
                match plan.latent {
                    _ if discrete.is_none() => {
                        format!("linear-Gaussian in {h}, {kind} noise ({name})")
                    }
                    _ if chain.is_some() => format!(
                        "linear-Gaussian in {h}, loadings and offset per component, {kind} noise {}",
                        sharing(noise.pref().expect("linear-Gaussian noise is a parameter"))
                    ),
                    _ => format!(
                        "linear-Gaussian in {h}, loadings and offset per component, {kind} noise {}: a mixture of {}",
                        sharing(noise.pref().expect("linear-Gaussian noise is a parameter")),
                        match noise {
                            Cov::Spherical(_) => "probabilistic PCA",
                            _ => "factor analysers",
                        }
                    ),
                }
            }
        };
        let _ = writeln!(out, "  block {b}  {} — {how}", plan.name(block.data));
        let _ = writeln!(out, "           missing cells: {}", missing_text(plan, b));
    }
    for line in data_hyperparameters(plan) {
        let _ = writeln!(out, "  hyper    {line}");
    }
    let _ = writeln!(out);
    let emissions: Vec<String> = (0..plan.blocks.len()).map(|b| density(plan, b).0).collect();
    let mut shown: Vec<String> = Vec::new();
    let mut densities = String::new();
    for b in 0..plan.blocks.len() {
        if let Some(d) = density(plan, b).1 {
            if !shown.contains(&d) {
                let _ = writeln!(densities, "    {d}");
                shown.push(d);
            }
        }
    }
    let posterior = if has_linear {
        posterior_lines(plan)
    } else {
        Vec::new()
    };
    let posterior_of_h = |out: &mut String, zn: &str, what: &str| {
        if let Some((hn, _)) = cont {
            let _ = writeln!(
                out,
                "  posterior of {hn} given {zn}[n] = k (Gaussian; {hn} is integrated out of {what} above):"
            );
            for line in &posterior {
                let _ = writeln!(out, "    {line}");
            }
        }
    };
    let hard = plan.model.e_step == EStepKind::Hard;
    // `ln w[k]` of a mixture's weights, or `ln (1/K)` for equal, fixed ones.
    let log_weight = match plan.latent {
        Latent::Categorical {
            weights: Some(w), ..
        } => Some(format!("ln {}[k]", plan.name(w))),
        Latent::Categorical {
            weights: None,
            components,
            ..
        } => Some(format!("ln (1/{})", plan.model.sets[components].name)),
        _ => None,
    };
    match (log_weight.as_deref(), chain, discrete) {
        (Some(log_w), _, Some((zn, _))) if hard => {
            let _ = writeln!(
                out,
                "E-step (hard, `estep hard`: each row's most probable value of {zn})"
            );
            let _ = writeln!(out, "  ℓ[n,k] = {log_w} + {}", emissions.join(" + "));
            out.push_str(&densities);
            let _ = writeln!(
                out,
                "  {zn}[n] = argmax_k ℓ[n,k]   (the lowest k on a tie),   r[n,k] = [k = {zn}[n]]"
            );
            let lowered = Program::lower(plan);
            for block in lowered.blocks.iter().filter(|b| b.scores.is_some()) {
                let _ = writeln!(
                    out,
                    "  scores of {}, every k at once: ‖x − μ[k]‖² = ‖x̃‖² − 2 x̃ᵀμ̃[k] + ‖μ̃[k]‖² (x̃, μ̃ centred at the mean of the means; one matrix product per block of rows); a row whose two best ℓ lie within their round-off bound is recomputed exactly, so {zn}[n] is the exact argmax",
                    block.statement
                );
            }
            let _ = writeln!(
                out,
                "  objective: Σ_n ℓ[n,{zn}[n]] = ln p(x, {zn} | θ), the complete-data log-likelihood (H(q) = 0), evaluated from the statistics (F below at θ); converged when no row changes its value"
            );
            posterior_of_h(&mut out, zn, "ℓ");
        }
        (Some(log_w), _, Some((zn, _))) => {
            if let Some((hn, _)) = cont {
                let _ = writeln!(
                    out,
                    "E-step (posterior of {zn}, in log space; then of {hn} given {zn}, in closed form)"
                );
            } else {
                let _ = writeln!(out, "E-step (posterior of {zn}, in log space)");
            }
            let _ = writeln!(out, "  ℓ[n,k] = {log_w} + {}", emissions.join(" + "));
            out.push_str(&densities);
            let _ = writeln!(out, "  r[n,k] = exp(ℓ[n,k] − logsumexp_j ℓ[n,j])");
            let _ = writeln!(out, "  ln p(x[n]) = logsumexp_k ℓ[n,k]");
            posterior_of_h(&mut out, zn, "ℓ");
        }
        (None, Some((p0, a)), Some((zn, _))) if hard => {
            let _ = writeln!(
                out,
                "E-step (hard, `estep hard`: the Viterbi path of {zn} along each sequence n = s, …, e)"
            );
            let _ = writeln!(out, "  ln b[n,k] = {}", emissions.join(" + "));
            out.push_str(&densities);
            let _ = writeln!(out, "  δ[s,k] = ln {p0}[k] + ln b[s,k];   δ[n,k] = max_j (δ[n−1,j] + ln {a}[j,k]) + ln b[n,k];   {zn}[e] = argmax_k δ[e,k], then back along the argmaxes");
            let _ = writeln!(
                out,
                "  r[n,k] = [k = {zn}[n]],   ξ[n,j,k] = [j = {zn}[n], k = {zn}[n+1]]"
            );
            let _ = writeln!(
                out,
                "  objective: Σ_sequences max_k δ[e,k] = ln p(x, {zn} | θ), the complete-data log-likelihood (H(q) = 0); converged when no row changes its state"
            );
            posterior_of_h(&mut out, zn, "ln b");
        }
        (None, Some((p0, a)), Some((zn, _))) => {
            if let Some((hn, _)) = cont {
                let _ = writeln!(
                    out,
                    "E-step (posterior of {zn}: scaled forward–backward along each sequence n = s, …, e; then of {hn} given {zn}, in closed form)"
                );
            } else {
                let _ = writeln!(
                    out,
                    "E-step (posterior of {zn}: scaled forward–backward along each sequence n = s, …, e)"
                );
            }
            let _ = writeln!(out, "  ln b[n,k] = {}", emissions.join(" + "));
            out.push_str(&densities);
            let _ = writeln!(out, "  b̃[n,k] = exp(ln b[n,k] − m[n]),  m[n] = max_k ln b[n,k]   (no underflow at any length)");
            let _ = writeln!(out, "  forward   α[s,k] ∝ {p0}[k] b̃[s,k];   α[n,k] ∝ b̃[n,k] Σ_j α[n−1,j] {a}[j,k];   c[n] = the normaliser (Σ_k α[n,k] = 1)");
            let _ = writeln!(
                out,
                "  backward  β[e,k] = 1;   β[n,j] = Σ_k {a}[j,k] b̃[n+1,k] β[n+1,k] / c[n+1]"
            );
            let _ = writeln!(
                out,
                "  r[n,k] = α[n,k] β[n,k]                                  = p({zn}[n] = k | x)"
            );
            let _ = writeln!(out, "  ξ[n,j,k] = α[n,j] {a}[j,k] b̃[n+1,k] β[n+1,k] / c[n+1]   = p({zn}[n] = j, {zn}[n+1] = k | x)");
            let _ = writeln!(out, "  ln p(x[s..e]) = Σ_n (ln c[n] + m[n])");
            posterior_of_h(&mut out, zn, "ln b");
        }
        (None, None, None) => {
            let (hn, _) = cont.expect("a plan without a discrete latent has a continuous one");
            let _ = writeln!(
                out,
                "E-step (posterior of {hn}: a Gaussian per row, in closed form)"
            );
            for line in &posterior {
                let _ = writeln!(out, "  {line}");
            }
            let _ = writeln!(out, "  ln p(x[n]) = {}", emissions.join(" + "));
            out.push_str(&densities);
        }
        _ => unreachable!("a plan has a mixture, a chain or a single component"),
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Expected sufficient statistics (sums over rows: additive across chunks)"
    );
    if let Some(wn) = row_weight {
        let _ = writeln!(
            out,
            "  every sum over rows is weighted: Σ_n (…) below stands for Σ_n {wn}[n] (…), and N for Σ_n {wn}[n]"
        );
    }
    match (discrete.is_some(), row_weight) {
        (true, _) => {
            let _ = writeln!(out, "  N[k] = Σ_n r[n,k]");
        }
        (false, None) => {
            let _ = writeln!(
                out,
                "  N = the number of rows (a single component: every row has weight 1)"
            );
        }
        (false, Some(wn)) => {
            let _ = writeln!(
                out,
                "  N = Σ_n {wn}[n], the rows' total weight (a single component)"
            );
        }
    }
    if chain.is_some() {
        let _ = writeln!(
            out,
            "  S0[k] = Σ_sequences r[s,k]   (first row s of each sequence)"
        );
        let _ = writeln!(
            out,
            "  T[j,k] = Σ_n ξ[n,j,k]   (consecutive rows of the same sequence)"
        );
    }
    let r = weight(plan);
    for (b, block) in plan.blocks.iter().enumerate() {
        let x = data(plan, block.data);
        let c = centre(plan, b);
        let hn = cont.map_or("h", |(h, _)| h);
        let (d, l) = (data_dim(plan, b), cont.map_or("L", |(_, l)| l));
        for &s in block.kind.stats() {
            let what = match s {
                StatKind::Sum if matches!(block.kind, BlockKind::StudentT { .. }) => {
                    format!("Σ_n {r}w[n,k] ({x} − {c})")
                }
                StatKind::Sum if !c.is_empty() => format!("Σ_n {r}({x} − {c})"),
                StatKind::Sum => format!("Σ_n {r}{x}"),
                StatKind::LogSum => format!("Σ_n {r}ln {x}   (for the objective only)"),
                StatKind::DesignScatter => {
                    let (_, intercept, covariates) =
                        block.kind.regression().expect("a regression block");
                    let u = data(plan, covariates);
                    match intercept {
                        Some(_) => format!("Σ_n {r}a[n] a[n]ᵀ,  a[n] = ({u}, 1)"),
                        None => format!("Σ_n {r}{u} {u}ᵀ"),
                    }
                }
                StatKind::DesignCross => {
                    let (_, intercept, covariates) =
                        block.kind.regression().expect("a regression block");
                    let a = match intercept {
                        None => data(plan, covariates),
                        Some(_) => "a[n]".to_string(),
                    };
                    let e = if matches!(block.kind, BlockKind::MvRegression { .. }) {
                        " e[n]ᵀ".to_string()
                    } else {
                        " e[n]".to_string()
                    };
                    format!(
                        "Σ_n {r}{a}{e},  e[n] = {x} − ({}) under the coefficients before the M-step",
                        regression_mean(plan, b, &format!("°{}", k_index(plan)))
                    )
                }
                StatKind::Scatter if matches!(block.kind, BlockKind::StudentT { .. }) => {
                    format!("Σ_n {r}w[n,k] ({x} − {c})({x} − {c})ᵀ")
                }
                StatKind::ScaleWeight => format!("Σ_n {r}w[n,k],  w = (ν + D)/(ν + δ[n,k]) under the E-step's parameters (Sum and Scatter above are weighted by r w)"),
                StatKind::ScaleConstant => format!("Σ_n {r}[(D/2 + ν/2 − 1) E[ln u] − (ν/2) w + H(q(u))],  q(u) = Gamma((ν + D)/2, (ν + δ)/2)   (for the objective only)"),
                StatKind::SumSq if matches!(block.kind, BlockKind::Regression { .. }) => {
                    format!("Σ_n {r}e[n]²")
                }
                StatKind::SumSq if matches!(block.kind, BlockKind::MvRegression { .. }) => {
                    format!("Σ_n {r}e[n]²  (elementwise)")
                }
                StatKind::Scatter if matches!(block.kind, BlockKind::MvRegression { .. }) => {
                    format!("Σ_n {r}e[n] e[n]ᵀ")
                }
                StatKind::Trials => match block.kind.trials() {
                    Some(Trials::Column(t)) => format!("Σ_n {r}{}", data(plan, t)),
                    Some(Trials::Known(t)) => {
                        format!("{t} Σ_n {r}= {t} N{}", k_index(plan))
                    }
                    None => unreachable!("a binomial block"),
                },
                StatKind::Scatter => format!("Σ_n {r}({x} − {c})({x} − {c})ᵀ"),
                StatKind::SumSq => format!("Σ_n {r}({x} − {c})²  (elementwise)"),
                StatKind::Counts => match block.kind {
                    BlockKind::Multinomial { .. } => {
                        format!("Σ_n {r}{x}_c  for each category c (the counts)")
                    }
                    _ => format!("Σ_n {r}[{x} = c]  for each category c"),
                },
                StatKind::LatentSum => format!("Σ_n {r}E_h[{hn}[n]]"),
                StatKind::Cross => {
                    let w = loading_before(plan, b);
                    format!("Σ_n {r}E_h[{hn}[n] ({x} − {c} − {w} {hn}[n])ᵀ]   ({l} × {d}: the latent against the residual)")
                }
                StatKind::LatentScatter => {
                    format!("Σ_n {r}E_h[{hn}[n] {hn}[n]ᵀ]   ({l} × {l})")
                }
                StatKind::ResidualSq => {
                    let w = loading_before(plan, b);
                    format!("Σ_n {r}E_h[({x} − {c} − {w} {hn}[n])²]  (elementwise)")
                }
                StatKind::GapEntropy => {
                    format!("Σ_n {r}H[{x}_missing | {x}_observed]")
                }
            };
            let _ = writeln!(out, "  {} = {what}", stat_name(plan, b, s));
        }
    }
    if plan.blocks.iter().any(|b| {
        matches!(
            b.kind,
            BlockKind::MvNormal { .. }
                | BlockKind::Normal { .. }
                | BlockKind::StudentT { .. }
                | BlockKind::Regression { .. }
                | BlockKind::MvRegression { .. }
        )
    }) || has_linear
    {
        let _ = writeln!(out, "  (θ° is a parameter before the M-step: Gaussian statistics are kept about the old means)");
    }
    if has_linear {
        let _ = writeln!(
            out,
            "  (E_h is under the E-step's q(h), computed at θ°: the statistics are centred at the mean it used)"
        );
    }
    // (Variational Bayes adds each row's offsets: its E-step passes over the rows.)
    if plan.summarised() && plan.model.method != Method::Vb {
        if let Some(b) = plan
            .blocks
            .iter()
            .position(|b| matches!(b.kind, BlockKind::LinearGaussian { .. }))
        {
            let x = plan.name(plan.blocks[b].data);
            let pre = plan.block_prefix(b);
            let BlockKind::LinearGaussian { mean, .. } = plan.blocks[b].kind else {
                unreachable!("a linear-Gaussian block")
            };
            let mu = plan.name(mean.param);
            let _ = writeln!(
                out,
                "  With one component every statistic is linear in the data's mean x̄ = Σ_n {x}[n] / N and scatter S = Σ_n ({x}[n] − x̄)({x}[n] − x̄)ᵀ,"
            );
            let _ = writeln!(
                out,
                "  computed once; when N > D and no cell is missing an iteration uses them instead of the rows, O(D² L) whatever N:"
            );
            let w = loading_before(plan, b);
            let _ = writeln!(
                out,
                "    the D + 1 pseudo-rows p_j (the rows of a square root R of S, Rᵀ R = S, by QR) and p_0 = √N (x̄ − {mu}°), with Σ_j p_j p_jᵀ = Σ_n ({x}[n] − {mu}°)({x}[n] − {mu}°)ᵀ,"
            );
            let _ = writeln!(
                out,
                "    go through the per-row E-step with unit weights: ĥ_j = B p_j,  ẽ_j = p_j − {w} ĥ_j,"
            );
            let _ = writeln!(
                out,
                "    {pre}_sum = N (x̄ − {mu}°),  {pre}_h_sum = B {pre}_sum,  {pre}_resid_sq = Σ_j ẽ_j∘ẽ_j + N diag({w} G {w}ᵀ),"
            );
            let _ = writeln!(
                out,
                "    {pre}_cross = Σ_j ĥ_j ẽ_jᵀ − N G {w}ᵀ,  {pre}_h_scatter = N G + Σ_j ĥ_j ĥ_jᵀ,"
            );
            let _ = writeln!(
                out,
                "    Σ_n ln p({x}[n]) = −½ (N D ln 2π + N ln|W Wᵀ + Ψ| + Σ_j (ẽ_jᵀ Ψ⁻¹ ẽ_j + ‖ĥ_j‖²))"
            );
        }
    }
    let _ = writeln!(out);
    if has_linear {
        let _ = writeln!(
            out,
            "M-step (closed form; loadings first, then the means, then the scales that use them)"
        );
    } else {
        let _ = writeln!(
            out,
            "M-step (closed form; means first, then the scales that use them)"
        );
    }
    // The order of the lowered program, which the generated code and the executor follow.
    let program = Program::lower(plan);
    let vb = plan.model.method == Method::Vb;
    if vb {
        let _ = writeln!(
            out,
            "  (variational Bayes: the parameters with a prior have the posteriors below instead)"
        );
    }
    // Under variational Bayes a posterior's strength has a step of its own; parameters with a
    // prior are shown in the variational section.
    let shown = program
        .m_step
        .iter()
        .filter(|s| s.param < plan.updates.len())
        .map(|s| &plan.updates[s.param])
        .filter(|u| !(vb && u.prior.is_some()));
    for u in shown {
        let _ = writeln!(out, "  {}", update_formula(plan, u));
        if matches!(
            u.rule,
            Rule::DiagonalVariances | Rule::Variance | Rule::Covariance
        ) {
            for &b in &u.sources {
                if matches!(plan.blocks[b].kind, BlockKind::LinearGaussian { .. }) {
                    for line in residual_lines(plan, b) {
                        let _ = writeln!(out, "    {line}");
                    }
                }
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "ELBO");
    let latents = match (discrete, cont) {
        (Some((zn, _)), Some((hn, _))) => format!("{zn}, {hn}"),
        (Some((zn, _)), None) => zn.to_string(),
        (None, Some((hn, _))) => hn.to_string(),
        (None, None) => unreachable!("a plan has a latent"),
    };
    let _ = writeln!(out, "  F(q, θ) = E_q[ln p(x, {latents} | θ)] + H(q)");
    let terms: Vec<String> = (0..plan.blocks.len())
        .map(|b| match plan.blocks[b].kind {
            BlockKind::LinearGaussian { .. } => linear_elbo_term(plan, b),
            _ => emissions[b].clone(),
        })
        .collect();
    let linear_blocks: Vec<usize> = (0..plan.blocks.len())
        .filter(|&b| matches!(plan.blocks[b].kind, BlockKind::LinearGaussian { .. }))
        .collect();
    let mut explained = false;
    match (log_weight.as_deref(), chain) {
        (Some(log_w), _) => {
            let _ = writeln!(
                out,
                "          = Σ_k N[k] {log_w} + Σ_n Σ_k r[n,k] ({}) − Σ_n Σ_k r[n,k] ln r[n,k]",
                terms.join(" + ")
            );
        }
        (None, Some((p0, a))) => {
            let _ = writeln!(
                out,
                "          = Σ_k S0[k] ln {p0}[k] + Σ_j Σ_k T[j,k] ln {a}[j,k] + Σ_n Σ_k r[n,k] ({}) + H(q)",
                terms.join(" + ")
            );
            let zn = discrete.map_or("z", |(z, _)| z);
            if hard {
                // A point mass: no entropy (said on the closing line).
            } else if let Some((hn, _)) = cont {
                let _ = writeln!(out, "  H(q), the entropy of the chain posterior of {zn} ({hn}'s is in the terms above), is ln p(x | θ°) − E_q[ln p(x, {zn} | θ°)] at the E-step's θ°, {hn} integrated out");
            } else {
                let _ = writeln!(out, "  H(q), the entropy of the chain posterior, is ln p(x | θ°) − E_q[ln p(x, {zn} | θ°)] at the E-step's θ°");
            }
        }
        (None, None) => {
            let _ = writeln!(out, "          = Σ_n ({})", terms.join(" + "));
            if linear_blocks.len() == plan.blocks.len() {
                let values: Vec<String> = linear_blocks
                    .iter()
                    .map(|&b| linear_elbo_value(plan, b))
                    .collect();
                let _ = writeln!(out, "          = {}", values.join(" + "));
                explained = true;
            }
        }
    }
    if !linear_blocks.is_empty() {
        if !explained {
            for &b in &linear_blocks {
                let _ = writeln!(out, "  with, from the statistics,");
                let _ = writeln!(
                    out,
                    "    Σ_n {r}({}) = {}",
                    linear_elbo_term(plan, b),
                    linear_elbo_value(plan, b)
                );
            }
        }
        let has_k = discrete.is_some();
        let rho: Vec<String> = linear_blocks
            .iter()
            .map(|&b| lin_sym(plan, b, "ρ", has_k))
            .collect();
        let m0: Vec<String> = linear_blocks
            .iter()
            .map(|&b| lin_sym(plan, b, "M°", has_k))
            .collect();
        let m: Vec<String> = linear_blocks
            .iter()
            .map(|&b| lin_sym(plan, b, "M", has_k))
            .collect();
        let _ = writeln!(
            out,
            "  where {} is computed as in the M-step with θ's loadings and means, and {} is {} at the E-step's θ°, under which q({}) was computed",
            rho.join(", "),
            m0.join(", "),
            m.join(", "),
            cont.map_or("h", |(h, _)| h)
        );
    }
    if plan.model.e_step == EStepKind::Hard {
        let _ = writeln!(out, "  computed from the statistics above; with the hard E-step F = ln p(x, z | θ) at its assignments (r is 0 or 1, H(q) = 0), and neither step decreases it");
    } else {
        let _ = writeln!(out, "  computed from the statistics above; F = ln p(x | θ) right after the E-step, and EM never decreases it");
    }
    let priors: Vec<&Prior> = plan
        .updates
        .iter()
        .filter_map(|u| u.prior.as_ref())
        .collect();
    // Under variational Bayes the priors enter through the KL terms of the ELBO (below).
    if !priors.is_empty() && !vb {
        let terms: Vec<String> = plan
            .updates
            .iter()
            .filter_map(|u| {
                let prior = u.prior.as_ref()?;
                let var = &plan.model.vars[u.param];
                let (name, args) = match prior.family {
                    PriorFamily::Dirichlet { concentration } => ("Dir", format!("{concentration}")),
                    PriorFamily::InvGamma { shape, scale } => {
                        ("IG", format!("{shape}, {}", hyper_text(plan, scale, 1.0)))
                    }
                    PriorFamily::InvWishart { dof, scale } => {
                        ("IW", format!("{dof}, {}", scale_matrix_text(plan, scale)))
                    }
                    PriorFamily::Gamma { shape, rate } => ("Gamma", format!("{shape}, {rate}")),
                    PriorFamily::Beta { a, b } => ("Beta", format!("{a}, {b}")),
                    PriorFamily::NormalMean { mean, kappa, scale } => {
                        let s = &plan.model.vars[scale];
                        let at = if s.plates.is_empty() { "" } else { "[k]" };
                        let mean = hyper_text(plan, mean, 1.0);
                        ("N", format!("{mean}, {}{at} / {kappa}", s.name))
                    }
                };
                let each = match (prior.family, var.ty) {
                    (PriorFamily::InvGamma { .. }, ElemType::PositiveVec(_))
                    | (PriorFamily::Beta { .. }, ElemType::ProbVec(_)) => "Σ_d ",
                    _ => "",
                };
                let entry = if each.is_empty() { "" } else { "_d" };
                Some(if var.plates.is_empty() {
                    format!("{each}ln {name}({}{entry} | {args})", var.name)
                } else {
                    format!("Σ_k {each}ln {name}({}[k]{entry} | {args})", var.name)
                })
            })
            .collect();
        let _ = writeln!(
            out,
            "MAP-EM: each step maximises F + ln p(θ), the log posterior up to a constant, with"
        );
        let _ = writeln!(out, "  ln p(θ) = {}", terms.join(" + "));
        // Each family's density, once, in the order the priors first appear.
        let mut shown: Vec<&str> = Vec::new();
        for p in &priors {
            let loadings = plan
                .updates
                .iter()
                .any(|u| u.rule == Rule::Loadings && u.prior.as_ref() == Some(*p));
            let text = if loadings {
                "ln N(W | 0, ψ / α) = Σ_d Σ_l −½ (ln 2π + ln (ψ_d / α) + α W_dl² / ψ_d)   (every loading, with its coordinate's noise variance ψ_d)"
            } else {
                density_text(p.family)
            };
            if !shown.contains(&text) {
                shown.push(text);
                let _ = writeln!(out, "  {text}");
            }
        }
        let _ = writeln!(
            out,
            "  BIC and AIC use ln p(x | θ) alone; a parameter with a written prior has no regularising prior (reg_covar)"
        );
    }
    if let Some(form) = &Program::lower(plan).inertia {
        let d: Vec<String> = form
            .dims
            .iter()
            .map(|&d| size_text(plan, &Size::Dim(d)))
            .collect();
        let k = plan
            .components()
            .map_or("1".to_string(), |k| plan.model.sets[k].name.clone());
        let _ = writeln!(
            out,
            "  inertia (within-cluster sum of squares) = Σ_n ‖x[n] − mean of its component‖² = −2c (F + N ln {k} + (N ({}) − M) / 2 · ln 2πc),  c = {}, M = the number of missing cells (over the observed cells only)",
            d.join(" + "),
            form.scale
        );
    }
    let _ = writeln!(out);
    let free: Vec<String> = program
        .params
        .iter()
        .filter(|p| p.free != Size::Dim(Dim::Lit(0)))
        .map(|p| size_text(plan, &p.free))
        .collect();
    if plan.model.method == Method::Vb {
        variational(plan, &mut out);
    } else {
        let _ = writeln!(out, "Free parameters (BIC, AIC): {}", free.join(" + "));
        if let Some(wn) = row_weight {
            let _ = writeln!(out, "BIC counts Σ_n {wn}[n] observations");
        }
    }
    out
}

/// The variational-Bayes section of `explain` (`method vb`): each parameter's posterior, what
/// the E-step reads of it, and the ELBO.
fn variational(plan: &Plan, out: &mut String) {
    let program = Program::lower(plan);
    let latents = match (
        plan.latent.var_components().map(|(z, _)| plan.name(z)),
        plan.continuous.map(|c| plan.name(c.var)),
    ) {
        (Some(z), Some(h)) => format!("q({z}, {h})"),
        (Some(z), None) => format!("q({z})"),
        (None, Some(h)) => format!("q({h})"),
        (None, None) => "q(z)".into(),
    };
    let _ = writeln!(
        out,
        "Variational Bayes (method vb): {latents} q(θ), every parameter with a prior has a posterior in its prior's family"
    );
    let _ = writeln!(
        out,
        "  kept as its mean (the parameter's slot) and its strength (`_concentration`, `_shape`, `_count`, `_dof`, `_kappa`);"
    );
    let _ = writeln!(
        out,
        "  N_k, S_k as in the M-step above (responsibility-weighted counts, sums and scatters)"
    );
    for (i, u) in plan.updates.iter().enumerate() {
        let Some(prior) = &u.prior else {
            let _ = writeln!(
                out,
                "  {:<8} no prior: a point estimate, updated as by EM",
                plan.name(u.param)
            );
            continue;
        };
        let name = plan.name(u.param);
        let strength = program
            .params
            .iter()
            .find(|p| p.posterior_of == Some(i))
            .map_or(String::new(), |p| p.name.clone());
        // A scale the components share has one posterior, from every component's rows.
        let shared = plan.model.vars[u.param].plates.is_empty() && plan.components().is_some();
        let text = match (u.rule, prior.family) {
            (Rule::Loadings, PriorFamily::NormalMean { kappa, scale, .. }) => {
                let b = u.sources[0];
                let (h, l) = continuous(plan);
                let d = data_dim(plan, b);
                let s = plan.name(scale);
                let hh = stat_name(plan, b, StatKind::LatentScatter);
                // The posterior's mean is the MAP update's ridge (the mode of the joint).
                let ridge = update_formula(plan, u);
                let ridge = ridge.split_once(" = ").map_or(ridge.as_str(), |(_, r)| r);
                format!(
                    "q({name}_d | {s}_d) = N(m_d, {s}_d V) per row d,  V = ({kappa} I + {hh})⁻¹ ({l} × {l}, shared by the rows);  E-step reads m and adds {d} V to {h}'s prior precision, offset −½ ln|I + {d} V|;  {name} = m, {strength} = V\n           m = {ridge}"
                )
            }
            (_, PriorFamily::InvGamma { shape, scale }) if loading_noise(plan, u.param).is_some() => {
                let (w, kappa) = loading_noise(plan, u.param).expect("checked");
                let spherical = plan.model.vars[u.param].ty == ElemType::Positive;
                // Per component (`psi[k]`): each component's rows; shared by the components of
                // a mixture: every component's residuals and loadings, over all rows.
                let per_k = !plan.model.vars[u.param].plates.is_empty();
                let mixture = plan.components().is_some();
                // (`k`: the component of a mixture's residuals and loadings.)
                let (sum, kk, n) = match (mixture, per_k) {
                    (true, true) => ("", "_k", "N_k"),
                    (true, false) => ("Σ_k ", "", "N"),
                    _ => ("", "", "N"),
                };
                let at = if mixture { "k" } else { "" };
                let (q, inner, a) = if spherical {
                    (
                        format!("q({name}{kk}) = IG(a{kk}, b{kk})"),
                        // (Every row of the loadings: ‖M‖², or component k's ‖M_k‖².)
                        format!(
                            "Σ_d ρ_{at}d + {kappa} ‖M{}‖²",
                            if mixture { "_k" } else { "" }
                        ),
                        format!("{n} D / 2"),
                    )
                } else {
                    (
                        format!("q({name}{kk}_d) = IG(a{kk}, b{kk}_d) per coordinate"),
                        format!("ρ_{at}d + {kappa} ‖m_{at}d‖²"),
                        format!("{n} / 2"),
                    )
                };
                format!(
                    "{q},  a{kk} = {shape} + {a},  b{kk} = {scale} + ½ {sum}({inner}),  ρ the expected squared residuals at the new {w}'s means (as in the M-step), {w} integrated out (no rows added);  E-step reads b / a, offset ½ (ψ(a) − ln a) per coordinate;  {name} = b / a, {strength} = a",
                    scale = hyper_text(plan, scale, 1.0)
                )
            }
            (Rule::Transitions, PriorFamily::Dirichlet { concentration }) => format!(
                "q({name}[j]) = Dir(α_j),  α_jk = {concentration} + expected transitions j → k;  E-step reads exp E[ln {name}_jk] = exp(ψ(α_jk) − ψ(Σ_k α_jk));  {name} = α_j / Σ α_j, {strength} = Σ α_j"
            ),
            (_, PriorFamily::Dirichlet { concentration }) => format!(
                "q({name}) = Dir(α),  α_c = {concentration} + expected counts;  E-step reads exp E[ln {name}_c] = exp(ψ(α_c) − ψ(Σ α));  {name} = α / Σ α, {strength} = Σ α"
            ),
            (Rule::Rate, PriorFamily::Gamma { shape, rate }) => format!(
                "q({name}_k) = Gamma(a_k, b_k),  a_k = {shape} + Σ_n r_nk x_n,  b_k = {rate} + N_k;  E-step reads λ̃ = e^ψ(a_k) / b_k, offset λ̃ − a_k / b_k;  {name} = a_k / b_k, {strength} = a_k"
            ),
            (Rule::GammaRate, PriorFamily::Gamma { shape, rate }) => {
                let a = gamma_shape(plan, u);
                format!(
                    "q({name}_k) = Gamma(a_k, b_k),  a_k = {shape} + {a} N_k,  b_k = {rate} + Σ_n r_nk x_n;  E-step reads a_k / b_k, offset {a} (ψ(a_k) − ln a_k) per value;  {name} = a_k / b_k, {strength} = a_k"
                )
            }
            (_, PriorFamily::Gamma { shape, rate }) => format!(
                "q({name}_k) = Gamma(a_k, b_k),  a_k = {shape} + N_k,  b_k = {rate} + Σ_n r_nk x_n;  E-step reads a_k / b_k, offset ψ(a_k) − ln a_k per value;  {name} = a_k / b_k, {strength} = a_k"
            ),
            (Rule::BinomialProb, PriorFamily::Beta { a, b }) => {
                // (Variational Bayes takes known trials only: the checker refuses a column.)
                // (One known number, or each statement's own when they differ.)
                let mut known: Vec<String> = u
                    .sources
                    .iter()
                    .map(|&b| match plan.blocks[b].kind.trials() {
                        Some(Trials::Known(t)) => format!("{t}"),
                        _ => "T".into(),
                    })
                    .collect();
                known.dedup();
                let t = match known.as_slice() {
                    [one] => one.clone(),
                    _ => "T (each statement's own)".into(),
                };
                format!(
                    "q({name}_k) = Beta(a_k, b_k),  a_k = {a} + Σ_n r_nk x_n,  b_k = {b} + Σ_n r_nk T_n − Σ_n r_nk x_n;  E-step reads σ(ψ(a_k) − ψ(b_k)), offset {t} (ψ(b_k) − ψ(a_k + b_k) + ln(1 + e^(ψ(a_k) − ψ(b_k))));  {name} = a_k / (a_k + b_k), {strength} = a_k + b_k"
                )
            }
            (Rule::GeometricProb, PriorFamily::Beta { a, b }) => format!(
                "q({name}_k) = Beta(a_k, b_k),  a_k = {a} + N_k,  b_k = {b} + Σ_n r_nk x_n;  E-step reads p̃ = 1 − e^(ψ(b_k) − ψ(a_k + b_k)), offset ψ(a_k) − ψ(a_k + b_k) − ln p̃;  {name} = a_k / (a_k + b_k), {strength} = a_k + b_k"
            ),
            (_, PriorFamily::Beta { a, b }) => format!(
                "q({name}_kd) = Beta(a_kd, b_kd),  a_kd = {a} + Σ_n r_nk x_nd,  b_kd = {b} + N_k − Σ_n r_nk x_nd;  E-step reads σ(ψ(a) − ψ(b)), offset Σ_d ψ(b) − ψ(a + b) + ln(1 + e^(ψ(a) − ψ(b)));  {name} = a / (a + b), {strength} = a + b"
            ),
            (_, PriorFamily::InvWishart { dof, scale }) if shared => format!(
                "q({name}) = IW(ν, Ψ),  ν = {dof} + N,  Ψ = {} + Σ_k S_k (+ κ0 Σ_k (m_k − m0)(m_k − m0)ᵀ with a prior on the means);  E-step reads Ψ / ν = E[{name}⁻¹]⁻¹, offset ½ (Σ_i<D ψ((ν − i)/2) + D ln 2 − D ln ν);  {name} = Ψ / ν, {strength} = ν",
                scale_matrix_text(plan, scale)
            ),
            (_, PriorFamily::InvGamma { shape, scale }) if shared => format!(
                "q({name}) = IG(a, b) per coordinate,  a = {shape} + n / 2 (n values),  b = {scale} + ½ Σ_k S_k (+ ½ κ0 Σ_k (m_k − m0)² with a prior on the means);  E-step reads b / a, offset ½ (ψ(a) − ln a) per coordinate;  {name} = b / a, {strength} = a",
                scale = hyper_text(plan, scale, 1.0)
            ),
            (_, PriorFamily::InvWishart { dof, scale }) => format!(
                "q({name}_k) = IW(ν_k, Ψ_k),  ν_k = {dof} + N_k,  Ψ_k = {} + S_k (+ κ0 (m_k − m0)(m_k − m0)ᵀ with a prior on the mean);  E-step reads Ψ_k / ν_k = E[{name}_k⁻¹]⁻¹, offset ½ (Σ_i<D ψ((ν_k − i)/2) + D ln 2 − D ln ν_k);  {name} = Ψ_k / ν_k, {strength} = ν_k",
                scale_matrix_text(plan, scale)
            ),
            (_, PriorFamily::InvGamma { shape, scale }) => format!(
                "q({name}_k) = IG(a_k, b_k) per coordinate,  a_k = {shape} + n_k / 2 (n_k values),  b_k = {scale} + ½ S_k (+ ½ κ0 (m_k − m0)² with a prior on the mean);  E-step reads b_k / a_k, offset ½ (ψ(a_k) − ln a_k) per coordinate;  {name} = b_k / a_k, {strength} = a_k",
                scale = hyper_text(plan, scale, 1.0)
            ),
            (_, PriorFamily::NormalMean { mean, kappa, scale }) => format!(
                "q({name}_k | {s}) = N(m_k, {s} / κ_k),  κ_k = {kappa} + N_k,  m_k = ({kappa} · {mean} + Σ_n r_nk {x}) / κ_k;  E-step reads m_k, offset −D / (2 κ_k);  {name} = m_k, {strength} = κ_k",
                // (`ln x_n` for a log-normal block.)
                x = if u.sources.iter().any(|&b| plan.blocks[b].log_scale) {
                    "ln x_n"
                } else {
                    "x_n"
                },
                s = if plan.model.vars[scale].plates.is_empty() && plan.components().is_some() {
                    plan.name(scale).to_string()
                } else {
                    format!("{}_k", plan.name(scale))
                },
                mean = hyper_text(plan, mean, 1.0)
            ),
        };
        let _ = writeln!(out, "  {name:<8} {text}");
    }
    let _ = writeln!(
        out,
        "  E-step: the EM E-step at the effective parameters, plus each component's offsets (E_q ln p(x | θ) = ln p(x | θ̃) + c)"
    );
    if plan.continuous.is_some() {
        let (h, _) = continuous(plan);
        let _ = writeln!(
            out,
            "  a linear-Gaussian block integrates {h} out under its prior N(0, P⁻¹): ln N(x[n] | mu, W P⁻¹ Wᵀ + Ψ̃) plus the offsets (P = I without a posterior on the loadings);"
        );
        let _ = writeln!(
            out,
            "  the expected complete-data term adds −½ D tr(V Σ_n E_h[{h}[n] {h}[n]ᵀ]) to F above, with ψ̃ in place of ψ"
        );
    }
    let _ = writeln!(
        out,
        "  ELBO = Σ_n ln Σ_k exp(E[ln π_k] + ln p(x[n] | θ̃_k) + c_k) − Σ KL(q(θ) ‖ p(θ)), monitored and guarded; components a posterior empties fall back to their prior (not re-seeded)"
    );
}

/// The loadings scaled by noise `var` and their prior's weight `α` (`W ~ Normal(0, psi / α)`),
/// if any: the noise's posterior then adds `α ‖m_d‖²`.
fn loading_noise(plan: &Plan, var: VarId) -> Option<(&str, f64)> {
    plan.updates.iter().find_map(|v| match v.prior {
        Some(Prior {
            family: PriorFamily::NormalMean { kappa, scale, .. },
            ..
        }) if scale == var && v.rule == Rule::Loadings => Some((plan.name(v.param), kappa)),
        _ => None,
    })
}

/// A size expression in math notation (`K·(D·(D + 1)/2)`).
fn size_text(plan: &Plan, s: &Size) -> String {
    match s {
        Size::Dim(Dim::Set(set)) => plan.model.sets[*set].name.clone(),
        Size::Dim(Dim::Lit(n)) => n.to_string(),
        Size::Dim(Dim::SetPlus(set, n)) => format!("({} + {n})", plan.model.sets[*set].name),
        Size::Mul(a, b) => format!("{}·{}", size_text(plan, a), size_text(plan, b)),
        Size::Add(a, b) => format!("({} + {})", size_text(plan, a), size_text(plan, b)),
        Size::Sub(a, b) => format!("({} − {})", size_text(plan, a), size_text(plan, b)),
        Size::Div(a, n) => format!("{}/{n}", size_text(plan, a)),
        Size::Min(a, b) => format!("min({}, {})", size_text(plan, a), size_text(plan, b)),
    }
}

/// The known shape of the Gamma blocks whose rate `u` updates.
fn gamma_shape(plan: &Plan, u: &jensen_lang::plan::Update) -> f64 {
    plan.blocks[u.sources[0]]
        .kind
        .gamma_shape()
        .expect("a Gamma rate is updated from Gamma blocks")
}
