//! The contract: what one choreography must say about itself for the engine, the simulator
//! and every view to run it: [`Choreography`], its [`Service`]s and their [`Outbox`], and
//! the [`Envelope`] every event travels in. (One file, because each of these names the
//! others.)
//!
//! A [`Choreography`] is a type (usually an empty enum or unit struct) that names its event
//! type, its event kinds, its services, its input records and its config section, and answers
//! the questions the machinery asks: which kinds end an instance and how, how an input record
//! becomes the first event, what each service says about an event, which facts explain it.
//! The engine enumerates services and kinds only through [`Name::ALL`], so a new service or
//! kind is picked up everywhere, and an exhaustive `match` in the choreography's own code is
//! where the compiler asks what it means.

use std::fmt;
use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;

use std::time::Duration;

use derive_where::derive_where;
use serde::{Deserialize, Deserializer, Serializer};

use crate::engine::kinds::Kinds;
use crate::engine::monitor::{Monitor, Replay};
use crate::input::ids::AnyIdOf;
use crate::input::{InstanceId, Record};
pub use crate::name::Name;

/// How an instance ended. Every choreography choreo runs is a saga: an instance either did
/// what it was asked ([`Completed`](Outcome::Completed)), was refused before anything had to
/// be undone ([`Rejected`](Outcome::Rejected)), or was undone step by step
/// ([`Cancelled`](Outcome::Cancelled)). The summary counts these three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    Rejected,
    Cancelled,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Completed, Outcome::Rejected, Outcome::Cancelled];

    /// `completed`, `rejected`, `cancelled`: the summary's words.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Rejected => "rejected",
            Outcome::Cancelled => "cancelled",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The role an event kind plays in the flow: how diagrams and the report draw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A step on the way to completion (and the completing step itself).
    Forward,
    /// Something went wrong: a refusal, a failed step, a dead letter.
    Failure,
    /// Undoing an earlier step.
    Compensation,
    /// The end of an instance that did not complete (a rejection, a cancellation).
    Closing,
}

/// Why an instance did not complete, as the report groups failures: a stable key, the words
/// for it, and the service whose failure started it (none for the instance's own refusal).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cause<S> {
    /// Short and URL-safe: `out-of-stock`.
    pub slug: String,
    /// For people: `out of stock`.
    pub label: String,
    pub started_by: Option<S>,
}

