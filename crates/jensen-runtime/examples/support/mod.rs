//! What the kernel probes (`full_kernels`, `diag_kernels`) share: their arguments and a
//! fixed stream of inputs.

/// Positional argument `i` as a number, or `default`.
pub fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .map_or(default, |s| s.parse().expect("a number"))
}

/// Environment variable `name` as a number, or `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).map_or(default, |s| s.parse().expect("a number"))
}

/// A fixed linear congruential stream of values in `[-0.5, 0.5)`: the same inputs on every
/// run.
pub fn stream() -> impl FnMut() -> f64 {
    let mut seed = 12345u64;
    move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
    }
}
