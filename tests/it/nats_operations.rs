//! Distributed runs under ordinary operations, against a real `nats-server` (the harness of
//! `nats.rs`): a foreign message on the stream, processes that stop, die or will not stop, a
//! run with no service behind it, a broker that refuses a step, and settings that only mean
//! something in-process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::helpers::{choreo, repo_root};
use crate::nats::{
    check_journal, config_args, mixed_file, one_mixed_run_at_a_time, run_args, serve_args, Broker,
    JournaledRun, Process, SERVICES,
};
use crate::rules::mixed_sets;

/// A `choreo` process whose stderr goes to a file, to read while it runs.
pub(crate) struct Logged {
    pub(crate) process: Process,
    stderr: PathBuf,
    stdout: PathBuf,
}

impl Logged {
    pub(crate) fn start(args: &[String], dir: &Path, name: &str) -> Logged {
        let stderr = dir.join(format!("{name}.stderr"));
        let stdout = dir.join(format!("{name}.stdout"));
        let child = Command::new(env!("CARGO_BIN_EXE_choreo"))
            .args(args)
            .current_dir(repo_root())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start choreo");
        Logged {
            process: Process(child),
            stderr,
            stdout,
        }
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM, then its exit within 10 s, which must be 0.
    fn stop(&mut self) {
        self.process.signal(Signal::SIGTERM);
        assert_eq!(
            self.process.wait(Duration::from_secs(10)),
            0,
            "{}",
            self.stderr()
        );
    }

    /// Waits until its stdout says `text`, at most `limit`.
    fn wait_for_stdout(&self, text: &str, limit: Duration) {
        let started = Instant::now();
        let said = || std::fs::read_to_string(&self.stdout).unwrap_or_default();
        while !said().contains(text) {
            assert!(
                started.elapsed() < limit,
                "no `{text}` on stdout within {limit:?}:\n{}\n{}",
                said(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until its stderr says `text`, at most `limit`.
    pub(crate) fn wait_for_stderr(&self, text: &str, limit: Duration) {
        let started = Instant::now();
        while !self.stderr().contains(text) {
            assert!(
                started.elapsed() < limit,
                "no `{text}` on stderr within {limit:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> u32 {
        self.process.0.id()
    }
}

/// An order file in `dir` and settings for a run that lasts long enough for a test to meddle
/// with it (far more orders than go through in a few seconds, one at a time): the file's
/// path and the `--set`s.
fn a_long_run(dir: &Path) -> (String, Vec<String>) {
    let orders = mixed_file(dir, 5_000);
    let mut sets = mixed_sets();
    sets.extend(strings(&["nats.in_flight=1", "run.time_limit=60s"]));
    (orders.to_str().expect("utf-8").to_owned(), sets)
}

/// `run FILE --nats URL --spawn-services --format none` on `stream`, with `sets`.
pub(crate) fn spawned_run(url: &str, file: &str, sets: &[String], stream: &str) -> Vec<String> {
    let mut args = run_args(url, file, &config_args(sets, stream));
    args.push("--spawn-services".to_owned());
    args
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

/// Runs `work` against the broker at `url` (or one of several, separated by commas) on a
/// runtime of its own.
pub(crate) fn with_broker<T>(url: &str, work: impl AsyncFnOnce(jetstream::Context) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let servers: Vec<&str> = url.split(',').collect();
    runtime.block_on(async {
        let connect = async_nats::connect(servers.as_slice());
        let client = tokio::time::timeout(Duration::from_secs(10), connect)
            .await
            .expect("connected in time")
            .expect("connected");
        let context = jetstream::new(client);
        tokio::time::timeout(Duration::from_secs(30), work(context))
            .await
            .expect("the broker answered in time")
    })
}

/// The stream `name` as choreo makes it, made by the test first.
fn make_stream(url: &str, name: &str) {
    with_broker(url, async |context| {
        context
            .get_or_create_stream(stream::Config {
                name: name.to_owned(),
                subjects: vec![format!("{name}.events.>"), format!("{name}.config")],
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(600),
                max_messages_per_subject: 1,
                discard: stream::DiscardPolicy::New,
                discard_new_per_subject: true,
                ..Default::default()
            })
            .await
            .expect("stream created");
    });
}

/// Publishes each payload on stream `name`, on the subject `<name>.events.<tail>` given with
/// it (the stream holds one message per subject); their stream sequences.
fn publish(url: &str, name: &str, payloads: &[(&str, Vec<u8>)]) -> Vec<u64> {
    with_broker(url, async |context| {
        let mut sequences = Vec::new();
        for (tail, payload) in payloads {
            let ack = context
                .publish(format!("{name}.events.{tail}"), payload.clone().into())
                .await
                .expect("sent")
                .await
                .expect("stored");
            sequences.push(ack.sequence);
        }
        sequences
    })
}

/// Every message of stream `name`, in order.
fn messages(url: &str, name: &str) -> Vec<Vec<u8>> {
    with_broker(url, async |context| {
        let mut stream = context.get_stream(name).await.expect("stream");
        let last = stream.info().await.expect("info").state.last_sequence;
        let mut payloads = Vec::new();
        for seq in 1..=last {
            let message = stream.get_raw_message(seq).await.expect("message");
            payloads.push(message.payload.to_vec());
        }
        payloads
    })
}

/// The last sequence of stream `name`; 0 while there is no such stream.
/// Waits until every service of the shop has acknowledged events of stream `name` on the
/// broker (or cluster) at `url` (each is past its set-up), at most 30 s.
pub(crate) fn wait_until_served(url: &str, name: &str) {
    with_broker(url, async |context| loop {
        let mut served = 0;
        if let Ok(stream) = context.get_stream(name).await {
            for service in SERVICES {
                let info = stream.consumer_info(format!("{name}_{service}")).await;
                served += usize::from(info.is_ok_and(|info| info.ack_floor.stream_sequence > 0));
            }
        }
        if served == SERVICES.len() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    });
}

fn last_sequence(url: &str, name: &str) -> u64 {
    with_broker(url, async |context| match context.get_stream(name).await {
        Ok(mut stream) => stream.info().await.expect("info").state.last_sequence,
        Err(_) => 0,
    })
}

/// A well-formed InventoryChecked of `order`, which no run ever starts: taken from an
/// in-process run of the sample order, its order changed. Its subject's tail is
/// `<order>.InventoryChecked`.
fn event_of_no_order(order: u64) -> Vec<u8> {
    let run = choreo(["run", "orders/seed.json", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut event: serde_json::Value = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON"))
        .find(|event| event["event"] == "InventoryChecked")
        .expect("an InventoryChecked");
    event["order_id"] = serde_json::json!(order);
    event["id"] = serde_json::json!(format!("{order}.InventoryChecked"));
    event["cause"] = serde_json::json!(format!("{order}.OrderCreated"));
    serde_json::to_vec(&event).expect("JSON")
}

/// Waits until `done`, at most `limit`, saying `what` if it does not come.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of the `serve SERVICE` child of process `parent`, once it has one.
fn spawned_service(parent: u32, service: &str) -> u32 {
    let mut found = None;
    wait_until(
        &format!("a spawned {service}"),
        Duration::from_secs(10),
        || {
            found = std::fs::read_dir("/proc")
                .expect("/proc")
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .find(|pid| {
                    let stat =
                        std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                    // The parent's pid is the second field after the command's parentheses.
                    let parent_of = stat
                        .rsplit_once(") ")
                        .and_then(|(_, rest)| rest.split(' ').nth(1))
                        .and_then(|ppid| ppid.parse::<u32>().ok());
                    let cmdline =
                        std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    let args: Vec<&str> = cmdline.split('\0').collect();
                    parent_of == Some(parent) && args.windows(2).any(|w| w == ["serve", service])
                });
            found.is_some()
        },
    );
    found.expect("found")
}

/// Whether process `pid` still exists (a zombie counts as gone: it has exited).
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !matches!(
            stat.rsplit_once(") ").map(|(_, rest)| &rest[..1]),
            Some("Z")
        )
    })
}

/// Messages on the stream's subject that are not events of the shop, or are events of an
/// order no run started, before the services start and while the run goes: every service
/// and the run skip them, count and report them by stream sequence, no service acts on the
/// made-up event, every order finishes, and a service restarted later replays past them.
#[test]
fn foreign_messages_on_the_stream_are_skipped_counted_and_every_order_still_finishes() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let name = "foreign";
    make_stream(&url, name);
    // Before any service: read as they start, replaying the stream.
    let before = publish(
        &url,
        name,
        &[
            ("999999.InventoryChecked", b"not json at all".to_vec()),
            ("999998.InventoryChecked", event_of_no_order(999_998)),
        ],
    );
    // One order at a time: the run lasts long enough to see the messages sent while it goes.
    let mut sets = mixed_sets();
    sets.push("nats.in_flight=1".to_owned());
    let config = config_args(&sets, name);
    let mut services: Vec<Logged> = SERVICES
        .iter()
        .map(|service| {
            let mut args = strings(&["serve", service, "--nats", &url]);
            args.extend(config.iter().cloned());
            Logged::start(&args, dir.path(), service)
        })
        .collect();
    let orders = mixed_file(dir.path(), 200);
    let summary = dir.path().join("summary.json");
    let mut args = strings(&[
        "run",
        orders.to_str().expect("utf-8"),
        "--nats",
        &url,
        "--format",
        "none",
        "--summary",
        summary.to_str().expect("utf-8"),
        "--set",
        "run.time_limit=60s",
    ]);
    args.extend(config.iter().cloned());
    let start = last_sequence(&url, name);
    let mut run = Logged::start(&args, dir.path(), "run");
    // While the run goes (its orders one at a time): read live by the services and the run.
    wait_until("the run's first event", Duration::from_secs(20), || {
        last_sequence(&url, name) > start
    });
    let during = publish(
        &url,
        name,
        &[
            ("999997.InventoryChecked", b"\x00\xff binary".to_vec()),
            ("hello.world", br#"{"hello": "world"}"#.to_vec()),
            ("999996.InventoryChecked", event_of_no_order(999_996)),
        ],
    );
    let code = run.process.wait(Duration::from_secs(90));
    let stderr = run.stderr();
    assert_eq!(code, 0, "every order finishes:\n{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("JSON");
    assert_eq!(summary["completed"].as_u64().map(|n| n > 0), Some(true));
    assert_eq!(summary["unfinished"], 0);
    // The run counts what is not an event of the shop; an event of an order it did not
    // start may be an earlier run's, which it passes over as it always has.
    assert_eq!(summary["foreign_messages"], 2, "{stderr}");
    assert!(
        stderr.contains("foreign messages skipped: 2"),
        "the stderr summary counts them:\n{stderr}"
    );
    for seq in &during[..2] {
        let said = format!("stream `{name}` sequence {seq}: skipped a foreign message");
        assert!(stderr.contains(&said), "the run names {seq}:\n{stderr}");
    }
    for service in &mut services {
        assert!(
            service.process.0.try_wait().expect("wait").is_none(),
            "still serving:\n{}",
            service.stderr()
        );
        let stderr = service.stderr();
        for seq in before.iter().chain(&during) {
            let said = format!("stream `{name}` sequence {seq}: skipped a foreign message");
            assert!(
                stderr.contains(&said),
                "each service names {seq}:\n{stderr}"
            );
        }
    }
    // No service took the made-up events: nothing was published for orders 999998 and 999996.
    let of_no_order = messages(&url, name)
        .iter()
        .filter_map(|payload| serde_json::from_slice::<serde_json::Value>(payload).ok())
        .filter(|event| event["order_id"].as_u64() >= Some(999_990))
        .count();
    assert_eq!(of_no_order, 2, "only the two made up");
    // Started again, a service replays past them and serves on.
    services[2].process.signal(Signal::SIGKILL);
    services[2].process.wait(Duration::from_secs(5));
    let mut args = strings(&["serve", "payment", "--nats", &url, "-v"]);
    args.extend(config.iter().cloned());
    let mut restarted = Logged::start(&args, dir.path(), "payment-again");
    restarted.wait_for_stderr("serving", Duration::from_secs(20));
    let said = format!(
        "stream `{name}` sequence {}: skipped a foreign message",
        before[0]
    );
    assert!(restarted.stderr().contains(&said), "{}", restarted.stderr());
    assert!(
        restarted.process.0.try_wait().expect("wait").is_none(),
        "the restarted service serves on:
{}",
        restarted.stderr()
    );
}

/// A spawned service that does not stop on SIGTERM (stopped with SIGSTOP) is killed after
/// `run.shutdown_timeout` and named: the run ends.
#[test]
fn a_spawned_service_that_ignores_sigterm_is_killed_and_named_and_the_run_ends() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (orders, mut sets) = a_long_run(dir.path());
    sets.extend(strings(&["run.time_limit=4s", "run.shutdown_timeout=1s"]));
    let args = spawned_run(&broker.url(), &orders, &sets, "stopped");
    let started = Instant::now();
    let mut run = Logged::start(&args, dir.path(), "run");
    let shipping = spawned_service(run.pid(), "shipping");
    kill(Pid::from_raw(shipping as i32), Signal::SIGSTOP).expect("SIGSTOP");
    let code = run.process.wait(Duration::from_secs(30));
    let stderr = run.stderr();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "ended in time: {:?}\n{stderr}",
        started.elapsed()
    );
    // Exit 1 (its orders could not finish) unless they all had before it was stopped.
    assert!(matches!(code, 0 | 1), "{stderr}");
    let said = format!(
        "ShippingService (pid {shipping}) did not stop within 1s of SIGTERM: killed (SIGKILL)"
    );
    assert!(stderr.contains(&said), "{stderr}");
    assert!(!is_running(shipping), "the stopped service is gone");
}

/// Ctrl-C at a terminal (SIGINT to the run's process group) reaches the run alone: it stops
/// admitting, the orders in flight finish (their services still serve), and it exits 130.
#[test]
fn ctrl_c_to_a_run_with_spawned_services_lets_its_orders_in_flight_finish() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (orders, sets) = a_long_run(dir.path());
    let summary = dir.path().join("summary.json");
    let mut args = spawned_run(&broker.url(), &orders, &sets, "interrupted");
    args.extend(strings(&["--summary", summary.to_str().expect("utf-8")]));
    let stderr = dir.path().join("run.stderr");
    use std::os::unix::process::CommandExt;
    let child = Command::new(env!("CARGO_BIN_EXE_choreo"))
        .args(&args)
        .current_dir(repo_root())
        .env_remove("RUST_LOG")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("start choreo");
    let mut run = Process(child);
    let pid = run.0.id();
    for service in SERVICES {
        spawned_service(pid, service);
    }
    // Under way: orders going in one at a time.
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::killpg(Pid::from_raw(pid as i32), Signal::SIGINT).expect("SIGINT");
    let code = run.wait(Duration::from_secs(30));
    let stderr = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert_eq!(code, 130, "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("JSON");
    assert_eq!(
        summary["unfinished"], 0,
        "every order admitted finished:\n{stderr}"
    );
    assert!(
        summary["orders"]
            .as_u64()
            .is_some_and(|n| n > 0 && n < 5_000),
        "interrupted under way: {summary}"
    );
}

/// A run killed outright leaves no spawned service behind: each stops when the run's end of
/// its stdin closes.
#[test]
fn a_run_killed_outright_leaves_no_spawned_service_behind() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (orders, sets) = a_long_run(dir.path());
    let args = spawned_run(&broker.url(), &orders, &sets, "orphans");
    let mut run = Logged::start(&args, dir.path(), "run");
    let services: Vec<u32> = SERVICES
        .iter()
        .map(|service| spawned_service(run.pid(), service))
        .collect();
    run.process.signal(Signal::SIGKILL);
    run.process.wait(Duration::from_secs(5));
    for pid in services {
        wait_until(
            &format!("spawned service {pid} gone"),
            Duration::from_secs(10),
            || !is_running(pid),
        );
    }
}

/// A spawned service that dies mid-run fails the run at once, naming it, instead of the run
/// waiting out its time limit for orders that cannot finish.
#[test]
fn a_spawned_service_that_dies_fails_the_run_at_once_naming_it() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (orders, sets) = a_long_run(dir.path());
    let args = spawned_run(&broker.url(), &orders, &sets, "died");
    let mut run = Logged::start(&args, dir.path(), "run");
    let payment = spawned_service(run.pid(), "payment");
    let killed = Instant::now();
    kill(Pid::from_raw(payment as i32), Signal::SIGKILL).expect("SIGKILL");
    let code = run.process.wait(Duration::from_secs(70));
    let stderr = run.stderr();
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "failed at once, not at the time limit: {:?}\n{stderr}",
        killed.elapsed()
    );
    assert_eq!(code, 1, "{stderr}");
    let said = format!("PaymentService (a spawned `serve`, pid {payment}) exited during the run");
    assert!(stderr.contains(&said), "{stderr}");
}

/// SIGTERM to a `serve` whose broker is gone: it exits at once, saying the broker did not
/// answer (what it did not acknowledge is delivered again).
#[test]
fn serve_stops_promptly_on_sigterm_while_the_broker_is_down() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = strings(&["serve", "inventory", "--nats", &url, "-v"]);
    args.extend(config_args(&[], "orphaned"));
    let mut service = Logged::start(&args, dir.path(), "inventory");
    service.wait_for_stderr("serving", Duration::from_secs(20));
    broker.kill9();
    // Long enough for the client to notice, and for a pull or a reconnect to be under way.
    std::thread::sleep(Duration::from_secs(2));
    let told = Instant::now();
    service.process.signal(Signal::SIGTERM);
    let code = service.process.wait(Duration::from_secs(20));
    let stderr = service.stderr();
    assert!(
        told.elapsed() < Duration::from_secs(4),
        "stopped promptly: {:?}\n{stderr}",
        told.elapsed()
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("stopping without the broker's answer"),
        "says why it did not wait: \n{stderr}"
    );
}

/// A broker that refuses to make the stream (its subject is another stream's): the error
/// names the broker's URL and the step, for `serve` and `run` alike.
#[test]
fn a_step_the_broker_refuses_is_named_with_the_url() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    // Another stream holds a subject the stream `taken` would have.
    with_broker(&url, async |context| {
        context
            .create_stream(stream::Config {
                name: "squatter".to_owned(),
                subjects: vec!["taken.config".to_owned()],
                ..Default::default()
            })
            .await
            .expect("stream created");
    });
    for command in [
        &["serve", "inventory"][..],
        &["run", "orders/seed.json"][..],
    ] {
        let mut args = command.to_vec();
        args.extend(["--nats", &url, "--set", "nats.stream=taken"]);
        let started = Instant::now();
        let run = choreo(&args);
        assert_eq!(run.code, 1, "{command:?}: {}", run.stderr);
        let said =
            format!("the NATS server at {url} failed the lookup or creation of stream `taken`");
        assert!(run.stderr.contains(&said), "{command:?}: {}", run.stderr);
        assert!(started.elapsed() < Duration::from_secs(15), "{command:?}");
    }
}

/// `run --nats` with nothing serving the stream says so within seconds, rather than wait out
/// its time limit without a word.
#[test]
fn a_run_with_no_service_says_so_within_seconds() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = strings(&[
        "run",
        "orders/seed.json",
        "--nats",
        &broker.url(),
        "--format",
        "none",
    ]);
    args.extend(config_args(&strings(&["run.time_limit=60s"]), "lonely"));
    let run = Logged::start(&args, dir.path(), "run");
    run.wait_for_stderr(
        "no service has read stream `lonely` for 5 s: is choreo serve running? --spawn-services starts them",
        Duration::from_secs(12),
    );
}