/// One choreography, completely: see the module documentation.
pub trait Choreography: Sized + Send + Sync + 'static {
    /// The choreography's name, for messages and generated diagrams (`shop`, `trip`).
    const NAME: &'static str;

    /// The business facts services exchange. Serialized with its kind's name under an `event`
    /// key (`#[serde(tag = "event")]`), which is how journals name it.
    type Event: Clone
        + fmt::Debug
        + PartialEq
        + Send
        + Sync
        + Serialize
        + DeserializeOwned
        + 'static;
    /// The kinds of [`Self::Event`], without their facts: at most 64.
    type Kind: Name;
    /// The services, one task each.
    type Service: Name;
    /// An input record: one instance to run (an order, a booking).
    type Input: Record;
    /// The choreography's own config (the shop's catalog and customers). Its keys are the
    /// top-level tables named in [`Self::CONFIG_KEYS`].
    type Config: Clone + fmt::Debug + PartialEq + Send + Sync + DeserializeOwned + 'static;
    /// What the summary adds for this choreography (the shop's revenue and stock), folded
    /// from the events in bus order.
    type Stats: Stats<Self>;

    /// The config keys the choreography owns: top-level tables (`products`), or dotted paths
    /// inside the engine's (`simulation.faults.gateway`). Everything else is the engine's.
    const CONFIG_KEYS: &'static [&'static str];
    /// The choreography's config defaults, as TOML: every key of [`Self::CONFIG_KEYS`], and
    /// any engine setting it wants other than the engine's default (a latency model per
    /// service, say). The engine's defaults fill the rest.
    const DEFAULT_CONFIG: &'static str;
    /// What its binary says it is, atop `--help`; `None` keeps choreo's own description.
    const ABOUT: Option<&'static str> = None;
    /// Where its default config is written for people to read, as `--help` names it (the
    /// shop's `config/default.toml`); `None`: `config --defaults` prints them.
    const DEFAULT_CONFIG_FILE: Option<&'static str> = None;
    /// The most events one instance can cause, compensations included. Admission reserves
    /// this much room per instance on the bus; the run fails loudly if an instance exceeds it.
    const MAX_EVENTS: u64;

    /// The kind of an event.
    fn kind(event: &Self::Event) -> Self::Kind;

    /// What reaching `kind` means: `Some` for a terminal kind (the instance is finished;
    /// nothing follows it), `None` for every other.
    fn outcome(kind: Self::Kind) -> Option<Outcome>;

    /// How diagrams and the report draw `kind`.
    fn role(kind: Self::Kind) -> Role;

    /// Checks what the engine cannot: cross-references inside the choreography's config
    /// (a default customer that exists). The error names the key, and the keys that make it
    /// wrong ([`Invalid::related`](crate::engine::config::Invalid::related)).
    fn validate(config: &Self::Config) -> Result<(), crate::engine::config::Invalid> {
        let _ = config;
        Ok(())
    }

    /// The instance's first event, and the service that emits it, for an input record.
    fn start(input: &Self::Input, config: &Self::Config) -> (Self::Service, Self::Event);

    /// Builds every service from the choreography's config and hands each to `services`, each
    /// service exactly once. `seed` is the run's: a service that draws at random (the shop's
    /// payment gateway) seeds its own stream from it (`sim::stream(seed, "...")`).
    fn services(
        config: &Self::Config,
        seed: u64,
        services: &mut impl Services<Self>,
    ) -> Result<(), SpawnError>;

    /// What the emitting service says about `envelope`: its `Service: message` lines (none
    /// is fine). A function of the event alone, so the text output can be rebuilt from a
    /// journal.
    fn narrate(envelope: &Envelope<Self>, out: &mut impl io::Write) -> io::Result<()>;

    /// The facts that explain `event`, in a few words (`reserved 2 of product 101, 8 left`).
    fn facts(event: &Self::Event, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// One line on how an instance ended, from its terminal event, for the sequence
    /// diagram's last note: `order 7 cancelled: shipping failed` (the noun is the input
    /// record's, [`Record::noun`]).
    fn ending(terminal: &Envelope<Self>) -> String {
        let outcome = terminal.outcome().map_or("ended", Outcome::name);
        format!(
            "{} {} {outcome}{}",
            <Self::Input as Record>::noun(),
            terminal.order_id,
            Facts::<Self>(&terminal.event).after_colon()
        )
    }

    /// Why an instance did not complete, if `envelope` says so. The report takes the first
    /// event of an instance that gives a cause.
    fn cause(envelope: &Envelope<Self>) -> Option<Cause<Self::Service>>;

    /// Every way an instance can end, in the words of [`ending`](crate::engine::coverage::ending)
    /// (`completed`, `rejected: not enough stock`): what coverage counts the endings reached
    /// against. `None`: not said, and coverage lists the endings reached alone.
    fn endings() -> Option<Vec<String>> {
        None
    }

    /// The event a service publishes when it gives up on an event that keeps crashing it
    /// (`gave_up_on`, after `crashes` crashes): `None` if the choreography has none, and then
    /// poison events are not simulated.
    fn dead_lettered(gave_up_on: Self::Kind, crashes: u32) -> Option<Self::Event> {
        let _ = (gave_up_on, crashes);
        None
    }

    /// The choreography's own invariants, which `choreo check` tests in every state it
    /// reaches (the shop's: no oversell, no charge past a credit limit, every reservation and
    /// charge ended exactly once). `events` is everything published so far: each instance's
    /// events in the order they were published, instances in no particular order (the check
    /// explores every interleaving, so a property must not depend on one). `ended`: nothing
    /// is left to deliver, so every instance should be finished; end-state properties are
    /// checked then. The error says what is broken, in a sentence.
    fn invariant(
        config: &Self::Config,
        events: &[&Envelope<Self>],
        ended: bool,
    ) -> Result<(), String> {
        let _ = (config, events, ended);
        Ok(())
    }

    /// Whether `service`'s handling of an event of `kind` touches what the service shares
    /// between instances (the shop's stock, a customer's credit, a random stream): `false`
    /// says it reads and writes only that instance's own record (its `Service::State`) and
    /// the config, and that [`Self::invariant`] reads what it publishes only instance by
    /// instance (a property over several instances reads only events of shared handlings).
    /// `choreo check` takes the deliveries of such handlings of one instance without
    /// interleaving them with the other instances' (a partial-order reduction: see
    /// docs/checking.md), and stops with a violation if one changes the service's shared
    /// state after all. The default, `true` for every handling, reduces nothing.
    fn shared(service: Self::Service, kind: Self::Kind) -> bool {
        let _ = (service, kind);
        true
    }

    /// What checks [`Self::invariant`] as a run goes (`run.invariants`): the same properties,
    /// taken one event at a time in bus order, each in O(1) and in memory bounded by the
    /// instances in flight. The default, [`Replay`], replays [`Self::invariant`] on each
    /// instance's own events: bounded, but blind to a property only several instances
    /// together break; a choreography with one (a sum over instances) gives its own.
    fn monitor(config: &Self::Config) -> Box<dyn Monitor<Self>> {
        Box::new(Replay::new(config))
    }

    /// The kind a dead letter gave up on, and after how many crashes, if `event` is one.
    fn as_dead_letter(event: &Self::Event) -> Option<(Self::Kind, u32)> {
        let _ = event;
        None
    }
}

