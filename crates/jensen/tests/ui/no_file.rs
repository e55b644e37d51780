// No model file named.
#[derive(jensen::Model)]
pub struct Gmm;

fn main() {}
