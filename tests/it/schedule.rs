//! The schedule version: seeded runs pinned by a hash of their events, so that a change to
//! which of two simultaneous events comes first is caught, and journals of an older schedule
//! still read.

use choreo::engine::stats::SCHEDULE;

use crate::helpers::{choreo, temp_file};

/// A seeded run's case: what it is, its arguments after `run`, and the pinned figures of its
/// `--format json` output.
struct Pinned {
    name: &'static str,
    args: &'static [&'static str],
    events: usize,
    fnv1a: u64,
}

/// Seeded runs of the shop whose events the current schedule fixes.
const PINNED: &[Pinned] = &[
    Pinned {
        name: "a plain seeded run",
        args: &["orders/swarm.jsonl", "--seed", "11"],
        events: 3646,
        fnv1a: 0x841f_7024_9ed4_9970,
    },
    Pinned {
        name: "a latency model on every service",
        args: &[
            "orders/swarm.jsonl",
            "--seed",
            "12",
            "--set",
            r#"simulation.latency.order={ model = "fixed", ms = 1 }"#,
            "--set",
            r#"simulation.latency.inventory={ model = "exponential", mean_ms = 1 }"#,
            "--set",
            r#"simulation.latency.payment={ model = "uniform", min_ms = 0, max_ms = 2 }"#,
            "--set",
            r#"simulation.latency.shipping={ model = "fixed", ms = 1 }"#,
        ],
        events: 3698,
        fnv1a: 0x34ca_162f_779e_0795,
    },
    Pinned {
        name: "the chaos scenario",
        args: &[
            "orders/swarm.jsonl",
            "--config",
            "config/scenarios/chaos.toml",
            "--seed",
            "13",
        ],
        events: 3955,
        fnv1a: 0x71f0_5d57_6b63_b3e3,
    },
    Pinned {
        name: "a crashing service",
        args: &[
            "orders/swarm.jsonl",
            "--config",
            "config/scenarios/crashing-inventory.toml",
            "--seed",
            "14",
        ],
        events: 4000,
        fnv1a: 0x44be_2a2d_a062_4e48,
    },
];

/// FNV-1a, 64 bits: a stable hash of bytes (std's hashers may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Every pinned seeded run gives the events pinned for it, and its journal records them after
/// a first line naming the schedule, which `run --help` names too: a change to the schedule
/// cannot go unnoticed.
#[test]
fn seeded_runs_follow_the_pinned_schedule() {
    let (dir, journal) = temp_file("journal.jsonl", "");
    let journal = journal.to_str().expect("utf-8 path");
    let mut changed = Vec::new();
    for case in PINNED {
        let mut args = vec!["run"];
        args.extend_from_slice(case.args);
        args.extend_from_slice(&["--format", "json", "-q", "--journal", journal]);
        let run = choreo(&args);
        assert_eq!(run.code, 0, "{}: {}", case.name, run.stderr);
        let recorded = std::fs::read_to_string(journal).expect("journal");
        let (header, events) = recorded.split_once('\n').expect("a first line");
        let header: serde_json::Value = serde_json::from_str(header).expect("JSON");
        assert_eq!(header["repeat"]["schedule"], SCHEDULE, "{}", case.name);
        assert_eq!(events, run.stdout, "{}: the journal's events", case.name);
        let (count, hash) = (run.stdout.lines().count(), fnv1a(run.stdout.as_bytes()));
        if (count, hash) != (case.events, case.fnv1a) {
            changed.push(format!(
                "{}: {count} events, hash {hash:#018x} (pinned: {} events, {:#018x})",
                case.name, case.events, case.fnv1a
            ));
        }
    }
    drop(dir);
    let help = choreo(["run", "--help"]);
    assert!(
        help.stdout
            .contains(&format!("this choreo follows schedule {SCHEDULE}")),
        "{}",
        help.stdout
    );
    assert!(
        changed.is_empty(),
        "seeded runs changed their events under schedule {SCHEDULE}:\n  {}\n\
         An accidental change: find what altered which of two simultaneous events comes first, \
         and undo it. A deliberate one: raise engine::stats::SCHEDULE and update these pins \
         (and every seeded expectation: tests, docs outputs) in one commit that says so.",
        changed.join("\n  ")
    );
}

/// A journal written under schedule 1 (before this version) reads as it did: `replay` prints
/// that run's text output byte for byte, and `trace`, `diagram order` and `config --from` read
/// it, without running anything again.
#[test]
fn a_schedule_1_journal_still_reads() {
    let journal = "tests/data/schedule-1.jsonl";
    let replay = choreo(["replay", journal]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    let expected = std::fs::read_to_string(crate::helpers::repo_path("tests/data/schedule-1.txt"))
        .expect("tests/data/schedule-1.txt");
    assert_eq!(replay.stdout, expected);

    let trace = choreo(["trace", journal, "--order", "2"]);
    assert_eq!(trace.code, 0, "{}", trace.stderr);
    assert!(
        trace
            .stdout
            .ends_with("terminal: OrderCancelled after 316 ms\n"),
        "{}",
        trace.stdout
    );
    let stuck = choreo(["trace", journal, "--stuck"]);
    assert_eq!(
        (stuck.code, stuck.stdout.as_str()),
        (0, "no stuck orders\n")
    );

    let diagram = choreo(["diagram", "order", journal, "--order", "2"]);
    assert_eq!(diagram.code, 0, "{}", diagram.stderr);
    assert!(diagram
        .stdout
        .starts_with("sequenceDiagram\n    %% Order 2:"));
    assert!(
        diagram.stdout.contains("OrderCancelled"),
        "{}",
        diagram.stdout
    );

    let config = choreo(["config", "--from", journal]);
    assert_eq!(config.code, 0, "{}", config.stderr);
    assert!(config.stdout.contains("seed = 7\n"), "{}", config.stdout);
    let first = std::fs::read_to_string(crate::helpers::repo_path(journal)).expect("journal");
    assert!(first.starts_with(r#"{"repeat":{"version":"0.1.0","schedule":1,"#));
}
