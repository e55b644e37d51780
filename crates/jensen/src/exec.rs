//! Direct execution of an update plan: a [`MixtureModel`] over dynamically shaped arrays that
//! walks the plan's blocks and updates, calling the same runtime kernels, in the same order,
//! as the generated code. `jensen fit` uses it, so a model file is fitted without cargo.

use std::ops::Range;
use std::sync::OnceLock;

use ndarray::{
    s, Array1, Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMut2, Axis, Ix1, Ix2,
    IxDyn,
};

use jensen_lang::ir::{ElemType, VarId};
use jensen_lang::plan::{BlockKind, Cov, PRef, Rule, StatKind};
use jensen_lang::Plan;
use jensen_runtime::chain;
use jensen_runtime::kernels::linear::{self, FactorPosterior};
use jensen_runtime::kernels::{discrete, gaussian, moments};
use jensen_runtime::linalg::Cholesky;
use jensen_runtime::mixture::{add_log_weights, reseed_weight};
use jensen_runtime::{
    ChainPrior, LatentStats, MStepConfig, MixtureModel, NumericalIssue, RngCore, Workspace,
};

use crate::bind::Bound;
use crate::params::DynParams;

/// A plan bound to data, ready for [`jensen_runtime::fit`].
#[derive(Debug)]
pub struct PlanModel<'a> {
    plan: &'a Plan,
    data: &'a Bound,
    /// Column-major copies of the data items (by variable id), for the kernels.
    columns: Vec<Option<Array2<f64>>>,
    k: usize,
    /// Whole-data moments of each block's data: means, covariance (full blocks), variances.
    moments: Vec<Moments>,
    /// `-Σ_n ln x_n!` of each Poisson block.
    log_factorial_total: Vec<f64>,
    /// Whether the E-step runs on the data's summaries (one component, only linear-Gaussian
    /// blocks).
    summarised: bool,
    /// Scatter about the column means of each block's data, computed on the first E-step of
    /// a summarised model (so a fit's timing includes it).
    scatters: OnceLock<Vec<Array2<f64>>>,
}

/// Whole-data `(means, covariance of full blocks, variances)` of a block's data.
type Moments = (Array1<f64>, Option<Array2<f64>>, Array1<f64>);

/// Per-iteration quantities derived from the parameters.
#[derive(Debug)]
pub struct ExecCache {
    params: DynParams,
    /// `ln w` of a mixture's weights, or `ln p0` of a chain's initial distribution (`None`
    /// without a discrete latent).
    log_prior: Option<Array1<f64>>,
    /// `ln A` of a chain's transition matrix.
    log_transition: Option<Array2<f64>>,
    /// Cholesky factors of full covariances, per block (one per component, or one if tied).
    chol: Vec<Vec<Cholesky>>,
    /// `ln p` of categorical blocks, `K × C`.
    log_probs: Vec<Option<Array2<f64>>>,
    /// Posteriors of the continuous latent under linear-Gaussian blocks, per block (one per
    /// component).
    posts: Vec<Vec<FactorPosterior>>,
}

/// Statistics: per block, one array per [`StatKind`] of the block, with a leading `K` axis.
#[derive(Debug, Clone)]
pub struct ExecStats {
    blocks: Vec<Vec<ArrayD<f64>>>,
}

impl<'a> PlanModel<'a> {
    /// Binds a plan to data.
    pub fn new(plan: &'a Plan, data: &'a Bound) -> Self {
        let k = plan.components().map_or(1, |c| data.sizes[c]);
        let moments = plan
            .blocks
            .iter()
            .map(|b| {
                let x = data.item(b.data).values.view();
                let cov = b
                    .kind
                    .full_scatter()
                    .then(|| moments::covariance(x, moments::RESEED_FLOOR));
                (
                    moments::column_means(x),
                    cov,
                    moments::column_variances(x, moments::RESEED_FLOOR),
                )
            })
            .collect();
        let log_factorial_total = plan
            .blocks
            .iter()
            .map(|b| {
                data.item(b.data)
                    .log_factorial
                    .as_ref()
                    .map_or(0.0, |l| -l.sum())
            })
            .collect();
        let columns = data
            .items
            .iter()
            .map(|i| {
                i.as_ref()
                    .map(|i| jensen_runtime::data::column_major(i.values.clone()))
            })
            .collect();
        // One component and only linear-Gaussian blocks: every statistic is linear in the
        // sample mean and scatter, so with more rows than columns the E-step needs no pass
        // over the rows.
        let summarised = plan.summarised()
            && plan
                .blocks
                .iter()
                .all(|b| data.n_rows > data.item(b.data).values.ncols());
        Self {
            plan,
            data,
            columns,
            k,
            moments,
            log_factorial_total,
            summarised,
            scatters: OnceLock::new(),
        }
    }

