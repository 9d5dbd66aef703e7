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
