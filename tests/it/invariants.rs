//! The invariants every run must keep, whatever the load, interleaving or faults: checked
//! from the events in bus order against the config the run started with.

use std::collections::{HashMap, HashSet};

use crate::helpers::Config;
use crate::helpers::Envelope;
use crate::helpers::Summary;
use choreo::shop::OrderId;
use choreo::shop::{Event, EventKind};

/// Checks one finished run; the first broken invariant is the error.
pub fn check(
    config: &Config,
    orders: usize,
    events: &[Envelope],
    summary: &Summary,
) -> Result<(), String> {
    // Every event id is unique: nothing reserved, charged, refunded or released twice.
    let ids: HashSet<_> = events.iter().map(|e| e.id).collect();
    ensure(ids.len() == events.len(), "an event id was published twice")?;
    let seqs_in_order = events.windows(2).all(|w| w[0].seq + 1 == w[1].seq);
    ensure(seqs_in_order, "the observer missed or reordered events")?;

    // One terminal state per order, and it is the order's last event.
    let mut flows: HashMap<OrderId, Vec<&Envelope>> = HashMap::new();
    for envelope in events {
        flows.entry(envelope.order_id).or_default().push(envelope);
    }
    ensure(
        flows.len() == orders,
        format!("{} of {orders} orders have events", flows.len()),
    )?;
    for (order_id, flow) in &flows {
        let terminals = flow.iter().filter(|e| e.kind().is_terminal()).count();
        ensure(
            terminals == 1,
            format!("order {order_id}: {terminals} terminal events"),
        )?;
        let last = flow.last().map(|e| e.kind());
        ensure(
            last.is_some_and(EventKind::is_terminal),
            format!("order {order_id}: ends with {last:?}"),
        )?;
    }
    let finished = summary.completed + summary.rejected + summary.cancelled;
    ensure(
        finished == orders as u64,
        format!("{finished} finished of {orders}"),
    )?;

    check_stock(config, events, summary)?;
    check_money(config, events, summary)?;

    // Every reservation ends exactly once: shipped, or released once.
    for (order_id, flow) in &flows {
        let kinds: Vec<EventKind> = flow.iter().map(|e| e.kind()).collect();
        let count = |kind| kinds.iter().filter(|k| **k == kind).count();
        if count(EventKind::InventoryChecked) == 1 {
            let shipped = count(EventKind::ShippingArranged) == 1;
            let released = count(EventKind::InventoryReleased);
            ensure(
                shipped ^ (released == 1),
                format!("order {order_id}: reserved, then {kinds:?}"),
            )?;
        }
        if count(EventKind::PaymentProcessed) == 1 {
            let shipped = count(EventKind::ShippingArranged) == 1;
            let refunds = count(EventKind::PaymentRefunded);
            ensure(
                shipped ^ (refunds == 1),
                format!("order {order_id}: charged, then {kinds:?}"),
            )?;
        }
    }
    Ok(())
}

/// Replaying reservations and releases in bus order gives exactly the stock InventoryService
/// reported each time, never below zero; start = left + shipped.
fn check_stock(config: &Config, events: &[Envelope], summary: &Summary) -> Result<(), String> {
    let mut stock: HashMap<_, i64> = config
        .choreography
        .products
        .iter()
        .map(|(id, p)| (*id, p.stock as i64))
        .collect();
    for envelope in events {
        match envelope.event {
            Event::InventoryChecked {
                product_id,
                quantity,
                stock: reported,
            }
            | Event::InventoryReleased {
                product_id,
                quantity,
                stock: reported,
            } => {
                let level = stock
                    .get_mut(&product_id)
                    .ok_or(format!("unknown product {product_id} reserved"))?;
                if envelope.kind() == EventKind::InventoryChecked {
                    *level -= i64::from(quantity.get());
                } else {
                    *level += i64::from(quantity.get());
                }
                ensure(*level >= 0, format!("oversold product {product_id}"))?;
                ensure(
                    *level == reported as i64,
                    format!("stock mismatch at seq {}", envelope.seq),
                )?;
            }
            Event::InventoryUnavailable(unavailable) => {
                let level = stock.get(&unavailable.product_id).copied();
                ensure(
                    level.map(|l| l as u64) == unavailable.available,
                    format!("wrong availability at seq {}", envelope.seq),
                )?;
                ensure(
                    level.is_none_or(|l| l < i64::from(unavailable.requested.get())),
                    format!("refused with enough stock at seq {}", envelope.seq),
                )?;
            }
            _ => {}
        }
    }
    for line in &summary.stats.stock {
        ensure(
            line.start == line.left + line.shipped,
            format!(
                "{}: start {} != left {} + shipped {}",
                line.name, line.start, line.left, line.shipped
            ),
        )?;
        ensure(
            stock[&line.product_id] as u64 == line.left,
            format!("{}: left differs", line.name),
        )?;
    }
    Ok(())
}

/// Credit replayed in bus order matches what PaymentService reported; revenue is charges
/// minus refunds.
fn check_money(config: &Config, events: &[Envelope], summary: &Summary) -> Result<(), String> {
    let mut credit: HashMap<_, i64> = config
        .choreography
        .customers
        .iter()
        .map(|(id, c)| (*id, c.credit_limit_cents as i64))
        .collect();
    let mut revenue: i64 = 0;
    for envelope in events {
        match &envelope.event {
            Event::PaymentProcessed {
                customer_id,
                amount_cents,
                credit_left_cents,
                ..
            } => {
                let left = credit
                    .get_mut(customer_id)
                    .ok_or("charged an unknown customer")?;
                *left -= *amount_cents as i64;
                ensure(*left >= 0, format!("customer {customer_id} over the limit"))?;
                ensure(
                    *left == *credit_left_cents as i64,
                    format!("credit mismatch at seq {}", envelope.seq),
                )?;
                revenue += *amount_cents as i64;
            }
            Event::PaymentRefunded {
                customer_id,
                amount_cents,
                credit_left_cents,
            } => {
                let left = credit
                    .get_mut(customer_id)
                    .ok_or("refunded an unknown customer")?;
                *left += *amount_cents as i64;
                ensure(
                    *left == *credit_left_cents as i64,
                    format!("credit mismatch at seq {}", envelope.seq),
                )?;
                revenue -= *amount_cents as i64;
            }
            _ => {}
        }
    }
    ensure(
        revenue as u128 == summary.stats.revenue_cents,
        "revenue differs from the charges",
    )
}

fn ensure(condition: bool, message: impl Into<String>) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(message.into())
    }
}
