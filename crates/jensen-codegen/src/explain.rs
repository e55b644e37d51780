//! Plan → math text: the E-step, the statistics, every M-step formula and the ELBO, as
//! `jensen explain` prints them.

use std::fmt::Write;

use jensen_lang::ir::{ElemType, VarId};
use jensen_lang::plan::{BlockKind, Cov, PRef, Rule, StatKind, Update};
use jensen_lang::Plan;

fn p(plan: &Plan, r: PRef) -> String {
    let name = plan.name(r.param);
    if r.per_component {
        format!("{name}[k]")
    } else {
        name.to_string()
    }
}

fn data(plan: &Plan, v: VarId) -> String {
    format!("{}[n]", plan.name(v))
}

/// `ln p(x_n | z_n = k)` of a block, in words.
fn density(plan: &Plan, b: usize) -> (String, Option<String>) {
    let block = &plan.blocks[b];
    let x = data(plan, block.data);
    match block.kind {
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
            }
        }
        BlockKind::Normal { mean, var } => (
            format!("ln N({x} | {}, {})", p(plan, mean), p(plan, var)),
            Some("ln N(y | m, v) = −½ (ln 2π + ln v + (y − m)² / v)".into()),
        ),
        BlockKind::Poisson { rate } => (
            format!("ln Poisson({x} | {})", p(plan, rate)),
            Some("ln Poisson(x | λ) = x ln λ − λ − ln x!".into()),
        ),
        BlockKind::Bernoulli { prob } => (
            format!("ln Bernoulli({x} | {})", p(plan, prob)),
            Some("ln Bernoulli(x | p) = Σ_d [x_d ln p_d + (1 − x_d) ln(1 − p_d)]".into()),
        ),
        BlockKind::Categorical { probs } => (format!("ln {}[{x}]", p(plan, probs)), None),
    }
}

fn stat_name(plan: &Plan, b: usize, s: StatKind) -> String {
    format!("{}_{}[k]", plan.block_prefix(b), s.suffix())
}

fn centre(plan: &Plan, b: usize) -> String {
    match plan.blocks[b].kind {
        BlockKind::MvNormal { mean, .. } | BlockKind::Normal { mean, .. } => {
            format!("{}°", p(plan, mean))
        }
        _ => String::new(),
    }
}

