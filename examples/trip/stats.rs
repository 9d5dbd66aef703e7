//! The trip's part of the summary: what is booked, and what is left, of every flight, hotel
//! and car class.

use std::fmt;

use choreo::engine::Stats;
use serde::Serialize;

use crate::config::TripConfig;
use crate::event::{Count, Event};
use crate::{Envelope, Trip};

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

impl Line {
    fn new(name: &str, start: u64) -> Self {
        Line {
            name: name.to_owned(),
            start,
            left: start,
            booked: 0,
        }
    }
}

/// The line named `name`, if it is in the config (lines are sorted by name, as the config's
/// tables are).
fn line<'a>(lines: &'a mut [Line], name: &str) -> Option<&'a mut Line> {
    lines
        .binary_search_by(|line| line.name.as_str().cmp(name))
        .ok()
        .map(|i| &mut lines[i])
}

fn set_left(lines: &mut [Line], name: &str, left: u64) {
    if let Some(line) = line(lines, name) {
        line.left = left;
    }
}

fn count_booked(lines: &mut [Line], name: &str) {
    if let Some(line) = line(lines, name) {
        line.booked += 1;
    }
}

fn total(lines: &[Line]) -> u64 {
    lines.iter().map(|line| line.booked).sum()
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
            flights: config
                .flights
                .iter()
                .map(|(code, flight)| Line::new(code.as_str(), flight.seats))
                .collect(),
            hotels: config
                .hotels
                .iter()
                .map(|(name, hotel)| Line::new(name.as_str(), hotel.rooms))
                .collect(),
            cars: config
                .cars
                .iter()
                .map(|(class, cars)| Line::new(class.as_str(), *cars))
                .collect(),
            nights_booked: 0,
        }
    }

    fn record(&mut self, envelope: &Envelope) {
        match &envelope.event {
            Event::FlightBooked { flight, seats_left }
            | Event::FlightCancelled { flight, seats_left } => {
                set_left(&mut self.flights, flight.as_str(), *seats_left);
            }
            Event::HotelBooked {
                hotel, rooms_left, ..
            }
            | Event::HotelCancelled { hotel, rooms_left } => {
                set_left(&mut self.hotels, hotel.as_str(), *rooms_left);
            }
            Event::CarBooked { car, cars_left } => {
                set_left(&mut self.cars, car.as_str(), *cars_left);
            }
            Event::TripConfirmed(itinerary) => {
                count_booked(&mut self.flights, itinerary.flight.as_str());
                count_booked(&mut self.hotels, itinerary.hotel.as_str());
                count_booked(&mut self.cars, itinerary.car.as_str());
                self.nights_booked += u64::from(itinerary.nights.get());
            }
            Event::TripRequested(_)
            | Event::FlightUnavailable { .. }
            | Event::TripRejected { .. }
            | Event::HotelUnavailable { .. }
            | Event::CarUnavailable { .. }
            | Event::TripCancelled { .. } => {}
        }
    }

    fn headline(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
