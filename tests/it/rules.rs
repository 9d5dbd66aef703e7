//! Business rules: every failure branch ends in one clean, compensated terminal state.

use std::collections::BTreeMap;

use crate::helpers::Config;
use crate::helpers::Envelope;
use crate::helpers::Summary;
use choreo::engine as supervisor;
use choreo::input::read_order_file;
use choreo::shop::Order;
use choreo::shop::{CancelReason, Event, EventKind};

use crate::helpers::{choreo, repo_path};

use EventKind::*;

/// Runs `file` (under the repository root) with `config`, returning each order's event kinds.
async fn run_scenario(
    file: &str,
    config: &Config,
) -> (BTreeMap<u64, Vec<EventKind>>, Vec<Envelope>, Summary) {
    let orders = read_order_file(&repo_path(file)).expect("valid scenario file");
    let mut events: Vec<Envelope> = Vec::new();
    let summary = supervisor::run(config, orders, &mut events)
        .await
        .expect("every order reaches a terminal state");
    let mut flows: BTreeMap<u64, Vec<EventKind>> = BTreeMap::new();
    for envelope in &events {
        flows
            .entry(envelope.order_id.get())
            .or_default()
            .push(envelope.kind());
    }
    (flows, events, summary)
}

fn event_of(events: &[Envelope], order_id: u64, kind: EventKind) -> &Event {
    &events
        .iter()
        .find(|e| e.order_id.get() == order_id && e.kind() == kind)
        .unwrap_or_else(|| panic!("order {order_id} has no {kind}"))
        .event
}

/// Out of stock and unknown products are refused by inventory and rejected, with nothing to
/// undo; the order that fit is shipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_stock_and_unknown_products_are_rejected() {
    let (flows, events, summary) =
        run_scenario("orders/out-of-stock.json", &Config::default()).await;
    assert_eq!(
        flows,
        BTreeMap::from([
            (
                1,
                vec![
                    OrderCreated,
                    InventoryChecked,
                    PaymentProcessed,
                    ShippingArranged
                ]
            ),
            (2, vec![OrderCreated, InventoryUnavailable, OrderRejected]),
            (3, vec![OrderCreated, InventoryUnavailable, OrderRejected]),
        ])
    );
    let Event::OrderRejected(out_of_stock) = event_of(&events, 2, OrderRejected) else {
        unreachable!()
    };
    assert_eq!(
        (out_of_stock.requested.get(), out_of_stock.available),
        (20, Some(10))
    );
    let Event::OrderRejected(unknown) = event_of(&events, 3, OrderRejected) else {
        unreachable!()
    };
    assert_eq!(unknown.available, None);
    assert_eq!(
        (summary.completed, summary.rejected, summary.cancelled),
        (1, 2, 0)
    );
}

/// A charge beyond the customer's credit is declined; inventory releases the reservation, then
/// the order is cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_releases_inventory_then_cancels() {
    let (flows, events, summary) =
        run_scenario("orders/payment-declined.json", &Config::default()).await;
    assert_eq!(
        flows,
        BTreeMap::from([
            (
                1,
                vec![
                    OrderCreated,
                    InventoryChecked,
                    PaymentProcessed,
                    ShippingArranged
                ]
            ),
            (
                2,
                vec![
                    OrderCreated,
                    InventoryChecked,
                    PaymentDeclined,
                    InventoryReleased,
                    OrderCancelled
                ]
            ),
        ])
    );
    let Event::PaymentDeclined(declined) = event_of(&events, 2, PaymentDeclined) else {
        unreachable!()
    };
    assert_eq!(declined.amount_cents, 50 * 4999);
    assert_eq!(declined.credit_left_cents, Some(500_000 - 60 * 4999));
    assert_eq!(
        event_of(&events, 2, OrderCancelled),
        &Event::OrderCancelled {
            reason: CancelReason::PaymentDeclined
        }
    );
    assert_eq!(summary.stats.revenue_cents, 60 * 4999);
    let gadget = &summary.stats.stock[1];
    assert_eq!((gadget.left, gadget.shipped), (250 - 60, 60));
}

/// A shipment that cannot be arranged is compensated in reverse order of the steps done:
/// refund, release, cancel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_shipment_refunds_releases_and_cancels_in_reverse_order() {
    let (flows, _events, summary) =
        run_scenario("orders/shipping-failure.json", &Config::default()).await;
    assert_eq!(
        flows[&1],
        [
            OrderCreated,
            InventoryChecked,
            PaymentProcessed,
            ShippingFailed,
            PaymentRefunded,
            InventoryReleased,
            OrderCancelled
        ]
    );
    assert_eq!(summary.stats.revenue_cents, 0, "the charge was refunded");
    assert_eq!(
        summary.stats.stock[0].left, summary.stats.stock[0].start,
        "the units came back"
    );
}

