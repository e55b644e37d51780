//! `#[derive(Model)]` on a struct whose fields are the model's data items: the records make
//! the same data as the binder reads from a file, so the fit from `from_rows` is the
//! executor's on the file, to round-off.

use jensen::bind::BindOptions;
use jensen::runtime::{FitOptions, InitStrategy};
use jensen::{PlanModel, RowsError};
use jensen_tests::{bind, plan, root};

/// One eruption of Old Faithful as a record of `models/gmm.em` (`data x[N]: vector[D]`).
#[derive(jensen::Model)]
#[model(file = "../models/gmm.em")]
pub struct Eruption {
    x: [f64; 2],
}

/// Records of every scalar kind, and a field that is not data.
#[derive(jensen::Model)]
#[model(file = "records/events.em")]
pub struct Event {
    kind: Kind,
    flag: bool,
    arrivals: u32,
    size: Option<f64>,
    #[model(skip)]
    #[allow(dead_code)]
    note: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Small,
    Medium,
    Large,
}

/// A record with a vector of any length.
#[derive(jensen::Model)]
#[model(file = "../models/gmm.em")]
pub struct Point {
    x: Vec<f64>,
}

fn options<P>() -> FitOptions<P> {
    FitOptions {
        seed: 5,
        max_iter: 30,
        tol: f64::NEG_INFINITY,
        init: InitStrategy::KMeansPlusPlus,
        ..FitOptions::default()
    }
}

#[test]
fn records_of_a_vector_item_fit_as_the_file_does() {
    let p = plan("gmm");
    let bound = bind(&p, "faithful.csv", &[]);
    let x = &bound.item(p.model.var("x").unwrap()).values;
    let rows: Vec<Eruption> = x
        .rows()
        .into_iter()
        .map(|r| Eruption { x: [r[0], r[1]] })
        .collect();
    let executed = jensen::fit(&PlanModel::new(&p, &bound), &options()).unwrap();
    // From a slice (references) and from owned records alike.
    let model = EruptionModel::from_rows(&rows, EruptionConsts::default()).unwrap();
    let generated = jensen::fit(&model, &options()).unwrap();
    jensen_tests::compare_routes("gmm from records", &executed, &generated);
    let streamed = EruptionModel::from_rows(rows, EruptionConsts::default()).unwrap();
    let again = jensen::fit(&streamed, &options()).unwrap();
    assert_eq!(again.elbo_trace, generated.elbo_trace);
}

#[test]
fn records_of_every_scalar_kind_fit_as_the_file_does() {
    let kinds = [Kind::Small, Kind::Medium, Kind::Large];
    let mut csv = String::from("kind,flag,arrivals,size\n");
    let mut rows = Vec::new();
    for i in 0..120usize {
        let high = i % 3 == 0;
        let kind = kinds[(i * 7 + usize::from(high)) % 3];
        let flag = (i * 5) % 7 < if high { 5 } else { 2 };
        let arrivals = if high { 6 + i % 5 } else { 1 + i % 3 } as u32;
        let size = (i % 11 != 4).then(|| if high { 3.0 } else { -1.0 } + 0.1 * (i % 9) as f64);
        csv.push_str(&format!(
            "{},{},{arrivals},{}\n",
            kind as u32,
            u8::from(flag),
            size.map_or(String::new(), |s| s.to_string())
        ));
        rows.push(Event {
            kind,
            flag,
            arrivals,
            size,
            note: format!("event {i}"),
        });
    }
    let source = std::fs::read_to_string(root().join("tests/records/events.em")).unwrap();
    let (p, _) = jensen::compile(&source).unwrap();
    let table = jensen::csv::read_bytes("events", csv.as_bytes()).unwrap();
    let bound = jensen::bind(&p, &table, &BindOptions::default()).unwrap();
    let executed = jensen::fit(&PlanModel::new(&p, &bound), &options()).unwrap();
    let data = EventData::from_rows(&rows).unwrap();
    assert_eq!(data.kind[2], Kind::Large as u32 as f64);
    assert!(data.size[4].is_nan(), "a missing size is NaN");
    let model = EventModel::new(data, EventConsts::default()).unwrap();
    let generated = jensen::fit(&model, &options()).unwrap();
    jensen_tests::compare_routes("events from records", &executed, &generated);
}

