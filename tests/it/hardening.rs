//! Odd inputs, configs, outputs and signals: no silent loss, no panic, no hang.

use std::fs::File;
use std::process::{Command, Stdio};

use crate::helpers::repo_path;

/// Logging to a stderr that cannot be written (here: a full device) neither panics nor
/// fails the run: the orders run, the summary is written, the exit code is 0.
#[test]
fn verbose_logging_to_an_unwritable_stderr_does_not_take_the_run_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = dir.path().join("summary.json");
    let status = Command::new(env!("CARGO_BIN_EXE_choreo"))
        .args(["run", "-vvv", "--format", "none", "--summary"])
        .arg(&summary)
        .arg(repo_path("orders/mixed.jsonl"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(File::create("/dev/full").expect("/dev/full"))
        .status()
        .expect("run choreo");
    assert_eq!(status.code(), Some(0));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary written"))
            .expect("summary JSON");
    assert_eq!(written["orders"], 10);
}

/// Revenue past what 64 bits hold is summed exactly, never wrapped: 20,000 of the largest
/// charges (a million units at the highest price) come to 2 x 10^19 cents.
#[tokio::test(start_paused = true)]
async fn revenue_beyond_64_bits_is_exact() {
    let config = crate::helpers::Config::load(
        &[],
        &[
            "products.101.price_cents=1000000000".into(),
            "products.101.stock=100000000000".into(),
            // TOML integers stop at i64::MAX: three customers hold the charges between them.
            format!("customers.1.credit_limit_cents={}", i64::MAX),
            format!(
                r#"customers.2={{ name = "b", credit_limit_cents = {} }}"#,
                i64::MAX
            ),
            format!(
                r#"customers.3={{ name = "c", credit_limit_cents = {} }}"#,
                i64::MAX
            ),
            "shipping.max_quantity_per_shipment=1000000".into(),
        ],
    )
    .expect("valid config");
    let orders = (1..=20_000u64).map(|id| {
        serde_json::from_value(serde_json::json!({
            "order_id": id, "product_id": 101, "quantity": 1_000_000, "customer_id": id % 3 + 1,
        }))
        .expect("valid order")
    });
    let mut events: Vec<crate::helpers::Envelope> = Vec::new();
    let summary = choreo::engine::run(
        &config,
        orders.collect::<Vec<choreo::shop::Order>>(),
        &mut events,
    )
    .await
    .expect("run succeeds");
    assert_eq!(summary.completed, 20_000);
    assert_eq!(
        summary.stats.revenue_cents,
        20_000 * 1_000_000_000_000_000u128
    );
}

/// Two outputs that are one file, or an output that is an input, are refused before
/// anything is written: exit 2, and the file is as it was.
#[test]
fn outputs_that_collide_with_each_other_or_an_input_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let orders = dir.path().join("orders.jsonl");
    let original = std::fs::read(repo_path("orders/mixed.jsonl")).expect("sample orders");
    std::fs::write(&orders, &original).expect("copy");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[bus]\ncapacity = 64\n").expect("config");
    let existing = dir.path().join("kept.json");
    std::fs::write(&existing, "keep me").expect("write");
    let o = orders.to_str().expect("utf-8");
    let c = config.to_str().expect("utf-8");
    let k = existing.to_str().expect("utf-8");
    let same_by_another_name = format!(
        "{}/../{}/kept.json",
        dir.path().display(),
        dir.path()
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
    );
    let cases: Vec<Vec<&str>> = vec![
        vec!["--journal", k, "--summary", k],
        vec!["--summary", k, "--report", same_by_another_name.as_str()],
        vec!["--report", o],
        vec!["--journal", c, "--config", c],
        vec!["--summary", "new.json", "--journal", "./new.json"],
    ];
    for extra in cases {
        let mut args = vec!["run", o];
        args.extend(&extra);
        let run = crate::helpers::choreo_in(dir.path(), &args);
        assert_eq!(run.code, 2, "{extra:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("are the same file"),
            "{extra:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "nothing ran");
    }
    assert_eq!(std::fs::read(&orders).expect("orders"), original);
    assert_eq!(std::fs::read_to_string(&existing).expect("kept"), "keep me");
    assert!(!dir.path().join("new.json").exists());
}

/// A duplicate storm with no memory of finished orders beyond what is needed: every
/// redelivery of a finished order is still recognised (nothing acted on twice), and a
/// redelivery never schedules another, so the run ends.
#[tokio::test(start_paused = true)]
async fn a_duplicate_storm_with_no_dedup_window_neither_doubles_nor_livelocks() {
    let mut sets: Vec<String> = vec![
        "services.dedup_window=0".into(),
        "run.time_limit=1h".into(),
        r#"simulation.latency.payment={ model = "fixed", ms = 40 }"#.into(),
        r#"simulation.latency.inventory={ model = "fixed", ms = 40 }"#.into(),
        // Long busy periods and restarts: deliveries fall due while nothing is handled.
        "simulation.faults.gateway.timeout=0.3".into(),
        "simulation.faults.gateway.timeout_ms=200".into(),
        "simulation.faults.payment.crash=0.05".into(),
        "simulation.faults.restart_delay=100ms".into(),
        "simulation.faults.max_restarts=100000".into(),
    ];
    for service in ["order", "inventory", "payment", "shipping"] {
        sets.push(format!("simulation.faults.{service}.duplicate=0.9"));
        sets.push(format!("simulation.faults.{service}.delay=0.3"));
        sets.push(format!("simulation.faults.{service}.delay_ms=2"));
    }
    let config = crate::helpers::Config::load(&[], &sets).expect("valid config");
    // Every other order is for a product not in the catalog: rejected at once, so its
    // order finishes while a redelivery of its first event may still be pending.
    let orders: Vec<_> = (1..=500)
        .map(|id| crate::helpers::order(id, if id % 2 == 0 { 999 } else { 101 }, 1))
        .collect();
    let mut events: Vec<crate::helpers::Envelope> = Vec::new();
    let summary = choreo::engine::run(&config, orders, &mut events)
        .await
        .expect("the run ends, every order finished");
    assert_eq!(summary.finished(), 500);
    let mut ids = std::collections::HashSet::new();
    for envelope in &events {
        assert!(ids.insert(envelope.id), "{} published twice", envelope.id);
    }
}
