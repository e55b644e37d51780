// A type the derive does not know (an enum, an alias) without its number of categories, and
// attributes the field's family does not use.
type Millis = f64;

#[derive(Clone)]
pub enum Colour {
    Red,
    Green,
}

#[derive(jensen::Model)]
#[model(components = 2)]
pub struct Row {
    wait: Millis,
    colour: Colour,
    #[model(shared)]
    flag: bool,
    #[model(trials = 10)]
    count: u32,
    #[model(categories = 4)]
    level: f64,
}

fn main() {}
