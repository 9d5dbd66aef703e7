//! `choreo check`: the shop passes every schedule of small files under each fault mix, a
//! service that forgets too soon or does its work outside its state is caught with a short
//! counterexample, and counterexamples read back as journals.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use choreo::check::{self, Checked, Faults, Limits, Reduction, Verdict};
use choreo::config::Config;
use choreo::engine::{
    Cause, Choreography, Envelope, Outbox, Outcome, Role, Service, Services, SpawnError,
};
use choreo::input::{InstanceId, Record};
use choreo::shop::{Order, Shop};

use crate::helpers::{choreo, repo_path, temp_file, NoConfig, NoStats};

fn limits() -> Limits {
    Limits {
        max_states: 2_000_000,
        max_memory: 1 << 30,
        time_limit: Duration::from_secs(120),
        interrupt: Arc::new(AtomicBool::new(false)),
    }
}

fn check_shop(file: &str, sets: &[&str], faults: Faults) -> Checked<Shop> {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
    let config = Config::<Shop>::load(&[], &sets).expect("config");
    let orders = choreo::input::read_order_file::<Order>(&repo_path(file)).expect("orders");
    check::check(&config, &orders, faults, &limits(), &mut |_, _, _| {}).expect("check runs")
}

const MIXES: [Faults; 4] = [
    Faults {
        duplicates: false,
        crashes: 0,
        reduction: Reduction::Por,
    },
    Faults {
        duplicates: true,
        crashes: 0,
        reduction: Reduction::Por,
    },
    Faults {
        duplicates: false,
        crashes: 1,
        reduction: Reduction::Por,
    },
    Faults {
        duplicates: true,
        crashes: 1,
        reduction: Reduction::Por,
    },
];

/// The full mix with no partial-order reduction.
const SILENT_ONLY: Faults = Faults {
    reduction: Reduction::Silent,
    ..MIXES[3]
};

/// Every schedule of the sample files, under each fault mix, keeps every property: stock and
/// money conserved, one terminal event per order, nothing published twice.
#[test]
fn the_shop_keeps_every_property_in_every_schedule_of_the_sample_files() {
    for file in [
        "orders/seed.json",
        "orders/out-of-stock.json",
        "orders/payment-declined.json",
        "orders/shipping-failure.json",
    ] {
        for faults in MIXES {
            let checked = check_shop(file, &[], faults);
            assert!(
                matches!(checked.verdict, Verdict::Holds),
                "{file} {faults:?}: {:?}",
                checked.verdict
            );
            assert!(checked.states > 1, "{file}: {checked}");
        }
    }
}

/// Taking silent deliveries first is a reduction, not a change of verdict: on a small file
/// every interleaving gives the same verdict, from many more states.
#[test]
fn every_interleaving_agrees_with_the_reduced_search() {
    let every = Faults {
        reduction: Reduction::None,
        ..MIXES[3]
    };
    let full = check_shop("orders/payment-declined.json", &[], every);
    let reduced = check_shop("orders/payment-declined.json", &[], MIXES[3]);
    assert!(matches!(full.verdict, Verdict::Holds), "{:?}", full.verdict);
    assert!(matches!(reduced.verdict, Verdict::Holds));
    assert!(full.states > 10 * reduced.states, "{full} vs {reduced}");
    let forgetful = ["services.dedup_window=0"];
    let full = check_shop("orders/seed.json", &forgetful, every);
    assert!(matches!(full.verdict, Verdict::Violated { .. }));
}

/// A service that forgets finished orders at once takes a late duplicate as new: the check
/// finds the second reservation, with a counterexample ending in that duplicate. With the
/// default window (far more than the orders checked) there is none.
#[test]
fn a_late_duplicate_after_forgetting_is_found() {
    let checked = check_shop("orders/seed.json", &["services.dedup_window=0"], MIXES[1]);
    let Verdict::Violated {
        property,
        why,
        counterexample,
    } = &checked.verdict
    else {
        panic!("no violation: {checked}");
    };
    assert_eq!(*property, "no event is published twice");
    assert!(why.contains("1.InventoryChecked a second time"), "{why}");
    let mut text = Vec::new();
    counterexample.write(&mut text).expect("write");
    let text = String::from_utf8(text).expect("utf-8");
    let last = text.lines().rev().nth(1).expect("the last step");
    assert!(
        last.contains("InventoryService receives 1.OrderCreated") && last.contains("duplicate"),
        "{text}"
    );
    assert!(text.ends_with("<- violation\n"), "{text}");
    // Without duplicates nothing comes late.
    let checked = check_shop("orders/seed.json", &["services.dedup_window=0"], MIXES[2]);
    assert!(matches!(checked.verdict, Verdict::Holds));
}

