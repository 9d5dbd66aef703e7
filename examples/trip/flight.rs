//! FlightService: owns the seats. Books one for every trip requested, refuses what it cannot
//! book, and gives the seat back when the hotel is unavailable or was cancelled.

use std::collections::BTreeMap;
use std::io;

use choreo::engine::Service;
use choreo::input::InstanceId;

use crate::booking::FlightCode;
use crate::config::{Flight, Pool};
use crate::event::{Count, Event, Kind, ServiceName};
use crate::narrate::not_published;
use crate::{Envelope, Outbox, Trip};

#[derive(Debug, Clone, Hash)]
pub struct FlightService {
    seats: Pool<FlightCode>,
}

impl FlightService {
    pub fn new(flights: &BTreeMap<FlightCode, Flight>) -> Self {
        FlightService {
            seats: Pool::new(flights.iter().map(|(code, f)| (code.clone(), f.seats))),
        }
    }
}

impl Service<Trip> for FlightService {
    const NAME: ServiceName = ServiceName::FlightService;
    const SUBSCRIBES: &'static [Kind] = &[
        Kind::TripRequested,
        Kind::HotelUnavailable,
        Kind::HotelCancelled,
    ];
    const PUBLISHES: &'static [Kind] = &[
        Kind::FlightBooked,
        Kind::FlightUnavailable,
        Kind::FlightCancelled,
    ];

    /// The seat the trip holds, until it is given back or the trip is confirmed (and the
    /// state dropped with the seat sold for good).
    type State = Option<FlightCode>;

    fn handle(&mut self, seat: &mut Self::State, event: &Envelope, out: &mut Outbox) {
        match &event.event {
            Event::TripRequested(itinerary) => {
                let flight = itinerary.flight.clone();
                out.publish(match self.seats.take(&flight) {
                    Ok(seats_left) => {
                        *seat = Some(flight.clone());
                        Event::FlightBooked { flight, seats_left }
                    }
                    Err(reason) => Event::FlightUnavailable { flight, reason },
                });
            }
            // Compensation: the hotel failed, or was undone after the car failed.
            Event::HotelUnavailable { .. } | Event::HotelCancelled { .. } => {
                if let Some(flight) = seat.take() {
                    let seats_left = self.seats.give_back(&flight);
                    out.publish(Event::FlightCancelled { flight, seats_left });
                }
            }
            _ => {}
        }
    }
}

pub fn narrate(event: &Event, trip: InstanceId, out: &mut impl io::Write) -> io::Result<()> {
    match event {
        Event::FlightBooked { flight, seats_left } => {
            writeln!(
                out,
                "FlightService: Booking flight {flight} for trip {trip}"
            )?;
            writeln!(
                out,
                "FlightService: Seat booked on {flight} for trip {trip} ({} left)",
                Count(*seats_left, "seat")
            )
        }
        Event::FlightUnavailable { flight, reason } => writeln!(
            out,
            "FlightService: Cannot book flight {flight} for trip {trip}: {}",
            reason.words("sold out", "no such flight")
        ),
        Event::FlightCancelled { flight, seats_left } => writeln!(
            out,
            "FlightService: Cancelled the seat on {flight} for trip {trip} ({} left)",
            Count(*seats_left, "seat")
        ),
        other => not_published(ServiceName::FlightService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::HotelName;
    use crate::event::Shortage;
    use crate::tests::{itinerary, narration, requested};

    type Harness = choreo::engine::service::Harness<Trip, FlightService>;

    fn service_with(seats: u64) -> Harness {
        let flights = BTreeMap::from([(lh123(), Flight { seats })]);
        Harness::new(FlightService::new(&flights))
    }

    fn lh123() -> FlightCode {
        FlightCode::from_static("LH123")
    }

    /// A flight with a seat left books it and says how many are left.
    #[test]
    fn a_requested_trip_books_a_seat() {
        let out = service_with(2).react(1, requested(itinerary()));
        assert_eq!(
            out,
            [Event::FlightBooked {
                flight: lh123(),
                seats_left: 1
            }]
        );
    }

    /// Seats go in the order trips ask for them: the second trip for the last seat is refused.
    #[test]
    fn the_last_seat_goes_to_the_first_trip_that_asks() {
        let mut service = service_with(1);
        service.react(1, requested(itinerary()));
        assert_eq!(
            service.react(2, requested(itinerary())),
            [Event::FlightUnavailable {
                flight: lh123(),
                reason: Shortage::Full
            }]
        );
    }

    /// A flight that is not in the config is refused as unknown, not as full.
    #[test]
    fn an_unknown_flight_is_refused_as_unknown() {
        let mut trip = itinerary();
        trip.flight = FlightCode::from_static("QF001");
        assert_eq!(
            service_with(9).react(1, requested(trip)),
            [Event::FlightUnavailable {
                flight: FlightCode::from_static("QF001"),
                reason: Shortage::Unknown
            }]
        );
    }

    /// A missing room gives the seat back, once: the second trip can then have it.
    #[test]
    fn an_unavailable_hotel_gives_the_seat_back_once() {
        let mut service = service_with(1);
        service.react(1, requested(itinerary()));
        let unavailable = Event::HotelUnavailable {
            hotel: HotelName::from_static("Adlon"),
            reason: Shortage::Full,
        };
        assert_eq!(
            service.react(1, unavailable),
            [Event::FlightCancelled {
                flight: lh123(),
                seats_left: 1
            }]
        );
        let cancelled = Event::HotelCancelled {
            hotel: HotelName::from_static("Adlon"),
            rooms_left: 1,
        };
        assert!(
            service.react(1, cancelled).is_empty(),
            "no seat left to give back"
        );
        assert!(matches!(
            service.react(2, requested(itinerary())).as_slice(),
            [Event::FlightBooked { seats_left: 0, .. }]
        ));
    }

    /// A cancelled hotel (after a missing car) gives the seat back too.
    #[test]
    fn a_cancelled_hotel_gives_the_seat_back() {
        let mut service = service_with(3);
        service.react(1, requested(itinerary()));
        let cancelled = Event::HotelCancelled {
            hotel: HotelName::from_static("Adlon"),
            rooms_left: 1,
        };
        assert_eq!(
            service.react(1, cancelled),
            [Event::FlightCancelled {
                flight: lh123(),
                seats_left: 3
            }]
        );
    }

    /// A refused trip holds no seat, so a later compensation gives nothing back.
    #[test]
    fn a_refused_trip_has_no_seat_to_give_back() {
        let mut service = service_with(0);
        service.react(1, requested(itinerary()));
        let unavailable = Event::HotelUnavailable {
            hotel: HotelName::from_static("Adlon"),
            reason: Shortage::Full,
        };
        assert!(service.react(1, unavailable).is_empty());
        assert_eq!(service.service.seats.left(&lh123()), Some(0));
    }

    /// FlightService says which flight it booked, how many seats are left, and why not.
    #[test]
    fn narration_says_what_was_booked_and_what_is_left() {
        let text = |event| narration(ServiceName::FlightService, event);
        assert_eq!(
            text(Event::FlightBooked {
                flight: lh123(),
                seats_left: 1
            }),
            "FlightService: Booking flight LH123 for trip 1\nFlightService: Seat booked on LH123 for trip 1 (1 seat left)\n"
        );
        assert_eq!(
            text(Event::FlightUnavailable {
                flight: lh123(),
                reason: Shortage::Full
            }),
            "FlightService: Cannot book flight LH123 for trip 1: sold out\n"
        );
    }
}
