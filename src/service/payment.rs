//! PaymentService: charges the customer once stock is reserved, declines what the customer's
//! credit cannot cover, and refunds when shipping fails.

use std::collections::BTreeMap;
use std::io;

use crate::config::{Customer, Product};
use crate::event::{Declined, Envelope, Event, EventKind, Kinds, ServiceName};
use rustc_hash::FxHashMap;

use crate::order::{CustomerId, OrderId, ProductId};

use super::order::unreachable_narration;
use super::{say, Money, Service};

#[derive(Debug)]
pub struct PaymentService {
    prices: FxHashMap<ProductId, u64>,
    /// Credit each customer has left, in cents.
    credit: FxHashMap<CustomerId, u64>,
}

/// What PaymentService keeps about one order in flight.
#[derive(Debug, Default)]
pub struct Payment {
    /// Who pays, learned from `OrderCreated`.
    payer: Option<CustomerId>,
    /// The charge made, until refunded or the order completes (then it is revenue).
    charge: Option<(CustomerId, u64)>,
}

impl PaymentService {
    pub fn new(
        products: &BTreeMap<ProductId, Product>,
        customers: &BTreeMap<CustomerId, Customer>,
    ) -> Self {
        PaymentService {
            prices: products
                .iter()
                .map(|(id, p)| (*id, p.price_cents))
                .collect(),
            credit: customers
                .iter()
                .map(|(id, c)| (*id, c.credit_limit_cents))
                .collect(),
        }
    }

    fn charge(
        &mut self,
        payment: &mut Payment,
        customer_id: CustomerId,
        amount_cents: u64,
    ) -> Event {
        match self.credit.get_mut(&customer_id) {
            Some(left) if *left >= amount_cents => {
                *left -= amount_cents;
                payment.charge = Some((customer_id, amount_cents));
                Event::PaymentProcessed {
                    customer_id,
                    amount_cents,
                    credit_left_cents: *left,
                }
            }
            left => Event::PaymentDeclined(Declined {
                customer_id,
                amount_cents,
                credit_left_cents: left.map(|left| *left),
            }),
        }
    }
}

impl Service for PaymentService {
    const NAME: ServiceName = ServiceName::PaymentService;
    const SUBSCRIBES: Kinds = Kinds::of(&[
        EventKind::OrderCreated,
        EventKind::InventoryChecked,
        EventKind::PaymentProcessed,
        EventKind::ShippingFailed,
    ]);
    const PUBLISHES: Kinds = Kinds::of(&[
        EventKind::PaymentProcessed,
        EventKind::PaymentDeclined,
        EventKind::PaymentRefunded,
    ]);

    type Order = Payment;

    fn handle(&mut self, payment: &mut Payment, event: &Envelope, out: &mut Vec<Event>) {
        match event.event {
            Event::OrderCreated { customer_id, .. } => payment.payer = Some(customer_id),
            Event::InventoryChecked {
                product_id,
                quantity,
                ..
            } => {
                let (Some(customer_id), Some(price)) =
                    (payment.payer, self.prices.get(&product_id))
                else {
                    // OrderCreated precedes InventoryChecked on the bus, and Inventory only
                    // reserves catalog products: this is a bug, and the order stays unfinished.
                    tracing::error!(order_id = %event.order_id, %product_id, "no payer or price on record");
                    return;
                };
                let amount = u64::from(quantity.get()) * price;
                out.push(self.charge(payment, customer_id, amount));
            }
            // Compensation: shipping failed after the charge, so the money goes back.
            Event::ShippingFailed { .. } => {
                if let Some((customer_id, amount_cents)) = payment.charge.take() {
                    let left = self.credit.entry(customer_id).or_default();
                    *left += amount_cents;
                    out.push(Event::PaymentRefunded {
                        customer_id,
                        amount_cents,
                        credit_left_cents: *left,
                    });
                }
            }
            _ => {}
        }
    }
}

