//! Derivation: recognise the latent structure and the conjugate blocks of a checked model
//! and assign every parameter its closed-form M-step, pooling the statistics of every
//! statement it appears in. A model without a closed form is rejected here, pointing at the
//! statement responsible.

use std::collections::BTreeMap;

use crate::ast::DeclKind;
use crate::diag::{DiagCode, Diagnostic, Span};
use crate::ir::*;
use crate::plan::*;

/// What a parameter does in a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Weights,
    Initial,
    Transition,
    Mean,
    FullCov,
    DiagVar,
    ScalarVar,
    Rate,
    ExponentialRate,
    GammaRate,
    GeometricProb,
    BinomialProb,
    Prob,
    Probs,
    Loading,
    FactorMean,
    RegressionCoef,
    RegressionIntercept,
}

impl Role {
    fn describe(self) -> &'static str {
        match self {
            Role::Weights => "mixing weights",
            Role::Initial => "a chain's initial distribution",
            Role::Transition => "a chain's transition matrix",
            Role::Mean => "a mean",
            Role::FullCov => "a full covariance",
            Role::DiagVar => "diagonal variances",
            Role::ScalarVar => "a variance",
            Role::Rate => "a Poisson rate",
            Role::ExponentialRate => "an exponential rate",
            Role::GammaRate => "the rate of a Gamma of known shape",
            Role::GeometricProb => "a geometric success probability",
            Role::BinomialProb => "a binomial success probability",
            Role::Prob => "Bernoulli probabilities",
            Role::Probs => "categorical probabilities",
            Role::Loading => "a loading matrix",
            Role::FactorMean => "the offset of a linear-Gaussian mean",
            Role::RegressionCoef => "regression coefficients",
            Role::RegressionIntercept => "a regression's intercept",
        }
    }

    fn rule(self) -> Rule {
        match self {
            Role::Weights => Rule::Weights,
            Role::Initial => Rule::InitialProbs,
            Role::Transition => Rule::Transitions,
            Role::Mean => Rule::Mean,
            Role::FullCov => Rule::Covariance,
            Role::DiagVar => Rule::DiagonalVariances,
            Role::ScalarVar => Rule::Variance,
            Role::Rate => Rule::Rate,
            Role::ExponentialRate => Rule::ExponentialRate,
            Role::GammaRate => Rule::GammaRate,
            Role::GeometricProb => Rule::GeometricProb,
            Role::BinomialProb => Rule::BinomialProb,
            Role::Prob => Rule::Probability,
            Role::Probs => Rule::Probabilities,
            Role::Loading => Rule::Loadings,
            Role::FactorMean => Rule::FactorMean,
            Role::RegressionCoef => Rule::RegressionCoefficients,
            Role::RegressionIntercept => Rule::RegressionIntercept,
        }
    }
}

const NO_CLOSED_FORM: DiagCode = DiagCode::NoClosedForm;

