//! TripService: opens every trip, and closes it: confirmed once the car is booked, rejected
//! when the flight cannot be booked, cancelled once what was booked for it is undone.

use std::io;

use choreo::engine::Service;
use choreo::input::InstanceId;

use crate::booking::Booking;
use crate::event::{no_seat, CancelReason, Event, Itinerary, Kind, ServiceName};
use crate::narrate::not_published;
use crate::{Envelope, Outbox, Trip};

#[derive(Debug, Default, Clone, Hash)]
pub struct TripService;

/// What TripService keeps about a trip in flight.
#[derive(Debug, Default, Clone, Hash)]
pub struct Open {
    /// The trip as requested, from its own `TripRequested`: what a confirmation repeats.
    itinerary: Option<Itinerary>,
    /// Why the trip will be cancelled, kept from the failure until the flight is given back.
    failed: Option<CancelReason>,
}

impl TripService {
    /// The decision at the edge: a booking becomes `TripRequested`. The engine, as the
    /// client, calls it and publishes the result on TripService's behalf.
    pub fn request(booking: &Booking) -> Event {
        Event::TripRequested(Itinerary::from(booking))
    }
}

impl Service<Trip> for TripService {
    const NAME: ServiceName = ServiceName::TripService;
    // TripService hears its own `TripRequested`, to know whose trip it closes.
    const SUBSCRIBES: &'static [Kind] = &[
        Kind::TripRequested,
        Kind::CarBooked,
        Kind::FlightUnavailable,
        Kind::HotelUnavailable,
        Kind::CarUnavailable,
        Kind::FlightCancelled,
    ];
    const PUBLISHES: &'static [Kind] = &[
        Kind::TripRequested,
        Kind::TripConfirmed,
        Kind::TripRejected,
        Kind::TripCancelled,
    ];

    type State = Open;

    fn handle(&mut self, open: &mut Open, event: &Envelope, out: &mut Outbox) {
        if let Event::TripRequested(itinerary) = &event.event {
            open.itinerary = Some(itinerary.clone());
            return;
        }
        let Some(itinerary) = &open.itinerary else {
            tracing::error!(order_id = %event.order_id, "no itinerary on record");
            return;
        };
        let traveller = itinerary.traveller.clone();
        match &event.event {
            // The last step is booked: the trip is complete.
            Event::CarBooked { .. } => out.publish(Event::TripConfirmed(itinerary.clone())),
            // The first step failed: nothing was booked, nothing to undo.
            Event::FlightUnavailable { flight, reason } => out.publish(Event::TripRejected {
                traveller,
                flight: flight.clone(),
                reason: *reason,
            }),
            Event::HotelUnavailable { .. } => open.failed = Some(CancelReason::HotelUnavailable),
            Event::CarUnavailable { .. } => open.failed = Some(CancelReason::CarUnavailable),
            // The seat is the last thing given back, whichever step failed: the trip can close.
            Event::FlightCancelled { .. } => match open.failed.take() {
                Some(reason) => out.publish(Event::TripCancelled { traveller, reason }),
                None => tracing::error!(
                    order_id = %event.order_id,
                    "flight cancelled with no failure on record"
                ),
            },
            _ => {}
        }
    }
}

