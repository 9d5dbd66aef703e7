//! The bank transfer saga (`examples/transfer`), written with `choreo::flow`, through the
//! engine and the command line: every branch, the invariant, the check, and what the layer
//! derives.

use std::process::{Command, Output};

use clap::Parser;

use choreo::config::Config;
use choreo::engine::{Choreography, Outcome, Role};

use crate::helpers::{check_every_schedule, repo_path};

#[allow(dead_code)] // Its `main` is the example's.
#[path = "../../examples/transfer/main.rs"]
mod example;

use example::{Event, Kind, Service, Transfer, Transfers};

type Envelope = choreo::engine::Envelope<Transfers>;

fn sample() -> Vec<Transfer> {
    choreo::input::read_order_file(&repo_path("examples/transfer/transfers.jsonl"))
        .expect("the sample transfers are valid")
}

/// Runs the sample transfers with the default accounts: what is printed, and every event.
async fn run_sample() -> (choreo::engine::Summary<Transfers>, String, Vec<Envelope>) {
    crate::helpers::run_in_process(&Config::<Transfers>::default(), sample()).await
}

/// The sample covers every branch: two completed, two rejected (too little money, an unknown
/// account), two cancelled and refunded (a closed account, an unknown one).
#[tokio::test]
async fn the_sample_transfers_take_every_branch() {
    let (summary, printed, events) = run_sample().await;
    assert_eq!(
        [summary.completed, summary.rejected, summary.cancelled],
        [2, 2, 2]
    );
    for line in [
        "DebitService: Debited 5.00 from account 1, 95.00 left\n",
        "DebitService: Cannot debit 9000.00 from account 2: 25.00 available\n",
        "CreditService: Cannot credit account 3: closed or unknown\n",
        "DebitService: Refunded 7.00 to account 1, 94.00 left\n",
        "NotificationService: Told the owner of account 2 that 5.00 arrived\n",
        "TransferService: Transfer 3 cancelled\n",
    ] {
        assert!(printed.contains(line), "{line} in\n{printed}");
    }
    let ending = |id: u64| {
        events
            .iter()
            .find(|e| e.order_id.get() == id && e.is_terminal())
            .map(|e| e.kind())
    };
    assert_eq!(ending(1), Some(Kind::TransferCompleted));
    assert_eq!(ending(2), Some(Kind::TransferRejected));
    assert_eq!(ending(3), Some(Kind::TransferCancelled));
    // Nothing in flight at the end: the invariant holds over the whole run.
    let all: Vec<&Envelope> = events.iter().collect();
    let config = Config::<Transfers>::default();
    assert_eq!(
        Transfers::invariant(&config.choreography, &all, true),
        Ok(())
    );
}

/// Money made out of nothing, a refund on top of a credit, breaks the invariant; money that
/// never arrives breaks it once every transfer has ended.
#[test]
fn the_invariant_catches_money_made_or_lost() {
    let account = "1".parse().expect("an account");
    let event =
        |event| choreo::engine::service::delivered::<Transfers>(1, Service::DebitService, event);
    let debited = event(Event::Debited {
        account,
        amount_cents: 500,
        balance_cents: 0,
    });
    let credited = event(Event::Credited {
        account,
        amount_cents: 500,
    });
    let refunded = event(Event::DebitRefunded {
        account,
        amount_cents: 500,
        balance_cents: 500,
    });
    let bank = Config::<Transfers>::default().choreography;
    assert_eq!(Transfers::invariant(&bank, &[&debited], false), Ok(()));
    assert_eq!(
        Transfers::invariant(&bank, &[&debited], true),
        Err("transfer 1 has 500 cents in flight".into())
    );
    assert_eq!(
        Transfers::invariant(&bank, &[&debited, &credited, &refunded], false),
        Err("transfer 1 has -500 cents in flight".into())
    );
}

