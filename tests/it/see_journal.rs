//! The journal: complete, replayable, written however the run ends.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{choreo, choreo_in, order_json, temp_file};

/// `choreo replay` reprints the run's text output from its journal, byte for byte.
#[test]
fn replay_reprints_the_original_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (orders, config) in [
        ("orders/mixed.jsonl", None),
        ("orders/swarm.jsonl", Some("config/scenarios/chaos.toml")),
    ] {
        let journal = dir.path().join("journal.jsonl");
        let journal = journal.to_str().expect("utf-8");
        let mut args = vec!["run", orders, "--journal", journal, "-q"];
        if let Some(config) = config {
            args.extend(["--config", config]);
        }
        let run = choreo(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let replay = choreo(["replay", journal]);
        assert_eq!(replay.code, 0, "{}", replay.stderr);
        assert_eq!(replay.stdout, run.stdout, "{orders}");
    }
}

/// The journal is written when the run fails too, with every event up to the failure.
#[test]
fn a_failed_run_still_writes_its_journal() {
    let (dir, _) = temp_file("one.json", &order_json(1, 101, 1));
    let run = choreo_in(
        dir.path(),
        [
            "run",
            "one.json",
            "--journal",
            "j.jsonl",
            "--set",
            "run.time_limit=1s",
            "--set",
            r#"simulation.latency.shipping={ model = "fixed", ms = 5000 }"#,
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let replay = choreo_in(dir.path(), ["replay", "j.jsonl"]);
    assert_eq!(replay.stdout, run.stdout);
    assert!(replay.stdout.ends_with("Payment processed for order 1\n"));
}

/// A journal that is not one is refused with its line, exit 2.
#[test]
fn a_broken_journal_is_refused_with_its_line() {
    let (dir, _) = temp_file("j.jsonl", "{\"seq\": 0}\n");
    let replay = choreo_in(dir.path(), ["replay", "j.jsonl"]);
    assert_eq!(replay.code, 2);
    assert!(
        replay
            .stderr
            .starts_with("choreo: error: j.jsonl:1: not a journal line"),
        "{}",
        replay.stderr
    );
}

/// Ctrl-C stops admitting orders, lets the admitted ones finish, writes the journal and
/// summary, and exits 130.
#[test]
fn an_interrupted_run_finishes_what_it_admitted_and_exits_130() {
    let lines: String = (1..=200_000)
        .map(|id| order_json(id, 101, 1) + "\n")
        .collect();
    let (dir, _) = temp_file("big.jsonl", &lines);
    let mut child = Command::new(env!("CARGO_BIN_EXE_choreo"))
        .args([
            "run",
            "big.jsonl",
            "--journal",
            "j.jsonl",
            "--summary",
            "s.json",
        ])
        .args(["--clock", "real", "--set", "products.101.stock=1000000"])
        // Slow enough that the run is still going when the signal comes.
        .args([
            "--set",
            r#"simulation.latency.payment={ model = "fixed", ms = 1 }"#,
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn choreo");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("the run has started");
    std::thread::sleep(Duration::from_millis(200));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("stdout");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));

    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("s.json")).expect("summary written"),
    )
    .expect("JSON");
    let finished = summary["completed"].as_u64().expect("completed");
    assert!(finished > 0 && finished < 200_000, "{summary}");
    // Every order that went in came out: as many terminal events as OrderCreated in the
    // journal, and the journal replays to what was printed.
    let journal = std::fs::read_to_string(dir.path().join("j.jsonl")).expect("journal");
    let count = |event: &str| {
        journal
            .lines()
            .filter(|l| l.contains(&format!("\"event\":\"{event}\"")))
            .count() as u64
    };
    assert_eq!(count("OrderCreated"), count("ShippingArranged"));
    assert_eq!(count("ShippingArranged"), finished);
    let replay = crate::helpers::choreo_in(dir.path(), ["replay", "j.jsonl"]);
    assert_eq!(replay.stdout, first + &rest);
}