pub fn narrate(event: &Event, trip: InstanceId, out: &mut impl io::Write) -> io::Result<()> {
    match event {
        Event::TripRequested(itinerary) => writeln!(
            out,
            "TripService: Trip {trip} requested for {}: {}",
            itinerary.traveller,
            itinerary.plan()
        ),
        Event::TripConfirmed(itinerary) => writeln!(
            out,
            "TripService: Trip {trip} confirmed for {}",
            itinerary.traveller
        ),
        Event::TripRejected {
            traveller,
            flight,
            reason,
        } => writeln!(
            out,
            "TripService: Trip {trip} for {traveller} rejected: {}",
            no_seat(flight, *reason)
        ),
        Event::TripCancelled { traveller, reason } => writeln!(
            out,
            "TripService: Trip {trip} for {traveller} cancelled: {reason}, {}",
            reason.undone()
        ),
        other => not_published(ServiceName::TripService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::{CarClass, FlightCode, HotelName};
    use crate::event::Shortage;
    use crate::tests::{itinerary, narration};

    type Harness = choreo::engine::service::Harness<Trip, TripService>;

    /// A trip TripService has heard requested, as trip 1.
    fn requested() -> Harness {
        let mut service = Harness::new(TripService);
        let out = service.react(1, Event::TripRequested(itinerary()));
        assert!(out.is_empty(), "hearing its own request publishes nothing");
        service
    }

    /// The booking's fields become the itinerary every service learns from.
    #[test]
    fn a_booking_becomes_trip_requested_with_its_itinerary() {
        let booking: Booking = serde_json::from_str(
            r#"{"order_id": 1, "traveller": "Ada", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2}"#,
        )
        .expect("valid booking");
        assert_eq!(
            TripService::request(&booking),
            Event::TripRequested(itinerary())
        );
    }

    /// A booked car is the last step: the trip is confirmed with what was booked.
    #[test]
    fn a_booked_car_confirms_the_trip() {
        let out = requested().react(
            1,
            Event::CarBooked {
                car: CarClass::from_static("compact"),
                cars_left: 0,
            },
        );
        assert_eq!(out, [Event::TripConfirmed(itinerary())]);
    }

    /// No seat means nothing was booked: the trip is rejected at once.
    #[test]
    fn an_unavailable_flight_rejects_the_trip_at_once() {
        let out = requested().react(
            1,
            Event::FlightUnavailable {
                flight: FlightCode::from_static("LH123"),
                reason: Shortage::Full,
            },
        );
        assert_eq!(
            out,
            [Event::TripRejected {
                traveller: itinerary().traveller,
                flight: FlightCode::from_static("LH123"),
                reason: Shortage::Full,
            }]
        );
    }

    /// A missing room does not close the trip: the seat must be given back first.
    #[test]
    fn an_unavailable_hotel_cancels_only_once_the_flight_is_given_back() {
        let mut service = requested();
        let unavailable = Event::HotelUnavailable {
            hotel: HotelName::from_static("Adlon"),
            reason: Shortage::Full,
        };
        assert!(service.react(1, unavailable).is_empty());
        assert_eq!(
            service.react(1, flight_cancelled()),
            [Event::TripCancelled {
                traveller: itinerary().traveller,
                reason: CancelReason::HotelUnavailable,
            }]
        );
    }

    /// A missing car cancels the trip with that reason, at the end of the undoing.
    #[test]
    fn an_unavailable_car_cancels_with_its_reason() {
        let mut service = requested();
        let unavailable = Event::CarUnavailable {
            car: CarClass::from_static("van"),
            reason: Shortage::Unknown,
        };
        assert!(service.react(1, unavailable).is_empty());
        assert_eq!(
            service.react(1, flight_cancelled()),
            [Event::TripCancelled {
                traveller: itinerary().traveller,
                reason: CancelReason::CarUnavailable,
            }]
        );
    }

    /// A seat given back with no failure on record is a protocol slip, not a cancellation.
    #[test]
    fn a_cancelled_flight_without_a_failure_closes_nothing() {
        assert!(requested().react(1, flight_cancelled()).is_empty());
    }

    /// What TripService says names the trip, the traveller and why.
    #[test]
    fn narration_names_the_trip_the_traveller_and_why() {
        let text = |event| narration(ServiceName::TripService, event);
        assert_eq!(
            text(Event::TripRequested(itinerary())),
            "TripService: Trip 1 requested for Ada: flight LH123, hotel Adlon for 2 nights, car compact\n"
        );
        assert_eq!(
            text(Event::TripRejected {
                traveller: itinerary().traveller,
                flight: FlightCode::from_static("QF001"),
                reason: Shortage::Unknown,
            }),
            "TripService: Trip 1 for Ada rejected: no flight QF001\n"
        );
        assert_eq!(
            text(Event::TripCancelled {
                traveller: itinerary().traveller,
                reason: CancelReason::CarUnavailable,
            }),
            "TripService: Trip 1 for Ada cancelled: car unavailable, hotel and flight cancelled\n"
        );
    }

    fn flight_cancelled() -> Event {
        Event::FlightCancelled {
            flight: FlightCode::from_static("LH123"),
            seats_left: 5,
        }
    }
}
