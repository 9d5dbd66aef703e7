//! The trip's input record (one booking) and its config (what can be booked), and the names
//! both are made of.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

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
    let valid = (1..=MAX_CODE_LEN).contains(&text.len())
        && (text.bytes()).all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some(()).ok_or_else(|| {
        format!(
            "`{text}` is not a {what}: expected 1 to {MAX_CODE_LEN} letters, digits, `-` or `_`"
        )
    })
}

/// Who travels: 1 to [`MAX_TRAVELLER_LEN`] characters, not blank, on one line.
fn traveller(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    let valid = (1..=MAX_TRAVELLER_LEN).contains(&chars) && !name.trim().is_empty();
    (valid && !name.chars().any(char::is_control)).then_some(()).ok_or_else(|| {
        format!("traveller must be a name of 1 to {MAX_TRAVELLER_LEN} characters on one line, got {name:?}")
    })
}

/// Writes a newtype for one kind of name, checked by `$check` wherever it is read: an input
/// field or a config key.
macro_rules! name {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A name known to be valid, for tests.
            #[cfg(test)]
            pub fn from_static(text: &str) -> Self {
                text.parse().expect("a valid name")
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                $check(&text).map(|()| $name(text))
            }
        }

        /// Parses and checks a name, as in a TOML table key.
        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                text.to_owned().try_into()
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name!(
    /// A flight's code (`LH123`): a key of `[flights]`.
    FlightCode, |t| code(t, "flight code")
);
name!(
    /// A hotel's name (`Adlon`): a key of `[hotels]`.
    HotelName, |t| code(t, "hotel name")
);
name!(
    /// A class of hire car (`compact`): a key of `[cars]`.
    CarClass, |t| code(t, "car class")
);
name!(
    /// Who travels, as printed on one line.
    Traveller, traveller
);

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
        match self {
            Shortage::Full => none,
            Shortage::Unknown => such,
        }
    }
}

/// What one service has to book from: how many are left of each thing it owns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pool<K>(BTreeMap<K, u64>);

impl<K: Ord + Clone> Pool<K> {
    pub fn new<'a, V: 'a>(items: &'a BTreeMap<K, V>, count: impl Fn(&V) -> u64) -> Self {
        Pool(items.iter().map(|(k, v)| (k.clone(), count(v))).collect())
    }

    /// Takes one of `key`: how many are left after, or why there was none to take.
    pub fn take(&mut self, key: &K) -> Result<u64, Shortage> {
        match self.0.get_mut(key) {
            None => Err(Shortage::Unknown),
            Some(0) => Err(Shortage::Full),
            Some(left) => {
                *left -= 1;
                Ok(*left)
            }
        }
    }

    /// Gives one of `key` back (one taken before): how many are left after.
    pub fn give_back(&mut self, key: &K) -> u64 {
        let left = self.0.entry(key.clone()).or_default();
        *left += 1;
        *left
    }

    /// How many are left of `key`; `None` if there is no such thing.
    #[cfg(test)]
    pub fn left(&self, key: &K) -> Option<u64> {
        self.0.get(key).copied()
    }
}
