//! The e-commerce choreography, choreo's built-in example: an order passes through
//! OrderService, InventoryService, PaymentService and ShippingService by four events, with
//! business rules, failures and compensations.
//!
//! - [`event`]: the shop's events, kinds and services, and the facts of each event.
//! - [`input`]: an order, as read from an order file.
//! - [`config`]: catalog, customers, payment and shipping rules, the payment gateway.
//! - [`order`], [`inventory`], [`payment`], [`shipping`]: each service's decisions, and what
//!   it says about the events it publishes ([`narrate`]).
//! - [`stats`]: revenue and stock for the summary.

pub mod config;
pub mod event;
pub mod input;
pub mod invariants;
pub mod inventory;
pub mod lines;
pub mod narrate;
pub mod order;
pub mod payment;
pub mod shipping;
pub mod stats;

use std::fmt;
use std::io;

pub use config::{Customer, GatewayFaults, Product, ShopConfig};
pub use event::{
    CancelReason, DeclineReason, Declined, Event, EventKind, Money, ServiceName, Unavailable,
};
pub use input::{CustomerId, Order, OrderId, ProductId, Quantity};
pub use inventory::InventoryService;
pub use order::OrderService;
pub use payment::PaymentService;
pub use shipping::ShippingService;
pub use stats::{ShopStats, StockLine};

use crate::engine::config::Invalid;
use crate::engine::Envelope;
use crate::engine::{Cause, Choreography, Outcome, Role, Services, SpawnError};

/// The shop, as a [`Choreography`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Shop;

impl Choreography for Shop {
    const NAME: &'static str = "shop";
    type Event = Event;
    type Kind = EventKind;
    type Service = ServiceName;
    type Input = Order;
    type Config = ShopConfig;
    type Stats = ShopStats;