// ---------------------------------------------------------------------------------------------
// A choreography with a service that is not idempotent: it numbers invoices from a counter
// outside its state (an external numbering service), so deciding again after a crash
// publishes a different invoice under the same event id.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Billing;

choreo::names! {
    pub(crate) enum Desk { Till = "till", Biller = "biller" }
}

choreo::names! {
    pub(crate) enum Kind { Ordered, Invoiced, Paid }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
enum Bill {
    Ordered,
    Invoiced { number: u64 },
    Paid,
}

/// A sale: its id, nothing else (`tests/it/shrink.rs` sells with it too).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Sale {
    order_id: InstanceId,
}

impl Record for Sale {
    fn id(&self) -> InstanceId {
        self.order_id
    }

    fn at_ms(&self) -> Option<u64> {
        None
    }
}

#[derive(Debug, Clone, Hash)]
struct Till;

impl Service<Billing> for Till {
    const NAME: Desk = Desk::Till;
    const SUBSCRIBES: &'static [Kind] = &[Kind::Invoiced];
    const PUBLISHES: &'static [Kind] = &[Kind::Ordered, Kind::Paid];
    type State = ();

    fn handle(&mut self, _: &mut (), _event: &Envelope<Billing>, out: &mut Outbox<Billing>) {
        out.publish(Bill::Paid);
    }
}

#[derive(Debug, Clone)]
struct Biller {
    /// Shared by every copy: a crash does not take a number back.
    numbers: Arc<AtomicU64>,
}

impl std::hash::Hash for Biller {
    fn hash<H: std::hash::Hasher>(&self, _state: &mut H) {}
}

impl Service<Billing> for Biller {
    const NAME: Desk = Desk::Biller;
    const SUBSCRIBES: &'static [Kind] = &[Kind::Ordered];
    const PUBLISHES: &'static [Kind] = &[Kind::Invoiced];
    type State = ();

    fn handle(&mut self, _: &mut (), _event: &Envelope<Billing>, out: &mut Outbox<Billing>) {
        let number = self.numbers.fetch_add(1, Ordering::Relaxed);
        out.publish(Bill::Invoiced { number });
    }
}

impl Choreography for Billing {
    const NAME: &'static str = "billing";
    type Event = Bill;
    type Kind = Kind;
    type Service = Desk;
    type Input = Sale;
    type Config = NoConfig;
    type Stats = NoStats;
    const CONFIG_KEYS: &'static [&'static str] = &[];
    const DEFAULT_CONFIG: &'static str = "";
    const MAX_EVENTS: u64 = 3;

    fn kind(event: &Bill) -> Kind {
        match event {
            Bill::Ordered => Kind::Ordered,
            Bill::Invoiced { .. } => Kind::Invoiced,
            Bill::Paid => Kind::Paid,
        }
    }

    fn outcome(kind: Kind) -> Option<Outcome> {
        (kind == Kind::Paid).then_some(Outcome::Completed)
    }

    fn role(_kind: Kind) -> Role {
        Role::Forward
    }

    fn start(_sale: &Sale, _config: &NoConfig) -> (Desk, Bill) {
        (Desk::Till, Bill::Ordered)
    }

    fn services(
        _config: &NoConfig,
        _seed: u64,
        services: &mut impl Services<Self>,
    ) -> Result<(), SpawnError> {
        services.add(Till)?;
        services.add(Biller {
            numbers: Arc::new(AtomicU64::new(1)),
        })
    }

    fn narrate(_envelope: &Envelope<Self>, _out: &mut impl io::Write) -> io::Result<()> {
        Ok(())
    }

    fn facts(event: &Bill, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match event {
            Bill::Invoiced { number } => write!(f, "invoice {number}"),
            _ => Ok(()),
        }
    }

    fn cause(_envelope: &Envelope<Self>) -> Option<Cause<Desk>> {
        None
    }
}

