//! Orders a second over NATS JetStream, next to a bare JetStream chain on the same broker.
//!
//! `cargo bench --bench nats` starts `nats-server -js` on a free loopback port with a store of
//! its own, then, three times each (`CHOREO_BENCH_RUNS`), on 20,000 happy-path orders
//! (`CHOREO_BENCH_ORDERS`):
//!
//! - `bare chain`: four hops on one stream, each a task with its own connection and its own
//!   durable pull consumer reading every message (the services' layout), doing nothing but
//!   publishing the next event of the chain created -> checked -> paid -> shipped with its id
//!   as `Nats-Msg-Id`, waiting for the publish acknowledgements of a batch before it
//!   acknowledges the batch; a driver keeps 256 chains in flight, as `run --nats` does;
//! - `choreo`: `choreo run FILE --nats URL --spawn-services --format none`, four `choreo
//!   serve` processes, a fresh stream each run.
//!
//! It prints the median orders per second of each, the ratio, and the median of each run's
//! per-order latency p50 (from the first event's publish to the last event observed: the
//! bare chain's own measure, choreo's from its summary), and choreo's p99 (its first orders
//! show there if they wait for services still starting). Then what a broker restart costs:
//! the same choreo run, with the broker killed (`kill -9`) two seconds in and started again
//! half a second later on the same port and store; it prints the median of each run's longest
//! pause between two events of its journal (each event's publish time), the half second the
//! broker is away included (each on a broker with a store of its own, since a server loads
//! every stream it holds before it serves again). The server is
//! `CHOREO_NATS_SERVER` if set, else the current release where `.ci/run` installs it
//! (`/opt/nats-server-2.15.1`), else Debian's; without one, it says so and exits.

use std::collections::HashMap;
mod common;
use common::{env_or, median, write_orders};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, stream};
use async_nats::HeaderMap;
use futures_util::{FutureExt, StreamExt};

const HOPS: [&str; 4] = ["created", "checked", "paid", "shipped"];
const IN_FLIGHT: usize = 256;

fn main() {
    let orders: u64 = env_or("CHOREO_BENCH_ORDERS", 20_000);
    let runs: usize = env_or("CHOREO_BENCH_RUNS", 3);
    let Some(server) = std::env::var("CHOREO_NATS_SERVER").ok().or_else(|| {
        [
            "/opt/nats-server-2.15.1/bin/nats-server",
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
        ]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(str::to_owned)
    }) else {
        println!(
            "nats-server is not installed (.ci/run installs it; or point CHOREO_NATS_SERVER at one): nothing measured"
        );
        return;
    };
    let version = Command::new(&server)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|err| panic!("{server}: {err}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let start_broker = |store: &str| {
        let broker = Command::new(&server)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path().join(store))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    };
    let mut broker = start_broker("store");
    let url = format!("nats://127.0.0.1:{port}");
    let file = dir.path().join("orders.jsonl");
    write_orders(&file, orders);
    println!("{orders} orders over JetStream ({version}, file storage), median of {runs} runs");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut bare = Vec::new();
    let mut real = Vec::new();
    let (mut bare_p50, mut real_p50, mut real_p99) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let started = Instant::now();
        bare_p50.push(runtime.block_on(bare_chain(&url, &format!("bare{run}"), orders)));
        bare.push(orders as f64 / started.elapsed().as_secs_f64());
        let summary = dir.path().join(format!("summary{run}.json"));
        let started = Instant::now();
        let status = choreo_run(&file, &url, &format!("choreo{run}"))
            .args(["--summary", summary.to_str().expect("utf-8")])
            .status()
            .expect("run choreo");
        assert!(status.success(), "choreo run failed");
        real.push(orders as f64 / started.elapsed().as_secs_f64());
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary"))
                .expect("JSON");
        let latency = &summary["latency_ms"]["completed"];
        real_p50.push(latency["p50"].as_f64().expect("a p50"));
        real_p99.push(latency["p99"].as_f64().expect("a p99"));
    }
    let (bare, real) = (median(bare.into_iter()), median(real.into_iter()));
    let (bare_p50, real_p50) = (median(bare_p50.into_iter()), median(real_p50.into_iter()));
    let real_p99 = median(real_p99.into_iter());
    println!("| case | orders/s | ratio to the bare chain | latency p50 | latency p99 |");
    println!("| --- | --- | --- | --- | --- |");
    println!("| bare JetStream chain, 4 consumers | {bare:.0} | 1.00 | {bare_p50:.1} ms | – |");
    println!(
        "| `choreo run --nats --spawn-services`, 4 processes | {real:.0} | {:.2} | {real_p50:.1} ms | {real_p99:.1} ms |",
        bare / real
    );
    // Each restart on a store of its own: a server restarting loads every stream it has
    // before it serves, and the runs above left 120,000 orders' worth.
    let mut pauses = Vec::new();
    for run in 0..runs {
        let _ = broker.kill();
        let _ = broker.wait();
        let store = format!("restart{run}");
        broker = start_broker(&store);
        let journal = dir.path().join(format!("restart{run}.jsonl"));
        let mut choreo = choreo_run(&file, &url, "choreo")
            .args(["--journal", journal.to_str().expect("utf-8")])
            .spawn()
            .expect("run choreo");
        std::thread::sleep(Duration::from_secs(2));
        let _ = broker.kill();
        let _ = broker.wait();
        std::thread::sleep(Duration::from_millis(500));
        broker = start_broker(&store);
        assert!(
            choreo.wait().expect("choreo").success(),
            "choreo run failed"
        );
        pauses.push(longest_pause(&journal));
    }
    println!(
        "| broker killed 2 s in, started again 0.5 s later | longest pause between two events: {:.2} s |",
        median(pauses.into_iter())
    );
    let _ = broker.kill();
    let _ = broker.wait();
}