/// The choreography's own part of the summary.
pub trait Stats<C: Choreography>: Clone + fmt::Debug + Send + Serialize + 'static {
    /// Nothing recorded yet, for a run of `config`.
    fn new(config: &C::Config) -> Self;
    /// Takes one event into account; events come in bus order.
    fn record(&mut self, envelope: &Envelope<C>);
    /// Lines of the text summary right after the event counts.
    fn headline(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    /// Lines of the text summary before the machine's line.
    fn details(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// Where [`Choreography::services`] hands its services: the supervisor spawns each, the
/// topology diagram only reads their declarations.
pub trait Services<C: Choreography> {
    fn add<S: Service<C>>(&mut self, service: S) -> Result<(), SpawnError>;
}

/// One service's declared wiring, read from its trait constants: what the task loop enforces,
/// and what diagrams and checks are drawn from.
#[derive_where(Debug, Clone, Copy)]
pub struct Declared<C: Choreography> {
    pub name: C::Service,
    pub subscribes: Kinds<C::Kind>,
    pub publishes: Kinds<C::Kind>,
    /// [`Service::FORWARD`].
    pub forward: Option<C::Kind>,
}

/// Every service's declarations, in [`Name::ALL`] order: the services are built from `config`
/// (as a run would), and only their constants are read.
pub fn declarations<C: Choreography>(
    config: &C::Config,
    seed: u64,
) -> Result<Vec<Declared<C>>, SpawnError> {
    struct Collect<C: Choreography>(Vec<Declared<C>>);
    impl<C: Choreography> Services<C> for Collect<C> {
        fn add<S: Service<C>>(&mut self, _service: S) -> Result<(), SpawnError> {
            self.0.push(Declared {
                name: S::NAME,
                subscribes: Kinds::of(S::SUBSCRIBES),
                publishes: Kinds::of(S::PUBLISHES),
                forward: S::FORWARD,
            });
            Ok(())
        }
    }
    let mut collect = Collect(Vec::new());
    C::services(config, seed, &mut collect)?;
    collect.0.sort_by_key(|declared| declared.name.index());
    Ok(collect.0)
}

/// Checks what a set of names promises and the engine relies on: the names' `index`es are
/// `0 .. ALL.len()`, each once (tables are indexed by them; `ALL` may list them in another
/// order), and there are at most [`Kinds::MAX`] (bit sets hold them). A failure is a bug in
/// the choreography, found when it starts.
pub fn check_names<N: Name>(what: &str) -> Result<(), SpawnError> {
    if N::ALL.len() > Kinds::<N>::MAX {
        return Err(SpawnError::Names(format!(
            "{} {what}, more than the {} the engine holds",
            N::ALL.len(),
            Kinds::<N>::MAX
        )));
    }
    let mut taken = vec![false; N::ALL.len()];
    for name in N::ALL {
        match taken.get_mut(name.index()) {
            Some(slot) if !*slot => *slot = true,
            _ => {
                return Err(SpawnError::Names(format!(
                    "{what} {name} has index {}, which is not one of 0 to {} that no other has",
                    name.index(),
                    N::ALL.len() - 1
                )))
            }
        }
    }
    Ok(())
}

/// A service could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    #[error("{service} cannot subscribe to the bus: {reason}")]
    Subscribe {
        service: &'static str,
        reason: String,
    },
    #[error("{0} was added twice by the choreography")]
    Twice(&'static str),
    #[error("{0} was never added by the choreography")]
    Missing(&'static str),
    #[error("the choreography's names are not as the engine needs them: {0}")]
    Names(String),
    /// A flaw in the declared wiring, found when the choreography starts
    /// ([`flow::check_wiring`](crate::flow::check_wiring)).
    #[error("the choreography's wiring is incomplete: {0}")]
    Wiring(String),
}

/// One service's decisions: event in, events out.
///
/// A service is plain data: `Clone` and `Hash` (its state and its per-instance [`State`]
/// alike), so a crash can put it back as it was before the event in hand, and `choreo check`
/// can tell two states of the whole choreography apart. Keep what it holds in types that
/// hash (`BTreeMap` rather than `HashMap`; [`sim::Rng`](crate::sim::Rng) for randomness).
///
/// [`State`]: Service::State
pub trait Service<C: Choreography>:
    Clone + std::hash::Hash + Send + Sync + std::fmt::Debug + 'static
{
    const NAME: C::Service;
    /// The events this service reacts to; every other event is passed over.
    const SUBSCRIBES: &'static [C::Kind];
    /// The events this service may publish. Publishing anything else fails the service, so the
    /// declared wiring is the real one.
    const PUBLISHES: &'static [C::Kind];
    /// The event this service handles on an instance's way forward, if any: the one a poison
    /// event can be, since giving up on it leaves a compensation that undoes what came before.
    const FORWARD: Option<C::Kind> = None;

    /// What the service keeps about one instance in flight (a reservation, a charge). The
    /// task loop holds it and drops it when the instance reaches its terminal event, so memory
    /// is bounded by the instances in flight, and no service has to remember to forget.
    type State: Default + Clone + std::hash::Hash + Send + Sync + std::fmt::Debug;

    /// Decides what follows `event` (one of [`Self::SUBSCRIBES`]) for the instance it belongs
    /// to, whose state is `state`, and puts it in `out`. Everything published belongs to the
    /// same instance and is caused by `event`.
    fn handle(&mut self, state: &mut Self::State, event: &Envelope<C>, out: &mut Outbox<C>);
}

/// What a decision produces: the events that follow, and how long the service is busy before
/// they go out (waiting on a payment gateway, say), on top of its latency model.
#[derive(Debug)]
pub struct Outbox<C: Choreography> {
    pub events: Vec<C::Event>,
    pub busy: Duration,
}

impl<C: Choreography> Default for Outbox<C> {
    fn default() -> Self {
        Outbox {
            events: Vec::new(),
            busy: Duration::ZERO,
        }
    }
}

impl<C: Choreography> Outbox<C> {
    pub fn publish(&mut self, event: C::Event) {
        self.events.push(event);
    }

    pub fn busy_for(&mut self, duration: Duration) {
        self.busy += duration;
    }
}

/// A unique, deterministic event id: the instance it belongs to and the event's kind.
///
/// Each kind happens at most once per instance (every instance is one path through the flow),
/// so the pair is unique. Because the emitter derives it from the facts alone, an event that
/// is published again (a redelivery, a service recovering from a crash) keeps its id, which is
/// what lets consumers drop duplicates, and what a broker's de-duplication (JetStream's
/// `Nats-Msg-Id`) keys on. Written as `"<order_id>.<Kind>"`, e.g. `"1.OrderCreated"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId<K> {
    pub order_id: InstanceId,
    pub kind: K,
}

impl<K: Name> fmt::Display for EventId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.order_id, self.kind.name())
    }
}

