// A model derived from the fields of a struct without fields, and K = 0.
#[derive(jensen::Model)]
#[model(components = 3)]
pub struct Empty;

#[derive(jensen::Model)]
#[model(chain = 0)]
pub struct NoStates {
    x: f64,
}

fn main() {}
