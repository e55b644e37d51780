// A tuple struct: its fields have no names to match the data items.
#[derive(jensen::Model)]
#[model(file = "../../../models/gmm.em")]
pub struct Gmm([f64; 2]);

fn main() {}
