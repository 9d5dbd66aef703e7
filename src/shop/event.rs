//! The shop's events, their kinds and its services, and the facts that explain each event.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::name::Name;
use crate::shop::input::{CustomerId, ProductId, Quantity};

/// What happened, with the facts a reader needs to understand why.
///
/// Serialized with an `event` tag holding the variant's name exactly as the reference spells it,
/// and the facts as fields beside it. Amounts are integer cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum Event {
    /// OrderService accepted a new order.
    OrderCreated {
        product_id: ProductId,
        quantity: Quantity,
        customer_id: CustomerId,
    },
    /// InventoryService reserved the order's quantity; `stock` is what is left after it.
    InventoryChecked {
        product_id: ProductId,
        quantity: Quantity,
        stock: u64,
    },
    /// InventoryService could not reserve the order's quantity.
    InventoryUnavailable(Unavailable),
    /// PaymentService charged the customer; `credit_left` is what the customer has left after;
    /// `attempts` is how many tries the payment gateway took.
    PaymentProcessed {
        customer_id: CustomerId,
        amount_cents: u64,
        credit_left_cents: u64,
        attempts: u32,
    },
    /// PaymentService refused the charge.
    PaymentDeclined(Declined),
    /// ShippingService arranged shipping: the order is complete.
    ShippingArranged {
        product_id: ProductId,
        quantity: Quantity,
    },
    /// ShippingService could not ship the order.
    ShippingFailed {
        quantity: Quantity,
        max_quantity: Quantity,
    },
    /// PaymentService refunded an earlier charge (compensating a failed shipment).
    PaymentRefunded {
        customer_id: CustomerId,
        amount_cents: u64,
        credit_left_cents: u64,
    },
    /// InventoryService put a reservation back (compensating a later failure); `stock` is what
    /// is available after it.
    InventoryReleased {
        product_id: ProductId,
        quantity: Quantity,
        stock: u64,
    },
    /// OrderService rejected the order before anything was done for it.
    OrderRejected(Unavailable),
    /// OrderService cancelled the order once every step done for it was undone.
    OrderCancelled { reason: CancelReason },
    /// The emitting service gave up on an event (`gave_up_on`) whose handling kept crashing
    /// it; the steps done for the order are compensated as for a failure at that step.
    DeadLettered { gave_up_on: EventKind, crashes: u32 },
}

/// Why inventory could not be reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    pub product_id: ProductId,
    pub requested: Quantity,
    /// Units in stock when asked; `None` when the product is not in the catalog.
    pub available: Option<u64>,
}

/// Why a payment was declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declined {
    pub customer_id: CustomerId,
    pub amount_cents: u64,
    /// Credit the customer had left; `None` when the customer is unknown.
    pub credit_left_cents: Option<u64>,
    pub reason: DeclineReason,
    /// Tries the payment gateway took (each timed out, when that is the reason).
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// The charge exceeds the credit the customer has left.
    InsufficientCredit,
    UnknownCustomer,
    /// Every attempt at the payment gateway timed out.
    GatewayTimeout,
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    PaymentDeclined,
    ShippingFailed,
    /// An event of the order was dead-lettered by the service in `DeadLettered`.
    DeadLettered,
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CancelReason::PaymentDeclined => "payment declined",
            CancelReason::ShippingFailed => "shipping failed",
            CancelReason::DeadLettered => "dead-lettered",
        })
    }
}

impl Event {
    /// The event's kind, without its facts.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::OrderCreated { .. } => EventKind::OrderCreated,
            Event::InventoryChecked { .. } => EventKind::InventoryChecked,
            Event::InventoryUnavailable(_) => EventKind::InventoryUnavailable,
            Event::PaymentProcessed { .. } => EventKind::PaymentProcessed,
            Event::PaymentDeclined(_) => EventKind::PaymentDeclined,
            Event::ShippingArranged { .. } => EventKind::ShippingArranged,
            Event::ShippingFailed { .. } => EventKind::ShippingFailed,
            Event::PaymentRefunded { .. } => EventKind::PaymentRefunded,
            Event::InventoryReleased { .. } => EventKind::InventoryReleased,
            Event::OrderRejected(_) => EventKind::OrderRejected,
            Event::OrderCancelled { .. } => EventKind::OrderCancelled,
            Event::DeadLettered { .. } => EventKind::DeadLettered,
        }
    }
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    OrderCreated,
    InventoryChecked,
    InventoryUnavailable,
    PaymentProcessed,
    PaymentDeclined,
    ShippingArranged,
    ShippingFailed,
    PaymentRefunded,
    InventoryReleased,
    OrderRejected,
    OrderCancelled,
    DeadLettered,
}

impl EventKind {
    /// The terminal kinds: an order that reached one is finished, and every order reaches
    /// exactly one.
    pub const TERMINAL: [EventKind; 3] = [
        EventKind::ShippingArranged,
        EventKind::OrderRejected,
        EventKind::OrderCancelled,
    ];

    /// Whether an order that reached this event is finished: nothing follows it.
    pub fn is_terminal(self) -> bool {
        Self::TERMINAL.contains(&self)
    }
}