/// The M-step formula of one parameter, on one line.
pub fn update_formula(plan: &Plan, u: &Update) -> String {
    let var = &plan.model.vars[u.param];
    let per_k = var.plates.len() == 1;
    let lhs = if per_k {
        format!("{}[k]", var.name)
    } else {
        var.name.clone()
    };
    let over = |terms: Vec<String>| -> String {
        let inner = terms.join(" + ");
        if !per_k {
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
        Rule::Mean => {
            let sums = u
                .sources
                .iter()
                .map(|&b| stat_name(plan, b, StatKind::Sum))
                .collect();
            format!("{lhs} = {lhs}° + {} / {}", over(sums), count())
        }
        Rule::Covariance | Rule::DiagonalVariances | Rule::Variance => {
            let scatters: Vec<String> = u
                .sources
                .iter()
                .map(|&b| {
                    let block = &plan.blocks[b];
                    let (BlockKind::MvNormal { mean, .. } | BlockKind::Normal { mean, .. }) =
                        block.kind
                    else {
                        return String::new();
                    };
                    let x = data(plan, block.data);
                    let m = p(plan, mean);
                    match (u.rule, block.kind) {
                        (Rule::Covariance, _) => format!("Σ_n r[n,k] ({x} − {m})({x} − {m})ᵀ"),
                        (_, BlockKind::Normal { .. }) => format!("Σ_n r[n,k] ({x} − {m})²"),
                        (Rule::DiagonalVariances, _) => {
                            format!("Σ_n r[n,k] ({x} − {m})∘({x} − {m})")
                        }
                        _ => format!("Σ_n r[n,k] ‖{x} − {m}‖²"),
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
                let parts: Vec<String> = dims.iter().map(|d| format!("{d}N[k]")).collect();
                let c = parts.join(" + ");
                if per_k {
                    c
                } else {
                    format!("Σ_k ({c})")
                }
            } else {
                count()
            };
            let reg = if u.rule == Rule::Covariance {
                "ε I"
            } else {
                "ε"
            };
            format!(
                "{lhs} = {} / ({denom}) + {reg}   (new means; ε = reg_covar)",
                over(scatters)
            )
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
            format!("{lhs} = {} / {}   ({clamp})", over(sums), count())
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

/// The derived updates of a plan in math notation.
pub fn explain(plan: &Plan) -> String {
    let mut out = String::new();
    let (z, rows, comps) = plan.latent_sets();
    let (zn, rn, kn) = (
        plan.name(z),
        &plan.model.sets[rows].name,
        &plan.model.sets[comps].name,
    );
    let chain = plan.chain().map(|(p0, a)| (plan.name(p0), plan.name(a)));
    let _ = writeln!(out, "model {}", plan.model.name);
    let _ = writeln!(out);
    let _ = writeln!(out, "Structure");
    if chain.is_some() {
        let _ = writeln!(
            out,
            "  latent   {zn}[n] ∈ {{0, …, {kn}−1}}, a first-order Markov chain along each sequence of rows in 0..{rn}"
        );
    } else {
        let _ = writeln!(
            out,
            "  latent   {zn}[n] ∈ {{0, …, {kn}−1}}, independent for n in 0..{rn}"
        );
    }
    for f in &plan.model.factors {
        let _ = writeln!(out, "  factor   {}", f.text);
    }
    for (b, block) in plan.blocks.iter().enumerate() {
        let how = match block.kind {
            BlockKind::MvNormal {
                cov: Cov::Full(c), ..
            } => format!(
                "multivariate Normal, full covariance {}",
                if c.per_component {
                    "per component"
                } else {
                    "shared (tied)"
                }
            ),
            BlockKind::MvNormal {
                cov: Cov::Diag(c), ..
            } => format!(
                "multivariate Normal, diagonal covariance {}",
                if c.per_component {
                    "per component"
                } else {
                    "shared (tied)"
                }
            ),
            BlockKind::MvNormal {
                cov: Cov::Spherical(c),
                ..
            } => format!(
                "multivariate Normal, spherical covariance {}",
                if c.per_component {
                    "per component"
                } else {
                    "shared (tied)"
                }
            ),
            BlockKind::Normal { .. } => "univariate Normal (mean, variance)".into(),
            BlockKind::Poisson { .. } => "Poisson counts".into(),
            BlockKind::Bernoulli { .. } => "independent Bernoulli bits".into(),
            BlockKind::Categorical { .. } => "categorical value".into(),
        };
        let _ = writeln!(out, "  block {b}  {} — {how}", plan.name(block.data));
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
    match (plan.weights(), chain) {
        (Some(w), _) => {
            let wn = plan.name(w);
            let _ = writeln!(out, "E-step (posterior of {zn}, in log space)");
            let _ = writeln!(out, "  ℓ[n,k] = ln {wn}[k] + {}", emissions.join(" + "));
            out.push_str(&densities);
            let _ = writeln!(out, "  r[n,k] = exp(ℓ[n,k] − logsumexp_j ℓ[n,j])");
            let _ = writeln!(out, "  ln p(x[n]) = logsumexp_k ℓ[n,k]");
        }
        (None, Some((p0, a))) => {
            let _ = writeln!(
                out,
                "E-step (posterior of {zn}: scaled forward–backward along each sequence n = s, …, e)"
            );
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
        }
        (None, None) => unreachable!("a plan has a mixture or a chain"),
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Expected sufficient statistics (sums over rows: additive across chunks)"
    );
    let _ = writeln!(out, "  N[k] = Σ_n r[n,k]");
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
    for (b, block) in plan.blocks.iter().enumerate() {
        let x = data(plan, block.data);
        let c = centre(plan, b);
        for &s in block.kind.stats() {
            let what = match s {
                StatKind::Sum if !c.is_empty() => format!("Σ_n r[n,k] ({x} − {c})"),
                StatKind::Sum => format!("Σ_n r[n,k] {x}"),
                StatKind::Scatter => format!("Σ_n r[n,k] ({x} − {c})({x} − {c})ᵀ"),
                StatKind::SumSq => format!("Σ_n r[n,k] ({x} − {c})²  (elementwise)"),
                StatKind::Counts => format!("Σ_n r[n,k] [{x} = c]  for each category c"),
            };
            let _ = writeln!(out, "  {} = {what}", stat_name(plan, b, s));
        }
    }
    if plan.blocks.iter().any(|b| {
        matches!(
            b.kind,
            BlockKind::MvNormal { .. } | BlockKind::Normal { .. }
        )
    }) {
        let _ = writeln!(out, "  (θ° is a parameter before the M-step: Gaussian statistics are kept about the old means)");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "M-step (closed form; means first, then the scales that use them)"
    );
    let ordered = plan
        .updates
        .iter()
        .filter(|u| u.rule == Rule::Mean)
        .chain(plan.updates.iter().filter(|u| u.rule != Rule::Mean));
    for u in ordered {
        let _ = writeln!(out, "  {}", update_formula(plan, u));
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "ELBO");
    let _ = writeln!(out, "  F(q, θ) = E_q[ln p(x, {zn} | θ)] + H(q)");
    match (plan.weights(), chain) {
        (Some(w), _) => {
            let _ = writeln!(
                out,
                "          = Σ_k N[k] ln {}[k] + Σ_n Σ_k r[n,k] ({}) − Σ_n Σ_k r[n,k] ln r[n,k]",
                plan.name(w),
                emissions.join(" + ")
            );
        }
        (None, Some((p0, a))) => {
            let _ = writeln!(
                out,
                "          = Σ_k S0[k] ln {p0}[k] + Σ_j Σ_k T[j,k] ln {a}[j,k] + Σ_n Σ_k r[n,k] ({}) + H(q)",
                emissions.join(" + ")
            );
            let _ = writeln!(out, "  H(q), the entropy of the chain posterior, is ln p(x | θ°) − E_q[ln p(x, {zn} | θ°)] at the E-step's θ°");
        }
        (None, None) => unreachable!("a plan has a mixture or a chain"),
    }
    let _ = writeln!(out, "  computed from the statistics above; F = ln p(x | θ) right after the E-step, and EM never decreases it");
    let _ = writeln!(out);
    let free: Vec<String> = plan
        .updates
        .iter()
        .map(|u| {
            let v = &plan.model.vars[u.param];
            let copies: String = v
                .plates
                .iter()
                .map(|&s| format!("{}·", plan.model.sets[s].name))
                .collect();
            let each = match v.ty {
                ElemType::Simplex(k) => format!("({} − 1)", plan.model.sets[k].name),
                ElemType::Vector(d) | ElemType::PositiveVec(d) | ElemType::ProbVec(d) => {
                    plan.model.sets[d].name.clone()
                }
                ElemType::Cov(d) => format!("{0}({0}+1)/2", plan.model.sets[d].name),
                _ => "1".into(),
            };
            format!("{copies}{each}")
        })
        .collect();
    let _ = writeln!(out, "Free parameters (BIC, AIC): {}", free.join(" + "));
    out
}