/// `transfer check`: every schedule of three transfers (a completion, a rejection, a
/// refund), with duplicates and a crash, keeps the engine's properties and the money; with no
/// memory of finished transfers, a late duplicate is caught.
#[test]
fn every_schedule_of_three_transfers_keeps_every_property() {
    use choreo::check::Verdict;
    let transfers = &sample()[..3];
    let check = |config: &Config<Transfers>| check_every_schedule(config, transfers);
    let checked = check(&Config::default());
    assert!(
        matches!(checked.verdict, Verdict::Holds),
        "{:?}",
        checked.verdict
    );
    assert!(checked.states > 100, "{checked}");
    // Only DebitService's balances are shared: the same endings as with silent deliveries the
    // only reduction, from far fewer states.
    let silent = choreo::check::Faults {
        duplicates: true,
        crashes: 1,
        reduction: choreo::check::Reduction::Silent,
    };
    let limits = choreo::check::Limits {
        max_states: 1_000_000,
        max_memory: 1 << 30,
        time_limit: std::time::Duration::from_secs(120),
        interrupt: Default::default(),
    };
    let unreduced = choreo::check::check(
        &Config::<Transfers>::default(),
        transfers,
        silent,
        &limits,
        &mut |_, _, _| {},
    )
    .expect("check runs");
    assert!(matches!(unreduced.verdict, Verdict::Holds));
    assert_eq!(unreduced.endings, checked.endings);
    assert!(
        checked.states * 10 < unreduced.states,
        "{checked} vs {unreduced}"
    );
    let forgetful =
        Config::<Transfers>::load(&[], &["services.dedup_window=0".into()]).expect("config");
    assert!(!matches!(check(&forgetful).verdict, Verdict::Holds));
}

/// What the layer derives: the most events (every kind the start reaches), the roles from
/// what each event means, and a failed transfer's cause from its first failure.
#[test]
fn the_most_events_roles_and_causes_are_derived() {
    assert_eq!(Transfers::MAX_EVENTS, 10);
    assert_eq!(Transfers::role(Kind::Debited), Role::Forward);
    assert_eq!(Transfers::role(Kind::CreditFailed), Role::Failure);
    assert_eq!(Transfers::role(Kind::DebitRefunded), Role::Compensation);
    assert_eq!(Transfers::role(Kind::TransferCancelled), Role::Closing);
    assert_eq!(
        Transfers::outcome(Kind::TransferRejected),
        Some(Outcome::Rejected)
    );
    let failed = choreo::engine::service::delivered::<Transfers>(
        1,
        Service::CreditService,
        Event::CreditFailed {
            account: "3".parse().expect("an account"),
        },
    );
    let cause = Transfers::cause(&failed).expect("a failure has a cause");
    assert_eq!(
        (cause.slug.as_str(), cause.label.as_str()),
        ("credit-failed", "credit failed")
    );
    assert_eq!(cause.started_by, Some(Service::CreditService));
}

