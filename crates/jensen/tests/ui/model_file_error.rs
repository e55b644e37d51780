// A model file with an error: the message names its line and column.
#[derive(jensen::Model)]
#[model(file = "ui/bad.em")]
pub struct Bad;

fn main() {}
