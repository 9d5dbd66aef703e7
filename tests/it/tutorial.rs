//! The tutorial's choreography (`examples/tutorial`), written with `choreo::flow`, through the
//! engine: the reference output, the check, the topology, and what the layer derives.

use choreo::config::Config;
use choreo::engine::Choreography;
use choreo::view::output::{Format, Writer};

use crate::helpers::{check_every_schedule, reference_output, repo_path};

#[allow(dead_code)] // Its `main` is the example's.
#[path = "../../examples/tutorial/main.rs"]
mod example;

use example::{Kind, Order, Tutorial};

fn seed() -> Vec<Order> {
    choreo::input::read_order_file(&repo_path("orders/seed.json")).expect("the seed order")
}

/// `tutorial run orders/seed.json` prints what the tutorial's Python prints, byte for byte.
#[tokio::test]
async fn the_seed_order_prints_the_reference_output() {
    let mut text = Writer::<Tutorial, _>::new(Format::Text, Vec::new());
    let summary = choreo::engine::run(&Config::<Tutorial>::default(), seed(), &mut text)
        .await
        .expect("the order completes");
    assert_eq!(summary.completed, 1);
    let printed = String::from_utf8(text.into_inner()).expect("utf-8");
    assert_eq!(printed, reference_output());
}

/// The most events an order causes is derived from the wiring: the four kinds its start
/// reaches; the last one completes it.
#[test]
fn the_most_events_and_the_outcomes_are_derived_from_the_declarations() {
    assert_eq!(Tutorial::MAX_EVENTS, 4);
    assert_eq!(
        Tutorial::outcome(Kind::ShippingArranged),
        Some(choreo::engine::Outcome::Completed)
    );
    assert_eq!(Tutorial::outcome(Kind::PaymentProcessed), None);
}

/// `tutorial check`: every schedule of the seed order, with duplicates and a crash, keeps
/// every property.
#[test]
fn every_schedule_of_the_seed_order_keeps_every_property() {
    let checked = check_every_schedule(&Config::<Tutorial>::default(), &seed());
    assert!(
        matches!(checked.verdict, choreo::check::Verdict::Holds),
        "{:?}",
        checked.verdict
    );
}

/// `tutorial diagram topology` draws the chain from the services' declarations.
#[test]
fn the_topology_is_the_chain_of_four_services() {
    let mut drawn = Vec::new();
    choreo::view::diagram::topology::<Tutorial>(&mut drawn).expect("drawn");
    let drawn = String::from_utf8(drawn).expect("utf-8");
    for edge in [
        "OrderService --> OrderCreated",
        "OrderCreated -.-> InventoryService",
        "InventoryChecked -.-> PaymentService",
        "PaymentProcessed -.-> ShippingService",
        "ShippingService --> ShippingArranged",
    ] {
        assert!(drawn.contains(edge), "{edge} in {drawn}");
    }
}