    /// Shape of every parameter, in declaration order.
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.plan
            .updates
            .iter()
            .map(|u| (self.plan.name(u.param).to_string(), self.shape(u.param)))
            .collect()
    }

    fn shape(&self, v: VarId) -> Vec<usize> {
        let var = &self.plan.model.vars[v];
        let sz = |s| self.data.sizes[s];
        let mut shape: Vec<usize> = var.plates.iter().map(|&p| sz(p)).collect();
        match var.ty {
            ElemType::Vector(d)
            | ElemType::PositiveVec(d)
            | ElemType::ProbVec(d)
            | ElemType::Simplex(d) => shape.push(sz(d)),
            ElemType::Cov(d) => shape.extend([sz(d), sz(d)]),
            ElemType::Matrix(r, c) => shape.extend([sz(r), sz(c)]),
            _ => {}
        }
        shape
    }

    fn x(&self, b: usize, rows: &Range<usize>) -> ArrayView2<'_, f64> {
        self.columns[self.plan.blocks[b].data]
            .as_ref()
            .expect("data item")
            .slice(s![rows.clone(), ..])
    }

    fn x_col(&self, b: usize, rows: &Range<usize>) -> ArrayView1<'_, f64> {
        self.columns[self.plan.blocks[b].data]
            .as_ref()
            .expect("data item")
            .slice(s![rows.clone(), 0])
    }

    fn name(&self, p: PRef) -> &str {
        self.plan.name(p.param)
    }

    /// A vector parameter by id.
    fn vector<'p>(&self, params: &'p DynParams, v: VarId) -> ArrayView1<'p, f64> {
        params
            .get(self.plan.name(v))
            .expect("checked")
            .view()
            .into_dimensionality::<Ix1>()
            .expect("vector")
    }

    /// A matrix parameter by id.
    fn matrix<'p>(&self, params: &'p DynParams, v: VarId) -> ArrayView2<'p, f64> {
        params
            .get(self.plan.name(v))
            .expect("checked")
            .view()
            .into_dimensionality::<Ix2>()
            .expect("matrix")
    }

    /// The latent's prior: the mixing weights, or a chain's initial distribution with its
    /// transition matrix.
    fn latent_prior<'p>(
        &self,
        params: &'p DynParams,
    ) -> Option<(ArrayView1<'p, f64>, Option<ArrayView2<'p, f64>>)> {
        match (self.plan.weights(), self.plan.chain()) {
            (Some(w), _) => Some((self.vector(params, w), None)),
            (None, Some((p0, a))) => Some((self.vector(params, p0), Some(self.matrix(params, a)))),
            (None, None) => None,
        }
    }

    /// The posteriors of the continuous latent under a linear-Gaussian block, one per
    /// component, failing with the parameter at fault (noise not positive, loadings not
    /// finite).
    fn factor_posteriors(
        &self,
        params: &DynParams,
        loading: PRef,
        noise: Cov,
    ) -> Result<Vec<FactorPosterior>, NumericalIssue> {
        let np = noise.pref();
        (0..self.k)
            .map(|k| {
                let w = part(params, self.name(loading), loading.per_component, k)
                    .into_dimensionality::<Ix2>()
                    .expect("matrix");
                let post = match noise {
                    Cov::Spherical(_) => {
                        FactorPosterior::isotropic(w, scalar_of(params, np, self.name(np), k))
                    }
                    _ => FactorPosterior::new(w, vec_of(params, np, self.name(np), k)),
                };
                post.map_err(|e| {
                    e.issue(
                        self.name(loading),
                        loading.per_component.then_some(k),
                        self.name(np),
                        np.per_component.then_some(k),
                    )
                })
            })
            .collect()
    }

    /// The noise variances of a linear-Gaussian block for component `k`, as a diagonal.
    fn noise_diag(&self, params: &DynParams, noise: Cov, d: usize, k: usize) -> Array1<f64> {
        let np = noise.pref();
        match noise {
            Cov::Spherical(_) => linear::isotropic(scalar_of(params, np, self.name(np), k), d),
            _ => vec_of(params, np, self.name(np), k).to_owned(),
        }
    }

    /// The loading matrix of component `k`.
    fn loading_of<'p>(&self, params: &'p DynParams, p: PRef, k: usize) -> ArrayView2<'p, f64> {
        part(params, self.name(p), p.per_component, k)
            .into_dimensionality::<Ix2>()
            .expect("matrix")
    }

    /// Cholesky factors of a full covariance parameter: one per component, or one if tied.
    fn cholesky_factors(
        &self,
        params: &DynParams,
        p: PRef,
    ) -> Result<Vec<Cholesky>, NumericalIssue> {
        let copies = if p.per_component { self.k } else { 1 };
        (0..copies)
            .map(|k| {
                let m = part(params, self.name(p), p.per_component, k)
                    .into_dimensionality::<Ix2>()
                    .expect("matrix");
                Cholesky::new(m).ok_or_else(|| NumericalIssue::NotPositiveDefinite {
                    param: self.name(p).to_string(),
                    component: p.per_component.then_some(k),
                })
            })
            .collect()
    }

    /// `E[h_n | x_n]` of the continuous latent for every row (the factor scores) under
    /// `params`, averaged over the discrete latent's posterior `resp` (`N × K`):
    /// `Σ_k resp[n, k] · B_k (x_n − μ_k)`. `None` for a model without a continuous latent.
    pub fn latent_means(
        &self,
        params: &DynParams,
        resp: ArrayView2<'_, f64>,
    ) -> Result<Option<Array2<f64>>, NumericalIssue> {
        let Some((b, loading, mean, noise)) =
            self.plan
                .blocks
                .iter()
                .enumerate()
                .find_map(|(b, block)| match block.kind {
                    BlockKind::LinearGaussian {
                        loading,
                        mean,
                        noise,
                    } => Some((b, loading, mean, noise)),
                    _ => None,
                })
        else {
            return Ok(None);
        };
        let posts = self.factor_posteriors(params, loading, noise)?;
        let x = self.data.item(self.plan.blocks[b].data).values.view();
        let mut out = Array2::zeros((x.nrows(), posts[0].latent_dim()));
        for (k, post) in posts.iter().enumerate() {
            let means = post.posterior_means(x, vec_of(params, mean, self.name(mean), k));
            out += &(&means * &resp.column(k).insert_axis(Axis(1)));
        }
        Ok(Some(out))
    }

    /// Checks user-supplied parameters: names, shapes and constraints.
    pub fn check_params(&self, params: &DynParams) -> Result<DynParams, String> {
        params.check_shapes(&self.param_shapes())?;
        // Restore declaration order.
        let mut ordered = DynParams::default();
        for (name, _) in self.param_shapes() {
            ordered.insert(&name, params.get(&name).expect("checked").clone());
        }
        for u in &self.plan.updates {
            let var = &self.plan.model.vars[u.param];
            let value = ordered.get(&var.name).expect("checked");
            if value.iter().any(|v| !v.is_finite()) {
                return Err(format!(
                    "parameter `{}` has a value that is not finite",
                    var.name
                ));
            }
            let ok = match var.ty {
                ElemType::Simplex(_) => value
                    .lanes(Axis(value.ndim() - 1))
                    .into_iter()
                    .all(|l| l.iter().all(|&v| v >= 0.0) && (l.sum() - 1.0).abs() < 1e-6),
                ElemType::Positive | ElemType::PositiveVec(_) => value.iter().all(|&v| v > 0.0),
                ElemType::Prob | ElemType::ProbVec(_) => {
                    value.iter().all(|&v| (0.0..=1.0).contains(&v))
                }
                ElemType::Cov(_) => {
                    let matrices: Vec<_> = if var.plates.is_empty() {
                        vec![value.view()]
                    } else {
                        value.outer_iter().collect()
                    };
                    for (k, m) in matrices.iter().enumerate() {
                        let m = m
                            .view()
                            .into_dimensionality::<Ix2>()
                            .expect("cov[D] is a matrix");
                        let scale = m
                            .iter()
                            .fold(0.0f64, |a, v| a.max(v.abs()))
                            .max(f64::MIN_POSITIVE);
                        let symmetric = m
                            .indexed_iter()
                            .all(|((i, j), v)| (v - m[[j, i]]).abs() <= 1e-10 * scale);
                        if !symmetric || Cholesky::new(m).is_none() {
                            let which = if var.plates.is_empty() {
                                String::new()
                            } else {
                                format!(" (component {k})")
                            };
                            return Err(format!("parameter `{}`{which} is not a symmetric positive definite covariance", var.name));
                        }
                    }
                    true
                }
                ElemType::Matrix(..) if u.rule == Rule::Loadings => {
                    // W = 0 is a fixed point of EM (a saddle of the likelihood): a zero column
                    // would never move.
                    let matrices: Vec<_> = if var.plates.is_empty() {
                        vec![value.view()]
                    } else {
                        value.outer_iter().collect()
                    };
                    for (k, m) in matrices.iter().enumerate() {
                        let m = m.view().into_dimensionality::<Ix2>().expect("matrix");
                        if let Some(j) =
                            (0..m.ncols()).find(|&j| m.column(j).iter().all(|&v| v == 0.0))
                        {
                            let which = if var.plates.is_empty() {
                                String::new()
                            } else {
                                format!(" (component {k})")
                            };
                            return Err(format!("loadings `{}`{which} have an all-zero column {j}: W = 0 is a fixed point of EM (a saddle of the likelihood), so that factor would never be fitted; start from non-zero loadings (the default initialisation draws them at random)", var.name));
                        }
                    }
                    true
                }
                _ => true,
            };
            if !ok {
                return Err(format!(
                    "parameter `{}` violates its constraint `{}`",
                    var.name,
                    self.plan.model.type_name(var.ty)
                ));
            }
        }
        Ok(ordered)
    }
}

