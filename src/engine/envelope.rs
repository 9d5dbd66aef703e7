//! The envelope every event travels in, its id, and sets of kinds.
//!
//! An event is the business fact ("inventory was checked for order 1"); an [`Envelope`] adds
//! what the bus and the observers need: a unique id, the instance it belongs to
//! (correlation), the event that caused it (causation) and its position on the bus (sequence).

use derive_where::derive_where;
use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::engine::choreography::{Choreography, Name, Outcome};
use crate::input::InstanceId;

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
        let (order, kind) = text.split_once('.').ok_or_else(invalid)?;
        let order_id =
            InstanceId::new(order.parse().map_err(|_| invalid())?).ok_or_else(invalid)?;
        let kind = K::parse(kind).ok_or_else(invalid)?;
        Ok(EventId { order_id, kind })
    }
}

/// An event as it travels on the bus.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
#[derive_where(Clone, Debug, PartialEq)]
pub struct Envelope<C: Choreography> {
    /// Position on the bus: every subscriber receives events in this order, starting at 0.
    pub seq: u64,
    /// When it was published, in microseconds since the run started: simulated time with
    /// the virtual clock, wall time with the real one.
    pub at_us: u64,
    /// Unique and stable across redeliveries; see [`EventId`].
    pub id: EventId<C::Kind>,
    /// The instance this event belongs to (correlation id); `order_id` in every
    /// choreography's journal.
    pub order_id: InstanceId,
    /// The service that emitted the event.
    pub service: C::Service,
    /// The event this one reacts to (causation id); `None` for an instance's first event.
    pub cause: Option<EventId<C::Kind>>,
    #[serde(flatten)]
    pub event: C::Event,
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

impl<C: Choreography> fmt::Display for Facts<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        C::facts(self.0, f)
    }
}

/// A set of kinds (or any [`Name`]s), as a bit mask: a service's subscriptions are checked on
/// every event it receives, so the check must cost next to nothing.
pub struct Kinds<K> {
    bits: u64,
    kinds: PhantomData<K>,
}

impl<K: Name> Kinds<K> {
    /// The most names a set holds.
    pub const MAX: usize = 64;

    pub const fn empty() -> Self {
        Kinds {
            bits: 0,
            kinds: PhantomData,
        }
    }

    pub fn of(kinds: &[K]) -> Self {
        let mut set = Self::empty();
        for kind in kinds {
            set.insert(*kind);
        }
        set
    }

    fn bit(kind: K) -> u64 {
        // `Name`s beyond 64 are refused when a choreography starts (see `Spawner`); the
        // wrapping shift keeps a misuse from panicking here.
        1u64.wrapping_shl(kind.index() as u32)
    }

    pub fn contains(self, kind: K) -> bool {
        self.bits & Self::bit(kind) != 0
    }

    pub fn insert(&mut self, kind: K) {
        self.bits |= Self::bit(kind);
    }

    pub fn union(self, other: Self) -> Self {
        Kinds {
            bits: self.bits | other.bits,
            kinds: PhantomData,
        }
    }

    pub fn difference(self, other: Self) -> Self {
        Kinds {
            bits: self.bits & !other.bits,
            kinds: PhantomData,
        }
    }

    pub fn is_empty(self) -> bool {
        self.bits == 0
    }

    /// The names in the set, in [`Name::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = K> {
        K::ALL.iter().copied().filter(move |k| self.contains(*k))
    }
}

impl<K> Clone for Kinds<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Kinds<K> {}

impl<K> PartialEq for Kinds<K> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl<K> Eq for Kinds<K> {}

impl<K> Default for Kinds<K> {
    fn default() -> Self {
        Kinds {
            bits: 0,
            kinds: PhantomData,
        }
    }
}

impl<K: Name> fmt::Debug for Kinds<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}
