// A family the field's type cannot take, a covariance on a scalar, an unknown covariance,
// a binomial without its trials and a Gamma without its shape: every error at once.
#[derive(jensen::Model)]
#[model(components = 2)]
pub struct Row {
    #[model(family = "poisson")]
    a: f64,
    #[model(cov = "diag")]
    b: f64,
    #[model(cov = "banded")]
    c: [f64; 3],
    #[model(family = "binomial")]
    d: u32,
    #[model(family = "gamma")]
    e: f64,
}

fn main() {}
