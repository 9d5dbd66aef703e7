//! ShippingService: ships paid orders that fit in one shipment; fails the rest, which starts
//! the compensation chain.

use std::io;

use crate::shop::event::{Event, EventKind, ServiceName};
use crate::shop::input::{OrderId, ProductId, Quantity};

use super::lines::dead_lettered;
use super::lines::say;
use super::lines::unreachable_narration;
use super::Shop;
use crate::engine::Service;

type Outbox = crate::engine::Outbox<Shop>;
type Envelope = crate::engine::Envelope<Shop>;

#[derive(Debug, Clone, Hash)]
pub struct ShippingService {
    max_quantity: Quantity,
}

impl ShippingService {
    pub fn new(max_quantity_per_shipment: Quantity) -> Self {
        ShippingService {
            max_quantity: max_quantity_per_shipment,
        }
    }
}

impl Service<Shop> for ShippingService {
    const NAME: ServiceName = ServiceName::ShippingService;
    // Giving up on it leaves a compensation that undoes what came before.
    const FORWARD: Option<EventKind> = Some(EventKind::PaymentProcessed);
    const SUBSCRIBES: &'static [EventKind] = &[
        EventKind::OrderCreated,
        EventKind::PaymentProcessed,
        EventKind::ShippingArranged,
    ];
    const PUBLISHES: &'static [EventKind] = &[
        EventKind::ShippingArranged,
        EventKind::ShippingFailed,
        EventKind::DeadLettered,
    ];

    /// What the order ships, learned from `OrderCreated`, until it is shipped or not.
    type State = Option<(ProductId, Quantity)>;

    fn handle(&mut self, pending: &mut Self::State, event: &Envelope, out: &mut Outbox) {
        match event.event {
            Event::OrderCreated {
                product_id,
                quantity,
                ..
            } => *pending = Some((product_id, quantity)),
            Event::PaymentProcessed { .. } => {
                let Some((product_id, quantity)) = pending.take() else {
                    tracing::error!(order_id = %event.order_id, "no quantity on record");
                    return;
                };
                out.publish(if quantity <= self.max_quantity {
                    Event::ShippingArranged {
                        product_id,
                        quantity,
                    }
                } else {
                    Event::ShippingFailed {
                        quantity,
                        max_quantity: self.max_quantity,
                    }
                });
            }
            _ => {}
        }
    }
}

pub(crate) fn narrate(
    event: &Event,
    order_id: OrderId,
    out: &mut impl io::Write,
) -> io::Result<()> {
    match event {
        Event::ShippingArranged { .. } => {
            say(out, "ShippingService: Arranging shipping for order ", order_id, "")?;
            say(out, "ShippingService: Shipping arranged for order ", order_id, "")
        }
        Event::ShippingFailed {
            quantity,
            max_quantity,
        } => writeln!(
            out,
            "ShippingService: Cannot ship order {order_id}: {quantity} units exceed the {max_quantity}-unit shipment limit"
        ),
        Event::DeadLettered { gave_up_on, crashes } => dead_lettered(
            out,
            ServiceName::ShippingService,
            *gave_up_on,
            order_id,
            *crashes,
        ),
        other => unreachable_narration(ServiceName::ShippingService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::input::CustomerId;
    type Harness<S> = crate::engine::service::Harness<crate::shop::Shop, S>;

    fn paid_order(
        service: &mut Harness<ShippingService>,
        order_id: u64,
        quantity: u64,
    ) -> Vec<Event> {
        let created = Event::OrderCreated {
            product_id: ProductId::new(101).expect("valid"),
            quantity: Quantity::new(quantity).expect("valid"),
            customer_id: CustomerId::new(1).expect("valid"),
        };
        assert!(service.react(order_id, created).is_empty());
        let processed = Event::PaymentProcessed {
            customer_id: CustomerId::new(1).expect("valid"),
            amount_cents: 1,
            credit_left_cents: 0,
            attempts: 1,
        };
        service.react(order_id, processed)
    }

    #[test]
    fn an_order_within_the_shipment_limit_is_shipped() {
        let mut service = Harness::new(ShippingService::new(Quantity::new(10).expect("valid")));
        assert_eq!(
            paid_order(&mut service, 1, 10),
            [Event::ShippingArranged {
                product_id: ProductId::new(101).expect("valid"),
                quantity: Quantity::new(10).expect("valid"),
            }]
        );
    }

    #[test]
    fn an_order_above_the_shipment_limit_fails() {
        let mut service = Harness::new(ShippingService::new(Quantity::new(10).expect("valid")));
        assert_eq!(
            paid_order(&mut service, 1, 11),
            [Event::ShippingFailed {
                quantity: Quantity::new(11).expect("valid"),
                max_quantity: Quantity::new(10).expect("valid"),
            }]
        );
        assert_eq!(
            service.states.values().next(),
            Some(&None),
            "nothing kept after deciding"
        );
    }
}
