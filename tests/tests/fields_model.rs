//! `#[derive(Model)]` without a model file: the fields are the data items, their families
//! chosen by type or attribute, and `components = K` / `chain = K` gives the latent. The
//! derived model file goes through the same language; fitted from the records, it gives the
//! executor's fit of that file on the same data, to round-off, and its text is snapshotted.

use jensen::runtime::{FitOptions, InitStrategy, MixtureModel};
use jensen::{PlanModel, Table};

/// An iris flower: a Normal per sepal measurement, a diagonal Gaussian for the petal, and
/// the species left out.
#[derive(Debug, Clone, jensen::Model)]
#[model(components = 3)]
pub struct Flower {
    sepal_length: f64,
    #[model(shared)]
    sepal_width: f64,
    #[model(cov = "diag")]
    petal: [f64; 2],
    #[model(skip)]
    #[allow(dead_code)]
    species: String,
}

/// Consecutive eruptions of Old Faithful, as a two-state hidden Markov model with a full
/// covariance, and a Poisson count (the waiting time in whole minutes).
#[derive(Debug, Clone, jensen::Model)]
#[model(chain = 2, module = "geyser_hmm")]
pub struct Eruption {
    x: Vec<f64>,
    minutes: u32,
    long: bool,
}

fn iris() -> Vec<Flower> {
    let table =
        jensen::csv::read(jensen_tests::root().join("data/iris.csv").to_str().unwrap()).unwrap();
    let col = |name: &str| {
        let c = table.headers.iter().position(|h| h == name).unwrap();
        table.columns[c].clone().unwrap()
    };
    let (sl, sw, pl, pw) = (
        col("sepal_length"),
        col("sepal_width"),
        col("petal_length"),
        col("petal_width"),
    );
    (0..table.n_rows)
        .map(|i| Flower {
            sepal_length: sl[i],
            sepal_width: sw[i],
            petal: [pl[i], pw[i]],
            species: String::new(),
        })
        .collect()
}

fn options<P>() -> FitOptions<P> {
    FitOptions {
        seed: 3,
        max_iter: 25,
        tol: f64::NEG_INFINITY,
        init: InitStrategy::KMeansPlusPlus,
        ..FitOptions::default()
    }
}

/// The records as a table of the derived file's items (`petal.0`, `petal.1`, …).
fn table_of(columns: &[(&str, Vec<f64>)]) -> Table {
    Table {
        source: "records".into(),
        headers: columns.iter().map(|(n, _)| n.to_string()).collect(),
        columns: columns.iter().map(|(_, c)| Some(c.clone())).collect(),
        text: vec![None; columns.len()],
        n_rows: columns[0].1.len(),
        lines: Vec::new(),
        missing: Vec::new(),
    }
}

#[test]
fn the_derived_model_file_is_shown_and_compiles_as_any_file() {
    insta::assert_snapshot!("flower_model_file", Flower::model_file());
    insta::assert_snapshot!("eruption_model_file", Eruption::model_file());
    for text in [Flower::model_file(), Eruption::model_file()] {
        jensen::compile(text).unwrap_or_else(|d| panic!("{d:?}\n{text}"));
    }
    // The math of the derived updates, as for a file.
    assert!(Flower::explain().contains("sepal_width_var"));
}

