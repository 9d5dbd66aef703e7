//! Throughput and memory of the whole `choreo run` pipeline, next to a bare baseline.
//!
//! `cargo bench --bench throughput` runs, five times each, on one order file of 1,000,000
//! orders (set `CHOREO_BENCH_ORDERS` for another size, `CHOREO_BENCH_RUNS` for another count):
//!
//! - `baseline`: the bare chain: four tasks on one broadcast channel, each with its own
//!   receiver and a plain `recv().await`, copied (not shared) enum events, doing nothing but
//!   forwarding the chain created -> checked -> paid -> shipped, with a semaphore admission
//!   window, on the runtime of the clock it is compared with: current-thread for
//!   `--clock virtual` (the default), multi-thread for `--clock real`;
//! - `choreo --format none`: the real binary, parsing, admission, four services, summary;
//! - `choreo --format text`: the same, writing the 8 lines per order to /dev/null;
//! - `choreo --format json`: the same, writing one JSON line per event to /dev/null;
//! - `latency on`: the virtual clock with a latency model on every service, where simulated
//!   time runs ahead of the wall clock (the ratio is reported);
//! - `fixed latency`: the same with a fixed 1 ms on every service;
//! - `chaos`: `config/scenarios/chaos.toml` (arrivals, latencies, duplicates, late deliveries,
//!   crashes, poison) with the time limit lifted, so that every order finishes.
//!
//! Medians of orders per second and of peak resident memory (each binary run reports its own
//! in its `--summary` JSON), and the ratio to the baseline. It is a custom harness rather than
//! criterion or divan because what is measured is a whole process: its wall time and its peak
//! memory, not a function's.

mod common;
use common::{env_or, median, write_orders};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, Semaphore};