/// Derives the update plan of a checked model.
pub fn derive(model: Model, diags: &mut Vec<Diagnostic>) -> Option<Plan> {
    let errors_before = diags.iter().filter(|d| d.is_error()).count();
    let (latent, continuous) = find_latents(&model, diags)?;
    let z = latent.var_components().map(|(z, _)| z);
    let rows = latent.rows();
    let scales = find_scales(&model, rows, diags)?;
    let mut prior_factors = latent.prior_factors();
    prior_factors.extend(continuous.map(|c| c.factor));
    prior_factors.extend(scales.iter().map(|s| s.1));
    let mut scale_uses: BTreeMap<VarId, usize> = BTreeMap::new();
    let rows_owner = z
        .or(continuous.map(|c| c.var))
        .expect("a plan has a latent");
    let row_weights = row_weights(&model, rows, diags);

    let mut blocks = Vec::new();
    // param -> uses (block index or None for the latent prior, role, span of the argument)
    let mut uses: BTreeMap<VarId, Vec<(Option<usize>, Role, Span)>> = BTreeMap::new();
    let prior_roles: Vec<(VarId, Role, usize)> = match latent {
        Latent::Categorical {
            weights: Some(weights),
            factor,
            ..
        } => vec![(weights, Role::Weights, factor)],
        Latent::Categorical { weights: None, .. } => Vec::new(),
        Latent::Chain {
            initial,
            transition,
            initial_factor,
            transition_factor,
            ..
        } => vec![
            (initial, Role::Initial, initial_factor),
            (transition, Role::Transition, transition_factor),
        ],
        Latent::Single { .. } => Vec::new(),
    };
    for &(param, role, factor) in &prior_roles {
        uses.entry(param)
            .or_default()
            .push((None, role, model.factors[factor].args[0].span));
    }

    // param -> its prior and the statement's span
    let mut priors: BTreeMap<VarId, (Prior, Span)> = BTreeMap::new();
    for (fi, f) in model.factors.iter().enumerate() {
        if prior_factors.contains(&fi) {
            continue;
        }
        let target = &model.vars[f.target];
        match target.kind {
            // (A Gamma on data is an emission of known shape.)
            DeclKind::Data if is_prior(f.dist) && f.dist != Dist::Gamma => {
                diags.push(
                    Diagnostic::error(
                        NO_CLOSED_FORM,
                        f.span,
                        format!(
                            "`{}` is a prior on parameters, not a distribution of data `{}`",
                            f.dist.name(),
                            target.name
                        ),
                    )
                    .label("on data")
                    .hint(format!("write it on a parameter: {}", f.dist.sig().example)),
                );
                continue;
            }
            DeclKind::Data => {}
            DeclKind::Param
                if is_prior(f.dist) || matches!(f.dist, Dist::MvNormal | Dist::Normal) =>
            {
                match param_prior(&model, fi) {
                    Ok(prior) => {
                        if let Some((first, _)) = priors.get(&f.target) {
                            diags.push(
                                Diagnostic::error(
                                    NO_CLOSED_FORM,
                                    f.span,
                                    format!("parameter `{}` has a second prior", target.name),
                                )
                                .label("second prior")
                                .hint(format!(
                                    "keep one: the first is `{}`",
                                    model.factors[first.factor].text
                                )),
                            );
                        } else {
                            priors.insert(f.target, (prior, f.span));
                        }
                    }
                    Err(d) => diags.push(d),
                }
                continue;
            }
            DeclKind::Param => {
                diags.push(
                    Diagnostic::error(NO_CLOSED_FORM, f.span, format!("a `{}` prior on parameter `{}` is not supported", f.dist.name(), target.name))
                        .label("prior here")
                        .hint("MAP-EM supports `Dirichlet(α)` on a simplex (mixing weights, a chain's initial distribution and transition rows, categorical probabilities), `InvGamma(a, b)` on variances, `InvWishart(ν, c * I)` on covariances, `Gamma(a, b)` on rates and `Beta(a, b)` on Bernoulli probabilities; priors on means and loadings are not supported yet: remove the statement to fit by maximum likelihood"),
                );
                continue;
            }
            DeclKind::Latent => {
                diags.push(
                    Diagnostic::error(
                        NO_CLOSED_FORM,
                        f.span,
                        format!("latent `{}` has a second distribution", target.name),
                    )
                    .label("second statement")
                    .hint("give each latent exactly one `~` statement"),
                );
                continue;
            }
        }
        if !(f.target_indices == [Index::Loop(0)] && model.same_set(f.loops[0].1, rows)) {
            diags.push(
                Diagnostic::error(
                    NO_CLOSED_FORM,
                    f.target_span,
                    format!(
                        "`{}` must be indexed by the same rows as `{}`",
                        target.name, model.vars[rows_owner].name
                    ),
                )
                .label("here")
                .hint(format!(
                    "declare `data {}[{}]: ...` and write `{}[n] ~ ...`",
                    target.name, model.sets[rows].name, target.name
                )),
            );
            continue;
        }
        if let (Dist::MvNormal, Some(ArgKind::OverLatent { cov, scale })) =
            (f.dist, f.args.get(1).map(|a| &a.kind))
        {
            let &(_, _, nu) = scales
                .iter()
                .find(|s| s.0 == *scale)
                .expect("found with the latents");
            let u = &model.vars[*scale].name;
            if let Some(&first) = scale_uses.get(scale) {
                diags.push(
                    Diagnostic::error(NO_CLOSED_FORM, f.args[1].span, format!("latent scale `{u}` already divides the covariance of `{}`", crate::check::shorten(&model.factors[first].text)))
                        .label("second use")
                        .hint(format!("each Student-t statement needs its own scale: declare another `latent v[N]: positive` with `v[n] ~ Gamma({0}, {0})`", nu / 2.0)),
                );
                continue;
            }
            scale_uses.insert(*scale, fi);
            if model.method == crate::ir::Method::Vb {
                diags.push(
                    Diagnostic::error(DiagCode::Method, f.args[1].span, "variational Bayes for a latent scale (Student-t emissions) is not derived yet")
                        .label("latent scale")
                        .hint("fit it with `method em`"),
                );
                continue;
            }
            let mean = match pref(&model, &f.args[0], z) {
                Ok(p) => p.expect("checked: a mean parameter"),
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            let cov_p = match pref(&model, cov, z) {
                Ok(p) => p.expect("checked: a covariance parameter"),
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            if !matches!(model.vars[cov_p.param].ty, ElemType::Cov(_)) {
                diags.push(
                    Diagnostic::error(NO_CLOSED_FORM, cov.span, format!("a latent scale divides a full covariance (`cov[D]`) for now, but `{}` is `{}`", model.vars[cov_p.param].name, model.type_name(model.vars[cov_p.param].ty)))
                        .label("covariance")
                        .hint(format!("declare `param Sigma[K]: cov[D]` and write `MvNormal(mu[z[n]], Sigma[z[n]] / {u}[n])`")),
                );
                continue;
            }
            let kind = BlockKind::StudentT {
                mean,
                cov: cov_p,
                nu,
                scale: *scale,
            };
            let roles = vec![
                (mean, Role::Mean, f.args[0].span),
                (cov_p, Role::FullCov, cov.span),
            ];
            add_block(&mut blocks, &mut uses, fi, f.target, kind, roles);
            continue;
        }
        if let (Dist::Normal | Dist::MvNormal, ArgKind::Regression { .. }) =
            (f.dist, &f.args[0].kind)
        {
            match regression_block(&model, fi, z) {
                Ok((kind, roles)) => add_block(&mut blocks, &mut uses, fi, f.target, kind, roles),
                Err(d) => diags.push(d),
            }
            continue;
        }
        if let (Dist::MvNormal, ArgKind::Linear { .. }) = (f.dist, &f.args[0].kind) {
            let earlier = blocks
                .iter()
                .find(|b: &&Block| matches!(b.kind, BlockKind::LinearGaussian { .. }));
            if let Some(first) = earlier {
                let h = continuous.map_or("h", |c| model.vars[c.var].name.as_str());
                diags.push(
                    Diagnostic::error(
                        DiagCode::Unsupported,
                        f.span,
                        format!("continuous latent `{h}` already enters `{}`", crate::check::shorten(&model.factors[first.factor].text)),
                    )
                    .label("second linear-Gaussian statement")
                    .hint(format!(
                        "the posterior of `{h}` would couple both statements; read all the columns into one item, e.g. `data x[N]: vector[D] from (...)`, and write one statement `x[n] ~ MvNormal(W * {h}[n] + mu, diag(psi))`"
                    )),
                );
                continue;
            }
            match linear_block(&model, fi, z, continuous) {
                Ok((kind, roles)) => add_block(&mut blocks, &mut uses, fi, f.target, kind, roles),
                Err(d) => diags.push(d),
            }
            continue;
        }
        let mut prefs = Vec::new();
        for (i, a) in f.args.iter().enumerate() {
            if f.dist == Dist::MvNormal && i == 1 && fixed_cov(a).is_some() {
                prefs.push(None);
                continue;
            }
            // A Gamma emission's known shape, a binomial's known trials (the checker has seen
            // a positive number, or a count column of the same rows).
            if let (Dist::Gamma | Dist::Binomial, 0, ArgKind::Number(_)) = (f.dist, i, &a.kind) {
                prefs.push(None);
                continue;
            }
            if let (Dist::Binomial, 0, ArgKind::Var { .. }) = (f.dist, i, &a.kind) {
                prefs.push(None);
                continue;
            }
            if let (Dist::Normal, 1, ArgKind::Number(v)) = (f.dist, i, &a.kind) {
                let y = &model.vars[f.target].name;
                diags.push(
                    Diagnostic::error(NO_CLOSED_FORM, a.span, "a known variance of `Normal` is not supported yet")
                        .label("fixed variance")
                        .hint(format!("read the column as a vector, `data {y}[N]: vector[1] from (column)`, and write `MvNormal(m[z[n]], {v} * I)` with `param m[K]: vector[1]`; or estimate it: `param v[K]: positive` and `Normal(m[z[n]], v[z[n]])`")),
                );
                break;
            }
            match pref(&model, a, z) {
                Ok(p) => prefs.push(p),
                Err(d) => {
                    diags.push(d);
                    break;
                }
            }
        }
        if prefs.len() != f.args.len() {
            continue;
        }
        let bi = blocks.len();
        let mut use_as = |p: PRef, role: Role, span: Span| {
            uses.entry(p.param)
                .or_default()
                .push((Some(bi), role, span))
        };
        let kind = match f.dist {
            Dist::Dirichlet | Dist::InvGamma | Dist::InvWishart | Dist::Beta => {
                unreachable!("a prior, handled above")
            }
            Dist::MvNormal => {
                let mean = prefs[0].expect("checked: mean is a parameter");
                use_as(mean, Role::Mean, f.args[0].span);
                let cov = match (fixed_cov(&f.args[1]), prefs[1]) {
                    (Some(c), _) => Cov::Fixed(c),
                    (None, cov_pref) => {
                        let cov_pref = cov_pref.expect("checked: covariance is a parameter");
                        let (cov, role) = match &f.args[1].kind {
                            ArgKind::Diag(_) => (Cov::Diag(cov_pref), Role::DiagVar),
                            ArgKind::ScaledIdentity(_) => {
                                (Cov::Spherical(cov_pref), Role::ScalarVar)
                            }
                            _ => (Cov::Full(cov_pref), Role::FullCov),
                        };
                        use_as(cov_pref, role, f.args[1].span);
                        cov
                    }
                };
                BlockKind::MvNormal { mean, cov }
            }
            Dist::Normal | Dist::LogNormal => {
                let (mean, var) = (prefs[0].expect("checked"), prefs[1].expect("checked"));
                use_as(mean, Role::Mean, f.args[0].span);
                use_as(var, Role::ScalarVar, f.args[1].span);
                BlockKind::Normal { mean, var }
            }
            Dist::Poisson => {
                let rate = prefs[0].expect("checked");
                use_as(rate, Role::Rate, f.args[0].span);
                BlockKind::Poisson { rate }
            }
            Dist::Exponential => {
                let rate = prefs[0].expect("checked");
                use_as(rate, Role::ExponentialRate, f.args[0].span);
                BlockKind::Exponential { rate }
            }
            Dist::Gamma => {
                let ArgKind::Number(shape) = f.args[0].kind else {
                    unreachable!("checked: a Gamma emission has a known shape")
                };
                let rate = prefs[1].expect("checked");
                use_as(rate, Role::GammaRate, f.args[1].span);
                BlockKind::Gamma { shape, rate }
            }
            Dist::Bernoulli => {
                let prob = prefs[0].expect("checked");
                use_as(prob, Role::Prob, f.args[0].span);
                BlockKind::Bernoulli { prob }
            }
            Dist::Binomial => {
                let trials = match f.args[0].kind {
                    ArgKind::Number(t) => Trials::Known(t),
                    ArgKind::Var { var, .. } => Trials::Column(var),
                    _ => unreachable!("checked: a number or a count column"),
                };
                let prob = prefs[1].expect("checked");
                use_as(prob, Role::BinomialProb, f.args[1].span);
                BlockKind::Binomial { trials, prob }
            }
            Dist::Geometric => {
                let prob = prefs[0].expect("checked");
                use_as(prob, Role::GeometricProb, f.args[0].span);
                BlockKind::Geometric { prob }
            }
            Dist::Categorical => {
                let probs = prefs[0].expect("checked");
                use_as(probs, Role::Probs, f.args[0].span);
                BlockKind::Categorical { probs }
            }
            Dist::Multinomial => {
                // The probabilities of a categorical (a categorical value is a count vector
                // with total one): shared with a categorical statement, their counts pool.
                let probs = prefs[0].expect("checked");
                use_as(probs, Role::Probs, f.args[0].span);
                BlockKind::Multinomial { probs }
            }
        };
        blocks.push(Block {
            factor: fi,
            data: f.target,
            kind,
            log_scale: f.dist == Dist::LogNormal,
        });
    }

    // A log-normal block holds its item as `ln x`: no other statement may read the item.
    for (i, b) in blocks.iter().enumerate() {
        let Some(other) = blocks
            .iter()
            .enumerate()
            .find(|&(j, o)| j != i && o.data == b.data && (b.log_scale || o.log_scale))
            .map(|(_, o)| o)
        else {
            continue;
        };
        if other.factor < b.factor {
            continue;
        }
        // `b` is the earlier statement; the error points at the later one.
        let var = &model.vars[b.data];
        let name = &var.name;
        let first = crate::check::shorten(&model.factors[b.factor].text);
        let message = if b.log_scale {
            format!("`{name}` is modelled on the log scale by `{first}` and again here")
        } else {
            format!("`{name}` is modelled by `{first}`, and this `LogNormal` statement would hold it as ln {name}")
        };
        let column = var.columns.as_ref().and_then(|c| c.first()).unwrap_or(name);
        diags.push(
            Diagnostic::error(NO_CLOSED_FORM, model.factors[other.factor].target_span, message)
                .label("second statement on the same data")
                .hint(format!(
                    "a `LogNormal` statement models ln {name} and must be the only one on `{name}`; to model both, declare a second data item reading the same column, e.g. `data {name}2[N]: positive from ({column})`"
                )),
        );
    }

    // Parameters written in a statement that was already reported: no second error saying
    // they are unused.
    let mut in_failed = Vec::new();
    for (fi, f) in model.factors.iter().enumerate() {
        if !prior_factors.contains(&fi) && !blocks.iter().any(|b| b.factor == fi) {
            for a in &f.args {
                a.mentioned(&mut in_failed);
            }
        }
    }

    let mut updates = Vec::new();
    for (pid, var) in model.vars.iter().enumerate() {
        match var.kind {
            DeclKind::Param => {}
            DeclKind::Data => {
                let weight = var.ty == crate::ir::ElemType::Weight;
                // (A binomial's trials or a regression's covariates are read in a statement's
                // arguments, not modelled.)
                let read = model.factors.iter().any(|f| {
                    let mut mentioned = Vec::new();
                    for a in &f.args {
                        a.mentioned(&mut mentioned);
                    }
                    mentioned.contains(&pid)
                });
                if !weight && !read && !model.factors.iter().any(|f| f.target == pid) {
                    diags.push(
                        Diagnostic::warning(
                            DiagCode::UnusedData,
                            var.span,
                            format!("data `{}` is not modelled by any statement", var.name),
                        )
                        .label("declared here")
                        .hint(format!(
                            "add `{}[n] ~ ...`, or remove the declaration",
                            var.name
                        )),
                    );
                }
                continue;
            }
            DeclKind::Latent => continue,
        }
        let Some(list) = uses.get(&pid) else {
            if in_failed.contains(&pid) {
                continue;
            }
            diags.push(
                Diagnostic::error(DiagCode::UnusedParam, var.span, format!("parameter `{}` appears in no statement", var.name))
                    .label("declared here")
                    .hint("it would never be updated: use it as an argument of a distribution, or remove it"),
            );
            continue;
        };
        let role = list[0].1;
        if let Some(&(_, other, span)) = list.iter().find(|u| u.1 != role) {
            diags.push(
                Diagnostic::error(
                    NO_CLOSED_FORM,
                    span,
                    format!(
                        "`{}` is used as {} here but as {} elsewhere",
                        var.name,
                        other.describe(),
                        role.describe()
                    ),
                )
                .label("conflicting use")
                .hint("a parameter plays one role; declare separate parameters"),
            );
            continue;
        }
        let sources: Vec<usize> = list.iter().filter_map(|u| u.0).collect();
        let latent_prior = matches!(role, Role::Weights | Role::Initial | Role::Transition);
        if latent_prior && list.len() > 1 {
            diags.push(
                Diagnostic::error(
                    NO_CLOSED_FORM,
                    list[1].2,
                    format!(
                        "`{}`, {} of `{}`, is used again",
                        var.name,
                        role.describe(),
                        model.vars[rows_owner].name
                    ),
                )
                .label("second use")
                .hint("declare a separate parameter"),
            );
            continue;
        }
        if role == Role::GammaRate {
            // A known shape, which a shared rate's statements must agree on (a binomial's
            // probability pools the expected trials `Σ r T_n` instead).
            let known = |u: &(Option<usize>, Role, Span)| match u.0.map(|b| &blocks[b].kind) {
                Some(BlockKind::Gamma { shape, .. }) => Some(*shape),
                _ => None,
            };
            if let Some(other) = list.iter().find(|u| known(u) != known(&list[0])) {
                diags.push(
                    Diagnostic::error(
                        NO_CLOSED_FORM,
                        other.2,
                        format!(
                            "`{}` is the rate of Gamma statements of different shapes ({} here, {} in the first)",
                            var.name,
                            known(other).unwrap_or(f64::NAN),
                            known(&list[0]).unwrap_or(f64::NAN)
                        ),
                    )
                    .label("second value")
                    .hint("a shared parameter pools the statements' statistics, which needs one known value: declare separate parameters, or write the same value"),
                );
                continue;
            }
        }
        if matches!(role, Role::Loading | Role::FactorMean) && sources.len() > 1 {
            diags.push(
                Diagnostic::error(
                    NO_CLOSED_FORM,
                    list[1].2,
                    format!("`{}` ({}) is used by a second statement", var.name, role.describe()),
                )
                .label("second use")
                .hint("the joint M-step of a loading matrix and its offset is derived per statement: declare separate parameters for each linear-Gaussian statement"),
            );
            continue;
        }
        if matches!(role, Role::RegressionCoef | Role::RegressionIntercept) {
            if sources.len() > 1 {
                diags.push(
                    Diagnostic::error(
                        NO_CLOSED_FORM,
                        list[1].2,
                        format!("`{}` ({}) is used by a second statement", var.name, role.describe()),
                    )
                    .label("second use")
                    .hint("the weighted least-squares M-step of a regression's coefficients and intercept is derived per statement: declare separate parameters for each response"),
                );
                continue;
            }
            if let Some((_, span)) = priors.remove(&pid) {
                diags.push(
                    Diagnostic::error(
                        NO_CLOSED_FORM,
                        span,
                        format!("a prior on `{}` ({}) is not supported yet", var.name, role.describe()),
                    )
                    .label("prior here")
                    .hint("fit the coefficients by maximum likelihood (remove the statement); the residual variance may keep its prior (`InvGamma`, or `InvWishart` on a multivariate regression's covariance)"),
                );
                continue;
            }
        }
        if role == Role::Mean {
            if let Some(d) = check_mean(&model, &blocks, pid, &sources, list) {
                diags.push(d);
                continue;
            }
        }
        if sources
            .iter()
            .any(|&b| matches!(blocks[b].kind, BlockKind::StudentT { .. }))
        {
            if let Some((_, span)) = priors.remove(&pid) {
                diags.push(
                    Diagnostic::error(NO_CLOSED_FORM, span, format!("a prior on `{}` of a Student-t statement (a latent scale) is not derived yet", var.name))
                        .label("prior here")
                        .hint("fit the Student-t mixture by maximum likelihood (remove the prior)"),
                );
                continue;
            }
        }
        if var.fixed.is_some() {
            if let Some((_, span)) = priors.remove(&pid) {
                diags.push(
                    Diagnostic::error(
                        NO_CLOSED_FORM,
                        span,
                        format!("`{}` has a known value, so it takes no prior", var.name),
                    )
                    .label("prior here")
                    .hint(format!(
                        "remove the prior, or the `= …` of `{}` to estimate it",
                        var.text
                    )),
                );
                continue;
            }
        }
        let prior = match priors.remove(&pid) {
            Some((prior, span)) => {
                let (conjugate, family, roles) = match prior.family {
                    PriorFamily::Dirichlet { .. } => (
                        matches!(role, Role::Weights | Role::Initial | Role::Transition | Role::Probs),
                        "Dirichlet",
                        "mixing weights, a chain's initial distribution or transition rows, or categorical probabilities",
                    ),
                    PriorFamily::InvGamma { .. } => (
                        matches!(role, Role::DiagVar | Role::ScalarVar),
                        "InvGamma",
                        "diagonal variances, a spherical variance or the variance of a `Normal`",
                    ),
                    PriorFamily::InvWishart { .. } => (
                        role == Role::FullCov,
                        "InvWishart",
                        "a full covariance matrix",
                    ),
                    PriorFamily::Gamma { .. } => (
                        matches!(role, Role::Rate | Role::ExponentialRate | Role::GammaRate),
                        "Gamma",
                        "a Poisson, exponential or Gamma rate",
                    ),
                    PriorFamily::Beta { .. } => (
                        matches!(role, Role::Prob | Role::GeometricProb | Role::BinomialProb),
                        "Beta",
                        "Bernoulli, geometric or binomial probabilities",
                    ),
                    PriorFamily::NormalMean { .. } => (
                        matches!(role, Role::Mean | Role::Loading),
                        "MvNormal",
                        "a mean (with the block's covariance over a weight), or a loading matrix (with the block's noise over a weight)",
                    ),
                };
                if !conjugate {
                    diags.push(
                        Diagnostic::error(
                            NO_CLOSED_FORM,
                            span,
                            format!(
                                "`{family}` is not conjugate to `{}`, used as {}",
                                var.name,
                                role.describe()
                            ),
                        )
                        .label("prior here")
                        .hint(format!("`{family}` priors go on {roles}")),
                    );
                    continue;
                }
                Some(prior)
            }
            None => None,
        };
        updates.push(Update {
            param: pid,
            rule: role.rule(),
            sources,
            prior,
        });
    }

    if let Some(c) = continuous.filter(|c| !in_failed.contains(&c.var)) {
        let used = blocks
            .iter()
            .any(|b| matches!(b.kind, BlockKind::LinearGaussian { .. }));
        if !used {
            let name = &model.vars[c.var].name;
            diags.push(
                Diagnostic::error(
                    NO_CLOSED_FORM,
                    model.vars[c.var].span,
                    format!("continuous latent `{name}` does not enter any statement on data"),
                )
                .label("declared here")
                .hint(format!(
                    "use it in a linear-Gaussian mean, e.g. `x[n] ~ MvNormal(W * {name}[n] + mu, diag(psi))`, or remove it"
                )),
            );
        }
    }

    check_mean_priors(&model, &blocks, &updates, diags);

    let errors_after = diags.iter().filter(|d| d.is_error()).count();
    (errors_after == errors_before).then_some(Plan {
        model,
        latent,
        continuous,
        blocks,
        updates,
        row_weights,
    })
}

/// The data item of type `weight`, if any (the checker allows one, in no statement), which
/// must be indexed by the latent's rows.
fn row_weights(model: &Model, rows: SetId, diags: &mut Vec<Diagnostic>) -> Option<VarId> {
    let w = (0..model.vars.len()).find(|&v| model.vars[v].ty == crate::ir::ElemType::Weight)?;
    let var = &model.vars[w];
    if var.plates.first() != Some(&rows) {
        let rows = &model.sets[rows].name;
        diags.push(
            Diagnostic::error(
                DiagCode::Weights,
                var.span,
                format!(
                    "weight `{}` must be indexed by the latent's rows `{rows}`",
                    var.name
                ),
            )
            .label("declared here")
            .hint(format!("write `data {}[{rows}]: weight`", var.name)),
        );
    }
    Some(w)
}

/// Whether a distribution is a prior family (written on parameters only).
fn is_prior(dist: Dist) -> bool {
    matches!(
        dist,
        Dist::Dirichlet | Dist::InvGamma | Dist::InvWishart | Dist::Gamma | Dist::Beta
    )
}

/// The prior of statement `fi` (the checker has seen its argument types): `w ~ Dirichlet(α)`,
/// `v ~ InvGamma(a, b)` or `Sigma ~ InvWishart(ν, c * I)`, on the whole parameter, `w ~ …`,
/// or on every row of a per-component one, `A[k] ~ …` with `k` over the parameter's plate.
fn param_prior(model: &Model, fi: usize) -> Result<Prior, Diagnostic> {
    let f = &model.factors[fi];
    let target = &model.vars[f.target];
    let number = |i: usize| number_arg(&f.args[i]);

    // A number, or a summary of the data (`mean(x)`, `0.5 * cov(x)`; the checker has matched
    // the summary to the argument).
    let hyper = |a: &Arg| match a.kind {
        ArgKind::Summary {
            summary,
            data,
            factor,
        } => Ok(Hyper::Data {
            summary,
            data,
            factor,
        }),
        _ => number_arg(a).map(Hyper::Number),
    };
    if let (Dist::MvNormal | Dist::Normal, Some(Ok(mean)), Some(ArgKind::Over(inner, kappa))) = (
        f.dist,
        f.args.first().map(hyper),
        f.args.get(1).map(|a| &a.kind),
    ) {
        // `Sigma[k]`, `diag(v[k])` or `v[k]`, indexed like the mean.
        let var = match &inner.kind {
            ArgKind::Var { var, indices } => Some((*var, indices)),
            ArgKind::Diag(v) | ArgKind::ScaledIdentity(v) => match &v.kind {
                ArgKind::Var { var, indices } => Some((*var, indices)),
                _ => None,
            },
            _ => None,
        };
        let like_target = |indices: &Vec<Index>| {
            indices.is_empty() || (indices.as_slice() == [Index::Loop(0)] && !f.loops.is_empty())
        };
        return match var {
            Some((scale, indices)) if like_target(indices) => Ok(Prior {
                family: PriorFamily::NormalMean {
                    mean,
                    kappa: *kappa,
                    scale,
                },
                factor: fi,
            }),
            _ => Err(Diagnostic::error(
                NO_CLOSED_FORM,
                inner.span,
                "the covariance of a mean's prior is the block's covariance parameter, indexed like the mean",
            )
            .label("here")
            .hint(format!("write e.g. `{}[k] ~ MvNormal({}, Sigma[k] / {kappa})`", target.name, mean.render(model)))),
        };
    }
    let family = match (f.dist, number(0), f.args.get(1).map(hyper)) {
        (Dist::Dirichlet, Ok(concentration), None) => PriorFamily::Dirichlet { concentration },
        (Dist::InvGamma, Ok(shape), Some(Ok(scale))) => PriorFamily::InvGamma { shape, scale },
        (Dist::InvWishart, Ok(dof), Some(Ok(scale))) => PriorFamily::InvWishart { dof, scale },
        (Dist::Gamma, Ok(shape), Some(Ok(Hyper::Number(rate)))) => {
            PriorFamily::Gamma { shape, rate }
        }
        (Dist::Beta, Ok(a), Some(Ok(Hyper::Number(b)))) => PriorFamily::Beta { a, b },
        _ => {
            return Err(Diagnostic::error(
                NO_CLOSED_FORM,
                f.span,
                format!(
                    "the hyperparameters of a `{}` prior are written as numbers",
                    f.dist.name()
                ),
            )
            .label("hyperparameters")
            .hint(format!("write {}", f.dist.sig().example)))
        }
    };
    let whole = match target.plates.as_slice() {
        [] => f.target_indices.is_empty(),
        [plate] => f.target_indices == [Index::Loop(0)] && model.same_set(f.loops[0].1, *plate),
        _ => false,
    };
    if !whole {
        let args = &f.text[f.text.find('~').map_or(0, |i| i + 1)..].trim();
        let example = match target.plates.as_slice() {
            [] => format!("{} ~ {args}", target.name),
            _ => format!("{}[k] ~ {args}", target.name),
        };
        return Err(Diagnostic::error(
            NO_CLOSED_FORM,
            f.target_span,
            format!("a prior covers every row of `{}`", target.name),
        )
        .label("part of the parameter")
        .hint(format!("write `{example}`")));
    }
    Ok(Prior { family, factor: fi })
}

/// A prior on a mean, `mu[k] ~ MvNormal(m0, Sigma[k] / κ)`, is conjugate jointly with a prior
/// on that covariance: the mean enters one statement, whose covariance is the prior's, full
/// or diagonal (or the variance of a `Normal`), and the covariance has an inverse-Wishart or
/// inverse-Gamma prior.
fn check_mean_priors(
    model: &Model,
    blocks: &[Block],
    updates: &[Update],
    diags: &mut Vec<Diagnostic>,
) {
    for u in updates {
        let Some(Prior {
            family: PriorFamily::NormalMean { scale, .. },
            factor,
        }) = u.prior
        else {
            continue;
        };
        let f = &model.factors[factor];
        let mean = &model.vars[u.param].name;
        let label = if u.rule == Rule::Loadings {
            "prior on the loadings"
        } else {
            "prior on a mean"
        };
        let fail = |message: String, hint: String| {
            Diagnostic::error(NO_CLOSED_FORM, f.span, message)
                .label(label)
                .hint(hint)
        };
        let [b] = u.sources.as_slice() else {
            diags.push(fail(
                format!(
                    "`{mean}` is pooled over several statements: a prior on it is not supported"
                ),
                "give the prior to a mean that enters one statement".into(),
            ));
            continue;
        };
        // A loading matrix: each row `w_d ~ N(0, ψ_d I / α)`, scaled by its coordinate's noise
        // (conjugate jointly with the noise: a ridge on the loadings, `α ‖w_d‖²` and `L` rows
        // in the noise's update).
        if let BlockKind::LinearGaussian { noise, .. } = blocks[*b].kind {
            let Some(noise) = noise.pref() else { continue };
            let (noise_name, mean_hyper) = match u.prior.as_ref().map(|p| p.family) {
                Some(PriorFamily::NormalMean { mean, .. }) => (&model.vars[noise.param].name, mean),
                _ => continue,
            };
            let example = format!(
                "write `{}{} ~ Normal(0.0, {noise_name}{} / 1.0)`",
                model.vars[u.param].name,
                if model.vars[u.param].plates.is_empty() {
                    ""
                } else {
                    "[k]"
                },
                if noise.per_component { "[k]" } else { "" }
            );
            if scale != noise.param {
                diags.push(fail(
                    format!(
                        "the prior's variance `{}` is not the noise of `{mean}`'s statement",
                        model.vars[scale].name
                    ),
                    example,
                ));
            } else if mean_hyper != Hyper::Number(0.0) {
                diags.push(fail(
                    format!(
                        "a loading matrix's prior is centred at 0, not {}",
                        mean_hyper.render(model)
                    ),
                    example,
                ));
            } else if noise.per_component && model.vars[u.param].plates.is_empty() {
                diags.push(fail(
                    format!("`{mean}` is shared but its noise `{noise_name}` is per component: a prior on shared loadings scaled by every component's noise has no closed form"),
                    format!("give `{mean}` the index set of `{noise_name}`, or share `{noise_name}` too"),
                ));
            } else if !matches!(
                updates
                    .iter()
                    .find(|v| v.param == noise.param)
                    .and_then(|v| v.prior.as_ref())
                    .map(|p| p.family),
                Some(PriorFamily::InvGamma { .. })
            ) {
                let at = if noise.per_component { "[k]" } else { "" };
                diags.push(fail(
                    format!("a prior on `{mean}` scaled by `{noise_name}` needs a prior on `{noise_name}` too"),
                    format!("add `{noise_name}{at} ~ InvGamma(1.0, 0.5 * var(x))`: the two form a normal-inverse-Gamma prior on each coordinate's loadings and noise"),
                ));
            }
            continue;
        }
        let Some((pref, form)) = scale_of(&blocks[*b].kind) else {
            continue;
        };
        let scale_name = &model.vars[scale].name;
        if pref.param != scale {
            diags.push(fail(
                format!("the prior's covariance `{scale_name}` is not the covariance of `{mean}`'s statement"),
                format!("write the statement's own covariance, `{}`, over the prior's weight", model.vars[pref.param].name),
            ));
            continue;
        }
        // Per-component means may share a covariance (each adds its deviation and a row to
        // the shared update); one mean over per-component covariances has no such form.
        if pref.per_component && model.vars[u.param].plates.is_empty() {
            diags.push(fail(
                format!("`{mean}` is shared but `{scale_name}` is per component: a prior on one mean scaled by every component's covariance has no closed form"),
                format!("give `{mean}` the index set of `{scale_name}`, or share `{scale_name}` too"),
            ));
            continue;
        }
        let scale_prior = updates
            .iter()
            .find(|v| v.param == scale)
            .and_then(|v| v.prior.as_ref())
            .map(|p| p.family);
        if !matches!(
            scale_prior,
            Some(PriorFamily::InvWishart { .. } | PriorFamily::InvGamma { .. })
        ) {
            diags.push(fail(
                format!("a prior on `{mean}` scaled by `{scale_name}` needs a prior on `{scale_name}` too"),
                format!(
                    "add `{scale_name}[k] ~ {}`: the two form a normal-inverse-{} prior",
                    if form == "full" { "InvWishart(5.0, 0.1 * I)" } else { "InvGamma(1.0, 0.5)" },
                    if form == "full" { "Wishart" } else { "Gamma" }
                ),
            ));
        }
    }
}

/// The scale argument of a Gaussian block.
fn scale_of(kind: &BlockKind) -> Option<(PRef, &'static str)> {
    match kind {
        BlockKind::MvNormal {
            cov: Cov::Full(p), ..
        } => Some((*p, "full")),
        BlockKind::MvNormal {
            cov: Cov::Diag(p), ..
        } => Some((*p, "diag")),
        BlockKind::MvNormal {
            cov: Cov::Spherical(p),
            ..
        } => Some((*p, "spherical")),
        BlockKind::Normal { var, .. } => Some((*var, "scalar")),
        // (Its statistics are weighted by the scales' posterior means and count `Σ r w`: a
        // mean or a covariance pools with a Normal block's of the same covariance.)
        BlockKind::StudentT { cov, .. } => Some((*cov, "full")),
        _ => None,
    }
}

/// A mean has a closed-form M-step only when every block it appears in has the same scale,
/// and a mean shared by all components only when that scale is shared too.
fn check_mean(
    model: &Model,
    blocks: &[Block],
    mean: VarId,
    sources: &[usize],
    list: &[(Option<usize>, Role, Span)],
) -> Option<Diagnostic> {
    let name = &model.vars[mean].name;
    let first = scale_of(&blocks[sources[0]].kind)?;
    for (i, &b) in sources.iter().enumerate().skip(1) {
        if scale_of(&blocks[b].kind) != Some(first) {
            return Some(
                Diagnostic::error(NO_CLOSED_FORM, list[i].2, format!("mean `{name}` is shared by statements with different covariances"))
                    .label("different covariance here")
                    .hint("its M-step would then couple the covariances (no closed form): give each statement its own mean, or the same covariance"),
            );
        }
    }
    let mean_per_k = blocks[sources[0]]
        .kind
        .eq_mean_pref()
        .map(|p| p.per_component)
        .unwrap_or(true);
    if !mean_per_k && first.0.per_component {
        return Some(
            Diagnostic::error(NO_CLOSED_FORM, list[0].2, format!("mean `{name}` is shared by all components but the covariance `{}` is not", model.vars[first.0.param].name))
                .label("shared mean")
                .hint("a common mean with per-component covariances has no closed-form M-step: index the mean by the latent too (`mu[z[n]]`), or share the covariance"),
        );
    }
    None
}

impl BlockKind {
    fn eq_mean_pref(&self) -> Option<PRef> {
        match self {
            BlockKind::MvNormal { mean, .. }
            | BlockKind::Normal { mean, .. }
            | BlockKind::StudentT { mean, .. } => Some(*mean),
            _ => None,
        }
    }
}

/// A number written as such, or as `I` (1) or `c * I` (`c`): a hyperparameter.
fn number_arg(a: &Arg) -> Result<f64, ()> {
    match &a.kind {
        ArgKind::Number(v) => Ok(*v),
        ArgKind::Identity => Ok(1.0),
        ArgKind::ScaledIdentity(inner) => match inner.kind {
            ArgKind::Number(v) => Ok(v),
            _ => Err(()),
        },
        _ => Err(()),
    }
}

/// A known covariance `c I` written as `I` or `c * I` with a number `c` (checked positive).
fn fixed_cov(a: &Arg) -> Option<f64> {
    match &a.kind {
        ArgKind::Identity => Some(1.0),
        ArgKind::ScaledIdentity(inner) => match inner.kind {
            ArgKind::Number(c) => Some(c),
            _ => None,
        },
        _ => None,
    }
}

/// A parameter argument, or `Ok(None)` for arguments that are not parameters but are fine.
fn pref(model: &Model, a: &Arg, z: Option<VarId>) -> Result<Option<PRef>, Diagnostic> {
    match &a.kind {
        ArgKind::Var { var, indices } => {
            let v = &model.vars[*var];
            if v.kind == DeclKind::Latent && matches!(v.ty, ElemType::Vector(_)) {
                return Err(Diagnostic::error(NO_CLOSED_FORM, a.span, format!("continuous latent `{}` used directly as an argument", v.name))
                    .label("here")
                    .hint(format!("a continuous latent enters only through a linear-Gaussian mean, `x[n] ~ MvNormal(W * {}[n] + mu, diag(psi))`, which keeps the model conjugate", v.name)));
            }
            if v.kind != DeclKind::Param {
                return Err(Diagnostic::error(NO_CLOSED_FORM, a.span, format!("`{}` is {}, not a parameter", v.name, if v.kind == DeclKind::Data { "data" } else { "a latent" }))
                    .label("here")
                    .hint("a mean linear in data is a regression inside `Normal`, `dot(beta[z[n]], u[n]) + c[z[n]]` (or `beta[z[n]] * u[n] + c[z[n]]` for one covariate); a latent's value selects parameters, `mu[z[n]]`; a continuous latent enters through `W * h[n] + mu` inside `MvNormal`"));
            }
            match indices.as_slice() {
                [] => Ok(Some(PRef { param: *var, per_component: false })),
                [Index::Latent { var: l, indices: inner }] if Some(*l) == z && inner.as_slice() == [Index::Loop(0)] => {
                    Ok(Some(PRef { param: *var, per_component: true }))
                }
                _ => Err(match z {
                    Some(z) => Diagnostic::error(NO_CLOSED_FORM, a.span, format!("`{}` must be selected by this row's latent value", v.name))
                        .label("here")
                        .hint(format!("write `{}[{}[n]]`, or declare `{}` without an index set to share it across components", v.name, model.vars[z].name, v.name)),
                    None => Diagnostic::error(NO_CLOSED_FORM, a.span, format!("`{}` is indexed, but the model has no discrete latent to select an element", v.name))
                        .label("here")
                        .hint(format!("declare `{}` without an index set, or add a categorical latent `z[n] ~ Categorical(w)` and write `{}[z[n]]`", v.name, v.name)),
                }),
            }
        }
        ArgKind::Diag(inner) | ArgKind::ScaledIdentity(inner) => pref(model, inner, z),
        ArgKind::Over(..) => Err(Diagnostic::error(NO_CLOSED_FORM, a.span, "a covariance divided by a number is the covariance of a mean's prior")
            .label("here")
            .hint("write it in a prior on a mean, e.g. `mu[k] ~ MvNormal(0.0, Sigma[k] / 0.01)`; in a statement on data use the covariance itself")),
        ArgKind::Summary { summary, .. } => Err(Diagnostic::error(NO_CLOSED_FORM, a.span, format!("`{}` of the data is a hyperparameter of a prior", summary.name()))
            .label("data summary")
            .hint("write it in a prior: `mu[k] ~ MvNormal(mean(x), Sigma[k] / 0.01)`, `Sigma[k] ~ InvWishart(5.0, cov(x))` or `v[k] ~ InvGamma(1.0, 0.5 * var(x))`")),
        ArgKind::Identity | ArgKind::Number(_) | ArgKind::Reciprocal(_) => Err(Diagnostic::error(NO_CLOSED_FORM, a.span, "fixed (non-parameter) arguments are not supported yet")
            .label("fixed value")
            .hint("declare a parameter for it, e.g. `param s[K]: positive` and write `s[z[n]] * I`")),
        ArgKind::Expr(text, _) => Err(Diagnostic::error(NO_CLOSED_FORM, a.span, format!("`{}` has no closed-form M-step", crate::check::shorten(text)))
            .label("compound argument")
            .hint("arguments are parameters selected by the latent (`mu[z[n]]`) or shared (`Sigma`); a mean that depends on a latent vector is written `W * h[n] + mu` with `latent h[N]: vector[L]`")),
        ArgKind::LatentExpr(text, _) => Err(Diagnostic::error(NO_CLOSED_FORM, a.span, format!("`{}` is not linear in the continuous latent", crate::check::shorten(text)))
            .label("non-linear in the latent")
            .hint("the posterior of a continuous latent is Gaussian in closed form only for a linear-Gaussian mean: a loading matrix times the latent plus an offset, `W * h[n] + mu`, inside `MvNormal` (always `+`: the offset is fitted, so its sign is free)")),
        ArgKind::OverLatent { .. } => Err(Diagnostic::error(NO_CLOSED_FORM, a.span, "a latent scale divides the covariance of `MvNormal` only")
            .label("latent scale")
            .hint("write `x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]] / u[n])` (Student-t emissions); for one column read it as `vector[1]`")),
        ArgKind::Regression { .. } => Err(Diagnostic::error(NO_CLOSED_FORM, a.span, "a regression mean is supported as the mean of `Normal` or of `MvNormal` with a full or diagonal covariance")
            .label("regression")
            .hint("write `y[n] ~ Normal(dot(beta[z[n]], u[n]) + c[z[n]], s[z[n]])` or `x[n] ~ MvNormal(B[z[n]] * u[n] + mu[z[n]], Sigma[z[n]])`; a regression under a latent scale (Student-t) is not derived yet")),
        ArgKind::Linear { .. } => Err(Diagnostic::error(NO_CLOSED_FORM, a.span, "a linear-Gaussian mean is only supported as the mean of `MvNormal`")
            .label("here")
            .hint("write `x[n] ~ MvNormal(W * h[n] + mu, diag(psi))` for factor analysis or `MvNormal(W * h[n] + mu, s * I)` for probabilistic PCA")),
    }
}

/// The discrete latent structure (a single component when there is none) and the
/// continuous latent, if any.
fn find_latents(
    model: &Model,
    diags: &mut Vec<Diagnostic>,
) -> Option<(Latent, Option<ContinuousLatent>)> {
    let latents: Vec<VarId> = (0..model.vars.len())
        .filter(|&v| model.vars[v].kind == DeclKind::Latent)
        .collect();
    if latents.is_empty() {
        let span = model.factors.first().map_or(Span::new(0, 0), |f| f.span);
        diags.push(
            Diagnostic::error(
                DiagCode::NoLatent,
                span,
                "the model has no latent variable, so there is nothing for EM to infer",
            )
            .label("no latent in this model")
            .hint("declare one, e.g. `latent z[N]: 0..K` with `z[n] ~ Categorical(w)`"),
        );
        return None;
    }
    // (A `positive` latent is a per-row scale, `find_scales`.)
    let (discrete, continuous): (Vec<VarId>, Vec<VarId>) = latents
        .iter()
        .filter(|&&v| model.vars[v].ty != ElemType::Positive)
        .partition(|&&v| matches!(model.vars[v].ty, ElemType::Cat(_)));
    let scale = latents
        .iter()
        .copied()
        .find(|&v| model.vars[v].ty == ElemType::Positive);
    if let (true, Some(u)) = (discrete.is_empty(), scale) {
        diags.push(
            Diagnostic::error(
                DiagCode::NoLatent,
                model.vars[u].span,
                format!("latent scale `{}` needs a discrete latent beside it", model.vars[u].name),
            )
            .label("declared here")
            .hint("a Student-t mixture: `latent z[N]: 0..K` with `z[n] ~ Categorical(w)` and `x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]] / u[n])`"),
        );
        return None;
    }
    if let Some(&second) = discrete.get(1) {
        diags.push(
            Diagnostic::error(
                DiagCode::Unsupported,
                model.vars[second].span,
                "only one discrete latent variable per model is supported so far",
            )
            .label("second latent")
            .hint("combine the latents into one categorical with the product of their ranges"),
        );
        return None;
    }
    if let Some(&second) = continuous.get(1) {
        diags.push(
            Diagnostic::error(
                DiagCode::Unsupported,
                model.vars[second].span,
                "only one continuous latent variable per model is supported so far",
            )
            .label("second continuous latent")
            .hint("stack the latents into one `vector[L]` with L their total dimension; each statement then loads on all of it"),
        );
        return None;
    }
    let cont = match continuous.first() {
        Some(&h) => Some(find_continuous(model, h, diags)?),
        None => None,
    };
    let latent = match (discrete.first(), cont) {
        (Some(&z), _) => find_latent(model, z, diags)?,
        (None, Some(c)) => Latent::Single { rows: c.rows },
        (None, None) => unreachable!("there is at least one latent"),
    };
    if let Some(c) = cont {
        if !model.same_set(c.rows, latent.rows()) {
            let (h, rows) = (&model.vars[c.var].name, &model.sets[latent.rows()].name);
            diags.push(
                Diagnostic::error(
                    DiagCode::LatentPlates,
                    model.vars[c.var].span,
                    format!(
                        "continuous latent `{h}` must have the same rows as the discrete latent"
                    ),
                )
                .label("declared here")
                .hint(format!("declare `latent {h}[{rows}]: vector[...]`")),
            );
            return None;
        }
    }
    Some((latent, cont))
}

/// Recognises `latent h[N]: vector[L]` with `h[n] ~ MvNormal(0, I)`, or says why not.
fn find_continuous(
    model: &Model,
    h: VarId,
    diags: &mut Vec<Diagnostic>,
) -> Option<ContinuousLatent> {
    let var = &model.vars[h];
    let name = &var.name;
    let ElemType::Vector(dim) = var.ty else {
        unreachable!("continuous latents are vectors")
    };
    let dim_name = &model.sets[dim].name;
    let rows = latent_rows(model, h, &format!("vector[{dim_name}]"), diags)?;
    let priors = latent_priors(model, h, &format!("`{name}[n] ~ MvNormal(0, I)`"), diags)?;
    let factor = priors[0];
    if let Some(&second) = priors.get(1) {
        diags.push(
            Diagnostic::error(
                DiagCode::LatentPrior,
                model.factors[second].span,
                format!("latent `{name}` has a second distribution"),
            )
            .label("second statement")
            .hint(format!(
                "give `{name}` exactly one statement, `{name}[n] ~ MvNormal(0, I)`"
            )),
        );
        return None;
    }
    let f = &model.factors[factor];
    let dynamic = f.args.iter().any(|a| {
        matches!(&a.kind, ArgKind::Linear { .. } | ArgKind::LatentExpr(..))
            || matches!(&a.kind, ArgKind::Var { var, .. } if *var == h)
    });
    if dynamic || f.target_indices != [Index::Loop(0)] {
        diags.push(
            Diagnostic::error(
                DiagCode::Unsupported,
                f.span,
                format!("latent `{name}` depends on its own earlier values"),
            )
            .label("dynamics")
            .hint(format!(
                "a continuous latent that evolves in time is a linear dynamical system (Kalman smoothing), which is not supported; for independent rows write `{name}[n] ~ MvNormal(0, I)`"
            )),
        );
        return None;
    }
    let standard = matches!(f.args[0].kind, ArgKind::Number(v) if v == 0.0)
        && matches!(f.args[1].kind, ArgKind::Identity);
    if !standard {
        diags.push(
            Diagnostic::error(
                DiagCode::Unsupported,
                f.args[0].span.join(f.args[1].span),
                format!("the prior of continuous latent `{name}` must be the standard Normal"),
            )
            .label("not `0, I`")
            .hint(format!(
                "a prior mean or covariance of `{name}` is absorbed by the offset and the loading matrix (the distribution of the data is unchanged), so write `{name}[n] ~ MvNormal(0, I)`"
            )),
        );
        return None;
    }
    Some(ContinuousLatent {
        var: h,
        rows,
        dim,
        factor,
    })
}

/// The rows of a latent, which must have one value per data row (`ty`: its type as written
/// in the hint).
fn latent_rows(model: &Model, v: VarId, ty: &str, diags: &mut Vec<Diagnostic>) -> Option<SetId> {
    let var = &model.vars[v];
    match var.plates.as_slice() {
        [r] if model.sets[*r].size == SetSize::Rows => Some(*r),
        _ => {
            diags.push(
                Diagnostic::error(
                    DiagCode::LatentPlates,
                    var.span,
                    format!("latent `{}` must have one value per data row", var.name),
                )
                .label("declared here")
                .hint(format!(
                    "declare `latent {}[N]: {ty}` with `N` the rows of the data",
                    var.name
                )),
            );
            None
        }
    }
}

/// The per-row latent scales, `latent u[N]: positive` with `u[n] ~ Gamma(ν/2, ν/2)` (the
/// checker has seen two equal numbers): each with its statement and `ν`.
fn find_scales(
    model: &Model,
    rows: SetId,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<(VarId, usize, f64)>> {
    let mut out = Vec::new();
    for u in (0..model.vars.len()).filter(|&v| {
        model.vars[v].kind == DeclKind::Latent && model.vars[v].ty == ElemType::Positive
    }) {
        let name = &model.vars[u].name;
        latent_rows(model, u, "positive", diags)?;
        if !model.vars[u]
            .plates
            .iter()
            .all(|&p| model.same_set(p, rows))
        {
            diags.push(
                Diagnostic::error(
                    DiagCode::LatentPlates,
                    model.vars[u].span,
                    format!("latent scale `{name}` must have the same rows as the other latents"),
                )
                .label("declared here")
                .hint(format!(
                    "declare `latent {name}[{}]: positive`",
                    model.sets[rows].name
                )),
            );
            return None;
        }
        let example = format!("`{name}[n] ~ Gamma(2.0, 2.0)` (Student-t emissions with ν = 4)");
        let priors = latent_priors(model, u, &example, diags)?;
        if let Some(&second) = priors.get(1) {
            diags.push(
                Diagnostic::error(
                    DiagCode::LatentPrior,
                    model.factors[second].span,
                    format!("latent `{name}` has a second distribution"),
                )
                .label("second statement")
                .hint(format!("give `{name}` exactly one statement, {example}")),
            );
            return None;
        }
        let f = &model.factors[priors[0]];
        let (Dist::Gamma, Some(ArgKind::Number(a))) = (f.dist, f.args.first().map(|a| &a.kind))
        else {
            diags.push(
                Diagnostic::error(
                    DiagCode::LatentPrior,
                    f.span,
                    format!("latent scale `{name}` must have a `Gamma(ν/2, ν/2)` distribution"),
                )
                .label("here")
                .hint(format!("write {example}")),
            );
            return None;
        };
        if f.target_indices != [Index::Loop(0)] {
            diags.push(
                Diagnostic::error(
                    DiagCode::Unsupported,
                    f.target_span,
                    format!("latent scale `{name}` is one per row"),
                )
                .label("here")
                .hint(format!("write {example}")),
            );
            return None;
        }
        if !(0..model.factors.len()).any(|g| {
            model.factors[g].dist == Dist::MvNormal
                && matches!(model.factors[g].args.get(1).map(|a| &a.kind), Some(ArgKind::OverLatent { scale, .. }) if *scale == u)
        }) {
            diags.push(
                Diagnostic::error(NO_CLOSED_FORM, model.vars[u].span, format!("latent scale `{name}` does not divide any covariance"))
                    .label("declared here")
                    .hint(format!("write `x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]] / {name}[n])`, or remove it")),
            );
            return None;
        }
        out.push((u, priors[0], 2.0 * a));
    }
    Some(out)
}

/// The statements on a latent (at least one; `example` is the statement suggested when
/// there is none).
fn latent_priors(
    model: &Model,
    v: VarId,
    example: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<usize>> {
    let var = &model.vars[v];
    let priors: Vec<usize> = (0..model.factors.len())
        .filter(|&f| model.factors[f].target == v)
        .collect();
    if priors.is_empty() {
        diags.push(
            Diagnostic::error(
                DiagCode::LatentPrior,
                var.span,
                format!("latent `{}` has no distribution", var.name),
            )
            .label("declared here")
            .hint(format!("add {example}")),
        );
        return None;
    }
    Some(priors)
}

/// `[K]` for a parameter declared with index sets, empty otherwise.
fn plates_text(model: &Model, v: VarId) -> String {
    let plates = &model.vars[v].plates;
    if plates.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = plates
        .iter()
        .map(|&p| model.sets[p].name.as_str())
        .collect();
    format!("[{}]", names.join(", "))
}

/// A parameter's use in a block: the parameter, its role and where it is written.
type Use = (PRef, Role, Span);

/// Each parameter's uses: the block (`None` for the latent's prior), the role, the argument.
type Uses = BTreeMap<VarId, Vec<(Option<usize>, Role, Span)>>;

/// Records a block derived from statement `fi` on `data`, with the parameters it uses.
fn add_block(
    blocks: &mut Vec<Block>,
    uses: &mut Uses,
    fi: usize,
    data: VarId,
    kind: BlockKind,
    roles: Vec<Use>,
) {
    let bi = blocks.len();
    for (p, role, span) in roles {
        uses.entry(p.param)
            .or_default()
            .push((Some(bi), role, span));
    }
    blocks.push(Block {
        factor: fi,
        data,
        kind,
        log_scale: false,
    });
}

/// `y[n] ~ Normal(dot(beta[z[n]], u[n]) + c[z[n]], s[z[n]])`: the covariates a data item of
/// this row, the coefficients a vector over its columns (a number for one `real` covariate),
/// the intercept a number, each selected by the latent; no variational Bayes yet. With a
/// vector response, `x[n] ~ MvNormal(B[z[n]] * u[n] + mu[z[n]], Sigma[z[n]])`: the
/// coefficients a `matrix[D, P]`, the intercept a `vector[D]`, the covariance full or
/// diagonal.
fn regression_block(
    model: &Model,
    fi: usize,
    z: Option<VarId>,
) -> Result<(BlockKind, Vec<Use>), Diagnostic> {
    let f = &model.factors[fi];
    let ArgKind::Regression {
        coef,
        covariates,
        intercept,
    } = &f.args[0].kind
    else {
        unreachable!("called on regression means")
    };
    let y = &model.vars[f.target].name;
    let response = match model.vars[f.target].ty {
        ElemType::Vector(d) => Some(d),
        _ => None,
    };
    if model.method == crate::ir::Method::Vb {
        return Err(Diagnostic::error(
            DiagCode::Method,
            f.args[0].span,
            format!("variational Bayes for a regression (`{y}` on covariates) is not derived yet"),
        )
        .label("regression mean")
        .hint(if response.is_some() {
            "fit it with `method em` (maximum likelihood, or MAP with an `InvWishart` prior on the covariance, `InvGamma` on diagonal variances)"
        } else {
            "fit it with `method em` (maximum likelihood, or MAP with an `InvGamma` prior on the variance)"
        }));
    }
    let ArgKind::Var { var: u, indices } = &covariates.kind else {
        unreachable!("checked: the covariates are a data item")
    };
    let u_name = &model.vars[*u].name;
    if *indices != f.target_indices {
        return Err(Diagnostic::error(
            NO_CLOSED_FORM,
            covariates.span,
            format!("the covariates `{u_name}` must be taken at this statement's row"),
        )
        .label("another row")
        .hint(format!("write `{u_name}[n]`, indexed as `{y}` is")));
    }
    if *u == f.target {
        return Err(Diagnostic::error(
            NO_CLOSED_FORM,
            covariates.span,
            format!("`{y}` cannot be its own covariate"),
        )
        .label("the response")
        .hint("the covariates are another data item, e.g. `data u[N]: vector[P]`"));
    }
    let beta = pref(model, coef, z)?.expect("a variable argument is a parameter");
    let b_name = &model.vars[beta.param].name;
    if let Some(d) = response {
        return mv_regression_block(model, fi, z, d, beta);
    }
    let example = |p: &str| {
        format!("write `{y}[n] ~ Normal(dot(beta[z[n]], {u_name}[n]) + c[z[n]], s[z[n]])` with `param beta[K]: {p}`")
    };
    match (model.vars[*u].ty, model.vars[beta.param].ty) {
        (ElemType::Real | ElemType::Positive | ElemType::Count, ElemType::Real) => {}
        (ElemType::Vector(p), ElemType::Vector(q)) if model.same_set(p, q) => {}
        (ElemType::Vector(p), ty) => {
            let set = &model.sets[p].name;
            return Err(Diagnostic::error(NO_CLOSED_FORM, coef.span, format!("the coefficients `{b_name}` must be a `vector[{set}]`, one per covariate of `{u_name}`, but they are `{}`", model.type_name(ty)))
                .label("coefficients")
                .hint(example(&format!("vector[{set}]"))));
        }
        (ElemType::Real | ElemType::Positive | ElemType::Count, ty) => {
            return Err(Diagnostic::error(NO_CLOSED_FORM, coef.span, format!("the coefficient `{b_name}` of the one covariate `{u_name}` must be `real`, but it is `{}`", model.type_name(ty)))
                .label("coefficient")
                .hint(format!("declare `param {b_name}[K]: real` and write `{b_name}[z[n]] * {u_name}[n]`")));
        }
        (ty, _) => {
            return Err(Diagnostic::error(
                NO_CLOSED_FORM,
                covariates.span,
                format!(
                    "covariates are one `real`, `positive` or `count` column or `vector[P]` data, but `{u_name}` is `{}`",
                    model.type_name(ty)
                ),
            )
            .label("covariates")
            .hint(format!(
                "declare `data {u_name}[N]: real` for one covariate, or `data {u_name}[N]: vector[P] from (...)` for several"
            )));
        }
    }
    let selected = |p, a, what| selected_by_latent(model, p, a, what);
    selected(beta, coef, "regression coefficients")?;
    let mut roles = vec![(beta, Role::RegressionCoef, coef.span)];
    let c = match intercept {
        Some(c) => {
            let p = pref(model, c, z)?.expect("a variable argument is a parameter");
            if model.vars[p.param].ty != ElemType::Real {
                return Err(Diagnostic::error(
                    NO_CLOSED_FORM,
                    c.span,
                    format!(
                        "the intercept `{}` must be `real`",
                        model.vars[p.param].name
                    ),
                )
                .label("intercept")
                .hint("declare e.g. `param c[K]: real`"));
            }
            selected(p, c, "a regression's intercept")?;
            roles.push((p, Role::RegressionIntercept, c.span));
            Some(p)
        }
        None => None,
    };
    let var_arg = &f.args[1];
    if let ArgKind::Number(v) = var_arg.kind {
        return Err(Diagnostic::error(
            NO_CLOSED_FORM,
            var_arg.span,
            "a known variance of `Normal` is not supported yet",
        )
        .label("fixed variance")
        .hint(format!(
            "estimate it: `param s[K]: positive` and `Normal(…, s[z[n]])` (here {v})"
        )));
    }
    let var = pref(model, var_arg, z)?.expect("checked: a variance parameter");
    roles.push((var, Role::ScalarVar, var_arg.span));
    Ok((
        BlockKind::Regression {
            coef: beta,
            intercept: c,
            var,
            covariates: *u,
        },
        roles,
    ))
}

/// A regression's coefficients and intercept are per component (shared ones would couple the
/// components' least-squares fits).
fn selected_by_latent(model: &Model, p: PRef, a: &Arg, what: &str) -> Result<(), Diagnostic> {
    if p.per_component {
        Ok(())
    } else {
        Err(Diagnostic::error(NO_CLOSED_FORM, a.span, format!("`{}` ({what}) must be selected by the latent", model.vars[p.param].name))
            .label("shared")
            .hint(format!("write `{}[z[n]]`: a regression per component (coefficients shared by every component are not supported yet)", model.vars[p.param].name)))
    }
}

/// `x[n] ~ MvNormal(B[z[n]] * u[n] + mu[z[n]], Sigma[z[n]])` (the statement's common checks
/// done by [`regression_block`]): `B` a `matrix[D, P]` over the response's and the
/// covariates' coordinates, `mu` a `vector[D]`, the covariance full or diagonal.
fn mv_regression_block(
    model: &Model,
    fi: usize,
    z: Option<VarId>,
    d: SetId,
    beta: PRef,
) -> Result<(BlockKind, Vec<Use>), Diagnostic> {
    let f = &model.factors[fi];
    let ArgKind::Regression {
        coef,
        covariates,
        intercept,
    } = &f.args[0].kind
    else {
        unreachable!("called on regression means")
    };
    let ArgKind::Var { var: u, .. } = covariates.kind else {
        unreachable!("checked: the covariates are a data item")
    };
    let (x, u_name, b_name) = (
        &model.vars[f.target].name,
        &model.vars[u].name,
        &model.vars[beta.param].name,
    );
    let d_name = &model.sets[d].name;
    let ElemType::Vector(p) = model.vars[u].ty else {
        return Err(Diagnostic::error(
            NO_CLOSED_FORM,
            covariates.span,
            format!(
                "the covariates of a vector response are `vector[P]` data, but `{u_name}` is `{}`",
                model.type_name(model.vars[u].ty)
            ),
        )
        .label("covariates")
        .hint(format!(
            "read them as a vector, `data {u_name}[N]: vector[P] from (...)` (one column is `vector[1]`), with `param {b_name}[K]: matrix[{d_name}, P]`"
        )));
    };
    let p_name = &model.sets[p].name;
    match model.vars[beta.param].ty {
        ElemType::Matrix(r, c) if model.same_set(r, d) && model.same_set(c, p) => {}
        ty => {
            return Err(Diagnostic::error(
                NO_CLOSED_FORM,
                coef.span,
                format!(
                    "the coefficients `{b_name}` of `{x}` on `{u_name}` must be a `matrix[{d_name}, {p_name}]`, a row per response coordinate and a column per covariate, but they are `{}`",
                    model.type_name(ty)
                ),
            )
            .label("coefficients")
            .hint(format!(
                "declare `param {b_name}[K]: matrix[{d_name}, {p_name}]`: `{b_name}[z[n]] * {u_name}[n]` is then a `vector[{d_name}]`, as `{x}[n]` is"
            )));
        }
    }
    selected_by_latent(model, beta, coef, "regression coefficients")?;
    let mut roles = vec![(beta, Role::RegressionCoef, coef.span)];
    let c = match intercept {
        Some(c) => {
            let q = pref(model, c, z)?.expect("a variable argument is a parameter");
            let name = &model.vars[q.param].name;
            match model.vars[q.param].ty {
                ElemType::Vector(e) if model.same_set(e, d) => {}
                ty => {
                    return Err(Diagnostic::error(
                        NO_CLOSED_FORM,
                        c.span,
                        format!(
                            "the intercept `{name}` of `{x}` must be a `vector[{d_name}]`, but it is `{}`",
                            model.type_name(ty)
                        ),
                    )
                    .label("intercept")
                    .hint(format!("declare e.g. `param {name}[K]: vector[{d_name}]`")));
                }
            }
            selected_by_latent(model, q, c, "a regression's intercept")?;
            roles.push((q, Role::RegressionIntercept, c.span));
            Some(q)
        }
        None => None,
    };
    let cov_arg = &f.args[1];
    let cov = match (&cov_arg.kind, fixed_cov(cov_arg)) {
        (ArgKind::Var { .. }, None) => {
            let q = pref(model, cov_arg, z)?.expect("checked: a covariance parameter");
            roles.push((q, Role::FullCov, cov_arg.span));
            Cov::Full(q)
        }
        (ArgKind::Diag(_), None) => {
            let q = pref(model, cov_arg, z)?.expect("checked: a variance parameter");
            roles.push((q, Role::DiagVar, cov_arg.span));
            Cov::Diag(q)
        }
        _ => {
            return Err(Diagnostic::error(
                NO_CLOSED_FORM,
                cov_arg.span,
                "a multivariate regression's residual covariance is full or diagonal for now",
            )
            .label("covariance")
            .hint(format!(
                "write `Sigma[z[n]]` with `param Sigma[K]: cov[{d_name}]`, or `diag(v[z[n]])` with `param v[K]: positive[{d_name}]`"
            )));
        }
    };
    Ok((
        BlockKind::MvRegression {
            coef: beta,
            intercept: c,
            cov,
            covariates: u,
        },
        roles,
    ))
}

/// `x[n] ~ MvNormal(W * h[n] + mu, Psi)`: the linear-Gaussian block and the roles of its
/// parameters, or why the statement has no closed form.
fn linear_block(
    model: &Model,
    fi: usize,
    z: Option<VarId>,
    continuous: Option<ContinuousLatent>,
) -> Result<(BlockKind, Vec<Use>), Diagnostic> {
    let f = &model.factors[fi];
    let ArgKind::Linear {
        loading,
        latent,
        offset,
    } = &f.args[0].kind
    else {
        unreachable!("called on linear means")
    };
    let target = &model.vars[f.target];
    let ElemType::Vector(d) = target.ty else {
        unreachable!("checked: MvNormal models vectors")
    };
    let d_name = &model.sets[d].name;
    let ArgKind::Var { var: h, indices } = &latent.kind else {
        unreachable!("checked: the latent is a variable")
    };
    let Some(c) = continuous.filter(|c| c.var == *h) else {
        unreachable!("the only continuous latent")
    };
    let h_name = &model.vars[*h].name;
    let l_name = &model.sets[c.dim].name;
    if model.same_set(c.dim, d) {
        return Err(Diagnostic::error(
            NO_CLOSED_FORM,
            model.vars[*h].span,
            format!("latent `{h_name}` has as many dimensions as `{}` (both `{d_name}`)", target.name),
        )
        .label("declared here")
        .hint(format!(
            "a linear-Gaussian latent explains the data with fewer dimensions: declare `const L: int = 2` and `latent {h_name}[N]: vector[L]`"
        )));
    }
    if indices.as_slice() != [Index::Loop(0)] {
        return Err(Diagnostic::error(
            NO_CLOSED_FORM,
            latent.span,
            format!("`{h_name}` must be taken at this statement's row"),
        )
        .label("another row")
        .hint(format!(
            "write `{h_name}[n]` with `n` the index of `{}`; a latent shared across rows is a dynamical model, which is not supported",
            target.name
        )));
    }
    let w = pref(model, loading, z)?.expect("a variable argument is a parameter");
    let w_ty = model.vars[w.param].ty;
    let w_name = &model.vars[w.param].name;
    if !matches!(w_ty, ElemType::Matrix(r, cc) if model.same_set(r, d) && model.same_set(cc, c.dim))
    {
        return Err(Diagnostic::error(
            NO_CLOSED_FORM,
            loading.span,
            format!(
                "the loading matrix `{w_name}` must be a `matrix[{d_name}, {l_name}]`, but it is `{}`",
                model.type_name(w_ty)
            ),
        )
        .label("loading matrix")
        .hint(format!(
            "declare `param {w_name}{}: matrix[{d_name}, {l_name}]`: one row per coordinate of `{}`, one column per coordinate of `{h_name}`",
            plates_text(model, w.param),
            target.name
        )));
    }
    let Some(offset) = offset else {
        return Err(Diagnostic::error(
            NO_CLOSED_FORM,
            f.args[0].span,
            "a linear-Gaussian mean needs an offset",
        )
        .label("no offset")
        .hint(format!(
            "write `{w_name} * {h_name}[n] + mu` with `param mu: vector[{d_name}]`; for centred data it is fitted close to zero"
        )));
    };
    let mu = pref(model, offset, z)?.expect("a variable argument is a parameter");
    let mu_ty = model.vars[mu.param].ty;
    if !matches!(mu_ty, ElemType::Vector(e) if model.same_set(e, d)) {
        let mu_name = &model.vars[mu.param].name;
        return Err(Diagnostic::error(
            NO_CLOSED_FORM,
            offset.span,
            format!(
                "the offset `{mu_name}` must be a `vector[{d_name}]`, but it is `{}`",
                model.type_name(mu_ty)
            ),
        )
        .label("offset")
        .hint(format!(
            "declare `param {mu_name}{}: vector[{d_name}]`",
            plates_text(model, mu.param)
        )));
    }
    let noise_arg = &f.args[1];
    let noise_ref = pref(model, noise_arg, z)?.expect("a variable argument is a parameter");
    let (noise, role) = match &noise_arg.kind {
        ArgKind::Diag(_) => (Cov::Diag(noise_ref), Role::DiagVar),
        ArgKind::ScaledIdentity(_) => (Cov::Spherical(noise_ref), Role::ScalarVar),
        _ => {
            return Err(Diagnostic::error(
                NO_CLOSED_FORM,
                noise_arg.span,
                "a full noise covariance beside a linear-Gaussian mean is not identifiable",
            )
            .label("full covariance")
            .hint(format!(
                "`{w_name} {w_name}ᵀ` already models the correlations: use `diag(psi)` with `param psi: positive[{d_name}]` (factor analysis) or `s * I` with `param s: positive` (probabilistic PCA)"
            )));
        }
    };
    if let Some(z) = z {
        if !(w.per_component && mu.per_component) {
            let z_name = &model.vars[z].name;
            let mu_name = &model.vars[mu.param].name;
            let ElemType::Cat(k) = model.vars[z].ty else {
                unreachable!("discrete latents are categories")
            };
            let k_name = &model.sets[k].name;
            let (span, what) = if w.per_component {
                (offset.span, "offset")
            } else {
                (loading.span, "loading matrix")
            };
            return Err(Diagnostic::error(
                NO_CLOSED_FORM,
                span,
                format!("in a model with the discrete latent `{z_name}`, the {what} of a linear-Gaussian mean must be selected by it"),
            )
            .label("shared by every component")
            .hint(format!(
                "write `{w_name}[{z_name}[n]] * {h_name}[n] + {mu_name}[{z_name}[n]]` with `param {w_name}[{k_name}]: matrix[{d_name}, {l_name}]` and `param {mu_name}[{k_name}]: vector[{d_name}]` (a mixture of factor analysers); the noise may be shared or per component"
            )));
        }
    }
    Ok((
        BlockKind::LinearGaussian {
            loading: w,
            mean: mu,
            noise,
        },
        vec![
            (w, Role::Loading, loading.span),
            (mu, Role::FactorMean, offset.span),
            (noise_ref, role, noise_arg.span),
        ],
    ))
}

fn find_latent(model: &Model, z: VarId, diags: &mut Vec<Diagnostic>) -> Option<Latent> {
    let var = &model.vars[z];
    let ElemType::Cat(components) = var.ty else {
        unreachable!("discrete latents are categories")
    };
    let rows = latent_rows(model, z, "0..K", diags)?;
    let example = format!(
        "`{}[n] ~ Categorical(w)` with `param w: simplex[K]`",
        var.name
    );
    let priors = latent_priors(model, z, &example, diags)?;
    let factor = priors[0];
    let looks_like_chain = priors.len() > 1
        || priors.iter().any(|&p| {
            let f = &model.factors[p];
            f.target_indices != [Index::Loop(0)]
                || matches!(&f.args[0].kind, ArgKind::Var { indices, .. } if !indices.is_empty())
        });
    if looks_like_chain {
        return find_chain(model, z, rows, components, &priors, diags);
    }
    let f = &model.factors[factor];
    let weights = match &f.args[0].kind {
        ArgKind::Var { var: w, indices }
            if indices.is_empty() && model.vars[*w].kind == DeclKind::Param =>
        {
            Some(*w)
        }
        // Equal weights, checked to be over the latent's values.
        ArgKind::Reciprocal(_) => None,
        _ => {
            diags.push(
                Diagnostic::error(
                    NO_CLOSED_FORM,
                    f.args[0].span,
                    "the mixing weights must be one `simplex[K]` parameter",
                )
                .label("here")
                .hint("declare `param w: simplex[K]` and write `z[n] ~ Categorical(w)`, or write `z[n] ~ Categorical(1 / K)` for equal, fixed weights"),
            );
            return None;
        }
    };
    Some(Latent::Categorical {
        var: z,
        rows,
        components,
        weights,
        factor,
    })
}

/// How a statement on the latent fits a first-order chain.
enum ChainPart {
    /// `z[0] ~ Categorical(p0)`.
    Initial(VarId),
    /// `z[t] ~ Categorical(A[z[t-1]])`.
    Transition(VarId),
}

/// Recognises `z[0] ~ Categorical(p0)` with `z[t] ~ Categorical(A[z[t-1]])`, or says why the
/// statements on `z` are not such a chain.
fn find_chain(
    model: &Model,
    z: VarId,
    rows: SetId,
    components: SetId,
    priors: &[usize],
    diags: &mut Vec<Diagnostic>,
) -> Option<Latent> {
    let zname = &model.vars[z].name;
    let rows_name = &model.sets[rows].name;
    let comps = &model.sets[components].name;
    let unsupported = |span: Span, msg: String, label: &str, hint: String| {
        Diagnostic::error(DiagCode::Unsupported, span, msg)
            .label(label)
            .hint(hint)
    };
    let mut initial = None;
    let mut transition = None;
    let mut ok = true;
    for &fi in priors {
        let f = &model.factors[fi];
        let arg = &f.args[0];
        let part = match (f.target_indices.as_slice(), &arg.kind) {
            ([Index::Lit(0)], ArgKind::Var { var, indices })
                if indices.is_empty() && model.vars[*var].kind == DeclKind::Param =>
            {
                Ok(ChainPart::Initial(*var))
            }
            ([Index::Lit(_)], _) => Err(unsupported(
                f.target_span,
                format!("a chain's first state is `{zname}[0]`, with its own distribution"),
                "here",
                format!("write `{zname}[0] ~ Categorical(p0)` with `param p0: simplex[{comps}]`"),
            )),
            ([Index::Loop(0)], ArgKind::Var { var, indices }) => match indices.as_slice() {
                [Index::Latent { var: prev, indices: at }] if *prev == z => match at.as_slice() {
                    [Index::Shift { loop_var: 0, by: -1 }] => Ok(ChainPart::Transition(*var)),
                    [Index::Shift { loop_var: 0, by }] if *by < -1 => Err(unsupported(
                        arg.span,
                        format!("the state at `t` depends on `{zname}[t{by}]`: a chain of order {}", -by),
                        "higher-order dependence",
                        format!("only first-order chains are supported: `{zname}[t] ~ Categorical(A[{zname}[t-1]])`; for order m, use a latent over the K^m joint states"),
                    )),
                    _ => Err(unsupported(
                        arg.span,
                        format!("the transition must be selected by the previous state `{zname}[t-1]`"),
                        "not the previous state",
                        format!("write `{zname}[t] ~ Categorical(A[{zname}[t-1]])`"),
                    )),
                },
                [Index::Latent { var: other, .. }] if model.vars[*other].kind == DeclKind::Data => Err(unsupported(
                    arg.span,
                    format!("the transition probabilities depend on data `{}`", model.vars[*other].name),
                    "input-dependent transition",
                    format!("transitions that depend on covariates (an input-output HMM) have no closed-form M-step here; use `A[{zname}[t-1]]` and model `{}` as an emission instead", model.vars[*other].name),
                )),
                _ => Err(unsupported(
                    arg.span,
                    "a chain's transition probabilities must be one row of a transition matrix, selected by the previous state".into(),
                    "here",
                    format!("declare `param A[{comps}]: simplex[{comps}]` and write `{zname}[t] ~ Categorical(A[{zname}[t-1]])`"),
                )),
            },
            ([Index::Loop(0)], _) => Err(unsupported(
                arg.span,
                "the transition probabilities must be a parameter selected by the previous state".into(),
                "here",
                format!("declare `param A[{comps}]: simplex[{comps}]` and write `{zname}[t] ~ Categorical(A[{zname}[t-1]])`"),
            )),
            _ => Err(unsupported(
                f.target_span,
                format!("a chain is written with `{zname}[0]` and `{zname}[t]`"),
                "here",
                format!("write `{zname}[0] ~ Categorical(p0)` and `{zname}[t] ~ Categorical(A[{zname}[t-1]])`"),
            )),
        };
        let (slot, param) = match part {
            Ok(ChainPart::Initial(p)) => (&mut initial, p),
            Ok(ChainPart::Transition(a)) => (&mut transition, a),
            Err(d) => {
                diags.push(d);
                ok = false;
                continue;
            }
        };
        if slot.replace((param, fi)).is_some() {
            diags.push(
                Diagnostic::error(DiagCode::LatentPrior, f.span, format!("`{zname}` has this kind of statement twice"))
                    .label("second statement")
                    .hint(format!("a chain has exactly one `{zname}[0] ~ ...` and one `{zname}[t] ~ ...`; remove one")),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    match (initial, transition) {
        (Some((initial, initial_factor)), Some((transition, transition_factor))) => {
            Some(Latent::Chain {
                var: z,
                rows,
                components,
                initial,
                transition,
                initial_factor,
                transition_factor,
            })
        }
        (None, Some((_, tf))) => {
            diags.push(
                Diagnostic::error(DiagCode::LatentPrior, model.factors[tf].span, format!("the chain `{zname}` has no distribution for its first state"))
                    .label("transition only")
                    .hint(format!("add `{zname}[0] ~ Categorical(p0)` with `param p0: simplex[{comps}]`; the first state of every sequence in `{rows_name}` is drawn from it")),
            );
            None
        }
        (Some((_, inf)), None) => {
            diags.push(
                Diagnostic::error(DiagCode::LatentPrior, model.factors[inf].span, format!("`{zname}[0]` has a distribution but the later states do not"))
                    .label("first state only")
                    .hint(format!("add `{zname}[t] ~ Categorical(A[{zname}[t-1]])` with `param A[{comps}]: simplex[{comps}]`")),
            );
            None
        }
        (None, None) => None,
    }
}
