// A model from its file and from the fields at once.
#[derive(jensen::Model)]
#[model(file = "../../../models/gmm.em", components = 2)]
pub struct Row {
    x: [f64; 2],
}

fn main() {}