fn check_billing(sales: usize, faults: Faults) -> Checked<Billing> {
    let config = Config::<Billing>::load(&[], &[]).expect("config");
    let sales: Vec<Sale> = (1..=sales as u64)
        .map(|n| Sale {
            order_id: InstanceId::new(n).expect("id"),
        })
        .collect();
    check::check(&config, &sales, faults, &limits(), &mut |_, _, _| {}).expect("check runs")
}

/// The lost-acknowledgement window: the biller publishes invoice 1, crashes before it records
/// the order as handled, and on redelivery publishes invoice 2 under the same event id. The
/// counterexample is those two steps.
#[test]
fn a_service_that_is_not_idempotent_is_caught_in_two_steps() {
    let checked = check_billing(2, MIXES[3]);
    let Verdict::Violated {
        property,
        counterexample,
        ..
    } = &checked.verdict
    else {
        panic!("no violation: {checked}");
    };
    assert_eq!(*property, "no event is published twice");
    assert_eq!(counterexample.steps(), 2, "{counterexample:?}");
    let mut text = Vec::new();
    counterexample.write(&mut text).expect("write");
    let text = String::from_utf8(text).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].ends_with("Biller receives 1.Ordered from Till, and crashes after publishing 1 event, before recording it as handled"),
        "{text}"
    );
    // The numbers are the counter's, which every decision the search tried moved on.
    assert!(lines[1].contains("Invoiced by Biller: invoice "), "{text}");
    assert!(
        lines[2].ends_with("Biller receives 1.Ordered from Till again, restarted after its crash"),
        "{text}"
    );
    assert!(
        lines[3].contains("Invoiced by Biller: invoice ") && lines[3].ends_with("<- violation"),
        "{text}"
    );
    // Without crashes it never decides twice: the engine drops duplicates before it does.
    let checked = check_billing(2, MIXES[1]);
    assert!(
        matches!(checked.verdict, Verdict::Holds),
        "{:?}",
        checked.verdict
    );
}

/// The limits stop a search that is too big, and say so: never a silent truncation.
#[test]
fn a_search_past_its_state_bound_is_reported_incomplete() {
    let config = Config::<Shop>::load(&[], &[]).expect("config");
    let orders = choreo::input::read_order_file::<Order>(&repo_path("orders/out-of-stock.json"))
        .expect("orders");
    let limits = Limits {
        max_states: 50,
        ..limits()
    };
    let checked = check::check(&config, &orders, SILENT_ONLY, &limits, &mut |_, _, _| {})
        .expect("check runs");
    let Verdict::Incomplete { reason } = &checked.verdict else {
        panic!("{:?}", checked.verdict);
    };
    assert!(reason.contains("check.max_states (50)"), "{reason}");
}

/// Five orders of different products, all within stock and credit: with duplicates and a
/// crash, and silent deliveries the only reduction, hundreds of thousands of states (the
/// bench's `5, silent only`).
fn five_orders() -> Vec<Order> {
    serde_json::from_str(
        r#"[{"order_id": 1, "product_id": 101, "quantity": 2},
            {"order_id": 2, "product_id": 102, "quantity": 1},
            {"order_id": 3, "product_id": 101, "quantity": 3},
            {"order_id": 4, "product_id": 103, "quantity": 1},
            {"order_id": 5, "product_id": 102, "quantity": 2}]"#,
    )
    .expect("orders")
}

/// Checks the five orders within `limits`, which must stop the search: what it found, and why
/// it stopped.
fn five_orders_stopped(
    limits: &Limits,
    progress: &mut dyn FnMut(usize, usize, Duration),
) -> (Checked<Shop>, String) {
    let config = Config::<Shop>::load(&[], &[]).expect("config");
    let checked =
        check::check(&config, &five_orders(), SILENT_ONLY, limits, progress).expect("check runs");
    let Verdict::Incomplete { reason } = &checked.verdict else {
        panic!("{:?}", checked.verdict);
    };
    let reason = reason.clone();
    (checked, reason)
}