impl<K: Name> Serialize for EventId<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de, K: Name> Deserialize<'de> for EventId<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(deserializer)?;
        let invalid = || D::Error::custom(format!("invalid event id `{text}`"));
        // A string id may hold dots; a kind's name does not.
        let (order, kind) = text.rsplit_once('.').ok_or_else(invalid)?;
        // A whole number is a number's id, anything else a string's: an envelope puts its
        // own id in (a string id `"17"` reads as the number here; see `Envelope`).
        let order_id = match order.parse().ok().and_then(InstanceId::new) {
            Some(id) => id,
            None => InstanceId::text(order).map_err(|_| invalid())?,
        };
        let kind = K::parse(kind).ok_or_else(invalid)?;
        Ok(EventId { order_id, kind })
    }
}

/// An event as it travels on the bus.
///
/// In JSON (journals, `--format json`, NATS messages) the instance's id stands under the
/// input record's own id field, [`Record::ID_FIELD`] (`order_id` for the shop, `transfer_id`
/// for a transfer); `order_id` is read as well, so a journal written before instances had
/// their own key stays readable.
#[derive_where(Clone, Debug, PartialEq)]
pub struct Envelope<C: Choreography> {
    /// Position on the bus: every subscriber receives events in this order, starting at 0.
    pub seq: u64,
    /// When it was published, in microseconds since the run started: simulated time with
    /// the virtual clock, wall time with the real one.
    pub at_us: u64,
    /// Unique and stable across redeliveries; see [`EventId`].
    pub id: EventId<C::Kind>,
    /// The instance this event belongs to (correlation id); under the input's id field in
    /// JSON.
    pub order_id: InstanceId,
    /// The service that emitted the event.
    pub service: C::Service,
    /// The event this one reacts to (causation id); `None` for an instance's first event.
    pub cause: Option<EventId<C::Kind>>,
    pub event: C::Event,
}

