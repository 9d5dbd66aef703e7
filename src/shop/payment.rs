//! PaymentService: charges the customer once stock is reserved, declines what the customer's
//! credit cannot cover, and refunds when shipping fails.

use std::collections::BTreeMap;
use std::io;

use crate::shop::config::{Customer, Product};
use rand::RngExt;

use crate::shop::config::GatewayFaults;
use crate::shop::event::{DeclineReason, Declined, Event, EventKind, ServiceName};
use crate::sim::{self as simulation, Rng};

use crate::shop::input::{CustomerId, OrderId, ProductId};

use super::lines::dead_lettered;
use super::lines::say;
use super::lines::unreachable_narration;
use super::Shop;
use crate::engine::Service;
use crate::plural::Times;
use crate::shop::event::Money;

type Outbox = crate::engine::Outbox<Shop>;
type Envelope = crate::engine::Envelope<Shop>;

#[derive(Debug, Clone, Hash)]
pub struct PaymentService {
    prices: BTreeMap<ProductId, u64>,
    /// Credit each customer has left, in cents.
    credit: BTreeMap<CustomerId, u64>,
    gateway: GatewayFaults,
    /// Draws for the gateway's timeouts and jitter.
    rng: Rng,
}

/// What PaymentService keeps about one order in flight.
#[derive(Debug, Default, Clone, Hash)]
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
        gateway: GatewayFaults,
        rng: Rng,
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
            gateway,
            rng,
        }
    }

    /// Charges `amount_cents` if the customer's credit covers it and the gateway answers.
    fn charge(
        &mut self,
        payment: &mut Payment,
        customer_id: CustomerId,
        amount_cents: u64,
        out: &mut Outbox,
    ) -> Event {
        let declined = |reason, credit_left_cents, attempts| {
            Event::PaymentDeclined(Declined {
                customer_id,
                amount_cents,
                credit_left_cents,
                reason,
                attempts,
            })
        };
        let left = match self.credit.get(&customer_id) {
            None => return declined(DeclineReason::UnknownCustomer, None, 0),
            Some(left) if *left < amount_cents => {
                return declined(DeclineReason::InsufficientCredit, Some(*left), 0)
            }
            Some(left) => *left,
        };
        let attempts = match self.call_gateway(out) {
            Ok(attempts) => attempts,
            Err(attempts) => return declined(DeclineReason::GatewayTimeout, Some(left), attempts),
        };
        let left = left - amount_cents;
        self.credit.insert(customer_id, left);
        payment.charge = Some((customer_id, amount_cents));
        Event::PaymentProcessed {
            customer_id,
            amount_cents,
            credit_left_cents: left,
            attempts,
        }
    }

    /// Tries the payment gateway: each attempt may time out (`timeout_ms` of waiting), then
    /// the next comes after an exponential backoff with seeded jitter. `Ok(attempts)` when one
    /// answered, `Err(attempts)` when every one timed out. The waiting is reported in `out`.
    fn call_gateway(&mut self, out: &mut Outbox) -> Result<u32, u32> {
        let max_attempts = self.gateway.max_attempts.max(1);
        for attempt in 1..=max_attempts {
            if !self.gateway.timeout.happens(&mut self.rng) {
                return Ok(attempt);
            }
            out.busy_for(simulation::millis(self.gateway.timeout_ms.0));
            if attempt < max_attempts {
                let backoff = self.gateway.backoff_ms.0 * f64::from(1u32 << (attempt - 1).min(20));
                let jitter = if backoff > 0.0 {
                    self.rng.random_range(0.0..backoff)
                } else {
                    0.0
                };
                out.busy_for(simulation::millis(backoff + jitter));
            }
        }
        Err(max_attempts)
    }
}

