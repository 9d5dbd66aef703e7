//! OrderService: turns an incoming order into the `OrderCreated` event that starts the flow.

use std::io;

use crate::event::{Envelope, Event, EventKind, Kinds, ServiceName};
use crate::order::{Order, OrderId};

use super::Service;

#[derive(Debug, Default)]
pub struct OrderService;

impl OrderService {
    /// The decision at the edge: a valid order becomes `OrderCreated`. The supervisor, as the
    /// client, calls it and publishes the result on OrderService's behalf.
    pub fn create_order(order: &Order) -> Event {
        Event::order_created(order)
    }
}

impl Service for OrderService {
    const NAME: ServiceName = ServiceName::OrderService;
    // As in the reference: OrderService hears its own `OrderCreated` (and confirms it).
    const SUBSCRIBES: Kinds = Kinds::of(&[EventKind::OrderCreated]);
    const PUBLISHES: Kinds = Kinds::of(&[EventKind::OrderCreated]);

    fn handle(&mut self, _event: &Envelope, _out: &mut Vec<Event>) {
        // Confirming a created order publishes nothing; its line comes from `narrate`.
    }
}

pub(super) fn narrate(
    event: &Event,
    order_id: OrderId,
    out: &mut impl io::Write,
) -> io::Result<()> {
    match event {
        Event::OrderCreated { .. } => {
            writeln!(out, "OrderService: Creating order {order_id}")?;
            writeln!(out, "OrderService: Order {order_id} created")
        }
        other => unreachable_narration(ServiceName::OrderService, other),
    }
}

/// A service narrates only what it publishes, which the task loop enforces.
pub(super) fn unreachable_narration(service: ServiceName, event: &Event) -> io::Result<()> {
    Err(io::Error::other(format!(
        "{service} does not publish {}",
        event.kind()
    )))
}
