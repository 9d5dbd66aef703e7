//! InventoryService: checks stock for every created order.

use std::io;

use crate::event::{Envelope, Event, EventKind, Kinds, ServiceName};
use crate::order::OrderId;

use super::order::unreachable_narration;
use super::Service;

#[derive(Debug, Default)]
pub struct InventoryService;

impl Service for InventoryService {
    const NAME: ServiceName = ServiceName::InventoryService;
    const SUBSCRIBES: Kinds = Kinds::of(&[EventKind::OrderCreated, EventKind::InventoryChecked]);
    const PUBLISHES: Kinds = Kinds::of(&[EventKind::InventoryChecked]);

    fn handle(&mut self, event: &Envelope, out: &mut Vec<Event>) {
        if let Event::OrderCreated {
            product_id,
            quantity,
        } = event.event
        {
            out.push(Event::InventoryChecked {
                product_id,
                quantity,
            });
        }
    }
}

pub(super) fn narrate(
    event: &Event,
    order_id: OrderId,
    out: &mut impl io::Write,
) -> io::Result<()> {
    match event {
        Event::InventoryChecked { .. } => {
            writeln!(
                out,
                "InventoryService: Checking inventory for order {order_id}"
            )?;
            writeln!(
                out,
                "InventoryService: Inventory checked for order {order_id}"
            )
        }
        other => unreachable_narration(ServiceName::InventoryService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{ProductId, Quantity};
    use crate::service::{delivered, react};

    #[test]
    fn a_created_order_is_checked_for_the_same_product_and_quantity() {
        let product_id = ProductId::new(101).expect("valid");
        let quantity = Quantity::new(2).expect("valid");
        let created = delivered(
            1,
            ServiceName::OrderService,
            Event::OrderCreated {
                product_id,
                quantity,
            },
        );
        let out = react(&mut InventoryService, &created);
        assert_eq!(
            out,
            [Event::InventoryChecked {
                product_id,
                quantity
            }]
        );
    }

    #[test]
    fn its_own_inventory_checked_is_confirmed_without_new_events() {
        let checked = delivered(
            1,
            ServiceName::InventoryService,
            Event::InventoryChecked {
                product_id: ProductId::new(1).expect("valid"),
                quantity: Quantity::new(1).expect("valid"),
            },
        );
        assert!(react(&mut InventoryService, &checked).is_empty());
    }
}
