//! Properties of EM that hold on every model: the ELBO never decreases (with the soft and
//! the hard E-step), it equals the log-likelihood right after an E-step, the gradient
//! vanishes at convergence, and a seed gives the same bits at any thread count.

use jensen::runtime::em::{elbo, em_step};
use jensen::runtime::{EStepMode, FitOptions, InitStrategy, MStepConfig, MixtureModel};
use jensen::PlanModel;
use jensen_tests::{bind, plan, CATALOGUE};

#[test]
fn elbo_never_decreases_on_any_model() {
    for (name, file, consts) in CATALOGUE {
        let p = plan(name);
        let bound = bind(&p, file, consts);
        let model = PlanModel::new(&p, &bound);
        for (seed, mode) in (0..3).flat_map(|s| [(s, EStepMode::Soft), (s, EStepMode::Hard)]) {
            let opts = FitOptions {
                seed,
                tol: 1e-12,
                max_iter: 200,
                e_step: Some(mode),
                ..FitOptions::default()
            };
            let fit = jensen::fit(&model, &opts).unwrap_or_else(|e| panic!("{name} {mode:?}: {e}"));
            let reseeded_at: Vec<usize> = fit.reseeds.iter().map(|r| r.iteration).collect();
            for (t, pair) in fit.elbo_trace.windows(2).enumerate() {
                if reseeded_at.contains(&(t + 1)) {
                    continue;
                }
                let slack = 1e-9 * pair[0].abs().max(1.0);
                assert!(
                    pair[1] >= pair[0] - slack,
                    "{name} seed {seed} {mode:?}: the objective fell at iteration {}: {} -> {}",
                    t + 1,
                    pair[0],
                    pair[1]
                );
            }
            if mode == EStepMode::Hard {
                // ln p(x, z*) ≤ ln p(x): the classification likelihood bounds the likelihood.
                let complete = fit.complete_log_likelihood.expect("hard E-step");
                let last = *fit.elbo_trace.last().unwrap();
                assert!(
                    (last - (complete + fit.log_prior)).abs() <= 1e-9 * last.abs().max(1.0),
                    "{name}: the trace ends at the complete-data objective"
                );
                assert!(
                    complete <= fit.log_likelihood + 1e-9 * complete.abs(),
                    "{name} seed {seed}: ln p(x, z*) = {complete} above ln p(x) = {}",
                    fit.log_likelihood
                );
            }
        }
    }
}

#[test]
fn elbo_equals_log_likelihood_after_the_e_step() {
    for (name, file, consts) in CATALOGUE {
        let p = plan(name);
        let bound = bind(&p, file, consts);
        let model = PlanModel::new(&p, &bound);
        let fit = jensen::fit(
            &model,
            &FitOptions {
                max_iter: 3,
                tol: f64::NEG_INFINITY,
                ..FitOptions::default()
            },
        )
        .unwrap();
        // At θ₃: the bound with q = p(z | x, θ₃) is tight.
        let f = elbo(&model, &fit.params, &fit.params).unwrap();
        let ll = fit.log_likelihood;
        assert!(
            (f - ll).abs() <= 1e-9 * ll.abs(),
            "{name}: ELBO {f} vs log-likelihood {ll}"
        );
        // After one M-step from θ₃ the bound rises (with ln p(θ): MAP-EM's M-step maximises
        // the bound plus the log prior, the regularising one included) but stays below the
        // new log-likelihood.
        let config = MStepConfig::default();
        let (ll3, next) = em_step(&model, &fit.params, &config).unwrap();
        let f_next = elbo(&model, &fit.params, &next).unwrap();
        let (ll4, _) = em_step(&model, &next, &config).unwrap();
        let (lp3, lp_next) = (
            model.log_prior(&fit.params, &config),
            model.log_prior(&next, &config),
        );
        assert!(
            f_next + lp_next >= ll3 + lp3 - 1e-9 * ll3.abs(),
            "{name}: M-step lowered the ELBO plus the log prior"
        );
        assert!(
            ll4 >= f_next - 1e-9 * ll4.abs(),
            "{name}: the ELBO exceeds the log-likelihood"
        );
    }
}

