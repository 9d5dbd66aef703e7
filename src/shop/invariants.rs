//! The shop's own invariants, for `choreo check` ([`Choreography::invariant`]): stock is
//! never oversold, no customer is charged past their credit, and in the end every reservation
//! and every charge ends exactly once: shipped, or released (refunded).
//!
//! Each holds whatever order the instances interleave in: they are sums over the events, and
//! per-order facts.
//!
//! [`Choreography::invariant`]: crate::engine::Choreography::invariant

use std::collections::BTreeMap;

use crate::shop::config::ShopConfig;
use crate::shop::event::{Event, EventKind};
use crate::shop::Shop;

type Envelope = crate::engine::Envelope<Shop>;

/// See the module documentation.
pub fn check(config: &ShopConfig, events: &[&Envelope], ended: bool) -> Result<(), String> {
    let mut reserved: BTreeMap<_, i128> = BTreeMap::new();
    let mut charged: BTreeMap<_, i128> = BTreeMap::new();
    for envelope in events {
        match &envelope.event {
            Event::InventoryChecked {
                product_id,
                quantity,
                ..
            } => *reserved.entry(*product_id).or_default() += i128::from(quantity.get()),
            Event::InventoryReleased {
                product_id,
                quantity,
                ..
            } => *reserved.entry(*product_id).or_default() -= i128::from(quantity.get()),
            Event::PaymentProcessed {
                customer_id,
                amount_cents,
                ..
            } => *charged.entry(*customer_id).or_default() += i128::from(*amount_cents),
            Event::PaymentRefunded {
                customer_id,
                amount_cents,
                ..
            } => *charged.entry(*customer_id).or_default() -= i128::from(*amount_cents),
            _ => {}
        }
    }
    for (product_id, units) in &reserved {
        let stock = config.products.get(product_id).map_or(0, |p| p.stock);
        if *units > i128::from(stock) {
            return Err(format!(
                "product {product_id} is oversold: {units} units reserved of {stock} in stock"
            ));
        }
        if *units < 0 {
            return Err(format!(
                "product {product_id}: {} more units released than reserved",
                -units
            ));
        }
    }
    for (customer_id, cents) in &charged {
        let limit = config
            .customers
            .get(customer_id)
            .map_or(0, |c| c.credit_limit_cents);
        if *cents > i128::from(limit) {
            return Err(format!(
                "customer {customer_id} is charged {cents} cents, past a credit limit of {limit}"
            ));
        }
        if *cents < 0 {
            return Err(format!(
                "customer {customer_id} is refunded {} cents more than charged",
                -cents
            ));
        }
    }
    if ended {
        ends_once(events)?;
    }
    Ok(())
}

/// Every reservation ends exactly once (shipped, or released once), and so does every charge
/// (shipped, or refunded once).
fn ends_once(events: &[&Envelope]) -> Result<(), String> {
    let mut kinds: BTreeMap<_, Vec<EventKind>> = BTreeMap::new();
    for envelope in events {
        kinds
            .entry(envelope.order_id)
            .or_default()
            .push(envelope.kind());
    }
    for (order_id, kinds) in &kinds {
        let count = |kind| kinds.iter().filter(|k| **k == kind).count();
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
                return Err(format!(
                    "order {order_id}: {what} was {} (events: {})",
                    if shipped {
                        "shipped and undone too"
                    } else {
                        "neither shipped nor undone"
                    },
                    kinds
                        .iter()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    Ok(())
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

    #[test]
    fn a_charge_neither_shipped_nor_refunded_breaks_the_end_state() {
        let config = config();
        let charged = delivered::<Shop>(
            1,
            ServiceName::PaymentService,
            Event::PaymentProcessed {
                customer_id: CustomerId::new(1).expect("id"),
                amount_cents: 100,
                credit_left_cents: 0,
                attempts: 1,
            },
        );
        assert_eq!(check(&config, &[&charged], false), Ok(()), "not ended yet");
        let err = check(&config, &[&charged], true).expect_err("left hanging");
        assert!(
            err.contains("order 1: its charge was neither shipped nor undone"),
            "{err}"
        );
    }
}
