//! The saga's own invariants, for `trip check`: no flight, hotel or car class is booked past
//! what it has, and whatever an instance ends with, each booking it made is kept (confirmed)
//! or given back, never both.

use std::collections::BTreeMap;

use crate::config::TripConfig;
use crate::event::{Event, Kind};
use crate::Envelope;

/// The first of `booked` (net bookings per key) past what `has` says there is, or below 0.
fn over<K: std::fmt::Display>(
    booked: &BTreeMap<K, i64>,
    has: impl Fn(&K) -> u64,
    what: &str,
) -> Option<String> {
    booked.iter().find_map(|(key, n)| {
        let has = has(key) as i64;
        (*n > has || *n < 0).then(|| format!("{what} {key}: {n} booked of {has}"))
    })
}

/// See the module documentation.
pub fn check(config: &TripConfig, events: &[&Envelope], ended: bool) -> Result<(), String> {
    let mut seats: BTreeMap<_, i64> = BTreeMap::new();
    let mut rooms: BTreeMap<_, i64> = BTreeMap::new();
    let mut cars: BTreeMap<_, i64> = BTreeMap::new();
    for envelope in events {
        match &envelope.event {
            Event::FlightBooked { flight, .. } => *seats.entry(flight.clone()).or_default() += 1,
            Event::FlightCancelled { flight, .. } => *seats.entry(flight.clone()).or_default() -= 1,
            Event::HotelBooked { hotel, .. } => *rooms.entry(hotel.clone()).or_default() += 1,
            Event::HotelCancelled { hotel, .. } => *rooms.entry(hotel.clone()).or_default() -= 1,
            Event::CarBooked { car, .. } => *cars.entry(car.clone()).or_default() += 1,
            _ => {}
        }
    }
    let broken = over(
        &seats,
        |f| config.flights.get(f).map_or(0, |f| f.seats),
        "flight",
    )
    .or_else(|| {
        over(
            &rooms,
            |h| config.hotels.get(h).map_or(0, |h| h.rooms),
            "hotel",
        )
    })
    .or_else(|| over(&cars, |c| config.cars.get(c).copied().unwrap_or(0), "car"));
    if let Some(broken) = broken {
        return Err(broken);
    }
    if ended {
        let mut trips: BTreeMap<_, Vec<Kind>> = BTreeMap::new();
        for envelope in events {
            trips
                .entry(envelope.order_id)
                .or_default()
                .push(envelope.kind());
        }
        for (id, kinds) in &trips {
            let has = |kind| kinds.contains(&kind);
            let confirmed = has(Kind::TripConfirmed);
            for (booked, given_back) in [
                (Kind::FlightBooked, Kind::FlightCancelled),
                (Kind::HotelBooked, Kind::HotelCancelled),
            ] {
                if has(booked) && confirmed == has(given_back) {
                    return Err(format!(
                        "trip {id}: {booked} is neither kept nor given back once"
                    ));
                }
            }
        }
    }
    Ok(())
}
