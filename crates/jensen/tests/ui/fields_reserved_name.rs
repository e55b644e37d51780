// A model derived from the fields: a field named as the latent.
#[derive(jensen::Model)]
#[model(components = 2)]
pub struct Row {
    z: f64,
    y: f64,
}

fn main() {}
