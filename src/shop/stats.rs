//! The shop's part of the summary: revenue, and stock per product.

use std::fmt;

use serde::Serialize;

use crate::engine::Envelope;
use crate::engine::Stats;
use crate::shop::config::ShopConfig;
use crate::shop::event::{Event, Money};
use crate::shop::input::ProductId;
use crate::shop::Shop;

/// Revenue and stock, folded from the events in bus order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShopStats {
    /// Charged minus refunded, in cents. Wider than any one charge: the sum of millions of
    /// the largest charges still fits, so it can never wrap.
    pub revenue_cents: u128,
    /// Per product in the catalog, by id.
    pub stock: Vec<StockLine>,
}

/// One product's stock over the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockLine {
    pub product_id: ProductId,
    pub name: String,
    /// Units at the start.
    pub start: u64,
    /// Units available at the end, as InventoryService last reported it.
    pub left: u64,
    /// Units shipped.
    pub shipped: u64,
}

impl ShopStats {
    fn line(&mut self, product_id: ProductId) -> Option<&mut StockLine> {
        self.stock
            .binary_search_by_key(&product_id, |line| line.product_id)
            .ok()
            .map(|i| &mut self.stock[i])
    }
}

impl Stats<Shop> for ShopStats {
    fn new(config: &ShopConfig) -> Self {
        ShopStats {
            revenue_cents: 0,
            stock: config
                .products
                .iter()
                .map(|(id, product)| StockLine {
                    product_id: *id,
                    name: product.name.clone(),
                    start: product.stock,
                    left: product.stock,
                    shipped: 0,
                })
                .collect(),
        }
    }

    fn record(&mut self, envelope: &Envelope<Shop>) {
        match envelope.event {
            Event::InventoryChecked {
                product_id, stock, ..
            }
            | Event::InventoryReleased {
                product_id, stock, ..
            } => {
                if let Some(line) = self.line(product_id) {
                    line.left = stock;
                }
            }
            Event::PaymentProcessed { amount_cents, .. } => {
                self.revenue_cents += u128::from(amount_cents)
            }
            Event::PaymentRefunded { amount_cents, .. } => {
                // A refund gives back a charge seen before it (bus order): never below zero.
                self.revenue_cents = self.revenue_cents.saturating_sub(u128::from(amount_cents))
            }
            Event::ShippingArranged {
                product_id,
                quantity,
            } => {
                if let Some(line) = self.line(product_id) {
                    line.shipped += u64::from(quantity.get());
                }
            }
            Event::OrderCreated { .. }
            | Event::InventoryUnavailable(_)
            | Event::PaymentDeclined(_)
            | Event::ShippingFailed { .. }
            | Event::OrderRejected(_)
            | Event::OrderCancelled { .. }
            | Event::DeadLettered { .. } => {}
        }
    }

    fn headline(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  revenue: {}", Money(self.revenue_cents))
    }

    fn details(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("  stock left:")?;
        for (i, line) in self.stock.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(
                f,
                "{sep}{} ({}) {} of {}",
                line.name, line.product_id, line.left, line.start
            )?;
            if line.shipped > 0 {
                write!(f, " ({} shipped)", line.shipped)?;
            }
        }
        writeln!(f)
    }
}
