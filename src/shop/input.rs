//! The shop's input record: one order.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::input::{at_ms, InstanceId, Record, MAX_ID};

/// An order's id: an instance id, unique within a run.
pub type OrderId = InstanceId;

/// Largest quantity one order may ask for.
pub const MAX_QUANTITY: u64 = 1_000_000;

crate::bounded_integer!(
    /// A product's id, 1 ..= [`MAX_ID`].
    ProductId(u64), "product_id", MAX_ID
);
crate::bounded_integer!(
    /// A customer's id, 1 ..= [`MAX_ID`].
    CustomerId(u64), "customer_id", MAX_ID
);
crate::bounded_integer!(
    /// How many units an order asks for, 1 ..= [`MAX_QUANTITY`].
    Quantity(u32), "quantity", MAX_QUANTITY
);

/// One order, as read from an order file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Order {
    pub order_id: OrderId,
    pub product_id: ProductId,
    pub quantity: Quantity,
    /// Who pays; absent, the configured `payment.default_customer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// When the order arrives, in milliseconds since the run started; absent, the configured
    /// arrival process decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
}

/// The fields of an order object, as written in a file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderObject {
    order_id: OrderId,
    product_id: ProductId,
    quantity: Quantity,
    #[serde(default)]
    customer_id: Option<CustomerId>,
    #[serde(default, deserialize_with = "at_ms")]
    at_ms: Option<u64>,
}

/// Only an object is an order: the positional form serde derives for structs
/// (`[1, 101, 2]`) is refused.
impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;

        impl<'de> Visitor<'de> for Object {
            type Value = Order;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an order object")
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Order, A::Error> {
                let o = OrderObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Order {
                    order_id: o.order_id,
                    product_id: o.product_id,
                    quantity: o.quantity,
                    customer_id: o.customer_id,
                    at_ms: o.at_ms,
                })
            }
        }

        deserializer.deserialize_map(Object)
    }
}

impl Record for Order {
    fn id(&self) -> InstanceId {
        self.order_id
    }

    fn at_ms(&self) -> Option<u64> {
        self.at_ms
    }
}
