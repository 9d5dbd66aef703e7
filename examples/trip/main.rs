//! The travel-booking saga, choreo's second choreography: a trip is a flight, a hotel and a
//! hire car, booked one after the other by four services that only hear each other's events.
//! When a step cannot be booked, what was booked before it is undone, in reverse order.
//!
//! ```text
//! TripRequested -> FlightBooked -> HotelBooked -> CarBooked -> TripConfirmed
//!            \-> FlightUnavailable -> TripRejected                (nothing to undo)
//!                   HotelUnavailable -> FlightCancelled -> TripCancelled
//!                   CarUnavailable -> HotelCancelled -> FlightCancelled -> TripCancelled
//! ```
//!
//! Input records are bookings, one JSON object each:
//! `{"order_id": 1, "traveller": "Ada", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2}`.
//! What can be booked is the trip's config (`[flights]`, `[hotels]`, `[cars]`, defaults in
//! `default.toml`). Written with `choreo::flow`, beside its own facts, endings and causes.
//!
//! ```text
//! cargo run --release --example trip -- run examples/trip/bookings.jsonl
//! cargo run --release --example trip -- diagram topology
//! cargo test --release --example trip
//! ```
//!
//! - [`booking`]: a booking, the config, and the names they are made of.
//! - this file: the events, each service's decisions and what it says, the invariants.
//! - [`stats`]: seats, rooms and cars booked and left, for the summary.

mod booking;
mod stats;
#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, collections::BTreeSet, fmt};

use choreo::{engine::Cause, flow::prelude::*, plural::Count};

use crate::{booking::*, stats::TripStats};

/// What a trip is made of: who travels, on which flight, where they stay and for how long,
/// and what they drive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Itinerary {
    pub traveller: Traveller,
    pub flight: FlightCode,
    pub hotel: HotelName,
    pub car: CarClass,
    pub nights: Nights,
}

choreo::events! {
    /// What happened, with the facts a reader needs to understand why. Every `*_left` is
    /// what is left after the event: seats on the flight, rooms at the hotel, cars of the class.
    pub enum Event: Kind {
        /// TripService took a booking: every other service learns the itinerary from it.
        TripRequested(Itinerary),
        FlightBooked { flight: FlightCode, seats_left: u64 },
        /// Once the flight was booked.
        HotelBooked { hotel: HotelName, nights: Nights, rooms_left: u64 },
        /// Once the hotel was booked.
        CarBooked { car: CarClass, cars_left: u64 },
        TripConfirmed(Itinerary) => completed,
        FlightUnavailable { flight: FlightCode, reason: Shortage } => failure,
        /// The first step failed: nothing to undo.
        TripRejected { traveller: Traveller, flight: FlightCode, reason: Shortage } => rejected,
        HotelUnavailable { hotel: HotelName, reason: Shortage } => failure,
        CarUnavailable { car: CarClass, reason: Shortage } => failure,
        /// A room given back, for a missing car.
        HotelCancelled { hotel: HotelName, rooms_left: u64 } => compensation,
        /// A seat given back, for a missing or cancelled room.
        FlightCancelled { flight: FlightCode, seats_left: u64 } => compensation,
        /// Once every booking made for the trip was undone.
        TripCancelled { traveller: Traveller, reason: CancelReason } => cancelled,
    }
}

/// Why a trip was cancelled: the step that failed after the flight was booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    HotelUnavailable,
    CarUnavailable,
}

impl CancelReason {
    /// Why, and what was undone for it in the order it was undone.
    pub fn words(self) -> [&'static str; 2] {
        match self {
            CancelReason::HotelUnavailable => ["hotel unavailable", "flight cancelled"],
            CancelReason::CarUnavailable => ["car unavailable", "hotel and flight cancelled"],
        }
    }
}

/// Why a flight could not be booked, in words: `no seat left on LH123`.
pub fn no_seat(flight: &FlightCode, reason: Shortage) -> String {
    reason.words(
        format!("no seat left on {flight}"),
        format!("no flight {flight}"),
    )
}

impl Itinerary {
    /// What is to be booked, without who travels: `flight LH123, hotel Adlon for 2 nights,
    /// car compact`.
    pub fn plan(&self) -> String {
        let nights = Count(u64::from(self.nights.get()), "night");
        format!(
            "flight {}, hotel {} for {nights}, car {}",
            self.flight, self.hotel, self.car
        )
    }
}

