//! CarService: owns the hire cars. Books one of the class asked for once the hotel is booked;
//! when it cannot, the hotel and then the flight are undone. The last step: nothing after it
//! can fail, so it never gives a car back.

use std::collections::BTreeMap;
use std::io;

use choreo::engine::Service;
use choreo::input::InstanceId;

use crate::booking::CarClass;
use crate::config::Pool;
use crate::event::{Event, Kind, ServiceName};
use crate::narrate::not_published;
use crate::{Envelope, Outbox, Trip};

#[derive(Debug, Clone, Hash)]
pub struct CarService {
    cars: Pool<CarClass>,
}

impl CarService {
    pub fn new(cars: &BTreeMap<CarClass, u64>) -> Self {
        CarService {
            cars: Pool::new(cars.iter().map(|(class, n)| (class.clone(), *n))),
        }
    }
}

impl Service<Trip> for CarService {
    const NAME: ServiceName = ServiceName::CarService;
    const SUBSCRIBES: &'static [Kind] = &[Kind::TripRequested, Kind::HotelBooked];
    const PUBLISHES: &'static [Kind] = &[Kind::CarBooked, Kind::CarUnavailable];

    /// The class the trip wants, learned from `TripRequested`, until the car is booked or not.
    type State = Option<CarClass>;

    fn handle(&mut self, wanted: &mut Self::State, event: &Envelope, out: &mut Outbox) {
        match &event.event {
            Event::TripRequested(itinerary) => *wanted = Some(itinerary.car.clone()),
            Event::HotelBooked { .. } => {
                let Some(car) = wanted.take() else {
                    tracing::error!(order_id = %event.order_id, "no car class on record");
                    return;
                };
                out.publish(match self.cars.take(&car) {
                    Ok(cars_left) => Event::CarBooked { car, cars_left },
                    Err(reason) => Event::CarUnavailable { car, reason },
                });
            }
            _ => {}
        }
    }
}

pub fn narrate(event: &Event, trip: InstanceId, out: &mut impl io::Write) -> io::Result<()> {
    match event {
        Event::CarBooked { car, cars_left } => {
            writeln!(out, "CarService: Booking a {car} for trip {trip}")?;
            writeln!(
                out,
                "CarService: Booked a {car} for trip {trip} ({cars_left} left)"
            )
        }
        Event::CarUnavailable { car, reason } => writeln!(
            out,
            "CarService: Cannot book a {car} for trip {trip}: {}",
            reason.words("none left", "no such car class")
        ),
        other => not_published(ServiceName::CarService, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::{HotelName, Nights};
    use crate::event::Shortage;
    use crate::tests::{itinerary, narration, requested};

    type Harness = choreo::engine::service::Harness<Trip, CarService>;

    fn service_with(compacts: u64) -> Harness {
        let cars = BTreeMap::from([(compact(), compacts)]);
        Harness::new(CarService::new(&cars))
    }

    fn compact() -> CarClass {
        CarClass::from_static("compact")
    }

    /// Runs trip `order_id` wanting `car` up to the car decision.
    fn hotel_booked(service: &mut Harness, order_id: u64, car: &str) -> Vec<Event> {
        let mut trip = itinerary();
        trip.car = CarClass::from_static(car);
        assert!(
            service.react(order_id, requested(trip)).is_empty(),
            "no car before the hotel is booked"
        );
        let booked = Event::HotelBooked {
            hotel: HotelName::from_static("Adlon"),
            nights: Nights::new(2).expect("valid"),
            rooms_left: 0,
        };
        service.react(order_id, booked)
    }

    /// Once the hotel is booked, a car of the class asked for is.
    #[test]
    fn a_booked_hotel_books_a_car_of_the_class_asked_for() {
        assert_eq!(
            hotel_booked(&mut service_with(2), 1, "compact"),
            [Event::CarBooked {
                car: compact(),
                cars_left: 1
            }]
        );
    }

    /// The last car of a class goes to the first trip that asks; the next is refused as full.
    #[test]
    fn the_last_car_goes_to_the_first_trip_that_asks() {
        let mut service = service_with(1);
        hotel_booked(&mut service, 1, "compact");
        assert_eq!(
            hotel_booked(&mut service, 2, "compact"),
            [Event::CarUnavailable {
                car: compact(),
                reason: Shortage::Full
            }]
        );
    }

    /// A class that is not in the config is refused as unknown.
    #[test]
    fn an_unknown_class_is_refused_as_unknown() {
        let mut service = service_with(5);
        assert_eq!(
            hotel_booked(&mut service, 1, "limo"),
            [Event::CarUnavailable {
                car: CarClass::from_static("limo"),
                reason: Shortage::Unknown
            }]
        );
        assert_eq!(
            service.service.cars.left(&compact()),
            Some(5),
            "no car taken"
        );
    }

    /// CarService says which class it booked, how many are left, and why it could not.
    #[test]
    fn narration_says_which_car_and_why_not() {
        let text = |event| narration(ServiceName::CarService, event);
        assert_eq!(
            text(Event::CarBooked {
                car: compact(),
                cars_left: 2
            }),
            "CarService: Booking a compact for trip 1\nCarService: Booked a compact for trip 1 (2 left)\n"
        );
        assert_eq!(
            text(Event::CarUnavailable {
                car: CarClass::from_static("van"),
                reason: Shortage::Full
            }),
            "CarService: Cannot book a van for trip 1: none left\n"
        );
    }
}