impl Service<Shop> for PaymentService {
    const NAME: ServiceName = ServiceName::PaymentService;
    // Giving up on it leaves a compensation that undoes what came before.
    const FORWARD: Option<EventKind> = Some(EventKind::InventoryChecked);
    const SUBSCRIBES: &'static [EventKind] = &[
        EventKind::OrderCreated,
        EventKind::InventoryChecked,
        EventKind::PaymentProcessed,
        EventKind::ShippingFailed,
        EventKind::DeadLettered,
    ];
    const PUBLISHES: &'static [EventKind] = &[
        EventKind::PaymentProcessed,
        EventKind::PaymentDeclined,
        EventKind::PaymentRefunded,
        EventKind::DeadLettered,
    ];

    type State = Payment;

    fn handle(&mut self, payment: &mut Payment, event: &Envelope, out: &mut Outbox) {
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
                let decision = self.charge(payment, customer_id, amount, out);
                out.publish(decision);
            }
            // Compensation: shipping failed (or gave up) after the charge, so the money goes
            // back. (When Payment itself gives up, there was no charge.)
            Event::DeadLettered { .. } if event.service != ServiceName::ShippingService => {}
            Event::ShippingFailed { .. } | Event::DeadLettered { .. } => {
                if let Some((customer_id, amount_cents)) = payment.charge.take() {
                    let left = self.credit.entry(customer_id).or_default();
                    *left += amount_cents;
                    out.publish(Event::PaymentRefunded {
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

pub(crate) fn narrate(
    event: &Event,
    order_id: OrderId,
    out: &mut impl io::Write,
) -> io::Result<()> {
    match event {
        Event::PaymentProcessed { attempts, .. } => {
            if *attempts > 1 {
                writeln!(
                    out,
                    "PaymentService: Payment gateway timed out {} for order {order_id}, then answered",
                    Times(u64::from(attempts - 1))
                )?;
            }
            say(
                out,
                "PaymentService: Processing payment for order ",
                order_id,
                "",
            )?;
            say(
                out,
                "PaymentService: Payment processed for order ",
                order_id,
                "",
            )
        }
        Event::PaymentDeclined(declined) => {
            let amount = Money::from(declined.amount_cents);
            let customer = declined.customer_id;
            match (declined.reason, declined.credit_left_cents) {
                (DeclineReason::InsufficientCredit, Some(left)) => writeln!(
                    out,
                    "PaymentService: Declined {amount} for order {order_id}: customer {customer} has {} of credit left",
                    Money::from(left)
                ),
                (DeclineReason::GatewayTimeout, _) => writeln!(
                    out,
                    "PaymentService: Declined {amount} for order {order_id}: the payment gateway timed out {}",
                    Times(u64::from(declined.attempts))
                ),
                _ => writeln!(
                    out,
                    "PaymentService: Declined {amount} for order {order_id}: no such customer {customer}"
                ),
            }
        }
        Event::PaymentRefunded {
            customer_id,
            amount_cents,
            ..
        } => writeln!(
            out,
            "PaymentService: Refunded {} to customer {customer_id} for order {order_id}",
            Money::from(*amount_cents)
        ),
        Event::DeadLettered {
            gave_up_on,
            crashes,
        } => dead_lettered(
            out,
            ServiceName::PaymentService,
            *gave_up_on,
            order_id,
            *crashes,
        ),
        other => unreachable_narration(ServiceName::PaymentService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::input::Quantity;
    type Harness<S> = crate::engine::service::Harness<crate::shop::Shop, S>;

    const WIDGET: u64 = 101;

    fn gateway(timeout: f64) -> GatewayFaults {
        GatewayFaults {
            timeout: simulation::Probability(timeout),
            timeout_ms: simulation::Millis(200.0),
            max_attempts: 3,
            backoff_ms: simulation::Millis(50.0),
        }
    }

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
        Harness::new(PaymentService::new(
            &products,
            &customers,
            gateway(0.0),
            simulation::stream(1, "test"),
        ))
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
                credit_left_cents: 6002,
                attempts: 1,
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
                reason: DeclineReason::InsufficientCredit,
                attempts: 0,
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

    #[test]
    fn a_gateway_that_always_times_out_declines_after_max_attempts_with_backoff() {
        let mut service = service_with_credit(1_000_000);
        service.service.gateway = gateway(1.0);
        let product_id = ProductId::new(WIDGET).expect("valid");
        let quantity = Quantity::new(1).expect("valid");
        service.react(
            1,
            Event::OrderCreated {
                product_id,
                quantity,
                customer_id: customer(),
            },
        );
        let envelope = crate::engine::service::delivered::<Shop>(
            1,
            ServiceName::InventoryService,
            Event::InventoryChecked {
                product_id,
                quantity,
                stock: 0,
            },
        );
        let mut out = Outbox::default();
        let order = service.states.entry(envelope.order_id).or_default();
        service.service.handle(order, &envelope, &mut out);
        assert_eq!(
            out.events,
            [Event::PaymentDeclined(Declined {
                customer_id: customer(),
                amount_cents: 1999,
                credit_left_cents: Some(1_000_000),
                reason: DeclineReason::GatewayTimeout,
                attempts: 3,
            })]
        );
        // Three timeouts of 200 ms, and backoffs of 50 and 100 ms each plus up to as much jitter.
        assert!(
            out.busy >= std::time::Duration::from_millis(750),
            "{:?}",
            out.busy
        );
        assert!(
            out.busy <= std::time::Duration::from_millis(900),
            "{:?}",
            out.busy
        );
        assert!(payment_charge_is_none(&service), "nothing charged");
    }

    #[test]
    fn a_flaky_gateway_is_retried_until_it_answers() {
        let mut service = service_with_credit(1_000_000);
        service.service.gateway = gateway(0.5);
        let attempts: Vec<u32> = (1..=200)
            .map(
                |order_id| match order_reserved(&mut service, order_id, 1).as_slice() {
                    [Event::PaymentProcessed { attempts, .. }] => *attempts,
                    [Event::PaymentDeclined(declined)] => declined.attempts,
                    other => panic!("unexpected {other:?}"),
                },
            )
            .collect();
        assert!(attempts.iter().all(|a| (1..=3).contains(a)));
        assert!(attempts.contains(&1) && attempts.contains(&2) && attempts.contains(&3));
    }

    fn payment_charge_is_none(service: &Harness<PaymentService>) -> bool {
        service.states.values().all(|p| p.charge.is_none())
    }
}
