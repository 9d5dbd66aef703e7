//! The trip's part of the summary: what is booked, and what is left, of every flight, hotel
//! and car class.

use std::borrow::Borrow;
use std::fmt;

use choreo::engine::Stats;
use serde::Serialize;

use crate::booking::TripConfig;
use crate::{Count, Event, Trip};

type Envelope<C> = choreo::engine::Envelope<C>;

/// Seats, rooms and cars, folded from the events in bus order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TripStats {
    /// Per flight in the config, by code: its seats.
    pub flights: Vec<Line>,
    /// Per hotel in the config, by name: its rooms.
    pub hotels: Vec<Line>,
    /// Per car class in the config: its cars.
    pub cars: Vec<Line>,
    /// Nights booked by confirmed trips.
    pub nights_booked: u64,
}

/// One flight's seats, one hotel's rooms, or one class's cars over the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub name: String,
    /// How many at the start.
    pub start: u64,
    /// How many are left at the end, as the owning service last reported it: what
    /// cancellations gave back is counted in again.
    pub left: u64,
    /// How many went to confirmed trips.
    pub booked: u64,
}

/// A line per thing in the config, sorted by name as the config's tables are.
fn lines<'a, K: Borrow<str> + 'a>(things: impl Iterator<Item = (&'a K, u64)>) -> Vec<Line> {
    let line = |(name, start): (&K, u64)| Line {
        name: name.borrow().to_owned(),
        start,
        left: start,
        booked: 0,
    };
    things.map(line).collect()
}

/// The line named `name`, if it is in the config.
fn line<'a>(lines: &'a mut [Line], name: &str) -> Option<&'a mut Line> {
    let found = lines.binary_search_by(|line| line.name.as_str().cmp(name));
    found.ok().map(|i| &mut lines[i])
}

fn write_left(f: &mut fmt::Formatter<'_>, what: &str, lines: &[Line]) -> fmt::Result {
    write!(f, "  {what} left:")?;
    for (i, line) in lines.iter().enumerate() {
        let sep = if i == 0 { " " } else { ", " };
        write!(f, "{sep}{} {} of {}", line.name, line.left, line.start)?;
    }
    writeln!(f)
}

impl Stats<Trip> for TripStats {
    fn new(config: &TripConfig) -> Self {
        TripStats {
            flights: lines(config.flights.iter().map(|(code, f)| (code, f.seats))),
            hotels: lines(config.hotels.iter().map(|(name, h)| (name, h.rooms))),
            cars: lines(config.cars.iter().map(|(class, n)| (class, *n))),
            nights_booked: 0,
        }
    }

    fn record(&mut self, envelope: &Envelope<Trip>) {
        let (lines, name, left) = match &envelope.event {
            Event::FlightBooked { flight, seats_left }
            | Event::FlightCancelled { flight, seats_left } => {
                (&mut self.flights, flight.as_str(), *seats_left)
            }
            Event::HotelBooked {
                hotel, rooms_left, ..
            }
            | Event::HotelCancelled { hotel, rooms_left } => {
                (&mut self.hotels, hotel.as_str(), *rooms_left)
            }
            Event::CarBooked { car, cars_left } => (&mut self.cars, car.as_str(), *cars_left),
            Event::TripConfirmed(it) => {
                for (lines, name) in [
                    (&mut self.flights, it.flight.as_str()),
                    (&mut self.hotels, it.hotel.as_str()),
                    (&mut self.cars, it.car.as_str()),
                ] {
                    line(lines, name)
                        .into_iter()
                        .for_each(|line| line.booked += 1);
                }
                self.nights_booked += u64::from(it.nights.get());
                return;
            }
            _ => return,
        };
        if let Some(line) = line(lines, name) {
            line.left = left;
        }
    }

    fn headline(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = |lines: &[Line]| lines.iter().map(|line| line.booked).sum();
        writeln!(
            f,
            "  booked: {}, {} for {}, {}",
            Count(total(&self.flights), "seat"),
            Count(total(&self.hotels), "room"),
            Count(self.nights_booked, "night"),
            Count(total(&self.cars), "car"),
        )
    }

    fn details(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_left(f, "seats", &self.flights)?;
        write_left(f, "rooms", &self.hotels)?;
        write_left(f, "cars", &self.cars)
    }
}
