//! HotelService: owns the rooms. Books one once the trip's flight is booked, refuses what it
//! cannot book, and gives the room back when no car can be had.

use std::collections::BTreeMap;
use std::io;

use choreo::engine::Service;
use choreo::input::InstanceId;

use crate::booking::{HotelName, Nights};
use crate::config::{Hotel, Pool};
use crate::event::{Count, Event, Kind, ServiceName};
use crate::narrate::not_published;
use crate::{Envelope, Outbox, Trip};

#[derive(Debug, Clone, Hash)]
pub struct HotelService {
    rooms: Pool<HotelName>,
}

impl HotelService {
    pub fn new(hotels: &BTreeMap<HotelName, Hotel>) -> Self {
        HotelService {
            rooms: Pool::new(hotels.iter().map(|(name, h)| (name.clone(), h.rooms))),
        }
    }
}

/// A trip's room, as HotelService knows it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub enum Room {
    /// Not heard of yet.
    #[default]
    Unknown,
    /// Requested, waiting for the flight to be booked.
    Wanted(HotelName, Nights),
    /// Booked: held until it is given back or the trip is confirmed.
    Booked(HotelName),
    /// Refused or given back: nothing held.
    Done,
}

impl Service<Trip> for HotelService {
    const NAME: ServiceName = ServiceName::HotelService;
    const SUBSCRIBES: &'static [Kind] = &[
        Kind::TripRequested,
        Kind::FlightBooked,
        Kind::CarUnavailable,
    ];
    const PUBLISHES: &'static [Kind] = &[
        Kind::HotelBooked,
        Kind::HotelUnavailable,
        Kind::HotelCancelled,
    ];

    type State = Room;

    fn handle(&mut self, room: &mut Room, event: &Envelope, out: &mut Outbox) {
        match &event.event {
            Event::TripRequested(itinerary) => {
                *room = Room::Wanted(itinerary.hotel.clone(), itinerary.nights);
            }
            Event::FlightBooked { .. } => {
                let Room::Wanted(hotel, nights) = std::mem::take(room) else {
                    tracing::error!(order_id = %event.order_id, "no room wanted on record");
                    return;
                };
                out.publish(match self.rooms.take(&hotel) {
                    Ok(rooms_left) => {
                        *room = Room::Booked(hotel.clone());
                        Event::HotelBooked {
                            hotel,
                            nights,
                            rooms_left,
                        }
                    }
                    Err(reason) => {
                        *room = Room::Done;
                        Event::HotelUnavailable { hotel, reason }
                    }
                });
            }
            // Compensation: the step after the hotel failed, so the room goes back.
            Event::CarUnavailable { .. } => {
                if let Room::Booked(hotel) = std::mem::replace(room, Room::Done) {
                    let rooms_left = self.rooms.give_back(&hotel);
                    out.publish(Event::HotelCancelled { hotel, rooms_left });
                }
            }
            _ => {}
        }
    }
}