#[test]
fn records_fit_as_the_executor_fits_the_derived_file() {
    let rows = iris();
    let model = flower::Model::from_rows(&rows, flower::Consts::default()).unwrap();
    let typed = jensen::fit(&model, &options()).unwrap();
    // The executor on the derived file, the same data bound from a table.
    let (plan, _) = jensen::compile(Flower::model_file()).unwrap();
    let table = table_of(&[
        (
            "sepal_length",
            rows.iter().map(|r| r.sepal_length).collect(),
        ),
        ("sepal_width", rows.iter().map(|r| r.sepal_width).collect()),
        ("petal.0", rows.iter().map(|r| r.petal[0]).collect()),
        ("petal.1", rows.iter().map(|r| r.petal[1]).collect()),
    ]);
    let opts = jensen::BindOptions {
        columns: [(
            "petal".to_string(),
            vec!["petal.0".into(), "petal.1".into()],
        )]
        .into(),
        ..Default::default()
    };
    let bound = jensen::bind(&plan, &table, &opts).unwrap();
    let exec = PlanModel::new(&plan, &bound);
    let dynamic = jensen::fit(&exec, &options()).unwrap();
    assert_eq!(typed.elbo_trace.len(), dynamic.elbo_trace.len());
    for (a, b) in typed.elbo_trace.iter().zip(&dynamic.elbo_trace) {
        assert!((a - b).abs() <= 1e-10 * a.abs(), "{a} vs {b}");
    }
    // Shared: one sepal-width variance; per component: the petal's diagonal.
    let shared: f64 = typed.params.sepal_width_var;
    assert!(shared > 0.0);
    assert_eq!(typed.params.petal_var.shape(), [3, 2]);
    // The species are found: three components of about 50 flowers.
    let mut w = typed.params.w.to_vec();
    w.sort_by(f64::total_cmp);
    assert!(w[0] > 0.25, "{w:?}");
    // The flat names are the module's.
    let _: &FlowerParams = &typed.params;
    let _: &flower::Params = &typed.params;
}

#[test]
fn a_chain_derived_from_fields_fits_the_geyser() {
    let table = jensen::csv::read(
        jensen_tests::root()
            .join("data/geyser.csv")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let (wait, dur) = (
        table.columns[0].clone().unwrap(),
        table.columns[1].clone().unwrap(),
    );
    let rows: Vec<Eruption> = (0..table.n_rows)
        .map(|i| Eruption {
            x: vec![wait[i], dur[i]],
            minutes: wait[i].round() as u32,
            long: dur[i] > 3.0,
        })
        .collect();
    let model = geyser_hmm::Model::from_rows(&rows, geyser_hmm::Consts::default()).unwrap();
    assert_eq!(model.n_components(), 2);
    let fit = jensen::fit(&model, &FitOptions::default()).unwrap();
    assert!(fit.converged);
    // Short eruptions are followed by long ones: the states alternate more than they stay.
    let a = &fit.params.A;
    let switch = a[[0, 1]].min(a[[1, 0]]);
    assert!(switch > 0.5, "{a:?}");
}

/// The typed API end to end: options built and checked, errors of every layer through
/// `jensen::Error`, a fit, then data drawn from the typed parameters.
#[test]
fn typed_fit_and_sample_with_one_error_type() -> Result<(), jensen::Error> {
    use rand::SeedableRng;
    let rows = iris();
    let model = flower::Model::from_rows(&rows, flower::Consts::default())?;
    let opts = FitOptions::default()
        .restarts(3)
        .seed(1)
        .tol(1e-8)
        .build()?;
    let fit = jensen::fit(&model, &opts)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let draws = Flower::sample(&fit.params, &[3000], &mut rng)?;
    assert_eq!(draws.states.len(), 3000);
    let petal = &draws.items.iter().find(|(n, _)| n == "petal").unwrap().1;
    assert_eq!(petal.dim(), (3000, 2));
    // The draws' petal length has the fitted mixture's mean.
    let fitted: f64 = (0..3)
        .map(|k| fit.params.w[k] * fit.params.petal_mu[[k, 0]])
        .sum();
    let drawn = petal.column(0).mean().unwrap();
    assert!((drawn - fitted).abs() < 0.1, "{drawn} vs {fitted}");
    // A bad option is refused by `build`, through the same error type.
    let bad: Result<FitOptions<flower::Params>, jensen::Error> = FitOptions::default()
        .restarts(0)
        .build()
        .map_err(Into::into);
    assert!(matches!(bad, Err(jensen::Error::Fit(_))));
    Ok(())
}
