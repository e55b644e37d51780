// Records whose fields do not match the model's data items: a wrong type, an unknown field,
// and (for the second) a missing one and an array of the wrong length.
#[derive(jensen::Model)]
#[model(file = "records/events.em")]
pub struct Event {
    kind: u32,
    flag: f64,
    arrivals: u32,
    size: String,
    colour: u8,
}

#[derive(jensen::Model)]
#[model(file = "../models/regression_quakes.em")]
pub struct Quake {
    u: [f64; 3],
}

fn main() {}
