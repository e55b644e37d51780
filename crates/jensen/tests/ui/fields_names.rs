// Names the derived model cannot take: a keyword of the language, the row index, and a
// field named like another field's parameter or size.
#[derive(jensen::Model)]
#[model(components = 2)]
pub struct Row {
    data: f64,
    n: f64,
    x: f64,
    x_mu: f64,
    #[model(categories = 3)]
    c: u8,
    C_c: f64,
}

fn main() {}
