//! The trip's events, their kinds and its services, and the facts that explain each event.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::booking::{Booking, CarClass, FlightCode, HotelName, Nights, Traveller};

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

impl From<&Booking> for Itinerary {
    fn from(booking: &Booking) -> Self {
        Itinerary {
            traveller: booking.traveller.clone(),
            flight: booking.flight.clone(),
            hotel: booking.hotel.clone(),
            car: booking.car.clone(),
            nights: booking.nights,
        }
    }
}

/// What happened, with the facts a reader needs to understand why.
///
/// Serialized with an `event` tag holding the kind's name and the facts as fields beside it.
/// Every `*_left` is what is left after the event: seats on the flight, rooms at the hotel,
/// cars of the class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum Event {
    /// TripService took a booking: every other service learns the itinerary from it.
    TripRequested(Itinerary),
    /// FlightService booked a seat.
    FlightBooked { flight: FlightCode, seats_left: u64 },
    /// HotelService booked a room, once the flight was booked.
    HotelBooked {
        hotel: HotelName,
        nights: Nights,
        rooms_left: u64,
    },
    /// CarService booked a car, once the hotel was booked.
    CarBooked { car: CarClass, cars_left: u64 },
    /// TripService confirmed the trip: everything is booked.
    TripConfirmed(Itinerary),
    /// FlightService could not book a seat.
    FlightUnavailable {
        flight: FlightCode,
        reason: Shortage,
    },
    /// TripService rejected the trip: its first step failed, nothing to undo.
    TripRejected {
        traveller: Traveller,
        flight: FlightCode,
        reason: Shortage,
    },
    /// HotelService could not book a room: the flight is to be cancelled.
    HotelUnavailable { hotel: HotelName, reason: Shortage },
    /// CarService could not book a car: the hotel, then the flight, are to be cancelled.
    CarUnavailable { car: CarClass, reason: Shortage },
    /// HotelService gave a room back (compensating a missing car).
    HotelCancelled { hotel: HotelName, rooms_left: u64 },
    /// FlightService gave a seat back (compensating a missing room or a cancelled hotel).
    FlightCancelled { flight: FlightCode, seats_left: u64 },
    /// TripService cancelled the trip once every booking made for it was undone.
    TripCancelled {
        traveller: Traveller,
        reason: CancelReason,
    },
}

/// Why something could not be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shortage {
    /// None left: every seat, room or car is taken.
    Full,
    /// Not in the config: no such flight, hotel or car class.
    Unknown,
}

/// Why a trip was cancelled: the step that failed after the flight was booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    HotelUnavailable,
    CarUnavailable,
}

impl CancelReason {
    /// What was undone for it, in the order it was undone.
    pub fn undone(self) -> &'static str {
        match self {
            CancelReason::HotelUnavailable => "flight cancelled",
            CancelReason::CarUnavailable => "hotel and flight cancelled",
        }
    }
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CancelReason::HotelUnavailable => "hotel unavailable",
            CancelReason::CarUnavailable => "car unavailable",
        })
    }
}

choreo::names! {
    /// The kinds of [`Event`], the happy path first, then each failure with what follows it.
    pub enum Kind {
        TripRequested,
        FlightBooked,
        HotelBooked,
        CarBooked,
        TripConfirmed,
        FlightUnavailable,
        TripRejected,
        HotelUnavailable,
        CarUnavailable,
        HotelCancelled,
        FlightCancelled,
        TripCancelled,
    }
}

choreo::names! {
    /// The trip's services, in the order a trip meets them.
    // Each is named as it appears in output: `FlightService: Booking flight ...`.
    #[allow(clippy::enum_variant_names)]
    pub enum ServiceName {
        /// Opens every trip, and closes it: confirmed, rejected or cancelled.
        TripService = "trip",
        /// Owns the seats on every flight.
        FlightService = "flight",
        /// Owns the rooms of every hotel.
        HotelService = "hotel",
        /// Owns the hire cars, by class.
        CarService = "car",
    }
}

