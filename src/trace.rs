//! One order's story, from a journal: its causal chain as a tree, or the orders that never
//! reached a terminal state.

use std::io;

use crate::event::Envelope;
use crate::order::OrderId;

/// Prints `order`'s causal chain as a tree: each event, its service, and the time since the
/// order's first event; then its terminal state, or `STUCK after <event>`.
pub fn order(events: &[Envelope], order: OrderId, out: &mut impl io::Write) -> io::Result<()> {
    let _ = (events, order, out);
    Err(io::Error::other("trace --order is not written yet"))
}

/// Lists every order without a terminal state, with its last event.
pub fn stuck(events: &[Envelope], out: &mut impl io::Write) -> io::Result<()> {
    let _ = (events, out);
    Err(io::Error::other("trace --stuck is not written yet"))
}