/// An [`Envelope`] as JSON has it: the fields in the same order, the id under its key, the
/// event's own keys after them (`E` is the event, or a reference to it).
#[derive(Serialize, Deserialize)]
#[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>"))]
struct Wire<C: Choreography, E> {
    seq: u64,
    at_us: u64,
    id: EventId<C::Kind>,
    #[serde(flatten)]
    instance: IdField<C>,
    service: C::Service,
    cause: Option<EventId<C::Kind>>,
    #[serde(flatten)]
    event: E,
}

impl<C: Choreography> Serialize for Envelope<C> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Wire::<C, &C::Event> {
            seq: self.seq,
            at_us: self.at_us,
            id: self.id,
            instance: IdField(self.order_id, std::marker::PhantomData),
            service: self.service,
            cause: self.cause,
            event: &self.event,
        }
        .serialize(serializer)
    }
}

impl<'de, C: Choreography> Deserialize<'de> for Envelope<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::<C, C::Event>::deserialize(deserializer)?;
        let order_id = wire.instance.0;
        // An event id's instance is read without knowing the choreography's kind of id: a
        // string id that looks like a number (`"17"`) is the envelope's own all the same.
        let own = |mut id: EventId<C::Kind>| {
            let same = || order_id.to_string().parse() == Ok(id.order_id.get());
            if order_id.is_text() && !id.order_id.is_text() && same() {
                id.order_id = order_id;
            }
            id
        };
        Ok(Envelope {
            seq: wire.seq,
            at_us: wire.at_us,
            id: own(wire.id),
            order_id,
            service: wire.service,
            cause: wire.cause.map(own),
            event: wire.event,
        })
    }
}

/// An instance's id under the input record's id field: one entry of the envelope's object.
struct IdField<C>(InstanceId, std::marker::PhantomData<C>);

impl<C: Choreography> IdField<C> {
    /// The keys an id is read from: the record's field, and `order_id`, every journal's key
    /// before instances had their own.
    const KEYS: &'static [&'static str] = &[<C::Input as Record>::ID_FIELD, "order_id"];
}