pub fn narrate(event: &Event, trip: InstanceId, out: &mut impl io::Write) -> io::Result<()> {
    match event {
        Event::HotelBooked {
            hotel,
            nights,
            rooms_left,
        } => {
            writeln!(
                out,
                "HotelService: Booking {} at {hotel} for trip {trip}",
                Count(u64::from(nights.get()), "night")
            )?;
            writeln!(
                out,
                "HotelService: Room booked at {hotel} for trip {trip} ({} left)",
                Count(*rooms_left, "room")
            )
        }
        Event::HotelUnavailable { hotel, reason } => writeln!(
            out,
            "HotelService: Cannot book a room at {hotel} for trip {trip}: {}",
            reason.words("fully booked", "no such hotel")
        ),
        Event::HotelCancelled { hotel, rooms_left } => writeln!(
            out,
            "HotelService: Cancelled the room at {hotel} for trip {trip} ({} left)",
            Count(*rooms_left, "room")
        ),
        other => not_published(ServiceName::HotelService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::{CarClass, FlightCode};
    use crate::event::Shortage;
    use crate::tests::{itinerary, narration, requested};

    type Harness = choreo::engine::service::Harness<Trip, HotelService>;

    fn service_with(rooms: u64) -> Harness {
        let hotels = BTreeMap::from([(adlon(), Hotel { rooms })]);
        Harness::new(HotelService::new(&hotels))
    }

    fn adlon() -> HotelName {
        HotelName::from_static("Adlon")
    }

    fn two_nights() -> Nights {
        Nights::new(2).expect("valid")
    }

    /// Runs trip `order_id` of `itinerary` up to the room decision.
    fn flight_booked(service: &mut Harness, order_id: u64) -> Vec<Event> {
        assert!(
            service.react(order_id, requested(itinerary())).is_empty(),
            "no room before the flight is booked"
        );
        let booked = Event::FlightBooked {
            flight: FlightCode::from_static("LH123"),
            seats_left: 0,
        };
        service.react(order_id, booked)
    }

    fn car_unavailable() -> Event {
        Event::CarUnavailable {
            car: CarClass::from_static("van"),
            reason: Shortage::Full,
        }
    }

    /// Once the flight is booked, the room is, for the nights requested.
    #[test]
    fn a_booked_flight_books_a_room_for_the_nights_requested() {
        assert_eq!(
            flight_booked(&mut service_with(2), 1),
            [Event::HotelBooked {
                hotel: adlon(),
                nights: two_nights(),
                rooms_left: 1
            }]
        );
    }

    /// A hotel with every room taken refuses as full.
    #[test]
    fn a_full_hotel_refuses_the_room() {
        let mut service = service_with(1);
        flight_booked(&mut service, 1);
        assert_eq!(
            flight_booked(&mut service, 2),
            [Event::HotelUnavailable {
                hotel: adlon(),
                reason: Shortage::Full
            }]
        );
    }

    /// A hotel that is not in the config is refused as unknown.
    #[test]
    fn an_unknown_hotel_is_refused_as_unknown() {
        let hotels = BTreeMap::from([(HotelName::from_static("Ritz"), Hotel { rooms: 9 })]);
        let mut service = Harness::new(HotelService::new(&hotels));
        assert_eq!(
            flight_booked(&mut service, 1),
            [Event::HotelUnavailable {
                hotel: adlon(),
                reason: Shortage::Unknown
            }]
        );
    }

    /// A missing car gives the room back, once, for the next trip to have.
    #[test]
    fn an_unavailable_car_gives_the_room_back_once() {
        let mut service = service_with(1);
        flight_booked(&mut service, 1);
        assert_eq!(
            service.react(1, car_unavailable()),
            [Event::HotelCancelled {
                hotel: adlon(),
                rooms_left: 1
            }]
        );
        assert_eq!(
            service.states[&InstanceId::new(1).expect("valid")],
            Room::Done
        );
        assert!(matches!(
            flight_booked(&mut service, 2).as_slice(),
            [Event::HotelBooked { rooms_left: 0, .. }]
        ));
    }

    /// A trip refused a room holds none, so a missing car gives nothing back.
    #[test]
    fn a_refused_room_is_not_given_back() {
        let mut service = service_with(0);
        flight_booked(&mut service, 1);
        assert!(service.react(1, car_unavailable()).is_empty());
        assert_eq!(service.service.rooms.left(&adlon()), Some(0));
    }

    /// HotelService says for how many nights, and how many rooms are left.
    #[test]
    fn narration_says_how_many_nights_and_rooms() {
        let text = |event| narration(ServiceName::HotelService, event);
        assert_eq!(
            text(Event::HotelBooked {
                hotel: adlon(),
                nights: two_nights(),
                rooms_left: 0
            }),
            "HotelService: Booking 2 nights at Adlon for trip 1\nHotelService: Room booked at Adlon for trip 1 (0 rooms left)\n"
        );
        assert_eq!(
            text(Event::HotelCancelled {
                hotel: adlon(),
                rooms_left: 1
            }),
            "HotelService: Cancelled the room at Adlon for trip 1 (1 room left)\n"
        );
    }
}
