// A model file that does not exist.
#[derive(jensen::Model)]
#[model(file = "ui/no_such_model.em")]
pub struct Gmm;

fn main() {}
