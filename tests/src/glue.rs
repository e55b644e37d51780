//! Building the generated models' typed data from bound data, so the differential tests can
//! feed both back-ends exactly the same numbers.

use jensen::bind::Bound;
use jensen::Plan;
use ndarray::{Array1, Array2};

/// A data item as a matrix (vector-valued items), with NaN in its missing cells, as a user
/// hands data with gaps to a generated model.
pub fn matrix(plan: &Plan, bound: &Bound, name: &str) -> Array2<f64> {
    let v = plan.model.var(name).expect("data item");
    let item = bound.item(v);
    let mut values = item.values.clone();
    // The binder holds an item modelled on the log scale as `ln x`; a generated model takes
    // the data as the user has them.
    if plan.blocks.iter().any(|b| b.data == v && b.log_scale) {
        values.mapv_inplace(f64::exp);
    }
    for (row, columns) in item.gaps.within(0..bound.n_rows).iter() {
        for &c in columns {
            values[[row, c]] = f64::NAN;
        }
    }
    values
}

/// A data item as a column (scalar items), with NaN in its missing cells.
pub fn column(plan: &Plan, bound: &Bound, name: &str) -> Array1<f64> {
    matrix(plan, bound, name).column(0).to_owned()
}

/// The discrete latent's partial labels, as the generated data struct takes them.
pub fn labels(_plan: &Plan, bound: &Bound, _name: &str) -> Vec<Option<u32>> {
    bound.labels.as_ref().expect("labels bound").values.clone()
}
