//! Deterministic simulation: seeds, latency, faults, and what must hold under all of them.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use crate::helpers::Config;
use crate::helpers::Envelope;
use crate::helpers::Summary;
use choreo::app::{multi_thread_runtime, runtime};
use choreo::cli::Clock;
use choreo::engine as supervisor;
use choreo::engine::Choreography;
use choreo::input::read_order_file;
use choreo::shop::{CancelReason, DeclineReason, Event, EventKind};
use choreo::shop::{Order, Shop};
use choreo::view::output::{Format, Writer};

use crate::helpers::{choreo, repo_path};

/// Runs `orders` on the virtual clock with `config`, returning the JSON output and summary.
fn simulate(config: &Config, orders: &[Order]) -> (Vec<u8>, Result<Summary, String>) {
    let runtime = runtime(Clock::Virtual).expect("runtime");
    let mut output = Writer::new(Format::Json, Vec::new());
    let result = runtime.block_on(supervisor::run(config, orders.to_vec(), &mut output));
    (
        output.into_inner(),
        result.map_err(|failed| failed.to_string()),
    )
}

fn config(file: Option<&str>, sets: &[String]) -> Config {
    let file = file.map(repo_path);
    Config::load(file.as_slice(), sets).expect("valid config")
}

fn swarm_orders() -> Vec<Order> {
    read_order_file(&repo_path("orders/swarm.jsonl")).expect("orders/swarm.jsonl")
}

fn digest(output: &[u8], summary: &Result<Summary, String>) -> u64 {
    let mut hasher = DefaultHasher::new();
    output.hash(&mut hasher);
    match summary {
        // Everything but `machine` (wall time, memory) is part of the run.
        Ok(summary) => {
            let mut json = serde_json::to_value(summary).expect("summary serializes");
            json.as_object_mut().expect("object").remove("machine");
            json.to_string().hash(&mut hasher);
        }
        Err(failed) => failed.hash(&mut hasher),
    }
    hasher.finish()
}

/// The same input, config and seed give byte-identical output and summary; 100 seeds, each
/// run twice, with random latencies, arrivals and every kind of fault configured.
#[test]
fn a_hundred_seeds_each_replay_byte_for_byte() {
    let orders: Vec<Order> = swarm_orders().into_iter().take(300).collect();
    let mut digests = Vec::new();
    for seed in 1..=100u64 {
        let mut config = config(Some("config/scenarios/chaos.toml"), &[]);
        config.simulation.seed = seed;
        let (first_output, first_summary) = simulate(&config, &orders);
        let (second_output, second_summary) = simulate(&config, &orders);
        let first = digest(&first_output, &first_summary);
        assert_eq!(
            first,
            digest(&second_output, &second_summary),
            "seed {seed} did not replay"
        );
        digests.push(first);
    }
    digests.sort_unstable();
    digests.dedup();
    assert!(digests.len() > 90, "different seeds give different runs");
}

/// A fault mix drawn from `seed`, as `--set` arguments, so a failure prints its replay.
fn fault_mix(seed: u64) -> Vec<String> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut pick = |choices: &[&str]| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        choices[(state % choices.len() as u64) as usize].to_string()
    };
    let mut sets = Vec::new();
    for service in ["order", "inventory", "payment", "shipping"] {
        let latency = pick(&[
            "{ model = \"fixed\", ms = 0 }",
            "{ model = \"fixed\", ms = 2 }",
            "{ model = \"uniform\", min_ms = 0, max_ms = 5 }",
            "{ model = \"exponential\", mean_ms = 3 }",
            "{ model = \"lognormal\", median_ms = 2, sigma = 0.7 }",
        ]);
        sets.push(format!("simulation.latency.{service}={latency}"));
        for fault in ["duplicate", "delay", "crash", "crash_after_publish"] {
            let chance = pick(&["0.0", "0.0", "0.05", "0.3"]);
            sets.push(format!("simulation.faults.{service}.{fault}={chance}"));
        }
        sets.push(format!(
            "simulation.faults.{service}.delay_ms={}",
            pick(&["1", "10", "50"])
        ));
        if service != "order" {
            let poison = pick(&["0.0", "0.0", "0.02", "0.1"]);
            sets.push(format!("simulation.faults.{service}.poison={poison}"));
        }
    }
    sets.push(format!(
        "simulation.faults.gateway.timeout={}",
        pick(&["0.0", "0.1", "0.5"])
    ));
    sets.push(format!(
        "simulation.arrivals.process={}",
        pick(&["all-at-once", "poisson", "fixed-rate"])
    ));
    sets
}

