//! Tests for `choreo trace`: one order's causal chain from a real run's journal, a missing
//! order as a usage error, and orders that never finished, from a journal cut short by hand.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::helpers::{choreo, temp_file};

/// Latencies for every service but OrderService, so the trace's times are not all zero.
const LATENCIES: [&str; 6] = [
    "--set",
    r#"simulation.latency.inventory={ model = "fixed", ms = 2 }"#,
    "--set",
    r#"simulation.latency.payment={ model = "uniform", min_ms = 5, max_ms = 15 }"#,
    "--set",
    r#"simulation.latency.shipping={ model = "fixed", ms = 1 }"#,
];

/// Runs `orders/mixed.jsonl` (ten orders, every branch) with `args`, keeping a journal in a
/// temporary directory.
fn mixed_journal(args: &[&str]) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join("j.jsonl");
    let journal_arg = journal.to_str().expect("utf-8 path");
    let mut all = vec![
        "run",
        "orders/mixed.jsonl",
        "--format",
        "none",
        "-q",
        "--journal",
        journal_arg,
    ];
    all.extend_from_slice(args);
    let run = choreo(all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (dir, journal)
}

/// `choreo trace JOURNAL ARGS...`, which must succeed; its stdout.
fn trace(journal: &Path, args: &[&str]) -> String {
    let mut all = vec!["trace", journal.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let run = choreo(all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    run.stdout
}

/// A shipping failure reads as one chain, cause above effect, with the facts that explain it,
/// down to its cancellation.
#[test]
fn a_shipping_failure_is_traced_from_its_order_to_its_cancellation() {
    let (_dir, journal) = mixed_journal(&[]);
    assert_eq!(
        trace(&journal, &["--order", "6"]),
        "\
OrderCreated by OrderService at +0 ms: 150 of product 101 for customer 1, 0 ms into the run
└─ InventoryChecked by InventoryService at +0 ms (step 0 ms): reserved 150 of product 101, 848 left
   └─ PaymentProcessed by PaymentService at +0 ms (step 0 ms): charged $2998.50 to customer 1, $996961.52 credit left
      └─ ShippingFailed by ShippingService at +0 ms (step 0 ms): 150 units exceed the 100-unit shipment limit
         └─ PaymentRefunded by PaymentService at +0 ms (step 0 ms): refunded $2998.50 to customer 1, $994810.05 credit left
            └─ InventoryReleased by InventoryService at +0 ms (step 0 ms): released 150 of product 101, 998 in stock
               └─ OrderCancelled by OrderService at +0 ms (step 0 ms): shipping failed
terminal: OrderCancelled after 0 ms
"
    );
}

/// With latencies on, each line tells how long the order had been going and how long the step
/// took since its cause (queueing included), and the last line the order's total time.
#[test]
fn the_trace_shows_how_long_each_step_took() {
    let (_dir, journal) = mixed_journal(&LATENCIES);
    assert_eq!(
        trace(&journal, &["--order", "5"]),
        "\
OrderCreated by OrderService at +0 ms: 50 of product 102 for customer 2, 0 ms into the run
└─ InventoryChecked by InventoryService at +10 ms (step 10 ms): reserved 50 of product 102, 140 left
   └─ PaymentDeclined by PaymentService at +144 ms (step 134 ms): insufficient credit: $2499.50 charge, customer 2 has $2000.60 left
      └─ InventoryReleased by InventoryService at +146 ms (step 2 ms): released 50 of product 102, 187 in stock
         └─ OrderCancelled by OrderService at +146 ms (step 0 ms): payment declined
terminal: OrderCancelled after 146 ms
"
    );
}

/// A rejected order shows what was requested and what was available, or that the product
/// does not exist.
#[test]
fn a_rejected_order_shows_why_inventory_refused_it() {
    let (_dir, journal) = mixed_journal(&[]);
    let out_of_stock = trace(&journal, &["--order", "2"]);
    assert!(
        out_of_stock.contains(
            "└─ InventoryUnavailable by InventoryService at +0 ms (step 0 ms): requested 41 of product 103, 40 available\n"
        ),
        "{out_of_stock}"
    );
    assert!(
        out_of_stock.ends_with("terminal: OrderRejected after 0 ms\n"),
        "{out_of_stock}"
    );
    let unknown = trace(&journal, &["--order", "4"]);
    assert!(
        unknown.contains("requested 1 of product 999, which is not in the catalog\n"),
        "{unknown}"
    );
}

/// Asking for an order the journal does not have is a usage error: one line, exit 2, no output.
#[test]
fn tracing_an_order_not_in_the_journal_is_a_usage_error() {
    let (_dir, journal) = mixed_journal(&[]);
    let run = choreo(["trace", journal.to_str().expect("utf-8"), "--order", "999"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "choreo: error: order 999 is not in the journal\n"
    );
}

/// In a run where every order reached a terminal state, `--stuck` says so in one line.
#[test]
fn a_finished_run_has_no_stuck_orders() {
    let (_dir, journal) = mixed_journal(&[]);
    assert_eq!(trace(&journal, &["--stuck"]), "no stuck orders\n");
}

/// A journal whose orders 3 and 6 lost their last event lists exactly those two as stuck, with
/// the event each stopped after, and their traces end `STUCK after` it.
#[test]
fn orders_cut_short_are_listed_as_stuck_after_their_last_event() {
    let (_dir, journal) = mixed_journal(&LATENCIES);
    let text = std::fs::read_to_string(&journal).expect("journal");
    let cut: String = text
        .lines()
        .filter(|line| {
            !line.contains(r#""id":"3.ShippingArranged""#)
                && !line.contains(r#""id":"6.OrderCancelled""#)
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(cut.lines().count() + 2, text.lines().count());
    let (_cut_dir, cut_journal) = temp_file("cut.jsonl", &cut);

    // Stuck orders make `--stuck` exit 1, so scripts can tell.
    let run = choreo([
        "trace",
        cut_journal.to_str().expect("utf-8 path"),
        "--stuck",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "choreo: error: 2 orders without a terminal state\n"
    );
    assert_eq!(
        run.stdout,
        "\
order 3: STUCK after PaymentProcessed (+130 ms, seq 25)
order 6: STUCK after InventoryReleased (+232 ms, seq 40)
"
    );
    let order_6 = trace(&cut_journal, &["--order", "6"]);
    assert!(
        order_6.ends_with(
            "\
            └─ InventoryReleased by InventoryService at +232 ms (step 2 ms): released 150 of product 101, 998 in stock
STUCK after InventoryReleased
"
        ),
        "{order_6}"
    );
}
