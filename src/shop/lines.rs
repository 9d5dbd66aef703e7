//! The pieces the services' lines are made of: the happy path's fast line, the dead-letter
//! line every service shares, and the error for an event a service does not publish.

use std::io;

use crate::shop::event::{Event, EventKind, ServiceName};
use crate::shop::input::OrderId;

/// Writes one line `{before}{order_id}{after}\n`: the happy path's lines, which are most of
/// the output at volume, without the formatting machinery.
pub(crate) fn say(
    out: &mut impl io::Write,
    before: &str,
    order_id: OrderId,
    after: &str,
) -> io::Result<()> {
    let mut digits = itoa::Buffer::new();
    out.write_all(before.as_bytes())?;
    out.write_all(digits.format(order_id.get()).as_bytes())?;
    out.write_all(after.as_bytes())?;
    out.write_all(b"\n")
}

/// The line of a `DeadLettered` event, the same for every service.
pub(crate) fn dead_lettered(
    out: &mut impl io::Write,
    service: ServiceName,
    gave_up_on: EventKind,
    order_id: OrderId,
    crashes: u32,
) -> io::Result<()> {
    writeln!(
        out,
        "{service}: Gave up on {gave_up_on} for order {order_id} after {}: dead-lettered",
        crate::plural::crashes(u64::from(crashes))
    )
}

/// A service narrates only what it publishes, which the task loop enforces.
pub(crate) fn unreachable_narration(service: ServiceName, event: &Event) -> io::Result<()> {
    Err(io::Error::other(format!(
        "{service} does not publish {}",
        event.kind()
    )))
}
