//! Invariants checked in every run (`run.invariants`), and coverage: a planted bug fails the
//! run at the event that breaks the invariant, naming it; `end` lets the run finish first;
//! the shop's runs report what they exercised on stderr and in the summary JSON.

use clap::Parser;

use choreo::flow::prelude::*;

use crate::helpers::{choreo, repo_path, temp_file};

choreo::events! {
    /// A payment: asked for, charged, paid.
    pub enum Event: Kind {
        Asked { cents: u64 },
        Charged { cents: u64 },
        Paid => completed,
    }
}

/// `{"payment_id": 1, "cents": 100}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    payment_id: InstanceId,
    cents: u64,
}

/// No payment is charged more than was asked.
fn charged_as_asked(
    _: &choreo::flow::NoConfig,
    events: &[&Envelope<Planted>],
    _: bool,
) -> Result<(), String> {
    let asked = events.iter().find_map(|e| match e.event {
        Event::Asked { cents } => Some(cents),
        _ => None,
    });
    for envelope in events {
        if let (Event::Charged { cents }, Some(asked)) = (&envelope.event, asked) {
            if *cents > asked {
                return Err(format!(
                    "payment {} is charged {cents} cents of {asked} asked",
                    envelope.order_id
                ));
            }
        }
    }
    Ok(())
}

choreo::choreography! {
    /// Payments, with a bug planted in the card service: payment 17 is charged twice over.
    pub Planted("planted") {
        events: Event / Kind,
        input: Payment / payment_id,
        start: Till, |payment, _| Event::Asked { cents: payment.cents },
        invariant: charged_as_asked,
    }
    services: Service {
        Till: [] -> [Asked],
        Card: [Asked] -> [Charged] => |_, _, event, out| if let Event::Asked { cents } = event.event {
            let bug = if event.order_id.get() == 17 { 2 } else { 1 };
            out.publish(Event::Charged { cents: cents * bug });
        },
        Ledger: [Charged] -> [Paid] => |_, _, _, out| out.publish(Event::Paid),
    }
}

/// 30 payments of 100 cents, one a line.
fn payments() -> String {
    (1..=30)
        .map(|id| format!("{{\"payment_id\": {id}, \"cents\": 100}}\n"))
        .collect()
}

/// Runs the planted choreography's command line on [`payments`] with `args` after the input;
/// the error, if any, and the journal's lines.
fn run_planted(args: &[&str]) -> (Option<choreo::app::Error>, Vec<String>) {
    let (dir, input) = temp_file("payments.jsonl", &payments());
    let journal = dir.path().join("journal.jsonl");
    let (input, journal_arg) = (input.display().to_string(), journal.display().to_string());
    let command = [
        &[
            "planted",
            "run",
            &input,
            "--format",
            "none",
            "--journal",
            &journal_arg,
        ],
        args,
    ]
    .concat();
    let cli = choreo::cli::Cli::try_parse_from(command).expect("a valid command line");
    let result = choreo::app::execute::<Planted>("planted", cli);
    let lines = std::fs::read_to_string(&journal)
        .expect("the journal")
        .lines()
        .map(str::to_owned)
        .collect();
    (result.err(), lines)
}

/// The id of a journal line's event (`17.Charged`).
fn id(line: &str) -> String {
    let event: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    event["id"].as_str().unwrap_or_default().to_owned()
}

/// A planted bug fails the run with exit 1, naming the property, the order and the event that
/// broke it; the run stops there, so the journal ends with that event.
#[test]
fn a_broken_invariant_fails_the_run_at_the_event_that_broke_it() {
    let (err, lines) = run_planted(&[]);
    let err = err.expect("the run fails");
    assert_eq!(err.exit_code(), 1, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("invariant broken at event ")
            && message.contains(
                "(payment 17, Card Charged): the choreography's invariants hold: payment 17 is charged 200 cents of 100 asked"
            ),
        "{message}"
    );
    let last = lines.last().expect("a journal");
    assert_eq!(id(last), "17.Charged", "{last}");
    let seq: serde_json::Value = serde_json::from_str(last).expect("JSON");
    assert!(
        message.contains(&format!("at event {} ", seq["seq"])),
        "{message}\n{last}"
    );
    // Stopped there: the payments after it were not all run.
    assert!(lines.len() < 1 + 30 * 3, "{} lines", lines.len());
}

