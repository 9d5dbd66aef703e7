//! What the trip's services say about their events: the `Service: message` lines, a function
//! of each event alone, so the text output can be rebuilt from a journal. Each service says
//! what it publishes; its lines are written beside its decisions.

use std::io;

use crate::event::{Event, ServiceName};
use crate::{car, flight, hotel, trip, Envelope};

/// Writes what the emitting service says about `envelope`.
pub fn narrate(envelope: &Envelope, out: &mut impl io::Write) -> io::Result<()> {
    let trip = envelope.order_id;
    let event = &envelope.event;
    match envelope.service {
        ServiceName::TripService => trip::narrate(event, trip, out),
        ServiceName::FlightService => flight::narrate(event, trip, out),
        ServiceName::HotelService => hotel::narrate(event, trip, out),
        ServiceName::CarService => car::narrate(event, trip, out),
    }
}

/// A service narrates only what it publishes, which the task loop enforces; a journal edited
/// by hand may say otherwise.
pub fn not_published(service: ServiceName, event: &Event) -> io::Result<()> {
    Err(io::Error::other(format!(
        "{service} does not publish {}",
        event.kind()
    )))
}