/// Component `k` of a parameter (all of it when shared).
fn part<'p>(
    params: &'p DynParams,
    name: &str,
    per_component: bool,
    k: usize,
) -> ArrayViewD<'p, f64> {
    let v = params
        .get(name)
        .expect("parameters are checked against the plan");
    if per_component {
        v.index_axis(Axis(0), k)
    } else {
        v.view()
    }
}

fn vec_of<'p>(params: &'p DynParams, p: PRef, name: &str, k: usize) -> ArrayView1<'p, f64> {
    part(params, name, p.per_component, k)
        .into_dimensionality::<Ix1>()
        .expect("vector parameter")
}

fn scalar_of(params: &DynParams, p: PRef, name: &str, k: usize) -> f64 {
    *part(params, name, p.per_component, k)
        .first()
        .expect("scalar parameter")
}

impl MixtureModel for PlanModel<'_> {
    type Params = DynParams;
    type Cache = ExecCache;
    type Stats = ExecStats;

    fn n_rows(&self) -> usize {
        self.data.n_rows
    }

    fn n_components(&self) -> usize {
        self.k
    }

    fn prepare(&self, params: &DynParams) -> Result<ExecCache, NumericalIssue> {
        let prior = self.latent_prior(params);
        let log_prior = prior.map(|(p, _)| p.mapv(f64::ln));
        let log_transition = prior.and_then(|(_, a)| a).map(|a| a.mapv(f64::ln));
        let mut chol = Vec::new();
        let mut log_probs = Vec::new();
        let mut posts = Vec::new();
        for b in &self.plan.blocks {
            let mut factors = Vec::new();
            let mut lp = None;
            let mut post = Vec::new();
            match b.kind {
                BlockKind::LinearGaussian { loading, noise, .. } => {
                    post = self.factor_posteriors(params, loading, noise)?
                }
                BlockKind::MvNormal {
                    cov: Cov::Full(p), ..
                } => factors = self.cholesky_factors(params, p)?,
                BlockKind::Categorical { probs } => {
                    let mut m = Array2::zeros((
                        self.k,
                        self.shape(probs.param).last().copied().unwrap_or(1),
                    ));
                    for k in 0..self.k {
                        m.row_mut(k)
                            .assign(&vec_of(params, probs, self.name(probs), k).mapv(f64::ln));
                    }
                    lp = Some(m);
                }
                _ => {}
            }
            chol.push(factors);
            log_probs.push(lp);
            posts.push(post);
        }
        Ok(ExecCache {
            params: params.clone(),
            log_prior,
            log_transition,
            chol,
            log_probs,
            posts,
        })
    }

    fn log_joint(
        &self,
        cache: &ExecCache,
        rows: Range<usize>,
        mut out: ArrayViewMut2<'_, f64>,
        ws: &mut Workspace,
    ) {
        let p = &cache.params;
        if let (Some(log_w), None) = (&cache.log_prior, &cache.log_transition) {
            add_log_weights(out.view_mut(), log_w.view());
        }
        for (bi, b) in self.plan.blocks.iter().enumerate() {
            for k in 0..self.k {
                let col = out.column_mut(k);
                match b.kind {
                    BlockKind::MvNormal { mean, cov } => {
                        let x = self.x(bi, &rows);
                        let m = vec_of(p, mean, self.name(mean), k);
                        match cov {
                            Cov::Full(c) => {
                                let f = &cache.chol[bi][if c.per_component { k } else { 0 }];
                                gaussian::mvn_full_add_log_density(x, m, f, col, ws)
                            }
                            Cov::Diag(c) => gaussian::mvn_diag_add_log_density(
                                x,
                                m,
                                vec_of(p, c, self.name(c), k),
                                col,
                            ),
                            Cov::Spherical(c) => gaussian::mvn_spherical_add_log_density(
                                x,
                                m,
                                scalar_of(p, c, self.name(c), k),
                                col,
                            ),
                        }
                    }
                    BlockKind::Normal { mean, var } => gaussian::normal_add_log_density(
                        self.x_col(bi, &rows),
                        scalar_of(p, mean, self.name(mean), k),
                        scalar_of(p, var, self.name(var), k),
                        col,
                    ),
                    BlockKind::Poisson { rate } => {
                        let lf = self
                            .data
                            .item(b.data)
                            .log_factorial
                            .as_ref()
                            .expect("count data has ln x!");
                        discrete::poisson_add_log_density(
                            self.x_col(bi, &rows),
                            lf.slice(s![rows.clone()]),
                            scalar_of(p, rate, self.name(rate), k),
                            col,
                        )
                    }
                    BlockKind::Bernoulli { prob } => discrete::bernoulli_add_log_density(
                        self.x(bi, &rows),
                        vec_or_scalar(p, prob, self.name(prob), k).view(),
                        col,
                    ),
                    BlockKind::Categorical { .. } => discrete::categorical_add_log_density(
                        self.x_col(bi, &rows),
                        cache.log_probs[bi].as_ref().expect("prepared").row(k),
                        col,
                    ),
                    BlockKind::LinearGaussian { mean, .. } => linear::factor_add_log_density(
                        self.x(bi, &rows),
                        vec_of(p, mean, self.name(mean), k),
                        &cache.posts[bi][k],
                        col,
                        ws,
                    ),
                }
            }
        }
    }

    fn zero_stats(&self) -> ExecStats {
        let blocks = self
            .plan
            .blocks
            .iter()
            .map(|b| {
                let d = self.data.item(b.data).values.ncols();
                let l = self.plan.continuous.map_or(0, |c| self.data.sizes[c.dim]);
                let scalar = matches!(b.kind, BlockKind::Normal { .. } | BlockKind::Poisson { .. });
                b.kind
                    .stats()
                    .iter()
                    .map(|s| {
                        let shape: Vec<usize> = match s {
                            StatKind::Scatter => vec![self.k, d, d],
                            StatKind::LatentSum => vec![self.k, l],
                            StatKind::Cross => vec![self.k, l, d],
                            StatKind::LatentScatter => vec![self.k, l, l],
                            StatKind::Counts => {
                                let BlockKind::Categorical { probs } = b.kind else {
                                    unreachable!("counts are categorical")
                                };
                                vec![self.k, *self.shape(probs.param).last().expect("simplex")]
                            }
                            _ if scalar => vec![self.k],
                            _ => vec![self.k, d],
                        };
                        ArrayD::zeros(IxDyn(&shape))
                    })
                    .collect()
            })
            .collect();
        ExecStats { blocks }
    }

    fn accumulate(
        &self,
        cache: &ExecCache,
        rows: Range<usize>,
        resp: ArrayView2<'_, f64>,
        stats: &mut ExecStats,
        ws: &mut Workspace,
    ) {
        let p = &cache.params;
        for (bi, b) in self.plan.blocks.iter().enumerate() {
            let st = &mut stats.blocks[bi];
            for k in 0..self.k {
                let r = resp.column(k);
                match b.kind {
                    BlockKind::MvNormal { mean, cov } => {
                        let x = self.x(bi, &rows);
                        let c = vec_of(p, mean, self.name(mean), k);
                        let (first, rest) = st.split_at_mut(1);
                        let sum = first[0]
                            .index_axis_mut(Axis(0), k)
                            .into_dimensionality::<Ix1>()
                            .expect("sum");
                        let second = rest[0].index_axis_mut(Axis(0), k);
                        match cov {
                            Cov::Full(_) => gaussian::accumulate_scatter(
                                x,
                                c,
                                r,
                                sum,
                                second.into_dimensionality::<Ix2>().expect("scatter"),
                                ws,
                            ),
                            _ => gaussian::accumulate_diag(
                                x,
                                c,
                                r,
                                sum,
                                second.into_dimensionality::<Ix1>().expect("sumsq"),
                            ),
                        }
                    }
                    BlockKind::Normal { mean, .. } => {
                        let c = scalar_of(p, mean, self.name(mean), k);
                        let (first, rest) = st.split_at_mut(1);
                        gaussian::accumulate_scalar(
                            self.x_col(bi, &rows),
                            c,
                            r,
                            &mut first[0][[k]],
                            &mut rest[0][[k]],
                        );
                    }
                    BlockKind::Poisson { .. } => {
                        discrete::accumulate_weighted_sum(self.x_col(bi, &rows), r, &mut st[0][[k]])
                    }
                    BlockKind::Bernoulli { .. } => discrete::accumulate_weighted_rows(
                        self.x(bi, &rows),
                        r,
                        st[0]
                            .index_axis_mut(Axis(0), k)
                            .into_dimensionality::<Ix1>()
                            .expect("sum"),
                    ),
                    BlockKind::Categorical { .. } => discrete::accumulate_category_counts(
                        self.x_col(bi, &rows),
                        r,
                        st[0]
                            .index_axis_mut(Axis(0), k)
                            .into_dimensionality::<Ix1>()
                            .expect("counts"),
                    ),
                    BlockKind::LinearGaussian { mean, .. } => {
                        let [sum, sq, h_sum, cross, h_scatter] = &mut st[..] else {
                            unreachable!("five statistics")
                        };
                        let (sum, sq, h_sum) =
                            (slot_mut(sum, k), slot_mut(sq, k), slot_mut(h_sum, k));
                        linear::accumulate_factor(
                            self.x(bi, &rows),
                            vec_of(p, mean, self.name(mean), k),
                            r,
                            &cache.posts[bi][k],
                            sum,
                            sq,
                            h_sum,
                            slot_mut(cross, k),
                            slot_mut(h_scatter, k),
                            ws,
                        )
                    }
                }
            }
        }
    }

    fn e_step_from_summaries(&self, cache: &ExecCache) -> Option<(ExecStats, f64)> {
        if !self.summarised {
            return None;
        }
        let scatters = self.scatters.get_or_init(|| {
            self.plan
                .blocks
                .iter()
                .map(|b| moments::scatter(self.data.item(b.data).values.view()))
                .collect()
        });
        let p = &cache.params;
        let mut stats = self.zero_stats();
        let mut loglik = 0.0;
        for (bi, b) in self.plan.blocks.iter().enumerate() {
            let BlockKind::LinearGaussian { mean, .. } = b.kind else {
                unreachable!("summarised models have only linear-Gaussian blocks")
            };
            let [sum, sq, h_sum, cross, h_scatter] = &mut stats.blocks[bi][..] else {
                unreachable!("five statistics")
            };
            loglik += linear::factor_summary_statistics(
                self.data.n_rows as f64,
                self.moments[bi].0.view(),
                scatters[bi].view(),
                vec_of(p, mean, self.name(mean), 0),
                &cache.posts[bi][0],
                slot_mut(sum, 0),
                slot_mut(sq, 0),
                slot_mut(h_sum, 0),
                slot_mut(cross, 0),
                slot_mut(h_scatter, 0),
            );
        }
        Some((stats, loglik))
    }

    fn merge(&self, into: &mut ExecStats, other: &ExecStats) {
        for (a, b) in into.blocks.iter_mut().zip(&other.blocks) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }

    fn m_step(
        &self,
        stats: &ExecStats,
        latent: &LatentStats,
        prev: &DynParams,
        config: &MStepConfig,
    ) -> Result<DynParams, NumericalIssue> {
        let counts = latent.counts.view();
        let mut next = prev.clone();
        // Loadings first, then the means (which use the new loadings): the scale updates
        // take the residuals about the new means.
        let mut order: Vec<_> = self.plan.updates.iter().collect();
        order.sort_by_key(|u| match u.rule {
            Rule::Loadings => 0,
            Rule::Mean | Rule::FactorMean => 1,
            _ => 2,
        });
        for u in order {
            let name = self.plan.name(u.param).to_string();
            match u.rule {
                Rule::InitialProbs => {
                    let p0 = discrete::simplex_from_counts(latent.initial.view());
                    next.insert(&name, p0.into_dyn());
                    continue;
                }
                Rule::Transitions => {
                    let a = chain::transitions_from_counts(
                        latent.transitions.view(),
                        self.matrix(prev, u.param),
                    );
                    next.insert(&name, a.into_dyn());
                    continue;
                }
                _ => {}
            }
            let per_k = self.plan.model.vars[u.param].plates.len() == 1;
            let comps: Vec<Vec<usize>> = if per_k {
                (0..self.k).map(|k| vec![k]).collect()
            } else {
                vec![(0..self.k).collect()]
            };
            let mut value = next.get(&name).expect("parameter").clone();
            for (slot, ks) in comps.iter().enumerate() {
                let new: ArrayD<f64> = match u.rule {
                    Rule::Weights => discrete::simplex_from_counts(counts).into_dyn(),
                    Rule::Loadings | Rule::FactorMean => {
                        // One source and one component per slot, by derivation.
                        let b = u.sources[0];
                        let BlockKind::LinearGaussian { loading, .. } = self.plan.blocks[b].kind
                        else {
                            unreachable!("loadings and offsets belong to linear-Gaussian blocks")
                        };
                        let k = ks[0];
                        let st = LinearStats::of(&stats.blocks[b], k);
                        if u.rule == Rule::Loadings {
                            linear::loadings_from_stats(
                                self.loading_of(prev, loading, k),
                                counts[k],
                                st.sum,
                                st.h_sum,
                                st.cross,
                                st.h_scatter,
                            )
                            .into_dyn()
                        } else {
                            linear::factor_mean_from_stats(
                                part(prev, &name, per_k, slot)
                                    .into_dimensionality()
                                    .expect("vector"),
                                st.sum,
                                st.h_sum,
                                counts[k],
                                self.loading_of(&next, loading, k),
                            )
                            .into_dyn()
                        }
                    }
                    Rule::InitialProbs | Rule::Transitions => unreachable!("handled above"),
                    Rule::Mean => {
                        let centre = part(prev, &name, per_k, slot);
                        let mut sum = ArrayD::zeros(centre.raw_dim());
                        let mut n = 0.0;
                        for &k in ks {
                            for &b in &u.sources {
                                sum += &stats.blocks[b][0].index_axis(Axis(0), k);
                                n += counts[k];
                            }
                        }
                        if centre.ndim() == 0 {
                            DynParams::scalar(gaussian::scalar_mean_from_stats(
                                centre[[]],
                                sum[[]],
                                n,
                            ))
                        } else {
                            gaussian::mean_from_stats(
                                centre.into_dimensionality().expect("vector"),
                                sum.view().into_dimensionality().expect("vector"),
                                n,
                            )
                            .into_dyn()
                        }
                    }
                    Rule::Covariance | Rule::DiagonalVariances | Rule::Variance => self
                        .scale_update(
                            u.rule,
                            &u.sources,
                            ks,
                            stats,
                            counts,
                            prev,
                            &next,
                            config.reg_covar,
                        ),
                    Rule::Rate | Rule::Probability => {
                        let shape = &stats.blocks[u.sources[0]][0].shape()[1..];
                        let mut sum = ArrayD::zeros(IxDyn(shape));
                        let mut n = 0.0;
                        for &k in ks {
                            for &b in &u.sources {
                                sum += &stats.blocks[b][0].index_axis(Axis(0), k);
                                n += counts[k];
                            }
                        }
                        if u.rule == Rule::Rate {
                            DynParams::scalar(discrete::rate_from_stats(sum[[]], n))
                        } else if sum.ndim() == 0 {
                            DynParams::scalar(
                                discrete::probs_from_stats(
                                    sum.into_shape_with_order(1).expect("scalar").view(),
                                    n,
                                )[0],
                            )
                        } else {
                            discrete::probs_from_stats(
                                sum.into_dimensionality::<Ix1>().expect("vector").view(),
                                n,
                            )
                            .into_dyn()
                        }
                    }
                    Rule::Probabilities => {
                        let shape = &stats.blocks[u.sources[0]][0].shape()[1..];
                        let mut total = Array1::zeros(shape[0]);
                        for &k in ks {
                            for &b in &u.sources {
                                total += &stats.blocks[b][0]
                                    .index_axis(Axis(0), k)
                                    .into_dimensionality::<Ix1>()
                                    .expect("counts");
                            }
                        }
                        discrete::simplex_from_counts(total.view()).into_dyn()
                    }
                };
                if per_k && u.rule != Rule::Weights {
                    value.index_axis_mut(Axis(0), slot).assign(&new);
                } else {
                    value = new;
                }
            }
            next.insert(&name, value);
        }
        Ok(next)
    }

    fn expected_log_joint(
        &self,
        stats: &ExecStats,
        latent: &LatentStats,
        centre: &DynParams,
        params: &DynParams,
    ) -> Result<f64, NumericalIssue> {
        let counts = latent.counts.view();
        let mut total = match self.latent_prior(params) {
            Some((w, None)) => discrete::categorical_expected(counts, w),
            Some((p0, Some(a))) => {
                discrete::categorical_expected(latent.initial.view(), p0)
                    + chain::transitions_expected(latent.transitions.view(), a)
            }
            None => 0.0,
        };
        for (bi, b) in self.plan.blocks.iter().enumerate() {
            let st = &stats.blocks[bi];
            let chol: Vec<Cholesky> = match b.kind {
                BlockKind::MvNormal {
                    cov: Cov::Full(c), ..
                } => self.cholesky_factors(params, c)?,
                _ => Vec::new(),
            };
            if let BlockKind::LinearGaussian {
                loading,
                mean,
                noise,
            } = b.kind
            {
                let centre_post = self.factor_posteriors(centre, loading, noise)?;
                for k in 0..self.k {
                    let s = LinearStats::of(st, k);
                    let m = vec_of(params, mean, self.name(mean), k);
                    total += linear::factor_expected(
                        counts[k],
                        vec_of(centre, mean, self.name(mean), k),
                        s.sum,
                        s.sq,
                        s.h_sum,
                        s.cross,
                        s.h_scatter,
                        self.loading_of(params, loading, k),
                        m,
                        self.noise_diag(params, noise, m.len(), k).view(),
                        centre_post[k].log_det_precision(),
                    );
                }
                continue;
            }
            total += self.log_factorial_total[bi];
            for k in 0..self.k {
                let n = counts[k];
                let s0 = st[0].index_axis(Axis(0), k);
                total += match b.kind {
                    BlockKind::MvNormal { mean, cov } => {
                        let c = vec_of(centre, mean, self.name(mean), k);
                        let m = vec_of(params, mean, self.name(mean), k);
                        let sum = s0.into_dimensionality::<Ix1>().expect("sum");
                        let s1 = st[1].index_axis(Axis(0), k);
                        match cov {
                            Cov::Full(cv) => gaussian::mvn_full_expected(
                                n,
                                c,
                                sum,
                                s1.into_dimensionality().expect("scatter"),
                                m,
                                &chol[if cv.per_component { k } else { 0 }],
                            ),
                            Cov::Diag(cv) => gaussian::mvn_diag_expected(
                                n,
                                c,
                                sum,
                                s1.into_dimensionality().expect("sumsq"),
                                m,
                                vec_of(params, cv, self.name(cv), k),
                            ),
                            Cov::Spherical(cv) => gaussian::mvn_spherical_expected(
                                n,
                                c,
                                sum,
                                s1.into_dimensionality().expect("sumsq"),
                                m,
                                scalar_of(params, cv, self.name(cv), k),
                            ),
                        }
                    }
                    BlockKind::Normal { mean, var } => gaussian::normal_expected(
                        n,
                        scalar_of(centre, mean, self.name(mean), k),
                        s0[[]],
                        st[1][[k]],
                        scalar_of(params, mean, self.name(mean), k),
                        scalar_of(params, var, self.name(var), k),
                    ),
                    BlockKind::Poisson { rate } => discrete::poisson_expected(
                        n,
                        s0[[]],
                        scalar_of(params, rate, self.name(rate), k),
                    ),
                    BlockKind::Bernoulli { prob } => discrete::bernoulli_expected(
                        n,
                        s0.into_dimensionality().expect("sum"),
                        vec_or_scalar(params, prob, self.name(prob), k).view(),
                    ),
                    BlockKind::Categorical { probs } => discrete::categorical_expected(
                        s0.into_dimensionality().expect("counts"),
                        vec_of(params, probs, self.name(probs), k),
                    ),
                    BlockKind::LinearGaussian { .. } => unreachable!("handled above"),
                };
            }
        }
        Ok(total)
    }

    fn log_density_magnitude(&self) -> f64 {
        self.log_factorial_total.iter().map(|v| v.abs()).sum()
    }

    fn free_parameters(&self) -> usize {
        self.plan
            .free_parameters(&self.data.sizes)
            .iter()
            .map(|(_, n)| n)
            .sum()
    }

    fn neutral_params(&self) -> DynParams {
        let mut p = DynParams::default();
        for u in &self.plan.updates {
            let shape = self.shape(u.param);
            let var = &self.plan.model.vars[u.param];
            let per_k = var.plates.len() == 1;
            let inner: Vec<usize> = if per_k {
                shape[1..].to_vec()
            } else {
                shape.clone()
            };
            let (means, _, variances) = u
                .sources
                .first()
                .map(|&b| self.moments[b].clone())
                .unwrap_or_default();
            // Noise of a linear-Gaussian block starts at the data's variances.
            let linear_noise = u.sources.first().is_some_and(|&b| {
                matches!(self.plan.blocks[b].kind, BlockKind::LinearGaussian { .. })
            });
            let one: ArrayD<f64> = match u.rule {
                Rule::Loadings => ArrayD::zeros(IxDyn(&inner)),
                Rule::FactorMean => means.into_dyn(),
                Rule::DiagonalVariances if linear_noise => variances.into_dyn(),
                Rule::Variance if linear_noise => {
                    DynParams::scalar(variances.mean().unwrap_or(1.0))
                }
                Rule::Weights | Rule::InitialProbs | Rule::Transitions => {
                    ArrayD::from_elem(IxDyn(&inner), 1.0 / inner[0] as f64)
                }
                Rule::Mean => {
                    if inner.is_empty() {
                        DynParams::scalar(means[0])
                    } else {
                        means.into_dyn()
                    }
                }
                Rule::Covariance => Array2::<f64>::eye(inner[0]).into_dyn(),
                Rule::DiagonalVariances | Rule::Variance => ArrayD::ones(IxDyn(&inner)),
                Rule::Rate => DynParams::scalar(means[0].max(jensen_runtime::kernels::PROB_FLOOR)),
                Rule::Probability => ArrayD::from_elem(IxDyn(&inner), 0.5),
                Rule::Probabilities => ArrayD::from_elem(IxDyn(&inner), 1.0 / inner[0] as f64),
            };
            let value = if per_k {
                let mut full = ArrayD::zeros(IxDyn(&shape));
                for mut slot in full.outer_iter_mut() {
                    slot.assign(&one);
                }
                full
            } else {
                one
            };
            p.insert(&var.name, value);
        }
        p
    }

    fn randomise_neutral(&self, params: &mut DynParams, rng: &mut dyn RngCore) {
        for u in self
            .plan
            .updates
            .iter()
            .filter(|u| u.rule == Rule::Loadings)
        {
            let (_, _, variances) = &self.moments[u.sources[0]];
            let scale = variances.mapv(f64::sqrt);
            let l = *self.shape(u.param).last().expect("matrix");
            let value = params.get_mut(self.plan.name(u.param)).expect("loadings");
            if self.plan.model.vars[u.param].plates.len() == 1 {
                for mut w in value.outer_iter_mut() {
                    w.assign(&linear::random_loadings(rng, scale.view(), l));
                }
            } else {
                value.assign(&linear::random_loadings(rng, scale.view(), l));
            }
        }
    }

    fn init_features(&self) -> Array2<f64> {
        let items: Vec<ArrayView2<'_, f64>> = self
            .plan
            .model
            .vars
            .iter()
            .enumerate()
            .filter_map(|(v, _)| self.data.items[v].as_ref().map(|i| i.values.view()))
            .collect();
        ndarray::concatenate(Axis(1), &items).expect("items have the same rows")
    }

    fn sequences(&self) -> Option<&[Range<usize>]> {
        self.plan
            .latent
            .is_chain()
            .then_some(self.data.sequences.as_slice())
    }

    fn chain_prior<'c>(&self, cache: &'c ExecCache) -> Option<ChainPrior<'c>> {
        match (&cache.log_prior, &cache.log_transition) {
            (Some(p0), Some(a)) => Some(ChainPrior {
                log_initial: p0.view(),
                log_transition: a.view(),
            }),
            _ => None,
        }
    }

    fn reseed(&self, params: &mut DynParams, k: usize, row: usize) {
        for u in &self.plan.updates {
            let var = &self.plan.model.vars[u.param];
            let name = var.name.clone();
            if u.rule == Rule::Weights {
                let mut w = params
                    .get(&name)
                    .expect("weights")
                    .clone()
                    .into_dimensionality::<Ix1>()
                    .expect("simplex");
                reseed_weight(&mut w, k, self.n_rows());
                params.insert(&name, w.into_dyn());
                continue;
            }
            if matches!(u.rule, Rule::InitialProbs | Rule::Loadings) {
                // An empty component keeps its loadings; its offset moves to the row.
                continue;
            }
            if u.rule == Rule::Transitions {
                let (p0_id, _) = self.plan.chain().expect("a chain");
                let mut p0 = self.vector(params, p0_id).to_owned();
                let mut a = self.matrix(params, u.param).to_owned();
                chain::reseed_state(&mut p0, &mut a, k, self.n_rows());
                params.insert(self.plan.name(p0_id), p0.into_dyn());
                params.insert(&name, a.into_dyn());
                continue;
            }
            if var.plates.len() != 1 {
                continue;
            }
            let b = u.sources[0];
            let x = self.data.item(self.plan.blocks[b].data).values.row(row);
            let (_, cov, var_d) = &self.moments[b];
            let new: ArrayD<f64> = match u.rule {
                Rule::Mean if x.len() == 1 && self.shape(u.param).len() == 1 => {
                    DynParams::scalar(x[0])
                }
                Rule::Mean | Rule::FactorMean => x.to_owned().into_dyn(),
                Rule::Covariance => cov
                    .clone()
                    .expect("full blocks keep the covariance")
                    .into_dyn(),
                Rule::DiagonalVariances => var_d.clone().into_dyn(),
                Rule::Variance => DynParams::scalar(var_d.mean().unwrap_or(1.0)),
                Rule::Rate => DynParams::scalar(x[0].max(jensen_runtime::kernels::PROB_FLOOR)),
                Rule::Probability => {
                    let v = x.mapv(|b| 0.25 + 0.5 * b);
                    if self.shape(u.param).len() == 1 {
                        DynParams::scalar(v[0])
                    } else {
                        v.into_dyn()
                    }
                }
                Rule::Probabilities => {
                    let c = *self.shape(u.param).last().expect("simplex");
                    let mut p = Array1::from_elem(c, 0.5 / c as f64);
                    p[x[0] as usize] += 0.5;
                    p.into_dyn()
                }
                Rule::Weights | Rule::InitialProbs | Rule::Transitions | Rule::Loadings => {
                    unreachable!("handled above")
                }
            };
            params
                .get_mut(&name)
                .expect("parameter")
                .index_axis_mut(Axis(0), k)
                .assign(&new);
        }
    }
}

