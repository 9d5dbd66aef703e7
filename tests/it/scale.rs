//! Volume: nothing lost at any load, streamed input, bad lines, quiet output.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use crate::helpers::Config;
use crate::helpers::Envelope;
use choreo::engine::EventSink;
use choreo::engine::{self as supervisor, Failure};
use choreo::shop::Shop;

use crate::helpers::{order, order_json, run_order_file_with, temp_file};

/// Counts terminal events per order, in memory proportional to the number of orders only.
struct TerminalCounter {
    terminals: Vec<u8>,
    events: u64,
    last_seq: Option<u64>,
}

impl EventSink<Shop> for TerminalCounter {
    fn event(&mut self, envelope: &Envelope) -> std::io::Result<()> {
        assert_eq!(
            envelope.seq,
            self.last_seq.map_or(0, |s| s + 1),
            "the observer sees every seq, in order"
        );
        self.last_seq = Some(envelope.seq);
        self.events += 1;
        if envelope.kind().is_terminal() {
            self.terminals[envelope.order_id.get() as usize] += 1;
        }
        Ok(())
    }
}

fn config_with(sets: &[&str]) -> Config {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Config::load(&[], &sets).expect("valid config")
}

/// A million orders through a bus of 16 slots: admission keeps every subscriber within the
/// bus, so nothing lags, nothing is lost, and every order ends exactly once. (Runs in a few
/// seconds in a release build: the test command.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_orders_through_sixteen_slots_lose_nothing() {
    const ORDERS: u64 = 1_000_000;
    let config = config_with(&[
        "bus.capacity=16",
        "run.time_limit=10m",
        "products.101.stock=10000000",
        "products.103.stock=0",
        "customers.1.credit_limit_cents=1000000000000",
    ]);
    // Every third order asks for a product that is out of stock, so rejections run too.
    let orders = (1..=ORDERS).map(|id| order(id, if id % 3 == 0 { 103 } else { 101 }, 1));
    let mut counter = TerminalCounter {
        terminals: vec![0; ORDERS as usize + 1],
        events: 0,
        last_seq: None,
    };
    let summary = supervisor::run(&config, orders, &mut counter)
        .await
        .expect("every order finishes");

    assert_eq!(summary.lost_events, 0);
    assert_eq!(summary.orders, ORDERS);
    assert_eq!(summary.completed + summary.rejected, ORDERS);
    assert_eq!(summary.rejected, ORDERS / 3);
    assert_eq!(counter.events, summary.events);
    assert!(
        counter.terminals[1..].iter().all(|n| *n == 1),
        "one terminal event per order"
    );
}

/// With admission off, subscribers fall behind and lose events: the run fails, names the
/// lagging subscriber, and counts exactly what the lag reports say was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_admission_lag_fails_the_run_and_counts_the_lost_events() {
    let config = config_with(&["bus.capacity=16", "bus.admission=false"]);
    let orders = (1..=20_000).map(|id| order(id, 101, 1));
    let mut events: Vec<Envelope> = Vec::new();
    let failed = supervisor::run(&config, orders, &mut events)
        .await
        .expect_err("lag fails the run");

    let lagged: Vec<u64> = failed
        .failures
        .iter()
        .filter_map(|failure| match failure {
            Failure::Bus(choreo::engine::bus::BusError::Lagged { lost, .. }) => Some(*lost),
            Failure::ServiceFailed {
                error:
                    choreo::engine::ServiceError::Bus(choreo::engine::bus::BusError::Lagged {
                        lost,
                        ..
                    }),
                ..
            } => Some(*lost),
            _ => None,
        })
        .collect();
    assert!(!lagged.is_empty(), "a lag is reported: {failed}");
    assert!(failed.to_string().contains("lost"), "{failed}");
    // Each lost event counts once, however many subscribers missed it: at least the most any
    // one subscriber lost, at most what the lags add up to and what was published.
    let lost = failed.summary.lost_events;
    assert!(lost >= *lagged.iter().max().expect("a lag"));
    assert!(lost <= lagged.iter().sum::<u64>());
    assert!(lost <= failed.summary.events);
    // What the observer itself saw has gaps no larger than that.
    let seen_gaps: u64 = events
        .windows(2)
        .map(|pair| pair[1].seq - pair[0].seq - 1)
        .sum();
    assert!(seen_gaps <= lost);
    assert!(failed.summary.unfinished > 0);
}

/// The binary turns that into exit code 1 and a summary with the lost events.
#[test]
fn without_admission_the_binary_exits_1_with_lost_events_in_the_summary() {
    let lines: String = (1..=20_000)
        .map(|id| order_json(id, 101, 1) + "\n")
        .collect();
    let (dir, _) = temp_file("many.jsonl", &lines);
    let summary_path = dir.path().join("summary.json");
    let run = crate::helpers::choreo_in(
        dir.path(),
        [
            "run",
            "many.jsonl",
            "--format",
            "none",
            "--set",
            "bus.capacity=16",
            "--set",
            "bus.admission=false",
            "--summary",
            summary_path.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("lost"), "{}", run.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).expect("summary written"))
            .expect("summary is JSON");
    assert!(summary["lost_events"].as_u64().expect("lost_events") > 0);
}

