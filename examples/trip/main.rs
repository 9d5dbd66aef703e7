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
//! choreo calls every instance id `order_id` (in input files, journals, `trace --order`); for
//! the trip it is the booking's id, and the services speak of "trip N".
//!
//! What can be booked is the trip's config (`[flights]`, `[hotels]`, `[cars]`, defaults in
//! `default.toml`): capacity only, so which bookings fail follows from the bookings file.
//!
//! ```text
//! cargo run --release --example trip -- run examples/trip/bookings.jsonl
//! cargo run --release --example trip -- diagram topology
//! cargo test --release --example trip
//! ```
//!
//! - [`booking`]: a booking, as read from a bookings file, and the names it is made of.
//! - [`event`]: the events, their kinds, the services, and the facts of each event.
//! - [`config`]: the flights, hotels and cars, and the pool each service books from.
//! - [`trip`], [`flight`], [`hotel`], [`car`]: each service's decisions, and what it says
//!   about the events it publishes ([`narrate`]).
//! - [`stats`]: seats, rooms and cars booked and left, for the summary.

mod booking;
mod car;
mod config;
mod event;
mod flight;
mod hotel;
mod invariant;
mod narrate;
mod stats;
mod trip;

use std::fmt;
use std::io;
use std::process::ExitCode;

use choreo::engine::{Cause, Choreography, Outcome, Role, Services, SpawnError};

use crate::booking::Booking;
use crate::config::TripConfig;
use crate::event::{no_seat, Event, Kind, ServiceName, Shortage};
use crate::stats::TripStats;

type Envelope = choreo::engine::Envelope<Trip>;
type Outbox = choreo::engine::Outbox<Trip>;

/// The travel-booking saga, as a [`Choreography`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Trip;

impl Choreography for Trip {
    const NAME: &'static str = "trip";
    type Event = Event;
    type Kind = Kind;
    type Service = ServiceName;
    type Input = Booking;
    type Config = TripConfig;
    type Stats = TripStats;

    const CONFIG_KEYS: &'static [&'static str] = &["flights", "hotels", "cars"];
    const DEFAULT_CONFIG: &'static str = include_str!("default.toml");
    /// The longest path, a car that cannot be booked: TripRequested, FlightBooked,
    /// HotelBooked, CarUnavailable, HotelCancelled, FlightCancelled, TripCancelled.
    const MAX_EVENTS: u64 = 7;

    fn kind(event: &Event) -> Kind {
        event.kind()
    }

    fn outcome(kind: Kind) -> Option<Outcome> {
        match kind {
            Kind::TripConfirmed => Some(Outcome::Completed),
            Kind::TripRejected => Some(Outcome::Rejected),
            Kind::TripCancelled => Some(Outcome::Cancelled),
            Kind::TripRequested
            | Kind::FlightBooked
            | Kind::HotelBooked
            | Kind::CarBooked
            | Kind::FlightUnavailable
            | Kind::HotelUnavailable
            | Kind::CarUnavailable
            | Kind::HotelCancelled
            | Kind::FlightCancelled => None,
        }
    }

    fn role(kind: Kind) -> Role {
        match kind {
            Kind::TripRequested
            | Kind::FlightBooked
            | Kind::HotelBooked
            | Kind::CarBooked
            | Kind::TripConfirmed => Role::Forward,
            Kind::FlightUnavailable | Kind::HotelUnavailable | Kind::CarUnavailable => {
                Role::Failure
            }
            Kind::HotelCancelled | Kind::FlightCancelled => Role::Compensation,
            Kind::TripRejected | Kind::TripCancelled => Role::Closing,
        }
    }

    fn start(booking: &Booking, _config: &TripConfig) -> (ServiceName, Event) {
        (
            ServiceName::TripService,
            trip::TripService::request(booking),
        )
    }

    fn services(
        trip: &TripConfig,
        _seed: u64,
        services: &mut impl Services<Self>,
    ) -> Result<(), SpawnError> {
        services.add(trip::TripService)?;
        services.add(flight::FlightService::new(&trip.flights))?;
        services.add(hotel::HotelService::new(&trip.hotels))?;
        services.add(car::CarService::new(&trip.cars))
    }

    fn narrate(envelope: &Envelope, out: &mut impl io::Write) -> io::Result<()> {
        narrate::narrate(envelope, out)
    }

    fn facts(event: &Event, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        event::facts(event, f)
    }

    fn ending(terminal: &Envelope) -> String {
        let trip = terminal.order_id;
        match &terminal.event {
            Event::TripConfirmed(itinerary) => {
                format!("trip {trip} confirmed for {}", itinerary.traveller)
            }
            Event::TripRejected { flight, reason, .. } => {
                format!("trip {trip} rejected: {}", no_seat(flight, *reason))
            }
            Event::TripCancelled { reason, .. } => {
                format!("trip {trip} cancelled: {reason}, {}", reason.undone())
            }
            // Not terminal: the engine passes only terminal events.
            Event::TripRequested(_)
            | Event::FlightBooked { .. }
            | Event::HotelBooked { .. }
            | Event::CarBooked { .. }
            | Event::FlightUnavailable { .. }
            | Event::HotelUnavailable { .. }
            | Event::CarUnavailable { .. }
            | Event::HotelCancelled { .. }
            | Event::FlightCancelled { .. } => format!("trip {trip} ended: {}", terminal.kind()),
        }
    }

    fn invariant(config: &TripConfig, events: &[&Envelope], ended: bool) -> Result<(), String> {
        invariant::check(config, events, ended)
    }

    fn cause(envelope: &Envelope) -> Option<Cause<ServiceName>> {
        let cause = |reason: Shortage, [full, unknown]: [&'static str; 2], service| {
            let slug = reason.words(full, unknown);
            Some(Cause {
                slug: slug.to_owned(),
                label: slug.replace('-', " "),
                started_by: Some(service),
            })
        };
        match &envelope.event {
            Event::FlightUnavailable { reason, .. } | Event::TripRejected { reason, .. } => cause(
                *reason,
                ["no-seat", "unknown-flight"],
                ServiceName::FlightService,
            ),
            Event::HotelUnavailable { reason, .. } => cause(
                *reason,
                ["no-room", "unknown-hotel"],
                ServiceName::HotelService,
            ),
            Event::CarUnavailable { reason, .. } => {
                cause(*reason, ["no-car", "unknown-car"], ServiceName::CarService)
            }
            Event::TripCancelled { reason, .. } => Some(Cause {
                slug: format!("cancelled-{}", reason.to_string().replace(' ', "-")),
                label: format!("cancelled: {reason}"),
                started_by: None,
            }),
            Event::TripRequested(_)
            | Event::FlightBooked { .. }
            | Event::HotelBooked { .. }
            | Event::CarBooked { .. }
            | Event::TripConfirmed(_)
            | Event::HotelCancelled { .. }
            | Event::FlightCancelled { .. } => None,
        }
    }
}

