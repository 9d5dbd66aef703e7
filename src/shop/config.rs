//! The shop's own config: its catalog, customers, payment and shipping rules, and the
//! payment gateway's simulated faults (`simulation.faults.gateway`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::input::keyed_by_id;
use crate::shop::input::{CustomerId, ProductId, Quantity};
use crate::sim::{Millis, Probability};

/// The shop's settings: the top-level tables `products`, `customers`, `payment`, `shipping`,
/// and `simulation.faults.gateway`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopConfig {
    /// The catalog InventoryService sells from, by product id (`[products.101]`).
    #[serde(deserialize_with = "keyed_by_id")]
    pub products: BTreeMap<ProductId, Product>,
    /// The customers PaymentService charges, by customer id (`[customers.1]`).
    #[serde(deserialize_with = "keyed_by_id")]
    pub customers: BTreeMap<CustomerId, Customer>,
    pub payment: PaymentConfig,
    pub shipping: ShippingConfig,
    pub simulation: ShopSimulation,
}

/// `simulation.faults.gateway`, where the shop's one simulated setting lives.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopSimulation {
    pub faults: ShopFaults,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopFaults {
    pub gateway: GatewayFaults,
}

/// A product in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    /// Unit price in cents, 0 ..= [`MAX_PRICE_CENTS`].
    #[serde(deserialize_with = "price")]
    pub price_cents: u64,
    /// Units in stock when the run starts.
    pub stock: u64,
}

/// Largest unit price, in cents: with at most a million units an order, any charge fits in
/// 64 bits many times over.
pub const MAX_PRICE_CENTS: u64 = 1_000_000_000;

/// A customer PaymentService can charge.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub name: String,
    /// The most the customer may have charged at once, in cents; refunds give it back.
    pub credit_limit_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentConfig {
    /// Who pays for orders without a `customer_id`; must be one of `[customers]`.
    pub default_customer: CustomerId,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingConfig {
    /// Orders for more units than this cannot be shipped; they are refunded, released and
    /// cancelled.
    pub max_quantity_per_shipment: Quantity,
}

fn price<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let cents = u64::deserialize(deserializer)?;
    if cents > MAX_PRICE_CENTS {
        return Err(serde::de::Error::custom(format_args!(
            "must be at most {MAX_PRICE_CENTS} cents, got {cents}"
        )));
    }
    Ok(cents)
}

/// The payment gateway, as PaymentService sees it.
#[derive(Debug, Clone, PartialEq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayFaults {
    /// Chance that one charge attempt times out.
    pub timeout: Probability,
    /// How long an attempt takes to time out.
    pub timeout_ms: Millis,
    /// Attempts before the charge is declined, 1 ..= [`MAX_ATTEMPTS`].
    #[serde(deserialize_with = "attempts")]
    pub max_attempts: u32,
    /// Backoff before retry n is `backoff_ms * 2^(n-1)`, plus up to as much again of seeded
    /// jitter.
    pub backoff_ms: Millis,
}

/// The most gateway attempts one charge may take.
pub const MAX_ATTEMPTS: u32 = 100;

fn attempts<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let value = deserializer.deserialize_u64(crate::input::WholeNumber {
        what: "max_attempts",
        min: 1,
        max: u64::from(MAX_ATTEMPTS),
    })?;
    Ok(value as u32)
}