#[test]
fn gradient_vanishes_at_convergence() {
    let p = plan("gmm");
    let bound = bind(&p, "faithful.csv", &[]);
    let model = PlanModel::new(&p, &bound);
    let opts = FitOptions {
        tol: 1e-13,
        max_iter: 2000,
        m_step: MStepConfig { reg_covar: 0.0 },
        ..FitOptions::default()
    };
    let fit = jensen::fit(&model, &opts).unwrap();
    let ll = |params: &jensen::DynParams| elbo(&model, params, params).unwrap();
    let h = 1e-5;
    // Central differences along every mean coordinate and every covariance entry (kept symmetric).
    for name in ["mu", "Sigma"] {
        let n = fit.params.get(name).unwrap().len();
        for i in 0..n {
            let shift = |sign: f64| {
                let mut q = fit.params.clone();
                let a = q.get_mut(name).unwrap();
                let idx: Vec<usize> = {
                    let shape = a.shape().to_vec();
                    let mut rem = i;
                    let mut idx = vec![0; shape.len()];
                    for d in (0..shape.len()).rev() {
                        idx[d] = rem % shape[d];
                        rem /= shape[d];
                    }
                    idx
                };
                a[idx.as_slice()] += sign * h;
                if name == "Sigma" && idx[1] != idx[2] {
                    let t = [idx[0], idx[2], idx[1]];
                    a[t.as_slice()] += sign * h;
                }
                q
            };
            let g = (ll(&shift(1.0)) - ll(&shift(-1.0))) / (2.0 * h);
            assert!(g.abs() < 1e-3, "∂ℓ/∂{name}[{i}] = {g} at convergence");
        }
    }
    // Mixing weights: along the simplex (w₀ + h, w₁ − h).
    let mut up = fit.params.clone();
    let mut down = fit.params.clone();
    up.get_mut("w").unwrap()[[0]] += h;
    up.get_mut("w").unwrap()[[1]] -= h;
    down.get_mut("w").unwrap()[[0]] -= h;
    down.get_mut("w").unwrap()[[1]] += h;
    let g = (ll(&up) - ll(&down)) / (2.0 * h);
    assert!(g.abs() < 1e-3, "∂ℓ/∂w along the simplex = {g}");
}