/// By default the first invalid line stops injection: what was admitted finishes, the error
/// names the line, exit 2, and the summary accounts for every line.
#[test]
fn the_first_invalid_line_stops_injection_and_every_line_is_accounted_for() {
    let mut text = String::new();
    for id in 1..=5 {
        text += &order_json(id, 101, 1);
        text += "\n";
    }
    text += "\n";
    text += r#"{"order_id": 6, "product_id": 101, "quantity": "two"}"#;
    text += "\n";
    for id in 7..=10 {
        text += &order_json(id, 101, 1);
        text += "\n";
    }
    let (dir, _) = temp_file("big.jsonl", &text);
    let run = crate::helpers::choreo_in(
        dir.path(),
        ["run", "big.jsonl", "--summary", "summary.json"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let last = run.stderr.lines().last().expect("stderr");
    assert!(last.starts_with("choreo: error: big.jsonl:7:"), "{last}");
    for id in 1..=5 {
        assert!(run
            .stdout
            .contains(&format!("Shipping arranged for order {id}\n")));
    }
    assert!(!run.stdout.contains("order 7"));
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("summary"),
    )
    .expect("JSON");
    assert_eq!(summary["orders"], 5);
    assert_eq!(summary["completed"], 5);
    assert_eq!(summary["lines"], 11);
    assert_eq!(summary["blank_lines"], 1);
    assert_eq!(summary["invalid_lines"], 1);
    assert_eq!(summary["unread_lines"], 4);
}

/// `--skip-invalid` reports every bad line, runs every valid one, and exits 0.
#[test]
fn skip_invalid_reports_each_bad_line_and_runs_the_rest() {
    let text = [
        order_json(1, 101, 1),
        "not json".to_string(),
        order_json(2, 101, 0),
        order_json(3, 101, 1),
        order_json(1, 101, 1),
    ]
    .join("\n");
    let run = run_order_file_with(
        "mixed.jsonl",
        &text,
        &["--skip-invalid", "--summary", "s.json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let skipped: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("choreo: skipped invalid line: "))
        .collect();
    assert_eq!(skipped.len(), 3, "{}", run.stderr);
    assert!(skipped[0].contains("mixed.jsonl:2:"), "{}", skipped[0]);
    assert!(skipped[1].contains("mixed.jsonl:3:"), "{}", skipped[1]);
    assert!(skipped[2].contains("mixed.jsonl:5:1: duplicate order_id 1 (first on line 1)"));
    assert!(run.stdout.contains("Shipping arranged for order 1\n"));
    assert!(run.stdout.contains("Shipping arranged for order 3\n"));
    assert!(
        run.stderr.contains("2 orders: 2 completed"),
        "{}",
        run.stderr
    );
}

/// A repeat of an order id is refused while the first is among the last
/// `input.duplicate_window` orders read. Beyond that window the reader cannot tell, but the
/// run does not pass it off as success: a repeat whose first is still in flight fails it.
#[test]
fn duplicate_ids_are_refused_within_the_window_and_fail_the_run_beyond_it() {
    let text = [1, 2, 3, 1, 4, 5, 6, 7, 2]
        .iter()
        .map(|id| order_json(*id, 101, 1))
        .collect::<Vec<_>>()
        .join("\n");
    let run = run_order_file_with(
        "dups.jsonl",
        &text,
        &["--skip-invalid", "--set", "input.duplicate_window=3", "-q"],
    );
    let stderr: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        stderr,
        [
            "choreo: skipped invalid line: dups.jsonl:4:1: duplicate order_id 1 (first on line 1)",
            "choreo: error: run failed: order 2: admitted twice while in flight",
        ],
    );
    assert_eq!(run.code, 1);

    let run = run_order_file_with(
        "dups.jsonl",
        &text,
        &["--skip-invalid", "--set", "input.duplicate_window=8", "-q"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run
        .stderr
        .contains("dups.jsonl:9:1: duplicate order_id 2 (first on line 2)"));
}

/// `--format none` prints nothing per event; the summary still comes.
#[test]
fn format_none_prints_no_events() {
    let run = run_order_file_with("one.json", &order_json(1, 101, 2), &["--format", "none"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("1 order: 1 completed"),
        "{}",
        run.stderr
    );
}

/// A reader that goes away early (`choreo run big.jsonl | head`) is not an error: exit 0,
/// no complaint.
#[test]
fn a_closed_pipe_ends_quietly_with_exit_0() {
    let lines: String = (1..=50_000)
        .map(|id| order_json(id, 101, 1) + "\n")
        .collect();
    let (dir, path) = temp_file("big.jsonl", &lines);
    let mut child = Command::new(env!("CARGO_BIN_EXE_choreo"))
        .args(["run", path.to_str().expect("utf-8"), "-q"])
        .args(["--set", "products.101.stock=1000000"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn choreo");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    assert_eq!(first, "OrderService: Creating order 1\n");
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "nothing said about the closed pipe");
}

/// With stderr not a terminal there is no progress bar: stderr holds only the summary.
#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let lines: String = (1..=2_000)
        .map(|id| order_json(id, 101, 1) + "\n")
        .collect();
    let run = run_order_file_with(
        "some.jsonl",
        &lines,
        &["--format", "none", "--set", "products.101.stock=5000"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("choreo: seed 1\nsummary: 2000 orders"),
        "{:?}",
        run.stderr
    );
    assert!(!run.stderr.contains('\r') && !run.stderr.contains('\u{1b}'));
}
