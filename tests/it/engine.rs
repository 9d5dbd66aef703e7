//! The engine on its own, with a tiny two-service choreography and no shop: admission, the lag
//! tripwire, crash restarts, de-duplication and the time limit.
//!
//! `Relay`: the caller asks (`Asked`, from the input record), the echo answers (`Answered`)
//! or refuses (`Refused`, terminal) when the record says so, and the caller closes
//! (`Closed`, terminal) once answered.

use std::collections::HashSet;
use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

use choreo::config::Config;
use choreo::engine::{
    self, Cause, Choreography, Envelope, Failure, Outbox, Outcome, Role, Service, Services,
    SpawnError,
};
use choreo::input::{InstanceId, Record};

use crate::helpers::{NoConfig, NoStats};

#[derive(Debug, Clone, Copy)]
struct Relay;

choreo::names! {
    /// The relay's services.
    enum Node { Caller = "caller", Echo = "echo" }
}

choreo::names! {
    /// The relay's event kinds.
    enum Step { Asked, Answered, Refused, Closed }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
enum Signal {
    Asked { refuse: bool, twice: bool },
    Answered,
    Refused,
    Closed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    order_id: InstanceId,
    #[serde(default)]
    refuse: bool,
    /// Makes the echo answer twice: a kind published twice for one instance.
    #[serde(default)]
    twice: bool,
}

impl Record for Call {
    fn id(&self) -> InstanceId {
        self.order_id
    }

    fn at_ms(&self) -> Option<u64> {
        None
    }
}

#[derive(Debug, Clone, Hash)]
struct Caller;

impl Service<Relay> for Caller {
    const NAME: Node = Node::Caller;
    const SUBSCRIBES: &'static [Step] = &[Step::Answered];
    const PUBLISHES: &'static [Step] = &[Step::Asked, Step::Closed];
    type State = ();

    fn handle(&mut self, _state: &mut (), _event: &Envelope<Relay>, out: &mut Outbox<Relay>) {
        out.publish(Signal::Closed);
    }
}

/// Answers each instance once; counts what it handled, to show duplicates are not handled.
#[derive(Debug, Default, Clone, Hash)]
struct Echo;

impl Service<Relay> for Echo {
    const NAME: Node = Node::Echo;
    const SUBSCRIBES: &'static [Step] = &[Step::Asked];
    const PUBLISHES: &'static [Step] = &[Step::Answered, Step::Refused];
    /// How many times this instance's `Asked` was decided on: must stay at most 1.
    type State = u32;

    fn handle(&mut self, decided: &mut u32, event: &Envelope<Relay>, out: &mut Outbox<Relay>) {
        *decided += 1;
        assert_eq!(*decided, 1, "an event handled twice");
        match event.event {
            Signal::Asked { refuse: true, .. } => out.publish(Signal::Refused),
            Signal::Asked { twice: true, .. } => {
                out.publish(Signal::Answered);
                out.publish(Signal::Answered);
            }
            _ => out.publish(Signal::Answered),
        }
    }
}

impl Choreography for Relay {
    const NAME: &'static str = "relay";
    type Event = Signal;
    type Kind = Step;
    type Service = Node;
    type Input = Call;
    type Config = NoConfig;
    type Stats = NoStats;
    const CONFIG_KEYS: &'static [&'static str] = &[];
    const DEFAULT_CONFIG: &'static str = "";
    const MAX_EVENTS: u64 = 3;

    fn kind(event: &Signal) -> Step {
        match event {
            Signal::Asked { .. } => Step::Asked,
            Signal::Answered => Step::Answered,
            Signal::Refused => Step::Refused,
            Signal::Closed => Step::Closed,
        }
    }

    fn outcome(kind: Step) -> Option<Outcome> {
        match kind {
            Step::Closed => Some(Outcome::Completed),
            Step::Refused => Some(Outcome::Rejected),
            Step::Asked | Step::Answered => None,
        }
    }

    fn role(kind: Step) -> Role {
        match kind {
            Step::Asked | Step::Answered | Step::Closed => Role::Forward,
            Step::Refused => Role::Failure,
        }
    }

    fn start(call: &Call, _config: &NoConfig) -> (Node, Signal) {
        (
            Node::Caller,
            Signal::Asked {
                refuse: call.refuse,
                twice: call.twice,
            },
        )
    }

    fn services(
        _config: &NoConfig,
        _seed: u64,
        services: &mut impl Services<Self>,
    ) -> Result<(), SpawnError> {
        services.add(Caller)?;
        services.add(Echo)
    }

    fn narrate(envelope: &Envelope<Self>, out: &mut impl io::Write) -> io::Result<()> {
        writeln!(
            out,
            "{}: {} {}",
            envelope.service,
            envelope.kind(),
            envelope.order_id
        )
    }

    fn facts(_event: &Signal, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }

    fn cause(envelope: &Envelope<Self>) -> Option<Cause<Node>> {
        (envelope.kind() == Step::Refused).then(|| Cause {
            slug: "refused".into(),
            label: "refused".into(),
            started_by: Some(Node::Echo),
        })
    }
}

