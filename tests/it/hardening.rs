//! Odd inputs, configs, outputs and signals: no silent loss, no panic, no hang.

use std::fs::File;
use std::process::{Command, Stdio};

use crate::helpers::repo_path;

/// Logging to a stderr that cannot be written (here: a full device) neither panics nor
/// fails the run: the orders run, the summary is written, the exit code is 0.
#[test]
fn verbose_logging_to_an_unwritable_stderr_does_not_take_the_run_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = dir.path().join("summary.json");
    let status = Command::new(env!("CARGO_BIN_EXE_choreo"))
        .args(["run", "-vvv", "--format", "none", "--summary"])
        .arg(&summary)
        .arg(repo_path("orders/mixed.jsonl"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(File::create("/dev/full").expect("/dev/full"))
        .status()
        .expect("run choreo");
    assert_eq!(status.code(), Some(0));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary written"))
            .expect("summary JSON");
    assert_eq!(written["orders"], 10);
}

/// Revenue past what 64 bits hold is summed exactly, never wrapped: 20,000 of the largest
/// charges (a million units at the highest price) come to 2 x 10^19 cents.
#[tokio::test(start_paused = true)]
async fn revenue_beyond_64_bits_is_exact() {
    let config = crate::helpers::Config::load(
        &[],
        &[
            "products.101.price_cents=1000000000".into(),
            "products.101.stock=100000000000".into(),
            // TOML integers stop at i64::MAX: three customers hold the charges between them.
            format!("customers.1.credit_limit_cents={}", i64::MAX),
            format!(
                r#"customers.2={{ name = "b", credit_limit_cents = {} }}"#,
                i64::MAX
            ),
            format!(
                r#"customers.3={{ name = "c", credit_limit_cents = {} }}"#,
                i64::MAX
            ),
            "shipping.max_quantity_per_shipment=1000000".into(),
        ],
    )
    .expect("valid config");
    let orders = (1..=20_000u64).map(|id| {
        serde_json::from_value(serde_json::json!({
            "order_id": id, "product_id": 101, "quantity": 1_000_000, "customer_id": id % 3 + 1,
        }))
        .expect("valid order")
    });
    let mut events: Vec<crate::helpers::Envelope> = Vec::new();
    let summary = choreo::engine::run(
        &config,
        orders.collect::<Vec<choreo::shop::Order>>(),
        &mut events,
    )
    .await
    .expect("run succeeds");
    assert_eq!(summary.completed, 20_000);
    assert_eq!(
        summary.stats.revenue_cents,
        20_000 * 1_000_000_000_000_000u128
    );
}

/// Two outputs that are one file, or an output that is an input, are refused before
/// anything is written: exit 2, and the file is as it was.
#[test]
fn outputs_that_collide_with_each_other_or_an_input_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let orders = dir.path().join("orders.jsonl");
    let original = std::fs::read(repo_path("orders/mixed.jsonl")).expect("sample orders");
    std::fs::write(&orders, &original).expect("copy");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[bus]\ncapacity = 64\n").expect("config");
    let existing = dir.path().join("kept.json");
    std::fs::write(&existing, "keep me").expect("write");
    let o = orders.to_str().expect("utf-8");
    let c = config.to_str().expect("utf-8");
    let k = existing.to_str().expect("utf-8");
    let same_by_another_name = format!(
        "{}/../{}/kept.json",
        dir.path().display(),
        dir.path()
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
    );
    let cases: Vec<Vec<&str>> = vec![
        vec!["--journal", k, "--summary", k],
        vec!["--summary", k, "--report", same_by_another_name.as_str()],
        vec!["--report", o],
        vec!["--journal", c, "--config", c],
        vec!["--summary", "new.json", "--journal", "./new.json"],
    ];
    for extra in cases {
        let mut args = vec!["run", o];
        args.extend(&extra);
        let run = crate::helpers::choreo_in(dir.path(), &args);
        assert_eq!(run.code, 2, "{extra:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("are the same file"),
            "{extra:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "nothing ran");
    }
    let devices = crate::helpers::choreo_in(
        dir.path(),
        [
            "run",
            o,
            "-q",
            "--journal",
            "/dev/null",
            "--summary",
            "/dev/null",
        ],
    );
    assert_eq!(
        devices.code, 0,
        "/dev/null twice is fine: {}",
        devices.stderr
    );
    assert_eq!(std::fs::read(&orders).expect("orders"), original);
    assert_eq!(std::fs::read_to_string(&existing).expect("kept"), "keep me");
    assert!(!dir.path().join("new.json").exists());
}

/// A duplicate storm with no memory of finished orders beyond what is needed: every
/// redelivery of a finished order is still recognised (nothing acted on twice), and a
/// redelivery never schedules another, so the run ends.
#[tokio::test(start_paused = true)]
async fn a_duplicate_storm_with_no_dedup_window_neither_doubles_nor_livelocks() {
    let mut sets: Vec<String> = vec![
        "services.dedup_window=0".into(),
        "run.time_limit=1h".into(),
        r#"simulation.latency.payment={ model = "fixed", ms = 40 }"#.into(),
        r#"simulation.latency.inventory={ model = "fixed", ms = 40 }"#.into(),
        // Long busy periods and restarts: deliveries fall due while nothing is handled.
        "simulation.faults.gateway.timeout=0.3".into(),
        "simulation.faults.gateway.timeout_ms=200".into(),
        "simulation.faults.payment.crash=0.05".into(),
        "simulation.faults.restart_delay=100ms".into(),
        "simulation.faults.max_restarts=100000".into(),
    ];
    for service in ["order", "inventory", "payment", "shipping"] {
        sets.push(format!("simulation.faults.{service}.duplicate=0.9"));
        sets.push(format!("simulation.faults.{service}.delay=0.3"));
        sets.push(format!("simulation.faults.{service}.delay_ms=2"));
    }
    let config = crate::helpers::Config::load(&[], &sets).expect("valid config");
    // Every other order is for a product not in the catalog: rejected at once, so its
    // order finishes while a redelivery of its first event may still be pending.
    let orders: Vec<_> = (1..=500)
        .map(|id| crate::helpers::order(id, if id % 2 == 0 { 999 } else { 101 }, 1))
        .collect();
    let mut events: Vec<crate::helpers::Envelope> = Vec::new();
    let summary = choreo::engine::run(&config, orders, &mut events)
        .await
        .expect("the run ends, every order finished");
    assert_eq!(summary.finished(), 500);
    let mut ids = std::collections::HashSet::new();
    for envelope in &events {
        assert!(ids.insert(envelope.id), "{} published twice", envelope.id);
    }
}

/// Runs `sh -c script` with the built binary as `$0`, from `dir`.
fn shell(dir: &std::path::Path, script: &str) -> crate::helpers::Run {
    let out = Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_choreo")])
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run sh");
    crate::helpers::Run {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A summary that cannot be written does not stop the report from being written, nor hide
/// the invalid line that stopped the run: both are reported, and the bad input's exit code
/// (2) wins over the failed output's (1).
#[test]
fn every_output_is_attempted_and_every_failure_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let orders = dir.path().join("orders.jsonl");
    std::fs::write(
        &orders,
        "{\"order_id\": 1, \"product_id\": 101, \"quantity\": 1}\nnot json\n",
    )
    .expect("write");
    let report = dir.path().join("r.html");
    let run = crate::helpers::choreo_in(
        dir.path(),
        [
            "run",
            orders.to_str().expect("utf-8"),
            "-q",
            "--summary",
            "/dev/full",
            "--report",
            report.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("/dev/full: cannot write the summary"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("orders.jsonl:2:"), "{}", run.stderr);
    let page = std::fs::read_to_string(&report).expect("report");
    assert!(page.contains("</html>"), "the report is written whole");
}

/// A closed stdout is an error (exit 1), not output silently lost; a closed pipe is not.
#[test]
fn a_closed_stdout_is_an_error_and_a_closed_pipe_is_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = repo_path("orders/seed.json");
    let seed = seed.to_str().expect("utf-8");
    let closed = shell(dir.path(), &format!("exec \"$0\" run {seed} >&-"));
    assert_eq!(closed.code, 1, "{}", closed.stderr);
    assert!(
        closed.stderr.contains("standard output is closed"),
        "{}",
        closed.stderr
    );
    let made = shell(
        dir.path(),
        &format!("exec \"$0\" run {seed} -q --journal j.jsonl >/dev/null"),
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let closed = shell(dir.path(), "exec \"$0\" replay j.jsonl >&-");
    assert_eq!(closed.code, 1, "{}", closed.stderr);
    // `>/dev/null` is a place to write to, not a closed stdout.
    let null = shell(dir.path(), &format!("exec \"$0\" run {seed} -q >/dev/null"));
    assert_eq!(null.code, 0, "{}", null.stderr);
    // With no output asked for, a closed stdout does not matter.
    let none = shell(
        dir.path(),
        &format!("exec \"$0\" run {seed} --format none -q >&-"),
    );
    assert_eq!(none.code, 0, "{}", none.stderr);
    let swarm = repo_path("orders/swarm.jsonl");
    let piped = shell(
        dir.path(),
        &format!(
            "\"$0\" run {} --set products.101.stock=100000 | head -1",
            swarm.display()
        ),
    );
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(piped.stdout.lines().count(), 1);
}

/// Endless sources fail fast with a clear message instead of filling the memory or
/// spinning: a document, a JSON Lines file, a config and a journal that are `/dev/zero`.
#[test]
fn endless_sources_are_refused_not_read_for_ever() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["zero.json", "zero.jsonl", "zero.toml", "zero.journal"] {
        std::os::unix::fs::symlink("/dev/zero", dir.path().join(name)).expect("symlink");
    }
    let seed = repo_path("orders/seed.json");
    let seed = seed.to_str().expect("utf-8");
    let started = std::time::Instant::now();
    for (args, expected) in [
        (vec!["run", "zero.json"], "zero.json: larger than 256 MiB"),
        (
            vec!["run", "zero.jsonl"],
            "zero.jsonl:1:65537: line goes on past 64 MiB",
        ),
        (
            vec!["run", seed, "--config", "zero.toml"],
            "zero.toml: larger than 1 MiB",
        ),
        (
            vec!["replay", "zero.journal"],
            "zero.journal:1: not a journal line: line longer than 65536 bytes",
        ),
    ] {
        let run = crate::helpers::choreo_in(dir.path(), &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

/// Runs `orders` with `--skip-invalid` in `dir` (summary to `s.json`, stderr to `stderr`),
/// sends it Ctrl-C (SIGINT) after 300 ms, and waits for it to end.
fn interrupted_run_of_invalid_lines(
    dir: &std::path::Path,
    orders: &std::path::Path,
    stderr: Stdio,
) -> std::process::ExitStatus {
    let mut child = Command::new(env!("CARGO_BIN_EXE_choreo"))
        .args(["run", "--skip-invalid", "--format", "none"])
        .args(["--summary", "s.json"])
        .arg(orders)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    child.wait().expect("wait")
}

/// Ctrl-C is heeded in the middle of a long run of invalid lines: the run stops reading,
/// reports, and exits 130, instead of reading to the end of the file and exiting 0.
#[test]
fn an_interrupt_stops_a_long_run_of_invalid_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let orders = dir.path().join("bad.jsonl");
    let mut text = String::from("{\"order_id\": 1, \"product_id\": 101, \"quantity\": 1}\n");
    text.push_str(&"{\"nope\": 1}\n".repeat(3_000_000));
    std::fs::write(&orders, text).expect("write");
    let status = interrupted_run_of_invalid_lines(dir.path(), &orders, Stdio::null());
    assert_eq!(status.code(), Some(130));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).expect("summary"))
            .expect("summary JSON");
    let lines = summary["lines"].as_u64().expect("lines");
    assert!(lines < 3_000_001, "stopped reading early: {lines} lines");
}

/// Ctrl-C while every line read so far was invalid tells the truth: exit 130, not the bad
/// input's 2, no claim that every line is invalid (most were never read), and the summary
/// accounts for every line it read.
#[test]
fn an_interrupt_before_any_valid_line_exits_130_and_claims_nothing_of_the_unread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let orders = dir.path().join("bad.jsonl");
    std::fs::write(&orders, "{\"nope\": 1}\n".repeat(3_000_000)).expect("write");
    let stderr = std::fs::File::create(dir.path().join("stderr")).expect("stderr file");
    let status = interrupted_run_of_invalid_lines(dir.path(), &orders, stderr.into());
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).expect("stderr");
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(status.code(), Some(130), "{last}");
    assert!(!stderr.contains("every line is invalid"), "{last}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).expect("summary"))
            .expect("summary JSON");
    // The lines read, each accounted for; the rest, never read, is not claimed as anything.
    let count = |key: &str| summary[key].as_u64().expect(key);
    assert!(
        count("lines") < 3_000_000,
        "stopped reading early: {summary}"
    );
    assert!(count("invalid_lines") > 0, "{summary}");
    assert_eq!(
        count("invalid_lines") + count("unread_lines"),
        count("lines"),
        "{summary}"
    );
    assert!(last.contains("interrupted"), "{last}");
}

/// Orders can come on stdin (`run -`, JSON Lines, streamed); `.JSONL` is JSON Lines too.
#[test]
fn orders_are_read_from_stdin_and_from_upper_case_jsonl() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mixed = repo_path("orders/mixed.jsonl");
    let expected = crate::helpers::choreo(["run", mixed.to_str().expect("utf-8"), "-q"]);
    assert_eq!(expected.code, 0);
    let piped = shell(
        dir.path(),
        &format!("exec \"$0\" run - -q < {}", mixed.display()),
    );
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(piped.stdout, expected.stdout);
    std::fs::copy(&mixed, dir.path().join("MIXED.JSONL")).expect("copy");
    let upper = crate::helpers::choreo_in(dir.path(), ["run", "MIXED.JSONL", "-q"]);
    assert_eq!(upper.code, 0, "{}", upper.stderr);
    assert_eq!(upper.stdout, expected.stdout);
    let bad = shell(dir.path(), "printf 'oops\\n' | \"$0\" run - -q");
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("<stdin>:1:1"), "{}", bad.stderr);
}

