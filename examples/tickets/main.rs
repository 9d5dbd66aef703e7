//! Tickets with string ids (`"T-2026-0001"`, a UUID): the smallest choreography whose
//! instances are not numbered. Seats are held, then the ticket issued; more than four seats
//! are refused. The tests run it in process (`tests/it/ids.rs`) and over NATS, its services
//! each a process of this binary (`tests/it/nats_ids.rs`).
//!
//! ```text
//! cargo run --release --example tickets -- run tests/data/tickets.jsonl
//! cargo run --release --example tickets -- run tests/data/tickets.jsonl --nats nats://127.0.0.1:4222 --spawn-services
//! ```

use choreo::flow::prelude::*;

choreo::events! {
    /// What happens to a ticket.
    pub enum Event: Kind {
        TicketRequested { seats: u64 },
        SeatsHeld { seats: u64 },
        SeatsRefused { seats: u64 } => failure,
        TicketIssued => completed,
        TicketRejected => rejected,
    }
}

/// A ticket to issue: `{"ticket_id": "T-2026-0001", "seats": 2}`; its id is a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    ticket_id: TextId,
    seats: u64,
}

choreo::choreography! {
    /// Tickets: seats held, then the ticket issued; more than four seats are refused.
    pub Tickets("tickets") {
        events: Event / Kind,
        input: Ticket / ticket_id,
        start: Desk, |ticket, _| Event::TicketRequested { seats: ticket.seats },
        narrate: |event, id| match event {
            Event::TicketRequested { seats } => format!("Ticket {id}: {seats} seats asked for"),
            Event::SeatsHeld { seats } => format!("Held {seats} seats for ticket {id}"),
            Event::SeatsRefused { seats } => format!("Cannot hold {seats} seats for ticket {id}"),
            Event::TicketIssued => format!("Ticket {id} issued"),
            Event::TicketRejected => format!("Ticket {id} rejected"),
        },
    }
    services: Service {
        Desk: [SeatsHeld, SeatsRefused] -> [TicketRequested, TicketIssued, TicketRejected]
            => |_, _, event, out| match event.event {
                Event::SeatsHeld { .. } => out.publish(Event::TicketIssued),
                _ => out.publish(Event::TicketRejected),
            },
        Seats: [TicketRequested] -> [SeatsHeld, SeatsRefused]
            => |_, _, event, out| if let Event::TicketRequested { seats } = event.event {
                match seats {
                    1..=4 => out.publish(Event::SeatsHeld { seats }),
                    _ => out.publish(Event::SeatsRefused { seats }),
                }
            },
    }
}

fn main() -> ExitCode {
    Tickets::main()
}