/// Every subcommand works on it, from files: run with a journal, a summary and a report,
/// then replay, trace and diagram from the journal.
#[test]
fn every_subcommand_runs_on_the_transfer() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let transfers = repo_path("examples/transfer/transfers.jsonl")
        .display()
        .to_string();
    let execute = |args: &[&str]| {
        let cli = choreo::cli::Cli::try_parse_from([&["transfer"], args].concat())
            .expect("a valid command line");
        choreo::app::execute::<Transfers>("transfer", cli)
            .unwrap_or_else(|err| panic!("{args:?}: {err}"));
    };
    let (args, [journal, summary, report]) =
        crate::helpers::run_writing_every_file(&transfers, dir.path());
    execute(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let journaled = std::fs::read_to_string(&journal).expect("the journal");
    // Its first line says how to repeat the run; then one line an event.
    assert_eq!(journaled.lines().count(), 1 + 26);
    assert!(journaled.contains(r#""event":"DebitRefunded","account":1,"amount_cents":700"#));
    let summarized: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("the summary"))
            .expect("JSON");
    assert_eq!(summarized["cancelled"], 2, "{summarized}");
    assert!(std::fs::read_to_string(&report)
        .expect("the report")
        .contains("credit failed"));
    execute(&["replay", &journal]);
    execute(&["trace", &journal, "--order", "3"]);
    execute(&["diagram", "topology"]);
    execute(&["diagram", "order", &journal, "--order", "3"]);
}

/// The transfer's binary speaks of transfers: its description, its input and its config in
/// `--help`, `--transfer` beside `--order`, its summary, and a duplicate id in its input.
#[tokio::test]
async fn its_help_summary_and_errors_are_in_its_own_words() {
    use clap::CommandFactory;
    let mut command =
        choreo::cli::in_its_words::<Transfers>(choreo::cli::Cli::command(), "transfer");
    let help = command.render_long_help().to_string();
    assert!(
        help.starts_with("Bank transfers: a debit, then a credit"),
        "{help}"
    );
    assert!(help.contains("Run the transfers in FILE"), "{help}");
    let run = command
        .find_subcommand_mut("run")
        .expect("run")
        .render_long_help()
        .to_string();
    assert!(run.contains(r#"Transfer file: one JSON transfer object, a JSON array of transfers, or JSON Lines (.jsonl), e.g. {"transfer_id": 1, ...}"#), "{run}");
    assert!(
        run.contains("(`transfer config --defaults` prints them)"),
        "{run}"
    );
    assert!(!run.contains("orders") && !run.contains("Order"), "{run}");
    let trace = command
        .find_subcommand_mut("trace")
        .expect("trace")
        .render_long_help()
        .to_string();
    assert!(
        trace.contains("[aliases: --transfer]") || trace.contains("[alias: --transfer]"),
        "{trace}"
    );

    let (summary, _, _) = run_sample().await;
    assert!(
        summary
            .to_string()
            .starts_with("summary: 6 transfers: 2 completed, 2 rejected, 2 cancelled"),
        "{summary}"
    );
    let line = r#"{"transfer_id": 1, "from": 1, "to": 2, "amount_cents": 5}"#;
    let (_dir, path) = crate::helpers::temp_file("twice.jsonl", &format!("{line}\n{line}\n"));
    let err = choreo::input::read_order_file::<Transfer>(&path).expect_err("a duplicate");
    assert!(
        err.to_string()
            .ends_with("2:1: duplicate transfer_id 1 (first on line 1)"),
        "{err}"
    );
}

/// The shop's command line is choreo's, word for word.
#[test]
fn the_shops_help_is_unchanged_by_its_words() {
    use clap::CommandFactory;
    let plain = choreo::cli::Cli::command();
    let worded =
        choreo::cli::in_its_words::<choreo::shop::Shop>(choreo::cli::Cli::command(), "choreo");
    for (mut a, mut b) in plain
        .get_subcommands()
        .cloned()
        .zip(worded.get_subcommands().cloned())
    {
        assert_eq!(
            a.render_long_help().to_string(),
            b.render_long_help().to_string()
        );
    }
}

/// The words of the shop that stay in every binary: the names the commands keep (`--order`,
/// `diagram order`), the order of deliveries `check` explores, the summary's JSON keys, the
/// report's element ids, and CSS.
const KEPT: [&str; 7] = [
    "--order",
    "diagram order",
    "delivery order",
    "\"orders\":",
    "\"orders_per_second\":",
    "id=\"summary-orders\"",
    "paint-order",
];

/// The shop's word for an instance in `text`, as a whole word (`order`, `orders`, `order_id`,
/// `Order`...), outside what [`KEPT`] keeps; each with the line it is on.
fn shop_words(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| {
            let mut line: String = (*line).to_owned();
            for kept in KEPT {
                line = line.replace(kept, "");
            }
            line.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(|word| word.to_ascii_lowercase().starts_with("order"))
        })
        .map(|line| line.chars().take(200).collect())
        .collect()
}

/// No word of the shop in what the transfer's binary prints or writes: every subcommand, its
/// help, its files (journal, summary, report) and its errors speak of transfers.
#[test]
fn no_word_of_the_shop_in_anything_the_transfer_prints_or_writes() {
    let Some(bin) = crate::helpers::example_binary("transfer", "skipped") else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let file = repo_path("examples/transfer/transfers.jsonl");
    let sample = std::fs::read_to_string(&file).expect("the sample");
    let first_three: String = sample
        .lines()
        .take(3)
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(path("three.jsonl"), first_three).expect("written");
    let first = sample.lines().next().expect("a transfer");
    std::fs::write(path("twice.jsonl"), format!("{first}\n{first}\n")).expect("written");
    let file = file.display().to_string();
    let (journal, summary, report) = (path("j.jsonl"), path("s.json"), path("r.html"));
    let (three, twice) = (path("three.jsonl"), path("twice.jsonl"));
    let mut printed = String::new();
    let commands: Vec<Vec<&str>> = vec![
        vec!["run", &file],
        vec!["run", &file, "--format", "json"],
        vec!["run", &file, "-q", "--journal", &journal],
        vec!["run", &file, "--summary", &summary, "--report", &report],
        vec!["replay", &journal],
        vec!["trace", &journal, "--transfer", "3"],
        vec!["trace", &journal, "--stuck"],
        vec!["diagram", "topology"],
        vec!["diagram", "order", &journal, "--transfer", "3"],
        vec!["check", &file],
        vec!["check", &three],
        vec!["run", &twice],
        vec!["replay", &file],
        vec!["trace", &journal, "--transfer", "99"],
        vec!["trace", &journal, "--transfer", "0"],
        vec!["diagram", "order", &journal, "--transfer", "-1"],
        vec!["--help"],
        vec!["run", "--help"],
        vec!["replay", "--help"],
        vec!["trace", "--help"],
        vec!["diagram", "order", "--help"],
        vec!["check", "--help"],
        vec!["serve", "--help"],
        vec!["config", "--help"],
    ];
    for args in commands {
        let Output { stdout, stderr, .. } = Command::new(&bin)
            .args(&args)
            .current_dir(repo_path(""))
            .env_remove("RUST_LOG")
            .output()
            .expect("the transfer binary runs");
        printed += &format!("$ transfer {}\n", args.join(" "));
        printed += &String::from_utf8_lossy(&stdout);
        printed += &String::from_utf8_lossy(&stderr);
    }
    for written in [&journal, &summary, &report] {
        printed += &std::fs::read_to_string(written).expect("written");
    }
    // What was run, and what it wrote: a transfer file read, events, errors, help.
    for shown in [
        "\"transfer_id\":3",
        "summary: 6 transfers",
        "checked 6 transfers",
        "duplicate transfer_id 1",
        "transfer 99 is not in the journal",
        "Transfers finished over time",
    ] {
        assert!(printed.contains(shown), "{shown:?} missing");
    }
    let found = shop_words(&printed);
    assert!(found.is_empty(), "the shop's words:\n{}", found.join("\n"));
}

/// A journal written before instances had their own key (`order_id`) still reads: the same
/// events as one written today, under `transfer_id`.
#[tokio::test]
async fn a_journal_with_order_id_keys_still_reads() {
    let (_, _, events) = run_sample().await;
    let today: String = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("JSON") + "\n")
        .collect();
    assert!(today.contains(r#""transfer_id":1,"#), "{today}");
    let before = today.replace(r#""transfer_id":"#, r#""order_id":"#);
    for (name, text) in [("today.jsonl", &today), ("before.jsonl", &before)] {
        let (_dir, path) = crate::helpers::temp_file(name, text);
        let read = choreo::view::journal::read::<Transfers>(&path).expect("a journal");
        assert_eq!(read, events, "{name}");
    }
}

/// A bad id in a transfer file names the transfer's own id field, not the shop's `order_id`.
#[test]
fn a_bad_transfer_id_names_its_own_field() {
    let line = r#"{"transfer_id": "x", "from": 1, "to": 2, "amount_cents": 5}"#;
    let (_dir, path) = crate::helpers::temp_file("bad.jsonl", &format!("{line}\n"));
    let err = choreo::input::read_order_file::<Transfer>(&path).expect_err("a string id");
    assert!(
        err.to_string().ends_with(
            r#"1:19: invalid type: string "x", expected transfer_id as a whole number from 1 to 9007199254740991"#
        ),
        "{err}"
    );
}
