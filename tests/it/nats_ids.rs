//! String ids over a real NATS broker: the tickets (`examples/tickets`), whose ids are
//! strings, with ids no subject token can hold as they are (`.`, `*`, `>`, spaces, non-ASCII,
//! strings that look like numbers or like the token's own escapes), each service a process of
//! the example's binary. The same story as in process, each ticket finished once, a second
//! run refused, and a service killed mid-run that rebuilds its state from the stream.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::helpers::{example_binary, program_with, repo_root, Run};
use crate::nats::{config_args, one_mixed_run_at_a_time, run_args, serve_args, Broker, Process};

use crate::ids::example::Tickets;

/// The `n`th ticket's id: numbered like `T-2026-0001`, a UUID, or one with characters a
/// subject token cannot hold as they are.
fn ticket_id(n: usize) -> String {
    match n % 12 {
        0..=3 => format!("T-2026-{n:04}"),
        4 => format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            n * 7919,
            n % 65_536,
            n % 4096,
            (n * 31) % 4096,
            n * 104_729
        ),
        5 => format!("a.b-{n}"),
        6 => format!("a_b-{n}"),
        7 => format!("*.>{n}"),
        8 => format!("ünï cödé {n} 日本"),
        9 => n.to_string(),
        10 => format!("_2E{n}"),
        _ => format!("with  spaces\t{n}").replace('\t', " "),
    }
}

/// A file of `count` tickets in `dir`, more than four seats (refused) every fifth one.
fn tickets_file(dir: &Path, count: usize) -> String {
    let lines: String = (1..=count)
        .map(|n| {
            let seats = if n % 5 == 0 { 9 } else { 1 + n % 4 };
            format!(
                "{}\n",
                serde_json::json!({"ticket_id": ticket_id(n), "seats": seats})
            )
        })
        .collect();
    let path = dir.join("tickets.jsonl");
    std::fs::write(&path, lines).expect("written");
    path.display().to_string()
}

/// Each ticket's events, in order, from a run's JSON output.
fn stories(run: &Run) -> BTreeMap<String, Vec<String>> {
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut stories: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in run.stdout.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let id = event["ticket_id"].as_str().expect("a string id").to_owned();
        let kind = event["event"].as_str().expect("event").to_owned();
        stories.entry(id).or_default().push(kind);
    }
    stories
}