/// Over NATS a run fails when it stalls, not at the default time limit: with nothing serving
/// its stream, no event comes after its first ones, and it fails once `nats.stall_timeout`
/// has passed, naming it and the orders in flight; a time limit set explicitly still holds.
#[test]
fn a_run_over_nats_fails_when_it_stalls_and_at_a_time_limit_only_when_one_is_set() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    for (stream, sets, said) in [
        (
            "stalled",
            ["nats.stall_timeout=2s", "nats.in_flight=256"],
            "no event for 2s (nats.stall_timeout) with orders in flight; 1 unfinished order: 1",
        ),
        (
            "limited",
            ["nats.stall_timeout=1m", "run.time_limit=2s"],
            "time limit of 2s reached; 1 unfinished order: 1",
        ),
    ] {
        let mut args = strings(&["run", "orders/seed.json", "--nats", &url]);
        args.extend(config_args(&strings(&sets), stream));
        let started = Instant::now();
        let run = choreo(&args);
        assert_eq!(run.code, 1, "{sets:?}: {}", run.stderr);
        assert!(run.stderr.contains(said), "{sets:?}: {}", run.stderr);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{sets:?}: {:?}",
            started.elapsed()
        );
    }
}

/// A second `serve` of a service on a stream while the first serves it: refused at once,
/// naming the first's pid (two would share its durable consumer); once the first is killed
/// (kill -9), one started again serves, not held up by the dead one.
#[test]
fn a_second_instance_of_a_service_is_refused_while_the_first_serves() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let name = "twice";
    let mut args = strings(&["serve", "inventory", "--nats", &url]);
    args.extend(config_args(&[], name));
    let mut first = Logged::start(&args, dir.path(), "first");
    first.wait_for_stdout(
        "InventoryService serves stream `twice`",
        Duration::from_secs(30),
    );
    let started = Instant::now();
    let second = choreo(&args);
    assert_eq!(second.code, 1, "{}", second.stderr);
    let said = format!(
        "InventoryService is served already on stream `{name}` (pid {})",
        first.pid()
    );
    assert!(second.stderr.contains(&said), "{}", second.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    first.process.signal(Signal::SIGKILL);
    first.process.wait(Duration::from_secs(5));
    let mut again = Logged::start(&args, dir.path(), "again");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        again.process.0.try_wait().expect("wait").is_none(),
        "serves after the first died: {}",
        again.stderr()
    );
    again.stop();
}

