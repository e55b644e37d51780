//! Fits the Old Faithful Gaussian mixture through `#[derive(Model)]`, the typed route:
//! `cargo run --release -p jensen --example derive_gmm`.

#[derive(jensen::Model)]
#[model(file = "../../models/gmm.em")]
pub struct Gmm;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The data ships with the repository; a program would read its own file here.
    let text = include_str!("../../../data/faithful.csv");
    let mut values = Vec::new();
    for line in text.lines().skip(1) {
        for cell in line.split(',') {
            values.push(cell.trim().parse::<f64>()?);
        }
    }
    let x = jensen::ndarray::Array2::from_shape_vec((values.len() / 2, 2), values)?;
    let model = GmmModel::new(GmmData { x }, GmmConsts { K: 2 })?;
    let fit = jensen::fit(
        &model,
        &jensen::FitOptions {
            restarts: 4,
            ..Default::default()
        },
    )?;
    println!(
        "log-likelihood {:.6} after {} iterations (BIC {:.3})",
        fit.log_likelihood, fit.iterations, fit.bic
    );
    println!("{}", serde_json::to_string_pretty(&fit.params)?);
    Ok(())
}
