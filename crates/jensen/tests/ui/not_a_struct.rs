// An enum.
#[derive(jensen::Model)]
#[model(file = "../../../models/gmm.em")]
pub enum Gmm {
    A,
}

fn main() {}