/// The JSON line written directly is the derived serialization's, byte for byte, for every
/// kind of event (the mixed load takes every branch; poison adds the dead letters).
#[tokio::test(start_paused = true)]
async fn json_lines_are_the_derived_serialization_of_every_kind() {
    use choreo::engine::Name;
    use choreo::shop::{EventKind, Shop};
    type Config = choreo::engine::Config<Shop>;
    let mut sets = crate::rules::mixed_sets();
    for service in ["inventory", "payment", "shipping"] {
        sets.push(format!("simulation.faults.{service}.poison=0.02"));
    }
    sets.push("simulation.faults.max_restarts=1000".into());
    let config = Config::load(&[], &sets).expect("valid config");
    let orders = crate::rules::mixed_orders().into_iter().take(3_000);
    let mut events: Vec<choreo::engine::Envelope<Shop>> = Vec::new();
    choreo::engine::run(&config, orders, &mut events)
        .await
        .expect("the run finishes");
    let mut seen = std::collections::BTreeSet::new();
    let (mut line, mut json) = (
        Vec::new(),
        choreo::view::output::JsonLines::<Shop>::default(),
    );
    for envelope in &events {
        line.clear();
        json.write(envelope, &mut line).expect("written");
        let derived = serde_json::to_string(envelope).expect("serialized") + "\n";
        assert_eq!(String::from_utf8_lossy(&line), derived);
        seen.insert(envelope.kind());
    }
    let unseen: Vec<&str> = EventKind::ALL
        .iter()
        .filter(|kind| !seen.contains(*kind))
        .map(|kind| kind.name())
        .collect();
    assert!(unseen.is_empty(), "kinds never written: {unseen:?}");
}

/// A journal's first line records how to repeat its run (choreo's version, the schedule's,
/// the clock, the seed, the effective config), and `config --from` prints that config: given
/// back as the only `--config`, it makes the same journal, byte for byte.
#[test]
fn a_journal_records_how_to_repeat_its_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let at = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_owned();
    let orders = crate::helpers::repo_path("orders/swarm.jsonl");
    let orders = orders.to_str().expect("utf-8");
    let chaos = crate::helpers::repo_path("config/scenarios/chaos.toml");
    let first = choreo([
        "run",
        orders,
        "--config",
        chaos.to_str().expect("utf-8"),
        "--seed",
        "3",
        "--set",
        "bus.capacity=64",
        "--format",
        "none",
        "-q",
        "--journal",
        &at("first.jsonl"),
    ]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let journal = std::fs::read_to_string(at("first.jsonl")).expect("journal");
    let header: serde_json::Value =
        serde_json::from_str(journal.lines().next().expect("a first line")).expect("JSON");
    let repeat = &header["repeat"];
    assert_eq!(repeat["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(repeat["schedule"], choreo::engine::stats::SCHEDULE);
    assert_eq!(repeat["clock"], "virtual");
    assert_eq!(repeat["seed"], 3);
    assert_eq!(repeat["config"]["bus"]["capacity"], 64);
    assert_eq!(repeat["config"]["simulation"]["seed"], 3);

    let recorded = choreo(["config", "--from", &at("first.jsonl")]);
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    std::fs::write(at("recorded.toml"), &recorded.stdout).expect("write config");
    let again = choreo([
        "run",
        orders,
        "--config",
        &at("recorded.toml"),
        "--format",
        "none",
        "-q",
        "--journal",
        &at("again.jsonl"),
    ]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        journal == std::fs::read_to_string(at("again.jsonl")).expect("journal"),
        "the recorded config made another run"
    );
}

/// A journal without the first line, as choreo wrote them before it recorded how to repeat
/// the run, still replays and traces; `config --from` says it records no config (exit 2).
#[test]
fn a_journal_without_its_first_line_still_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let with = dir.path().join("with.jsonl");
    let run = choreo([
        "run",
        crate::helpers::repo_path("orders/mixed.jsonl")
            .to_str()
            .expect("utf-8"),
        "-q",
        "--journal",
        with.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let journal = std::fs::read_to_string(&with).expect("journal");
    let (first, events) = journal.split_once('\n').expect("lines");
    assert!(first.starts_with(r#"{"repeat":"#), "{first}");
    let (_old_dir, old) = temp_file("old.jsonl", events);
    let old = old.to_str().expect("utf-8");
    assert_eq!(choreo(["replay", old]).stdout, run.stdout);
    let trace = choreo(["trace", old, "--order", "6"]);
    assert!(
        trace
            .stdout
            .ends_with("terminal: OrderCancelled after 0 ms\n"),
        "{}",
        trace.stdout
    );
    let diagram = choreo(["diagram", "order", old, "--order", "6"]);
    assert_eq!(diagram.code, 0, "{}", diagram.stderr);
    let config = choreo(["config", "--from", old]);
    assert_eq!(config.code, 2);
    assert!(
        config
            .stderr
            .contains("the journal does not record its config"),
        "{}",
        config.stderr
    );
}