/// A Bernoulli probability argument as a vector (a scalar `prob` becomes length one).
fn vec_or_scalar(params: &DynParams, p: PRef, name: &str, k: usize) -> Array1<f64> {
    let v = part(params, name, p.per_component, k);
    Array1::from_iter(v.iter().copied())
}

/// Pools a diagonal scatter `a` over `n` weighted rows into a diagonal-variance update, or
/// into a single variance (`Rule::Variance`, which counts every coordinate).
fn add_diagonal(
    rule: Rule,
    a: Array1<f64>,
    n: f64,
    diag: &mut Option<Array1<f64>>,
    scalar: &mut f64,
    count: &mut f64,
) {
    if rule == Rule::Variance {
        *scalar += a.sum();
        *count += n * a.len() as f64;
    } else {
        *diag = Some(match diag.take() {
            Some(acc) => acc + a,
            None => a,
        });
        *count += n;
    }
}

/// Component `k` of a statistic, as a mutable view of the statistic's dimension.
fn slot_mut<D: ndarray::Dimension>(
    a: &mut ArrayD<f64>,
    k: usize,
) -> ndarray::ArrayViewMut<'_, f64, D> {
    a.index_axis_mut(Axis(0), k)
        .into_dimensionality::<D>()
        .expect("statistic of the planned shape")
}