    const CONFIG_KEYS: &'static [&'static str] = &[
        "products",
        "customers",
        "payment",
        "shipping",
        "simulation.faults.gateway",
    ];
    const DEFAULT_CONFIG: &'static str = include_str!("../../config/default.toml");
    const DEFAULT_CONFIG_FILE: Option<&'static str> = Some("config/default.toml");
    /// The longest path through the flow, a shipment that fails after payment: OrderCreated,
    /// InventoryChecked, PaymentProcessed, ShippingFailed, PaymentRefunded, InventoryReleased,
    /// OrderCancelled.
    const MAX_EVENTS: u64 = 7;

    fn kind(event: &Event) -> EventKind {
        event.kind()
    }

    fn outcome(kind: EventKind) -> Option<Outcome> {
        match kind {
            EventKind::ShippingArranged => Some(Outcome::Completed),
            EventKind::OrderRejected => Some(Outcome::Rejected),
            EventKind::OrderCancelled => Some(Outcome::Cancelled),
            EventKind::OrderCreated
            | EventKind::InventoryChecked
            | EventKind::InventoryUnavailable
            | EventKind::PaymentProcessed
            | EventKind::PaymentDeclined
            | EventKind::ShippingFailed
            | EventKind::PaymentRefunded
            | EventKind::InventoryReleased
            | EventKind::DeadLettered => None,
        }
    }

    fn role(kind: EventKind) -> Role {
        match kind {
            EventKind::OrderCreated
            | EventKind::InventoryChecked
            | EventKind::PaymentProcessed
            | EventKind::ShippingArranged => Role::Forward,
            EventKind::InventoryUnavailable
            | EventKind::PaymentDeclined
            | EventKind::ShippingFailed
            | EventKind::DeadLettered => Role::Failure,
            EventKind::PaymentRefunded | EventKind::InventoryReleased => Role::Compensation,
            EventKind::OrderRejected | EventKind::OrderCancelled => Role::Closing,
        }
    }

    fn validate(config: &ShopConfig) -> Result<(), Invalid> {
        // Checked here as well as when parsed, for a config changed in code.
        for (id, product) in &config.products {
            if product.price_cents > config::MAX_PRICE_CENTS {
                return Err(Invalid::new(
                    format!("products.{id}.price_cents"),
                    format!(
                        "must be at most {} cents, got {}",
                        config::MAX_PRICE_CENTS,
                        product.price_cents
                    ),
                ));
            }
        }
        if !config
            .customers
            .contains_key(&config.payment.default_customer)
        {
            return Err(Invalid::new(
                "payment.default_customer",
                format!(
                    "customer {} is not in [customers]",
                    config.payment.default_customer
                ),
            )
            .related("customers"));
        }
        Ok(())
    }

    fn start(order: &Order, config: &ShopConfig) -> (ServiceName, Event) {
        let created = OrderService::create_order(order, config.payment.default_customer);
        (ServiceName::OrderService, created)
    }

    fn services(
        shop: &ShopConfig,
        seed: u64,
        services: &mut impl Services<Self>,
    ) -> Result<(), SpawnError> {
        services.add(OrderService)?;
        services.add(InventoryService::new(&shop.products))?;
        // The gateway's faults draw from their own stream, apart from PaymentService's
        // latency and crashes.
        let rng = crate::sim::stream(seed, "PaymentService/gateway");
        let gateway = shop.simulation.faults.gateway.clone();
        services.add(PaymentService::new(
            &shop.products,
            &shop.customers,
            gateway,
            rng,
        ))?;
        services.add(ShippingService::new(
            shop.shipping.max_quantity_per_shipment,
        ))
    }

    fn narrate(envelope: &Envelope<Self>, out: &mut impl io::Write) -> io::Result<()> {
        narrate::narrate(envelope, out)
    }

    fn facts(event: &Event, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        event::facts(event, f)
    }

    fn ending(terminal: &Envelope<Self>) -> String {
        let order = terminal.order_id;
        match &terminal.event {
            Event::OrderRejected(why) => match why.available {
                Some(available) => format!(
                    "order {order} rejected: {} of product {} requested, {available} available",
                    why.requested, why.product_id
                ),
                None => format!(
                    "order {order} rejected: product {} is not in the catalog",
                    why.product_id
                ),
            },
            Event::OrderCancelled { reason } => format!("order {order} cancelled: {reason}"),
            Event::ShippingArranged { .. } => format!("order {order} completed"),
            // Not terminal: the engine passes only terminal events.
            Event::OrderCreated { .. }
            | Event::InventoryChecked { .. }
            | Event::InventoryUnavailable(_)
            | Event::PaymentProcessed { .. }
            | Event::PaymentDeclined(_)
            | Event::ShippingFailed { .. }
            | Event::PaymentRefunded { .. }
            | Event::InventoryReleased { .. }
            | Event::DeadLettered { .. } => format!("order {order} ended: {}", terminal.kind()),
        }
    }

    /// The report shows a cause as `<outcome>: <label>` (`rejected: not enough stock`), and
    /// a cancellation's without the outcome, in the row of the service that started it.
    fn cause(envelope: &Envelope<Self>) -> Option<Cause<ServiceName>> {
        let cause = |slug: &str, label: &str, started_by| {
            Some(Cause {
                slug: slug.to_owned(),
                label: label.to_owned(),
                started_by,
            })
        };
        match &envelope.event {
            Event::InventoryUnavailable(unavailable) | Event::OrderRejected(unavailable) => {
                match unavailable.available {
                    Some(_) => cause(
                        "out-of-stock",
                        "not enough stock",
                        Some(ServiceName::InventoryService),
                    ),
                    None => cause(
                        "unknown-product",
                        "product not in the catalog",
                        Some(ServiceName::InventoryService),
                    ),
                }
            }
            Event::PaymentDeclined(declined) => match declined.reason {
                DeclineReason::InsufficientCredit => cause(
                    "insufficient-credit",
                    "payment declined, charge exceeds the credit left",
                    Some(ServiceName::PaymentService),
                ),
                DeclineReason::UnknownCustomer => cause(
                    "unknown-customer",
                    "payment declined, unknown customer",
                    Some(ServiceName::PaymentService),
                ),
                DeclineReason::GatewayTimeout => cause(
                    "gateway-timeout",
                    "payment declined, every gateway attempt timed out",
                    Some(ServiceName::PaymentService),
                ),
            },
            Event::ShippingFailed { .. } => cause(
                "shipping-failed",
                "shipping failed, quantity above the shipment limit",
                Some(ServiceName::ShippingService),
            ),
            Event::DeadLettered { .. } => Some(Cause {
                slug: format!("dead-lettered-{}", envelope.service),
                label: format!(
                    "dead-lettered, {} gave up after repeated crashes",
                    envelope.service
                ),
                started_by: Some(envelope.service),
            }),
            // Only when the failure that started the cancellation was not seen (not expected:
            // the report sees every event).
            Event::OrderCancelled { reason } => Some(Cause {
                slug: format!("cancelled-{reason:?}"),
                label: format!("{reason} (the failure itself was not seen)"),
                started_by: None,
            }),
            Event::OrderCreated { .. }
            | Event::InventoryChecked { .. }
            | Event::PaymentProcessed { .. }
            | Event::ShippingArranged { .. }
            | Event::PaymentRefunded { .. }
            | Event::InventoryReleased { .. } => None,
        }
    }

    fn dead_lettered(gave_up_on: EventKind, crashes: u32) -> Option<Event> {
        Some(Event::DeadLettered {
            gave_up_on,
            crashes,
        })
    }

    fn invariant(
        config: &ShopConfig,
        events: &[&Envelope<Shop>],
        ended: bool,
    ) -> Result<(), String> {
        invariants::check(config, events, ended)
    }

    /// Stock (InventoryService) and credit with the gateway's random stream (PaymentService)
    /// are what orders share: reserving and releasing, charging and refunding. The rest
    /// (learning the payer, shipping, closing an order, forgetting it) touches the order's
    /// own record, and the invariants read the stock and money events only.
    fn shared(service: ServiceName, kind: EventKind) -> bool {
        use EventKind as K;
        match service {
            ServiceName::InventoryService => matches!(
                kind,
                K::OrderCreated | K::PaymentDeclined | K::PaymentRefunded | K::DeadLettered
            ),
            ServiceName::PaymentService => {
                matches!(
                    kind,
                    K::InventoryChecked | K::ShippingFailed | K::DeadLettered
                )
            }
            ServiceName::OrderService | ServiceName::ShippingService => false,
        }
    }

    fn endings() -> Option<Vec<String>> {
        let cancelled = |label: &str| format!("cancelled: {label}");
        let mut endings = vec![
            "completed".to_owned(),
            "rejected: not enough stock".to_owned(),
            "rejected: product not in the catalog".to_owned(),
            cancelled("payment declined, charge exceeds the credit left"),
            cancelled("payment declined, unknown customer"),
            cancelled("payment declined, every gateway attempt timed out"),
            cancelled("shipping failed, quantity above the shipment limit"),
        ];
        // Each service with a forward event can give up on it (poison).
        for service in [
            ServiceName::InventoryService,
            ServiceName::PaymentService,
            ServiceName::ShippingService,
        ] {
            endings.push(cancelled(&format!(
                "dead-lettered, {service} gave up after repeated crashes"
            )));
        }
        Some(endings)
    }

    fn monitor(config: &ShopConfig) -> Box<dyn crate::engine::monitor::Monitor<Shop>> {
        Box::new(invariants::ShopMonitor::new(config))
    }

    fn as_dead_letter(event: &Event) -> Option<(EventKind, u32)> {
        match event {
            Event::DeadLettered {
                gave_up_on,
                crashes,
            } => Some((*gave_up_on, *crashes)),
            Event::OrderCreated { .. }
            | Event::InventoryChecked { .. }
            | Event::InventoryUnavailable(_)
            | Event::PaymentProcessed { .. }
            | Event::PaymentDeclined(_)
            | Event::ShippingArranged { .. }
            | Event::ShippingFailed { .. }
            | Event::PaymentRefunded { .. }
            | Event::InventoryReleased { .. }
            | Event::OrderRejected(_)
            | Event::OrderCancelled { .. } => None,
        }
    }
}