/// A broker down for 3 s and back: the first `serve` answers again within moments (its
/// answers' connection reconnects as its work's does, at least every 100 ms, where
/// async-nats's own waits had grown to seconds), so a second started half a second after the
/// broker is back is refused, not let in beside it.
#[test]
fn a_second_instance_is_refused_just_after_a_broker_restart() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let name = "restarted";
    let mut args = strings(&["serve", "shipping", "--nats", &url]);
    args.extend(config_args(&[], name));
    let mut first = Logged::start(&args, dir.path(), "first");
    first.wait_for_stdout(
        "ShippingService serves stream `restarted`",
        Duration::from_secs(30),
    );
    broker.kill9();
    std::thread::sleep(Duration::from_secs(3));
    broker.restart();
    std::thread::sleep(Duration::from_millis(500));
    let mut second = Logged::start(&args, dir.path(), "second");
    let code = second.process.wait(Duration::from_secs(20));
    let stderr = second.stderr();
    assert_eq!(code, 1, "{stderr}");
    let said = format!(
        "ShippingService is served already on stream `{name}` (pid {})",
        first.pid()
    );
    assert!(stderr.contains(&said), "{stderr}");
    first.stop();
}

/// A first `serve` that is stopped (SIGSTOP) still holds its subscription and its consumer:
/// a second is refused once the first has not answered for `nats.connect_timeout`, rather
/// than take silence for absence and share the consumer when the first goes on.
#[test]
fn a_second_instance_is_refused_while_the_first_is_stopped() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = strings(&["serve", "payment", "--nats", &url]);
    args.extend(config_args(
        &strings(&["nats.connect_timeout=1s"]),
        "stopped",
    ));
    let mut first = Logged::start(&args, dir.path(), "first");
    first.wait_for_stdout(
        "PaymentService serves stream `stopped`",
        Duration::from_secs(30),
    );
    first.process.signal(Signal::SIGSTOP);
    let mut second = Logged::start(&args, dir.path(), "second");
    let code = second.process.wait(Duration::from_secs(20));
    first.process.signal(Signal::SIGCONT);
    let stderr = second.stderr();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "a process serves PaymentService on stream `stopped` already but has not answered for 1s"
        ),
        "{stderr}"
    );
    first.stop();
}

