//! The trip's part of the summary: what is booked, and what is left, of every flight, hotel
//! and car class.

use std::fmt;

use choreo::{engine::Stats, plural::Count};
use serde::Serialize;

use crate::{booking::TripConfig, stock, Envelope, Event, Trip};

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

/// Changes the line named `name`, if it is in the config.
fn change(lines: &mut [Line], name: &str, change: impl FnOnce(&mut Line)) {
    if let Ok(i) = lines.binary_search_by(|line| line.name.as_str().cmp(name)) {
        change(&mut lines[i]);
    }
}

/// `  seats left: BA456 0 of 1, LH123 3 of 5`.
fn write_left(f: &mut fmt::Formatter<'_>, what: &str, lines: &[Line]) -> fmt::Result {
    let left: Vec<String> = lines
        .iter()
        .map(|l| format!("{} {} of {}", l.name, l.left, l.start))
        .collect();
    writeln!(f, "  {what} left: {}", left.join(", "))
}

impl Stats<Trip> for TripStats {
    fn new(config: &TripConfig) -> Self {
        let mut stats = TripStats::default();
        [stats.flights, stats.hotels, stats.cars] = config.stock().map(|stock| {
            let line = |(name, start): (&str, u64)| Line {
                name: name.to_owned(),
                start,
                left: start,
                booked: 0,
            };
            stock.into_iter().map(line).collect()
        });
        stats
    }

    fn record(&mut self, envelope: &Envelope<Trip>) {
        let mut lines = [&mut self.flights, &mut self.hotels, &mut self.cars];
        if let Some((what, name, _, left)) = stock(&envelope.event) {
            change(lines[what], name, |line| line.left = left);
        } else if let Event::TripConfirmed(it) = &envelope.event {
            self.nights_booked += u64::from(it.nights.get());
            let bought = [it.flight.as_str(), it.hotel.as_str(), it.car.as_str()];
            for (lines, name) in lines.iter_mut().zip(bought) {
                change(lines, name, |line| line.booked += 1);
            }
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
