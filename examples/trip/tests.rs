//! The trip's tests: the whole saga on a paused clock, each service's decisions through
//! choreo's harness, the input and the config.

use std::collections::BTreeMap;
use std::path::Path;

use choreo::config::Config;
use choreo::engine::{Choreography, Name, Outcome, Role, Summary};

use super::*;
use crate::booking::{Flight, Hotel};

type Envelope = choreo::engine::Envelope<Trip>;

/// Ada's trip: LH123, two nights at the Adlon, a compact car.
pub fn itinerary() -> Itinerary {
    Itinerary {
        traveller: Traveller::from_static("Ada"),
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

impl<K: Ord> Pool<K> {
    /// How many are left of `key`; `None` if there is no such thing.
    pub fn left(&self, key: &K) -> Option<u64> {
        self.0.get(key).copied()
    }
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
    use choreo::check::{Faults, Limits, Reduction, Verdict};
    let limits = Limits {
        max_states: 1_000_000,
        max_memory: 1 << 30,
        time_limit: std::time::Duration::from_secs(120),
        interrupt: Default::default(),
    };
    let faults = Faults {
        duplicates: true,
        crashes: 1,
        reduction: Reduction::Por,
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
    // The seats, rooms and cars declared shared, the rest not: the same endings as with
    // silent deliveries the only reduction, from far fewer states.
    let silent = Faults {
        reduction: Reduction::Silent,
        ..faults
    };
    let unreduced = choreo::check::check(&config, bookings, silent, &limits, &mut |_, _, _| {})
        .expect("check runs");
    assert!(matches!(unreduced.verdict, Verdict::Holds));
    assert_eq!(unreduced.endings, checked.endings);
    assert!(
        checked.states * 10 < unreduced.states,
        "{checked} vs {unreduced}"
    );
    let forgetful = Config::<Trip>::load(&[], &["services.dedup_window=0".into()]).expect("config");
    let checked = choreo::check::check(&forgetful, bookings, faults, &limits, &mut |_, _, _| {})
        .expect("check runs");
    assert!(
        matches!(
            &checked.verdict,
            Verdict::Violated { property, .. } if property == "no event is published twice"
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
    use Kind::{TripCancelled as Cancelled, TripConfirmed as Confirmed, TripRejected as Rejected};
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
            let heard = declarations
                .iter()
                .any(|(service, subscribes, _)| service != publisher && subscribes.contains(kind));
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

/// A booking, as read from a bookings file.
mod input_record {
    use super::*;

    fn parse(json: &str) -> Result<Booking, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    /// A booking is read from an object with every field, `at_ms` optional.
    #[test]
    fn a_booking_is_read_from_an_object() {
        let booking = parse(
            r#"{"order_id": 7, "traveller": "Ada Lovelace", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2, "at_ms": 5}"#,
        )
        .expect("valid");
        assert_eq!(booking.order_id.get(), 7);
        assert_eq!(booking.traveller.to_string(), "Ada Lovelace");
        assert_eq!(booking.flight.as_str(), "LH123");
        assert_eq!(booking.hotel.as_str(), "Adlon");
        assert_eq!(booking.car.as_str(), "compact");
        assert_eq!(booking.nights.get(), 2);
        assert_eq!(booking.at_ms, Some(5));
    }

    /// A misspelt field is an error where it stands, not a field silently ignored.
    #[test]
    fn an_unknown_field_is_refused() {
        let err = parse(
            r#"{"order_id": 1, "traveller": "Ada", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2, "night": 3}"#,
        )
        .unwrap_err();
        assert!(err.contains("unknown field `night`"), "{err}");
    }

    /// Only an object is a booking: an array of its values is refused.
    #[test]
    fn the_positional_form_is_refused() {
        let err = parse(r#"[1, "Ada", "LH123", "Adlon", "compact", 2]"#).unwrap_err();
        assert!(err.contains("expected a booking object"), "{err}");
    }

    /// Names with spaces or nothing at all, and stays of no night, are refused with what was
    /// expected.
    #[test]
    fn bad_names_and_nights_are_refused_with_what_is_expected() {
        let with = |field: &str, value: &str| {
            let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
                r#"{"order_id": 1, "traveller": "Ada", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2}"#,
            )
            .expect("valid JSON");
            object.insert(
                field.into(),
                serde_json::from_str(value).expect("JSON value"),
            );
            parse(&serde_json::Value::Object(object).to_string()).unwrap_err()
        };
        assert!(
            with("flight", r#""LH 123""#).contains("`LH 123` is not a flight code"),
            "{}",
            with("flight", r#""LH 123""#)
        );
        assert!(with("hotel", r#""""#).contains("`` is not a hotel name"));
        assert!(with("traveller", r#""  ""#).contains("traveller must be a name"));
        assert!(with("nights", "0").contains("nights must be a whole number from 1 to 365"));
    }
}

/// What a service books from.
mod pool {
    use super::*;

    /// The pool says why it has none: none left, or no such thing.
    #[test]
    fn a_pool_hands_out_what_it_has_and_tells_full_from_unknown() {
        let mut pool = Pool::new(&BTreeMap::from([("van", 1)]), |n| *n);
        assert_eq!(pool.take(&"van"), Ok(0));
        assert_eq!(pool.take(&"van"), Err(Shortage::Full));
        assert_eq!(pool.take(&"limo"), Err(Shortage::Unknown));
        assert_eq!(pool.give_back(&"van"), 1);
        assert_eq!(pool.left(&"van"), Some(1));
    }
}

/// TripService: opens and closes every trip.
mod trip_service {
    use super::*;

    type Harness = choreo::engine::service::Harness<Trip, TripService>;

    /// A trip TripService has heard requested, as trip 1.
    fn requested() -> Harness {
        let mut service = Harness::new(TripService(()));
        let out = service.react(1, Event::TripRequested(itinerary()));
        assert!(out.is_empty(), "hearing its own request publishes nothing");
        service
    }

    /// The booking's fields become the itinerary every service learns from.
    #[test]
    fn a_booking_becomes_trip_requested_with_its_itinerary() {
        let booking: Booking = serde_json::from_str(
            r#"{"order_id": 1, "traveller": "Ada", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2}"#,
        )
        .expect("valid booking");
        assert_eq!(
            Trip::start(&booking, &Config::<Trip>::default().choreography).1,
            Event::TripRequested(itinerary())
        );
    }

    /// A booked car is the last step: the trip is confirmed with what was booked.
    #[test]
    fn a_booked_car_confirms_the_trip() {
        let out = requested().react(
            1,
            Event::CarBooked {
                car: CarClass::from_static("compact"),
                cars_left: 0,
            },
        );
        assert_eq!(out, [Event::TripConfirmed(itinerary())]);
    }

    /// No seat means nothing was booked: the trip is rejected at once.
    #[test]
    fn an_unavailable_flight_rejects_the_trip_at_once() {
        let out = requested().react(
            1,
            Event::FlightUnavailable {
                flight: FlightCode::from_static("LH123"),
                reason: Shortage::Full,
            },
        );
        assert_eq!(
            out,
            [Event::TripRejected {
                traveller: itinerary().traveller,
                flight: FlightCode::from_static("LH123"),
                reason: Shortage::Full,
            }]
        );
    }

    /// A missing room does not close the trip: the seat must be given back first.
    #[test]
    fn an_unavailable_hotel_cancels_only_once_the_flight_is_given_back() {
        let mut service = requested();
        let unavailable = Event::HotelUnavailable {
            hotel: HotelName::from_static("Adlon"),
            reason: Shortage::Full,
        };
        assert!(service.react(1, unavailable).is_empty());
        assert_eq!(
            service.react(1, flight_cancelled()),
            [Event::TripCancelled {
                traveller: itinerary().traveller,
                reason: CancelReason::HotelUnavailable,
            }]
        );
    }

    /// A missing car cancels the trip with that reason, at the end of the undoing.
    #[test]
    fn an_unavailable_car_cancels_with_its_reason() {
        let mut service = requested();
        let unavailable = Event::CarUnavailable {
            car: CarClass::from_static("van"),
            reason: Shortage::Unknown,
        };
        assert!(service.react(1, unavailable).is_empty());
        assert_eq!(
            service.react(1, flight_cancelled()),
            [Event::TripCancelled {
                traveller: itinerary().traveller,
                reason: CancelReason::CarUnavailable,
            }]
        );
    }

    /// A seat given back with no failure on record is a protocol slip, not a cancellation.
    #[test]
    fn a_cancelled_flight_without_a_failure_closes_nothing() {
        assert!(requested().react(1, flight_cancelled()).is_empty());
    }

    /// What TripService says names the trip, the traveller and why.
    #[test]
    fn narration_names_the_trip_the_traveller_and_why() {
        let text = |event| narration(ServiceName::TripService, event);
        assert_eq!(
            text(Event::TripRequested(itinerary())),
            "TripService: Trip 1 requested for Ada: flight LH123, hotel Adlon for 2 nights, car compact\n"
        );
        assert_eq!(
            text(Event::TripRejected {
                traveller: itinerary().traveller,
                flight: FlightCode::from_static("QF001"),
                reason: Shortage::Unknown,
            }),
            "TripService: Trip 1 for Ada rejected: no flight QF001\n"
        );
        assert_eq!(
            text(Event::TripCancelled {
                traveller: itinerary().traveller,
                reason: CancelReason::CarUnavailable,
            }),
            "TripService: Trip 1 for Ada cancelled: car unavailable, hotel and flight cancelled\n"
        );
    }

    fn flight_cancelled() -> Event {
        Event::FlightCancelled {
            flight: FlightCode::from_static("LH123"),
            seats_left: 5,
        }
    }
}

/// FlightService: the seats.
mod flight_service {
    use super::*;

    type Harness = choreo::engine::service::Harness<Trip, FlightService>;

    fn service_with(seats: u64) -> Harness {
        let flights = BTreeMap::from([(lh123(), Flight { seats })]);
        Harness::new(FlightService(Pool::new(&flights, |f| f.seats)))
    }

    fn lh123() -> FlightCode {
        FlightCode::from_static("LH123")
    }

    /// A flight with a seat left books it and says how many are left.
    #[test]
    fn a_requested_trip_books_a_seat() {
        let out = service_with(2).react(1, requested(itinerary()));
        assert_eq!(
            out,
            [Event::FlightBooked {
                flight: lh123(),
                seats_left: 1
            }]
        );
    }

    /// Seats go in the order trips ask for them: the second trip for the last seat is refused.
    #[test]
    fn the_last_seat_goes_to_the_first_trip_that_asks() {
        let mut service = service_with(1);
        service.react(1, requested(itinerary()));
        assert_eq!(
            service.react(2, requested(itinerary())),
            [Event::FlightUnavailable {
                flight: lh123(),
                reason: Shortage::Full
            }]
        );
    }

    /// A flight that is not in the config is refused as unknown, not as full.
    #[test]
    fn an_unknown_flight_is_refused_as_unknown() {
        let mut trip = itinerary();
        trip.flight = FlightCode::from_static("QF001");
        assert_eq!(
            service_with(9).react(1, requested(trip)),
            [Event::FlightUnavailable {
                flight: FlightCode::from_static("QF001"),
                reason: Shortage::Unknown
            }]
        );
    }

    /// A missing room gives the seat back, once: the second trip can then have it.
    #[test]
    fn an_unavailable_hotel_gives_the_seat_back_once() {
        let mut service = service_with(1);
        service.react(1, requested(itinerary()));
        let unavailable = Event::HotelUnavailable {
            hotel: HotelName::from_static("Adlon"),
            reason: Shortage::Full,
        };
        assert_eq!(
            service.react(1, unavailable),
            [Event::FlightCancelled {
                flight: lh123(),
                seats_left: 1
            }]
        );
        let cancelled = Event::HotelCancelled {
            hotel: HotelName::from_static("Adlon"),
            rooms_left: 1,
        };
        assert!(
            service.react(1, cancelled).is_empty(),
            "no seat left to give back"
        );
        assert!(matches!(
            service.react(2, requested(itinerary())).as_slice(),
            [Event::FlightBooked { seats_left: 0, .. }]
        ));
    }

    /// A cancelled hotel (after a missing car) gives the seat back too.
    #[test]
    fn a_cancelled_hotel_gives_the_seat_back() {
        let mut service = service_with(3);
        service.react(1, requested(itinerary()));
        let cancelled = Event::HotelCancelled {
            hotel: HotelName::from_static("Adlon"),
            rooms_left: 1,
        };
        assert_eq!(
            service.react(1, cancelled),
            [Event::FlightCancelled {
                flight: lh123(),
                seats_left: 3
            }]
        );
    }

    /// A refused trip holds no seat, so a later compensation gives nothing back.
    #[test]
    fn a_refused_trip_has_no_seat_to_give_back() {
        let mut service = service_with(0);
        service.react(1, requested(itinerary()));
        let unavailable = Event::HotelUnavailable {
            hotel: HotelName::from_static("Adlon"),
            reason: Shortage::Full,
        };
        assert!(service.react(1, unavailable).is_empty());
        assert_eq!(service.service.0.left(&lh123()), Some(0));
    }

    /// FlightService says which flight it booked, how many seats are left, and why not.
    #[test]
    fn narration_says_what_was_booked_and_what_is_left() {
        let text = |event| narration(ServiceName::FlightService, event);
        assert_eq!(
            text(Event::FlightBooked {
                flight: lh123(),
                seats_left: 1
            }),
            "FlightService: Booking flight LH123 for trip 1\nFlightService: Seat booked on LH123 for trip 1 (1 seat left)\n"
        );
        assert_eq!(
            text(Event::FlightUnavailable {
                flight: lh123(),
                reason: Shortage::Full
            }),
            "FlightService: Cannot book flight LH123 for trip 1: sold out\n"
        );
    }
}

/// HotelService: the rooms.
mod hotel_service {
    use super::*;

    type Harness = choreo::engine::service::Harness<Trip, HotelService>;

    fn service_with(rooms: u64) -> Harness {
        let hotels = BTreeMap::from([(adlon(), Hotel { rooms })]);
        Harness::new(HotelService(Pool::new(&hotels, |h| h.rooms)))
    }

    fn adlon() -> HotelName {
        HotelName::from_static("Adlon")
    }

    fn two_nights() -> Nights {
        Nights::new(2).expect("valid")
    }

    /// Runs trip `order_id` of `itinerary` up to the room decision.
    fn flight_booked(service: &mut Harness, order_id: u64) -> Vec<Event> {
        assert!(
            service.react(order_id, requested(itinerary())).is_empty(),
            "no room before the flight is booked"
        );
        let booked = Event::FlightBooked {
            flight: FlightCode::from_static("LH123"),
            seats_left: 0,
        };
        service.react(order_id, booked)
    }

    fn car_unavailable() -> Event {
        Event::CarUnavailable {
            car: CarClass::from_static("van"),
            reason: Shortage::Full,
        }
    }

    /// Once the flight is booked, the room is, for the nights requested.
    #[test]
    fn a_booked_flight_books_a_room_for_the_nights_requested() {
        assert_eq!(
            flight_booked(&mut service_with(2), 1),
            [Event::HotelBooked {
                hotel: adlon(),
                nights: two_nights(),
                rooms_left: 1
            }]
        );
    }

    /// A hotel with every room taken refuses as full.
    #[test]
    fn a_full_hotel_refuses_the_room() {
        let mut service = service_with(1);
        flight_booked(&mut service, 1);
        assert_eq!(
            flight_booked(&mut service, 2),
            [Event::HotelUnavailable {
                hotel: adlon(),
                reason: Shortage::Full
            }]
        );
    }

    /// A hotel that is not in the config is refused as unknown.
    #[test]
    fn an_unknown_hotel_is_refused_as_unknown() {
        let hotels = BTreeMap::from([(HotelName::from_static("Ritz"), Hotel { rooms: 9 })]);
        let mut service = Harness::new(HotelService(Pool::new(&hotels, |h| h.rooms)));
        assert_eq!(
            flight_booked(&mut service, 1),
            [Event::HotelUnavailable {
                hotel: adlon(),
                reason: Shortage::Unknown
            }]
        );
    }

    /// A missing car gives the room back, once, for the next trip to have.
    #[test]
    fn an_unavailable_car_gives_the_room_back_once() {
        let mut service = service_with(1);
        flight_booked(&mut service, 1);
        assert_eq!(
            service.react(1, car_unavailable()),
            [Event::HotelCancelled {
                hotel: adlon(),
                rooms_left: 1
            }]
        );
        assert_eq!(
            service.states[&InstanceId::new(1).expect("valid")],
            Room::Done
        );
        assert!(matches!(
            flight_booked(&mut service, 2).as_slice(),
            [Event::HotelBooked { rooms_left: 0, .. }]
        ));
    }

    /// A trip refused a room holds none, so a missing car gives nothing back.
    #[test]
    fn a_refused_room_is_not_given_back() {
        let mut service = service_with(0);
        flight_booked(&mut service, 1);
        assert!(service.react(1, car_unavailable()).is_empty());
        assert_eq!(service.service.0.left(&adlon()), Some(0));
    }

    /// HotelService says for how many nights, and how many rooms are left.
    #[test]
    fn narration_says_how_many_nights_and_rooms() {
        let text = |event| narration(ServiceName::HotelService, event);
        assert_eq!(
            text(Event::HotelBooked {
                hotel: adlon(),
                nights: two_nights(),
                rooms_left: 0
            }),
            "HotelService: Booking 2 nights at Adlon for trip 1\nHotelService: Room booked at Adlon for trip 1 (0 rooms left)\n"
        );
        assert_eq!(
            text(Event::HotelCancelled {
                hotel: adlon(),
                rooms_left: 1
            }),
            "HotelService: Cancelled the room at Adlon for trip 1 (1 room left)\n"
        );
    }
}

/// CarService: the hire cars.
mod car_service {
    use super::*;

    type Harness = choreo::engine::service::Harness<Trip, CarService>;

    fn service_with(compacts: u64) -> Harness {
        let cars = BTreeMap::from([(compact(), compacts)]);
        Harness::new(CarService(Pool::new(&cars, |n| *n)))
    }

    fn compact() -> CarClass {
        CarClass::from_static("compact")
    }

    /// Runs trip `order_id` wanting `car` up to the car decision.
    fn hotel_booked(service: &mut Harness, order_id: u64, car: &str) -> Vec<Event> {
        let mut trip = itinerary();
        trip.car = CarClass::from_static(car);
        assert!(
            service.react(order_id, requested(trip)).is_empty(),
            "no car before the hotel is booked"
        );
        let booked = Event::HotelBooked {
            hotel: HotelName::from_static("Adlon"),
            nights: Nights::new(2).expect("valid"),
            rooms_left: 0,
        };
        service.react(order_id, booked)
    }

    /// Once the hotel is booked, a car of the class asked for is.
    #[test]
    fn a_booked_hotel_books_a_car_of_the_class_asked_for() {
        assert_eq!(
            hotel_booked(&mut service_with(2), 1, "compact"),
            [Event::CarBooked {
                car: compact(),
                cars_left: 1
            }]
        );
    }

    /// The last car of a class goes to the first trip that asks; the next is refused as full.
    #[test]
    fn the_last_car_goes_to_the_first_trip_that_asks() {
        let mut service = service_with(1);
        hotel_booked(&mut service, 1, "compact");
        assert_eq!(
            hotel_booked(&mut service, 2, "compact"),
            [Event::CarUnavailable {
                car: compact(),
                reason: Shortage::Full
            }]
        );
    }

    /// A class that is not in the config is refused as unknown.
    #[test]
    fn an_unknown_class_is_refused_as_unknown() {
        let mut service = service_with(5);
        assert_eq!(
            hotel_booked(&mut service, 1, "limo"),
            [Event::CarUnavailable {
                car: CarClass::from_static("limo"),
                reason: Shortage::Unknown
            }]
        );
        assert_eq!(service.service.0.left(&compact()), Some(5), "no car taken");
    }

    /// CarService says which class it booked, how many are left, and why it could not.
    #[test]
    fn narration_says_which_car_and_why_not() {
        let text = |event| narration(ServiceName::CarService, event);
        assert_eq!(
            text(Event::CarBooked {
                car: compact(),
                cars_left: 2
            }),
            "CarService: Booking a compact for trip 1\nCarService: Booked a compact for trip 1 (2 left)\n"
        );
        assert_eq!(
            text(Event::CarUnavailable {
                car: CarClass::from_static("van"),
                reason: Shortage::Full
            }),
            "CarService: Cannot book a van for trip 1: none left\n"
        );
    }
}