/// The mixed sample: every outcome at once, each order on its exact path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mixed_sample_takes_every_branch() {
    let (flows, _events, summary) = run_scenario("orders/mixed.jsonl", &Config::default()).await;
    let completed = vec![
        OrderCreated,
        InventoryChecked,
        PaymentProcessed,
        ShippingArranged,
    ];
    let rejected = vec![OrderCreated, InventoryUnavailable, OrderRejected];
    let declined = vec![
        OrderCreated,
        InventoryChecked,
        PaymentDeclined,
        InventoryReleased,
        OrderCancelled,
    ];
    let not_shipped = vec![
        OrderCreated,
        InventoryChecked,
        PaymentProcessed,
        ShippingFailed,
        PaymentRefunded,
        InventoryReleased,
        OrderCancelled,
    ];
    assert_eq!(
        flows,
        BTreeMap::from([
            (1, completed.clone()),
            (2, rejected.clone()),
            (3, completed.clone()),
            (4, rejected.clone()),
            (5, declined.clone()),
            (6, not_shipped),
            (7, declined),
            (8, completed.clone()),
            (9, completed),
            (10, rejected),
        ])
    );
    assert_eq!(
        (summary.completed, summary.rejected, summary.cancelled),
        (4, 3, 3)
    );
}

/// The binary prints each compensation step with the facts behind it.
#[test]
fn the_shipping_failure_scenario_prints_its_compensation_chain() {
    let run = choreo(["run", "orders/shipping-failure.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let tail: Vec<&str> = run.stdout.lines().skip(6).collect();
    assert_eq!(
        tail,
        [
            "ShippingService: Cannot ship order 1: 150 units exceed the 100-unit shipment limit",
            "PaymentService: Refunded $2998.50 to customer 1 for order 1",
            "InventoryService: Released 150 of product 101 for order 1 (1000 in stock)",
            "OrderService: Order 1 cancelled: shipping failed",
        ]
    );
    assert!(
        run.stderr
            .contains("1 order: 0 completed, 0 rejected, 1 cancelled"),
        "{}",
        run.stderr
    );
}

/// A small deterministic generator, so the big test needs no extra crate and is repeatable.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A config and 10,000 orders that take every branch: scarce stock, tight credit, a low
/// shipment limit, unknown products and customers.
pub fn mixed_load() -> (Config, Vec<Order>) {
    let sets = mixed_sets();
    let config = Config::load(&[], &sets).expect("valid config");
    (config, mixed_orders())
}

/// The config of [`mixed_load`], as `--set` arguments.
pub fn mixed_sets() -> Vec<String> {
    [
        "bus.capacity=64",
        "products.101.stock=20000",
        "products.102.stock=3000",
        "products.103.stock=500",
        "customers.1.credit_limit_cents=20000000",
        "customers.2.credit_limit_cents=300000",
        "customers.3.name=Reseller",
        "customers.3.credit_limit_cents=5000000",
        "shipping.max_quantity_per_shipment=8",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The orders of [`mixed_load`].
pub fn mixed_orders() -> Vec<Order> {
    let mut rng = Lcg(7);
    (1..=10_000)
        .map(|id| {
            let product_id = [101, 101, 102, 103, 104][rng.below(5) as usize];
            let customer = [None, Some(2), Some(3), Some(3), Some(42)][rng.below(5) as usize];
            let mut order = serde_json::json!({
                "order_id": id,
                "product_id": product_id,
                "quantity": 1 + rng.below(10),
            });
            if let Some(customer) = customer {
                order["customer_id"] = customer.into();
            }
            serde_json::from_value(order).expect("valid order")
        })
        .collect()
}

/// Over 10,000 mixed orders on the multi-thread runtime, whatever the interleaving: one
/// terminal state per order, stock and money conserved, no oversell, nothing done twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariants_hold_over_ten_thousand_mixed_orders() {
    let (config, orders) = mixed_load();
    let mut events: Vec<Envelope> = Vec::new();
    let summary = supervisor::run(&config, orders.clone(), &mut events)
        .await
        .expect("every order reaches a terminal state");

    crate::invariants::check(&config, orders.len(), &events, &summary)
        .unwrap_or_else(|broken| panic!("{broken}"));
    assert!(summary.completed > 0 && summary.rejected > 0 && summary.cancelled > 0);
    let refunded = events
        .iter()
        .filter(|e| e.kind() == PaymentRefunded)
        .count();
    assert!(refunded > 0, "the load takes the refund branch");
}
