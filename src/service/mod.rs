//! Services: each one's decisions as plain code, and the one task loop that runs them all.
//!
//! A [`Service`] decides: given an event it subscribes to, which events follow. It knows
//! nothing of Tokio or of the bus, so its rules are unit-tested directly and could run over
//! another transport unchanged. [`run`] is the only place where a service meets the bus.
//!
//! What a service says about its events (the `Service: message` lines) is also plain code,
//! [`narrate`]: a function of the event alone, so the text output can be rebuilt from the event
//! stream in bus order, whichever task ran first.

pub mod inventory;
pub mod order;
pub mod payment;
pub mod shipping;
pub mod worker;

use std::collections::hash_map::Entry;
use std::io;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::bus::BusError;
use crate::event::{Envelope, Event, EventKind, Kinds, ServiceName};
use crate::order::OrderId;
use crate::recent::Recent;

pub use inventory::InventoryService;
pub use order::OrderService;
pub use payment::PaymentService;
pub use shipping::ShippingService;
pub use worker::{InjectedCrash, Worker};

/// One service's decisions: event in, events out.
pub trait Service: Send + std::fmt::Debug + 'static {
    const NAME: ServiceName;
    /// The events this service reacts to; every other event is passed over.
    const SUBSCRIBES: Kinds;
    /// The events this service may publish. Publishing anything else fails the service, so the
    /// declared wiring is the real one.
    const PUBLISHES: Kinds;

    /// What the service keeps about one order in flight (a reservation, a charge). The task
    /// loop holds it and drops it when the order reaches its terminal event, so memory is
    /// bounded by the orders in flight, and no service has to remember to forget.
    type Order: Default + Send + std::fmt::Debug;

    /// Decides what follows `event` (one of [`Self::SUBSCRIBES`]) for the order it belongs
    /// to, whose state is `order`, and puts it in `out`. Everything published belongs to the
    /// same order and is caused by `event`.
    fn handle(&mut self, order: &mut Self::Order, event: &Envelope, out: &mut Outbox);
}

/// What a decision produces: the events that follow, and how long the service is busy before
/// they go out (waiting on a payment gateway, say), on top of its latency model.
#[derive(Debug, Default)]
pub struct Outbox {
    pub events: Vec<Event>,
    pub busy: Duration,
}

impl Outbox {
    pub fn publish(&mut self, event: Event) {
        self.events.push(event);
    }

    pub fn busy_for(&mut self, duration: Duration) {
        self.busy += duration;
    }
}

/// Per-order state kept by the task loop: the service's own, and which events it has already
/// taken, so an event delivered twice (same id) is acted on once.
///
/// An order's record lives while the order is in flight. When it finishes, the record goes
/// and the order's id joins the last `window` finished orders remembered, so a late duplicate
/// of one of its events is recognised too. Memory: the orders in flight, plus `window` ids.
#[derive(Debug)]
pub struct Inbox<T> {
    live: FxHashMap<OrderId, Record<T>>,
    finished: Recent<OrderId, ()>,
}

#[derive(Debug, Default)]
struct Record<T> {
    taken: Kinds,
    state: T,
}

impl<T: Default> Inbox<T> {
    /// Remembers the last `window` finished orders, and all that finished within `min_age`
    /// (the longest a duplicate can come after the original).
    pub fn new(window: usize, min_age: Duration) -> Self {
        Inbox {
            live: FxHashMap::default(),
            finished: Recent::with_min_age(window, min_age),
        }
    }

    /// Records the delivery and returns the order's state; `None` if this event was taken
    /// before, or its order has finished.
    pub fn take(&mut self, envelope: &Envelope) -> Option<&mut T> {
        let record = match self.live.entry(envelope.order_id) {
            Entry::Occupied(record) => record.into_mut(),
            Entry::Vacant(_) if self.finished.contains(&envelope.order_id) => return None,
            Entry::Vacant(slot) => slot.insert(Record::default()),
        };
        if record.taken.contains(envelope.kind()) {
            return None;
        }
        record.taken.insert(envelope.kind());
        Some(&mut record.state)
    }

    /// Whether `envelope` would be taken, without taking it.
    pub fn is_new(&self, envelope: &Envelope) -> bool {
        match self.live.get(&envelope.order_id) {
            Some(record) => !record.taken.contains(envelope.kind()),
            None => !self.finished.contains(&envelope.order_id),
        }
    }

    /// Drops a finished order's record and remembers its id among the finished.
    pub fn finish(&mut self, order_id: OrderId) {
        self.live.remove(&order_id);
        self.finished.insert(order_id, ());
    }

    /// Orders in flight.
    pub fn in_flight(&self) -> usize {
        self.live.len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("{service} has no worker to run: it was lost in an earlier crash")]
    NoWorker { service: ServiceName },
    #[error("{service} published {kind}, which it does not declare in PUBLISHES")]
    Undeclared {
        service: ServiceName,
        kind: EventKind,
    },
}

