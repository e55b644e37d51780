//! Sampling inverts fitting, on every model of the catalogue: data drawn from a fit's
//! parameters θ₀ and fitted again (EM started at θ₀) gives a maximum θ̂ whose likelihood
//! ratio is what the asymptotic theory says for the true parameters, 2(ℓ(θ̂) − ℓ(θ₀)) ~ χ²_p
//! (Wilks): at most p + 8√(2p) + 20. A sampler that drew from any other distribution — a
//! standard deviation for a variance, a permuted component, a wrong chain — leaves θ₀ far
//! from the new maximum, and the ratio grows with the number of rows (thousands here).

use jensen::bind::{BindOptions, Sequences, Table};
use jensen::lang::ir::Method;
use jensen::runtime::{EStepMode, FitOptions, InitStrategy, MixtureModel};
use jensen::sample::{sample, SampleError};
use jensen::PlanModel;
use jensen_tests::{bind, plan, CATALOGUE};
use rand::SeedableRng;

#[test]
fn data_drawn_from_a_fit_is_fitted_back_to_it() {
    let mut checked = 0;
    for (name, file, consts) in CATALOGUE {
        let p = plan(name);
        // The likelihood ratio needs maximum likelihood (or MAP) with the soft E-step, on
        // rows without weights or labels.
        let hard = p.model.e_step == jensen::lang::ir::EStepKind::Hard;
        if p.model.method == Method::Vb || hard || p.row_weights.is_some() {
            continue;
        }
        let bound = bind(&p, file, consts);
        if bound.labels.is_some() {
            continue;
        }
        let model = PlanModel::new(&p, &bound);
        let opts = FitOptions {
            seed: 0,
            max_iter: 300,
            ..FitOptions::default()
        };
        let truth = jensen::fit(&model, &opts)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .params;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        // Free draws: five times the rows (a chain: four sequences as long as the data);
        // a model conditioned on data draws one row per data row.
        let free = if p.latent.is_chain() {
            vec![bound.n_rows; 4]
        } else {
            vec![(5 * bound.n_rows).max(5000)]
        };
        let (lengths, draws) = match sample(&p, &truth, &free, None, &mut rng) {
            Ok(d) => (free, d),
            Err(SampleError::NeedsData { .. }) => {
                let lengths: Vec<usize> = bound.sequences.iter().map(|s| s.len()).collect();
                let d = sample(&p, &truth, &lengths, Some(&bound), &mut rng)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                (lengths, d)
            }
            Err(e) => panic!("{name}: {e}"),
        };
        let n: usize = lengths.iter().sum();
        assert_eq!(draws.states.len(), n, "{name}");
        // The draws as a table: item `x`'s columns `x.0`, `x.1`, …; the items the model
        // conditions on copied from the data.
        let mut table = Table {
            source: format!("draws of {name}"),
            headers: Vec::new(),
            columns: Vec::new(),
            text: Vec::new(),
            n_rows: n,
            lines: Vec::new(),
            missing: Vec::new(),
        };
        let mut columns = std::collections::BTreeMap::new();
        let mut add = |item: &str, values: &ndarray::Array2<f64>| {
            let names: Vec<String> = (0..values.ncols()).map(|c| format!("{item}.{c}")).collect();
            for (c, col) in names.iter().zip(values.columns()) {
                table.headers.push(c.clone());
                table.columns.push(Some(col.to_vec()));
                table.text.push(None);
            }
            columns.insert(item.to_string(), names);
        };
        for (item, values) in &draws.items {
            assert_eq!(values.nrows(), n, "{name}: {item}");
            assert!(values.iter().all(|v| v.is_finite()), "{name}: {item}");
            add(item, values);
        }
        for (v, item) in bound.items.iter().enumerate() {
            let item_name = p.name(v);
            let drawn = draws.items.iter().any(|(n, _)| n == item_name);
            if let Some(item) = item.as_ref().filter(|_| !drawn) {
                add(item_name, &item.values);
            }
        }
        let opts = BindOptions {
            consts: consts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            columns,
            sequences: if p.latent.is_chain() {
                Sequences::Lengths(lengths.clone())
            } else {
                Sequences::Whole
            },
            ..Default::default()
        };
        let drawn = jensen::bind(&p, &table, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let refit_model = PlanModel::new(&p, &drawn);
        let cache = refit_model
            .prepare(&truth)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (_, point) = jensen::runtime::em::posterior(&refit_model, &cache);
        let at_truth = point.sum();
        let refit = jensen::fit(
            &refit_model,
            &FitOptions {
                init: InitStrategy::Params(truth.clone()),
                tol: 1e-10,
                max_iter: 3000,
                e_step: Some(EStepMode::Soft),
                ..FitOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ratio = 2.0 * (refit.log_likelihood - at_truth);
        let dof = refit.free_parameters as f64;
        let bound_above = dof + 8.0 * (2.0 * dof).sqrt() + 20.0;
        // MAP maximises the posterior: its likelihood may sit a little below θ₀'s.
        let map = p.updates.iter().any(|u| u.prior.is_some());
        let bound_below = if map {
            -bound_above
        } else {
            -1e-7 * at_truth.abs()
        };
        assert!(
            ratio <= bound_above && ratio >= bound_below,
            "{name}: 2(ℓ(θ̂) − ℓ(θ₀)) = {ratio:.3} on {n} drawn rows, expected within \
             [{bound_below:.3}, {bound_above:.1}] for p = {dof}"
        );
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} models checked");
}
