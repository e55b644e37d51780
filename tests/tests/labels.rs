//! Partial labels (semi-supervised EM): `latent z[N]: 0..K from (col)` or `--labels COL`
//! clamps the labelled rows' posteriors to their label.
//!
//! - Every row labelled: one E-step and one M-step give the closed-form supervised estimates
//!   (per-class proportions, means and covariances; for a chain, the initial and transition
//!   frequencies too), computed here independently from the labels, and the fit has converged.
//! - 15 of iris's 150 rows labelled: the species of the other 135 are recovered (accuracy
//!   reported), the labelled rows keep their labels, soft and hard E-step.
//! - Labels that do not fit are data errors naming the row and column.

use jensen::runtime::{EStepMode, FitOptions, MStepConfig};
use jensen::{BindOptions, Bound, PlanModel, Sequences};
use jensen_tests::{plan, root};
use ndarray::{Array1, Array2, Ix1, Ix2, Ix3};

fn read(file: &str) -> jensen::Table {
    jensen::csv::read(root().join("data").join(file).to_str().unwrap()).unwrap()
}

fn bind_labels(
    p: &jensen::Plan,
    file: &str,
    labels: Option<&str>,
    consts: &[(&str, usize)],
    sequences: Sequences,
) -> Bound {
    jensen::bind(
        p,
        &read(file),
        &BindOptions {
            consts: consts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            labels: labels.map(str::to_string),
            sequences,
            ..Default::default()
        },
    )
    .unwrap()
}

