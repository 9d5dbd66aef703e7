//! PaymentService: takes payment once inventory is checked.

use std::io;

use crate::event::{Envelope, Event, EventKind, Kinds, ServiceName};
use crate::order::OrderId;

use super::order::unreachable_narration;
use super::Service;

#[derive(Debug, Default)]
pub struct PaymentService;

impl Service for PaymentService {
    const NAME: ServiceName = ServiceName::PaymentService;
    const SUBSCRIBES: Kinds =
        Kinds::of(&[EventKind::InventoryChecked, EventKind::PaymentProcessed]);
    const PUBLISHES: Kinds = Kinds::of(&[EventKind::PaymentProcessed]);

    fn handle(&mut self, event: &Envelope, out: &mut Vec<Event>) {
        if let Event::InventoryChecked { .. } = event.event {
            out.push(Event::PaymentProcessed);
        }
    }
}

pub(super) fn narrate(
    event: &Event,
    order_id: OrderId,
    out: &mut impl io::Write,
) -> io::Result<()> {
    match event {
        Event::PaymentProcessed => {
            writeln!(
                out,
                "PaymentService: Processing payment for order {order_id}"
            )?;
            writeln!(
                out,
                "PaymentService: Payment processed for order {order_id}"
            )
        }
        other => unreachable_narration(ServiceName::PaymentService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{ProductId, Quantity};
    use crate::service::{delivered, react};

    #[test]
    fn checked_inventory_is_followed_by_payment() {
        let checked = delivered(
            7,
            ServiceName::InventoryService,
            Event::InventoryChecked {
                product_id: ProductId::new(1).expect("valid"),
                quantity: Quantity::new(1).expect("valid"),
            },
        );
        assert_eq!(
            react(&mut PaymentService, &checked),
            [Event::PaymentProcessed]
        );
        let processed = delivered(7, ServiceName::PaymentService, Event::PaymentProcessed);
        assert!(react(&mut PaymentService, &processed).is_empty());
    }
}
