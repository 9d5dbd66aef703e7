//! Throughput and memory of the whole `choreo run` pipeline, next to a bare baseline.
//!
//! `cargo bench --bench throughput` runs, five times each, on one order file of 1,000,000
//! orders (set `CHOREO_BENCH_ORDERS` for another size, `CHOREO_BENCH_RUNS` for another count):
//!
//! - `baseline`: four tasks on one broadcast channel doing nothing but forwarding the chain
//!   (each filters by stage, as choreo's services filter by event kind), with an admission
//!   window, on the runtime of the clock it is compared with: current-thread for
//!   `--clock virtual` (the default), multi-thread for `--clock real`;
//! - `choreo --format none`: the real binary, parsing, admission, four services, summary;
//! - `choreo --format text`: the same, writing the 8 lines per order to /dev/null.
//!
//! Medians of orders per second and of peak resident memory (each binary run reports its own
//! in its `--summary` JSON), and the ratio to the baseline. It is a custom harness rather than
//! criterion or divan because what is measured is a whole process: its wall time and its peak
//! memory, not a function's.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

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

    let flavours = [("virtual", false), ("real", true)];
    for (clock, multi_thread) in flavours {
        let runtime = if multi_thread {
            "multi-thread"
        } else {
            "current-thread"
        };
        let baseline = median(
            (0..runs).map(|_| orders as f64 / bare_chain(orders, multi_thread).as_secs_f64()),
        );
        println!(
            "{:<36} {:>12.0} {:>10} {:>8}",
            format!("baseline, {runtime}"),
            baseline,
            "-",
            "1.00"
        );
        let formats: &[&str] = if multi_thread {
            &["none"]
        } else {
            &["none", "text"]
        };
        for format in formats {
            let measured: Vec<(f64, f64)> = (0..runs)
                .map(|_| choreo(&file, format, clock, dir.path()))
                .collect();
            let rate = median(measured.iter().map(|m| orders as f64 / m.0));
            let peak = median(measured.iter().map(|m| m.1));
            println!(
                "{:<36} {:>12.0} {:>10.1} {:>8.2}",
                format!("choreo --clock {clock} --format {format}"),
                rate,
                peak,
                baseline / rate
            );
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn write_orders(path: &Path, orders: u64) {
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

/// One run of the real binary: wall seconds (as the process measured itself) and peak MiB.
fn choreo(file: &Path, format: &str, clock: &str, dir: &Path) -> (f64, f64) {
    let summary = dir.join("summary.json");
    let status = Command::new(env!("CARGO_BIN_EXE_choreo"))
        .arg("run")
        .arg(file)
        .args(["--format", format, "--clock", clock, "-q", "--summary"])
        .arg(&summary)
        .args(["--set", "products.101.stock=100000000000"])
        .args(["--set", "customers.1.credit_limit_cents=100000000000000000"])
        .args(["--set", "run.time_limit=1h"])
        .stdout(Stdio::null())
        .status()
        .expect("run choreo");
    assert!(status.success(), "choreo failed: {status}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("JSON");
    let machine = &summary["machine"];
    let wall_ms = machine["wall_ms"].as_f64().expect("wall_ms");
    let peak_kib = machine["peak_rss_kib"].as_f64().unwrap_or(f64::NAN);
    (wall_ms.max(1.0) / 1000.0, peak_kib / 1024.0)
}

/// The bare chain: order -> stage 1 -> 2 -> 3 -> 4 on one broadcast channel, four forwarding
/// tasks and an injector that keeps at most `WINDOW` orders in flight, on the runtime that
/// choreo uses for the clock it is compared with.
fn bare_chain(orders: u64, multi_thread: bool) -> Duration {
    const CAPACITY: usize = 1024;
    const WINDOW: u64 = 128;
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
        let (tx, _) = broadcast::channel::<Arc<(u64, u8)>>(CAPACITY);
        let mut injector = tx.subscribe();
        let mut tasks = Vec::new();
        for stage in 0..4u8 {
            let mut rx = tx.subscribe();
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(event) if event.1 == stage => {
                            let _ = tx.send(Arc::new((event.0, stage + 1)));
                            if stage == 3 && event.0 == orders {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(err) => panic!("baseline lost events: {err}"),
                    }
                }
            }));
        }
        let started = Instant::now();
        let (mut next, mut done) = (1, 0);
        while done < orders {
            while next <= orders && next - 1 - done < WINDOW {
                let _ = tx.send(Arc::new((next, 0)));
                next += 1;
            }
            match injector.recv().await {
                Ok(event) if event.1 == 4 => done += 1,
                Ok(_) => {}
                Err(err) => panic!("baseline lost events: {err}"),
            }
        }
        let elapsed = started.elapsed();
        for task in tasks {
            task.abort();
        }
        elapsed
    })
}