fn calls(n: u64) -> impl Iterator<Item = Call> {
    (1..=n).map(|id| Call {
        order_id: InstanceId::new(id).expect("valid id"),
        refuse: id % 10 == 0,
        twice: false,
    })
}

fn config(sets: &[&str]) -> Config<Relay> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Config::load(&[], &sets).expect("valid config")
}

/// Each instance's terminal event, checking there is exactly one and nothing after it.
fn terminals(events: &[Envelope<Relay>]) -> usize {
    let mut finished = HashSet::new();
    for envelope in events {
        assert!(
            !finished.contains(&envelope.order_id),
            "{} after the terminal event of {}",
            envelope.id,
            envelope.order_id
        );
        if envelope.is_terminal() {
            finished.insert(envelope.order_id);
        }
    }
    finished.len()
}

/// Admission keeps even the smallest bus lossless: 20,000 instances through 3 slots (room for
/// one instance's events) all finish, with nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_keeps_a_bus_of_one_instance_lossless() {
    let mut events = Vec::new();
    let summary = engine::run(&config(&["bus.capacity=3"]), calls(20_000), &mut events)
        .await
        .expect("run succeeds");
    assert_eq!(summary.completed, 18_000);
    assert_eq!(summary.rejected, 2_000);
    assert_eq!(summary.lost_events, 0);
    assert_eq!(terminals(&events), 20_000);
}

/// A kind published twice for one instance (one event id, twice) fails the run loudly: the
/// services would take the second for a duplicate and drop it.
#[tokio::test]
async fn a_kind_published_twice_for_one_instance_fails_the_run() {
    let calls = [Call {
        order_id: InstanceId::new(1).expect("valid id"),
        refuse: false,
        twice: true,
    }];
    let mut events = Vec::new();
    let failed = engine::run(&config(&[]), calls, &mut events)
        .await
        .expect_err("refused");
    assert!(
        failed.failures.iter().any(|f| matches!(
            f,
            Failure::Protocol { problem, .. } if problem.contains("1.Answered published a second time")
        )),
        "{failed}"
    );
}

/// A bus smaller than one instance's events is refused when the config is loaded.
#[test]
fn a_bus_without_room_for_one_instance_is_refused() {
    let err = Config::<Relay>::load(&[], &["bus.capacity=2".into()]).unwrap_err();
    assert!(
        err.to_string().contains("from 3 to 1048576, got 2"),
        "{err}"
    );
}

/// A config changed in code is checked before the run: a bus too small is an error naming
/// the key, not a run that can never admit anything.
#[tokio::test]
async fn a_config_changed_in_code_is_checked_before_the_run() {
    let mut config = config(&[]);
    config.bus.capacity = engine::config::Capacity::new(1).expect("in the type's range");
    let mut events = Vec::new();
    let failed = engine::run(&config, calls(3), &mut events)
        .await
        .expect_err("refused");
    assert!(
        matches!(failed.failures.as_slice(), [Failure::Config(message)] if message.contains("bus.capacity")),
        "{failed}"
    );
    assert!(events.is_empty());
}