fn main() -> ExitCode {
    choreo::app::main::<Trip>("trip")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use choreo::config::Config;
    use choreo::engine::{Name, Summary};

    use super::*;
    use crate::booking::{CarClass, FlightCode, HotelName, Nights, Traveller};
    use crate::event::Itinerary;

    /// Ada's trip: LH123, two nights at the Adlon, a compact car.
    pub fn itinerary() -> Itinerary {
        Itinerary {
            traveller: Traveller::new("Ada").expect("valid"),
            flight: FlightCode::from_static("LH123"),
            hotel: HotelName::from_static("Adlon"),
            car: CarClass::from_static("compact"),
            nights: Nights::new(2).expect("valid"),
        }
    }

    pub fn requested(itinerary: Itinerary) -> Event {
        Event::TripRequested(itinerary)
    }

    /// What `service` says about `event` for trip 1.
    pub fn narration(service: ServiceName, event: Event) -> String {
        let envelope = choreo::engine::service::delivered::<Trip>(1, service, event);
        let mut out = Vec::new();
        Trip::narrate(&envelope, &mut out).expect("narrate");
        String::from_utf8(out).expect("utf-8")
    }

    /// One booking as a line of a bookings file.
    fn booking(id: u64, flight: &str, hotel: &str, car: &str) -> String {
        format!(
            r#"{{"order_id": {id}, "traveller": "Traveller {id}", "flight": "{flight}", "hotel": "{hotel}", "car": "{car}", "nights": 1}}"#
        )
    }

    /// Runs `bookings` (JSON Lines) through the whole saga with the default config, on a
    /// paused clock, so the services' simulated latencies pass at once.
    async fn run(bookings: &[String]) -> (Summary<Trip>, Vec<Envelope>) {
        let bookings: Vec<Booking> = bookings
            .iter()
            .map(|line| serde_json::from_str(line).expect("a valid booking"))
            .collect();
        run_all(bookings).await
    }

    async fn run_all(bookings: Vec<Booking>) -> (Summary<Trip>, Vec<Envelope>) {
        let mut events: Vec<Envelope> = Vec::new();
        let summary = choreo::engine::run(&Config::<Trip>::default(), bookings, &mut events)
            .await
            .expect("every booking reaches its end");
        (summary, events)
    }

    /// The sample bookings shipped beside this file.
    fn sample() -> Vec<Booking> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/trip/bookings.jsonl");
        choreo::input::read_order_file(&path).expect("the sample bookings are valid")
    }

    /// `trip check`: every schedule of the first three sample bookings (two on a flight with
    /// one seat, two at a hotel with one free room among them), with duplicates and a crash,
    /// keeps the engine's properties and the saga's invariants; with no memory of finished
    /// trips, a late duplicate books again and is caught.
    /// Over NATS, the trip has a stream of its own by default: one broker carries the shop
    /// and the trip without either reading the other's events.
    #[test]
    fn the_trip_and_the_shop_default_to_streams_of_their_own() {
        let trip = Config::<Trip>::load(&[], &[]).expect("the defaults");
        let shop = Config::<choreo::shop::Shop>::load(&[], &[]).expect("the defaults");
        assert_eq!(trip.nats.stream, "trip");
        assert_ne!(trip.nats.stream, shop.nats.stream);
    }

    #[test]
    fn every_schedule_of_three_bookings_keeps_every_property() {
        use choreo::check::{Faults, Limits, Verdict};
        let limits = Limits {
            max_states: 1_000_000,
            max_memory: 1 << 30,
            time_limit: std::time::Duration::from_secs(120),
            interrupt: Default::default(),
        };
        let faults = Faults {
            duplicates: true,
            crashes: 1,
            reduce: true,
        };
        let bookings = &sample()[..3];
        let config = Config::<Trip>::default();
        let checked = choreo::check::check(&config, bookings, faults, &limits, &mut |_, _, _| {})
            .expect("check runs");
        assert!(
            matches!(checked.verdict, Verdict::Holds),
            "{:?}",
            checked.verdict
        );
        assert!(checked.states > 100, "{checked}");
        let forgetful =
            Config::<Trip>::load(&[], &["services.dedup_window=0".into()]).expect("config");
        let checked =
            choreo::check::check(&forgetful, bookings, faults, &limits, &mut |_, _, _| {})
                .expect("check runs");
        assert!(
            matches!(
                checked.verdict,
                Verdict::Violated {
                    property: "no event is published twice",
                    ..
                }
            ),
            "{:?}",
            checked.verdict
        );
    }

    /// Each booking's events, in bus order, by booking id.
    fn by_booking(events: &[Envelope]) -> BTreeMap<u64, Vec<&Envelope>> {
        let mut trips: BTreeMap<u64, Vec<&Envelope>> = BTreeMap::new();
        for envelope in events {
            trips
                .entry(envelope.order_id.get())
                .or_default()
                .push(envelope);
        }
        trips
    }

    fn kinds_of(events: &[Envelope], id: u64) -> Vec<Kind> {
        by_booking(events)
            .get(&id)
            .map(|trip| trip.iter().map(|e| e.kind()).collect())
            .unwrap_or_default()
    }

    /// With everything available, a trip is booked step by step and confirmed: five events.
    #[tokio::test(start_paused = true)]
    async fn a_trip_with_everything_available_is_confirmed_in_five_steps() {
        let (summary, events) = run(&[booking(1, "LH123", "Adlon", "compact")]).await;
        assert_eq!(
            kinds_of(&events, 1),
            [
                Kind::TripRequested,
                Kind::FlightBooked,
                Kind::HotelBooked,
                Kind::CarBooked,
                Kind::TripConfirmed
            ]
        );
        assert_eq!(summary.completed, 1);
    }

    /// A full flight is the first step failing: the trip is rejected, nothing undone.
    #[tokio::test(start_paused = true)]
    async fn a_full_flight_rejects_the_trip_with_nothing_to_undo() {
        // BA456 has one seat: the first booking takes it.
        let (summary, events) = run(&[
            booking(1, "BA456", "Adlon", "compact"),
            booking(2, "BA456", "Adlon", "compact"),
        ])
        .await;
        assert_eq!(
            kinds_of(&events, 2),
            [
                Kind::TripRequested,
                Kind::FlightUnavailable,
                Kind::TripRejected
            ]
        );
        assert_eq!((summary.completed, summary.rejected), (1, 1));
    }

    /// A full hotel undoes the flight, and only then is the trip cancelled.
    #[tokio::test(start_paused = true)]
    async fn a_full_hotel_cancels_the_flight_then_the_trip() {
        // The Ritz has one room: the first booking takes it.
        let (summary, events) = run(&[
            booking(1, "LH123", "Ritz", "compact"),
            booking(2, "LH123", "Ritz", "compact"),
        ])
        .await;
        assert_eq!(
            kinds_of(&events, 2),
            [
                Kind::TripRequested,
                Kind::FlightBooked,
                Kind::HotelUnavailable,
                Kind::FlightCancelled,
                Kind::TripCancelled
            ]
        );
        assert_eq!((summary.completed, summary.cancelled), (1, 1));
    }

    /// A missing car undoes the hotel, then the flight: the reverse of the order they were
    /// booked in. It is the longest path, and [`Trip::MAX_EVENTS`] long.
    #[tokio::test(start_paused = true)]
    async fn a_missing_car_undoes_the_hotel_then_the_flight_in_reverse_order() {
        // There is one van: the first booking takes it.
        let (summary, events) = run(&[
            booking(1, "LH123", "Adlon", "van"),
            booking(2, "LH123", "Adlon", "van"),
        ])
        .await;
        let kinds = kinds_of(&events, 2);
        assert_eq!(
            kinds,
            [
                Kind::TripRequested,
                Kind::FlightBooked,
                Kind::HotelBooked,
                Kind::CarUnavailable,
                Kind::HotelCancelled,
                Kind::FlightCancelled,
                Kind::TripCancelled
            ]
        );
        assert_eq!(kinds.len() as u64, Trip::MAX_EVENTS);
        assert_eq!((summary.completed, summary.cancelled), (1, 1));
    }

    /// The sample bookings cover every branch, and end as the default config's comment says.
    #[tokio::test(start_paused = true)]
    async fn the_sample_bookings_end_as_the_default_config_says() {
        let (summary, events) = run_all(sample()).await;
        let endings: BTreeMap<u64, Kind> = events
            .iter()
            .filter(|e| e.is_terminal())
            .map(|e| (e.order_id.get(), e.kind()))
            .collect();
        use Kind::{
            TripCancelled as Cancelled, TripConfirmed as Confirmed, TripRejected as Rejected,
        };
        assert_eq!(
            endings,
            BTreeMap::from([
                (1, Confirmed),
                (2, Confirmed),
                (3, Rejected),
                (4, Cancelled),
                (5, Cancelled),
                (6, Confirmed),
                (7, Rejected),
                (8, Cancelled),
            ])
        );
        assert_eq!(
            (
                summary.orders,
                summary.completed,
                summary.rejected,
                summary.cancelled,
                summary.unfinished
            ),
            (8, 3, 2, 3, 0)
        );
    }

    /// Every booking ends exactly once, with its last event, and each event follows from the
    /// one before it (its causation id).
    #[tokio::test(start_paused = true)]
    async fn every_booking_ends_exactly_once_and_each_step_follows_from_the_last() {
        let (_, events) = run_all(sample()).await;
        let trips = by_booking(&events);
        assert_eq!(trips.len(), 8);
        for (id, trip) in trips {
            let terminal: Vec<_> = trip.iter().filter(|e| e.is_terminal()).collect();
            assert_eq!(terminal.len(), 1, "booking {id}: {terminal:?}");
            assert!(trip.last().is_some_and(|e| e.is_terminal()), "booking {id}");
            assert_eq!(trip[0].cause, None, "booking {id} starts uncaused");
            for pair in trip.windows(2) {
                assert_eq!(pair[1].cause, Some(pair[0].id), "booking {id}");
            }
        }
    }

    /// No booking causes more events than admission reserves for it, and the longest path
    /// uses all of it: [`Trip::MAX_EVENTS`] is neither too small nor too large.
    #[tokio::test(start_paused = true)]
    async fn max_events_is_the_longest_path_of_the_sample() {
        let (_, events) = run_all(sample()).await;
        let longest = by_booking(&events).values().map(Vec::len).max();
        assert_eq!(longest.map(|n| n as u64), Some(Trip::MAX_EVENTS));
    }

    /// Cancellations give back every seat and room they took: what is left is what the same
    /// bookings leave without the cancelled ones.
    #[tokio::test(start_paused = true)]
    async fn cancelled_trips_give_back_every_seat_and_room_they_took() {
        let (summary, events) = run_all(sample()).await;
        let cancelled: Vec<_> = events
            .iter()
            .filter(|e| e.kind() == Kind::TripCancelled)
            .map(|e| e.order_id)
            .collect();
        assert_eq!(cancelled.len(), 3);
        let never_cancelled = sample()
            .into_iter()
            .filter(|b| !cancelled.contains(&b.order_id))
            .collect();
        let (without, _) = run_all(never_cancelled).await;
        assert_eq!(summary.stats, without.stats);
        let stats = &summary.stats;
        for line in stats.flights.iter().chain(&stats.hotels).chain(&stats.cars) {
            assert_eq!(line.left, line.start - line.booked, "{line:?}");
        }
    }

    /// The summary's lines say what was booked and what is left of everything.
    #[tokio::test(start_paused = true)]
    async fn the_summary_says_what_was_booked_and_what_is_left() {
        let (summary, _) = run_all(sample()).await;
        let text = summary.to_string();
        for line in [
            "  booked: 3 seats, 3 rooms for 6 nights, 3 cars\n",
            "  seats left: BA456 0 of 1, LH123 3 of 5\n",
            "  rooms left: Adlon 2 of 4, Ritz 0 of 1\n",
            "  cars left: compact 1 of 3, van 0 of 1\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
    }

    /// The first cause of every booking that did not complete names what was missing, and
    /// the service that found it missing.
    #[tokio::test(start_paused = true)]
    async fn the_first_cause_of_each_failed_booking_names_what_was_missing() {
        let (_, events) = run_all(sample()).await;
        let causes: BTreeMap<u64, (String, Option<ServiceName>)> = by_booking(&events)
            .into_iter()
            .filter_map(|(id, trip)| {
                let cause = trip.iter().find_map(|e| Trip::cause(e))?;
                Some((id, (cause.slug, cause.started_by)))
            })
            .collect();
        let expected = |slug: &str, service| (slug.to_owned(), Some(service));
        assert_eq!(
            causes,
            BTreeMap::from([
                (3, expected("no-seat", ServiceName::FlightService)),
                (4, expected("no-room", ServiceName::HotelService)),
                (5, expected("no-car", ServiceName::CarService)),
                (7, expected("unknown-flight", ServiceName::FlightService)),
                (8, expected("unknown-car", ServiceName::CarService)),
            ])
        );
    }

    /// The last note of each sequence diagram says how the trip ended, and why.
    #[tokio::test(start_paused = true)]
    async fn each_ending_says_how_the_trip_ended() {
        let (_, events) = run_all(sample()).await;
        let mut endings: Vec<String> = events
            .iter()
            .filter(|e| e.is_terminal() && [2, 3, 5, 8].contains(&e.order_id.get()))
            .map(Trip::ending)
            .collect();
        endings.sort();
        assert_eq!(
            endings,
            [
                "trip 2 confirmed for Grace",
                "trip 3 rejected: no seat left on BA456",
                "trip 5 cancelled: car unavailable, hotel and flight cancelled",
                "trip 8 cancelled: car unavailable, hotel and flight cancelled",
            ]
        );
    }

    /// A journal is the envelopes as JSON: every event reads back as it was written, and the
    /// text output can be rebuilt from it (what `replay` does).
    #[tokio::test(start_paused = true)]
    async fn every_event_survives_a_journal_round_trip_and_can_be_narrated() {
        let (_, events) = run_all(sample()).await;
        for envelope in &events {
            let line = serde_json::to_string(envelope).expect("serializes");
            let back: Envelope = serde_json::from_str(&line).expect("deserializes");
            assert_eq!(&back, envelope, "{line}");
            let mut text = Vec::new();
            Trip::narrate(&back, &mut text).expect("its emitter narrates it");
            assert!(
                text.starts_with(back.service.name().as_bytes()),
                "{}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    /// The wiring has no loose ends: every kind that does not end a trip is heard by a
    /// service other than the one that publishes it.
    #[test]
    fn every_kind_that_does_not_end_a_trip_is_heard_by_another_service() {
        let declarations = choreo::view::diagram::declarations::<Trip>();
        assert_eq!(declarations.len(), ServiceName::ALL.len());
        for (publisher, _, publishes) in &declarations {
            for kind in publishes.iter().filter(|k| Trip::outcome(*k).is_none()) {
                let heard = declarations.iter().any(|(service, subscribes, _)| {
                    service != publisher && subscribes.contains(kind)
                });
                assert!(
                    heard,
                    "{kind} from {publisher} is heard by no other service"
                );
            }
        }
    }

    /// Every kind is published by exactly one service, so the emitter of an event is known
    /// from its kind (and narration can be rebuilt from a journal).
    #[test]
    fn every_kind_is_published_by_exactly_one_service() {
        let declarations = choreo::view::diagram::declarations::<Trip>();
        for &kind in Kind::ALL {
            let publishers: Vec<_> = declarations
                .iter()
                .filter(|(_, _, publishes)| publishes.contains(kind))
                .map(|(service, _, _)| *service)
                .collect();
            assert_eq!(publishers.len(), 1, "{kind}: {publishers:?}");
        }
    }

    /// Exactly three kinds end a trip, one per outcome, and each is drawn as an ending.
    #[test]
    fn three_kinds_end_a_trip_one_per_outcome() {
        let endings: Vec<_> = Kind::ALL
            .iter()
            .filter_map(|k| Trip::outcome(*k).map(|o| (o, *k)))
            .collect();
        assert_eq!(
            endings,
            [
                (Outcome::Completed, Kind::TripConfirmed),
                (Outcome::Rejected, Kind::TripRejected),
                (Outcome::Cancelled, Kind::TripCancelled),
            ]
        );
        assert_eq!(Trip::role(Kind::TripConfirmed), Role::Forward);
        assert_eq!(Trip::role(Kind::TripRejected), Role::Closing);
    }

    /// The built-in config loads, and a flight code that cannot be one is refused by key.
    #[test]
    fn the_default_config_loads_and_a_bad_flight_code_is_refused() {
        let config = Config::<Trip>::load(&[], &[]).expect("the defaults are valid");
        assert_eq!(config.choreography.flights.len(), 2);
        let err = Config::<Trip>::from_toml("[flights.\"LH 1\"]\nseats = 1")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config key `flights`") && err.contains("`LH 1` is not a flight code"),
            "{err}"
        );
    }

    /// The whole command line works for the trip as for the shop: a run with a journal, a
    /// summary and a report, then `replay`, `trace`, `diagram order` and `diagram topology`
    /// read what it wrote.
    #[test]
    fn every_subcommand_works_for_the_trip() {
        use clap::Parser;
        let dir = tempfile::tempdir().expect("temp dir");
        let file = |name: &str| dir.path().join(name).display().to_string();
        let (journal, summary, report) = (file("j.jsonl"), file("s.json"), file("r.html"));
        let bookings = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/trip/bookings.jsonl");
        let execute = |args: &[&str]| {
            let cli = choreo::cli::Cli::try_parse_from(args).expect("valid command line");
            choreo::app::execute::<Trip>("trip", cli)
        };
        execute(&[
            "trip",
            "run",
            bookings,
            "-q",
            "--format",
            "none",
            "--journal",
            &journal,
            "--summary",
            &summary,
            "--report",
            &report,
        ])
        .expect("run");
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary"))
                .expect("summary JSON");
        assert_eq!(
            (
                written["completed"].as_u64(),
                written["rejected"].as_u64(),
                written["cancelled"].as_u64()
            ),
            (Some(3), Some(2), Some(3))
        );
        let page = std::fs::read_to_string(&report).expect("report");
        assert!(
            page.contains("FlightService") && page.contains("no-car"),
            "the trip's report"
        );
        let journaled = choreo::view::journal::read::<Trip>(Path::new(&journal)).expect("journal");
        assert_eq!(journaled.len(), 40);
        for args in [
            vec!["trip", "replay", journal.as_str()],
            vec!["trip", "trace", journal.as_str(), "--order", "5"],
            vec!["trip", "trace", journal.as_str(), "--stuck"],
            vec!["trip", "diagram", "order", journal.as_str(), "--order", "5"],
            vec!["trip", "diagram", "topology"],
        ] {
            execute(&args).unwrap_or_else(|err| panic!("{args:?}: {err}"));
        }
        let mut trace = Vec::new();
        choreo::view::trace::order(
            &journaled,
            choreo::input::InstanceId::new(5).expect("id"),
            &mut trace,
        )
        .expect("trace");
        let trace = String::from_utf8(trace).expect("utf-8");
        let kinds: Vec<&str> = trace
            .lines()
            .filter_map(|line| {
                line.trim_start_matches(['│', '└', '├', '─', ' '])
                    .split(' ')
                    .next()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "TripRequested",
                "FlightBooked",
                "HotelBooked",
                "CarUnavailable",
                "HotelCancelled",
                "FlightCancelled",
                "TripCancelled",
                "terminal:",
            ],
            "{trace}"
        );
    }
}
