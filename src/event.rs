//! The events services exchange, and the envelope every event travels in.
//!
//! An [`Event`] is the business fact ("inventory was checked for order 1"); an [`Envelope`] adds
//! what the bus and the observers need: a unique id, the order it belongs to (correlation), the
//! event that caused it (causation) and its position on the bus (sequence).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::order::{Order, OrderId, ProductId, Quantity};

/// What happened, with the facts a reader needs to understand why.
///
/// Serialized with an `event` tag holding the variant's name exactly as the reference spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum Event {
    /// OrderService accepted a new order.
    OrderCreated {
        product_id: ProductId,
        quantity: Quantity,
    },
    /// InventoryService checked stock for the order.
    InventoryChecked {
        product_id: ProductId,
        quantity: Quantity,
    },
    /// PaymentService took payment for the order.
    PaymentProcessed,
    /// ShippingService arranged shipping: the order is complete.
    ShippingArranged,
}

impl Event {
    /// The event's kind, without its facts.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::OrderCreated { .. } => EventKind::OrderCreated,
            Event::InventoryChecked { .. } => EventKind::InventoryChecked,
            Event::PaymentProcessed => EventKind::PaymentProcessed,
            Event::ShippingArranged => EventKind::ShippingArranged,
        }
    }

    /// The first event of every order.
    pub fn order_created(order: &Order) -> Self {
        Event::OrderCreated {
            product_id: order.product_id,
            quantity: order.quantity,
        }
    }
}

/// The kinds of [`Event`], small enough to keep in a bit set ([`Kinds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    OrderCreated,
    InventoryChecked,
    PaymentProcessed,
    ShippingArranged,
}

impl EventKind {
    /// Every kind, in the order of the happy path.
    pub const ALL: [EventKind; 4] = [
        EventKind::OrderCreated,
        EventKind::InventoryChecked,
        EventKind::PaymentProcessed,
        EventKind::ShippingArranged,
    ];

    /// The name as the reference spells it, which is also its JSON name.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::OrderCreated => "OrderCreated",
            EventKind::InventoryChecked => "InventoryChecked",
            EventKind::PaymentProcessed => "PaymentProcessed",
            EventKind::ShippingArranged => "ShippingArranged",
        }
    }

    /// Whether an order that reached this event is finished: no service reacts to it with
    /// another event for the same order.
    pub fn is_terminal(self) -> bool {
        matches!(self, EventKind::ShippingArranged)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`EventKind`]s, as a bit mask: a service's subscriptions are checked on every
/// event it receives, so the check must cost next to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kinds(u32);

impl Kinds {
    pub const fn of(kinds: &[EventKind]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < kinds.len() {
            bits |= 1 << kinds[i] as u32;
            i += 1;
        }
        Kinds(bits)
    }

    pub const fn contains(self, kind: EventKind) -> bool {
        self.0 & (1 << kind as u32) != 0
    }

    /// The kinds in the set, in [`EventKind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = EventKind> {
        EventKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }
}

/// The services of the choreography.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ServiceName {
    OrderService,
    InventoryService,
    PaymentService,
    ShippingService,
}

impl ServiceName {
    pub const ALL: [ServiceName; 4] = [
        ServiceName::OrderService,
        ServiceName::InventoryService,
        ServiceName::PaymentService,
        ServiceName::ShippingService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::OrderService => "OrderService",
            ServiceName::InventoryService => "InventoryService",
            ServiceName::PaymentService => "PaymentService",
            ServiceName::ShippingService => "ShippingService",
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A unique, deterministic event id: the order it belongs to and the event's kind.
///
/// Each kind happens at most once per order (every order is one path through the flow), so
/// the pair is unique. Because the emitter derives it from the facts alone, an event that is
/// published again (a redelivery, a service recovering from a crash) keeps its id, which is what
/// lets consumers drop duplicates, and what a broker's de-duplication (JetStream's
/// `Nats-Msg-Id`) keys on. Written as `"<order_id>.<EventKind>"`, e.g. `"1.OrderCreated"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    pub order_id: OrderId,
    pub kind: EventKind,
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.order_id, self.kind)
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(deserializer)?;
        let invalid = || D::Error::custom(format!("invalid event id `{text}`"));
        let (order, kind) = text.split_once('.').ok_or_else(invalid)?;
        let order_id = OrderId::new(order.parse().map_err(|_| invalid())?).ok_or_else(invalid)?;
        let kind = EventKind::ALL
            .into_iter()
            .find(|k| k.name() == kind)
            .ok_or_else(invalid)?;
        Ok(EventId { order_id, kind })
    }
}

/// An event as it travels on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Position on the bus: every subscriber receives events in this order, starting at 0.
    pub seq: u64,
    /// Unique and stable across redeliveries; see [`EventId`].
    pub id: EventId,
    /// The order this event belongs to (correlation id).
    pub order_id: OrderId,
    /// The service that emitted the event.
    pub service: ServiceName,
    /// The event this one reacts to (causation id); `None` for an order's first event.
    pub cause: Option<EventId>,
    #[serde(flatten)]
    pub event: Event,
}

impl Envelope {
    pub fn kind(&self) -> EventKind {
        self.event.kind()
    }
}
