//! The tutorial's choreography, on choreo: four services, each reacting to the event before
//! it, from an order's creation to its shipping. The Python original, with its bus and its
//! `subscribe(event, handler)`, is the reference; this prints its output line for line.
//!
//! ```text
//! cargo run --release --example tutorial -- run orders/seed.json
//! cargo run --release --example tutorial -- diagram topology
//! ```

use choreo::flow::prelude::*;

choreo::events! {
    /// What happens to an order, in the order it happens; arranging its shipping completes it.
    pub enum Event: Kind {
        OrderCreated,
        InventoryChecked,
        PaymentProcessed,
        ShippingArranged => completed,
    }
}

/// An order, as the tutorial places it: `{"order_id": 1, "product_id": 101, "quantity": 2}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // The services need the id only, as in the tutorial.
pub struct Order {
    order_id: InstanceId,
    product_id: u64,
    quantity: u64,
}

choreo::choreography! {
    /// The tutorial's order flow: each service hears the step before its own.
    pub Tutorial("tutorial") {
        events: Event / Kind,
        input: Order / order_id,
        start: OrderService, |_order, _config| Event::OrderCreated,
        narrate: |event, id| match event {
            Event::OrderCreated => [format!("Creating order {id}"), format!("Order {id} created")],
            Event::InventoryChecked => [
                format!("Checking inventory for order {id}"),
                format!("Inventory checked for order {id}"),
            ],
            Event::PaymentProcessed => [
                format!("Processing payment for order {id}"),
                format!("Payment processed for order {id}"),
            ],
            Event::ShippingArranged => [
                format!("Arranging shipping for order {id}"),
                format!("Shipping arranged for order {id}"),
            ],
        },
    }
    services: Service {
        OrderService: [] -> [OrderCreated],
        InventoryService: [OrderCreated] -> [InventoryChecked]
            => |_, _, _, out| out.publish(Event::InventoryChecked),
        PaymentService: [InventoryChecked] -> [PaymentProcessed]
            => |_, _, _, out| out.publish(Event::PaymentProcessed),
        ShippingService: [PaymentProcessed] -> [ShippingArranged]
            => |_, _, _, out| out.publish(Event::ShippingArranged),
    }
}

fn main() -> ExitCode {
    Tutorial::main()
}