fn main() {
    let orders: u64 = env_or("CHOREO_BENCH_ORDERS", 1_000_000);
    let runs: usize = env_or("CHOREO_BENCH_RUNS", 5);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orders.jsonl");
    write_orders(&file, orders);
    println!(
        "{orders} orders, median of {runs} runs each, on {} cores",
        cores()
    );
    println!(
        "{:<36} {:>12} {:>10} {:>8}",
        "case", "orders/s", "peak MiB", "ratio"
    );

    for (clock, multi_thread) in [("virtual", false), ("real", true)] {
        let runtime = if multi_thread {
            "multi-thread"
        } else {
            "current-thread"
        };
        let baseline = median(
            (0..runs).map(|_| orders as f64 / bare_chain(orders, multi_thread).as_secs_f64()),
        );
        let name = format!("baseline, {runtime}");
        println!("{name:<36} {baseline:>12.0} {:>10} {:>8}", "-", "1.00");
        let formats: &[&str] = if multi_thread {
            &["none"]
        } else {
            &["none", "text", "json"]
        };
        for format in formats {
            let measured: Vec<Measured> = (0..runs)
                .map(|_| choreo(&file, format, clock, &[], dir.path()))
                .collect();
            let rate = median(measured.iter().map(|m| orders as f64 / m.wall_s));
            let peak = median(measured.iter().map(|m| m.peak_mib));
            let name = format!("choreo --clock {clock} --format {format}");
            println!(
                "{name:<36} {rate:>12.0} {peak:>10.1} {:>8.2}",
                baseline / rate
            );
        }
    }

    // A latency model on every service: simulated time runs far ahead of the wall clock.
    let latency = [
        r#"simulation.latency.order={ model = "uniform", min_ms = 0, max_ms = 1 }"#,
        r#"simulation.latency.inventory={ model = "exponential", mean_ms = 1 }"#,
        r#"simulation.latency.payment={ model = "lognormal", median_ms = 1, sigma = 0.5 }"#,
        r#"simulation.latency.shipping={ model = "normal", mean_ms = 1, std_dev_ms = 0.3 }"#,
    ];
    simulated(&file, runs, orders, dir.path(), "latency on", &latency);
    let fixed: Vec<String> = ["order", "inventory", "payment", "shipping"]
        .iter()
        .map(|service| format!(r#"simulation.latency.{service}={{ model = "fixed", ms = 1 }}"#))
        .collect();
    let fixed: Vec<&str> = fixed.iter().map(String::as_str).collect();
    simulated(&file, runs, orders, dir.path(), "fixed latency", &fixed);
    let chaos = concat!(env!("CARGO_MANIFEST_DIR"), "/config/scenarios/chaos.toml");
    simulated(&file, runs, orders, dir.path(), "chaos", &[chaos]);
}

/// Runs a case where simulated time runs ahead of the wall clock, and prints its line. `sets`
/// are `--set` values, or a config file (a path ending in `.toml`).
fn simulated(file: &Path, runs: usize, orders: u64, dir: &Path, case: &str, sets: &[&str]) {
    let measured: Vec<Measured> = (0..runs)
        .map(|_| choreo(file, "none", "virtual", sets, dir))
        .collect();
    let rate = median(measured.iter().map(|m| orders as f64 / m.wall_s));
    let peak = median(measured.iter().map(|m| m.peak_mib));
    let ahead = median(measured.iter().map(|m| m.simulated_s / m.wall_s));
    let name = format!("choreo --clock virtual, {case}");
    println!(
        "{name:<36} {rate:>12.0} {peak:>10.1} {:>8}   simulated/wall {ahead:.0}x",
        "-"
    );
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What one run of the binary reported about itself.
struct Measured {
    wall_s: f64,
    peak_mib: f64,
    simulated_s: f64,
}

/// One run of the real binary, as the process measured itself.
fn choreo(file: &Path, format: &str, clock: &str, sets: &[&str], dir: &Path) -> Measured {
    let summary = dir.join("summary.json");
    let (configs, sets): (Vec<&str>, Vec<&str>) =
        sets.iter().partition(|set| set.ends_with(".toml"));
    let status = Command::new(env!("CARGO_BIN_EXE_choreo"))
        .arg("run")
        .arg(file)
        .args(["--format", format, "--clock", clock, "-q", "--summary"])
        .arg(&summary)
        .args(configs.iter().flat_map(|config| ["--config", config]))
        .args(["--set", "products.101.stock=100000000000"])
        .args(["--set", "customers.1.credit_limit_cents=100000000000000000"])
        .args(["--set", "run.time_limit=1000h"])
        .args(sets.iter().flat_map(|set| ["--set", set]))
        .stdout(Stdio::null())
        .status()
        .expect("run choreo");
    assert!(status.success(), "choreo failed: {status}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("JSON");
    let machine = &summary["machine"];
    let wall_ms = machine["wall_ms"].as_f64().expect("wall_ms");
    Measured {
        wall_s: wall_ms.max(1.0) / 1000.0,
        peak_mib: machine["peak_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        simulated_s: summary["elapsed_ms"].as_f64().expect("elapsed_ms") / 1000.0,
    }
}

/// The bare chain's events: copied, not shared.
#[derive(Debug, Clone, Copy)]
enum Stage {
    Created(u64),
    Checked(u64),
    Paid(u64),
    Shipped(u64),
}

/// The bare chain: created -> checked -> paid -> shipped on one broadcast channel, four tasks
/// each with its own receiver and a plain `recv().await` (inventory, payment and shipping
/// forward the chain; the fourth counts shipments and frees the window), and an injector
/// that keeps at most `WINDOW` orders in flight with a semaphore.
fn bare_chain(orders: u64, multi_thread: bool) -> Duration {
    const CAPACITY: usize = 1024;
    // At most four events an order: the window fits the channel whatever the receivers do.
    const WINDOW: usize = CAPACITY / 4;
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("runtime");
    runtime.block_on(async move {
        let (tx, _) = broadcast::channel::<Stage>(CAPACITY);
        let window = Arc::new(Semaphore::new(WINDOW));
        let forward = |next: fn(u64) -> Stage, takes: fn(Stage) -> Option<u64>| {
            let (mut rx, tx) = (tx.subscribe(), tx.clone());
            tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(stage) => {
                            if let Some(order) = takes(stage) {
                                let _ = tx.send(next(order));
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                        Err(err) => panic!("baseline lost events: {err}"),
                    }
                }
            })
        };
        let tasks = [
            forward(Stage::Checked, |s| match s {
                Stage::Created(n) => Some(n),
                _ => None,
            }),
            forward(Stage::Paid, |s| match s {
                Stage::Checked(n) => Some(n),
                _ => None,
            }),
            forward(Stage::Shipped, |s| match s {
                Stage::Paid(n) => Some(n),
                _ => None,
            }),
        ];
        let mut shipped = tx.subscribe();
        let freed = Arc::clone(&window);
        let counter = tokio::spawn(async move {
            // Every order shipped once: the ids add up.
            let (mut done, mut ids) = (0, 0u64);
            while done < orders {
                match shipped.recv().await {
                    Ok(Stage::Shipped(order)) => {
                        done += 1;
                        ids = ids.wrapping_add(order);
                        freed.add_permits(1);
                    }
                    Ok(_) => {}
                    Err(err) => panic!("baseline lost events: {err}"),
                }
            }
            assert_eq!(
                ids,
                (1..=orders).fold(0u64, u64::wrapping_add),
                "baseline lost an order"
            );
        });
        let started = Instant::now();
        for order in 1..=orders {
            window.acquire().await.expect("window open").forget();
            let _ = tx.send(Stage::Created(order));
        }
        counter.await.expect("counter");
        let elapsed = started.elapsed();
        for task in tasks {
            task.abort();
        }
        elapsed
    })
}
