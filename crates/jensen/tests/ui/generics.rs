// Generic parameters.
#[derive(jensen::Model)]
#[model(file = "../../../models/gmm.em")]
pub struct Gmm<T> {
    x: Vec<T>,
}

fn main() {}
