//! The trip's own config: what can be booked, and how much of it. Its keys are the top-level
//! tables `flights`, `hotels` and `cars`; the defaults are `default.toml`, next to this file.
//!
//! ```toml
//! [flights.LH123]
//! seats = 5
//!
//! [hotels.Adlon]
//! rooms = 4
//!
//! [cars]
//! compact = 3
//! ```
//!
//! Every booking takes one seat, one room (however many nights) and one car; a booking for
//! something that is not here, or of which none is left, fails at that step. Capacity is
//! all there is, so which bookings fail follows from the bookings file alone.

use std::collections::BTreeMap;

use choreo::input::keyed_by_id;
use serde::Deserialize;

use crate::booking::{CarClass, FlightCode, HotelName};
use crate::event::Shortage;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TripConfig {
    /// The flights FlightService books seats on, by code (`[flights.LH123]`).
    #[serde(deserialize_with = "keyed_by_id")]
    pub flights: BTreeMap<FlightCode, Flight>,
    /// The hotels HotelService books rooms at, by name (`[hotels.Adlon]`).
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

/// What one service has to book from: how many are left of each thing it owns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pool<K> {
    left: BTreeMap<K, u64>,
}

impl<K: Ord + Clone> Pool<K> {
    pub fn new(items: impl IntoIterator<Item = (K, u64)>) -> Self {
        Pool {
            left: items.into_iter().collect(),
        }
    }

    /// Takes one of `key`: how many are left after, or why there was none to take.
    pub fn take(&mut self, key: &K) -> Result<u64, Shortage> {
        match self.left.get_mut(key) {
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
        let left = self.left.entry(key.clone()).or_default();
        *left += 1;
        *left
    }

    /// How many are left of `key`; `None` if there is no such thing.
    #[cfg(test)]
    pub fn left(&self, key: &K) -> Option<u64> {
        self.left.get(key).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool says why it has none: none left, or no such thing.
    #[test]
    fn a_pool_hands_out_what_it_has_and_tells_full_from_unknown() {
        let mut pool = Pool::new([("van", 1)]);
        assert_eq!(pool.take(&"van"), Ok(0));
        assert_eq!(pool.take(&"van"), Err(Shortage::Full));
        assert_eq!(pool.take(&"limo"), Err(Shortage::Unknown));
        assert_eq!(pool.give_back(&"van"), 1);
        assert_eq!(pool.left(&"van"), Some(1));
    }
}
