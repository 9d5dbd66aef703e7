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

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, BusError, Subscription};
use crate::event::{Envelope, Event, EventKind, Kinds, ServiceName};
use crate::order::OrderId;

pub use inventory::InventoryService;
pub use order::OrderService;
pub use payment::PaymentService;
pub use shipping::ShippingService;

/// One service's decisions: event in, events out.
pub trait Service: Send + 'static {
    const NAME: ServiceName;
    /// The events this service reacts to; every other event is passed over.
    const SUBSCRIBES: Kinds;
    /// The events this service may publish. Publishing anything else fails the service, so the
    /// declared wiring is the real one.
    const PUBLISHES: Kinds;

    /// Decides what follows `event` (one of [`Self::SUBSCRIBES`]) and pushes it to `out`.
    /// Everything pushed belongs to the same order and is caused by `event`.
    fn handle(&mut self, event: &Envelope, out: &mut Vec<Event>);

    /// The order reached its terminal event: drop whatever is kept for it, so memory is
    /// bounded by the orders in flight.
    fn finish(&mut self, order_id: OrderId);
}

/// Remembers which events of each order in flight a service has already taken, so an event
/// delivered twice (same id) is acted on once. An order's record goes when the order is
/// finished; the ids of the last `window` finished orders are kept so that a late duplicate of
/// one of their events is recognised too.
#[derive(Debug)]
pub struct Inbox {
    taken: HashMap<OrderId, Kinds>,
    finished: VecDeque<OrderId>,
    finished_set: HashSet<OrderId>,
    window: usize,
}

impl Inbox {
    pub fn new(window: usize) -> Self {
        Inbox {
            taken: HashMap::new(),
            finished: VecDeque::with_capacity(window),
            finished_set: HashSet::with_capacity(window),
            window,
        }
    }

    /// Records the delivery; `false` if this event was taken before.
    pub fn take(&mut self, envelope: &Envelope) -> bool {
        if self.finished_set.contains(&envelope.order_id) {
            return false;
        }
        let taken = self.taken.entry(envelope.order_id).or_default();
        if taken.contains(envelope.kind()) {
            return false;
        }
        taken.insert(envelope.kind());
        true
    }

    /// Forgets a finished order, keeping its id among the last `window` finished.
    pub fn finish(&mut self, order_id: OrderId) {
        self.taken.remove(&order_id);
        if self.window == 0 {
            return;
        }
        if self.finished.len() == self.window {
            if let Some(oldest) = self.finished.pop_front() {
                self.finished_set.remove(&oldest);
            }
        }
        self.finished.push_back(order_id);
        self.finished_set.insert(order_id);
    }

    /// Orders with a record: those in flight.
    pub fn in_flight(&self) -> usize {
        self.taken.len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("{service} published {kind}, which it does not declare in PUBLISHES")]
    Undeclared {
        service: ServiceName,
        kind: EventKind,
    },
}

/// Runs `service` until `cancel` fires: receive, decide, publish.
///
/// Returns an error, ending the task, when the subscription lags or closes: a service that
/// missed events can no longer be trusted to decide, and the supervisor fails the run.
pub async fn run<S: Service>(
    mut service: S,
    mut events: Subscription,
    bus: Arc<Bus>,
    cancel: CancellationToken,
    dedup_window: usize,
) -> Result<(), ServiceError> {
    let mut out = Vec::new();
    let mut inbox = Inbox::new(dedup_window);
    loop {
        let envelope = tokio::select! {
            // Cancellation first: once told to stop, a service stops, even with events queued.
            biased;
            () = cancel.cancelled() => return Ok(()),
            received = events.recv() => received?,
        };
        let kind = envelope.kind();
        let _span =
            tracing::trace_span!("handle", order_id = %envelope.order_id, event = %kind).entered();
        // Every event passes the inbox, subscribed or not: the loop must see terminal events
        // to forget finished orders.
        if !inbox.take(&envelope) {
            tracing::debug!(id = %envelope.id, "duplicate delivery ignored");
            continue;
        }
        if S::SUBSCRIBES.contains(kind) {
            service.handle(&envelope, &mut out);
            for event in out.drain(..) {
                let kind = event.kind();
                if !S::PUBLISHES.contains(kind) {
                    return Err(ServiceError::Undeclared {
                        service: S::NAME,
                        kind,
                    });
                }
                tracing::trace!(%kind, "publish");
                bus.publish(envelope.order_id, S::NAME, Some(envelope.id), event)?;
            }
        }
        if kind.is_terminal() {
            service.finish(envelope.order_id);
            inbox.finish(envelope.order_id);
        }
    }
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

/// Test support: what `service` publishes in reaction to `event` for `order_id`, checked
/// against what it declares.
#[cfg(test)]
pub(crate) fn react<S: Service>(service: &mut S, order_id: u64, event: Event) -> Vec<Event> {
    let envelope = delivered(order_id, ServiceName::OrderService, event);
    assert!(S::SUBSCRIBES.contains(envelope.kind()), "not subscribed");
    let mut out = Vec::new();
    service.handle(&envelope, &mut out);
    for event in &out {
        assert!(
            S::PUBLISHES.contains(event.kind()),
            "undeclared {}",
            event.kind()
        );
    }
    out
}

/// Cents as dollars, as the narration and summary print them: `$19.99`.
#[derive(Debug, Clone, Copy)]
pub struct Money(pub u64);

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "${}.{:02}", self.0 / 100, self.0 % 100)
    }
}