/// `run --spawn-services` publishes its first orders only once every service it spawned
/// serves: one that cannot (another instance serves the stream already, so it is refused)
/// fails the run, naming it, with none of its orders in the stream.
#[test]
fn a_run_publishes_no_order_before_its_spawned_services_serve() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let name = "held";
    let (orders, sets) = a_long_run(dir.path());
    let mut args = strings(&["serve", "shipping", "--nats", &url]);
    args.extend(config_args(&sets, name));
    let mut first = Logged::start(&args, dir.path(), "first");
    first.wait_for_stdout(
        "ShippingService serves stream `held`",
        Duration::from_secs(30),
    );
    let stored = || {
        with_broker(&url, async |context| {
            let mut stream = context.get_stream(name).await.expect("stream");
            stream.info().await.expect("info").state.messages
        })
    };
    let before = stored();
    let run = choreo(spawned_run(&url, &orders, &sets, name));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("ShippingService is served already on stream `held`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("ShippingService (a spawned `serve`, pid"),
        "{}",
        run.stderr
    );
    assert_eq!(stored(), before, "no order published: {}", run.stderr);
    first.stop();
}

/// A broker restarted on a store that lost its last messages (a copy taken mid-run, as an OS
/// crash leaves one): the services find that the stream ends before the last event they read
/// and hold what they would publish again; the run puts back what it observed past the
/// stream's new end, at the same sequences, and the services go on (or start over, where the
/// stream does not hold what they read); every order finishes once, every invariant held, in
/// the run's journal as in the stream. Before, a service's publisher sent its unconfirmed
/// events again into the shortened stream ahead of their causes (skipped as foreign: about 20
/// of 5,000 orders unfinished), and the run kept what it had observed of the lost tail (a
/// decision made again differently counted twice).
#[test]
fn services_start_over_when_the_broker_lost_the_streams_tail() {
    let _alone = one_mixed_run_at_a_time();
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sets = mixed_sets();
    // Few orders in flight: the run lasts seconds, past the broker's restart (5,000 orders
    // at 32 in flight took 1 s on an idle machine).
    sets.extend(strings(&["run.time_limit=120s", "nats.in_flight=16"]));
    let config = config_args(&sets, "tail");
    let mut services: Vec<Logged> = SERVICES
        .iter()
        .map(|service| Logged::start(&serve_args(&url, service, &config), dir.path(), service))
        .collect();
    for service in &services {
        service.wait_for_stdout("serves stream `tail`", Duration::from_secs(30));
    }
    let mut run = JournaledRun::start(10_000, |file| run_args(&url, file, &config));
    std::thread::sleep(Duration::from_millis(300));
    let copy = broker.copy_of_store();
    std::thread::sleep(Duration::from_millis(700));
    assert!(run.going(), "the run is still going when the broker dies");
    broker.kill9();
    broker.restore_store(copy.path());
    broker.restart();
    // The run's log says what it put back (`put back what the broker lost`), each service's
    // whether it waited for that or started over; what counts is the journal: every order
    // finished once, every invariant held.
    run.check(Duration::from_secs(150));
    for service in &mut services {
        service.stop();
    }
}