/// With `run.invariants = "end"` the run goes on to its end and then fails, naming the same
/// event; with `off` it succeeds.
#[test]
fn invariants_checked_at_the_end_let_the_run_finish_and_off_does_not_check() {
    let (err, lines) = run_planted(&["--set", "run.invariants=end"]);
    let message = err.expect("the run fails").to_string();
    assert!(
        message.contains("(payment 17, Card Charged): the choreography's invariants hold"),
        "{message}"
    );
    // Every payment ran: a header, then three events each.
    assert_eq!(lines.len(), 1 + 30 * 3);
    assert_ne!(id(lines.last().expect("lines")), "17.Charged");

    let (err, lines) = run_planted(&["--set", "run.invariants=off"]);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(lines.len(), 1 + 30 * 3);
}

/// A bad value for `run.invariants` is bad input, naming the key.
#[test]
fn an_unknown_invariants_mode_is_refused() {
    let run = choreo([
        "run",
        "orders/seed.json",
        "--set",
        "run.invariants=sometimes",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("run.invariants"), "{}", run.stderr);
}

/// A shop run says what it exercised: on stderr, one line; in the summary JSON and the
/// report, every declared handling and every possible ending, with counts.
#[test]
fn a_run_reports_its_coverage_on_stderr_and_in_the_summary() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let summary = dir.path().join("summary.json");
    let report = dir.path().join("report.html");
    let run = choreo([
        "run",
        &repo_path("orders/swarm.jsonl").display().to_string(),
        "--config",
        &repo_path("config/scenarios/chaos.toml")
            .display()
            .to_string(),
        "--format",
        "none",
        "--summary",
        &summary.display().to_string(),
        "--report",
        &report.display().to_string(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "  covered 19 of 19 handlings, 9 of 10 endings; never: cancelled: payment declined, charge exceeds the credit left\n"
        ),
        "{}",
        run.stderr
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("the summary"))
            .expect("JSON");
    let coverage = &json["coverage"];
    let handlings = coverage["handlings"].as_array().expect("handlings");
    assert_eq!(handlings.len(), 19, "{coverage}");
    assert!(handlings.iter().any(|h| h["service"] == "ShippingService"
        && h["kind"] == "PaymentProcessed"
        && h["events"] == 331));
    let endings = coverage["endings"].as_array().expect("endings");
    assert_eq!(endings.len(), 10, "{coverage}");
    let instances: u64 = endings.iter().filter_map(|e| e["instances"].as_u64()).sum();
    assert_eq!(instances, 1000, "every order ended one way");
    assert_eq!(
        coverage["faults"]["InventoryService poison"], 84,
        "{coverage}"
    );
    assert!(coverage["faults"]["OrderService duplicate"].as_u64() > Some(0));
    let page = std::fs::read_to_string(&report).expect("the report");
    assert!(
        page.contains("<h2>What the run exercised</h2>"),
        "no coverage section"
    );
    assert!(page.contains(
        "<tr class=\"never\"><td>cancelled: payment declined, charge exceeds the credit left</td><td>0</td></tr>"
    ));
    assert!(page.contains("<tr><td>InventoryService poison</td><td>84</td></tr>"));
}

/// With no faults configured, none fired, and the sample order's run covers what one
/// completed order exercises.
#[test]
fn a_run_without_faults_covers_one_path_and_no_fault() {
    let run = choreo(["run", "orders/seed.json", "--format", "none"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("  covered 9 of 19 handlings, 1 of 10 endings; never: OrderService on InventoryUnavailable, OrderService on PaymentDeclined, OrderService on ShippingFailed, OrderService on InventoryReleased and 15 more\n"),
        "{}",
        run.stderr
    );
}