/// `choreo run FILE --nats URL --spawn-services` on a fresh `stream`, every order within stock
/// and credit.
fn choreo_run(file: &Path, url: &str, stream: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_choreo"));
    command
        .arg("run")
        .arg(file)
        .args([
            "--nats",
            url,
            "--spawn-services",
            "--format",
            "none",
            "--quiet",
        ])
        .args(["--set", &format!("nats.stream={stream}")])
        .args(["--set", "products.101.stock=100000000000"])
        .args(["--set", "customers.1.credit_limit_cents=100000000000000000"])
        .args(["--set", "run.time_limit=1h"]);
    command
}

/// The longest time between two events of a journal, by their publish times, in seconds.
fn longest_pause(journal: &Path) -> f64 {
    let mut times: Vec<u64> = std::fs::read_to_string(journal)
        .expect("journal")
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok()?["at_us"].as_u64())
        .collect();
    times.sort_unstable();
    times
        .windows(2)
        .map(|pair| (pair[1] - pair[0]) as f64 / 1e6)
        .fold(0.0, f64::max)
}

/// The bare chain (see the module documentation); the median time from an order's first
/// publish to its last event observed, in ms.
async fn bare_chain(url: &str, name: &str, orders: u64) -> f64 {
    let client = async_nats::connect(url).await.expect("connect");
    let context = jetstream::new(client);
    let subject = format!("{name}.events");
    let stream = context
        .get_or_create_stream(stream::Config {
            name: name.to_owned(),
            subjects: vec![subject.clone()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .expect("stream");
    let mut hops = Vec::new();
    for (i, hop) in HOPS.iter().enumerate().take(HOPS.len() - 1) {
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(format!("{name}_{hop}")),
                ack_policy: AckPolicy::Explicit,
                max_ack_pending: IN_FLIGHT as i64,
                filter_subject: subject.clone(),
                ..Default::default()
            })
            .await
            .expect("consumer");
        let (url, subject, from, to) = (url.to_owned(), subject.clone(), *hop, HOPS[i + 1]);
        hops.push(tokio::spawn(async move {
            let client = async_nats::connect(url).await.expect("connect");
            let context = jetstream::new(client);
            let mut messages = consumer
                .stream()
                .max_messages_per_batch(IN_FLIGHT)
                .messages()
                .await
                .expect("messages");
            let mut forwarded = 0;
            while forwarded < orders {
                let mut batch = vec![messages.next().await.expect("open").expect("message")];
                while let Some(Some(Ok(message))) = messages.next().now_or_never() {
                    batch.push(message);
                }
                let mut acks = Vec::new();
                for message in &batch {
                    let text = std::str::from_utf8(&message.payload).expect("utf-8");
                    let Some(order) = text.strip_prefix(from) else {
                        continue;
                    };
                    let next = format!("{to}{order}");
                    let mut headers = HeaderMap::new();
                    headers.insert("Nats-Msg-Id", next.as_str());
                    acks.push(
                        context
                            .publish_with_headers(subject.clone(), headers, next.into())
                            .await
                            .expect("publish"),
                    );
                    forwarded += 1;
                }
                futures_util::future::join_all(
                    acks.into_iter().map(|ack| async move { ack.await }),
                )
                .await;
                for message in &batch {
                    message.ack().await.expect("ack");
                }
            }
        }));
    }
    // The driver: 256 chains in flight, each ended by its `shipped` event.
    let observer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: subject.clone(),
            ..Default::default()
        })
        .await
        .expect("observer");
    let mut events = observer.messages().await.expect("messages");
    let mut in_flight: HashMap<u64, Instant> = HashMap::new();
    let mut latencies = Vec::with_capacity(orders as usize);
    let (mut next, mut done) = (1u64, 0u64);
    while done < orders {
        let mut acks = Vec::new();
        while in_flight.len() < IN_FLIGHT && next <= orders {
            let event = format!("created.{next}");
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", event.as_str());
            acks.push(
                context
                    .publish_with_headers(subject.clone(), headers, event.into())
                    .await
                    .expect("publish"),
            );
            in_flight.insert(next, Instant::now());
            next += 1;
        }
        futures_util::future::join_all(acks.into_iter().map(|ack| async move { ack.await })).await;
        // One event, then whatever else has arrived, before admitting more.
        let mut next_event = Some(events.next().await);
        while let Some(Some(message)) = next_event.take() {
            let message = message.expect("event");
            let text = std::str::from_utf8(&message.payload).expect("utf-8");
            if let Some(order) = text.strip_prefix("shipped.") {
                if let Some(sent) = in_flight.remove(&order.parse().expect("order")) {
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
                done += 1;
            }
            next_event = events.next().now_or_never();
        }
    }
    for hop in hops {
        hop.await.expect("hop");
    }
    median(latencies.into_iter())
}
