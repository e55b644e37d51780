//! The differential catalogue: every meaningful combination of block kind, scalar or vector
//! data, per-component, tied or shared parameters, and mixture, chain or single latent
//! structure (`build.rs` writes the models), each compiled through `#[derive(Model)]` and
//! run through the executor on the same synthetic data. Both routes must give the same
//! trace, parameters, assignments, free-parameter count and BIC — and the count must be the
//! one `jensen explain` states, evaluated.

use jensen::bind::{BindOptions, Table};
use jensen::runtime::{FitOptions, FitResult, InitStrategy};
use jensen::{DynParams, Plan, PlanModel};
use jensen_tests::glue::{column, matrix};

/// A small deterministic generator (SplitMix64), so the data need no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

const ROWS: usize = 240;

/// Synthetic data with two clusters (in runs of rows, so a chain has something to find).
fn table(items: &[catalogue::Item]) -> Table {
    let mut rng = Rng(7);
    let cluster: Vec<usize> = (0..ROWS).map(|r| (r / 20) % 2).collect();
    let mut headers = Vec::new();
    let mut columns = Vec::new();
    for (_, cols, kind) in items {
        for (j, name) in cols.iter().enumerate() {
            let values: Vec<f64> = cluster
                .iter()
                .map(|&c| {
                    let shift = if c == 0 { -1.0 } else { 1.5 } * (1.0 + j as f64 * 0.3);
                    match *kind {
                        "real" => shift + (0.6 + 0.2 * j as f64) * rng.normal(),
                        "count" => ((2.0 + 2.0 * c as f64 + rng.normal()).max(0.0)).round(),
                        "positive" => -(1.0 - rng.next()).ln() * if c == 0 { 0.5 } else { 3.0 },
                        "bit" => f64::from(rng.next() < if c == 0 { 0.2 } else { 0.75 }),
                        _ => ((rng.next() * 2.0 + c as f64).floor()).min(2.0),
                    }
                })
                .collect();
            headers.push(name.to_string());
            columns.push(Some(values));
        }
    }
    let n = columns.len();
    Table {
        source: "catalogue".into(),
        headers,
        columns,
        text: vec![None; n],
        n_rows: ROWS,
        lines: Vec::new(),
    }
}

fn options<P>() -> FitOptions<P> {
    FitOptions {
        seed: 3,
        max_iter: 25,
        tol: 1e-12,
        restarts: 2,
        init: InitStrategy::KMeansPlusPlus,
        ..FitOptions::default()
    }
}

fn setup(case: &str) -> (Plan, jensen::Bound) {
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("OUT_DIR"))
            .join("catalogue")
            .join(format!("{case}.em")),
    )
    .expect("model file");
    let (plan, _) = jensen::compile(&source).unwrap_or_else(|d| panic!("{case}: {d:?}"));
    let items = catalogue::CASES
        .iter()
        .find(|(c, _)| *c == case)
        .expect("case")
        .1;
    let bound = jensen::bind(&plan, &table(items), &BindOptions::default())
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    (plan, bound)
}

fn compare<P: serde::Serialize>(
    case: &str,
    plan: &Plan,
    bound: &jensen::Bound,
    executed: &FitResult<DynParams>,
    generated: &FitResult<P>,
) {
    jensen_tests::compare_routes(case, executed, generated);
    assert!(
        executed.elbo_trace.iter().all(|v| v.is_finite()),
        "{case}: a trace value is not finite"
    );
    let stated: usize = jensen::lang::Program::lower(plan)
        .free_parameters(&bound.sizes)
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        executed.free_parameters, stated,
        "{case}: free parameters differ from the lowered program's formula"
    );
}

macro_rules! case {
    ($case:ident, { $($field:ident: $how:ident),* }) => {
        #[test]
        fn $case() {
            use catalogue::$case::{CaseConsts, CaseData, CaseModel};
            let name = stringify!($case);
            let (plan, bound) = setup(name);
            let model = PlanModel::new(&plan, &bound);
            let executed = jensen::fit(&model, &options())
                .unwrap_or_else(|e| panic!("{name}: executor: {e}"));
            let data = CaseData { $($field: $how(&plan, &bound, stringify!($field))),* };
            let generated_model = CaseModel::new(data, CaseConsts::default())
                .unwrap_or_else(|e| panic!("{name}: generated: {e}"));
            let generated = jensen::fit(&generated_model, &options())
                .unwrap_or_else(|e| panic!("{name}: generated: {e}"));
            compare(name, &plan, &bound, &executed, &generated);
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));