/// What makes a run on the real clock take real time, shrunk so that a few hundred orders
/// take well under a second when nothing stalls: no latency, a gateway that times out and
/// backs off in a millisecond, a restart in one. Faults still happen as often, and delays
/// (timers, not waits) keep their length. A stall then fails fast: at the time limit, naming
/// the orders and the services that hold them.
fn on_the_real_clock(sets: &mut Vec<String>) {
    sets.retain(|set| !set.starts_with("simulation.latency."));
    for service in ["order", "inventory", "payment", "shipping"] {
        sets.push(format!(
            "simulation.latency.{service}={{ model = \"fixed\", ms = 0 }}"
        ));
    }
    sets.extend(
        [
            "simulation.faults.gateway.timeout_ms=1",
            "simulation.faults.gateway.backoff_ms=1",
            "simulation.faults.restart_delay=\"1ms\"",
            "run.time_limit=\"10s\"",
        ]
        .map(String::from),
    );
}

/// Runs `seeds` seeds of the swarm: each draws a fault mix, runs the 1,000 orders of
/// `orders/swarm.jsonl`, and checks every invariant (the run itself checks the shop's, at
/// every event). A failure names the seed and the command that replays it. Returns every
/// ending the seeds reached.
fn swarm(seeds: std::ops::RangeInclusive<u64>) -> BTreeSet<String> {
    swarm_on(Clock::Virtual, seeds, 1000)
}

