//! What the benchmarks share: settings from the environment, medians, the order file.

use std::io::Write;
use std::path::Path;

/// The environment variable `name`, parsed, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// `orders` happy-path orders of product 101, as JSON Lines.
pub fn write_orders(path: &Path, orders: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for id in 1..=orders {
        writeln!(
            out,
            r#"{{"order_id": {id}, "product_id": 101, "quantity": {}}}"#,
            1 + id % 3
        )
        .expect("write");
    }
    out.flush().expect("flush");
}
