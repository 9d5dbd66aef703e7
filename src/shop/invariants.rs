//! The shop's own invariants: stock is never oversold, no customer is charged past their
//! credit, and every reservation and every charge ends exactly once: shipped, or released
//! (refunded). `choreo check` tests them on every state it reaches ([`check`], behind
//! [`Choreography::invariant`]); `choreo run` checks the same as the events come
//! ([`ShopMonitor`]), from the same [`Ledger`] and the same per-order test.
//!
//! Each holds whatever order the instances interleave in: they are sums over the events, and
//! per-order facts.
//!
//! [`Choreography::invariant`]: crate::engine::Choreography::invariant

use std::collections::BTreeMap;

use crate::engine::monitor::{Broken, Monitor};
use crate::engine::Kinds;
use crate::input::InstanceId;
use crate::shop::config::ShopConfig;
use crate::shop::event::{Event, EventKind};
use crate::shop::input::{CustomerId, ProductId};
use crate::shop::Shop;

type Envelope = crate::engine::Envelope<Shop>;

/// The properties, by name.
pub const NOT_OVERSOLD: &str = "no product oversold";
pub const WITHIN_CREDIT: &str = "no charge past a credit limit";
pub const ENDS_ONCE: &str = "every reservation and charge ends exactly once";

/// See the module documentation: the first property `events` break, its reason in a sentence.
pub fn check(config: &ShopConfig, events: &[&Envelope], ended: bool) -> Result<(), String> {
    broken(config, events, ended).map_err(|broken| broken.why)
}

fn broken(config: &ShopConfig, events: &[&Envelope], ended: bool) -> Result<(), Broken> {
    let mut ledger = Ledger::default();
    for envelope in events {
        ledger.record(&envelope.event);
    }
    for product_id in ledger.reserved.keys() {
        ledger.product(config, *product_id)?;
    }
    for customer_id in ledger.charged.keys() {
        ledger.customer(config, *customer_id)?;
    }
    if ended {
        let mut kinds: BTreeMap<_, Vec<EventKind>> = BTreeMap::new();
        for envelope in events {
            kinds
                .entry(envelope.order_id)
                .or_default()
                .push(envelope.kind());
        }
        for (order_id, kinds) in &kinds {
            ends_once(
                *order_id,
                |kind| kinds.iter().filter(|k| **k == kind).count(),
                || listed(kinds.iter().copied()),
            )?;
        }
    }
    Ok(())
}

/// Units reserved per product and cents charged per customer, summed over the events.
#[derive(Debug, Default)]
pub struct Ledger {
    reserved: BTreeMap<ProductId, i128>,
    charged: BTreeMap<CustomerId, i128>,
}

/// What an event changed in the [`Ledger`].
enum Touched {
    Product(ProductId),
    Customer(CustomerId),
    Nothing,
}

impl Ledger {
    fn record(&mut self, event: &Event) -> Touched {
        match event {
            Event::InventoryChecked {
                product_id,
                quantity,
                ..
            } => *self.reserved.entry(*product_id).or_default() += i128::from(quantity.get()),
            Event::InventoryReleased {
                product_id,
                quantity,
                ..
            } => *self.reserved.entry(*product_id).or_default() -= i128::from(quantity.get()),
            Event::PaymentProcessed {
                customer_id,
                amount_cents,
                ..
            } => *self.charged.entry(*customer_id).or_default() += i128::from(*amount_cents),
            Event::PaymentRefunded {
                customer_id,
                amount_cents,
                ..
            } => *self.charged.entry(*customer_id).or_default() -= i128::from(*amount_cents),
            _ => return Touched::Nothing,
        }
        match event {
            Event::InventoryChecked { product_id, .. }
            | Event::InventoryReleased { product_id, .. } => Touched::Product(*product_id),
            Event::PaymentProcessed { customer_id, .. }
            | Event::PaymentRefunded { customer_id, .. } => Touched::Customer(*customer_id),
            _ => Touched::Nothing,
        }
    }

