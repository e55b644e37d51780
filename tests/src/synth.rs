//! Synthetic data for the generated catalogue (`tests/build.rs`): a small deterministic
//! generator and a table of two clusters, shared by `tests/catalogue.rs` and
//! `tests/campaign.rs`.

use jensen::bind::Table;

/// A data item of the catalogue: its name, its columns and the kind of values generated for
/// it (`real`, `count`, `positive`, `bit` or `category`).
pub type Item = (&'static str, &'static [&'static str], &'static str);

/// A small deterministic generator (SplitMix64), so the data need no dependency.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// Uniform on `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard Normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Uniform on `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

/// `rows` rows of synthetic data for `items`, drawn with `seed`: two clusters in runs of 20
/// rows (so a chain has something to find).
pub fn table(items: &[Item], rows: usize, seed: u64) -> Table {
    let mut rng = Rng(seed);
    let cluster: Vec<usize> = (0..rows).map(|r| (r / 20) % 2).collect();
    let mut headers = Vec::new();
    let mut columns = Vec::new();
    for (_, cols, kind) in items {
        for (j, name) in cols.iter().enumerate() {
            let values: Vec<f64> = cluster
                .iter()
                .map(|&c| {
                    let shift = if c == 0 { -1.0 } else { 1.5 } * (1.0 + j as f64 * 0.3);
                    match *kind {
                        "real" => shift + (0.6 + 0.2 * j as f64) * rng.normal(),
                        // (Beyond the first column of a vector of counts, the clusters differ
                        // in their proportions, for a multinomial.)
                        "count" => ((2.0 + 2.0 * c as f64 * (1 - j % 2) as f64 + rng.normal())
                            .max(0.0))
                        .round(),
                        "positive" => -(1.0 - rng.uniform()).ln() * if c == 0 { 0.5 } else { 3.0 },
                        "bit" => f64::from(rng.uniform() < if c == 0 { 0.2 } else { 0.75 }),
                        "trials" => 12.0 + (rng.uniform() * 8.0).floor(),
                        _ => ((rng.uniform() * 2.0 + c as f64).floor()).min(2.0),
                    }
                })
                .collect();
            headers.push(name.to_string());
            columns.push(Some(values));
        }
    }
    let n = columns.len();
    Table {
        source: "catalogue".into(),
        headers,
        columns,
        text: vec![None; n],
        n_rows: rows,
        lines: Vec::new(),
        missing: Vec::new(),
    }
}