impl Event {
    /// The event's kind, without its facts.
    pub fn kind(&self) -> Kind {
        match self {
            Event::TripRequested(_) => Kind::TripRequested,
            Event::FlightBooked { .. } => Kind::FlightBooked,
            Event::HotelBooked { .. } => Kind::HotelBooked,
            Event::CarBooked { .. } => Kind::CarBooked,
            Event::TripConfirmed(_) => Kind::TripConfirmed,
            Event::FlightUnavailable { .. } => Kind::FlightUnavailable,
            Event::TripRejected { .. } => Kind::TripRejected,
            Event::HotelUnavailable { .. } => Kind::HotelUnavailable,
            Event::CarUnavailable { .. } => Kind::CarUnavailable,
            Event::HotelCancelled { .. } => Kind::HotelCancelled,
            Event::FlightCancelled { .. } => Kind::FlightCancelled,
            Event::TripCancelled { .. } => Kind::TripCancelled,
        }
    }
}

/// `n` things, in words: `1 seat`, `2 seats`.
#[derive(Debug, Clone, Copy)]
pub struct Count(pub u64, pub &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Count(n, thing) = *self;
        let s = if n == 1 { "" } else { "s" };
        write!(f, "{n} {thing}{s}")
    }
}

/// Why a flight could not be booked, in words: `no seat left on LH123`.
pub fn no_seat(flight: &FlightCode, reason: Shortage) -> impl fmt::Display + '_ {
    words(move |f| match reason {
        Shortage::Full => write!(f, "no seat left on {flight}"),
        Shortage::Unknown => write!(f, "no flight {flight}"),
    })
}

/// Why a hotel could not be booked, in words: `no room left at Adlon`.
pub fn no_room(hotel: &HotelName, reason: Shortage) -> impl fmt::Display + '_ {
    words(move |f| match reason {
        Shortage::Full => write!(f, "no room left at {hotel}"),
        Shortage::Unknown => write!(f, "no hotel {hotel}"),
    })
}

/// Why a car could not be booked, in words: `no van left`.
pub fn no_car(car: &CarClass, reason: Shortage) -> impl fmt::Display + '_ {
    words(move |f| match reason {
        Shortage::Full => write!(f, "no {car} left"),
        Shortage::Unknown => write!(f, "no car class {car}"),
    })
}

/// Display from a closure.
struct Words<F>(F);

/// Display from a closure, its argument's type spelled out for the compiler.
fn words<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(write: F) -> Words<F> {
    Words(write)
}

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Words<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

impl Itinerary {
    /// What is to be booked, without who travels: `flight LH123, hotel Adlon for 2 nights,
    /// car compact`.
    pub fn plan(&self) -> impl fmt::Display + '_ {
        words(move |f| {
            write!(
                f,
                "flight {}, hotel {} for {}, car {}",
                self.flight,
                self.hotel,
                Count(u64::from(self.nights.get()), "night"),
                self.car
            )
        })
    }
}

impl Shortage {
    /// The shortage in a word or two, for what the service has `none` of, or has no `such` of.
    pub fn words(self, none: &'static str, such: &'static str) -> &'static str {
        match self {
            Shortage::Full => none,
            Shortage::Unknown => such,
        }
    }
}

/// The facts of an event that explain what happened to the trip, in a few words.
pub fn facts(event: &Event, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match event {
        Event::TripRequested(itinerary) | Event::TripConfirmed(itinerary) => {
            write!(f, "{}: {}", itinerary.traveller, itinerary.plan())
        }
        Event::FlightBooked { flight, seats_left } => {
            write!(f, "seat on {flight}, {seats_left} left")
        }
        Event::HotelBooked {
            hotel,
            nights,
            rooms_left,
        } => write!(
            f,
            "{} at {hotel}, {rooms_left} rooms left",
            Count(u64::from(nights.get()), "night")
        ),
        Event::CarBooked { car, cars_left } => write!(f, "{car}, {cars_left} left"),
        Event::FlightUnavailable { flight, reason } => write!(f, "{}", no_seat(flight, *reason)),
        Event::TripRejected {
            traveller,
            flight,
            reason,
        } => write!(f, "{traveller}: {}", no_seat(flight, *reason)),
        Event::HotelUnavailable { hotel, reason } => write!(f, "{}", no_room(hotel, *reason)),
        Event::CarUnavailable { car, reason } => write!(f, "{}", no_car(car, *reason)),
        Event::HotelCancelled { hotel, rooms_left } => {
            write!(f, "room at {hotel} given back, {rooms_left} left")
        }
        Event::FlightCancelled { flight, seats_left } => {
            write!(f, "seat on {flight} given back, {seats_left} left")
        }
        Event::TripCancelled { traveller, reason } => {
            write!(f, "{traveller}: {reason}, {}", reason.undone())
        }
    }
}
