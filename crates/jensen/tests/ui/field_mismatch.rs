// Records whose fields do not match the model's data items: a wrong type, an unknown field,
// an unknown field attribute, a weight that may be missing, and (for the second) a missing
// item and an array of the wrong length.
#[derive(jensen::Model)]
#[model(file = "../../../tests/records/events.em")]
pub struct Event {
    kind: u32,
    flag: f64,
    arrivals: u32,
    size: String,
    colour: u8,
    #[model(skp)]
    note: u8,
}

#[derive(jensen::Model)]
#[model(file = "../../../models/poisson_mix_weighted.em")]
pub struct Year {
    years: Option<f64>,
    discoveries: u32,
}

#[derive(jensen::Model)]
#[model(file = "../../../models/regression_quakes.em")]
pub struct Quake {
    u: [f64; 3],
}

fn main() {}