/// With admission off, subscribers fall behind and the run fails, counting the lost events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_admission_the_lag_tripwire_fails_the_run() {
    let mut events = Vec::new();
    let failed = engine::run(
        &config(&["bus.capacity=4", "bus.admission=false"]),
        calls(50_000),
        &mut events,
    )
    .await
    .expect_err("lag fails the run");
    assert!(failed.summary.lost_events > 0);
    assert!(
        failed.failures.iter().any(|f| matches!(
            f,
            Failure::Bus(engine::bus::BusError::Lagged { .. })
                | Failure::ServiceFailed {
                    error: engine::ServiceError::Bus(engine::bus::BusError::Lagged { .. }),
                    ..
                }
        )),
        "{failed}"
    );
}

/// A service that crashes is restarted from its state as of its last completed event and
/// handles the interrupted event again: every instance finishes, nothing is done twice.
#[tokio::test(start_paused = true)]
async fn a_crashing_service_is_restarted_and_loses_nothing() {
    let config = config(&[
        "simulation.faults.echo.crash=0.2",
        "simulation.faults.max_restarts=100000",
    ]);
    let mut events = Vec::new();
    let summary = engine::run(&config, calls(2_000), &mut events)
        .await
        .expect("run succeeds");
    assert!(
        summary.restarts[&Node::Echo] > 100,
        "{:?}",
        summary.restarts
    );
    assert_eq!(summary.finished(), 2_000);
    let ids: HashSet<_> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), events.len(), "an event id published twice");
}

/// Duplicate and late deliveries are handled once (the echo asserts it for every instance).
#[tokio::test(start_paused = true)]
async fn duplicate_deliveries_are_handled_once() {
    let config = config(&[
        "simulation.faults.echo.duplicate=0.5",
        "simulation.faults.echo.delay=0.2",
        "simulation.faults.echo.delay_ms=5",
        "simulation.faults.caller.duplicate=0.5",
    ]);
    let mut events = Vec::new();
    let summary = engine::run(&config, calls(2_000), &mut events)
        .await
        .expect("run succeeds");
    assert_eq!(summary.finished(), 2_000);
    assert_eq!(
        events.len(),
        2_000 * 3 - 200,
        "three events each, two for a refusal"
    );
}

/// A run that cannot finish in time stops at the limit, listing what did not finish.
#[tokio::test(start_paused = true)]
async fn the_time_limit_stops_a_run_and_names_the_unfinished() {
    let config = config(&[
        r#"simulation.latency.echo={ model = "fixed", ms = 400 }"#,
        "run.time_limit=1s",
    ]);
    let mut events = Vec::new();
    let failed = engine::run(&config, calls(5), &mut events)
        .await
        .expect_err("the limit is reached");
    match failed.failures.as_slice() {
        [Failure::TimeLimit {
            unfinished, stall, ..
        }] => {
            assert!(!unfinished.is_empty(), "some instances unfinished");
            assert!(failed.summary.finished() < 5);
            // What they wait for: each one named, after its last event, with how far every
            // service read the bus.
            assert_eq!(stall.orders.len(), unfinished.len().min(10), "{failed}");
            assert_eq!(stall.orders[0].order_id, unfinished[0]);
            assert!(stall.orders.iter().all(|w| w.last.is_some()), "{failed}");
            assert!(!stall.read.is_empty(), "{failed}");
            assert!(failed.to_string().contains("; waiting: order "), "{failed}");
        }
        other => panic!("expected only a time limit, got {other:?}"),
    }
}

/// A service key the choreography does not have is named, with the ones it has.
#[test]
fn an_unknown_service_in_per_service_config_is_named() {
    let err = Config::<Relay>::load(&[], &["simulation.faults.shipping.crash=0.1".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("simulation.faults"), "{err}");
    assert!(err.contains("shipping") && err.contains("echo"), "{err}");
}