/// What only the in-process bus simulates: `--clock virtual` asked for by name is refused
/// (exit 2, one line); simulated latency and `at_ms` are warned about, and the run goes on.
#[test]
fn what_is_simulated_is_refused_or_warned_about_over_nats() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let refused = choreo([
        "run",
        "orders/seed.json",
        "--nats",
        &url,
        "--spawn-services",
        "--clock",
        "virtual",
        "--set",
        "nats.stream=virtual",
    ]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert_eq!(
        refused.stderr.trim_end(),
        "choreo: error: --clock virtual does not apply with --nats: a run over a broker is on the wall clock; leave --clock out"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let orders = dir.path().join("timed.jsonl");
    std::fs::write(
        &orders,
        "{\"order_id\": 1, \"product_id\": 101, \"quantity\": 1, \"at_ms\": 500}\n",
    )
    .expect("write");
    let warned = choreo([
        "run",
        orders.to_str().expect("utf-8"),
        "--nats",
        &url,
        "--spawn-services",
        "--format",
        "none",
        "--set",
        "nats.stream=simulated",
        "--set",
        "simulation.latency.inventory={ model = \"fixed\", ms = 5 }",
    ]);
    assert_eq!(warned.code, 0, "{}", warned.stderr);
    assert!(
        warned
            .stderr
            .contains("[simulation.latency] does not apply with --nats"),
        "{}",
        warned.stderr
    );
    assert!(
        warned
            .stderr
            .contains("order 1 has `at_ms`, which does not apply with --nats"),
        "{}",
        warned.stderr
    );
}

/// The four services, each started by the test with `config`, and a run of `file` with
/// `config` (its journal `dir/journal.jsonl`); all logged to `dir`.
fn served_run(url: &str, dir: &Path, file: &str, config: &[String]) -> (Vec<Logged>, Logged) {
    let services = SERVICES
        .iter()
        .map(|service| {
            let mut args = strings(&["serve", service, "--nats", url]);
            args.extend(config.iter().cloned());
            Logged::start(&args, dir, service)
        })
        .collect();
    let journal = dir.join("journal.jsonl");
    let journal = journal.to_str().expect("utf-8");
    let mut args = strings(&["run", file, "--nats", url, "--format", "none"]);
    args.extend(strings(&["--journal", journal]));
    args.extend(config.iter().cloned());
    (services, Logged::start(&args, dir, "run"))
}

/// The stream purged, or deleted, under a run: every service and the run stop within
/// seconds, exit 1, naming what is gone, rather than loop "starting over" until the time
/// limit leaving consumers behind.
#[test]
fn a_purged_or_deleted_stream_stops_the_services_and_the_run_naming_it() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    for (name, meddling, said) in [
        (
            "purged",
            "purge",
            "stream `purged` was purged: its first message is now",
        ),
        ("deleted", "delete", "stream `deleted` was deleted"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let (file, sets) = a_long_run(dir.path());
        let config = config_args(&sets, name);
        let (mut services, mut run) = served_run(&url, dir.path(), &file, &config);
        // Every service past its set-up (a stream deleted during one fails it, naming the
        // step, rather than what is gone).
        wait_until_served(&url, name);
        with_broker(&url, async |context| {
            let stream = context.get_stream(name).await.expect("stream");
            match meddling {
                "purge" => {
                    stream.purge().await.expect("purged");
                }
                _ => {
                    context.delete_stream(name).await.expect("deleted");
                }
            }
        });
        let started = Instant::now();
        for logged in services.iter_mut().chain([&mut run]) {
            let code = logged.process.wait(Duration::from_secs(20));
            let stderr = logged.stderr();
            assert_eq!(code, 1, "{meddling}: {stderr}");
            assert!(stderr.contains(said), "{meddling}: {stderr}");
            assert!(
                stderr.contains("run on a new stream"),
                "{meddling}: {stderr}"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{meddling}: all stopped in {:?}",
            started.elapsed()
        );
    }
}

/// A service's durable consumer deleted under it: the service stops within seconds naming
/// it; started again, its new consumer handles the stream from its start (the stream refuses
/// what it had published before), so every order still finishes once.
#[test]
fn a_deleted_consumer_stops_its_service_and_a_restart_handles_every_order() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let name = "unconsumed";
    let orders = mixed_file(dir.path(), 300);
    let mut sets = mixed_sets();
    sets.extend(strings(&["nats.in_flight=1", "run.time_limit=90s"]));
    let config = config_args(&sets, name);
    let file = orders.to_str().expect("utf-8");
    let (mut services, mut run) = served_run(&url, dir.path(), file, &config);
    wait_until("the run's first events", Duration::from_secs(60), || {
        last_sequence(&url, name) > 10
    });
    with_broker(&url, async |context| {
        let stream = context.get_stream(name).await.expect("stream");
        stream
            .delete_consumer(&format!("{name}_inventory"))
            .await
            .expect("deleted");
    });
    let inventory = SERVICES
        .iter()
        .position(|service| *service == "inventory")
        .expect("inventory");
    let code = services[inventory].process.wait(Duration::from_secs(20));
    let stderr = services[inventory].stderr();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "consumer `{name}_inventory` of stream `{name}` was deleted: start the service again"
        )),
        "{stderr}"
    );
    let mut args = strings(&["serve", "inventory", "--nats", &url]);
    args.extend(config.iter().cloned());
    services[inventory] = Logged::start(&args, dir.path(), "inventory-again");
    let code = run.process.wait(Duration::from_secs(120));
    assert_eq!(code, 0, "every order finishes: {}", run.stderr());
    // Every order once, nothing doubled, stock and money conserved.
    check_journal(&dir.path().join("journal.jsonl"), 300);
}

