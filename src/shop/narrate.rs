//! What the shop's services say about their events: the `Service: message` lines, a
//! function of each event alone, so the text output can be rebuilt from a journal.

use std::io;

use crate::engine::Envelope;
use crate::shop::event::ServiceName;
use crate::shop::{inventory, order, payment, shipping, Shop};

/// Writes what the emitting service says about `envelope`, one `Service: message` line each.
pub fn narrate(envelope: &Envelope<Shop>, out: &mut impl io::Write) -> io::Result<()> {
    let order_id = envelope.order_id;
    match envelope.service {
        ServiceName::OrderService => order::narrate(&envelope.event, order_id, out),
        ServiceName::InventoryService => inventory::narrate(&envelope.event, order_id, out),
        ServiceName::PaymentService => payment::narrate(&envelope.event, order_id, out),
        ServiceName::ShippingService => shipping::narrate(&envelope.event, order_id, out),
    }
}
