//! `choreo shrink`: a failing run of the swarm shrinks to the smallest case that fails the
//! same way, with no fault; a planted bug that needs a crash after publishing shrinks to a
//! few orders and that one fault; the case written replays, fails the same way and reads in
//! `trace`; a passing run and bad input are refused with their exit codes.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use clap::Parser;
use serde::{Deserialize, Serialize};

use choreo::app::{self, EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_FAILED};
use choreo::cli::Cli;
use choreo::config::Config;
use choreo::engine::{
    Cause, Choreography, Envelope, Outbox, Outcome, Role, Service, Services, SpawnError,
};
use choreo::input::InstanceId;
use choreo::shop::Shop;

use crate::check::{Desk, Kind, Sale};
use crate::helpers::{choreo, temp_file, NoConfig, NoStats};

/// The target: the 1,000 orders of the swarm, PaymentService at 800 ms an event for
/// a 2 s time limit, duplicates and late deliveries elsewhere as noise.
const TOO_SLOW: &str = "config/scenarios/too-slow-payment.toml";

fn shrink_swarm(out: &Path) -> crate::helpers::Run {
    choreo([
        "shrink",
        "orders/swarm.jsonl",
        "--config",
        TOO_SLOW,
        "--out",
        out.to_str().expect("utf-8"),
    ])
}

/// `choreo run` on the case shrink wrote to `out`, given back as the docs say (`--config
/// DIR/config.toml --seed $(cat DIR/seed)`), its journal written to `journal`.
fn replay_case(out: &Path, journal: &Path) -> crate::helpers::Run {
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let seed = std::fs::read_to_string(out.join("seed")).expect("seed");
    choreo([
        "run".to_owned(),
        path(&out.join("orders.jsonl")),
        "--config".to_owned(),
        path(&out.join("config.toml")),
        "--seed".to_owned(),
        seed.trim().to_owned(),
        "--format".to_owned(),
        "none".to_owned(),
        "--journal".to_owned(),
        path(journal),
    ])
}

/// Every simulated fault of every service in `config`, as `service.chance`, where not zero.
fn faults_on<C: Choreography>(config: &Config<C>) -> Vec<String> {
    let mut on = Vec::new();
    for (service, faults) in config.simulation.faults.services.iter() {
        let chances = [
            ("duplicate", faults.duplicate),
            ("delay", faults.delay),
            ("crash", faults.crash),
            ("crash_after_publish", faults.crash_after_publish),
            ("poison", faults.poison),
        ];
        for (name, chance) in chances {
            if !chance.is_zero() {
                on.push(format!("{}.{name}", choreo::name::Name::key(service)));
            }
        }
    }
    on
}

/// A run too slow for its time limit shrinks to the fewest orders that still do not finish
/// in time (two: one alone finishes), with every fault of the noise turned off and the slow
/// latency kept; the same input gives the same case.
#[test]
fn a_swarm_too_slow_for_its_time_limit_shrinks_to_two_orders_and_no_fault() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("case");
    let run = shrink_swarm(&out);
    assert_eq!(run.code, i32::from(EXIT_OK), "{}", run.stderr);
    let orders = std::fs::read_to_string(out.join("orders.jsonl")).expect("orders.jsonl");
    assert_eq!(orders.lines().count(), 2, "{orders}");
    let config = Config::<Shop>::load(&[out.join("config.toml")], &[]).expect("a complete config");
    assert!(faults_on(&config).is_empty(), "{:?}", faults_on(&config));
    let slow = config
        .simulation
        .latency
        .get(choreo::shop::ServiceName::PaymentService);
    assert!(!slow.is_zero(), "{slow:?}");
    assert_eq!(config.run.time_limit, std::time::Duration::from_secs(2));
    assert!(
        run.stderr.contains("1000 orders -> 2 orders, no fault"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("simulation.faults.inventory.duplicate: 0.2 -> 0"),
        "{}",
        run.stderr
    );
    // Two orders, no crash or duplicate: `check` explores them and finds nothing, so the
    // failure is the simulator's timing.
    assert!(
        run.stderr
            .contains("the failure needs the simulator's timing"),
        "{}",
        run.stderr
    );
    let again = dir.path().join("again");
    assert_eq!(shrink_swarm(&again).code, i32::from(EXIT_OK));
    for file in ["orders.jsonl", "config.toml", "seed", "journal.jsonl"] {
        assert_eq!(
            std::fs::read(out.join(file)).expect("first"),
            std::fs::read(again.join(file)).expect("second"),
            "{file} differs between two shrinks of the same run"
        );
    }
}