/// [`swarm`] on `clock`, with the first `orders` orders.
fn swarm_on(clock: Clock, seeds: std::ops::RangeInclusive<u64>, orders: usize) -> BTreeSet<String> {
    let mut reached = BTreeSet::new();
    let orders: Vec<Order> = swarm_orders().into_iter().take(orders).collect();
    let input = match orders.len() {
        1000 => "orders/swarm.jsonl".to_owned(),
        n => format!("<(head -n {n} orders/swarm.jsonl)"),
    };
    for seed in seeds {
        let mut sets = fault_mix(seed);
        if clock == Clock::Real {
            on_the_real_clock(&mut sets);
        }
        let mut config = config(Some("config/scenarios/swarm.toml"), &sets);
        config.simulation.seed = seed;
        let replay = format!(
            "cargo run --release -- run {input} --config config/scenarios/swarm.toml --seed {seed} --clock {} {}",
            match clock {
                Clock::Virtual => "virtual",
                Clock::Real => "real",
            },
            sets.iter()
                .map(|s| format!("--set '{s}'"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        // The engine on the multi-thread runtime, services on both cores, as a library user
        // may run it (`--clock real` itself runs on one thread).
        let runtime = match clock {
            Clock::Virtual => runtime(clock),
            Clock::Real => multi_thread_runtime(),
        }
        .expect("runtime");
        let mut events: Vec<Envelope> = Vec::new();
        let summary = match runtime.block_on(supervisor::run(&config, orders.clone(), &mut events))
        {
            Ok(summary) => summary,
            Err(failed) => panic!("seed {seed}: {failed}\nreplay: {replay}"),
        };
        if let Err(broken) = crate::invariants::check(&config, orders.len(), &events, &summary) {
            panic!("seed {seed}: {broken}\nreplay: {replay}");
        }
        reached.extend(
            summary
                .coverage
                .endings()
                .filter(|(_, instances)| *instances > 0)
                .map(|(ending, _)| ending.to_owned()),
        );
    }
    reached
}

/// 200 seeds x 1,000 orders with randomly drawn fault mixes: every invariant holds, and
/// together they reach every ending the shop has.
#[test]
fn a_seed_swarm_keeps_every_invariant_and_reaches_every_ending() {
    let reached = swarm(1..=200);
    let possible: BTreeSet<String> = Shop::endings()
        .expect("the shop says its endings")
        .into_iter()
        .collect();
    assert_eq!(
        possible.difference(&reached).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "endings never reached"
    );
    assert_eq!(
        reached, possible,
        "every ending reached is one the shop says it has"
    );
}

/// The swarm on the real clock (on the multi-thread runtime, services on both cores): 30 seeds x
/// 300 orders with every fault but latency; every order ends within the 10 s limit (a
/// fraction of a second when nothing stalls) and every invariant holds.
#[test]
fn a_seed_swarm_on_the_real_clock_keeps_every_invariant_and_never_stalls() {
    swarm_on(Clock::Real, 1..=30, 300);
}

/// The long swarm: `CHOREO_SWARM_SEEDS=10000 cargo test --release long_seed_swarm -- --ignored`.
#[test]
#[ignore = "long: run on demand"]
fn long_seed_swarm() {
    let seeds = std::env::var("CHOREO_SWARM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    swarm(1..=seeds);
}

/// Per order, its event kinds in order.
fn flows(events: &[Envelope]) -> BTreeMap<u64, Vec<EventKind>> {
    let mut flows: BTreeMap<u64, Vec<EventKind>> = BTreeMap::new();
    for envelope in events {
        flows
            .entry(envelope.order_id.get())
            .or_default()
            .push(envelope.kind());
    }
    flows
}

/// Runs a scenario of `config/scenarios/` on the test's (paused) runtime and checks every
/// invariant.
async fn scenario(name: &str) -> (Config, Vec<Order>, Vec<Envelope>, Summary) {
    scenario_with(name, &[]).await
}

/// [`scenario`], with `sets` applied over the scenario's config.
async fn scenario_with(
    name: &str,
    sets: &[String],
) -> (Config, Vec<Order>, Vec<Envelope>, Summary) {
    let config = config(Some(&format!("config/scenarios/{name}.toml")), sets);
    let orders = swarm_orders();
    let mut events: Vec<Envelope> = Vec::new();
    let summary = supervisor::run(&config, orders.clone(), &mut events)
        .await
        .unwrap_or_else(|failed| panic!("{name}: {failed}"));
    crate::invariants::check(&config, orders.len(), &events, &summary)
        .unwrap_or_else(|broken| panic!("{name}: {broken}"));
    (config, orders, events, summary)
}

/// A slow, flaky payment gateway: retries show in the events, some payments are declined for
/// timing out (and their stock released), and the latency tail grows.
#[tokio::test(start_paused = true)]
async fn a_slow_payment_gateway_declines_after_its_retries() {
    let (_config, _orders, events, summary) = scenario("slow-payment-gateway").await;
    let retried = events
        .iter()
        .filter(|e| matches!(e.event, Event::PaymentProcessed { attempts, .. } if attempts > 1))
        .count();
    let timed_out: Vec<&Envelope> = events
        .iter()
        .filter(|e| {
            matches!(&e.event, Event::PaymentDeclined(d) if d.reason == DeclineReason::GatewayTimeout && d.attempts == 3)
        })
        .collect();
    assert!(retried > 0, "some charges needed a retry");
    assert!(!timed_out.is_empty(), "some charges ran out of attempts");
    let flows = flows(&events);
    for declined in timed_out {
        assert_eq!(
            flows[&declined.order_id.get()][2..],
            [
                EventKind::PaymentDeclined,
                EventKind::InventoryReleased,
                EventKind::OrderCancelled
            ]
        );
    }
    let completed = summary.latency_ms.by_state()[0].1;
    assert!(completed.p99 > 300.0, "a timeout is 300 ms: {completed:?}");
    // Self-contained: the gateway is the only way an order fails.
    assert_eq!(
        summary.rejected, 0,
        "no order lacks stock or a catalog entry"
    );
    assert_eq!(
        summary.cancelled,
        events
            .iter()
            .filter(|e| matches!(&e.event, Event::PaymentDeclined(d) if d.reason == DeclineReason::GatewayTimeout))
            .count() as u64,
        "every cancellation is a gateway timeout"
    );
}

thread_local! {
    /// Panics on this thread, counted by the hook of
    /// `a_simulated_crash_restarts_its_service_without_a_panic`.
    static PANICS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A simulated crash ends its service's task with an error, not a panic: nothing unwinds
/// (unwinding took a fifth of the chaos scenario's instructions), and the service is restarted
/// all the same. (The hook goes in after a first run, so that it sees every panic whatever
/// hook a run installs.)
#[tokio::test(start_paused = true)]
async fn a_simulated_crash_restarts_its_service_without_a_panic() {
    scenario("crashing-inventory").await;
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.with(|n| n.set(n.get() + 1));
        default(info);
    }));
    let (_config, orders, _events, summary) = scenario("crashing-inventory").await;
    let restarts = summary.restarts[&choreo::shop::ServiceName::InventoryService];
    assert!(restarts > 50, "{restarts} restarts");
    assert_eq!(summary.finished(), orders.len() as u64);
    assert_eq!(
        PANICS.with(std::cell::Cell::get),
        0,
        "a panic on the run's thread"
    );
}

/// The real clock runs a run in process on one thread: the services share one bus, and
/// across threads every event moved its slots between cores.
#[test]
fn the_real_clock_runs_on_one_thread() {
    let runtime = runtime(Clock::Real).expect("runtime");
    assert_eq!(
        runtime.handle().runtime_flavor(),
        tokio::runtime::RuntimeFlavor::CurrentThread
    );
}

/// A crashing InventoryService is restarted with its state and the interrupted event: nothing
/// is lost, nothing done twice, and every order ends once (checked by the invariants).
#[tokio::test(start_paused = true)]
async fn a_crashing_inventory_is_restarted_without_losing_or_repeating_work() {
    let (_config, orders, events, summary) = scenario("crashing-inventory").await;
    let restarts = summary.restarts[&choreo::shop::ServiceName::InventoryService];
    assert!(restarts > 50, "{restarts} restarts");
    assert_eq!(summary.finished(), orders.len() as u64);
    let reservations = events
        .iter()
        .filter(|e| e.kind() == EventKind::InventoryChecked)
        .count();
    let refusals = events
        .iter()
        .filter(|e| e.kind() == EventKind::InventoryUnavailable)
        .count();
    assert_eq!(
        reservations + refusals,
        orders.len(),
        "each order checked once"
    );
    // Self-contained: crashes are all that happens; every order completes.
    assert_eq!(summary.completed, orders.len() as u64, "{summary:?}");
}

/// Every service crashes after publishing some of its decisions (before recording the event
/// as handled): restarted from its state as of its last completed event, it decides the
/// redelivered event again and publishes the same events, which the bus drops by id. Nothing
/// is lost, nothing done twice, every order ends once.
#[tokio::test(start_paused = true)]
async fn crashes_after_publishing_lose_nothing_and_repeat_nothing() {
    let mut sets = vec!["simulation.faults.inventory.crash=0".to_owned()];
    for service in ["order", "inventory", "payment", "shipping"] {
        sets.push(format!(
            "simulation.faults.{service}.crash_after_publish=0.1"
        ));
    }
    let (_config, orders, events, summary) = scenario_with("crashing-inventory", &sets).await;
    let restarts: u64 = summary.restarts.values().sum();
    assert!(restarts > 100, "{restarts} restarts");
    assert!(
        summary.republished > 50,
        "restarted services publish again what they published before the crash: {}",
        summary.republished
    );
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), events.len(), "no event published twice");
    assert_eq!(summary.completed, orders.len() as u64, "{summary:?}");
}