/// A few hundred tickets over NATS (the services spawned from the tickets' binary) tell the
/// same story as in process: each ticket, under its id as written, takes the same events
/// and ends once. The text output and the journal show the ids as written. The same file
/// run again on the same stream is refused at once, naming the tickets as written.
#[test]
fn string_ids_run_over_nats_as_in_process_each_finished_once_and_never_twice() {
    let Some(bin) = example_binary("tickets", "skipped") else {
        return;
    };
    let Some(broker) = Broker::start() else {
        return;
    };
    let (url, root) = (broker.url(), repo_root());
    let dir = tempfile::tempdir().expect("temp dir");
    let count = 300;
    let file = tickets_file(dir.path(), count);
    let journal = dir.path().join("j.jsonl").display().to_string();
    let tickets = |args: &[&str]| program_with(&bin, root, args, &[]);
    let in_process = stories(&tickets(&["run", &file, "--format", "json"]));
    let over_nats = &[
        "run",
        &file,
        "--format",
        "json",
        "--nats",
        &url,
        "--spawn-services",
        "--journal",
        &journal,
    ];
    assert_eq!(stories(&tickets(over_nats)), in_process);
    let written: std::collections::BTreeSet<String> = (1..=count).map(ticket_id).collect();
    assert!(
        in_process.keys().eq(written.iter()),
        "every ticket, under its id as written"
    );
    for (id, story) in &in_process {
        let ends = story
            .iter()
            .filter(|kind| ["TicketIssued", "TicketRejected"].contains(&kind.as_str()))
            .count();
        assert_eq!(ends, 1, "{id}: {story:?}");
    }
    let events = choreo::view::journal::read::<Tickets>(Path::new(&journal)).expect("reads");
    assert_eq!(
        events.len(),
        in_process.values().map(Vec::len).sum::<usize>()
    );
    assert!(events
        .iter()
        .any(|e| e.order_id.to_string() == "*.>55" && e.is_terminal()));
    let traced = tickets(&["trace", &journal, "--order", "*.>55"]);
    assert_eq!(traced.code, 0, "{}", traced.stderr);
    assert!(
        traced.stdout.contains("SeatsRefused by Seats"),
        "{}",
        traced.stdout
    );

    let text = tickets(&[
        "run",
        &file,
        "--nats",
        &url,
        "--spawn-services",
        "--set",
        "nats.stream=text",
    ]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    for line in [
        "Desk: Ticket T-2026-0001: 2 seats asked for",
        "Seats: Cannot hold 9 seats for ticket *.>55",
        "Desk: Ticket ünï cödé 8 日本 issued",
        "Desk: Ticket a.b-17 issued",
    ] {
        assert!(text.stdout.contains(line), "{line}");
    }

    let started = Instant::now();
    let again = tickets(over_nats);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again.stderr.contains(
            "tickets ran before on stream `tickets` (the stream holds their first events already: T-2026-0001.TicketRequested, T-2026-0002.TicketRequested"
        ),
        "{}",
        again.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Thousands of tickets with odd string ids, served by processes that remember few texts
/// (their windows at their least), one killed mid-run and started again: it rebuilds its
/// state from the stream, whose ids it must read back to the instances it knew, and every
/// ticket still ends once, as its seats decide, with nothing published twice.
#[test]
fn a_served_service_killed_mid_run_reads_string_ids_back_and_doubles_nothing() {
    let Some(bin) = example_binary("tickets", "skipped") else {
        return;
    };
    let _alone = one_mixed_run_at_a_time();
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let config = config_args(
        &[
            "services.dedup_window=100".to_owned(),
            "run.time_limit=120s".to_owned(),
        ],
        "restarted",
    );
    let serve =
        |service: &str| Process::program(&bin, &serve_args(&url, service, &config), Stdio::null());
    let mut services = [serve("Desk"), serve("Seats")];
    let dir = tempfile::tempdir().expect("temp dir");
    let count = 5_000;
    let file = tickets_file(dir.path(), count);
    let journal = dir.path().join("j.jsonl");
    let mut args = run_args(&url, &file, &config);
    args.extend(["--journal".to_owned(), journal.display().to_string()]);
    let mut run = Process::program(&bin, &args, Stdio::null());
    let started = Instant::now();
    while std::fs::metadata(&journal).map_or(0, |m| m.len()) == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "no event");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    // Desk: it takes every kind (a ticket's start, its seats held or refused) and ends the
    // ticket, so its rebuilt state must tie later events back to the instances it knew.
    services[0].signal(Signal::SIGKILL);
    services[0].wait(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    services[0] = serve("Desk");
    assert_eq!(run.wait(Duration::from_secs(150)), 0, "every ticket ends");

    let events = choreo::view::journal::read::<Tickets>(&journal).expect("reads");
    let mut ids = std::collections::HashSet::new();
    let mut ends: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in &events {
        // (The run passes over a repeat, so this holds by construction; the ends below are
        // what a lost or misread id would break.)
        assert!(ids.insert(event.id), "{} twice", event.id);
        if event.is_terminal() {
            ends.entry(event.order_id.to_string())
                .or_default()
                .push(format!("{:?}", event.kind()));
        }
    }
    assert_eq!(ends.len(), count, "every ticket ended");
    for n in 1..=count {
        let expected = if n % 5 == 0 {
            "TicketRejected"
        } else {
            "TicketIssued"
        };
        assert_eq!(ends[&ticket_id(n)], [expected], "{}", ticket_id(n));
    }
}

/// A run reads orders ahead of admitting them (a JSON Lines file by batches, a document
/// whole): the texts of their string ids must still be known when they are admitted, however
/// small the duplicate window, or an order would go out under a made-up id. In process, each
/// ticket is shown under its own id, none under a forgotten one.
#[test]
fn string_ids_read_ahead_of_the_run_keep_their_texts() {
    let Some(bin) = example_binary("tickets", "skipped") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let count = 30_000;
    let lines = tickets_file(dir.path(), count);
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&lines)
        .expect("written")
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    let document = dir.path().join("tickets.json");
    std::fs::write(&document, serde_json::to_vec(&records).expect("JSON")).expect("written");
    for file in [lines, document.display().to_string()] {
        let run = program_with(
            &bin,
            repo_root(),
            [
                "run",
                &file,
                "--format",
                "json",
                "--set",
                "input.duplicate_window=1",
                "--set",
                "run.time_limit=1000h",
            ],
            &[],
        );
        assert_eq!(run.code, 0, "{file}: {}", run.stderr);
        assert!(!run.stdout.contains("forgotten"), "{file}: an id forgotten");
        for n in [1, count / 2, count] {
            assert!(
                run.stdout.contains(&format!(
                    "\"ticket_id\":{}",
                    serde_json::json!(ticket_id(n))
                )),
                "{file}: ticket {n} is not shown under its id"
            );
        }
    }
}