/// The case written replays with `run`, fails the same way (orders unfinished at the time
/// limit), writes the journal shrink wrote, and that journal reads in `trace` and `diagram`.
#[test]
fn the_shrunk_case_replays_fails_the_same_way_and_its_journal_reads_in_trace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("case");
    assert_eq!(shrink_swarm(&out).code, i32::from(EXIT_OK));
    let replayed = dir.path().join("replayed.jsonl");
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let run = replay_case(&out, &replayed);
    assert_eq!(run.code, i32::from(EXIT_RUN_FAILED), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("time limit of 2s reached; 2 unfinished orders"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&replayed).expect("replayed journal"),
        std::fs::read_to_string(out.join("journal.jsonl")).expect("shrunk journal"),
    );
    let journal = path(&out.join("journal.jsonl"));
    let stuck = choreo(["trace", &journal, "--stuck"]);
    assert_eq!(stuck.code, i32::from(EXIT_RUN_FAILED), "{}", stuck.stderr);
    assert_eq!(
        stuck.stdout.matches("STUCK after").count(),
        2,
        "{}",
        stuck.stdout
    );
    let first = serde_json::from_str::<serde_json::Value>(
        std::fs::read_to_string(out.join("orders.jsonl"))
            .expect("orders")
            .lines()
            .next()
            .expect("an order"),
    )
    .expect("json");
    let id = first["order_id"].to_string();
    let diagram = choreo(["diagram", "order", &journal, "--order", &id]);
    assert_eq!(diagram.code, i32::from(EXIT_OK), "{}", diagram.stderr);
    assert!(
        diagram.stdout.contains("sequenceDiagram"),
        "{}",
        diagram.stdout
    );
}

/// A run that does not fail has nothing to shrink: exit 1, said, and no case written.
#[test]
fn shrink_exits_1_when_the_run_does_not_fail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("case");
    let run = choreo([
        "shrink",
        "orders/mixed.jsonl",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, i32::from(EXIT_RUN_FAILED), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the run does not fail: nothing to shrink"),
        "{}",
        run.stderr
    );
    assert!(!out.join("orders.jsonl").exists());
}