/// A duplicate storm (every event delivered twice, a third late): duplicates are ignored by
/// event id, so no event is published twice and every order still takes one whole path, to
/// completion (the scenario's catalog has room for every order).
#[tokio::test(start_paused = true)]
async fn a_duplicate_storm_publishes_nothing_twice() {
    let (_config, orders, events, summary) = scenario("duplicate-storm").await;
    // Self-contained: duplicates change nothing; every order completes.
    assert_eq!(summary.completed, orders.len() as u64, "{summary:?}");
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), events.len(), "no event published twice");
    // Each order took one complete path of the flow.
    for (order_id, flow) in flows(&events) {
        assert_eq!(flow[0], EventKind::OrderCreated, "order {order_id}");
        assert!(
            flow.last().is_some_and(|k| k.is_terminal()),
            "order {order_id}"
        );
    }
    assert_eq!(flows(&events).len(), orders.len());
}

/// Chaos: every fault at once. Poison events are dead-lettered and their orders compensated
/// and cancelled with that reason; every invariant still holds.
#[tokio::test(start_paused = true)]
async fn chaos_dead_letters_poison_and_keeps_every_invariant() {
    let (_config, _orders, events, summary) = scenario("chaos").await;
    assert!(!summary.dead_letters.is_empty());
    for letter in &summary.dead_letters {
        let last = events
            .iter()
            .rev()
            .find(|e| e.order_id == letter.order_id)
            .expect("events");
        assert_eq!(
            last.event,
            Event::OrderCancelled {
                reason: CancelReason::DeadLettered
            },
            "order {}",
            letter.order_id
        );
    }
    assert!(summary.restarts.values().sum::<u64>() > 0);
}

