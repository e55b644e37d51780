// A key the attribute does not know.
#[derive(jensen::Model)]
#[model(path = "../../models/gmm.em")]
pub struct Gmm;

fn main() {}
