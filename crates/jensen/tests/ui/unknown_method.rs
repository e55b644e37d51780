// A fitting method the derive does not know.
#[derive(jensen::Model)]
#[model(file = "../../../models/gmm.em", method = "gibbs")]
pub struct Gmm;

fn main() {}