/// What TripService keeps about a trip in flight.
#[derive(Debug, Default, Clone, Hash)]
pub struct Open {
    /// The trip as requested, from its own `TripRequested`: what a confirmation repeats.
    itinerary: Option<Itinerary>,
    /// Why the trip will be cancelled, kept from the failure until the flight is given back.
    failed: Option<CancelReason>,
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

/// What `event` does to the stock: which kind of thing (0 flights' seats, 1 hotels' rooms,
/// 2 cars), which one, taken (1) or given back (-1), and how many of it are left after.
pub fn stock(event: &Event) -> Option<(usize, &str, i64, u64)> {
    Some(match event {
        Event::FlightBooked { flight, seats_left } => (0, flight.as_str(), 1, *seats_left),
        Event::FlightCancelled { flight, seats_left } => (0, flight.as_str(), -1, *seats_left),
        Event::HotelBooked {
            hotel, rooms_left, ..
        } => (1, hotel.as_str(), 1, *rooms_left),
        Event::HotelCancelled { hotel, rooms_left } => (1, hotel.as_str(), -1, *rooms_left),
        Event::CarBooked { car, cars_left } => (2, car.as_str(), 1, *cars_left),
        _ => return None,
    })
}

/// The saga's own invariants, for `trip check`: no flight, hotel or car class is booked past
/// what it has, and whatever an instance ends with, each booking it made is kept (confirmed)
/// or given back, never both.
fn invariant(config: &TripConfig, events: &[&Envelope<Trip>], ended: bool) -> Result<(), String> {
    let mut booked: BTreeMap<(usize, &str), i64> = BTreeMap::new();
    for (what, name, n, _) in events.iter().filter_map(|e| stock(&e.event)) {
        *booked.entry((what, name)).or_default() += n;
    }
    let stock = config.stock();
    for (&(what, name), &n) in &booked {
        let has = stock[what].get(name).copied().unwrap_or(0) as i64;
        if n > has || n < 0 {
            let what = ["flight", "hotel", "car"][what];
            return Err(format!("{what} {name}: {n} booked of {has}"));
        }
    }
    // Each booking an ended trip made is kept (the trip confirmed) or given back, not both.
    let seen: BTreeSet<_> = events.iter().map(|e| (e.order_id, e.kind())).collect();
    for &(id, kind) in seen.iter().filter(|_| ended) {
        let given_back = match kind {
            Kind::FlightBooked => Kind::FlightCancelled,
            Kind::HotelBooked => Kind::HotelCancelled,
            _ => continue,
        };
        if seen.contains(&(id, Kind::TripConfirmed)) == seen.contains(&(id, given_back)) {
            return Err(format!(
                "trip {id}: {kind} is neither kept nor given back once"
            ));
        }
    }
    Ok(())
}

choreo::choreography! {
    /// The travel-booking saga.
    pub Trip("trip") {
        events: Event / Kind,
        input: Booking / order_id / at_ms,
        about: "Travel bookings: a flight, a hotel and a car, undone in reverse when one cannot be booked",
        config: TripConfig, keys ["flights", "hotels", "cars"], defaults include_str!("default.toml"),
        stats: TripStats,
        start: TripService, |b: &Booking, _| Event::TripRequested(Itinerary {
            traveller: b.traveller.clone(), flight: b.flight.clone(), hotel: b.hotel.clone(),
            car: b.car.clone(), nights: b.nights,
        }),
        // The longest path, a car that cannot be booked: TripRequested, FlightBooked,
        // HotelBooked, CarUnavailable, HotelCancelled, FlightCancelled, TripCancelled.
        max_events: 7,
        narrate: |event, trip| match event {
            Event::TripRequested(it) => vec![format!("Trip {trip} requested for {}: {}", it.traveller, it.plan())],
            Event::TripConfirmed(it) => vec![format!("Trip {trip} confirmed for {}", it.traveller)],
            Event::TripRejected { traveller, flight, reason } => vec![format!(
                "Trip {trip} for {traveller} rejected: {}", no_seat(flight, *reason))],
            Event::TripCancelled { traveller, reason } => vec![format!(
                "Trip {trip} for {traveller} cancelled: {}", reason.words().join(", "))],
            Event::FlightBooked { flight, seats_left } => vec![
                format!("Booking flight {flight} for trip {trip}"),
                format!("Seat booked on {flight} for trip {trip} ({} left)", Count(*seats_left, "seat")),
            ],
            Event::FlightUnavailable { flight, reason } => vec![format!(
                "Cannot book flight {flight} for trip {trip}: {}", reason.words("sold out", "no such flight"))],
            Event::FlightCancelled { flight, seats_left } => vec![format!(
                "Cancelled the seat on {flight} for trip {trip} ({} left)", Count(*seats_left, "seat"))],
            Event::HotelBooked { hotel, nights, rooms_left } => vec![
                format!("Booking {} at {hotel} for trip {trip}", Count(u64::from(nights.get()), "night")),
                format!("Room booked at {hotel} for trip {trip} ({} left)", Count(*rooms_left, "room")),
            ],
            Event::HotelUnavailable { hotel, reason } => vec![format!(
                "Cannot book a room at {hotel} for trip {trip}: {}", reason.words("fully booked", "no such hotel"))],
            Event::HotelCancelled { hotel, rooms_left } => vec![format!(
                "Cancelled the room at {hotel} for trip {trip} ({} left)", Count(*rooms_left, "room"))],
            Event::CarBooked { car, cars_left } => vec![
                format!("Booking a {car} for trip {trip}"),
                format!("Booked a {car} for trip {trip} ({cars_left} left)"),
            ],
            Event::CarUnavailable { car, reason } => vec![format!(
                "Cannot book a {car} for trip {trip}: {}", reason.words("none left", "no such car class"))],
        },
        // The facts that explain what happened to the trip, in a few words.
        facts: |event: &Event, f: &mut fmt::Formatter<'_>| match event {
            Event::TripRequested(it) | Event::TripConfirmed(it) => write!(f, "{}: {}", it.traveller, it.plan()),
            Event::FlightBooked { flight, seats_left } => write!(f, "seat on {flight}, {seats_left} left"),
            Event::HotelBooked { hotel, nights, rooms_left } => write!(f, "{} at {hotel}, {rooms_left} rooms left",
                Count(u64::from(nights.get()), "night")),
            Event::CarBooked { car, cars_left } => write!(f, "{car}, {cars_left} left"),
            Event::FlightUnavailable { flight, reason } => f.write_str(&no_seat(flight, *reason)),
            Event::TripRejected { traveller, flight, reason } => write!(f, "{traveller}: {}", no_seat(flight, *reason)),
            Event::HotelUnavailable { hotel, reason } => f.write_str(&reason.words(
                format!("no room left at {hotel}"), format!("no hotel {hotel}"))),
            Event::CarUnavailable { car, reason } => f.write_str(&reason.words(
                format!("no {car} left"), format!("no car class {car}"))),
            Event::HotelCancelled { hotel, rooms_left } => write!(f, "room at {hotel} given back, {rooms_left} left"),
            Event::FlightCancelled { flight, seats_left } => write!(f, "seat on {flight} given back, {seats_left} left"),
            Event::TripCancelled { traveller, reason } => write!(f, "{traveller}: {}", reason.words().join(", ")),
        },
        ending: |terminal: &Envelope<Trip>| {
            let trip = terminal.order_id;
            match &terminal.event {
                Event::TripConfirmed(it) => format!("trip {trip} confirmed for {}", it.traveller),
                Event::TripRejected { flight, reason, .. } => format!("trip {trip} rejected: {}", no_seat(flight, *reason)),
                Event::TripCancelled { reason, .. } => format!("trip {trip} cancelled: {}", reason.words().join(", ")),
                _ => format!("trip {trip} ended: {}", terminal.kind()),
            }
        },
        // What was missing, and who found it missing; a cancellation, and why.
        cause: |envelope: &Envelope<Trip>| {
            let (reason, [full, unknown], service) = match &envelope.event {
                Event::FlightUnavailable { reason, .. } | Event::TripRejected { reason, .. } =>
                    (reason, ["no-seat", "unknown-flight"], ServiceName::FlightService),
                Event::HotelUnavailable { reason, .. } => (reason, ["no-room", "unknown-hotel"], ServiceName::HotelService),
                Event::CarUnavailable { reason, .. } => (reason, ["no-car", "unknown-car"], ServiceName::CarService),
                Event::TripCancelled { reason, .. } => return Some(Cause {
                    slug: format!("cancelled-{}", reason.words()[0].replace(' ', "-")),
                    label: format!("cancelled: {}", reason.words()[0]),
                    started_by: None,
                }),
                _ => return None,
            };
            let slug = reason.words(full, unknown);
            Some(Cause { slug: slug.to_owned(), label: slug.replace('-', " "), started_by: Some(service) })
        },
        invariant: invariant,
        // Seats, rooms and cars are what trips share; learning what a trip wants, and
        // TripService's opening and closing, touch the trip's own record.
        shared: |service, kind| match service {
            ServiceName::TripService => false,
            ServiceName::FlightService => true,
            ServiceName::HotelService | ServiceName::CarService => kind != Kind::TripRequested,
        },
    }
    services: ServiceName {
        /// Opens every trip (and hears its own request, to know whose trip it closes), and
        /// closes it: confirmed, rejected, or cancelled once what was booked is undone.
        TripService = "trip": [TripRequested, CarBooked, FlightUnavailable, HotelUnavailable, CarUnavailable, FlightCancelled]
            -> [TripRequested, TripConfirmed, TripRejected, TripCancelled] with Open
            => |_, open, event, out| {
                if let Event::TripRequested(itinerary) = &event.event {
                    open.itinerary = Some(itinerary.clone());
                    return;
                }
                let Some(itinerary) = &open.itinerary else {
                    return tracing::error!(order_id = %event.order_id, "no itinerary on record");
                };
                let traveller = itinerary.traveller.clone();
                match &event.event {
                    // The last step is booked: the trip is complete.
                    Event::CarBooked { .. } => out.publish(Event::TripConfirmed(itinerary.clone())),
                    // The first step failed: nothing was booked, nothing to undo.
                    Event::FlightUnavailable { flight, reason } => out.publish(Event::TripRejected {
                        traveller, flight: flight.clone(), reason: *reason,
                    }),
                    Event::HotelUnavailable { .. } => open.failed = Some(CancelReason::HotelUnavailable),
                    Event::CarUnavailable { .. } => open.failed = Some(CancelReason::CarUnavailable),
                    // The seat is the last thing given back, whichever step failed.
                    Event::FlightCancelled { .. } => match open.failed.take() {
                        Some(reason) => out.publish(Event::TripCancelled { traveller, reason }),
                        None => tracing::error!(order_id = %event.order_id, "flight cancelled with no failure on record"),
                    },
                    _ => {}
                }
            },
        /// Owns the seats: books one for every trip, gives it back when the hotel is
        /// unavailable or was cancelled. Its state: the seat the trip holds.
        FlightService = "flight" (Pool<FlightCode> = |trip: &TripConfig| Pool::new(&trip.flights, |f| f.seats))
            : [TripRequested, HotelUnavailable, HotelCancelled] -> [FlightBooked, FlightUnavailable, FlightCancelled]
            with Option<FlightCode>
            => |seats, seat, event, out| match &event.event {
                Event::TripRequested(it) => out.publish(match seats.take(&it.flight) {
                    Ok(seats_left) => Event::FlightBooked { flight: seat.insert(it.flight.clone()).clone(), seats_left },
                    Err(reason) => Event::FlightUnavailable { flight: it.flight.clone(), reason },
                }),
                // Compensation: the hotel failed, or was undone after the car failed.
                _ => if let Some(flight) = seat.take() {
                    let seats_left = seats.give_back(&flight);
                    out.publish(Event::FlightCancelled { flight, seats_left });
                },
            },
        /// Owns the rooms: books one once the flight is booked, gives it back when no car
        /// can be had.
        HotelService = "hotel" (Pool<HotelName> = |trip: &TripConfig| Pool::new(&trip.hotels, |h| h.rooms))
            : [TripRequested, FlightBooked, CarUnavailable] -> [HotelBooked, HotelUnavailable, HotelCancelled]
            with Room
            => |rooms, room, event, out| match &event.event {
                Event::TripRequested(it) => *room = Room::Wanted(it.hotel.clone(), it.nights),
                Event::FlightBooked { .. } => {
                    let Room::Wanted(hotel, nights) = std::mem::take(room) else {
                        return tracing::error!(order_id = %event.order_id, "no room wanted on record");
                    };
                    out.publish(match rooms.take(&hotel) {
                        Ok(rooms_left) => {
                            *room = Room::Booked(hotel.clone());
                            Event::HotelBooked { hotel, nights, rooms_left }
                        }
                        Err(reason) => {
                            *room = Room::Done;
                            Event::HotelUnavailable { hotel, reason }
                        }
                    });
                }
                // Compensation: the step after the hotel failed, so the room goes back.
                _ => if let Room::Booked(hotel) = std::mem::replace(room, Room::Done) {
                    let rooms_left = rooms.give_back(&hotel);
                    out.publish(Event::HotelCancelled { hotel, rooms_left });
                },
            },
        /// Owns the hire cars: books one of the class asked for once the hotel is booked. The
        /// last step: nothing after it can fail, so it never gives a car back.
        CarService = "car" (Pool<CarClass> = |trip: &TripConfig| Pool::new(&trip.cars, |n| *n))
            : [TripRequested, HotelBooked] -> [CarBooked, CarUnavailable]
            with Option<CarClass>
            => |cars, wanted, event, out| match &event.event {
                Event::TripRequested(it) => *wanted = Some(it.car.clone()),
                _ => match wanted.take() {
                    Some(car) => out.publish(match cars.take(&car) {
                        Ok(cars_left) => Event::CarBooked { car, cars_left },
                        Err(reason) => Event::CarUnavailable { car, reason },
                    }),
                    None => tracing::error!(order_id = %event.order_id, "no car class on record"),
                },
            },
    }
}

fn main() -> ExitCode {
    Trip::main()
}