#[test]
fn records_of_unequal_length_are_an_error_naming_the_record() {
    let rows = vec![
        Point { x: vec![1.0, 2.0] },
        Point { x: vec![1.5, 2.5] },
        Point { x: vec![3.0] },
    ];
    match PointData::from_rows(&rows) {
        Err(RowsError::Length {
            row: 2,
            field: "x",
            found: 1,
            expected: 2,
        }) => {}
        other => panic!("expected a length error, got {other:?}"),
    }
    let err = PointModel::from_rows(Vec::<Point>::new(), PointConsts::default()).unwrap_err();
    assert!(matches!(err, RowsError::Data(_)), "{err}");
}

/// Fallible records (as `csv::Reader::deserialize` yields them) are read as they come; the
/// first error stops the reading and names its record.
#[test]
fn fallible_records_stop_at_the_first_error() {
    let ok = (0..5).map(|i| {
        Ok::<_, std::fmt::Error>(Point {
            x: vec![f64::from(i), 1.0],
        })
    });
    let data = PointData::try_from_rows(ok).unwrap();
    assert_eq!(data.x.dim(), (5, 2));
    let failing = (0..5).map(|i| {
        if i == 3 {
            Err("row 3 does not parse")
        } else {
            Ok(Point { x: vec![1.0, 2.0] })
        }
    });
    match PointModel::try_from_rows(failing, PointConsts::default()) {
        Err(RowsError::Record { row: 3, source }) => {
            assert_eq!(source.to_string(), "row 3 does not parse")
        }
        other => panic!("expected the fourth record's error, got {:?}", other.err()),
    }
}

#[test]
fn a_derived_model_shows_its_math_and_its_source() {
    let p = plan("gmm");
    assert_eq!(Eruption::explain(), jensen_codegen::explain(&p));
    assert!(Eruption::generated_source().contains("pub struct EruptionParams"));
    assert!(Eruption::explain().contains("Sigma[k] ="));
}

/// Predictions with a fitted model's parameters (`jensen::Predict`, for every model): each
/// row's log-likelihood is the mixture density evaluated independently with statrs, the
/// posterior probabilities sum to one and their argmax is the prediction, and a model bound
/// to new rows (here the first 20) predicts them as the model of all the rows does.
#[test]
fn a_fitted_model_predicts_and_scores_new_rows() {
    use jensen::Predict;
    use statrs::distribution::{Continuous, MultivariateNormal};
    let p = plan("gmm");
    let bound = bind(&p, "faithful.csv", &[]);
    let x = &bound.item(p.model.var("x").unwrap()).values;
    let rows: Vec<Eruption> = x
        .rows()
        .into_iter()
        .map(|r| Eruption { x: [r[0], r[1]] })
        .collect();
    let model = EruptionModel::from_rows(&rows, EruptionConsts::default()).unwrap();
    let fit = jensen::fit(&model, &options()).unwrap();
    let params = &fit.params;
    let proba = model.predict_proba(params).unwrap();
    let labels = model.predict(params).unwrap();
    let scores = model.score_samples(params).unwrap();
    let densities: Vec<MultivariateNormal<nalgebra::Dyn>> = (0..2)
        .map(|k| {
            MultivariateNormal::new(
                params.mu.row(k).to_vec(),
                params
                    .Sigma
                    .index_axis(ndarray::Axis(0), k)
                    .iter()
                    .copied()
                    .collect(),
            )
            .unwrap()
        })
        .collect();
    for (n, row) in rows.iter().enumerate() {
        let point = nalgebra::DVector::from_vec(row.x.to_vec());
        let density: f64 = (0..2).map(|k| params.w[k] * densities[k].pdf(&point)).sum();
        assert!(
            (scores[n] - density.ln()).abs() <= 1e-10 * density.ln().abs().max(1.0),
            "row {n}: {} vs {}",
            scores[n],
            density.ln()
        );
        let r = proba.row(n);
        assert!((r.sum() - 1.0).abs() < 1e-12);
        let best = if r[0] >= r[1] { 0 } else { 1 };
        assert_eq!(labels[n], best, "row {n}");
    }
    assert!((model.score(params).unwrap() - scores.sum()).abs() < 1e-9);
    let first = EruptionModel::from_rows(&rows[..20], EruptionConsts::default()).unwrap();
    assert_eq!(first.predict(params).unwrap(), labels[..20].to_vec());
    let first_proba = first.predict_proba(params).unwrap();
    for n in 0..20 {
        for k in 0..2 {
            assert!((first_proba[[n, k]] - proba[[n, k]]).abs() < 1e-12);
        }
    }
}
