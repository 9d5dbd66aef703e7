//! Tests that drive the library: the supervisor and the four services, under Tokio.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::helpers::Config;
use crate::helpers::Envelope;
use choreo::engine::{self as supervisor, Failure};
use choreo::shop::OrderId;
use choreo::shop::{EventKind, ServiceName};

use crate::helpers::order;

fn config_with(sets: &[&str]) -> Config {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Config::load(&[], &sets).expect("valid config")
}

/// Each order's events, in bus order.
fn by_order(events: &[Envelope]) -> BTreeMap<OrderId, Vec<&Envelope>> {
    let mut orders: BTreeMap<OrderId, Vec<&Envelope>> = BTreeMap::new();
    for envelope in events {
        orders.entry(envelope.order_id).or_default().push(envelope);
    }
    orders
}

/// One order passes through the four services by the reference's four events, each caused by
/// the one before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_passes_through_all_four_services_in_order() {
    let mut events: Vec<Envelope> = Vec::new();
    let summary = supervisor::run(&Config::default(), [order(1, 101, 2)], &mut events)
        .await
        .expect("run succeeds");

    let flow: Vec<(ServiceName, EventKind)> =
        events.iter().map(|e| (e.service, e.kind())).collect();
    assert_eq!(
        flow,
        [
            (ServiceName::OrderService, EventKind::OrderCreated),
            (ServiceName::InventoryService, EventKind::InventoryChecked),
            (ServiceName::PaymentService, EventKind::PaymentProcessed),
            (ServiceName::ShippingService, EventKind::ShippingArranged),
        ]
    );
    assert_eq!(events[0].cause, None);
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].cause,
            Some(pair[0].id),
            "each event is caused by the one before"
        );
    }
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
    assert_eq!(summary.completed, 1);
    assert_eq!(summary.unfinished, 0);
    assert_eq!(summary.events, 4);
}

/// Many orders through a small bus: every order completes with its own four events in flow
/// order, and the bus sequence has no gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_orders_through_a_small_bus_all_complete_in_causal_order() {
    let config = config_with(&[
        "bus.capacity=8",
        "products.101.stock=1000000",
        "products.102.stock=1000000",
        "products.103.stock=1000000",
        "customers.1.credit_limit_cents=100000000000",
    ]);
    let orders: Vec<_> = (1..=2_000)
        .map(|id| order(id, 101 + id % 3, 1 + id % 5))
        .collect();
    let mut events: Vec<Envelope> = Vec::new();
    let summary = supervisor::run(&config, orders, &mut events)
        .await
        .expect("run succeeds");

    assert_eq!(summary.orders, 2_000);
    assert_eq!(summary.completed, 2_000, "{summary}");
    assert_eq!(summary.lost_events, 0);
    assert!(
        events.iter().map(|e| e.seq).eq(0..8_000),
        "no gaps in the sequence"
    );
    let orders = by_order(&events);
    assert_eq!(orders.len(), 2_000);
    let happy_path = [
        EventKind::OrderCreated,
        EventKind::InventoryChecked,
        EventKind::PaymentProcessed,
        EventKind::ShippingArranged,
    ];
    for (order_id, flow) in orders {
        let kinds: Vec<EventKind> = flow.iter().map(|e| e.kind()).collect();
        assert_eq!(kinds, happy_path, "order {order_id}");
    }
}

/// An empty order list finishes at once, successfully.
#[tokio::test]
async fn zero_orders_finish_at_once() {
    let mut events: Vec<Envelope> = Vec::new();
    let summary = supervisor::run(&Config::default(), [], &mut events)
        .await
        .expect("run succeeds");
    assert_eq!(summary.orders, 0);
    assert!(events.is_empty());
}

/// Every service is stopped and joined when the run returns: none outlives it.
#[tokio::test]
async fn services_are_shut_down_when_the_run_returns() {
    let before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let mut events: Vec<Envelope> = Vec::new();
    supervisor::run(&Config::default(), [order(1, 101, 2)], &mut events)
        .await
        .expect("run succeeds");
    let after = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert_eq!(after, before, "no service task left running");
}

/// A run that cannot finish in time never hangs: it fails with the time limit and lists what
/// did not finish. (Payment takes 10 simulated seconds an event, the limit is 1 s.)
#[tokio::test(start_paused = true)]
async fn a_run_past_its_time_limit_fails_and_names_unfinished_orders() {
    let config = config_with(&[
        "run.time_limit=1s",
        "simulation.latency.payment={ model = \"fixed\", ms = 10000 }",
    ]);
    let mut events: Vec<Envelope> = Vec::new();
    let orders = (1..=3).map(|id| order(id, 101, 1));
    let failed = supervisor::run(&config, orders, &mut events)
        .await
        .expect_err("the time limit passes");

    assert_eq!(failed.failures.len(), 1, "{failed}");
    let Failure::TimeLimit {
        limit,
        unfinished,
        not_admitted,
        ..
    } = &failed.failures[0]
    else {
        panic!("expected a time-limit failure, got {failed}");
    };
    assert_eq!(*limit, Duration::from_secs(1));
    let ids: Vec<u64> = unfinished.iter().map(|id| id.get()).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(*not_admitted, 0);
    assert_eq!(failed.summary.unfinished, 3);
    assert!(
        failed
            .to_string()
            .contains("time limit of 1s reached; 3 unfinished orders: 1, 2, 3"),
        "{failed}"
    );
}

/// A service that crashes more often than the restart intensity allows fails the run, named.
#[tokio::test(start_paused = true)]
async fn a_service_crashing_past_its_restart_limit_fails_the_run_named() {
    let config = config_with(&[
        "simulation.faults.inventory.crash=1.0",
        "simulation.faults.max_restarts=3",
    ]);
    let mut events: Vec<Envelope> = Vec::new();
    let failed = supervisor::run(&config, [order(1, 101, 1)], &mut events)
        .await
        .expect_err("the restart limit is passed");
    let message = failed.to_string();
    assert!(
        message.contains(
            "InventoryService crashed more than 3 times within 1s; 1 unfinished order: 1"
        ),
        "{message}"
    );
    assert_eq!(
        failed.summary.restarts.get(&ServiceName::InventoryService),
        Some(&3)
    );
}

/// The example of docs/library.md, as written there (`tests/it/docs.rs` checks that the page
/// shows this code).
mod as_documented {
    use choreo::config::Config;
    use choreo::engine::{self, Envelope};
    use choreo::shop::{Order, Shop};

    #[tokio::test]
    async fn one_order_completes() -> anyhow::Result<()> {
        let order: Order =
            serde_json::from_str(r#"{"order_id": 1, "product_id": 101, "quantity": 2}"#)?;
        let mut events: Vec<Envelope<Shop>> = Vec::new(); // or view::output::Writer for text / JSON
        let config = Config::<Shop>::from_toml("[bus]\ncapacity = 64")?; // or Config::default()
        let summary = engine::run(&config, [order], &mut events).await?;
        assert_eq!(summary.completed, 1);
        Ok(())
    }
}
