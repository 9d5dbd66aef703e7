//! Ids as people write them: a choreography whose instance ids are strings (`"T-2026-0001"`, a
//! UUID), through every subcommand; bad ids refused where they stand; the shop's numbers
//! unchanged.

use std::path::Path;

use choreo::config::Config;
use choreo::input::{read_order_file, InstanceId};

use crate::helpers::{check_every_schedule, repo_path, temp_file};

#[allow(dead_code)] // Its `main` is the example's.
#[path = "../../examples/tickets/main.rs"]
pub(crate) mod example;

use example::{Ticket, Tickets};

type Envelope = choreo::engine::Envelope<Tickets>;

fn sample_path() -> String {
    repo_path("tests/data/tickets.jsonl").display().to_string()
}

/// Carries out `args` as the tickets' binary would.
fn execute(args: &[&str]) -> Result<(), choreo::app::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let command = choreo::cli::in_its_words::<Tickets>(choreo::cli::Cli::command(), "tickets");
    let cli = command
        .try_get_matches_from([&["tickets"], args].concat())
        .and_then(|matches| choreo::cli::Cli::from_arg_matches(&matches))
        .map_err(|err| choreo::app::Error::Usage(err.to_string()))?;
    choreo::app::execute::<Tickets>("tickets", cli)
}

/// The choreography chose string ids by typing its id field `TextId`; the shop keeps numbers.
#[test]
fn a_choreography_chooses_string_ids_by_its_id_fields_type() {
    use choreo::input::Record;
    assert_eq!(
        [
            <Ticket as Record>::TEXT_IDS,
            <choreo::shop::Order as Record>::TEXT_IDS
        ],
        [true, false]
    );
}

/// A run on string ids: narration, the summary and the events all carry the ids as written.
#[tokio::test]
async fn string_ids_run_and_are_shown_as_written() {
    let tickets: Vec<Ticket> = read_order_file(Path::new(&sample_path())).expect("valid");
    let (summary, printed, events) =
        crate::helpers::run_in_process(&Config::<Tickets>::default(), tickets).await;
    assert_eq!([summary.completed, summary.rejected], [2, 1]);
    for line in [
        "Desk: Ticket T-2026-0001: 2 seats asked for\n",
        "Seats: Cannot hold 9 seats for ticket T-2026-0002\n",
        "Desk: Ticket 3f2c1a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f issued\n",
    ] {
        assert!(printed.contains(line), "{line} in\n{printed}");
    }
    let first = InstanceId::text("T-2026-0001").expect("an id");
    assert!(events
        .iter()
        .any(|e| e.order_id == first && e.is_terminal()));
    let json = serde_json::to_string(&events[0]).expect("json");
    assert!(
        json.contains(r#","id":"T-2026-0001.TicketRequested","ticket_id":"T-2026-0001","service":"Desk","cause":null,"#),
        "{json}"
    );
}

/// Every subcommand works on string ids: run with a journal, a summary and a report, then
/// replay, trace `--order T-2026-0001`, diagram and check.
#[test]
fn every_subcommand_runs_on_string_ids() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (args, [journal, summary, report]) =
        crate::helpers::run_writing_every_file(&sample_path(), dir.path());
    execute(&args.iter().map(String::as_str).collect::<Vec<_>>()).expect("the run");
    let summarized: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("the summary"))
            .expect("JSON");
    assert_eq!(summarized["rejected"], 1, "{summarized}");
    let journaled = std::fs::read_to_string(&journal).expect("the journal");
    assert!(
        journaled.contains(r#""id":"T-2026-0002.SeatsRefused","ticket_id":"T-2026-0002","service":"Seats","cause":"T-2026-0002.TicketRequested""#),
        "{journaled}"
    );
    let html = std::fs::read_to_string(&report).expect("the report");
    assert!(html.contains("T-2026-0002"), "the rejected ticket is named");
    for args in [
        &["replay", &journal][..],
        &["trace", &journal, "--order", "T-2026-0001"],
        &[
            "trace",
            &journal,
            "--ticket",
            "3f2c1a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f",
        ],
        &["trace", &journal, "--stuck"],
        &["diagram", "topology"],
        &["diagram", "order", &journal, "--order", "T-2026-0002"],
        &["check", &sample_path()],
    ] {
        execute(args).unwrap_or_else(|err| panic!("{args:?}: {err}"));
    }
    let events = choreo::view::journal::read::<Tickets>(Path::new(&journal)).expect("reads");
    let trace = |id: &str| {
        let mut traced = Vec::new();
        let id = InstanceId::text(id).expect("an id");
        choreo::view::trace::order(&events, id, &mut traced).expect("traced");
        String::from_utf8(traced).expect("utf-8")
    };
    let (issued, refused) = (trace("T-2026-0001"), trace("T-2026-0002"));
    assert!(
        issued.contains("TicketIssued") && !issued.contains("Refused"),
        "{issued}"
    );
    assert!(refused.contains("SeatsRefused by Seats"), "{refused}");
    let err = execute(&["trace", &journal, "--order", "T-2026-9999"]).expect_err("not there");
    assert!(err.to_string().contains("T-2026-9999"), "{err}");
}

