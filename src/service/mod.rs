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

use std::io;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, BusError, Subscription};
use crate::event::{Envelope, Event, EventKind, Kinds, ServiceName};

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
) -> Result<(), ServiceError> {
    let mut out = Vec::new();
    loop {
        let envelope = tokio::select! {
            // Cancellation first: once told to stop, a service stops, even with events queued.
            biased;
            () = cancel.cancelled() => return Ok(()),
            received = events.recv() => received?,
        };
        if !S::SUBSCRIBES.contains(envelope.kind()) {
            continue;
        }
        let _span =
            tracing::trace_span!("handle", order_id = %envelope.order_id, event = %envelope.kind())
                .entered();
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
pub(crate) fn delivered(order_id: u64, service: ServiceName, event: Event) -> Envelope {
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

/// Test support: what `service` publishes in reaction to `envelope`.
#[cfg(test)]
pub(crate) fn react<S: Service>(service: &mut S, envelope: &Envelope) -> Vec<Event> {
    assert!(S::SUBSCRIBES.contains(envelope.kind()), "not subscribed");
    let mut out = Vec::new();
    service.handle(envelope, &mut out);
    out
}
