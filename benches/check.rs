//! How `choreo check`'s search grows with the orders checked, and what its reductions save.
//!
//! `cargo bench --bench check` explores every schedule of 1 to 6 orders of the shop (default
//! config: duplicate deliveries, up to one crash, `check.reduction = "por"`), three times each
//! (`CHOREO_BENCH_RUNS` for another count), and prints distinct states, states generated,
//! depth, the median time and states per second. Then the same search with less reduction,
//! to show what each saves: 4 and 5 orders with silent deliveries taken at once only
//! (`check.reduction = "silent"`, what `check` did before the partial-order reduction), and 2
//! orders with every interleaving (`check.reduction = "none"`).
//!
//! The orders are of different products and quantities (no two alike), all within stock and
//! credit, so each takes the whole happy path and none is the mirror of another.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

#[allow(dead_code)] // not every bench uses all of it
mod common;
use common::{env_or, median};

use choreo::check::{self, Faults, Limits, Reduction, Verdict};
use choreo::config::Config;
use choreo::shop::{Order, Shop};

fn main() {
    let runs: usize = env_or("CHOREO_BENCH_RUNS", 3);
    let config = Config::<Shop>::default();
    let limits = Limits {
        max_states: 50_000_000,
        max_memory: 16 << 30,
        time_limit: Duration::from_secs(600),
        interrupt: Arc::new(AtomicBool::new(false)),
    };
    let faults = Faults {
        duplicates: true,
        crashes: 1,
        reduction: Reduction::Por,
    };
    println!("every schedule, duplicates and up to 1 crash, median of {runs} runs");
    println!("| orders | distinct states | generated | depth | time | states/s |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let less = |reduction| Faults {
        reduction,
        ..faults
    };
    let mut cases: Vec<(String, usize, Faults)> =
        (1..=6).map(|n| (n.to_string(), n, faults)).collect();
    cases.extend([
        ("4, silent only".to_owned(), 4, less(Reduction::Silent)),
        ("5, silent only".to_owned(), 5, less(Reduction::Silent)),
        ("2, every interleaving".to_owned(), 2, less(Reduction::None)),
    ]);
    for (label, n, faults) in cases {
        let orders = orders(n);
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..runs {
            let checked = check::check(&config, &orders, faults, &limits, &mut |_, _, _| {})
                .expect("the check runs");
            assert!(
                matches!(checked.verdict, Verdict::Holds),
                "{label}: {:?}",
                checked.verdict
            );
            times.push(checked.elapsed.as_secs_f64());
            last = Some(checked);
        }
        let median = median(times.into_iter());
        let checked = last.expect("at least one run");
        println!(
            "| {label} | {} | {} | {} | {median:.2} s | {:.0} |",
            checked.states,
            checked.generated,
            checked.depth,
            checked.states as f64 / median
        );
    }
}

/// `n` orders of different products and quantities.
fn orders(n: usize) -> Vec<Order> {
    let products = [101, 102, 101, 103, 102, 103];
    let quantities = [2, 1, 3, 1, 2, 3];
    let json: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"order_id": {}, "product_id": {}, "quantity": {}}}"#,
                i + 1,
                products[i],
                quantities[i]
            )
        })
        .collect();
    serde_json::from_str(&format!("[{}]", json.join(","))).expect("valid orders")
}
