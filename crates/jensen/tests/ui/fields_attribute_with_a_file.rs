// A family on a field of a struct whose model comes from its file.
#[derive(jensen::Model)]
#[model(file = "../../../models/gmm.em")]
pub struct Row {
    #[model(cov = "diag")]
    x: [f64; 2],
}

fn main() {}