/// Writes one line `{before}{order_id}{after}\n`: the happy path's lines, which are most of
/// the output at volume, without the formatting machinery.
pub(super) fn say(
    out: &mut impl io::Write,
    before: &str,
    order_id: OrderId,
    after: &str,
) -> io::Result<()> {
    let mut digits = itoa::Buffer::new();
    out.write_all(before.as_bytes())?;
    out.write_all(digits.format(order_id.get()).as_bytes())?;
    out.write_all(after.as_bytes())?;
    out.write_all(b"\n")
}

/// The line of a `DeadLettered` event, the same for every service.
pub(super) fn dead_lettered(
    out: &mut impl io::Write,
    service: ServiceName,
    gave_up_on: EventKind,
    order_id: OrderId,
    crashes: u32,
) -> io::Result<()> {
    writeln!(
        out,
        "{service}: Gave up on {gave_up_on} for order {order_id} after {crashes} crashes: dead-lettered"
    )
}

/// Writes what the emitting service says about `envelope`, one `Service: message` line each.
pub fn narrate(envelope: &Envelope, out: &mut impl io::Write) -> io::Result<()> {
    let order_id = envelope.order_id;
    match envelope.service {
        ServiceName::OrderService => order::narrate(&envelope.event, order_id, out),
        ServiceName::InventoryService => inventory::narrate(&envelope.event, order_id, out),
        ServiceName::PaymentService => payment::narrate(&envelope.event, order_id, out),
        ServiceName::ShippingService => shipping::narrate(&envelope.event, order_id, out),
    }
}

/// Test support: an envelope as a service would receive it.
#[cfg(test)]
fn delivered(order_id: u64, service: ServiceName, event: Event) -> Envelope {
    let order_id = crate::order::OrderId::new(order_id).expect("valid id");
    Envelope {
        seq: 0,
        at_us: 0,
        id: crate::event::EventId {
            order_id,
            kind: event.kind(),
        },
        order_id,
        service,
        cause: None,
        event,
    }
}

/// Test support: an envelope as a service would receive it.
#[cfg(test)]
pub(crate) fn delivered_for_test(order_id: u64, event: Event) -> Envelope {
    delivered(order_id, ServiceName::OrderService, event)
}

/// Test support: a service with the per-order state the task loop would keep for it.
#[cfg(test)]
pub(crate) struct Harness<S: Service> {
    pub service: S,
    pub orders: std::collections::HashMap<OrderId, S::Order>,
}

#[cfg(test)]
impl<S: Service> Harness<S> {
    pub fn new(service: S) -> Self {
        Harness {
            service,
            orders: std::collections::HashMap::new(),
        }
    }

    /// What the service publishes in reaction to `event` for `order_id`, checked against
    /// what it declares.
    pub fn react(&mut self, order_id: u64, event: Event) -> Vec<Event> {
        let envelope = delivered(order_id, ServiceName::OrderService, event);
        assert!(S::SUBSCRIBES.contains(envelope.kind()), "not subscribed");
        let order = self.orders.entry(envelope.order_id).or_default();
        let mut out = Outbox::default();
        self.service.handle(order, &envelope, &mut out);
        for event in &out.events {
            assert!(
                S::PUBLISHES.contains(event.kind()),
                "undeclared {}",
                event.kind()
            );
        }
        out.events
    }
}

pub use crate::event::Money;

#[cfg(test)]
mod tests {
    use super::*;

    fn created(order_id: u64) -> Envelope {
        delivered(
            order_id,
            ServiceName::OrderService,
            Event::OrderCreated {
                product_id: crate::order::ProductId::new(1).expect("valid"),
                quantity: crate::order::Quantity::new(1).expect("valid"),
                customer_id: crate::order::CustomerId::new(1).expect("valid"),
            },
        )
    }

    #[test]
    fn the_same_event_is_taken_once() {
        let mut inbox = Inbox::<u32>::new(4, Duration::ZERO);
        *inbox.take(&created(1)).expect("first delivery") += 1;
        assert!(inbox.take(&created(1)).is_none(), "second delivery");
        assert!(inbox.take(&created(2)).is_some(), "another order's event");
    }

    #[test]
    fn a_late_duplicate_of_a_finished_order_is_ignored() {
        let mut inbox = Inbox::<u32>::new(2, Duration::ZERO);
        inbox.take(&created(1)).expect("first delivery");
        inbox.finish(OrderId::new(1).expect("valid"));
        assert!(
            inbox.take(&created(1)).is_none(),
            "finished, within the window"
        );
        assert_eq!(inbox.in_flight(), 0);
    }

    #[test]
    fn finishing_drops_the_service_state() {
        let mut inbox = Inbox::<Vec<u8>>::new(10, Duration::ZERO);
        inbox.take(&created(1)).expect("first").extend([1, 2, 3]);
        inbox.finish(OrderId::new(1).expect("valid"));
        assert!(inbox.live.is_empty());
    }
}