impl<C: Choreography> Serialize for IdField<C> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(<C::Input as Record>::ID_FIELD, &self.0)?;
        map.end()
    }
}

impl<'de, C: Choreography> Deserialize<'de> for IdField<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys<C>(std::marker::PhantomData<C>);
        impl<'de, C: Choreography> serde::de::Visitor<'de> for Keys<C> {
            type Value = IdField<C>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an envelope with `{}`", <C::Input as Record>::ID_FIELD)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<IdField<C>, A::Error> {
                let mut id: Option<InstanceId> = None;
                while let Some(key) = map.next_key::<String>()? {
                    // The record's own key wins over an old `order_id`.
                    if key == IdField::<C>::KEYS[0] || id.is_none() {
                        id = Some(map.next_value::<AnyIdOf>()?.0);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                let field = IdField::<C>::KEYS[0];
                let id = id.ok_or_else(|| serde::de::Error::missing_field(field))?;
                let text = <C::Input as Record>::TEXT_IDS;
                if id.is_text() != text {
                    return Err(serde::de::Error::custom(format_args!(
                        "{field} must be {}, got {}",
                        if text { "a string" } else { "a whole number" },
                        if text { "a number" } else { "a string" },
                    )));
                }
                Ok(IdField(id, std::marker::PhantomData))
            }
        }
        // As a struct of these keys, so that they are taken from the envelope's other
        // entries, which the event reads.
        deserializer.deserialize_struct("IdField", Self::KEYS, Keys(std::marker::PhantomData))
    }
}

impl<C: Choreography> Envelope<C> {
    pub fn kind(&self) -> C::Kind {
        self.id.kind
    }

    /// What reaching this event means for its instance; `None` unless it is terminal.
    pub fn outcome(&self) -> Option<Outcome> {
        C::outcome(self.kind())
    }

    pub fn is_terminal(&self) -> bool {
        self.outcome().is_some()
    }

    /// Whether this event starts its instance: the one event caused by nothing (made from an
    /// input record). An instance's times (`trace`, the report's swimlanes) run from it.
    pub fn is_start(&self) -> bool {
        self.cause.is_none()
    }

    /// How long the step to this event took: from its cause's publication to its own,
    /// queueing included.
    pub fn step_us(&self, cause: &Envelope<C>) -> u64 {
        self.at_us.saturating_sub(cause.at_us)
    }
}

impl<C: Choreography> Eq for Envelope<C> where C::Event: Eq {}

/// The facts of an event that explain what happened to its instance, in a few words.
pub struct Facts<'a, C: Choreography>(pub &'a C::Event);

impl<C: Choreography> fmt::Debug for Facts<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Facts").field(self.0).finish()
    }
}

impl<C: Choreography> Facts<'_, C> {
    /// `: ` and the facts, or nothing for an event without any: for a line that names the
    /// event first (`TransferCancelled by TransferService`).
    pub fn after_colon(&self) -> String {
        let facts = self.to_string();
        if facts.is_empty() {
            facts
        } else {
            format!(": {facts}")
        }
    }
}

impl<C: Choreography> fmt::Display for Facts<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        C::facts(self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written set whose indexes clash.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    enum Shuffled {
        A,
        B,
    }

    impl fmt::Display for Shuffled {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.name())
        }
    }

    impl Name for Shuffled {
        const ALL: &'static [Self] = &[Shuffled::B, Shuffled::A];

        fn name(self) -> &'static str {
            match self {
                Shuffled::A => "A",
                Shuffled::B => "B",
            }
        }

        fn index(self) -> usize {
            0
        }
    }

    crate::names! {
        enum Fine { One, Two }
    }

    #[test]
    fn names_whose_indexes_clash_are_refused() {
        let err = check_names::<Shuffled>("kinds").unwrap_err().to_string();
        assert!(
            err.contains("kinds A has index 0, which is not one of 0 to 1 that no other has"),
            "{err}"
        );
        assert_eq!(check_names::<Fine>("kinds"), Ok(()));
    }
}
