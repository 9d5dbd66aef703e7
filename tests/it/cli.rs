//! Tests that run the built binary.

use std::path::Path;
use std::thread;

use serde_json::Value;

use crate::helpers::{
    choreo, choreo_in, choreo_with, order_json, reference_output, repo_path, run_order_file,
    temp_file, Run,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Where the order number stands in a narration line: the digits after "order " or "Order ".
fn order_number_span(line: &str) -> Option<(usize, usize)> {
    let lower = line.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("order ") {
        let start = from + at + "order ".len();
        let digits = line[start..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            return Some((start, start + digits));
        }
        from = start;
    }
    None
}

/// The reference's eight lines with its order number 1 replaced by `order_id`.
fn reference_lines_for(order_id: u64) -> Vec<String> {
    let reference = reference_output();
    let lines: Vec<&str> = reference.lines().collect();
    assert_eq!(
        lines.len(),
        8,
        "the reference narrates one order in 8 lines"
    );
    lines
        .iter()
        .map(|line| {
            let (start, end) = order_number_span(line)
                .unwrap_or_else(|| panic!("reference line {line:?} names its order"));
            assert_eq!(
                &line[start..end],
                "1",
                "the reference's order is 1: {line:?}"
            );
            format!("{}{order_id}{}", &line[..start], &line[end..])
        })
        .collect()
}

/// The lines of `stdout` that narrate order `order_id`, in output order.
fn lines_of_order(stdout: &str, order_id: u64) -> Vec<String> {
    let number = order_id.to_string();
    stdout
        .lines()
        .filter(|line| order_number_span(line).is_some_and(|(s, e)| line[s..e] == number))
        .map(str::to_owned)
        .collect()
}

/// Asserts the run was refused as bad input the way a user should see it (exit 2, nothing on
/// stdout, exactly one `choreo: error: ` line on stderr, no panic), and returns that line
/// without the prefix.
fn refused(run: &Run) -> &str {
    assert_eq!(
        run.code, 2,
        "exit code 2 for bad input; stderr: {}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "nothing on stdout when refused");
    let lower = run.stderr.to_lowercase();
    assert!(
        !lower.contains("panicked") && !lower.contains("backtrace"),
        "no panic: {}",
        run.stderr
    );
    let line = run
        .stderr
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("stderr ends with a newline: {:?}", run.stderr));
    assert!(
        !line.contains('\n'),
        "exactly one line on stderr: {:?}",
        run.stderr
    );
    line.strip_prefix("choreo: error: ")
        .unwrap_or_else(|| panic!("stderr starts with `choreo: error: `: {:?}", run.stderr))
}

/// Asserts a JSON Lines run was stopped at an invalid line (exit 2, no panic, the error as the
/// last line on stderr, after the summary) and returns that error without the prefix.
fn stopped(run: &Run) -> &str {
    assert_eq!(
        run.code, 2,
        "exit code 2 for a bad line; stderr: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "no panic: {}", run.stderr);
    let last = run.stderr.lines().last().expect("stderr has lines");
    last.strip_prefix("choreo: error: ").unwrap_or_else(|| {
        panic!(
            "last stderr line starts with `choreo: error: `: {:?}",
            run.stderr
        )
    })
}

/// 1-based line, first column and last column of `token`, which stands right after `before`
/// (the pair must occur exactly once in `text`).
fn span(text: &str, before: &str, token: &str) -> (usize, usize, usize) {
    let needle = format!("{before}{token}");
    assert_eq!(
        text.matches(&needle).count(),
        1,
        "{needle:?} occurs once in {text:?}"
    );
    let start = text.find(&needle).expect("found") + before.len();
    let line = text[..start].matches('\n').count() + 1;
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let first = start - line_start + 1;
    (line, first, first + token.len() - 1)
}

/// Splits `FILE:LINE:COLUMN: MESSAGE` for a known `file`.
fn located<'a>(error: &'a str, file: &str) -> (usize, usize, &'a str) {
    let rest = error
        .strip_prefix(file)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{error:?} starts with `{file}:`"));
    let mut parts = rest.splitn(3, ':');
    let mut number = |what: &str| -> usize {
        parts
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{error:?} has a {what} number after the file"))
    };
    let line = number("line");
    let column = number("column");
    let message = parts
        .next()
        .and_then(|m| m.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{error:?} has `: MESSAGE` after the position"));
    (line, column, message)
}

/// Runs the order file `name` holding `text` and asserts it is refused with `message` at the
/// line of `token` (found right after `before`) and a column inside `token`.
fn assert_refused_at(name: &str, text: &str, before: &str, token: &str, message: &str) {
    let run = run_order_file(name, text);
    let error = refused(&run);
    let (line, column, actual) = located(error, name);
    let (want_line, first, last) = span(text, before, token);
    assert_eq!(line, want_line, "line of {token:?} in {error:?}");
    assert!(
        (first..=last).contains(&column),
        "column {column} points into {token:?} (columns {first}..={last}): {error:?}"
    );
    assert_eq!(actual, message, "message of {error:?}");
}

// ---------------------------------------------------------------------------------------------
// Successful runs
// ---------------------------------------------------------------------------------------------

/// The sample order prints the reference output byte for byte, and nothing else.
#[test]
fn the_seed_order_prints_exactly_the_reference_output() {
    let run = choreo(["run", "orders/seed.json"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, reference_output());
    assert!(
        !run.stderr.contains("error"),
        "no error on stderr: {}",
        run.stderr
    );
}

/// Two hundred runs of the seed on the real clock (`--clock real`, several runs at once) all
/// print the reference output: the output never depends on task scheduling.
#[test]
fn two_hundred_seed_runs_all_print_the_reference_output() {
    const THREADS: usize = 4;
    const RUNS_PER_THREAD: usize = 50;
    let reference = reference_output();
    let runs: Vec<Run> = thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    (0..RUNS_PER_THREAD)
                        .map(|_| choreo(["run", "orders/seed.json", "--clock", "real"]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("worker thread"))
            .collect()
    });
    assert_eq!(runs.len(), THREADS * RUNS_PER_THREAD);
    let differing: Vec<(usize, &Run)> = runs
        .iter()
        .enumerate()
        .filter(|(_, run)| run.code != 0 || run.stdout != reference)
        .collect();
    assert!(
        differing.is_empty(),
        "{} of {} runs differ from the reference; first: {:?}",
        differing.len(),
        runs.len(),
        differing.first()
    );
}

/// Run from an unrelated directory, choreo uses its built-in defaults: it needs no config/
/// there, and ignores a (broken) config/default.toml it finds there.
#[test]
fn running_from_another_directory_uses_the_built_in_defaults() {
    let seed = repo_path("orders/seed.json");
    let elsewhere = tempfile::tempdir().expect("temp dir");

    let run = choreo_in(elsewhere.path(), [Path::new("run"), seed.as_path()]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, reference_output());

    std::fs::create_dir(elsewhere.path().join("config")).expect("mkdir config");
    std::fs::write(
        elsewhere.path().join("config/default.toml"),
        "[bus]\ncapacity = 0\n",
    )
    .expect("write decoy config");
    let run = choreo_in(elsewhere.path(), [Path::new("run"), seed.as_path()]);
    assert_eq!(
        run.code, 0,
        "a config/ in the working directory is not read: {}",
        run.stderr
    );
    assert_eq!(run.stdout, reference_output());
}

/// Every order of a JSON array file gets its own eight reference lines, in reference order.
#[test]
fn each_order_of_an_array_file_prints_its_own_reference_lines() {
    let ids = [3, 1, 42, 7, 10];
    let text = format!(
        "[\n{}\n]\n",
        ids.iter()
            .map(|&id| format!("  {}", order_json(id, 101, 1 + id % 3)))
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let (_dir, path) = temp_file("orders.json", &text);
    let run = choreo(["run".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 8 * ids.len());
    for id in ids {
        assert_eq!(
            lines_of_order(&run.stdout, id),
            reference_lines_for(id),
            "order {id}"
        );
    }
}

/// Every order of a JSON Lines file (blank lines allowed) gets its own eight reference lines,
/// in reference order.
#[test]
fn each_order_of_a_json_lines_file_prints_its_own_reference_lines() {
    let ids = [5, 2, 11, 1];
    let mut text = String::new();
    for (i, &id) in ids.iter().enumerate() {
        if i == 2 {
            text.push('\n');
        }
        text.push_str(&order_json(id, 101, 2));
        text.push('\n');
    }
    let (_dir, path) = temp_file("orders.jsonl", &text);
    let run = choreo(["run".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 8 * ids.len());
    for id in ids {
        assert_eq!(
            lines_of_order(&run.stdout, id),
            reference_lines_for(id),
            "order {id}"
        );
    }
}

/// `--format json` prints one envelope per event: the four events in flow order, numbered
/// 0..4 on the bus, each caused by the one before.
#[test]
fn json_format_prints_the_seed_events_as_a_causal_chain() {
    let run = choreo(["run", "orders/seed.json", "--format", "json"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    for event in &events {
        for key in ["seq", "id", "event", "order_id", "service", "cause"] {
            assert!(event.get(key).is_some(), "`{key}` in {event}");
        }
        assert_eq!(event["order_id"], 1, "{event}");
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().expect("event is a string"))
        .collect();
    assert_eq!(
        kinds,
        [
            "OrderCreated",
            "InventoryChecked",
            "PaymentProcessed",
            "ShippingArranged"
        ]
    );
    let services: Vec<&str> = events
        .iter()
        .map(|e| e["service"].as_str().expect("service is a string"))
        .collect();
    assert_eq!(
        services,
        [
            "OrderService",
            "InventoryService",
            "PaymentService",
            "ShippingService"
        ]
    );
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq is a whole number"))
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
    assert!(events[0]["cause"].is_null(), "first event has no cause");
    for pair in events.windows(2) {
        assert!(pair[1]["id"].is_string(), "{}", pair[1]);
        assert_ne!(pair[1]["id"], pair[0]["id"], "ids are unique");
        assert_eq!(
            pair[1]["cause"], pair[0]["id"],
            "caused by the event before"
        );
    }
}

/// A 16-slot bus still brings all 5,000 orders of a JSON Lines file to completion, each with
/// its eight lines: admission waits for room instead of losing events or stalling.
#[test]
fn a_small_bus_completes_five_thousand_orders() {
    const ORDERS: usize = 5_000;
    // A stall is a race, so the run is repeated to make one likely to show.
    const RUNS: usize = 3;
    let text: String = (1..=ORDERS as u64)
        .map(|id| order_json(id, 101, 1) + "\n")
        .collect();
    let (_dir, path) = temp_file("many.jsonl", &text);
    for attempt in 1..=RUNS {
        // A stall would otherwise only end at the default 30s time limit; a healthy run takes
        // well under a second.
        let run = choreo([
            "run".as_ref(),
            path.as_os_str(),
            // The real clock, where a stall would be a race with the input's own thread.
            "--clock".as_ref(),
            "real".as_ref(),
            "--set".as_ref(),
            "bus.capacity=16".as_ref(),
            "--set".as_ref(),
            "run.time_limit=10s".as_ref(),
            // Enough stock that no order is rejected: this is about the bus, not the catalog.
            "--set".as_ref(),
            "products.101.stock=5000".as_ref(),
        ]);
        assert_eq!(run.code, 0, "run {attempt}: stderr: {}", run.stderr);
        assert_eq!(run.stdout.lines().count(), 8 * ORDERS, "run {attempt}");
        let mut lines_per_order = vec![0_usize; ORDERS + 1];
        for line in run.stdout.lines() {
            let (start, end) = order_number_span(line)
                .unwrap_or_else(|| panic!("run {attempt}: {line:?} names its order"));
            let id: usize = line[start..end].parse().expect("order number");
            lines_per_order[id] += 1;
        }
        let incomplete = (1..=ORDERS).filter(|&id| lines_per_order[id] != 8).count();
        assert_eq!(
            incomplete, 0,
            "run {attempt}: orders without exactly 8 lines"
        );
    }
}

/// With `-vv` the logs go to stderr, and stdout is still exactly the reference output.
#[test]
fn verbose_logs_go_to_stderr_not_stdout() {
    let run = choreo(["-vv", "run", "orders/seed.json"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, reference_output());
    assert!(
        run.stderr.contains("orders read"),
        "logs on stderr: {}",
        run.stderr
    );
}

/// Each `-v` adds something on a normal run: `-v` what the run is (its file, clock, seed,
/// config) and how it ended, `-vv` its steps (the bus, each service started, the shutdown),
/// `-vvv` every event.
#[test]
fn each_verbosity_adds_something_on_a_normal_run() {
    let logs = |flag: &str| {
        let run = choreo(["run", "orders/seed.json", "-q", "--format", "none", flag]);
        assert_eq!(run.code, 0, "stderr: {}", run.stderr);
        run.stderr
    };
    let (info, debug, trace) = (logs("-v"), logs("-vv"), logs("-vvv"));
    assert!(
        info.contains("INFO") && info.contains("seed=1") && info.contains("run ended"),
        "{info}"
    );
    assert!(!info.contains("DEBUG"), "{info}");
    assert!(
        debug.contains("service started") && debug.contains("every service stopped"),
        "{debug}"
    );
    assert!(!debug.contains("TRACE"), "{debug}");
    assert!(
        trace.contains("TRACE") && trace.contains("handled"),
        "{trace}"
    );
    assert!(info.lines().count() < debug.lines().count());
    assert!(debug.lines().count() < trace.lines().count());
}

/// With `RUST_LOG=debug` the logs go to stderr, and stdout is still exactly the reference
/// output.
#[test]
fn rust_log_debug_logs_go_to_stderr_not_stdout() {
    let run = choreo_with(
        repo_path("").as_path(),
        ["run", "orders/seed.json"],
        &[("RUST_LOG", "debug")],
    );
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, reference_output());
    assert!(
        run.stderr.contains("orders read"),
        "logs on stderr: {}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Bad order files: exit 2, one line naming the file (and position), nothing run
// ---------------------------------------------------------------------------------------------

/// A missing order file is refused with its path and the reason it cannot be read.
#[test]
fn a_missing_order_file_exits_2_naming_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("no-such-orders.json");
    let run = choreo(["run".as_ref(), path.as_os_str()]);
    let error = refused(&run);
    let prefix = format!("{}: cannot read order file: ", path.display());
    assert!(
        error.starts_with(&prefix),
        "{error:?} starts with {prefix:?}"
    );
}

/// A directory given as the order file is refused as a directory.
#[test]
fn a_directory_as_order_file_exits_2_saying_it_is_a_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = choreo(["run".as_ref(), dir.path().as_os_str()]);
    assert_eq!(
        refused(&run),
        format!(
            "{}: is a directory, expected an order file",
            dir.path().display()
        )
    );
}

/// An empty order file is refused as empty, saying what was expected.
#[test]
fn an_empty_file_exits_2_saying_it_is_empty() {
    let run = run_order_file("empty.json", "");
    assert_eq!(
        refused(&run),
        "empty.json: the file is empty, expected an order object, an array of orders, or JSON Lines"
    );
}

/// An order file holding only whitespace is refused as empty.
#[test]
fn a_whitespace_only_file_exits_2_saying_it_is_empty() {
    let run = run_order_file("blank.json", " \n\t\n  ");
    assert_eq!(
        refused(&run),
        "blank.json: the file is empty, expected an order object, an array of orders, or JSON Lines"
    );
}

/// A JSON Lines file with only blank lines is refused as empty.
#[test]
fn a_blank_json_lines_file_exits_2_saying_it_is_empty() {
    let run = run_order_file("blank.jsonl", "\n   \n\n");
    assert_eq!(
        refused(&run),
        "blank.jsonl: the file is empty, expected an order object, an array of orders, or JSON Lines"
    );
}

/// Invalid JSON is refused at the line and column of the stray character.
#[test]
fn invalid_json_exits_2_naming_line_and_column() {
    let text = "[\n  {\"order_id\": 1,, \"product_id\": 101, \"quantity\": 2}\n]\n";
    let run = run_order_file("broken.json", text);
    let (line, first, _) = span(text, "\"order_id\": 1,", ",");
    assert_eq!((line, first), (2, 18));
    assert_eq!(
        refused(&run),
        "broken.json:2:18: not valid JSON: key must be a string"
    );
}

/// A quantity written as a string is refused at that value, naming the expected type.
#[test]
fn a_string_quantity_exits_2_naming_the_expected_type() {
    assert_refused_at(
        "string.json",
        r#"{"order_id": 1, "product_id": 101, "quantity": "2"}"#,
        r#""quantity": "#,
        r#""2""#,
        r#"invalid type: string "2", expected quantity as a whole number from 1 to 1000000"#,
    );
}

/// An order without a quantity is refused at the end of that order, naming the field.
#[test]
fn a_missing_field_exits_2_naming_the_field() {
    let text = "{\"order_id\": 1,\n \"product_id\": 101}";
    let run = run_order_file("missing.json", text);
    let (line, column, _) = span(text, "101", "}");
    assert_eq!((line, column), (2, 19));
    assert_eq!(refused(&run), "missing.json:2:19: missing field `quantity`");
}

/// An unknown field is refused at that field, naming it and the fields that are allowed.
#[test]
fn an_unknown_field_exits_2_naming_the_field() {
    let text = r#"{"order_id": 1, "product_id": 101, "quantity": 2, "qty": 3}"#;
    let run = run_order_file("unknown.json", text);
    let error = refused(&run);
    let (line, column, message) = located(error, "unknown.json");
    let (want_line, first, last) = span(text, ", ", r#""qty""#);
    assert_eq!(line, want_line);
    assert!((first..=last).contains(&column), "{error:?}");
    assert!(
        message.starts_with(
            "unknown field `qty`, expected one of `order_id`, `product_id`, `quantity`"
        ),
        "{error:?}"
    );
}

/// A zero quantity is refused at the exact line and column of the 0.
#[test]
fn a_zero_quantity_exits_2_naming_line_and_column() {
    let text = "{\"order_id\": 1,\n \"product_id\": 101, \"quantity\": 0}";
    let run = run_order_file("zero.json", text);
    let (line, column, _) = span(text, "\"quantity\": ", "0");
    assert_eq!((line, column), (2, 33));
    assert_eq!(
        refused(&run),
        "zero.json:2:33: quantity must be a whole number from 1 to 1000000, got 0"
    );
}

/// A negative quantity is refused at that value, with the allowed range.
#[test]
fn a_negative_quantity_exits_2_with_the_allowed_range() {
    assert_refused_at(
        "negative.json",
        r#"{"order_id": 1, "product_id": 101, "quantity": -2}"#,
        r#""quantity": "#,
        "-2",
        "quantity must be a whole number from 1 to 1000000, got -2",
    );
}

/// A quantity one above the maximum is refused at that value, with the allowed range.
#[test]
fn a_quantity_above_one_million_exits_2_with_the_allowed_range() {
    assert_refused_at(
        "huge.json",
        r#"{"order_id": 1, "product_id": 101, "quantity": 1000001}"#,
        r#""quantity": "#,
        "1000001",
        "quantity must be a whole number from 1 to 1000000, got 1000001",
    );
}

/// Order id 0 is refused at the exact column of the 0.
#[test]
fn order_id_zero_exits_2_naming_line_and_column() {
    let text = r#"{"order_id": 0, "product_id": 101, "quantity": 2}"#;
    let run = run_order_file("id0.json", text);
    assert_eq!(span(text, r#""order_id": "#, "0"), (1, 14, 14));
    assert_eq!(
        refused(&run),
        "id0.json:1:14: order_id must be a whole number from 1 to 9007199254740991, got 0"
    );
}

/// A negative order id is refused at that value, with the allowed range.
#[test]
fn a_negative_order_id_exits_2_with_the_allowed_range() {
    assert_refused_at(
        "negid.json",
        r#"{"order_id": -5, "product_id": 101, "quantity": 2}"#,
        r#""order_id": "#,
        "-5",
        "order_id must be a whole number from 1 to 9007199254740991, got -5",
    );
}

/// Order id 2^53, one past the largest id a double holds exactly, is refused.
#[test]
fn order_id_two_to_the_53_exits_2_as_out_of_range() {
    assert_refused_at(
        "bigid.json",
        r#"{"order_id": 9007199254740992, "product_id": 101, "quantity": 2}"#,
        r#""order_id": "#,
        "9007199254740992",
        "order_id must be a whole number from 1 to 9007199254740991, got 9007199254740992",
    );
}

/// A repeated order id in an array is refused at the repeating element, naming both elements.
#[test]
fn a_duplicate_order_id_in_an_array_exits_2_naming_both_elements() {
    let second = order_json(1, 102, 3);
    let text = format!("[\n  {},\n  {second}\n]\n", order_json(1, 101, 2));
    assert_refused_at(
        "dup.json",
        &text,
        "",
        &second,
        "duplicate order_id 1 (element 2 repeats element 1)",
    );
}

/// A repeated order id in a JSON Lines file is refused at the start of the repeating line,
/// naming the line of the first.
#[test]
fn a_duplicate_order_id_in_json_lines_exits_2_naming_both_lines() {
    let text = format!(
        "{}\n{}\n\n{}\n",
        order_json(5, 101, 1),
        order_json(6, 101, 1),
        order_json(5, 102, 2)
    );
    let run = run_order_file("dup.jsonl", &text);
    assert_eq!(
        stopped(&run),
        "dup.jsonl:4:1: duplicate order_id 5 (first on line 1)"
    );
    // Streamed input stops at the bad line; the orders read before it still finish.
    assert!(run.stdout.contains("Shipping arranged for order 5\n"));
    assert!(run.stdout.contains("Shipping arranged for order 6\n"));
}

/// A bad order on a later line of a JSON Lines file stops the run there, named by its file
/// line; the order before it still finishes.
#[test]
fn a_bad_json_lines_order_exits_2_naming_its_file_line() {
    let text = format!("{}\n\n{}\n", order_json(1, 101, 1), order_json(2, 101, 0));
    let run = run_order_file("bad.jsonl", &text);
    let (line, column, _) = span(&text, "\"quantity\": ", "0");
    assert_eq!((line, column), (3, 48));
    assert_eq!(
        stopped(&run),
        "bad.jsonl:3:48: quantity must be a whole number from 1 to 1000000, got 0"
    );
    assert!(run.stdout.ends_with("Shipping arranged for order 1\n"));
    assert!(!run.stdout.contains("order 2"));
}

/// A top-level scalar is refused where it starts, saying what the file should hold.
#[test]
fn a_top_level_scalar_exits_2_where_it_starts() {
    let run = run_order_file("scalar.json", "\n  42\n");
    assert_eq!(
        refused(&run),
        "scalar.json:2:3: expected an order object `{...}` or an array of orders `[...]`"
    );
}

// ---------------------------------------------------------------------------------------------
// Config and usage errors
// ---------------------------------------------------------------------------------------------

/// A misspelt `--set` key is refused, naming the key and the argument it came from.
#[test]
fn an_unknown_set_key_exits_2_naming_the_key() {
    let run = choreo(["run", "orders/seed.json", "--set", "bus.capcity=16"]);
    let error = refused(&run);
    assert!(
        error.starts_with(
            "config key `bus.capcity` (--set bus.capcity=16): unknown field `capcity`"
        ),
        "{error:?}"
    );
}

/// A zero bus capacity is refused, naming the key, the argument and the allowed range.
#[test]
fn a_zero_bus_capacity_exits_2_naming_the_key() {
    let run = choreo(["run", "orders/seed.json", "--set", "bus.capacity=0"]);
    let error = refused(&run);
    // The lower bound depends on the flow (the most events one order can cause), so only its
    // presence is checked.
    assert!(
        error.starts_with(
            "config key `bus.capacity` (--set bus.capacity=0): capacity (at least the most events one order can cause) must be a whole number from "
        ) && error.ends_with(" to 1048576, got 0"),
        "{error:?}"
    );
}

/// A `--set` without `=` is refused with an example of the right form.
#[test]
fn a_set_without_equals_exits_2_showing_the_form() {
    let run = choreo(["run", "orders/seed.json", "--set", "nonsense"]);
    assert_eq!(
        refused(&run),
        "--set nonsense: expected KEY=VALUE, e.g. --set bus.capacity=16"
    );
}

/// A `--config` file that does not exist is refused, naming its path.
#[test]
fn a_missing_config_file_exits_2_naming_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("no-such.toml");
    let run = choreo([
        "run".as_ref(),
        "orders/seed.json".as_ref(),
        "--config".as_ref(),
        path.as_os_str(),
    ]);
    let error = refused(&run);
    let prefix = format!("{}: cannot read config file: ", path.display());
    assert!(
        error.starts_with(&prefix),
        "{error:?} starts with {prefix:?}"
    );
}

/// A `--config` file with a misspelt key is refused, naming the key and the file.
#[test]
fn an_unknown_key_in_a_config_file_exits_2_naming_key_and_file() {
    let (_dir, path) = temp_file("choreo.toml", "[bus]\ncapcity = 16\n");
    let run = choreo([
        "run".as_ref(),
        "orders/seed.json".as_ref(),
        "--config".as_ref(),
        path.as_os_str(),
    ]);
    let error = refused(&run);
    let prefix = format!(
        "config key `bus.capcity` ({}): unknown field `capcity`",
        path.display()
    );
    assert!(
        error.starts_with(&prefix),
        "{error:?} starts with {prefix:?}"
    );
}

/// An unknown flag is a usage error: exit 2, the flag named on stderr, nothing on stdout.
#[test]
fn an_unknown_flag_exits_2_naming_the_flag() {
    let run = choreo(["run", "orders/seed.json", "--frobnicate"]);
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("'--frobnicate'"), "{}", run.stderr);
}

/// `choreo run` without FILE is a usage error: exit 2, FILE named on stderr, nothing on stdout.
#[test]
fn a_missing_file_argument_exits_2_naming_file() {
    let run = choreo(["run"]);
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("<FILE>"), "{}", run.stderr);
}

/// `choreo config` prints the effective config, every key, as TOML; given back as the only
/// `--config`, it prints the same again.
#[test]
fn the_effective_config_prints_as_toml_and_reads_back_the_same() {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = repo_path("config/scenarios/chaos.toml");
    let first = choreo_in(
        dir.path(),
        [
            "config".as_ref(),
            "--config".as_ref(),
            scenario.as_os_str(),
            "--set".as_ref(),
            "bus.capacity=64".as_ref(),
        ],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let table: toml::Table = first.stdout.parse().expect("TOML");
    assert_eq!(
        table["bus"]["capacity"].as_integer(),
        Some(64),
        "--set applied"
    );
    assert_eq!(
        table["run"]["time_limit"].as_str(),
        Some("1h"),
        "the file applied"
    );
    assert!(
        table["services"].get("dedup_window").is_some(),
        "the defaults too"
    );
    std::fs::write(dir.path().join("effective.toml"), &first.stdout).expect("write");
    let again = choreo_in(dir.path(), ["config", "--config", "effective.toml"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, first.stdout);
}

/// `choreo config --defaults` prints the built-in defaults as written, comments and all; a
/// bad key in a layer is refused as `run` refuses it.
#[test]
fn the_defaults_print_with_their_comments_and_a_bad_key_is_refused() {
    let defaults = choreo(["config", "--defaults"]);
    assert_eq!(defaults.code, 0, "{}", defaults.stderr);
    assert!(defaults.stdout.contains("# Slots in the broadcast channel"));
    assert!(
        defaults.stdout.contains("crash_after_publish"),
        "every setting"
    );
    let table: toml::Table = defaults.stdout.parse().expect("TOML");
    assert!(table.contains_key("simulation"));
    let bad = choreo(["config", "--set", "bus.capcity=3"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("bus.capcity"), "{}", bad.stderr);
}

/// A run's summary says how to repeat it: choreo's version, the clock, the seed, and the
/// effective config, which, given back as the only `--config` (no `--seed`), repeats the run
/// byte for byte.
#[test]
fn a_summary_records_what_repeats_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mixed = repo_path("orders/mixed.jsonl");
    let scenario = repo_path("config/scenarios/chaos.toml");
    let first = choreo_in(
        dir.path(),
        [
            "run".as_ref(),
            mixed.as_os_str(),
            "--config".as_ref(),
            scenario.as_os_str(),
            "--seed".as_ref(),
            "7".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            "--summary".as_ref(),
            "s.json".as_ref(),
        ],
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).expect("summary"))
            .expect("summary JSON");
    let repeat = &summary["repeat"];
    assert_eq!(repeat["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(repeat["clock"], "virtual");
    assert_eq!(repeat["seed"], 7);
    assert_eq!(repeat["config"]["simulation"]["seed"], 7);
    let config: toml::Table = serde_json::from_value(repeat["config"].clone()).expect("a table");
    std::fs::write(
        dir.path().join("repeat.toml"),
        toml::to_string(&config).expect("TOML"),
    )
    .expect("write");
    let again = choreo_in(
        dir.path(),
        [
            "run".as_ref(),
            mixed.as_os_str(),
            "--config".as_ref(),
            "repeat.toml".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
        ],
    );
    assert_eq!(again.code, first.code, "{}", again.stderr);
    assert!(!first.stdout.is_empty());
    assert_eq!(again.stdout, first.stdout, "the same run");
}

/// Shell completions and a man page come from the same definitions as `--help`, which lists
/// the exit codes.
#[test]
fn completions_a_man_page_and_exit_codes_in_help() {
    let help = choreo(["--help"]);
    assert_eq!(help.code, 0, "{}", help.stderr);
    for code in ["0 ", "1 ", "2 ", "130 "] {
        assert!(
            help.stdout.contains(&format!("\n  {code}")),
            "{}",
            help.stdout
        );
    }
    let bash = choreo(["completions", "bash"]);
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    assert!(bash.stdout.contains("_choreo()"), "{}", bash.stdout);
    assert!(
        bash.stdout.contains("--skip-invalid"),
        "run's flags are completed"
    );
    let zsh = choreo(["completions", "zsh"]);
    assert!(zsh.stdout.starts_with("#compdef choreo"), "{}", zsh.stdout);
    let man = choreo(["man"]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(man.stdout.contains(".TH choreo 1"), "{}", man.stdout);
    assert!(
        man.stdout.contains("Exit codes"),
        "the man page has them too"
    );
    let unknown = choreo(["completions", "tcsh"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
}
