//! InventoryService: owns stock. Reserves each order's quantity, refuses what it cannot
//! reserve, and releases a reservation when payment is declined or refunded.

use std::collections::BTreeMap;
use std::io;

use crate::shop::config::Product;
use crate::shop::event::{Event, EventKind, ServiceName, Unavailable};

use crate::shop::input::{OrderId, ProductId, Quantity};

use super::lines::dead_lettered;
use super::lines::say;
use super::lines::unreachable_narration;
use super::Shop;
use crate::engine::Service;

type Outbox = crate::engine::Outbox<Shop>;
type Envelope = crate::engine::Envelope<Shop>;

#[derive(Debug, Clone, Hash)]
pub struct InventoryService {
    /// Units available per product: stock minus what is reserved.
    stock: BTreeMap<ProductId, u64>,
}

impl InventoryService {
    pub fn new(products: &BTreeMap<ProductId, Product>) -> Self {
        InventoryService {
            stock: products.iter().map(|(id, p)| (*id, p.stock)).collect(),
        }
    }

    fn reserve(
        &mut self,
        reservation: &mut Option<(ProductId, Quantity)>,
        product_id: ProductId,
        quantity: Quantity,
    ) -> Event {
        let requested = u64::from(quantity.get());
        match self.stock.get_mut(&product_id) {
            Some(stock) if *stock >= requested => {
                *stock -= requested;
                *reservation = Some((product_id, quantity));
                Event::InventoryChecked {
                    product_id,
                    quantity,
                    stock: *stock,
                }
            }
            available => Event::InventoryUnavailable(Unavailable {
                product_id,
                requested: quantity,
                available: available.map(|stock| *stock),
            }),
        }
    }
}

impl Service<Shop> for InventoryService {
    const NAME: ServiceName = ServiceName::InventoryService;
    // Giving up on it leaves a compensation that undoes what came before.
    const FORWARD: Option<EventKind> = Some(EventKind::OrderCreated);
    const SUBSCRIBES: &'static [EventKind] = &[
        EventKind::OrderCreated,
        EventKind::InventoryChecked,
        EventKind::PaymentDeclined,
        EventKind::PaymentRefunded,
        EventKind::DeadLettered,
    ];
    const PUBLISHES: &'static [EventKind] = &[
        EventKind::InventoryChecked,
        EventKind::InventoryUnavailable,
        EventKind::InventoryReleased,
        EventKind::DeadLettered,
    ];

    /// What the order has reserved. A reservation ends released, or shipped when the order
    /// completes (and its state is dropped with the units gone for good).
    type State = Option<(ProductId, Quantity)>;

    fn handle(&mut self, reservation: &mut Self::State, event: &Envelope, out: &mut Outbox) {
        match event.event {
            Event::OrderCreated {
                product_id,
                quantity,
                ..
            } => out.publish(self.reserve(reservation, product_id, quantity)),
            // Compensation: the money side failed, gave up, or was undone, so the units go back.
            // (When ShippingService gives up, PaymentService refunds first.)
            Event::DeadLettered { .. } if event.service != ServiceName::PaymentService => {}
            Event::PaymentDeclined(_)
            | Event::PaymentRefunded { .. }
            | Event::DeadLettered { .. } => {
                if let Some((product_id, quantity)) = reservation.take() {
                    let stock = self.stock.entry(product_id).or_default();
                    *stock += u64::from(quantity.get());
                    out.publish(Event::InventoryReleased {
                        product_id,
                        quantity,
                        stock: *stock,
                    });
                }
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
        Event::InventoryChecked { .. } => {
            say(out, "InventoryService: Checking inventory for order ", order_id, "")?;
            say(out, "InventoryService: Inventory checked for order ", order_id, "")
        }
        Event::InventoryUnavailable(unavailable) => match unavailable.available {
            Some(available) => writeln!(
                out,
                "InventoryService: Cannot reserve {} of product {} for order {order_id}: only {available} in stock",
                unavailable.requested, unavailable.product_id
            ),
            None => writeln!(
                out,
                "InventoryService: Cannot reserve {} of product {} for order {order_id}: no such product",
                unavailable.requested, unavailable.product_id
            ),
        },
        Event::InventoryReleased {
            product_id,
            quantity,
            stock,
        } => writeln!(
            out,
            "InventoryService: Released {quantity} of product {product_id} for order {order_id} ({stock} in stock)"
        ),
        Event::DeadLettered { gave_up_on, crashes } => dead_lettered(
            out,
            ServiceName::InventoryService,
            *gave_up_on,
            order_id,
            *crashes,
        ),
        other => unreachable_narration(ServiceName::InventoryService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::event::{DeclineReason, Declined};
    use crate::shop::input::CustomerId;
    type Harness<S> = crate::engine::service::Harness<crate::shop::Shop, S>;

    fn service_with(stock: u64) -> Harness<InventoryService> {
        let products = BTreeMap::from([(
            product(),
            Product {
                name: "Widget".into(),
                price_cents: 1999,
                stock,
            },
        )]);
        Harness::new(InventoryService::new(&products))
    }

    fn product() -> ProductId {
        ProductId::new(101).expect("valid")
    }

    fn created(product_id: ProductId, quantity: u64) -> Event {
        Event::OrderCreated {
            product_id,
            quantity: Quantity::new(quantity).expect("valid"),
            customer_id: CustomerId::new(1).expect("valid"),
        }
    }

    fn declined() -> Event {
        Event::PaymentDeclined(Declined {
            customer_id: CustomerId::new(1).expect("valid"),
            amount_cents: 1,
            credit_left_cents: Some(0),
            reason: DeclineReason::InsufficientCredit,
            attempts: 0,
        })
    }

    #[test]
    fn an_order_within_stock_is_reserved() {
        let mut service = service_with(5);
        let out = service.react(1, created(product(), 2));
        assert_eq!(
            out,
            [Event::InventoryChecked {
                product_id: product(),
                quantity: Quantity::new(2).expect("valid"),
                stock: 3
            }]
        );
    }

    #[test]
    fn an_order_above_stock_is_refused_with_what_is_available() {
        let mut service = service_with(5);
        service.react(1, created(product(), 4));
        let out = service.react(2, created(product(), 2));
        assert_eq!(
            out,
            [Event::InventoryUnavailable(Unavailable {
                product_id: product(),
                requested: Quantity::new(2).expect("valid"),
                available: Some(1),
            })]
        );
    }

    #[test]
    fn an_unknown_product_is_refused() {
        let unknown = ProductId::new(999).expect("valid");
        let out = service_with(5).react(1, created(unknown, 1));
        assert_eq!(
            out,
            [Event::InventoryUnavailable(Unavailable {
                product_id: unknown,
                requested: Quantity::new(1).expect("valid"),
                available: None,
            })]
        );
    }

    #[test]
    fn a_declined_payment_releases_the_reservation_once() {
        let mut service = service_with(5);
        service.react(1, created(product(), 5));
        let out = service.react(1, declined());
        assert_eq!(
            out,
            [Event::InventoryReleased {
                product_id: product(),
                quantity: Quantity::new(5).expect("valid"),
                stock: 5
            }]
        );
        assert!(
            service.react(1, declined()).is_empty(),
            "nothing left to release"
        );
    }

    #[test]
    fn a_shipped_reservation_keeps_its_units_out_of_stock() {
        let mut service = service_with(5);
        service.react(1, created(product(), 2));
        // The task loop drops the order's state at its terminal event: nothing comes back.
        service.states.clear();
        assert_eq!(service.service.stock[&product()], 3);
    }
}
