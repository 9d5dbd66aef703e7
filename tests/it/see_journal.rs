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