/// Views of component `k` of a linear-Gaussian block's statistics.
struct LinearStats<'s> {
    sum: ArrayView1<'s, f64>,
    sq: ArrayView1<'s, f64>,
    h_sum: ArrayView1<'s, f64>,
    cross: ArrayView2<'s, f64>,
    h_scatter: ArrayView2<'s, f64>,
}

impl<'s> LinearStats<'s> {
    fn of(st: &'s [ArrayD<f64>], k: usize) -> Self {
        let vector = |a: &'s ArrayD<f64>| {
            a.index_axis(Axis(0), k)
                .into_dimensionality::<Ix1>()
                .expect("vector statistic")
        };
        let matrix = |a: &'s ArrayD<f64>| {
            a.index_axis(Axis(0), k)
                .into_dimensionality::<Ix2>()
                .expect("matrix statistic")
        };
        Self {
            sum: vector(&st[0]),
            sq: vector(&st[1]),
            h_sum: vector(&st[2]),
            cross: matrix(&st[3]),
            h_scatter: matrix(&st[4]),
        }
    }
}

impl ExecStats {
    /// The statistics of block `b`.
    pub fn block(&self, b: usize) -> &[ArrayD<f64>] {
        &self.blocks[b]
    }
}

impl ExecCache {
    /// The parameters this cache was prepared from.
    pub fn params(&self) -> &DynParams {
        &self.params
    }
}