/// `replay` given an order file says so, instead of a JSON error.
#[test]
fn replaying_an_order_file_says_it_is_not_a_journal() {
    let run = crate::helpers::choreo(["replay", "orders/mixed.jsonl"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("this is an order file, not a journal"),
        "{}",
        run.stderr
    );
}

/// `--order -1` explains the range of order ids.
#[test]
fn a_negative_order_id_is_explained() {
    for args in [
        ["trace", "j.jsonl", "--order", "-1"],
        ["diagram", "order", "j.jsonl", "--order"],
    ] {
        let mut args = args.to_vec();
        if args.len() == 4 && args[0] == "diagram" {
            args.push("-1");
        }
        let run = crate::helpers::choreo(&args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(
            run.stderr
                .contains("an order id is a whole number from 1 to 9007199254740991, got `-1`"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

/// A run that would go past the end of Tokio's clock (about 30 years of simulated time) fails
/// saying so, instead of claiming a time limit it did not reach; an arrival past 10 years is
/// refused where it is written.
#[tokio::test(start_paused = true)]
async fn simulated_time_past_the_clock_is_named_not_taken_for_the_time_limit() {
    let config = crate::helpers::Config::load(
        &[],
        &[
            r#"simulation.latency.payment={ model = "fixed", ms = 900000000 }"#.into(),
            "run.time_limit=100000d".into(),
        ],
    )
    .expect("valid config");
    let orders: Vec<_> = (1..=1300)
        .map(|id| crate::helpers::order(id, 101, 1))
        .collect();
    let mut events: Vec<crate::helpers::Envelope> = Vec::new();
    let failed = choreo::engine::run(&config, orders, &mut events)
        .await
        .expect_err("past the clock");
    assert!(
        matches!(
            failed.failures.as_slice(),
            [choreo::engine::Failure::Horizon { .. }]
        ),
        "{failed}"
    );
    assert!(
        failed.to_string().contains("as far as Tokio's clock goes"),
        "{failed}"
    );

    let late: Result<choreo::shop::Order, _> = serde_json::from_str(
        r#"{"order_id": 1, "product_id": 101, "quantity": 1, "at_ms": 315360000001}"#,
    );
    let err = late.expect_err("refused").to_string();
    assert!(
        err.contains("at_ms must be a whole number from 0 to 315360000000"),
        "{err}"
    );
}

/// On a terminal, the progress bar is drawn only when the lines go elsewhere (so the two do
/// not garble each other), and its rate is a whole number of orders a second.
#[test]
fn the_progress_bar_keeps_off_a_terminal_that_shows_the_lines() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("note: `script` (util-linux) not found; the terminal test is skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let swarm = std::fs::read_to_string(repo_path("orders/swarm.jsonl")).expect("swarm");
    let few: String = swarm.lines().take(300).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("few.jsonl"), few).expect("write");
    let run = |redirect: &str| {
        let command = format!(
            "{} run few.jsonl --config {} --clock real --set 'simulation.latency.payment={{ model = \"fixed\", ms = 3 }}' {redirect}",
            env!("CARGO_BIN_EXE_choreo"),
            repo_path("config/scenarios/swarm.toml").display()
        );
        let out = Command::new("script")
            .args(["-qc", &command, "/dev/null"])
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .output()
            .expect("script");
        String::from_utf8_lossy(&out.stdout).replace('\r', "\n")
    };
    let bar_lines = |screen: &str| -> Vec<String> {
        screen
            .lines()
            .filter(|line| line.contains(" orders, "))
            .map(str::to_owned)
            .collect()
    };
    let elsewhere = bar_lines(&run("> lines.txt"));
    assert!(!elsewhere.is_empty(), "a bar while the lines go to a file");
    for line in &elsewhere {
        let rate = line.split(" orders, ").nth(1).unwrap_or_default();
        let number = rate.split(' ').next().unwrap_or_default();
        assert!(
            number.chars().all(|c| c.is_ascii_digit()),
            "whole rate: {line}"
        );
    }
    assert!(bar_lines(&run("")).is_empty(), "no bar over the lines");
}

/// Messages: a journal that cannot be written is named; a file where every line is invalid
/// exits 2 like an empty one, even with `--skip-invalid`; text from the input is echoed with
/// its control characters escaped and cut short.
#[test]
fn messages_name_what_failed_and_never_echo_raw_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mixed = repo_path("orders/mixed.jsonl");
    let mixed = mixed.to_str().expect("utf-8");
    let run = crate::helpers::choreo([
        "run",
        mixed,
        "-q",
        "--format",
        "none",
        "--journal",
        "/dev/full",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("/dev/full: cannot write the journal"),
        "{}",
        run.stderr
    );

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "x\n{\"order_id\": 0}\n").expect("write");
    let run = crate::helpers::choreo(["run", bad.to_str().expect("utf-8"), "--skip-invalid", "-q"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("every line is invalid (2 of them"),
        "{}",
        run.stderr
    );

    let noisy = dir.path().join("noisy.jsonl");
    let field = format!("\\u001b[31m{}", "x".repeat(500));
    std::fs::write(
        &noisy,
        format!("{{\"order_id\": 1, \"product_id\": 101, \"quantity\": 1, \"{field}\": 1}}\n"),
    )
    .expect("write");
    let run = crate::helpers::choreo(["run", noisy.to_str().expect("utf-8"), "-q"]);
    assert_eq!(run.code, 2);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "no raw escape: {:?}",
        run.stderr
    );
    assert!(run.stderr.contains("\\u{1b}[31m"), "{}", run.stderr);
    assert!(
        run.stderr.contains("... (cut)") && run.stderr.len() < 400,
        "{}",
        run.stderr
    );
}

/// Ctrl-C during a read that waits on a FIFO whose writer is quiet ends the run (exit 130)
/// instead of waiting for the writer: the orders are read on a thread of their own, and the
/// run waits for them in short steps.
#[test]
fn an_interrupt_is_heeded_while_a_fifo_writer_is_quiet() {
    let (_dir, mut child, mut writer) =
        run_on_a_fifo(&["-q", "--format", "none"], Stdio::null(), Stdio::null());
    // The writer sends one order and then says nothing more.
    use std::io::Write as _;
    writeln!(
        writer,
        "{{\"order_id\": 1, \"product_id\": 101, \"quantity\": 1}}"
    )
    .expect("write");
    writer.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop(writer);
}

/// On the virtual clock, an order from a live source (a FIFO whose writer stays open) runs
/// to its end while the next line has not come, latency and all, and its lines are written
/// out meanwhile; the time limit does not run out while the writer is quiet.
#[test]
fn an_order_from_a_live_source_runs_while_the_next_has_not_come() {
    use std::io::{BufRead as _, Write as _};
    use std::time::Duration;
    let (_dir, mut child, mut writer) = run_on_a_fifo(
        &[
            "--set",
            "run.time_limit=3s",
            "--set",
            r#"simulation.latency.payment={ model = "fixed", ms = 400 }"#,
        ],
        Stdio::piped(),
        Stdio::piped(),
    );
    let order = |id: u64| format!(r#"{{"order_id": {id}, "product_id": 101, "quantity": 1}}"#);
    writeln!(writer, "{}", order(1)).expect("write");
    writer.flush().expect("flush");
    // Lines as they come, on a thread: the test must not hang if they never do.
    let stdout = child.stdout.take().expect("stdout");
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line.expect("utf-8")).is_err() {
                return;
            }
        }
    });
    let wait_for = |wanted: &str| loop {
        match seen.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line == wanted => return,
            Ok(_) => {}
            Err(err) => panic!("never saw `{wanted}`: {err}"),
        }
    };
    wait_for("ShippingService: Shipping arranged for order 1");
    // Quiet a while: simulated time does not pass meanwhile (nor jump to the time limit).
    std::thread::sleep(Duration::from_millis(500));
    writeln!(writer, "{}", order(2)).expect("write");
    drop(writer);
    wait_for("ShippingService: Shipping arranged for order 2");
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("2 orders: 2 completed"), "{stderr}");
}

/// `choreo run ARGS` on a FIFO, and the FIFO's writer (opened once the run has it open).
fn run_on_a_fifo(
    args: &[&str],
    stdout: Stdio,
    stderr: Stdio,
) -> (tempfile::TempDir, std::process::Child, File) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("live.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let child = Command::new(env!("CARGO_BIN_EXE_choreo"))
        .arg("run")
        .args(args)
        .arg(&fifo)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn");
    let writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open the FIFO");
    (dir, child, writer)
}
