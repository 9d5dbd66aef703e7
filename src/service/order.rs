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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{delivered, react};

    #[test]
    fn an_order_becomes_order_created_with_its_product_and_quantity() {
        let order: Order =
            serde_json::from_str(r#"{"order_id": 1, "product_id": 101, "quantity": 2}"#)
                .expect("valid order");
        let created = OrderService::create_order(&order);
        assert_eq!(created, Event::order_created(&order));
        let Event::OrderCreated {
            product_id,
            quantity,
        } = created
        else {
            panic!("expected OrderCreated");
        };
        assert_eq!((product_id.get(), quantity.get()), (101, 2));
        let delivered = delivered(1, ServiceName::OrderService, created);
        assert!(react(&mut OrderService, &delivered).is_empty());
    }

    #[test]
    fn narration_matches_the_reference_lines() {
        let order: Order =
            serde_json::from_str(r#"{"order_id": 1, "product_id": 101, "quantity": 2}"#)
                .expect("valid order");
        let mut out = Vec::new();
        narrate(
            &OrderService::create_order(&order),
            order.order_id,
            &mut out,
        )
        .expect("narrate");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "OrderService: Creating order 1\nOrderService: Order 1 created\n"
        );
    }
}