    /// Whether `product_id`'s reservations are within its stock, and not below none.
    fn product(&self, config: &ShopConfig, product_id: ProductId) -> Result<(), Broken> {
        let units = self.reserved.get(&product_id).copied().unwrap_or(0);
        let stock = config.products.get(&product_id).map_or(0, |p| p.stock);
        let why = if units > i128::from(stock) {
            format!("product {product_id} is oversold: {units} units reserved of {stock} in stock")
        } else if units < 0 {
            format!(
                "product {product_id}: {} more units released than reserved",
                -units
            )
        } else {
            return Ok(());
        };
        Err(Broken {
            property: NOT_OVERSOLD,
            why,
        })
    }

    /// Whether `customer_id`'s charges are within their credit limit, and not below none.
    fn customer(&self, config: &ShopConfig, customer_id: CustomerId) -> Result<(), Broken> {
        let cents = self.charged.get(&customer_id).copied().unwrap_or(0);
        let limit = config
            .customers
            .get(&customer_id)
            .map_or(0, |c| c.credit_limit_cents);
        let why = if cents > i128::from(limit) {
            format!(
                "customer {customer_id} is charged {cents} cents, past a credit limit of {limit}"
            )
        } else if cents < 0 {
            format!(
                "customer {customer_id} is refunded {} cents more than charged",
                -cents
            )
        } else {
            return Ok(());
        };
        Err(Broken {
            property: WITHIN_CREDIT,
            why,
        })
    }
}

/// Every reservation of `order_id` ends exactly once (shipped, or released once), and so does
/// every charge (shipped, or refunded once); `count` says how often it has each kind, `kinds`
/// lists them for the message.
fn ends_once(
    order_id: InstanceId,
    count: impl Fn(EventKind) -> usize,
    kinds: impl FnOnce() -> String,
) -> Result<(), Broken> {
    let shipped = count(EventKind::ShippingArranged) == 1;
    for (start, undo, what) in [
        (
            EventKind::InventoryChecked,
            EventKind::InventoryReleased,
            "its reservation",
        ),
        (
            EventKind::PaymentProcessed,
            EventKind::PaymentRefunded,
            "its charge",
        ),
    ] {
        if count(start) == 1 && shipped == (count(undo) == 1) {
            return Err(Broken {
                property: ENDS_ONCE,
                why: format!(
                    "order {order_id}: {what} was {} (events: {})",
                    if shipped {
                        "shipped and undone too"
                    } else {
                        "neither shipped nor undone"
                    },
                    kinds()
                ),
            });
        }
    }
    Ok(())
}

/// `OrderCreated, InventoryChecked, ...`.
fn listed(kinds: impl Iterator<Item = EventKind>) -> String {
    kinds.map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
}

/// The shop's invariants checked as a run goes, O(1) per event: the [`Ledger`]'s sums, the
/// one an event changes tested at once; each order's kinds while it is in flight, tested for
/// [`ENDS_ONCE`] at its terminal event (when nothing is left to deliver for it) from the
/// kinds the run keeps for it, so memory is bounded by the catalog and the customers.
#[derive(Debug)]
pub struct ShopMonitor {
    config: ShopConfig,
    ledger: Ledger,
}

impl ShopMonitor {
    pub fn new(config: &ShopConfig) -> Self {
        ShopMonitor {
            config: config.clone(),
            ledger: Ledger::default(),
        }
    }
}