impl PlanModel<'_> {
    fn scale_update(
        &self,
        rule: Rule,
        sources: &[usize],
        ks: &[usize],
        stats: &ExecStats,
        counts: ArrayView1<'_, f64>,
        prev: &DynParams,
        next: &DynParams,
        reg: f64,
    ) -> ArrayD<f64> {
        let mut full: Option<Array2<f64>> = None;
        let mut diag: Option<Array1<f64>> = None;
        let mut scalar = 0.0;
        let mut count = 0.0;
        for &k in ks {
            for &b in sources {
                let st = &stats.blocks[b];
                let n = counts[k];
                if let BlockKind::LinearGaussian { loading, mean, .. } = self.plan.blocks[b].kind {
                    let s = LinearStats::of(st, k);
                    let a = linear::factor_residual(
                        vec_of(prev, mean, self.name(mean), k),
                        s.sum,
                        s.sq,
                        s.h_sum,
                        s.cross,
                        s.h_scatter,
                        n,
                        self.loading_of(next, loading, k),
                        vec_of(next, mean, self.name(mean), k),
                    );
                    add_diagonal(rule, a, n, &mut diag, &mut scalar, &mut count);
                    continue;
                }
                let (BlockKind::MvNormal { mean, .. } | BlockKind::Normal { mean, .. }) =
                    self.plan.blocks[b].kind
                else {
                    unreachable!("scales belong to Gaussian blocks")
                };
                if let BlockKind::Normal { .. } = self.plan.blocks[b].kind {
                    scalar += gaussian::scalar_scatter_about(
                        scalar_of(prev, mean, self.name(mean), k),
                        st[0][[k]],
                        st[1][[k]],
                        n,
                        scalar_of(next, mean, self.name(mean), k),
                    );
                    count += n;
                    continue;
                }
                let c = vec_of(prev, mean, self.name(mean), k);
                let m = vec_of(next, mean, self.name(mean), k);
                let sum = st[0]
                    .index_axis(Axis(0), k)
                    .into_dimensionality::<Ix1>()
                    .expect("sum");
                let s1 = st[1].index_axis(Axis(0), k);
                match rule {
                    Rule::Covariance => {
                        let a = gaussian::scatter_about(
                            c,
                            sum,
                            s1.into_dimensionality().expect("scatter"),
                            n,
                            m,
                        );
                        full = Some(match full {
                            Some(acc) => acc + a,
                            None => a,
                        });
                        count += n;
                    }
                    _ => {
                        let a = gaussian::diag_scatter_about(
                            c,
                            sum,
                            s1.into_dimensionality().expect("sumsq"),
                            n,
                            m,
                        );
                        add_diagonal(rule, a, n, &mut diag, &mut scalar, &mut count);
                    }
                }
            }
        }
        match rule {
            Rule::Covariance => {
                gaussian::covariance_from_scatter(full.expect("one source").view(), count, reg)
                    .into_dyn()
            }
            Rule::DiagonalVariances => {
                gaussian::variances_from_scatter(diag.expect("one source").view(), count, reg)
                    .into_dyn()
            }
            _ => DynParams::scalar(gaussian::variance_from_scatter(scalar, count, reg)),
        }
    }
}