/// A search far bigger than its time limit stops at the limit, where it is (what is queued is
/// dropped, not explored), and says it is incomplete with the figures so far.
#[test]
fn a_big_search_stops_at_its_time_limit_and_says_so() {
    let limits = Limits {
        time_limit: Duration::from_millis(300),
        ..limits()
    };
    let (checked, reason) = five_orders_stopped(&limits, &mut |_, _, _| {});
    assert_eq!(reason, "check.time_limit (300ms) reached");
    assert!(checked.states > 1 && checked.memory > 0, "{checked}");
}

/// Ctrl-C (the interrupt flag) stops the search at the next state: told while it reports its
/// first progress, it explores no further.
#[test]
fn an_interrupted_search_stops_where_it_is() {
    let limits = limits();
    let interrupt = Arc::clone(&limits.interrupt);
    let mut told_at = None;
    let (checked, reason) = five_orders_stopped(&limits, &mut |states, _, _| {
        interrupt.store(true, Ordering::Relaxed);
        told_at.get_or_insert(states);
    });
    assert_eq!(reason, "interrupted");
    let told_at = told_at.expect("the search reported progress before it ended");
    // The state in hand is finished: its successors at most (a few dozen) are added.
    assert!(
        checked.states <= told_at + 100,
        "told at {told_at}: {checked}"
    );
}

/// A small `check.max_memory` stops the search once what it keeps reaches it, reported
/// incomplete with the figures so far.
#[test]
fn a_search_past_its_memory_bound_is_reported_incomplete() {
    let limits = Limits {
        max_memory: 256 << 10,
        ..limits()
    };
    let (checked, reason) = five_orders_stopped(&limits, &mut |_, _, _| {});
    assert_eq!(reason, "check.max_memory (256 KiB) reached");
    assert!(checked.memory >= 256 << 10, "{checked}");
    assert!(checked.memory < 1 << 20, "{checked}");
}

// ---------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------