/// Ids with the characters JSON escapes or an event id's dot, and one that looks like a
/// number, survive a journal: written, read back and traced as the same ids.
#[test]
fn odd_string_ids_survive_a_journal() {
    let odd = [r#"a.b *>"q""#, "0017", "17", "ünï cödé", "x\\y"];
    let lines: String = odd
        .iter()
        .map(|id| format!("{}\n", serde_json::json!({"ticket_id": id, "seats": 1})))
        .collect();
    let (dir, file) = temp_file("odd.jsonl", &lines);
    let journal = dir.path().join("j.jsonl");
    let (file_arg, journal_arg) = (file.display().to_string(), journal.display().to_string());
    execute(&[
        "run",
        &file_arg,
        "--format",
        "none",
        "--journal",
        &journal_arg,
    ])
    .expect("the run");
    let events = choreo::view::journal::read::<Tickets>(&journal).expect("the journal reads");
    assert_eq!(events.len(), odd.len() * 3);
    for id in odd {
        let key = InstanceId::text(id).expect("an id");
        let of_it: Vec<&Envelope> = events.iter().filter(|e| e.order_id == key).collect();
        assert_eq!(of_it.len(), 3, "{id}");
        assert!(of_it.iter().all(|e| e.id.order_id == key), "{id}");
        assert!(of_it
            .iter()
            .skip(1)
            .all(|e| e.cause.is_some_and(|c| c.order_id == key)));
        execute(&["trace", &journal_arg, "--order", id])
            .unwrap_or_else(|err| panic!("{id}: {err}"));
    }
}

/// A bad id is an error with its file, line and column, in the choreography's words: empty,
/// too long, a number where the choreography chose strings, a repeated one.
#[test]
fn bad_string_ids_are_refused_where_they_stand() {
    let long = "x".repeat(129);
    for (line, expected) in [
        (r#"{"ticket_id": "", "seats": 1}"#.to_owned(), "1:16: ticket_id must be a string of 1 to 128 bytes, no control characters, got an empty string"),
        (format!(r#"{{"ticket_id": "{long}", "seats": 1}}"#), "1:145: ticket_id must be a string of 1 to 128 bytes, no control characters, got 129 bytes"),
        (r#"{"ticket_id": 7, "seats": 1}"#.to_owned(), "1:15: invalid type: integer `7`, expected ticket_id as a string of 1 to 128 bytes, no control characters"),
    ] {
        let (_dir, path) = temp_file("bad.jsonl", &format!("{line}\n"));
        let err = read_order_file::<Ticket>(&path).expect_err("a bad id");
        assert!(err.to_string().ends_with(expected), "{err}\nnot ending {expected}");
    }
    let line = r#"{"ticket_id": "T-1", "seats": 1}"#;
    let (_dir, path) = temp_file("twice.jsonl", &format!("{line}\n{line}\n"));
    let err = read_order_file::<Ticket>(&path).expect_err("a duplicate");
    assert!(
        err.to_string()
            .ends_with("2:1: duplicate ticket_id T-1 (first on line 1)"),
        "{err}"
    );
    let err = execute(&["trace", "j.jsonl", "--order", ""]).expect_err("an empty id");
    assert!(
        err.to_string().contains(
            "a ticket id is a string of 1 to 128 bytes, no control characters, got an empty string"
        ),
        "{err}"
    );
}

/// A journal of number ids does not read as tickets, and the other way round: each says which
/// kind of id it expected.
#[test]
fn a_journal_of_the_other_kind_of_id_is_refused() {
    let line = r#"{"seq":0,"at_us":0,"id":"7.TicketRequested","ticket_id":7,"service":"Desk","cause":null,"event":"TicketRequested","seats":1}"#;
    let (_dir, path) = temp_file("j.jsonl", &format!("{line}\n"));
    let err = choreo::view::journal::read::<Tickets>(&path).expect_err("a number id");
    assert!(
        err.to_string()
            .contains("ticket_id must be a string, got a number"),
        "{err}"
    );
}

/// `check` explores every schedule of string-id tickets, with duplicates and a crash.
#[test]
fn every_schedule_of_string_id_tickets_keeps_every_property() {
    let tickets: Vec<Ticket> = read_order_file(Path::new(&sample_path())).expect("valid");
    let checked = check_every_schedule(&Config::<Tickets>::default(), &tickets[..2]);
    assert!(
        matches!(checked.verdict, choreo::check::Verdict::Holds),
        "{:?}",
        checked.verdict
    );
}
