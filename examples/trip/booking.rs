//! The trip's input record (one booking) and its config (what can be booked), and the names
//! both are made of.

use std::{borrow::Borrow, collections::BTreeMap, fmt, ops::Deref, str::FromStr};

use choreo::input::{at_ms, keyed_by_id, object_only, InstanceId};
use serde::{Deserialize, Deserializer, Serialize};

/// Longest flight code, hotel name or car class accepted.
pub const MAX_CODE_LEN: usize = 24;
/// Longest traveller's name accepted, in characters.
pub const MAX_TRAVELLER_LEN: usize = 64;
/// Most nights one booking may stay.
pub const MAX_NIGHTS: u64 = 365;

/// Whether `text` can name a flight, hotel or car class: 1 to [`MAX_CODE_LEN`] ASCII letters,
/// digits, `-` or `_`, so it is a bare TOML key and prints without quoting.
fn code(text: &str, what: &str) -> Result<(), String> {
    let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let ok = (1..=MAX_CODE_LEN).contains(&text.len()) && text.bytes().all(valid);
    ok.then_some(()).ok_or(format!(
        "`{text}` is not a {what}: expected 1 to {MAX_CODE_LEN} letters, digits, `-` or `_`"
    ))
}

/// Who travels: 1 to [`MAX_TRAVELLER_LEN`] characters, not blank, on one line.
fn traveller(name: &str) -> Result<(), String> {
    let length = (1..=MAX_TRAVELLER_LEN).contains(&name.chars().count());
    let ok = length && !name.trim().is_empty() && !name.chars().any(char::is_control);
    ok.then_some(()).ok_or(format!(
        "traveller must be a name of 1 to {MAX_TRAVELLER_LEN} characters on one line, got {name:?}"
    ))
}

/// Writes a newtype for each kind of name, checked by its function wherever it is read: an
/// input field or a config key.
macro_rules! names {
    ($($(#[$doc:meta])* $name:ident: $check:expr;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str { &self.0 }

            /// A name known to be valid, for tests.
            #[cfg(test)]
            pub fn from_static(text: &str) -> Self { text.parse().expect("a valid name") }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> { $check(&text).map(|()| $name(text)) }
        }

        /// Parses and checks a name, as in a TOML table key.
        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> { text.to_owned().try_into() }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str { &self.0 }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&self.0) }
        }
    )+};
}

names! {
    /// A flight's code (`LH123`): a key of `[flights]`.
    FlightCode: |t| code(t, "flight code");
    /// A hotel's name (`Adlon`): a key of `[hotels]`.
    HotelName: |t| code(t, "hotel name");
    /// A class of hire car (`compact`): a key of `[cars]`.
    CarClass: |t| code(t, "car class");
    /// Who travels, as printed on one line.
    Traveller: traveller;
}

choreo::bounded_integer!(
    /// How many nights the hotel is booked for, 1 ..= [`MAX_NIGHTS`].
    Nights(u32), "nights", MAX_NIGHTS
);

/// One booking, as read from a bookings file:
/// `{"order_id": 1, "traveller": "Ada", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2}`.
/// Only an object is a booking: the positional form serde derives (`[1, "Ada", ...]`) is
/// refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking(Fields);

/// A booking's fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    /// The booking's id, unique within a run; the services speak of "trip N".
    pub order_id: InstanceId,
    pub traveller: Traveller,
    pub flight: FlightCode,
    pub hotel: HotelName,
    pub car: CarClass,
    pub nights: Nights,
    /// When the booking arrives, in milliseconds since the run started; absent, the
    /// configured arrival process decides.
    #[serde(default, deserialize_with = "at_ms")]
    pub at_ms: Option<u64>,
}

impl Deref for Booking {
    type Target = Fields;
    fn deref(&self) -> &Fields {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Booking {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        object_only(deserializer, "a booking object").map(Booking)
    }
}

/// What can be booked, and how much of it: the top-level tables `[flights]`, `[hotels]` and
/// `[cars]`, defaults in `default.toml`. Every booking takes one seat, one room (however
/// many nights) and one car; one for something not here, or of which none is left, fails at
/// that step. Capacity is all there is, so which bookings fail follows from the bookings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TripConfig {
    /// The flights FlightService books seats on, by code (`[flights.LH123] seats = 5`).
    #[serde(deserialize_with = "keyed_by_id")]
    pub flights: BTreeMap<FlightCode, Flight>,
    /// The hotels HotelService books rooms at, by name (`[hotels.Adlon] rooms = 4`).
    #[serde(deserialize_with = "keyed_by_id")]
    pub hotels: BTreeMap<HotelName, Hotel>,
    /// The hire cars CarService books, how many of each class (`[cars] compact = 3`).
    #[serde(deserialize_with = "keyed_by_id")]
    pub cars: BTreeMap<CarClass, u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flight {
    /// Seats for sale when the run starts.
    pub seats: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hotel {
    /// Rooms free when the run starts.
    pub rooms: u64,
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

impl Shortage {
    /// The shortage in a word or two, for what the service has `none` of, or has no `such` of.
    pub fn words<T>(self, none: T, such: T) -> T {
        if self == Shortage::Full {
            none
        } else {
            such
        }
    }
}

impl TripConfig {
    /// What there is of each kind of thing, by name, as [`crate::stock`] counts them: the
    /// flights' seats, the hotels' rooms, the cars of each class.
    pub fn stock(&self) -> [BTreeMap<&str, u64>; 3] {
        let flights = self
            .flights
            .iter()
            .map(|(code, f)| (code.as_str(), f.seats));
        let hotels = self.hotels.iter().map(|(name, h)| (name.as_str(), h.rooms));
        let cars = self.cars.iter().map(|(class, n)| (class.as_str(), *n));
        [flights.collect(), hotels.collect(), cars.collect()]
    }
}

/// What one service has to book from: how many are left of each thing it owns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pool<K>(pub BTreeMap<K, u64>);

impl<K: Ord + Clone> Pool<K> {
    pub fn new<'a, V: 'a>(items: &'a BTreeMap<K, V>, count: impl Fn(&V) -> u64) -> Self {
        Pool(items.iter().map(|(k, v)| (k.clone(), count(v))).collect())
    }

    /// Takes one of `key`: how many are left after, or why there was none to take.
    pub fn take(&mut self, key: &K) -> Result<u64, Shortage> {
        let left = self.0.get_mut(key).ok_or(Shortage::Unknown)?;
        *left = left.checked_sub(1).ok_or(Shortage::Full)?;
        Ok(*left)
    }

    /// Gives one of `key` back (one taken before): how many are left after.
    pub fn give_back(&mut self, key: &K) -> u64 {
        let left = self.0.entry(key.clone()).or_default();
        *left += 1;
        *left
    }
}