/// A run over NATS checks the choreography's invariants as it observes the stream, as a run
/// in process does: an event that oversells a product (forged here, as a faulty service of
/// the same stream would publish it) fails the run at once, naming the property, the order
/// and the event, and the journal ends with that event; with `run.invariants=off` the same
/// event passes unchecked (the run then fails only by stalling, as nothing serves it).
#[test]
fn a_run_over_nats_checks_the_invariants_as_the_events_come() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut oversold: serde_json::Value =
        serde_json::from_slice(&event_of_no_order(1)).expect("JSON");
    oversold["quantity"] = serde_json::json!(1_000_000);
    let oversold = serde_json::to_vec(&oversold).expect("JSON");
    for (stream, invariants) in [("checked", "every-event"), ("unchecked", "off")] {
        let journal = dir.path().join(format!("{stream}.jsonl"));
        let mut args = strings(&["run", "orders/seed.json", "--nats", &url]);
        args.extend(config_args(
            &strings(&[
                &format!("run.invariants={invariants}"),
                "nats.stall_timeout=3s",
            ]),
            stream,
        ));
        args.extend(strings(&["--journal", journal.to_str().expect("utf-8")]));
        let mut run = Logged::start(&args, dir.path(), stream);
        // The run has made its stream and published the order's first event: it reads on
        // from there.
        wait_until("the order's first event", Duration::from_secs(20), || {
            last_sequence(&url, stream) >= 1
        });
        publish(&url, stream, &[("1.InventoryChecked", oversold.clone())]);
        assert_eq!(run.process.wait(Duration::from_secs(20)), 1, "{stream}");
        let stderr = run.stderr();
        let journal = std::fs::read_to_string(&journal).expect("journal");
        let last = journal.lines().last().expect("a journal line");
        if invariants == "off" {
            assert!(!stderr.contains("invariant broken"), "{stderr}");
            assert!(stderr.contains("no event for 3s"), "{stderr}");
            continue;
        }
        for said in [
            "invariant broken",
            "order 1",
            "InventoryChecked",
            "no product oversold: product 101 is oversold: 1000000 units reserved",
        ] {
            assert!(stderr.contains(said), "no `{said}` in:\n{stderr}");
        }
        assert!(
            last.contains("\"InventoryChecked\"") && last.contains("1000000"),
            "the journal ends with the event that broke it: {last}"
        );
    }
}
