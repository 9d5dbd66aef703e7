//! OrderService: opens every order, and closes every order that cannot complete: rejected when
//! inventory is unavailable, cancelled once the steps done for it have been undone.

use std::io;

use crate::shop::event::{CancelReason, Event, EventKind, ServiceName};
use crate::shop::input::{CustomerId, Order, OrderId};

use super::lines::{say, unreachable_narration};
use super::Shop;
use crate::engine::Service;

type Outbox = crate::engine::Outbox<Shop>;
type Envelope = crate::engine::Envelope<Shop>;

#[derive(Debug, Default, Clone, Hash)]
pub struct OrderService;

impl OrderService {
    /// The decision at the edge: a valid order becomes `OrderCreated`, paid for by its own
    /// customer or `default_customer`. The supervisor, as the client, calls it and publishes
    /// the result on OrderService's behalf.
    pub fn create_order(order: &Order, default_customer: CustomerId) -> Event {
        Event::OrderCreated {
            product_id: order.product_id,
            quantity: order.quantity,
            customer_id: order.customer_id.unwrap_or(default_customer),
        }
    }
}

impl Service<Shop> for OrderService {
    const NAME: ServiceName = ServiceName::OrderService;
    // As in the reference, OrderService hears its own `OrderCreated` (and confirms it).
    const SUBSCRIBES: &'static [EventKind] = &[
        EventKind::OrderCreated,
        EventKind::InventoryUnavailable,
        EventKind::PaymentDeclined,
        EventKind::ShippingFailed,
        EventKind::InventoryReleased,
        EventKind::DeadLettered,
    ];
    const PUBLISHES: &'static [EventKind] = &[
        EventKind::OrderCreated,
        EventKind::OrderRejected,
        EventKind::OrderCancelled,
    ];

    /// Why the order will be cancelled, kept from the failure until the last compensation
    /// (`InventoryReleased`) arrives.
    type State = Option<CancelReason>;

    fn handle(&mut self, failing: &mut Self::State, event: &Envelope, out: &mut Outbox) {
        match &event.event {
            // Nothing was done for the order yet: nothing to undo.
            Event::InventoryUnavailable(unavailable) => {
                out.publish(Event::OrderRejected(*unavailable))
            }
            Event::PaymentDeclined(_) => *failing = Some(CancelReason::PaymentDeclined),
            Event::ShippingFailed { .. } => *failing = Some(CancelReason::ShippingFailed),
            // Given up on before anything was reserved: nothing to undo.
            Event::DeadLettered { .. } if event.service == ServiceName::InventoryService => out
                .publish(Event::OrderCancelled {
                    reason: CancelReason::DeadLettered,
                }),
            Event::DeadLettered { .. } => *failing = Some(CancelReason::DeadLettered),
            // The release is the last compensation of either failure: the order can close.
            Event::InventoryReleased { .. } => match failing.take() {
                Some(reason) => out.publish(Event::OrderCancelled { reason }),
                None => tracing::error!(
                    order_id = %event.order_id,
                    "inventory released with no failure on record"
                ),
            },
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
        Event::OrderCreated { .. } => {
            say(out, "OrderService: Creating order ", order_id, "")?;
            say(out, "OrderService: Order ", order_id, " created")
        }
        Event::OrderRejected(unavailable) => match unavailable.available {
            Some(available) => writeln!(
                out,
                "OrderService: Order {order_id} rejected: product {} out of stock (requested {}, available {available})",
                unavailable.product_id, unavailable.requested
            ),
            None => writeln!(
                out,
                "OrderService: Order {order_id} rejected: product {} is not in the catalog",
                unavailable.product_id
            ),
        },
        Event::OrderCancelled { reason } => {
            writeln!(out, "OrderService: Order {order_id} cancelled: {reason}")
        }
        other => unreachable_narration(ServiceName::OrderService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::event::{DeclineReason, Declined, Unavailable};
    use crate::shop::input::{ProductId, Quantity};
    type Harness<S> = crate::engine::service::Harness<crate::shop::Shop, S>;

    fn unavailable() -> Unavailable {
        Unavailable {
            product_id: ProductId::new(101).expect("valid"),
            requested: Quantity::new(5).expect("valid"),
            available: Some(2),
        }
    }

    fn released() -> Event {
        Event::InventoryReleased {
            product_id: ProductId::new(101).expect("valid"),
            quantity: Quantity::new(2).expect("valid"),
            stock: 10,
        }
    }

    #[test]
    fn an_order_becomes_order_created_paid_by_its_customer_or_the_default() {
        let default = CustomerId::new(1).expect("valid");
        let mut order: Order =
            serde_json::from_str(r#"{"order_id": 1, "product_id": 101, "quantity": 2}"#)
                .expect("valid order");
        let created = OrderService::create_order(&order, default);
        assert_eq!(
            created,
            Event::OrderCreated {
                product_id: order.product_id,
                quantity: order.quantity,
                customer_id: default,
            }
        );
        order.customer_id = CustomerId::new(9);
        let Event::OrderCreated { customer_id, .. } = OrderService::create_order(&order, default)
        else {
            panic!("expected OrderCreated");
        };
        assert_eq!(Some(customer_id), order.customer_id);
    }

    #[test]
    fn unavailable_inventory_rejects_the_order_with_the_same_facts() {
        let out = Harness::new(OrderService).react(3, Event::InventoryUnavailable(unavailable()));
        assert_eq!(out, [Event::OrderRejected(unavailable())]);
    }

    #[test]
    fn a_declined_payment_cancels_only_once_inventory_is_released() {
        let mut service = Harness::new(OrderService);
        let declined = Event::PaymentDeclined(Declined {
            customer_id: CustomerId::new(2).expect("valid"),
            amount_cents: 500,
            credit_left_cents: Some(100),
            reason: DeclineReason::InsufficientCredit,
            attempts: 0,
        });
        assert!(service.react(4, declined).is_empty());
        assert_eq!(
            service.react(4, released()),
            [Event::OrderCancelled {
                reason: CancelReason::PaymentDeclined
            }]
        );
        assert_eq!(service.states[&OrderId::new(4).expect("valid")], None);
    }

    #[test]
    fn a_failed_shipment_cancels_with_its_reason() {
        let mut service = Harness::new(OrderService);
        let failed = Event::ShippingFailed {
            quantity: Quantity::new(12).expect("valid"),
            max_quantity: Quantity::new(10).expect("valid"),
        };
        assert!(service.react(5, failed).is_empty());
        assert_eq!(
            service.react(5, released()),
            [Event::OrderCancelled {
                reason: CancelReason::ShippingFailed
            }]
        );
    }

    #[test]
    fn narration_explains_rejections_and_cancellations() {
        let order_id = OrderId::new(3).expect("valid");
        let text = |event: Event| {
            let mut out = Vec::new();
            narrate(&event, order_id, &mut out).expect("narrate");
            String::from_utf8(out).expect("utf-8")
        };
        assert_eq!(
            text(Event::OrderRejected(unavailable())),
            "OrderService: Order 3 rejected: product 101 out of stock (requested 5, available 2)\n"
        );
        assert_eq!(
            text(Event::OrderCancelled {
                reason: CancelReason::ShippingFailed
            }),
            "OrderService: Order 3 cancelled: shipping failed\n"
        );
    }
}