#[test]
fn check_prints_no_violation_for_the_sample_order() {
    let run = choreo(["check", "orders/seed.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(
            "checked 1 order, every delivery order, duplicate deliveries, up to 1 crash\n"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.ends_with("\nno violation\n"), "{}", run.stdout);
    assert!(run.stdout.contains("distinct states"), "{}", run.stdout);
}

/// The issue's own acceptance: with no memory of finished orders, the late duplicate's double
/// reservation is found and printed (exit 1); its journal reads back with `trace`, where the
/// second reservation shows under the order's first event.
#[test]
fn a_counterexample_is_printed_and_its_journal_reads_back_with_trace() {
    let (dir, journal) = temp_file("counterexample.jsonl", "");
    let journal_arg = journal.to_str().expect("utf-8 path");
    let run = choreo([
        "check",
        "orders/seed.json",
        "--set",
        "services.dedup_window=0",
        "--journal",
        journal_arg,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("violation: no event is published twice"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("violation: no event is published twice"),
        "{}",
        run.stderr
    );
    let trace = choreo(["trace", journal_arg, "--order", "1"]);
    assert_eq!(trace.code, 0, "{}", trace.stderr);
    let reservations = trace
        .stdout
        .matches("InventoryChecked by InventoryService")
        .count();
    assert_eq!(reservations, 2, "{}", trace.stdout);
    let diagram = choreo(["diagram", "order", journal_arg, "--order", "1"]);
    assert_eq!(diagram.code, 0, "{}", diagram.stderr);
    drop(dir);
}

#[test]
fn check_refuses_more_orders_than_it_explores() {
    let run = choreo(["check", "orders/swarm.jsonl"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("orders/swarm.jsonl: 1000 orders to check"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("at most 6"), "{}", run.stderr);
}

/// Each bound stops the search, which says so (exit 1); a bound that is not an amount of
/// memory is refused, naming the key.
#[test]
fn check_stops_at_its_bounds_and_says_the_search_is_incomplete() {
    for (set, said) in [
        ("check.max_states=20", "check.max_states (20) reached"),
        (
            "check.max_memory=64KiB",
            "check.max_memory (64 KiB) reached",
        ),
    ] {
        let run = choreo([
            "check",
            "orders/out-of-stock.json",
            "--crashes",
            "2",
            "--set",
            "check.reduction=silent",
            "--set",
            set,
        ]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stdout.contains(&format!("search incomplete: {said}")),
            "{}",
            run.stdout
        );
    }
    let run = choreo([
        "check",
        "orders/seed.json",
        "--set",
        "check.max_memory=lots",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("check.max_memory"), "{}", run.stderr);
    assert!(
        run.stderr.contains("`lots` is not an amount of memory"),
        "{}",
        run.stderr
    );
}
#[test]
fn check_reports_bad_input_with_its_position() {
    let (dir, path) = temp_file("bad.json", "{\"order_id\": 1, \"product_id\": 101}");
    let run = choreo(["check", path.to_str().expect("utf-8")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("bad.json:1:"), "{}", run.stderr);
    drop(dir);
    let run = choreo(["check", "orders/seed.json", "--crashes", "9"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--crashes"), "{}", run.stderr);
}

/// `--journal` is written only for a violation: a check that finds none, or stops early, leaves
/// no file behind.
#[test]
fn check_leaves_no_journal_without_a_violation() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (sets, code) in [("check.max_states=5000000", 0), ("check.max_states=2", 1)] {
        let journal = dir.path().join("cx.jsonl");
        let run = choreo([
            "check",
            "orders/seed.json",
            "--set",
            sets,
            "--journal",
            journal.to_str().expect("utf-8 path"),
        ]);
        assert_eq!(run.code, code, "{}", run.stderr);
        assert!(!journal.exists(), "{sets}: {}", run.stdout);
    }
}

/// `check` says which endings the states it explored reached, as the report names them.
#[test]
fn check_names_the_endings_it_reached() {
    let run = choreo(["check", "orders/out-of-stock.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "\n3 of 10 endings reached: completed; rejected: not enough stock; \
             rejected: product not in the catalog\n"
        ),
        "{}",
        run.stdout
    );
}

/// Two services bouncing a ball between them: Left answers the start and every Pong with a
/// Ping, Right every Ping with a Pong, and the Done that would end the ball never comes. Its
/// instances are balls (`ball_id`), not orders: `check` speaks of balls.
mod bouncing {
    use choreo::flow::prelude::*;

    choreo::events! {
        /// A ball bounced between two services.
        pub enum Event: Kind {
            Started,
            Ping,
            Pong,
            Done => completed,
        }
    }

    /// One ball to bounce.
    #[derive(Debug, Clone, Deserialize)]
    pub struct Ball {
        pub ball_id: InstanceId,
    }

    choreo::choreography! {
        /// A livelock: every Ping is answered, and nothing ever ends the ball.
        pub Bouncing("bouncing") {
            events: Event / Kind,
            input: Ball / ball_id,
            start: Server, |_ball, _config| Event::Started,
        }
        services: Service {
            Server: [] -> [Started],
            Left: [Started, Pong] -> [Ping] => |_, _, _, out| out.publish(Event::Ping),
            Right: [Ping] -> [Pong, Done] => |_, _, _, out| out.publish(Event::Pong),
        }
    }
}

/// A livelock is a liveness violation, reported as one with its lasso: the schedule to the
/// loop's first event, then the loop, named in the why. (Without the loop's diagnosis it would
/// pass for a mere event published twice.) The property and the why name the instance by
/// the choreography's own noun.
#[test]
fn a_livelock_is_caught_as_a_loop_that_never_ends_the_instance() {
    let config = Config::<bouncing::Bouncing>::load(&[], &[]).expect("config");
    let balls = [bouncing::Ball {
        ball_id: InstanceId::new(1).expect("id"),
    }];
    for faults in MIXES {
        let checked = check::check(&config, &balls, faults, &limits(), &mut |_, _, _| {})
            .expect("check runs");
        let Verdict::Violated {
            property,
            why,
            counterexample,
        } = &checked.verdict
        else {
            panic!("{faults:?}: no violation: {checked}");
        };
        assert_eq!(
            *property, "every ball finishes when delivery is fair",
            "{faults:?}: {why}"
        );
        assert_eq!(
            why,
            "ball 1 goes round a loop that never ends it: Ping by Left -> Pong by Right -> \
             Ping by Left again (a livelock: only the repeat's id, 1.Ping, stops it here)",
            "{faults:?}"
        );
        // Breadth first: the shortest lasso, the loop's three deliveries.
        assert_eq!(counterexample.steps(), 3, "{faults:?}: {counterexample:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The reductions: each gives the full search's verdicts
// ---------------------------------------------------------------------------------------------

/// Every reduction, the full search first.
const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Silent, Reduction::Por];

/// What a verdict says, for comparing searches: held, or the property broken.
fn said<C: Choreography>(checked: &Checked<C>) -> String {
    match &checked.verdict {
        Verdict::Holds => "holds".to_owned(),
        Verdict::Violated { property, .. } => format!("violated: {property}"),
        Verdict::Incomplete { reason } => panic!("incomplete: {reason}"),
    }
}

/// Each reduction reaches the full search's verdict (the same property broken, or none) and
/// the same endings, from fewer states, on the shop's small files, a forgetful shop (a late
/// duplicate), a biller that is not idempotent (a crash after publishing) and a livelock; the
/// state counts are printed (`--nocapture`).
#[test]
fn each_reduction_gives_the_full_searchs_verdicts_from_fewer_states() {
    let forgetful = ["services.dedup_window=0"];
    let shop: [(&str, &[&str]); 4] = [
        ("orders/seed.json", &[]),
        ("orders/payment-declined.json", &[]),
        ("orders/shipping-failure.json", &[]),
        ("orders/seed.json", &forgetful),
    ];
    for (file, sets) in shop {
        let searches = REDUCTIONS.map(|reduction| {
            check_shop(
                file,
                sets,
                Faults {
                    reduction,
                    ..MIXES[3]
                },
            )
        });
        compare(&format!("{file} {sets:?}"), &searches);
    }
    let searches = REDUCTIONS.map(|reduction| {
        check_billing(
            2,
            Faults {
                reduction,
                ..MIXES[3]
            },
        )
    });
    compare("billing", &searches);
    let config = Config::<bouncing::Bouncing>::load(&[], &[]).expect("config");
    let balls = [1, 2].map(|n| bouncing::Ball {
        ball_id: InstanceId::new(n).expect("id"),
    });
    let searches = REDUCTIONS.map(|reduction| {
        let faults = Faults {
            reduction,
            ..MIXES[3]
        };
        check::check(&config, &balls, faults, &limits(), &mut |_, _, _| {}).expect("check runs")
    });
    compare("bouncing", &searches);
}

/// The same verdict and endings from each search in `searches` (by [`REDUCTIONS`]), each no
/// bigger than the one before.
fn compare<C: Choreography>(what: &str, searches: &[Checked<C>; 3]) {
    let [full, silent, por] = searches;
    println!(
        "{what}: {} states every interleaving, {} silent, {} por: {}",
        full.states,
        silent.states,
        por.states,
        said(full)
    );
    for (reduced, name) in [(silent, "silent"), (por, "por")] {
        assert_eq!(said(reduced), said(full), "{what}, {name}");
        if matches!(full.verdict, Verdict::Holds) {
            assert_eq!(reduced.endings, full.endings, "{what}, {name}");
        }
    }
    assert!(silent.states <= full.states, "{what}: {silent} vs {full}");
    assert!(por.states <= silent.states, "{what}: {por} vs {silent}");
}

/// Bigger files, where the full search is out of reach: the partial-order reduction gives the
/// verdicts and endings of silent deliveries alone, from far fewer states, on the shop (3 and 5
/// orders, up to 2 crashes) and the transfers example's file.
#[test]
fn the_partial_order_reduction_agrees_with_the_search_it_reduces_on_bigger_files() {
    let two_crashes = Faults {
        crashes: 2,
        ..MIXES[3]
    };
    for faults in [MIXES[3], two_crashes] {
        let [silent, por] = [Reduction::Silent, Reduction::Por].map(|reduction| {
            check_shop(
                "orders/out-of-stock.json",
                &[],
                Faults {
                    reduction,
                    ..faults
                },
            )
        });
        assert_eq!(said(&por), said(&silent));
        assert_eq!(por.endings, silent.endings);
        assert!(por.states * 10 < silent.states, "{por} vs {silent}");
    }
    let config = Config::<Shop>::load(&[], &[]).expect("config");
    let [silent, por] = [Reduction::Silent, Reduction::Por].map(|reduction| {
        let faults = Faults {
            reduction,
            ..MIXES[3]
        };
        check::check(
            &config,
            &five_orders(),
            faults,
            &limits(),
            &mut |_, _, _| {},
        )
        .expect("check runs")
    });
    assert!(matches!(silent.verdict, Verdict::Holds), "{silent}");
    assert!(matches!(por.verdict, Verdict::Holds), "{por}");
    assert_eq!(por.endings, silent.endings);
    assert!(por.states * 50 < silent.states, "{por} vs {silent}");
}

/// A box office that holds the seat on asking but takes it only on confirmation (the planted
/// bug): two fans who ask before either confirms both hold the one seat. The desk's part
/// (confirming a held seat) touches only the fan's own record; the office's is shared.
macro_rules! box_office {
    ($module:ident, $shared:expr) => {
        mod $module {
            use choreo::flow::prelude::*;

            choreo::events! {
                /// A fan's ticket.
                pub enum Event: Kind {
                    Asked,
                    Held,
                    SoldOut => rejected,
                    Confirmed,
                    Taken => completed,
                }
            }

            /// One fan asking for the seat.
            #[derive(Debug, Clone, Deserialize)]
            pub struct Fan {
                pub order_id: InstanceId,
            }

            /// One seat: at most one fan holds it.
            fn one_seat(
                _config: &choreo::flow::NoConfig,
                events: &[&Envelope<Tickets>],
                _ended: bool,
            ) -> Result<(), String> {
                let held = events.iter().filter(|e| e.kind() == Kind::Held).count();
                if held > 1 {
                    return Err(format!("{held} fans hold the one seat"));
                }
                Ok(())
            }

            choreo::choreography! {
                /// See the macro.
                pub Tickets("tickets") {
                    events: Event / Kind,
                    input: Fan / order_id,
                    start: Desk, |_fan, _config| Event::Asked,
                    invariant: one_seat,
                    shared: $shared,
                }
                services: Service {
                    Desk: [Held] -> [Asked, Confirmed]
                        => |_, _, _, out| out.publish(Event::Confirmed),
                    Office(u32 = |_| 1): [Asked, Confirmed] -> [Held, SoldOut, Taken]
                        => |seats, _, event, out| match event.event {
                            Event::Asked if *seats > 0 => out.publish(Event::Held),
                            Event::Asked => out.publish(Event::SoldOut),
                            _ => {
                                *seats = seats.saturating_sub(1);
                                out.publish(Event::Taken);
                            }
                        },
                }
            }
        }
    };
}

box_office!(box_office, |service, _kind| service == Service::Office);
box_office!(box_office_declared_wrong, |_service, _kind| false);

/// Fans 1 to `n`.
fn fans<F: Record + for<'de> Deserialize<'de>>(n: u64) -> Vec<F> {
    (1..=n)
        .map(|n| serde_json::from_str(&format!(r#"{{"order_id": {n}}}"#)).expect("a fan"))
        .collect()
}

/// A planted bug across instances, in the shared handlings' order, is caught by every
/// reduction: the same property, the same why.
#[test]
fn a_bug_between_instances_is_caught_by_every_reduction() {
    let config = Config::<box_office::Tickets>::load(&[], &[]).expect("config");
    let searches = REDUCTIONS.map(|reduction| {
        let faults = Faults {
            reduction,
            ..MIXES[3]
        };
        check::check(&config, &fans(2), faults, &limits(), &mut |_, _, _| {}).expect("check runs")
    });
    compare("box office", &searches);
    for checked in &searches {
        let Verdict::Violated { property, why, .. } = &checked.verdict else {
            panic!("no violation: {checked}");
        };
        assert_eq!(*property, "the choreography's invariants hold");
        assert_eq!(why, "2 fans hold the one seat");
    }
}

/// A declaration that a handling touches only its instance's record, when it changes what the
/// service shares, is not trusted: the check stops there with a violation naming it.
#[test]
fn a_handling_wrongly_declared_per_instance_is_caught() {
    let config = Config::<box_office_declared_wrong::Tickets>::load(&[], &[]).expect("config");
    // One fan: the seat is taken (the wrong declaration's step) before anything else breaks.
    let checked = check::check(&config, &fans(1), MIXES[3], &limits(), &mut |_, _, _| {})
        .expect("check runs");
    let Verdict::Violated { property, why, .. } = &checked.verdict else {
        panic!("no violation: {checked}");
    };
    assert_eq!(
        *property,
        "a handling declared per-instance changes nothing shared"
    );
    assert!(why.starts_with("Office changed what it shares"), "{why}");
}