/// MAP-EM: at convergence the log posterior `ln p(x | θ) + ln p(θ)` is stationary along
/// every simplex with a Dirichlet prior (each row of a per-component one), in every pair of
/// its entries, and along every entry of the other parameters with a prior, on every model
/// in `models/` that writes priors. Variational Bayes (`method vb`): the same for the
/// collapsed ELBO `ln Σ exp(…) − KL` (the `objective` below) along every posterior's mean
/// and strength.
#[test]
fn log_posterior_gradient_vanishes_at_a_map_fixed_point() {
    let mut checked = 0;
    for (name, file, consts) in CATALOGUE {
        let p = plan(name);
        let mut with_prior: Vec<String> = p
            .updates
            .iter()
            .filter(|u| u.prior.is_some())
            .map(|u| p.name(u.param).to_string())
            .collect();
        if with_prior.is_empty() {
            continue;
        }
        let bound = bind(&p, file, consts);
        let model = PlanModel::new(&p, &bound);
        let vb = p.model.method == jensen::lang::ir::Method::Vb;
        with_prior.extend(
            model
                .program()
                .params
                .iter()
                .filter(|s| s.posterior_of.is_some())
                .map(|s| s.name.clone()),
        );
        let config = MStepConfig::default();
        // Variational Bayes converges linearly and slowly along the emptied components: run
        // it well past the convergence rule, so that the remaining gradient is round-off.
        let opts = FitOptions {
            // (So does EM on the binomial mixture: 16 trials per cell make its log posterior
            // steep in the probabilities, and the convergence rule stops while the gradient
            // is still 1e-4; and on the multinomial mixture, whose rare words converge slowly.)
            tol: if vb || name.starts_with("binomial") || name.starts_with("multinomial") {
                f64::NEG_INFINITY
            } else {
                1e-14
            },
            max_iter: if vb { 3000 } else { 5000 },
            ..FitOptions::default()
        };
        let fit = jensen::fit(&model, &opts).unwrap();
        let objective = |params: &jensen::DynParams| {
            elbo(&model, params, params).unwrap() + model.log_prior(params, &config)
        };
        let h = 1e-6;
        for param in &with_prior {
            let value = fit.params.get(param).unwrap();
            let simplex = matches!(
                p.updates
                    .iter()
                    .find(|u| p.name(u.param) == param)
                    .and_then(|u| u.prior.as_ref())
                    .map(|q| q.family),
                Some(jensen::lang::plan::PriorFamily::Dirichlet { .. })
            );
            if simplex {
                // Along the simplex: entries 0 and j of each row, in opposite directions.
                let (rows, cols) = match value.shape() {
                    [c] => (1, *c),
                    [r, c] => (*r, *c),
                    other => panic!("{name}: `{param}` has shape {other:?}"),
                };
                for r in 0..rows {
                    for j in 1..cols {
                        // Variational Bayes: on the scale of the smaller entry (a component the
                        // posterior has emptied sits at its prior, where ψ is steep), and the
                        // gradient along ln of that entry.
                        let (a0, aj) = if value.ndim() == 1 {
                            (value[[0]], value[[j]])
                        } else {
                            (value[[r, 0]], value[[r, j]])
                        };
                        // (So is EM's below 0.05: a multinomial's rare words, where the finite
                        // difference's error `h² c / 3θ³` would swamp the step 1e-6.)
                        let (h, scale) = if vb || a0.min(aj) < 0.05 {
                            (1e-3 * a0.min(aj), a0.min(aj).min(1.0))
                        } else {
                            (h, 1.0)
                        };
                        let shift = |sign: f64| {
                            let mut q = fit.params.clone();
                            let a = q.get_mut(param).unwrap();
                            let (first, other) = if value.ndim() == 1 {
                                (vec![0], vec![j])
                            } else {
                                (vec![r, 0], vec![r, j])
                            };
                            a[first.as_slice()] += sign * h;
                            a[other.as_slice()] -= sign * h;
                            q
                        };
                        let g = (objective(&shift(1.0)) - objective(&shift(-1.0))) / (2.0 * h);
                        assert!(
                            (g * scale).abs() < 1e-4,
                            "{name}: ∂(ln p(x | θ) + ln p(θ)) along `{param}` row {r}, entries 0 and {j}: {g}"
                        );
                        checked += 1;
                    }
                }
            } else {
                // A scale, rate or probability: every entry (both of a symmetric pair; the
                // first 48 of a large parameter), on the scale of the entry.
                for (idx, &v) in value.indexed_iter().take(48) {
                    let idx = jensen::ndarray::Dimension::slice(&idx).to_vec();
                    if idx.len() == 3 && idx[1] > idx[2] {
                        continue;
                    }
                    let step = 1e-5 * v.abs().max(1e-3);
                    let shift = |sign: f64| {
                        let mut q = fit.params.clone();
                        let a = q.get_mut(param).unwrap();
                        a[idx.as_slice()] += sign * step;
                        if idx.len() == 3 && idx[1] != idx[2] {
                            a[[idx[0], idx[2], idx[1]].as_slice()] += sign * step;
                        }
                        q
                    };
                    let g = (objective(&shift(1.0)) - objective(&shift(-1.0))) / (2.0 * step);
                    assert!(
                        (g * v.abs().max(1e-3)).abs() < 1e-4,
                        "{name}: ∂(ln p(x | θ) + ln p(θ)) / ∂{param}{idx:?} = {g} at {v}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 8, "only {checked} directions checked");
}

/// Three well-separated 3-D clusters, 30 000 rows, from a fixed linear congruential stream.
fn synthetic() -> jensen::Table {
    synthetic_rows(30_000)
}

/// [`synthetic`] with `n` rows (row `i` in cluster `i % 3`).
fn synthetic_rows(n: usize) -> jensen::Table {
    let mut state: u64 = 42;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut cols: Vec<Vec<f64>> = (0..3).map(|_| Vec::with_capacity(n)).collect();
    for i in 0..n {
        let c = (i % 3) as f64;
        for (d, col) in cols.iter_mut().enumerate() {
            // Box–Muller.
            let g = (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos();
            col.push(4.0 * c * (d as f64 + 1.0) + g);
        }
    }
    jensen::Table {
        source: "synthetic".into(),
        headers: vec!["a".into(), "b".into(), "c".into()],
        columns: cols.into_iter().map(Some).collect(),
        text: vec![None; 3],
        n_rows: n,
        lines: Vec::new(),
        missing: Vec::new(),
    }
}

#[test]
fn a_seed_gives_identical_results_at_any_thread_count() {
    let p = plan("gmm");
    let table = synthetic();
    let bound = jensen::bind(
        &p,
        &table,
        &jensen::bind::BindOptions {
            consts: [("K".into(), 3)].into(),
            ..Default::default()
        },
    )
    .unwrap();
    let model = PlanModel::new(&p, &bound);
    assert!(
        model.n_rows() > 4 * jensen::runtime::em::TASK_ROWS,
        "enough rows for several parallel chunks"
    );
    let run = |threads| {
        let opts = FitOptions {
            seed: 5,
            restarts: 3,
            threads: Some(threads),
            max_iter: 30,
            ..FitOptions::default()
        };
        jensen::fit(&model, &opts).unwrap()
    };
    let one = run(1);
    let two = run(2);
    let four = run(4);
    for other in [&two, &four] {
        assert_eq!(one.elbo_trace, other.elbo_trace);
        assert_eq!(one.params, other.params);
        assert_eq!(one.restart, other.restart);
        assert_eq!(one.restart_log_likelihoods.len(), 3);
    }
    // Restarts differ from one another (different streams), so the best-of choice is real.
    let lls = &one.restart_log_likelihoods;
    assert!(lls.iter().all(|v| v.is_finite()));
    // (The best restart, or an earlier one equal to it to round-off.)
    let max = lls.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert!(one.log_likelihood >= max - 1e-12 * max.abs());
}

/// A chain's soft E-step runs batches of whole sequences (short ones together, a long one
/// alone and in pieces): with sequences of every kind, a seed gives the same bits on one,
/// two and four threads (the Gaussian HMM, whose eight-lane form makes the emissions in each
/// batch's task, and the categorical one's form for more than eight states is not used
/// here).
#[test]
fn a_chains_fit_is_the_same_at_any_thread_count() {
    let p = plan("hmm_gaussian_diag");
    let table = synthetic();
    // 30,000 rows: a long sequence, many short ones, two mid-sized, one of a single row, and
    // the rest.
    let mut lengths = vec![9_000];
    lengths.extend(std::iter::repeat_n(7, 700));
    lengths.extend([3_000, 4_096, 1]);
    let used: usize = lengths.iter().sum();
    lengths.push(30_000 - used);
    let bound = jensen::bind(
        &p,
        &table,
        &jensen::bind::BindOptions {
            consts: [("K".into(), 3)].into(),
            sequences: jensen::bind::Sequences::Lengths(lengths),
            ..Default::default()
        },
    )
    .unwrap();
    let model = PlanModel::new(&p, &bound);
    let run = |threads| {
        let opts = FitOptions {
            seed: 3,
            threads: Some(threads),
            max_iter: 15,
            tol: f64::NEG_INFINITY,
            ..FitOptions::default()
        };
        jensen::fit(&model, &opts).unwrap()
    };
    let one = run(1);
    assert!(one.elbo_trace.iter().all(|v| v.is_finite()));
    for other in [run(2), run(4)] {
        assert_eq!(one.elbo_trace, other.elbo_trace);
        assert_eq!(one.params, other.params);
        assert_eq!(one.log_likelihood, other.log_likelihood);
    }
}

/// Above `SEED_SAMPLE` rows, k-means++ and Lloyd's rounds run on a sample and every row takes
/// its nearest centre: on three well-separated clusters of 150,000 rows the first E-step's
/// assignments are the clusters, and the seeding is the same at any thread count.
#[test]
fn seeding_on_a_sample_of_a_large_data_set_finds_the_clusters() {
    let n = 150_000;
    assert!(n > jensen::runtime::em::SEED_SAMPLE);
    let p = plan("gmm");
    let table = synthetic_rows(n);
    let bound = jensen::bind(
        &p,
        &table,
        &jensen::bind::BindOptions {
            consts: [("K".into(), 3)].into(),
            ..Default::default()
        },
    )
    .unwrap();
    let model = PlanModel::new(&p, &bound);
    let run = |threads| {
        let opts = FitOptions {
            seed: 9,
            threads: Some(threads),
            max_iter: 1,
            tol: f64::NEG_INFINITY,
            ..FitOptions::default()
        };
        jensen::fit(&model, &opts).unwrap()
    };
    let one = run(1);
    assert_eq!(one.params, run(2).params);
    // Each cluster's rows share one component, a different one per cluster.
    let mut map = [usize::MAX; 3];
    let mut wrong = 0;
    for (i, &z) in one.assignments.iter().enumerate() {
        let c = i % 3;
        if map[c] == usize::MAX {
            map[c] = z;
        }
        wrong += usize::from(map[c] != z);
    }
    assert!(
        map[0] != map[1] && map[1] != map[2] && map[0] != map[2],
        "{map:?}"
    );
    assert!(
        wrong * 1000 < n,
        "{wrong} of {n} rows outside their cluster's component"
    );
}

#[test]
fn a_seed_gives_identical_results_at_any_thread_count_with_missing_cells() {
    // Every 7th cell of a column missing (offset by column), across the parallel chunks.
    let mut table = synthetic();
    table.missing = vec![Vec::new(); 3];
    for (c, col) in table.columns.iter_mut().enumerate() {
        let col = col.as_mut().unwrap();
        for r in (c..col.len()).step_by(7) {
            col[r] = f64::NAN;
            table.missing[c].push(r);
        }
    }
    let p = plan("gmm");
    let bound = jensen::bind(
        &p,
        &table,
        &jensen::bind::BindOptions {
            consts: [("K".into(), 3)].into(),
            ..Default::default()
        },
    )
    .unwrap();
    let model = PlanModel::new(&p, &bound);
    assert!(model.has_gaps());
    let run = |threads| {
        let opts = FitOptions {
            seed: 5,
            threads: Some(threads),
            max_iter: 15,
            ..FitOptions::default()
        };
        jensen::fit(&model, &opts).unwrap()
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one.elbo_trace, two.elbo_trace);
    assert_eq!(one.params, two.params);
}

#[test]
fn user_supplied_starting_parameters_are_used_as_given() {
    let p = plan("gmm");
    let bound = bind(&p, "faithful.csv", &[]);
    let model = PlanModel::new(&p, &bound);
    let first = jensen::fit(
        &model,
        &FitOptions {
            max_iter: 2,
            tol: f64::NEG_INFINITY,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let resumed = jensen::fit(
        &model,
        &FitOptions {
            max_iter: 0,
            init: InitStrategy::Params(first.params.clone()),
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        resumed.elbo_trace,
        vec![first.log_likelihood + first.log_prior]
    );
    assert_eq!(resumed.params, first.params);
}

/// A Poisson HMM on one sequence of 1,000,000 steps: forward–backward is scaled, so the
/// log-likelihood stays finite, EM still climbs, and the result is the same at any thread
/// count (the emissions and statistics use the same fixed chunks as mixtures).
#[test]
fn a_chain_of_a_million_steps_fits_without_underflow() {
    let p = plan("hmm_poisson");
    let n = 1_000_000;
    // Regimes of 500 steps alternating between low and high rates; counts drawn
    // deterministically from the regime's rate.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let counts: Vec<f64> = (0..n)
        .map(|t| {
            let rate: f64 = if (t / 500) % 2 == 0 { 1.5 } else { 6.0 };
            // Inverse-CDF Poisson draw.
            let (mut k, mut pk, u) = (0.0, (-rate).exp(), uniform());
            let mut cdf = pk;
            while u > cdf && k < 60.0 {
                k += 1.0;
                pk *= rate / k;
                cdf += pk;
            }
            k
        })
        .collect();
    let table = jensen::Table {
        source: "million.csv".into(),
        headers: vec!["discoveries".into()],
        columns: vec![Some(counts)],
        text: vec![None],
        n_rows: n,
        lines: Vec::new(),
        missing: Vec::new(),
    };
    let bound = jensen::bind(&p, &table, &Default::default()).unwrap();
    let model = PlanModel::new(&p, &bound);
    let fit = |threads| {
        jensen::fit(
            &model,
            &FitOptions {
                max_iter: 4,
                tol: f64::NEG_INFINITY,
                threads: Some(threads),
                ..FitOptions::default()
            },
        )
        .unwrap()
    };
    let one = fit(1);
    assert!(one.elbo_trace.iter().all(|v| v.is_finite()));
    assert!(one.elbo_trace.windows(2).all(|w| w[1] >= w[0]));
    let rate = one.params.get("rate").unwrap();
    let (lo, hi) = (rate[[0]].min(rate[[1]]), rate[[0]].max(rate[[1]]));
    assert!((lo - 1.5).abs() < 0.1 && (hi - 6.0).abs() < 0.1, "{rate}");
    let two = fit(2);
    assert_eq!(one.elbo_trace, two.elbo_trace);
}