impl Name for EventKind {
    /// Every kind: the happy path first, then failures and compensations.
    const ALL: &'static [EventKind] = &[
        EventKind::OrderCreated,
        EventKind::InventoryChecked,
        EventKind::PaymentProcessed,
        EventKind::ShippingArranged,
        EventKind::InventoryUnavailable,
        EventKind::OrderRejected,
        EventKind::PaymentDeclined,
        EventKind::ShippingFailed,
        EventKind::PaymentRefunded,
        EventKind::InventoryReleased,
        EventKind::OrderCancelled,
        EventKind::DeadLettered,
    ];

    /// The name as the reference spells it, which is also its JSON name.
    fn name(self) -> &'static str {
        match self {
            EventKind::OrderCreated => "OrderCreated",
            EventKind::InventoryChecked => "InventoryChecked",
            EventKind::InventoryUnavailable => "InventoryUnavailable",
            EventKind::PaymentProcessed => "PaymentProcessed",
            EventKind::PaymentDeclined => "PaymentDeclined",
            EventKind::ShippingArranged => "ShippingArranged",
            EventKind::ShippingFailed => "ShippingFailed",
            EventKind::PaymentRefunded => "PaymentRefunded",
            EventKind::InventoryReleased => "InventoryReleased",
            EventKind::OrderRejected => "OrderRejected",
            EventKind::OrderCancelled => "OrderCancelled",
            EventKind::DeadLettered => "DeadLettered",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

crate::names! {
    /// The shop's services, with their short names in config (`[simulation.latency]`).
    pub enum ServiceName {
        OrderService = "order",
        InventoryService = "inventory",
        PaymentService = "payment",
        ShippingService = "shipping",
    }
}

impl ServiceName {
    pub fn as_str(self) -> &'static str {
        self.name()
    }
}

/// The facts of an event that explain what happened to the order, in a few words.
pub(crate) fn facts(event: &Event, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match event {
        Event::OrderCreated {
            product_id,
            quantity,
            customer_id,
        } => write!(
            f,
            "{quantity} of product {product_id} for customer {customer_id}"
        ),
        Event::InventoryChecked {
            product_id,
            quantity,
            stock,
        } => write!(
            f,
            "reserved {quantity} of product {product_id}, {stock} left"
        ),
        Event::InventoryUnavailable(unavailable) | Event::OrderRejected(unavailable) => {
            unavailable_facts(f, unavailable)
        }
        Event::PaymentProcessed {
            customer_id,
            amount_cents,
            credit_left_cents,
            attempts,
        } => {
            write!(
                f,
                "charged {} to customer {customer_id}, {} credit left",
                Money::from(*amount_cents),
                Money::from(*credit_left_cents)
            )?;
            if *attempts > 1 {
                write!(f, ", after {attempts} gateway attempts")?;
            }
            Ok(())
        }
        Event::PaymentDeclined(declined) => {
            let amount = Money::from(declined.amount_cents);
            let customer = declined.customer_id;
            match (declined.reason, declined.credit_left_cents) {
                (DeclineReason::InsufficientCredit, Some(left)) => write!(
                    f,
                    "insufficient credit: {amount} charge, customer {customer} has {} left",
                    Money::from(left)
                ),
                (DeclineReason::InsufficientCredit, None) => write!(
                    f,
                    "insufficient credit: {amount} charge to customer {customer}"
                ),
                (DeclineReason::UnknownCustomer, _) => write!(
                    f,
                    "unknown customer: customer {customer} is not configured ({amount} charge)"
                ),
                (DeclineReason::GatewayTimeout, _) => write!(
                    f,
                    "gateway timeout: {} timed out ({amount} charge to customer {customer})",
                    crate::plural::Count(u64::from(declined.attempts), "attempt")
                ),
            }
        }
        Event::ShippingArranged {
            product_id,
            quantity,
        } => write!(f, "shipped {quantity} of product {product_id}"),
        Event::ShippingFailed {
            quantity,
            max_quantity,
        } => write!(
            f,
            "{quantity} units exceed the {max_quantity}-unit shipment limit"
        ),
        Event::PaymentRefunded {
            customer_id,
            amount_cents,
            credit_left_cents,
        } => write!(
            f,
            "refunded {} to customer {customer_id}, {} credit left",
            Money::from(*amount_cents),
            Money::from(*credit_left_cents)
        ),
        Event::InventoryReleased {
            product_id,
            quantity,
            stock,
        } => write!(
            f,
            "released {quantity} of product {product_id}, {stock} in stock"
        ),
        Event::OrderCancelled { reason } => write!(f, "{reason}"),
        Event::DeadLettered {
            gave_up_on,
            crashes,
        } => write!(
            f,
            "gave up on {gave_up_on} after {}",
            crate::plural::crashes(u64::from(*crashes))
        ),
    }
}

/// Why inventory could not be reserved: the same facts for `InventoryUnavailable` and the
/// `OrderRejected` that follows it.
fn unavailable_facts(f: &mut fmt::Formatter<'_>, unavailable: &Unavailable) -> fmt::Result {
    let Unavailable {
        product_id,
        requested,
        available,
    } = unavailable;
    match available {
        Some(available) => write!(
            f,
            "requested {requested} of product {product_id}, {available} available"
        ),
        None => write!(
            f,
            "requested {requested} of product {product_id}, which is not in the catalog"
        ),
    }
}

/// Cents as dollars, as the narration and summary print them: `$19.99`.
#[derive(Debug, Clone, Copy)]
pub struct Money(pub u128);

impl From<u64> for Money {
    fn from(cents: u64) -> Self {
        Money(u128::from(cents))
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "${}.{:02}", self.0 / 100, self.0 % 100)
    }
}