pub(super) fn narrate(
    event: &Event,
    order_id: OrderId,
    out: &mut impl io::Write,
) -> io::Result<()> {
    match event {
        Event::PaymentProcessed { .. } => {
            say(out, "PaymentService: Processing payment for order ", order_id, "")?;
            say(out, "PaymentService: Payment processed for order ", order_id, "")
        }
        Event::PaymentDeclined(declined) => match declined.credit_left_cents {
            Some(left) => writeln!(
                out,
                "PaymentService: Declined {} for order {order_id}: customer {} has {} of credit left",
                Money(declined.amount_cents),
                declined.customer_id,
                Money(left)
            ),
            None => writeln!(
                out,
                "PaymentService: Declined {} for order {order_id}: no such customer {}",
                Money(declined.amount_cents),
                declined.customer_id
            ),
        },
        Event::PaymentRefunded {
            customer_id,
            amount_cents,
            ..
        } => writeln!(
            out,
            "PaymentService: Refunded {} to customer {customer_id} for order {order_id}",
            Money(*amount_cents)
        ),
        other => unreachable_narration(ServiceName::PaymentService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Quantity;
    use crate::service::Harness;

    const WIDGET: u64 = 101;

    fn service_with_credit(credit_limit_cents: u64) -> Harness<PaymentService> {
        let products = BTreeMap::from([(
            ProductId::new(WIDGET).expect("valid"),
            Product {
                name: "Widget".into(),
                price_cents: 1999,
                stock: 100,
            },
        )]);
        let customers = BTreeMap::from([(
            customer(),
            Customer {
                name: "Ann".into(),
                credit_limit_cents,
            },
        )]);
        Harness::new(PaymentService::new(&products, &customers))
    }

    fn customer() -> CustomerId {
        CustomerId::new(1).expect("valid")
    }

    /// Runs the forward path for `order_id` up to the charge decision.
    fn order_reserved(
        service: &mut Harness<PaymentService>,
        order_id: u64,
        quantity: u64,
    ) -> Vec<Event> {
        let product_id = ProductId::new(WIDGET).expect("valid");
        let quantity = Quantity::new(quantity).expect("valid");
        let created = Event::OrderCreated {
            product_id,
            quantity,
            customer_id: customer(),
        };
        assert!(service.react(order_id, created).is_empty());
        let checked = Event::InventoryChecked {
            product_id,
            quantity,
            stock: 0,
        };
        service.react(order_id, checked)
    }

    #[test]
    fn a_charge_within_credit_is_processed_for_quantity_times_price() {
        let mut service = service_with_credit(10_000);
        assert_eq!(
            order_reserved(&mut service, 1, 2),
            [Event::PaymentProcessed {
                customer_id: customer(),
                amount_cents: 3998,
                credit_left_cents: 6002
            }]
        );
    }

    #[test]
    fn a_charge_above_what_is_left_is_declined() {
        let mut service = service_with_credit(5_000);
        order_reserved(&mut service, 1, 2);
        assert_eq!(
            order_reserved(&mut service, 2, 1),
            [Event::PaymentDeclined(Declined {
                customer_id: customer(),
                amount_cents: 1999,
                credit_left_cents: Some(1002),
            })]
        );
    }

    #[test]
    fn a_failed_shipment_is_refunded_once_and_the_credit_returns() {
        let mut service = service_with_credit(5_000);
        order_reserved(&mut service, 1, 2);
        let failed = || Event::ShippingFailed {
            quantity: Quantity::new(2).expect("valid"),
            max_quantity: Quantity::new(1).expect("valid"),
        };
        assert_eq!(
            service.react(1, failed()),
            [Event::PaymentRefunded {
                customer_id: customer(),
                amount_cents: 3998,
                credit_left_cents: 5000
            }]
        );
        assert!(service.react(1, failed()).is_empty(), "refunded once");
    }
}