fn param<D: ndarray::Dimension>(
    fit: &jensen::FitResult<jensen::DynParams>,
    name: &str,
) -> ndarray::Array<f64, D> {
    let (_, v) = fit.params.iter().find(|(n, _)| *n == name).unwrap();
    v.clone().into_dimensionality::<D>().unwrap()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-10 * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// Per-class proportions, means and biased covariances of `x` under `labels`.
fn supervised(
    x: &Array2<f64>,
    labels: &[u32],
    k: usize,
) -> (Vec<f64>, Vec<Array1<f64>>, Vec<Array2<f64>>) {
    let (n, d) = x.dim();
    let (mut props, mut means, mut covs) = (Vec::new(), Vec::new(), Vec::new());
    for c in 0..k {
        let rows: Vec<usize> = (0..n).filter(|&i| labels[i] as usize == c).collect();
        let m = rows.len() as f64;
        let mean = rows.iter().fold(Array1::zeros(d), |a, &i| a + x.row(i)) / m;
        let mut cov = Array2::<f64>::zeros((d, d));
        for &i in &rows {
            let e = &x.row(i) - &mean;
            for a in 0..d {
                for b in 0..d {
                    cov[[a, b]] += e[a] * e[b] / m;
                }
            }
        }
        props.push(m / n as f64);
        means.push(mean);
        covs.push(cov);
    }
    (props, means, covs)
}

fn one_step() -> FitOptions<jensen::DynParams> {
    FitOptions {
        max_iter: 5,
        m_step: MStepConfig { reg_covar: 0.0 },
        ..FitOptions::default()
    }
}

#[test]
fn every_row_labelled_gives_the_supervised_estimates_in_one_step() {
    // Iris, full covariances: the species are the components.
    let p = plan("gmm");
    let bound = bind_labels(
        &p,
        "iris.csv",
        Some("species"),
        &[("K", 3)],
        Sequences::Whole,
    );
    let labels: Vec<u32> = bound
        .labels
        .as_ref()
        .unwrap()
        .values
        .iter()
        .map(|l| l.unwrap())
        .collect();
    assert_eq!(
        bound.labels.as_ref().unwrap().names.as_deref(),
        Some(
            &[
                "setosa".to_string(),
                "versicolor".into(),
                "virginica".into()
            ][..]
        )
    );
    let x = bound.item(p.model.var("x").unwrap()).values.clone();
    for mode in [EStepMode::Soft, EStepMode::Hard] {
        let fit = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                e_step: Some(mode),
                ..one_step()
            },
        )
        .unwrap();
        assert!(
            fit.converged && fit.iterations == 1,
            "{mode:?}: {} iterations",
            fit.iterations
        );
        let (props, means, covs) = supervised(&x, &labels, 3);
        let (w, mu, sigma) = (
            param::<Ix1>(&fit, "w"),
            param::<Ix2>(&fit, "mu"),
            param::<Ix3>(&fit, "Sigma"),
        );
        for c in 0..3 {
            close(w[c], props[c], "proportion");
            for a in 0..4 {
                close(mu[[c, a]], means[c][a], "mean");
                for b in 0..4 {
                    close(sigma[[c, a, b]], covs[c][[a, b]], "covariance");
                }
            }
        }
        assert_eq!(
            fit.assignments,
            labels.iter().map(|&l| l as usize).collect::<Vec<_>>()
        );
    }

    // A Gaussian HMM on geyser with every state given (duration above 3 minutes): the initial
    // state, the transition frequencies, and each state's mean and covariance.
    let p = plan("hmm_gaussian");
    let text = std::fs::read_to_string(root().join("data/geyser.csv")).unwrap();
    let mut labelled = String::from("waiting,duration,state\n");
    let mut states = Vec::new();
    for line in text.lines().skip(1) {
        let d: f64 = line.split(',').nth(1).unwrap().parse().unwrap();
        let s = u32::from(d > 3.0);
        states.push(s);
        labelled.push_str(&format!("{line},{s}\n"));
    }
    let dir = std::env::temp_dir().join(format!("jensen-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("geyser_states.csv");
    std::fs::write(&path, labelled).unwrap();
    let t = jensen::csv::read(path.to_str().unwrap()).unwrap();
    let bound = jensen::bind(
        &p,
        &t,
        &BindOptions {
            labels: Some("state".into()),
            sequences: Sequences::Lengths(vec![150, 149]),
            ..Default::default()
        },
    )
    .unwrap();
    let fit = jensen::fit(&PlanModel::new(&p, &bound), &one_step()).unwrap();
    // The start from labels adds a pseudo-count to every initial state and transition (so
    // that no probability starts at zero); the first M-step after the clamped E-step drops it.
    assert!(
        fit.converged && fit.iterations <= 2,
        "{} iterations",
        fit.iterations
    );
    let a = param::<Ix2>(&fit, "A");
    let mut counts = [[0.0f64; 2]; 2];
    for (t, w) in states.windows(2).enumerate() {
        if t + 1 != 150 {
            counts[w[0] as usize][w[1] as usize] += 1.0;
        }
    }
    for i in 0..2 {
        let row: f64 = counts[i].iter().sum();
        for j in 0..2 {
            close(a[[i, j]], counts[i][j] / row, "transition");
        }
    }
    let p0 = param::<Ix1>(&fit, "p0");
    let first = [states[0], states[150]];
    for s in 0..2 {
        close(
            p0[s],
            first.iter().filter(|&&f| f as usize == s).count() as f64 / 2.0,
            "initial",
        );
    }
    let x = bound.item(p.model.var("x").unwrap()).values.clone();
    let (_, means, covs) = supervised(&x, &states, 2);
    let (mu, sigma) = (param::<Ix2>(&fit, "mu"), param::<Ix3>(&fit, "Sigma"));
    for s in 0..2 {
        for a in 0..2 {
            close(mu[[s, a]], means[s][a], "state mean");
            for b in 0..2 {
                close(sigma[[s, a, b]], covs[s][[a, b]], "state covariance");
            }
        }
    }
}

/// The README's semi-supervised figure: `models/gmm_iris_semisupervised.em` on
/// `data/iris_partially_labelled.csv` (5 labelled flowers per species).
#[test]
fn fifteen_labels_recover_the_species_of_the_other_rows() {
    let p = plan("gmm_iris_semisupervised");
    let bound = jensen_tests::bind(&p, "iris_partially_labelled.csv", &[]);
    let given = bound.labels.as_ref().unwrap().values.clone();
    assert_eq!(given.iter().flatten().count(), 15);
    let truth = bind_labels(
        &plan("gmm"),
        "iris.csv",
        Some("species"),
        &[("K", 3)],
        Sequences::Whole,
    )
    .labels
    .unwrap()
    .values;
    for (restarts, mode, at_least) in [
        (5, EStepMode::Soft, 0.96),
        (1, EStepMode::Soft, 0.92),
        (5, EStepMode::Hard, 0.9),
    ] {
        let fit = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                restarts,
                e_step: Some(mode),
                ..FitOptions::default()
            },
        )
        .unwrap();
        assert!(fit.converged, "{restarts} {mode:?}");
        let unlabelled: Vec<usize> = (0..150).filter(|&i| given[i].is_none()).collect();
        let right = unlabelled
            .iter()
            .filter(|&&i| Some(fit.assignments[i] as u32) == truth[i])
            .count();
        let accuracy = right as f64 / unlabelled.len() as f64;
        eprintln!("restarts {restarts}, {mode:?}: ℓ {:.6}, accuracy on the 135 unlabelled rows {right}/135 = {accuracy:.4}", fit.log_likelihood);
        assert!(
            accuracy >= at_least,
            "{restarts} {mode:?}: accuracy {accuracy}"
        );
        for i in 0..150 {
            if let Some(l) = given[i] {
                assert_eq!(
                    fit.assignments[i], l as usize,
                    "a labelled row keeps its label"
                );
            }
        }
        // The trace never decreases (the fit's guard would have stopped it).
        assert!(fit
            .elbo_trace
            .windows(2)
            .all(|w| w[1] >= w[0] - 1e-9 * w[0].abs()));
    }
}