/// Bad input is refused before anything runs, naming the file, line and column (exit 2); so
/// is stdin, which shrink cannot read more than once.
#[test]
fn shrink_refuses_bad_input_naming_file_line_and_column() {
    let (dir, path) = temp_file(
        "bad.jsonl",
        "{\"order_id\": 1, \"product_id\": 101, \"quantity\": 1}\n{\"order_id\": 2, \"product_id\": 101, \"quantity\": x}\n",
    );
    let out = dir.path().join("case");
    let run = choreo([
        "shrink",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, i32::from(EXIT_BAD_INPUT), "{}", run.stderr);
    assert!(run.stderr.contains("bad.jsonl:2:"), "{}", run.stderr);
    let run = choreo(["shrink", "-", "--out", out.to_str().expect("utf-8")]);
    assert_eq!(run.code, i32::from(EXIT_BAD_INPUT), "{}", run.stderr);
    assert!(run.stderr.contains("not on stdin"), "{}", run.stderr);
    let run = choreo([
        "shrink",
        "orders/mixed.jsonl",
        "--set",
        "run.time_limit=soon",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, i32::from(EXIT_BAD_INPUT), "{}", run.stderr);
    assert!(run.stderr.contains("run.time_limit"), "{}", run.stderr);
}

/// A catalog of products 201 to 205 and customers 11 to 14 (on top of the built-in ones),
/// PaymentService too slow for the time limit: the case shrinks to two orders, and its
/// `config.toml` keeps of those products and customers at most the ones its orders name (the
/// built-in ones stay: a config layered over them cannot take them out); given back to `run`
/// with the seed, it makes the same failing run.
#[test]
fn shrink_drops_the_products_and_customers_no_remaining_order_names() {
    let mut config = String::from(
        "[run]\ntime_limit = \"2s\"\n[simulation.latency]\npayment = { model = \"fixed\", ms = 800 }\n",
    );
    for product in 201..=205 {
        config.push_str(&format!(
            "[products.{product}]\nname = \"P{product}\"\nprice_cents = 100\nstock = 1000\n"
        ));
    }
    for customer in 11..=14 {
        config.push_str(&format!(
            "[customers.{customer}]\nname = \"C{customer}\"\ncredit_limit_cents = 100000000\n"
        ));
    }
    let mut orders = String::new();
    for id in 1..=8 {
        orders.push_str(&format!(
            "{{\"order_id\": {id}, \"product_id\": {}, \"quantity\": 1, \"customer_id\": {}}}\n",
            201 + id % 5,
            11 + id % 4
        ));
    }
    let (dir, orders_path) = temp_file("orders.jsonl", &orders);
    let config_path = dir.path().join("catalog.toml");
    std::fs::write(&config_path, config).expect("config");
    let out = dir.path().join("case");
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let run = choreo([
        "shrink".to_owned(),
        path(&orders_path),
        "--config".to_owned(),
        path(&config_path),
        "--out".to_owned(),
        path(&out),
    ]);
    assert_eq!(run.code, i32::from(EXIT_OK), "{}", run.stderr);
    let kept: Vec<serde_json::Value> = std::fs::read_to_string(out.join("orders.jsonl"))
        .expect("orders.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    assert_eq!(kept.len(), 2, "{}", run.stderr);
    let named = |key: &str| -> HashSet<String> {
        kept.iter().map(|order| order[key].to_string()).collect()
    };
    let written: toml::Table = std::fs::read_to_string(out.join("config.toml"))
        .expect("config.toml")
        .parse()
        .expect("toml");
    let entries = |table: &str| -> HashSet<String> {
        written[table]
            .as_table()
            .expect("a table")
            .keys()
            .cloned()
            .collect()
    };
    // Of the catalog's own, only ones a remaining order names may stay (shrink may take out
    // a named one too, where the case still fails the same way); the built-in ones all stay.
    for (table, field, built_in) in [
        ("products", "product_id", &["101", "102", "103"][..]),
        ("customers", "customer_id", &["1", "2"][..]),
    ] {
        let left = entries(table);
        assert!(built_in.iter().all(|id| left.contains(*id)), "{left:?}");
        let own: HashSet<String> = left
            .into_iter()
            .filter(|id| !built_in.contains(&id.as_str()))
            .collect();
        assert!(
            own.is_subset(&named(field)),
            "{table}: {own:?}\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("products: without "), "{}", run.stderr);
    assert!(run.stderr.contains("customers: without "), "{}", run.stderr);
    let replayed = dir.path().join("replayed.jsonl");
    let replay = replay_case(&out, &replayed);
    assert_eq!(replay.code, i32::from(EXIT_RUN_FAILED), "{}", replay.stderr);
    assert!(
        replay.stderr.contains("time limit of 2s reached; "),
        "{}",
        replay.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&replayed).expect("replayed journal"),
        std::fs::read_to_string(out.join("journal.jsonl")).expect("shrunk journal"),
        "the config written is not the config shrink ran"
    );
}

// ---------------------------------------------------------------------------------------------
// A choreography with a planted bug: the biller remembers the orders it billed outside its
// state (an external ledger), and marks one billed before its events are all out. A crash
// after it published the invoice but not the payment puts its state back, not the ledger's:
// delivered again, the order looks billed, nothing more is published, and the order never
// finishes. No other fault shows it: a crash before the decision leaves the ledger alone,
// and a repeated delivery is dropped by id before the biller decides.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Ledger;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
enum Entry {
    Ordered,
    Invoiced,
    Paid,
}

#[derive(Debug, Clone, Hash)]
struct Till;

impl Service<Ledger> for Till {
    const NAME: Desk = Desk::Till;
    const SUBSCRIBES: &'static [Kind] = &[];
    const PUBLISHES: &'static [Kind] = &[Kind::Ordered];
    type State = ();

    fn handle(&mut self, _: &mut (), _event: &Envelope<Ledger>, _out: &mut Outbox<Ledger>) {}
}

#[derive(Debug, Clone)]
struct Biller {
    /// Shared by every copy: a crash does not take an entry back.
    billed: Arc<Mutex<HashSet<InstanceId>>>,
}

impl std::hash::Hash for Biller {
    fn hash<H: std::hash::Hasher>(&self, _state: &mut H) {}
}

impl Service<Ledger> for Biller {
    const NAME: Desk = Desk::Biller;
    const SUBSCRIBES: &'static [Kind] = &[Kind::Ordered];
    const PUBLISHES: &'static [Kind] = &[Kind::Invoiced, Kind::Paid];
    type State = ();

    fn handle(&mut self, _: &mut (), event: &Envelope<Ledger>, out: &mut Outbox<Ledger>) {
        let first = self.billed.lock().expect("ledger").insert(event.order_id);
        if first {
            out.publish(Entry::Invoiced);
            out.publish(Entry::Paid);
        }
    }
}

impl Choreography for Ledger {
    const NAME: &'static str = "ledger";
    type Event = Entry;
    type Kind = Kind;
    type Service = Desk;
    type Input = Sale;
    type Config = NoConfig;
    type Stats = NoStats;
    const CONFIG_KEYS: &'static [&'static str] = &[];
    const DEFAULT_CONFIG: &'static str = "";
    const MAX_EVENTS: u64 = 3;

    fn kind(event: &Entry) -> Kind {
        match event {
            Entry::Ordered => Kind::Ordered,
            Entry::Invoiced => Kind::Invoiced,
            Entry::Paid => Kind::Paid,
        }
    }

    fn outcome(kind: Kind) -> Option<Outcome> {
        (kind == Kind::Paid).then_some(Outcome::Completed)
    }

    fn role(_kind: Kind) -> Role {
        Role::Forward
    }

    fn start(_sale: &Sale, _config: &NoConfig) -> (Desk, Entry) {
        (Desk::Till, Entry::Ordered)
    }

    fn services(
        _config: &NoConfig,
        _seed: u64,
        services: &mut impl Services<Self>,
    ) -> Result<(), SpawnError> {
        services.add(Till)?;
        services.add(Biller {
            billed: Arc::default(),
        })
    }

    fn narrate(_envelope: &Envelope<Self>, _out: &mut impl io::Write) -> io::Result<()> {
        Ok(())
    }

    fn facts(_event: &Entry, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }

    fn cause(_envelope: &Envelope<Self>) -> Option<Cause<Desk>> {
        None
    }
}

/// Every fault on both services: the bug needs one of them, a crash after publishing.
const EVERY_FAULT: &str = "
[simulation.faults.till]
duplicate = 0.3
delay = 0.2
delay_ms = 5
crash = 0.1

[simulation.faults.biller]
duplicate = 0.3
delay = 0.2
delay_ms = 5
crash = 0.1
crash_after_publish = 0.2
";

/// The planted bug, in 200 orders under every fault, shrinks to at most 3 orders and the one
/// fault it needs, a crash after publishing; the case replays and fails the same way.
#[test]
fn a_service_not_idempotent_on_redelivery_shrinks_to_its_crash_after_publishing() {
    let sales: String = (1..=200)
        .map(|id| format!("{{\"order_id\": {id}}}\n"))
        .collect();
    let (dir, sales_path) = temp_file("sales.jsonl", &sales);
    let config_path = dir.path().join("faults.toml");
    std::fs::write(&config_path, EVERY_FAULT).expect("config");
    let out = dir.path().join("case");
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let ledger = |args: &[&str]| {
        let cli = Cli::try_parse_from(std::iter::once("ledger").chain(args.iter().copied()))
            .expect("command line");
        app::execute::<Ledger>("ledger", cli)
    };
    // The run with every fault fails: orders never finish.
    let (sales, faults, case) = (path(&sales_path), path(&config_path), path(&out));
    if let Err(err) = ledger(&["shrink", &sales, "--config", &faults, "--out", &case]) {
        panic!("shrink failed: {err}");
    }
    let kept = std::fs::read_to_string(out.join("orders.jsonl")).expect("orders.jsonl");
    let count = kept.lines().count();
    assert!((1..=3).contains(&count), "{count} orders left: {kept}");
    let config =
        Config::<Ledger>::load(&[out.join("config.toml")], &[]).expect("a complete config");
    assert_eq!(faults_on(&config), ["biller.crash_after_publish"]);
    let seed = std::fs::read_to_string(out.join("seed")).expect("seed");
    let (orders, config) = (
        path(&out.join("orders.jsonl")),
        path(&out.join("config.toml")),
    );
    let replay = [
        "run",
        &orders,
        "--config",
        &config,
        "--seed",
        seed.trim(),
        "--format",
        "none",
        "--quiet",
    ];
    match ledger(&replay) {
        Err(app::Error::Run(failures)) => assert!(
            failures.to_string().contains("time limit of 30s reached"),
            "{failures}"
        ),
        other => panic!("the case does not fail as it did: {other:?}"),
    }
    // Without that one fault it runs clean: the fault is the cause.
    let clean = path(&dir.path().join("clean"));
    let without = "simulation.faults.biller.crash_after_publish=0";
    let clean = [
        "shrink", &orders, "--config", &config, "--set", without, "--out", &clean,
    ];
    let err = ledger(&clean).expect_err("passes");
    assert_eq!(err.exit_code(), EXIT_RUN_FAILED, "{err}");
    assert!(err.to_string().contains("nothing to shrink"), "{err}");
}

/// Ctrl-C stops a long shrink at its next run: exit 130, with the smallest failing case found
/// so far written (fewer orders than given), which replays and fails the same way.
#[test]
fn an_interrupted_shrink_writes_the_smallest_case_so_far() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("temp dir");
    // 5,000 orders, PaymentService at 1 ms each for a 3 s time limit: a thousand-odd orders
    // are needed to fail, and taking them one by one takes thousands of runs.
    let orders: String = (1..=5000)
        .map(|id| {
            format!(
                "{{\"order_id\": {id}, \"product_id\": {}, \"quantity\": 1}}\n",
                101 + id % 3
            )
        })
        .collect();
    std::fs::write(dir.path().join("many.jsonl"), orders).expect("orders");
    let config = "[run]\ntime_limit = \"3s\"\n[simulation.latency]\npayment = { model = \"fixed\", ms = 1 }\n[products.101]\nstock = 100000\n[products.102]\nstock = 100000\n[products.103]\nstock = 100000\n";
    std::fs::write(dir.path().join("slow.toml"), config).expect("config");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_choreo"))
        .args([
            "shrink",
            "many.jsonl",
            "--config",
            "slow.toml",
            "--out",
            "case",
        ])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut said = String::new();
    // Interrupted once it has taken orders out.
    while !said.contains("orders: 2500 -> ") {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).expect("read") > 0,
            "ended early: {said}"
        );
        said.push_str(&line);
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let mut rest = String::new();
    io::Read::read_to_string(&mut stderr, &mut rest).expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "{said}{rest}");
    assert!(
        rest.contains("interrupted: the smallest failing case found so far is in case"),
        "{rest}"
    );
    let kept = std::fs::read_to_string(dir.path().join("case/orders.jsonl")).expect("orders");
    let count = kept.lines().count();
    assert!((1..=2500).contains(&count), "{count} orders");
    let seed = std::fs::read_to_string(dir.path().join("case/seed")).expect("seed");
    let replay = crate::helpers::choreo_in(
        dir.path(),
        [
            "run",
            "case/orders.jsonl",
            "--config",
            "case/config.toml",
            "--seed",
            seed.trim(),
            "--format",
            "none",
            "--quiet",
        ],
    );
    assert_eq!(replay.code, i32::from(EXIT_RUN_FAILED), "{}", replay.stderr);
    assert!(
        replay.stderr.contains("time limit of 3s reached"),
        "{}",
        replay.stderr
    );
}
