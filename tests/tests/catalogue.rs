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

const ROWS: usize = 240;

/// Synthetic data with two clusters (in runs of rows, so a chain has something to find).
fn table(items: &[catalogue::Item]) -> Table {
    jensen_tests::synth::table(items, ROWS, 7)
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
