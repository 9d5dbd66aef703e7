//! ShippingService: arranges shipping once payment is processed, which completes the order.

use std::io;

use crate::event::{Envelope, Event, EventKind, Kinds, ServiceName};
use crate::order::OrderId;

use super::order::unreachable_narration;
use super::Service;

#[derive(Debug, Default)]
pub struct ShippingService;

impl Service for ShippingService {
    const NAME: ServiceName = ServiceName::ShippingService;
    const SUBSCRIBES: Kinds =
        Kinds::of(&[EventKind::PaymentProcessed, EventKind::ShippingArranged]);
    const PUBLISHES: Kinds = Kinds::of(&[EventKind::ShippingArranged]);

    fn handle(&mut self, event: &Envelope, out: &mut Vec<Event>) {
        if let Event::PaymentProcessed = event.event {
            out.push(Event::ShippingArranged);
        }
    }
}

pub(super) fn narrate(
    event: &Event,
    order_id: OrderId,
    out: &mut impl io::Write,
) -> io::Result<()> {
    match event {
        Event::ShippingArranged => {
            writeln!(
                out,
                "ShippingService: Arranging shipping for order {order_id}"
            )?;
            writeln!(
                out,
                "ShippingService: Shipping arranged for order {order_id}"
            )
        }
        other => unreachable_narration(ServiceName::ShippingService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{delivered, react};

    #[test]
    fn processed_payment_is_followed_by_shipping() {
        let processed = delivered(3, ServiceName::PaymentService, Event::PaymentProcessed);
        assert_eq!(
            react(&mut ShippingService, &processed),
            [Event::ShippingArranged]
        );
        let arranged = delivered(3, ServiceName::ShippingService, Event::ShippingArranged);
        assert!(react(&mut ShippingService, &arranged).is_empty());
    }
}