impl Monitor<Shop> for ShopMonitor {
    fn observe(&mut self, envelope: &Envelope, kinds: Kinds<EventKind>) -> Result<(), Broken> {
        match self.ledger.record(&envelope.event) {
            Touched::Product(product_id) => self.ledger.product(&self.config, product_id)?,
            Touched::Customer(customer_id) => self.ledger.customer(&self.config, customer_id)?,
            Touched::Nothing => {}
        }
        if envelope.is_terminal() {
            ends_once(
                envelope.order_id,
                |kind| usize::from(kinds.contains(kind)),
                || listed(kinds.iter()),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::service::delivered;
    use crate::shop::event::ServiceName;
    use crate::shop::input::{CustomerId, ProductId, Quantity};

    fn config() -> ShopConfig {
        crate::config::Config::<Shop>::default().choreography
    }

    fn reserved(order_id: u64, quantity: u32) -> Envelope {
        delivered::<Shop>(
            order_id,
            ServiceName::InventoryService,
            Event::InventoryChecked {
                product_id: ProductId::new(101).expect("id"),
                quantity: Quantity::new(quantity.into()).expect("quantity"),
                stock: 0,
            },
        )
    }

    /// Order `order_id` charges customer `customer_id` 100 cents.
    fn charged(order_id: u64, customer_id: u64) -> Envelope {
        delivered::<Shop>(
            order_id,
            ServiceName::PaymentService,
            Event::PaymentProcessed {
                customer_id: CustomerId::new(customer_id).expect("id"),
                amount_cents: 100,
                credit_left_cents: 0,
                attempts: 1,
            },
        )
    }

    #[test]
    fn reserving_more_than_the_stock_is_an_oversell() {
        let config = config();
        let stock = config.products[&ProductId::new(101).expect("id")].stock;
        let half = u32::try_from(stock / 2 + 1).expect("small stock");
        let (one, two) = (reserved(1, half), reserved(2, half));
        let err = check(&config, &[&one, &two], false).expect_err("oversold");
        assert!(err.starts_with("product 101 is oversold"), "{err}");
        assert_eq!(check(&config, &[&one], false), Ok(()));
    }

    /// The monitor breaks the property `check` does, at the event that first makes `check`
    /// fail on the events so far: here the second reservation, which oversells.
    #[test]
    fn the_monitor_agrees_with_check_event_by_event() {
        let config = config();
        let stock = config.products[&ProductId::new(101).expect("id")].stock;
        let half = u32::try_from(stock / 2 + 1).expect("small stock");
        let charged = charged(3, 2);
        let events = [reserved(1, half), charged, reserved(2, half)];
        let mut monitor = ShopMonitor::new(&config);
        let mut result = Ok(());
        for (i, envelope) in events.iter().enumerate() {
            let so_far: Vec<&Envelope> = events[..=i].iter().collect();
            let checked = broken(&config, &so_far, false);
            result = monitor.observe(envelope, Kinds::of(&[envelope.kind()]));
            assert_eq!(result, checked, "after event {i}");
        }
        assert_eq!(result.map_err(|b| b.property), Err(NOT_OVERSOLD));
    }

    /// An order that ends with its charge neither shipped nor refunded breaks
    /// [`ENDS_ONCE`] at its terminal event, as `check` says once nothing is left to deliver.
    #[test]
    fn the_monitor_tests_each_order_at_its_terminal_event() {
        let config = config();
        let charged = charged(1, 1);
        let cancelled = delivered::<Shop>(
            1,
            ServiceName::OrderService,
            Event::OrderCancelled {
                reason: crate::shop::event::CancelReason::ShippingFailed,
            },
        );
        let mut monitor = ShopMonitor::new(&config);
        let mut kinds = Kinds::of(&[charged.kind()]);
        assert_eq!(monitor.observe(&charged, kinds), Ok(()));
        kinds.insert(cancelled.kind());
        let broken_at_end = monitor
            .observe(&cancelled, kinds)
            .expect_err("charge left hanging");
        assert_eq!(broken_at_end.property, ENDS_ONCE);
        assert_eq!(
            Err(broken_at_end.why),
            check(&config, &[&charged, &cancelled], true)
        );
    }

    #[test]
    fn a_charge_neither_shipped_nor_refunded_breaks_the_end_state() {
        let config = config();
        let charged = charged(1, 1);
        assert_eq!(check(&config, &[&charged], false), Ok(()), "not ended yet");
        let err = check(&config, &[&charged], true).expect_err("left hanging");
        assert!(
            err.contains("order 1: its charge was neither shipped nor undone"),
            "{err}"
        );
    }
}