/// The README's comparison: the unsupervised 3-component mixture on iris (10 restarts), its
/// components matched to species after the fact by the best of the 6 permutations.
#[test]
fn the_unsupervised_mixture_matched_to_species_afterwards() {
    let p = plan("gmm");
    let bound = bind_labels(&p, "iris.csv", None, &[("K", 3)], Sequences::Whole);
    let truth = bind_labels(
        &p,
        "iris.csv",
        Some("species"),
        &[("K", 3)],
        Sequences::Whole,
    )
    .labels
    .unwrap()
    .values;
    let fit = jensen::fit(
        &PlanModel::new(&p, &bound),
        &FitOptions {
            restarts: 10,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let perms = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let right = perms
        .iter()
        .map(|perm| {
            (0..150)
                .filter(|&i| Some(perm[fit.assignments[i]] as u32) == truth[i])
                .count()
        })
        .max()
        .unwrap();
    eprintln!(
        "unsupervised: ℓ {:.6}, {right}/150 = {:.4} after matching components to species",
        fit.log_likelihood,
        right as f64 / 150.0
    );
    assert!(right >= 144, "{right}/150");
}

#[test]
fn labels_that_do_not_fit_are_errors_naming_the_row() {
    let dir = std::env::temp_dir().join(format!("jensen-labels-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        jensen::csv::read(path.to_str().unwrap()).unwrap()
    };
    let p = plan("gmm");
    let opts = |k: usize| BindOptions {
        consts: [("K".to_string(), k)].into(),
        labels: Some("c".into()),
        ..Default::default()
    };
    let t = write("codes.csv", "a,b,c\n1,2,0\n2,3,\n3,1,5\n4,4,1\n");
    let err = jensen::bind(&p, &t, &opts(2)).unwrap_err().to_string();
    assert!(
        err.contains("row 3") && err.contains("`c`") && err.contains("0..2"),
        "{err}"
    );
    let t = write("names.csv", "a,b,c\n1,2,x\n2,3,\n3,1,y\n4,4,z\n");
    let err = jensen::bind(&p, &t, &opts(2)).unwrap_err().to_string();
    assert!(
        err.contains("row 4") && err.contains("3 labels") && err.contains("K=3"),
        "{err}"
    );
    let ok = jensen::bind(&p, &t, &opts(3)).unwrap();
    assert_eq!(
        ok.labels.unwrap().values,
        vec![Some(0), None, Some(1), Some(2)]
    );
    let fa = plan("fa_iris");
    let err = jensen::bind(
        &fa,
        &read("iris.csv"),
        &BindOptions {
            labels: Some("species".into()),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no discrete latent"), "{err}");
    let err = jensen::bind(
        &p,
        &t,
        &BindOptions {
            labels: Some("nope".into()),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no column `nope`"), "{err}");
}