/// The binary prints the seed it uses, and the same seed gives the same bytes and summary.
#[test]
fn the_binary_prints_its_seed_and_replays_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The chaos scenario with `seed`, its summary (less `machine`: wall time and memory).
    let chaos = |seed: &str| {
        let summary = dir.path().join(format!("{seed}.json"));
        let summary = summary.to_str().expect("utf-8");
        let run = choreo([
            "run",
            "orders/swarm.jsonl",
            "--config",
            "config/scenarios/chaos.toml",
            "--format",
            "json",
            "--seed",
            seed,
            "--summary",
            summary,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(summary).expect("summary"))
                .expect("JSON");
        json.as_object_mut().expect("object").remove("machine");
        (run, json)
    };
    let (first, first_summary) = chaos("42");
    let (second, second_summary) = chaos("42");
    assert!(
        first.stderr.starts_with("choreo: seed 42\n"),
        "{}",
        first.stderr
    );
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(first_summary, second_summary);
    let (other, _) = chaos("43");
    assert_ne!(first.stdout, other.stdout, "another seed, another run");
}

/// Every scenario on the real clock, with the first 300 orders and its times shrunk (see
/// [`on_the_real_clock`]): every order ends, nothing is lost or doubled, every invariant holds.
#[test]
fn every_scenario_runs_on_the_real_clock_without_a_stall() {
    let orders: Vec<Order> = swarm_orders().into_iter().take(300).collect();
    for name in [
        "chaos",
        "crashing-inventory",
        "duplicate-storm",
        "slow-payment-gateway",
    ] {
        for seed in 1..=3 {
            let mut sets = Vec::new();
            on_the_real_clock(&mut sets);
            // Crashes after publishing too, on every service: the restart hand-over's
            // hardest case.
            for service in ["order", "inventory", "payment", "shipping"] {
                sets.push(format!(
                    "simulation.faults.{service}.crash_after_publish=0.05"
                ));
            }
            let mut config = config(Some(&format!("config/scenarios/{name}.toml")), &sets);
            config.simulation.seed = seed;
            let runtime = runtime(Clock::Real).expect("runtime");
            let mut events: Vec<Envelope> = Vec::new();
            let summary = runtime
                .block_on(supervisor::run(&config, orders.clone(), &mut events))
                .unwrap_or_else(|failed| panic!("{name}, seed {seed}, real clock: {failed}"));
            crate::invariants::check(&config, orders.len(), &events, &summary)
                .unwrap_or_else(|broken| panic!("{name}, seed {seed}, real clock: {broken}"));
        }
    }
}
