//! The contract: what one choreography must say about itself for the engine, the simulator
//! and every view to run it.
//!
//! A [`Choreography`] is a type (usually an empty enum or unit struct) that names its event
//! type, its event kinds, its services, its input records and its config section, and answers
//! the questions the machinery asks: which kinds end an instance and how, how an input record
//! becomes the first event, what each service says about an event, which facts explain it.
//! The engine enumerates services and kinds only through [`Name::ALL`], so a new service or
//! kind is picked up everywhere, and an exhaustive `match` in the choreography's own code is
//! where the compiler asks what it means.

use std::fmt;
use std::hash::Hash;
use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::Config;
use crate::engine::envelope::Envelope;
use crate::engine::service::Service;
use crate::input::{InstanceId, Record};

/// A closed set of names: a choreography's services, or its event kinds. Implement it with
/// [`names!`](crate::names), which writes the enum and this impl from one list.
pub trait Name:
    Copy
    + Eq
    + Ord
    + Hash
    + fmt::Debug
    + fmt::Display
    + Send
    + Sync
    + Serialize
    + DeserializeOwned
    + 'static
{
    /// Every name, in the order views list them (for kinds: the happy path first reads best).
    const ALL: &'static [Self];

    /// The name as written in output and JSON.
    fn name(self) -> &'static str;

    /// Its position in the declaration, 0-based: tables indexed by it cover every name.
    fn index(self) -> usize;

    /// The name spelled `text`, if any.
    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|n| n.name() == text)
    }
}

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
    /// The most events one instance can cause, compensations included. Admission reserves
    /// this much room per instance on the bus; the run fails loudly if an instance exceeds it.
    const MAX_EVENTS: u64;

    /// The kind of an event.
    fn kind(event: &Self::Event) -> Self::Kind;

    /// A service's short name, its key in per-service config tables
    /// (`[simulation.latency] inventory = ...`) and on the command line: lower case, no
    /// spaces.
    fn key(service: Self::Service) -> &'static str;

    /// What reaching `kind` means: `Some` for a terminal kind (the instance is finished;
    /// nothing follows it), `None` for every other.
    fn outcome(kind: Self::Kind) -> Option<Outcome>;

    /// How diagrams and the report draw `kind`.
    fn role(kind: Self::Kind) -> Role;

    /// Checks what the engine cannot: cross-references inside the choreography's config
    /// (a default customer that exists). The message names the key.
    fn validate(config: &Self::Config) -> Result<(), (String, String)> {
        let _ = config;
        Ok(())
    }

    /// The instance's first event, and the service that emits it, for an input record.
    fn start(input: &Self::Input, config: &Self::Config) -> (Self::Service, Self::Event);

    /// Builds every service and hands each to `services`; each service exactly once.
    fn services(
        config: &Config<Self>,
        services: &mut impl Services<Self>,
    ) -> Result<(), SpawnError>;

    /// What the emitting service says about `envelope`: its `Service: message` lines (none
    /// is fine). A function of the event alone, so the text output can be rebuilt from a
    /// journal.
    fn narrate(envelope: &Envelope<Self>, out: &mut impl io::Write) -> io::Result<()>;

    /// The facts that explain `event`, in a few words (`reserved 2 of product 101, 8 left`).
    fn facts(event: &Self::Event, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// One line on how an instance ended, from its terminal event, for the sequence
    /// diagram's last note: `order 7 cancelled: shipping failed`.
    fn ending(terminal: &Envelope<Self>) -> String {
        let outcome = terminal.outcome().map_or("ended", Outcome::name);
        format!(
            "order {} {outcome}: {}",
            terminal.order_id,
            crate::engine::envelope::Facts::<Self>(&terminal.event)
        )
    }

    /// Why an instance did not complete, if `envelope` says so. The report takes the first
    /// event of an instance that gives a cause.
    fn cause(envelope: &Envelope<Self>) -> Option<Cause<Self::Service>>;

    /// The event a service publishes when it gives up on an event that keeps crashing it
    /// (`gave_up_on`, after `crashes` crashes): `None` if the choreography has none, and then
    /// poison events are not simulated.
    fn dead_lettered(gave_up_on: Self::Kind, crashes: u32) -> Option<Self::Event> {
        let _ = (gave_up_on, crashes);
        None
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

/// A service could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    #[error(transparent)]
    Bus(#[from] crate::engine::bus::BusError),
    #[error("{0} was added twice by the choreography")]
    Twice(&'static str),
    #[error("{0} was never added by the choreography")]
    Missing(&'static str),
}

/// An instance id and a kind name, e.g. `1.OrderCreated`, for messages.
pub fn id_text<K: Name>(order_id: InstanceId, kind: K) -> String {
    format!("{order_id}.{}", kind.name())
}

/// Writes an enum and its [`Name`] impl from one list of variants, each with its doc comment.
///
/// ```
/// choreo::names! {
///     /// The trip's services.
///     pub enum TripService { Flights, Hotels }
/// }
/// use choreo::engine::Name;
/// assert_eq!(TripService::ALL, &[TripService::Flights, TripService::Hotels]);
/// assert_eq!(TripService::Hotels.name(), "Hotels");
/// ```
#[macro_export]
macro_rules! names {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, $crate::serde::Serialize, $crate::serde::Deserialize)]
        #[serde(crate = "choreo::serde")]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $crate::engine::Name for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];

            fn name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            fn index(self) -> usize {
                self as usize
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::engine::Name::name(*self))
            }
        }
    };
}
