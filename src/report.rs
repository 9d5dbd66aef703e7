//! The HTML run report: one self-contained page (inline SVG and CSS, no network) with the
//! summary, the topology, latency histograms, orders completed over time, and swimlane
//! timelines for a sample of orders including every failure kind that occurred.
//!
//! The page is meant to let a newcomer answer, from choreo's own output: which orders failed
//! and why, how long each step took, which service caused the most cancellations, and how the
//! services are wired.
//!
//! # Bounded memory
//! A run can have ten million orders, so [`Report`] keeps nothing per order once the order is
//! finished, except for the few it samples:
//! - the events of each order **in flight** (at most [`crate::supervisor::MAX_EVENTS_PER_ORDER`]
//!   each, and admission bounds the orders in flight), dropped at its terminal event;
//! - a **sample** of at most [`SAMPLE_MAX`] orders for the swimlanes: the first
//!   two completed ones and the first order of each distinct way of failing;
//! - per way of ending (`Outcome`), a count and the first [`FIRST_IDS`] order ids;
//! - log-scale histograms with a fixed number of buckets, per terminal state and per step;
//! - orders finished over time in [`TIME_SLOTS`] slots whose width doubles (merging pairs) when
//!   the run outlasts them.
//!
//! # Determinism
//! Everything is derived from the events in bus order and laid out in a fixed order (maps are
//! ordered, the orders in flight are sorted by id), so the same events give the same page. Only
//! the summary's `machine` part, shown at the bottom, differs between runs.
//!
//! # Self-contained
//! No script, no font, no image, no link leaves the file: the styles are one `<style>`
//! element, the charts inline `<svg>`, and the only links are `#fragment`s within the page. It
//! opens the same offline, from a CI artifact, or attached to an issue.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;

use rustc_hash::FxHashMap;

use crate::config::Config;
use crate::event::{CancelReason, DeclineReason, Envelope, Event, EventKind, Kinds, ServiceName};
use crate::order::OrderId;
use crate::output::EventSink;
use crate::service::{
    InventoryService, Money, OrderService, PaymentService, Service, ShippingService,
};
use crate::summary::Summary;

/// Completed orders shown as swimlanes (the happy path, for comparison with the failures).
const SAMPLE_COMPLETED: usize = 2;
/// At most this many orders are drawn as swimlanes (and kept in memory for it).
pub const SAMPLE_MAX: usize = 12;
/// Orders still in flight when the run ended drawn as swimlanes (a failed run's stuck orders).
const SAMPLE_UNFINISHED: usize = 2;
/// Order ids listed per way of ending.
pub const FIRST_IDS: usize = 10;
/// Slots of the orders-over-time chart.
pub const TIME_SLOTS: usize = 120;
/// Width of one slot at the start, in microseconds; doubled as often as the run needs.
const FIRST_SLOT_US: u64 = 1_000;
/// Spare per-order event lists kept for reuse, so a long run does not allocate per order.
const SPARE_LISTS: usize = 1024;

/// Collects what the report needs from the event stream, in bounded memory.
#[derive(Debug)]
pub struct Report {
    seed: u64,
    /// The events of each order in flight, in bus order.
    in_flight: FxHashMap<OrderId, Vec<Envelope>>,
    spare: Vec<Vec<Envelope>>,
    /// Orders drawn as swimlanes, in the order they finished.
    sample: Vec<Sampled>,
    completed_sampled: usize,
    outcomes: BTreeMap<Outcome, Tally>,
    /// From OrderCreated to the terminal event, per [`State`].
    latency: [LogHistogram; 3],
    /// From an event's cause to the event, per (cause, event) kind.
    steps: BTreeMap<(EventKind, EventKind), Step>,
    timeline: Timeline,
    /// Events published, per kind (indexed by `EventKind as usize`).
    published: [u64; EventKind::ALL.len()],
    events: u64,
    last_at_us: u64,
}

/// One sampled order, all its events.
#[derive(Debug)]
struct Sampled {
    outcome: Outcome,
    events: Vec<Envelope>,
}

/// How many orders ended one way, and the first few.
#[derive(Debug, Default)]
struct Tally {
    count: u64,
    first: Vec<OrderId>,
}

/// The durations of one kind of step: a service publishing `effect` in reaction to `cause`.
#[derive(Debug)]
struct Step {
    service: ServiceName,
    durations: LogHistogram,
}

impl Report {
    /// An empty report for a run of `config` (only its seed is shown); feed it every event in
    /// bus order as an [`EventSink`], then [`write`](Report::write) it.
    pub fn new(config: &Config) -> Self {
        Report {
            seed: config.simulation.seed,
            in_flight: FxHashMap::default(),
            spare: Vec::new(),
            sample: Vec::new(),
            completed_sampled: 0,
            outcomes: BTreeMap::new(),
            latency: [
                LogHistogram::default(),
                LogHistogram::default(),
                LogHistogram::default(),
            ],
            steps: BTreeMap::new(),
            timeline: Timeline::default(),
            published: [0; EventKind::ALL.len()],
            events: 0,
            last_at_us: 0,
        }
    }

    /// Writes the page for a run that ended with `summary`, successfully or not (a failed run's
    /// orders still in flight are shown as unfinished).
    pub fn write(&self, summary: &Summary, path: &Path) -> io::Result<()> {
        std::fs::write(path, self.render(summary))
    }

    /// The page, as text.
    pub fn render(&self, summary: &Summary) -> String {
        let mut page = Page::default();
        let unfinished = self.unfinished();
        page.head(self, summary);
        self.summary_section(&mut page, summary);
        self.failures_section(&mut page, &unfinished);
        self.topology_section(&mut page, summary);
        self.latency_section(&mut page);
        self.steps_section(&mut page);
        self.timeline_section(&mut page, summary);
        self.swimlanes_section(&mut page, &unfinished);
        page.foot(summary);
        page.0
    }

    /// The orders in flight, by id, with their events.
    fn unfinished(&self) -> Vec<(OrderId, &[Envelope])> {
        let mut orders: Vec<_> = self
            .in_flight
            .iter()
            .map(|(id, events)| (*id, events.as_slice()))
            .collect();
        orders.sort_unstable_by_key(|(id, _)| *id);
        orders
    }

    /// Takes a finished order's events into account and keeps them if it joins the sample.
    fn finish(&mut self, terminal: &Envelope, events: Vec<Envelope>) {
        let state = State::of(terminal.kind());
        let outcome = Outcome::of(&events);
        let started = events.first().map_or(terminal.at_us, |e| e.at_us);
        self.latency[state as usize].record(terminal.at_us.saturating_sub(started));
        self.timeline.record(terminal.at_us, state);
        let tally = self.outcomes.entry(outcome).or_default();
        tally.count += 1;
        if tally.first.len() < FIRST_IDS {
            tally.first.push(terminal.order_id);
        }
        // Failures come first: there are at most nine kinds in practice, so with the completed
        // ones the sample stays within SAMPLE_MAX and every kind that occurred is in it.
        let keep = self.sample.len() < SAMPLE_MAX
            && match outcome {
                Outcome::Completed => self.completed_sampled < SAMPLE_COMPLETED,
                _ => tally.count == 1,
            };
        if keep {
            if outcome == Outcome::Completed {
                self.completed_sampled += 1;
            }
            self.sample.push(Sampled { outcome, events });
        } else if self.spare.len() < SPARE_LISTS {
            let mut events = events;
            events.clear();
            self.spare.push(events);
        }
    }
}

impl EventSink for Report {
    fn event(&mut self, envelope: &Envelope) -> io::Result<()> {
        let kind = envelope.kind();
        self.events += 1;
        self.published[kind as usize] += 1;
        self.last_at_us = self.last_at_us.max(envelope.at_us);
        let spare = &mut self.spare;
        let events = self
            .in_flight
            .entry(envelope.order_id)
            .or_insert_with(|| spare.pop().unwrap_or_default());
        if let Some(cause) = envelope.cause {
            if let Some(cause) = events.iter().find(|e| e.id == cause) {
                self.steps
                    .entry((cause.kind(), kind))
                    .or_insert_with(|| Step {
                        service: envelope.service,
                        durations: LogHistogram::default(),
                    })
                    .durations
                    .record(envelope.at_us.saturating_sub(cause.at_us));
            }
        }
        events.push(envelope.clone());
        if kind.is_terminal() {
            if let Some(events) = self.in_flight.remove(&envelope.order_id) {
                self.finish(envelope, events);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// What the report counts

/// The terminal states, in the summary's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Completed = 0,
    Rejected = 1,
    Cancelled = 2,
}

impl State {
    const ALL: [State; 3] = [State::Completed, State::Rejected, State::Cancelled];

    fn of(terminal: EventKind) -> State {
        match terminal {
            EventKind::ShippingArranged => State::Completed,
            EventKind::OrderRejected => State::Rejected,
            _ => State::Cancelled,
        }
    }

    fn name(self) -> &'static str {
        match self {
            State::Completed => "completed",
            State::Rejected => "rejected",
            State::Cancelled => "cancelled",
        }
    }

    fn terminal(self) -> EventKind {
        match self {
            State::Completed => EventKind::ShippingArranged,
            State::Rejected => EventKind::OrderRejected,
            State::Cancelled => EventKind::OrderCancelled,
        }
    }

    fn color(self) -> &'static str {
        match self {
            State::Completed => "#2f9e57",
            State::Rejected => "#d99a1e",
            State::Cancelled => "#cf4a3c",
        }
    }
}

/// How an order ended, precisely enough to say why: each way of failing is its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Completed,
    OutOfStock,
    UnknownProduct,
    InsufficientCredit,
    UnknownCustomer,
    GatewayTimeout,
    ShippingFailed,
    /// The service that gave up on an event of the order.
    DeadLettered(ServiceName),
    /// Cancelled without the failure that started it among the order's events (not expected:
    /// the report sees every event).
    Cancelled(CancelReasonKey),
    /// In flight when the run ended.
    Unfinished,
}

/// [`CancelReason`], ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CancelReasonKey {
    PaymentDeclined,
    ShippingFailed,
    DeadLettered,
}

impl Outcome {
    /// Reads an order's events: the failure that started its end decides.
    fn of(events: &[Envelope]) -> Outcome {
        let mut outcome = Outcome::Unfinished;
        for envelope in events {
            match &envelope.event {
                Event::ShippingArranged { .. } => return Outcome::Completed,
                Event::DeadLettered { .. } => return Outcome::DeadLettered(envelope.service),
                Event::InventoryUnavailable(unavailable) | Event::OrderRejected(unavailable) => {
                    outcome = match unavailable.available {
                        Some(_) => Outcome::OutOfStock,
                        None => Outcome::UnknownProduct,
                    }
                }
                Event::PaymentDeclined(declined) => {
                    outcome = match declined.reason {
                        DeclineReason::InsufficientCredit => Outcome::InsufficientCredit,
                        DeclineReason::UnknownCustomer => Outcome::UnknownCustomer,
                        DeclineReason::GatewayTimeout => Outcome::GatewayTimeout,
                    }
                }
                Event::ShippingFailed { .. } => outcome = Outcome::ShippingFailed,
                Event::OrderCancelled { reason } if outcome == Outcome::Unfinished => {
                    outcome = Outcome::Cancelled(match reason {
                        CancelReason::PaymentDeclined => CancelReasonKey::PaymentDeclined,
                        CancelReason::ShippingFailed => CancelReasonKey::ShippingFailed,
                        CancelReason::DeadLettered => CancelReasonKey::DeadLettered,
                    })
                }
                _ => {}
            }
        }
        outcome
    }

    fn state(self) -> Option<State> {
        match self {
            Outcome::Completed => Some(State::Completed),
            Outcome::OutOfStock | Outcome::UnknownProduct => Some(State::Rejected),
            Outcome::Unfinished => None,
            _ => Some(State::Cancelled),
        }
    }

    /// What happened, for people.
    fn label(self) -> String {
        match self {
            Outcome::Completed => "completed: shipped".into(),
            Outcome::OutOfStock => "rejected: not enough stock".into(),
            Outcome::UnknownProduct => "rejected: product not in the catalog".into(),
            Outcome::InsufficientCredit => {
                "cancelled: payment declined, charge exceeds the credit left".into()
            }
            Outcome::UnknownCustomer => "cancelled: payment declined, unknown customer".into(),
            Outcome::GatewayTimeout => {
                "cancelled: payment declined, every gateway attempt timed out".into()
            }
            Outcome::ShippingFailed => {
                "cancelled: shipping failed, quantity above the shipment limit".into()
            }
            Outcome::DeadLettered(service) => {
                format!("cancelled: dead-lettered, {service} gave up after repeated crashes")
            }
            Outcome::Cancelled(reason) => format!(
                "cancelled: {} (the failure itself was not seen)",
                match reason {
                    CancelReasonKey::PaymentDeclined => CancelReason::PaymentDeclined,
                    CancelReasonKey::ShippingFailed => CancelReason::ShippingFailed,
                    CancelReasonKey::DeadLettered => CancelReason::DeadLettered,
                }
            ),
            Outcome::Unfinished => "unfinished: in flight when the run ended".into(),
        }
    }

    /// A stable name for element ids and `data-outcome`.
    fn slug(self) -> String {
        match self {
            Outcome::Completed => "completed".into(),
            Outcome::OutOfStock => "out-of-stock".into(),
            Outcome::UnknownProduct => "unknown-product".into(),
            Outcome::InsufficientCredit => "insufficient-credit".into(),
            Outcome::UnknownCustomer => "unknown-customer".into(),
            Outcome::GatewayTimeout => "gateway-timeout".into(),
            Outcome::ShippingFailed => "shipping-failed".into(),
            Outcome::DeadLettered(service) => format!("dead-lettered-{service}"),
            Outcome::Cancelled(reason) => format!("cancelled-{reason:?}"),
            Outcome::Unfinished => "unfinished".into(),
        }
    }

    /// The service whose failure started the order's end: the one to look at first.
    fn started_by(self) -> Option<ServiceName> {
        match self {
            Outcome::OutOfStock | Outcome::UnknownProduct => Some(ServiceName::InventoryService),
            Outcome::InsufficientCredit | Outcome::UnknownCustomer | Outcome::GatewayTimeout => {
                Some(ServiceName::PaymentService)
            }
            Outcome::ShippingFailed => Some(ServiceName::ShippingService),
            Outcome::DeadLettered(service) => Some(service),
            Outcome::Completed | Outcome::Cancelled(_) | Outcome::Unfinished => None,
        }
    }

    fn color(self) -> &'static str {
        self.state().map_or("#7a8294", State::color)
    }
}

/// A histogram of microseconds in log-scale buckets: [`PER_DECADE`] per power of ten, from
/// 1 µs to 10^[`DECADES`] µs (11.6 days), a fixed 2 KiB whatever the count. Percentiles read
/// from it are within 6% (half a bucket) of the exact ones, and clamped to the exact min/max.
#[derive(Debug, Clone)]
struct LogHistogram {
    /// Bucket 0 holds 0 µs; bucket `i >= 1` holds `[10^((i-1)/PER_DECADE), 10^(i/PER_DECADE))`.
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

const PER_DECADE: usize = 20;
const DECADES: usize = 12;
const FINE_BUCKETS: usize = PER_DECADE * DECADES + 1;
/// The charts merge this many fine buckets into one bar: 5 bars per power of ten.
const BAR_GROUP: usize = 4;
const BARS_PER_DECADE: usize = PER_DECADE / BAR_GROUP;

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram {
            counts: vec![0; FINE_BUCKETS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl LogHistogram {
    fn bucket(micros: u64) -> usize {
        if micros == 0 {
            return 0;
        }
        let i = ((micros as f64).log10() * PER_DECADE as f64).floor() as usize + 1;
        i.min(FINE_BUCKETS - 1)
    }

    fn record(&mut self, micros: u64) {
        self.counts[Self::bucket(micros)] += 1;
        self.count += 1;
        self.sum += u128::from(micros);
        self.min = self.min.min(micros);
        self.max = self.max.max(micros);
    }

    /// The value at quantile `q` (0..=1), in microseconds; 0 when empty.
    fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let middle = if i == 0 {
                    0.0
                } else {
                    10f64.powf((i as f64 - 0.5) / PER_DECADE as f64)
                };
                return (middle.round() as u64).clamp(self.min, self.max);
            }
        }
        self.max
    }

    fn mean(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            (self.sum / u128::from(self.count)) as u64
        }
    }

    /// Counts per chart bar: bar `b` holds `[10^(b/5), 10^((b+1)/5))` µs (bar 0 also 0 µs).
    fn bars(&self) -> Vec<u64> {
        let mut bars = vec![0; DECADES * BARS_PER_DECADE];
        for (i, n) in self.counts.iter().enumerate() {
            bars[i.saturating_sub(1) / BAR_GROUP] += n;
        }
        bars
    }
}

/// Orders finished over time, per state, in [`TIME_SLOTS`] slots. When an event falls past the
/// last slot, the slot width doubles and neighbouring slots merge: the memory stays the same
/// however long the run, and the chart always spans between half and all of its slots.
#[derive(Debug, Clone)]
struct Timeline {
    slot_us: u64,
    slots: Vec<[u64; 3]>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            slot_us: FIRST_SLOT_US,
            slots: vec![[0; 3]; TIME_SLOTS],
        }
    }
}

impl Timeline {
    fn record(&mut self, at_us: u64, state: State) {
        while at_us / self.slot_us >= TIME_SLOTS as u64 {
            self.widen();
        }
        self.slots[(at_us / self.slot_us) as usize][state as usize] += 1;
    }

    fn widen(&mut self) {
        for i in 0..TIME_SLOTS {
            let merged = if 2 * i + 1 < TIME_SLOTS {
                let (a, b) = (self.slots[2 * i], self.slots[2 * i + 1]);
                [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
            } else {
                [0; 3]
            };
            self.slots[i] = merged;
        }
        self.slot_us = self.slot_us.saturating_mul(2);
    }
}

// ---------------------------------------------------------------------------------------------
// The topology, from the services' own declarations

/// What a service declares: the wiring the task loop enforces.
#[derive(Debug, Clone, Copy)]
struct Declared {
    name: ServiceName,
    subscribes: Kinds,
    publishes: Kinds,
}

fn declared<S: Service>() -> Declared {
    Declared {
        name: S::NAME,
        subscribes: S::SUBSCRIBES,
        publishes: S::PUBLISHES,
    }
}

/// The services in the order an order flows through them.
fn services() -> [Declared; 4] {
    [
        declared::<OrderService>(),
        declared::<InventoryService>(),
        declared::<PaymentService>(),
        declared::<ShippingService>(),
    ]
}

/// What part an event plays in the flow, which decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Forward,
    Compensation,
    Failure,
}

fn role(kind: EventKind) -> Role {
    match kind {
        EventKind::OrderCreated
        | EventKind::InventoryChecked
        | EventKind::PaymentProcessed
        | EventKind::ShippingArranged => Role::Forward,
        EventKind::PaymentRefunded | EventKind::InventoryReleased => Role::Compensation,
        _ => Role::Failure,
    }
}

impl Role {
    fn ink(self) -> &'static str {
        match self {
            Role::Forward => "#22784a",
            Role::Compensation => "#a86400",
            Role::Failure => "#b8382b",
        }
    }

    fn fill(self) -> &'static str {
        match self {
            Role::Forward => "#e3f4e8",
            Role::Compensation => "#fcefd9",
            Role::Failure => "#fbe3e0",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Role::Forward => "fwd",
            Role::Compensation => "comp",
            Role::Failure => "fail",
        }
    }
}

fn service_color(service: ServiceName) -> &'static str {
    match service {
        ServiceName::OrderService => "#3e6fb0",
        ServiceName::InventoryService => "#d9822b",
        ServiceName::PaymentService => "#3a9a5b",
        ServiceName::ShippingService => "#8e5ea2",
    }
}

fn lane(service: ServiceName) -> usize {
    match service {
        ServiceName::OrderService => 0,
        ServiceName::InventoryService => 1,
        ServiceName::PaymentService => 2,
        ServiceName::ShippingService => 3,
    }
}

// ---------------------------------------------------------------------------------------------
// Writing the page

/// The page being written. Writing to a `String` cannot fail, so `w!` drops the `fmt::Result`.
#[derive(Debug, Default)]
struct Page(String);

macro_rules! w {
    ($page:expr, $($arg:tt)*) => {
        $page.push(format_args!($($arg)*))
    };
}

impl Page {
    fn push(&mut self, args: fmt::Arguments<'_>) {
        let _ = fmt::Write::write_fmt(&mut self.0, args);
    }

    fn raw(&mut self, text: &str) {
        self.0.push_str(text);
    }

    fn head(&mut self, report: &Report, summary: &Summary) {
        self.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        self.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        w!(
            self,
            "<title>choreo run report: {} orders, seed {}</title>\n",
            num(summary.orders),
            report.seed
        );
        self.raw("<style>\n");
        self.raw(STYLE);
        self.raw("</style>\n</head>\n<body>\n<main>\n");
        // Arrowheads shared by every chart (ids are global to the page).
        self.raw(
            "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>",
        );
        for role in [Role::Forward, Role::Compensation, Role::Failure] {
            w!(
                self,
                "<marker id=\"arrow-{}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" \
                 markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" \
                 fill=\"{}\"/></marker>",
                role.class(),
                role.ink()
            );
        }
        self.raw("</defs></svg>\n");
        self.raw("<header id=\"top\">\n<h1>choreo run report</h1>\n");
        w!(
            self,
            "<p class=\"lead\">{} orders through OrderService, InventoryService, PaymentService \
             and ShippingService \u{b7} seed {} \u{b7} {} of run time \u{b7} {} events</p>\n",
            num(summary.orders),
            report.seed,
            dur(ms_to_us(summary.elapsed_ms)),
            num(summary.events),
        );
        self.raw(
            "<nav>\n<a href=\"#summary\">Summary</a>\n<a href=\"#failures\">Failures</a>\n\
             <a href=\"#topology\">Topology</a>\n<a href=\"#latency\">Latency</a>\n\
             <a href=\"#steps\">Steps</a>\n<a href=\"#over-time\">Over time</a>\n\
             <a href=\"#swimlanes\">Swimlanes</a>\n</nav>\n</header>\n",
        );
    }

    fn foot(&mut self, summary: &Summary) {
        self.raw("<footer>\n");
        w!(
            self,
            "<p>Written by choreo {}. Machine (differs between runs of the same seed): \
             wall time {}",
            env!("CARGO_PKG_VERSION"),
            dur(summary.machine.wall_ms.saturating_mul(1000)),
        );
        if let Some(kib) = summary.machine.peak_rss_kib {
            w!(self, ", peak memory {:.1} MiB", kib as f64 / 1024.0);
        }
        self.raw(".</p>\n</footer>\n</main>\n</body>\n</html>\n");
    }

    /// A card with a big number; `id` and `data-value` let tests and tools read it back.
    fn card(&mut self, id: &str, value: u64, shown: &str, label: &str, class: &str) {
        w!(
            self,
            "<div class=\"card {class}\" id=\"{id}\" data-value=\"{value}\"><b>{shown}</b>\
             <span>{label}</span></div>\n"
        );
    }
}

const STYLE: &str = r#":root{--ink:#1c2333;--muted:#5d6678;--line:#dde2ea;--bg:#f4f6f9;--ok:#2f9e57;--rej:#d99a1e;--cx:#cf4a3c}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0;color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
header h1{font-size:26px;margin:4px 0 2px}
.lead{color:var(--muted);margin:0 0 10px}
nav{display:flex;flex-wrap:wrap;gap:6px}
nav a{color:var(--ink);text-decoration:none;border:1px solid var(--line);background:#fff;border-radius:14px;padding:2px 11px;font-size:13px}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 20px 16px;margin:16px 0}
h2{font-size:19px;margin:2px 0 6px}
h3{font-size:15px;margin:16px 0 4px}
p{margin:6px 0}
.note{color:var(--muted);font-size:13px;max-width:880px}
.banner{background:#fdecea;border:1px solid #e9aaa4;color:#7d1f16;border-radius:8px;padding:8px 12px;margin:8px 0;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:10px 0}
.card{border:1px solid var(--line);border-left:5px solid #9aa3b5;border-radius:7px;padding:7px 11px}
.card b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.card span{color:var(--muted);font-size:12px}
.card.completed{border-left-color:var(--ok)}.card.rejected{border-left-color:var(--rej)}.card.cancelled{border-left-color:var(--cx)}.card.bad{border-left-color:#7d1f16;background:#fdecea}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:6px 26px}
table{border-collapse:collapse;width:100%;margin:6px 0 4px;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:12px;white-space:nowrap}
td:first-child{white-space:nowrap}
#outcomes td:first-child{white-space:normal}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.top td{background:#fff6e5}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;vertical-align:-1px}
.meter{display:inline-block;height:9px;background:#cf4a3c;border-radius:2px;vertical-align:0}
.ev{font-weight:600}.ev.fwd{color:#22784a}.ev.comp{color:#a86400}.ev.fail{color:#b8382b}
.tag{display:inline-block;font-size:11px;background:#fbe3e0;color:#7d1f16;border-radius:9px;padding:0 7px;margin-left:6px}
svg{display:block;max-width:100%;height:auto;margin:6px 0}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif;font-size:12px;fill:#1c2333}
svg .axis{stroke:#9aa3b5;stroke-width:1}
svg .grid{stroke:#eceff4;stroke-width:1}
svg .small{font-size:11px;fill:#5d6678}
svg .halo{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
figure{margin:18px 0 0;padding-top:12px;border-top:1px solid var(--line)}
figcaption{font-weight:600;font-size:14px}
figcaption .why{font-weight:400;color:var(--muted)}
.legend span{margin-right:14px;font-size:12.5px;white-space:nowrap}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
footer{color:var(--muted);font-size:12px;margin-top:18px}
"#;

// ---------------------------------------------------------------------------------------------
// Sections

impl Report {
    fn summary_section(&self, page: &mut Page, summary: &Summary) {
        page.raw("<section id=\"summary\">\n<h2>Summary</h2>\n");
        if summary.unfinished > 0 || summary.lost_events > 0 {
            w!(
                page,
                "<p class=\"banner\" id=\"run-failed\">The run did not finish cleanly: {} orders \
                 unfinished, {} events lost. The report shows what happened up to the end.</p>\n",
                num(summary.unfinished),
                num(summary.lost_events)
            );
        }
        page.raw("<div class=\"cards\">\n");
        let finished = summary.finished().max(1);
        let share = |n: u64| format!("{:.1}% of finished", 100.0 * n as f64 / finished as f64);
        page.card(
            "summary-orders",
            summary.orders,
            &num(summary.orders),
            "orders read",
            "",
        );
        page.card(
            "summary-completed",
            summary.completed,
            &num(summary.completed),
            &format!("completed \u{b7} {}", share(summary.completed)),
            "completed",
        );
        page.card(
            "summary-rejected",
            summary.rejected,
            &num(summary.rejected),
            &format!("rejected \u{b7} {}", share(summary.rejected)),
            "rejected",
        );
        page.card(
            "summary-cancelled",
            summary.cancelled,
            &num(summary.cancelled),
            &format!("cancelled \u{b7} {}", share(summary.cancelled)),
            "cancelled",
        );
        let bad = |n: u64| if n > 0 { "bad" } else { "" };
        page.card(
            "summary-unfinished",
            summary.unfinished,
            &num(summary.unfinished),
            "unfinished",
            bad(summary.unfinished),
        );
        page.card(
            "summary-events",
            summary.events,
            &num(summary.events),
            "events published",
            "",
        );
        page.card(
            "summary-lost",
            summary.lost_events,
            &num(summary.lost_events),
            "events lost to lag",
            bad(summary.lost_events),
        );
        page.card(
            "summary-revenue",
            summary.revenue_cents,
            &Money(summary.revenue_cents).to_string(),
            "revenue (charged \u{2212} refunded)",
            "",
        );
        page.card(
            "summary-elapsed",
            ms_to_us(summary.elapsed_ms),
            &dur(ms_to_us(summary.elapsed_ms)),
            &format!("run time \u{b7} {:.0} orders/s", summary.orders_per_second),
            "",
        );
        page.raw("</div>\n<div class=\"cols\">\n<div>\n");

        page.raw("<h3>Latency, from arrival to the terminal event</h3>\n");
        page.raw(
            "<table id=\"summary-latency\"><tr><th>state</th><th class=\"n\">orders</th>\
             <th class=\"n\">p50</th><th class=\"n\">p90</th><th class=\"n\">p99</th>\
             <th class=\"n\">max</th></tr>\n",
        );
        for (state, stats) in summary.latency_ms.by_state() {
            let shown = |value: f64| {
                if stats.count == 0 {
                    "\u{2013}".to_string()
                } else {
                    ms(value)
                }
            };
            let color = State::ALL
                .into_iter()
                .find(|s| s.name() == state)
                .map_or("#9aa3b5", State::color);
            w!(
                page,
                "<tr><td><span class=\"dot\" style=\"background:{color}\"></span>{state}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                num(stats.count),
                shown(stats.p50),
                shown(stats.p90),
                shown(stats.p99),
                shown(stats.max)
            );
        }
        page.raw("</table>\n<p class=\"note\">Measured by the supervisor from each order's arrival, so it includes waiting for room on the bus.</p>\n");

        page.raw("<h3>Services</h3>\n<table id=\"summary-services\"><tr><th>service</th><th class=\"n\">restarts after a crash</th><th class=\"n\">events dead-lettered</th></tr>\n");
        for service in ServiceName::ALL {
            let restarts = summary.restarts.get(&service).copied().unwrap_or(0);
            let letters = summary.dead_lettered.get(&service).copied().unwrap_or(0);
            w!(
                page,
                "<tr><td><span class=\"dot\" style=\"background:{}\"></span>{service}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                service_color(service),
                num(restarts),
                num(letters)
            );
        }
        page.raw("</table>\n</div>\n<div>\n");

        page.raw("<h3>Stock</h3>\n<table id=\"summary-stock\"><tr><th>product</th><th class=\"n\">start</th><th class=\"n\">shipped</th><th class=\"n\">left</th><th>left of start</th></tr>\n");
        for line in &summary.stock {
            let width = if line.start == 0 {
                0.0
            } else {
                100.0 * line.left as f64 / line.start as f64
            };
            w!(
                page,
                "<tr><td>{} ({})</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td><span class=\"meter\" style=\"width:{:.0}px;\
                 background:#7f9cc9\"></span></td></tr>\n",
                esc(&line.name),
                line.product_id,
                num(line.start),
                num(line.shipped),
                num(line.left),
                width
            );
        }
        page.raw("</table>\n");
        if summary.lines > 0 {
            w!(
                page,
                "<h3>Input</h3>\n<p id=\"summary-input\">{} lines: {} orders, {} blank, {} \
                 invalid, {} not read.</p>\n",
                num(summary.lines),
                num(summary.orders),
                num(summary.blank_lines),
                num(summary.invalid_lines),
                num(summary.unread_lines)
            );
        }
        if !summary.dead_letters.is_empty() {
            w!(
                page,
                "<h3>Dead letters</h3>\n<p id=\"summary-dead-letters\">{} events given up on \
                 after repeated crashes, first: ",
                num(summary.dead_lettered.values().sum::<u64>())
            );
            for (i, letter) in summary.dead_letters.iter().take(5).enumerate() {
                let sep = if i == 0 { "" } else { "; " };
                w!(
                    page,
                    "{sep}order {} ({} on {}, {} crashes)",
                    letter.order_id,
                    letter.service,
                    letter.event,
                    letter.crashes
                );
            }
            if summary.dead_lettered.values().sum::<u64>() > 5 {
                page.raw("; \u{2026}");
            }
            page.raw(".</p>\n");
        }
        page.raw("</div>\n</div>\n</section>\n");
    }

    fn failures_section(&self, page: &mut Page, unfinished: &[(OrderId, &[Envelope])]) {
        page.raw("<section id=\"failures\">\n<h2>Which orders failed, and why</h2>\n");
        page.raw("<p class=\"note\">Each way an order can end, with the service whose failure started it. Every kind that occurred has a swimlane below; the order ids link to it.</p>\n");
        page.raw(
            "<table id=\"outcomes\"><tr><th>how the order ended</th><th class=\"n\">orders</th>\
             <th class=\"n\">share</th><th>started by</th><th>first orders to end this way</th></tr>\n",
        );
        let finished: u64 = self.outcomes.values().map(|t| t.count).sum();
        let sampled: Vec<OrderId> = self
            .sample
            .iter()
            .filter_map(|s| s.events.first().map(|e| e.order_id))
            .chain(
                unfinished
                    .iter()
                    .take(self.unfinished_shown(unfinished))
                    .map(|(id, _)| *id),
            )
            .collect();
        let mut rows: Vec<(Outcome, u64, Vec<OrderId>)> = self
            .outcomes
            .iter()
            .map(|(o, t)| (*o, t.count, t.first.clone()))
            .collect();
        if !unfinished.is_empty() {
            let first = unfinished
                .iter()
                .take(FIRST_IDS)
                .map(|(id, _)| *id)
                .collect();
            rows.push((Outcome::Unfinished, unfinished.len() as u64, first));
        }
        if rows.is_empty() {
            page.raw("<tr><td colspan=\"5\">No order reached an end.</td></tr>\n");
        }
        for (outcome, count, mut first) in rows {
            first.sort_unstable();
            let share = if outcome == Outcome::Unfinished || finished == 0 {
                String::new()
            } else {
                format!("{:.1}%", 100.0 * count as f64 / finished as f64)
            };
            w!(
                page,
                "<tr data-outcome=\"{}\"><td><span class=\"dot\" style=\"background:{}\"></span>{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{share}</td><td>{}</td><td>",
                outcome.slug(),
                outcome.color(),
                esc(&outcome.label()),
                num(count),
                outcome.started_by().map_or("", ServiceName::as_str),
            );
            for (i, id) in first.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                if sampled.contains(id) {
                    w!(page, "{sep}<a href=\"#order-{id}\">{id}</a>");
                } else {
                    w!(page, "{sep}{id}");
                }
            }
            if count > first.len() as u64 {
                page.raw(", \u{2026}");
            }
            page.raw("</td></tr>\n");
        }
        page.raw("</table>\n");

        // Cancellations by the service whose failure started the compensation.
        let mut by_service: BTreeMap<ServiceName, (u64, Vec<(Outcome, u64)>)> = BTreeMap::new();
        let mut cancelled = 0;
        for (outcome, tally) in &self.outcomes {
            if outcome.state() != Some(State::Cancelled) {
                continue;
            }
            cancelled += tally.count;
            if let Some(service) = outcome.started_by() {
                let entry = by_service.entry(service).or_default();
                entry.0 += tally.count;
                entry.1.push((*outcome, tally.count));
            }
        }
        page.raw("<h3>Cancellations by the service whose failure started the compensation</h3>\n");
        page.raw("<p class=\"note\">PaymentDeclined counts for PaymentService, ShippingFailed for ShippingService, DeadLettered for the service that gave up. (Rejections are InventoryService's refusals; they undo nothing, so they are not cancellations.)</p>\n");
        let mut ranked: Vec<_> = by_service.into_iter().collect();
        ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
        if let Some((top, (n, _))) = ranked.first() {
            w!(
                page,
                "<p id=\"most-cancellations\" data-service=\"{top}\"><b>{top}</b> started the most \
                 cancellations: {} of {} ({:.0}%).</p>\n",
                num(*n),
                num(cancelled),
                100.0 * *n as f64 / cancelled.max(1) as f64
            );
        } else {
            page.raw("<p id=\"most-cancellations\">No order was cancelled.</p>\n");
        }
        page.raw(
            "<table id=\"cancellations-by-service\"><tr><th>service</th><th class=\"n\">cancellations</th>\
             <th></th><th>why</th></tr>\n",
        );
        let most = ranked.first().map_or(0, |(_, (n, _))| *n).max(1);
        for (i, (service, (n, why))) in ranked.iter().enumerate() {
            let class = if i == 0 { " class=\"top\"" } else { "" };
            w!(
                page,
                "<tr{class} data-service=\"{service}\"><td><span class=\"dot\" style=\"background:{}\"></span>{service}</td>\
                 <td class=\"n\">{}</td><td><span class=\"meter\" style=\"width:{:.0}px\"></span></td><td>",
                service_color(*service),
                num(*n),
                200.0 * *n as f64 / most as f64
            );
            for (j, (outcome, count)) in why.iter().enumerate() {
                let sep = if j == 0 { "" } else { "; " };
                let label = outcome.label();
                let reason = label.strip_prefix("cancelled: ").unwrap_or(&label);
                w!(page, "{sep}{} {}", num(*count), esc(reason));
            }
            page.raw("</td></tr>\n");
        }
        page.raw("</table>\n</section>\n");
    }

    fn topology_section(&self, page: &mut Page, summary: &Summary) {
        page.raw("<section id=\"topology\">\n<h2>How the services are wired</h2>\n");
        page.raw("<p class=\"note\">Drawn from each service's declared <code>SUBSCRIBES</code> and <code>PUBLISHES</code> (the task loop refuses anything undeclared). An arrow from A to B carries the events A publishes and B reacts to, with how many were published in this run. Forward arrows run above, failures and compensations below. There is no coordinator: each service only reacts to events.</p>\n");
        page.raw("<div class=\"legend\"><span><span class=\"swatch\" style=\"background:#22784a\"></span>forward path</span><span><span class=\"swatch\" style=\"background:#b8382b\"></span>failure</span><span><span class=\"swatch\" style=\"background:#a86400\"></span>compensation</span></div>\n");
        topology_svg(page, &self.published, summary);

        page.raw("<h3>Who reacts to what</h3>\n<table id=\"wiring\"><tr><th>service</th><th>reacts to</th><th>publishes</th></tr>\n");
        let all = services();
        for service in &all {
            w!(
                page,
                "<tr><td><span class=\"dot\" style=\"background:{}\"></span>{}</td><td>",
                service_color(service.name),
                service.name
            );
            // A kind is the service's own only when no other service publishes it too
            // (DeadLettered comes from three services; each reacts to the others').
            let others = all
                .iter()
                .filter(|other| other.name != service.name)
                .fold(Kinds::default(), |acc, other| acc.union(other.publishes));
            let own = service.publishes.difference(others);
            kinds_list(page, service.subscribes, Some(own));
            page.raw("</td><td>");
            kinds_list(page, service.publishes, None);
            page.raw("</td></tr>\n");
        }
        page.raw("</table>\n<p class=\"note\">Every service also hears the terminal events (ShippingArranged, OrderRejected, OrderCancelled) and drops what it kept about the order; \u{201c}own\u{201d} marks a service confirming its own event.</p>\n</section>\n");
    }

    fn latency_section(&self, page: &mut Page) {
        page.raw("<section id=\"latency\">\n<h2>Latency per terminal state</h2>\n");
        page.raw("<p class=\"note\">Time from an order's OrderCreated (its admission) to its terminal event, in log-scale buckets (5 per power of ten); the dashed lines are p50, p90 and p99. The summary's table above is measured from arrival instead, and so also counts the wait for admission.</p>\n");
        let range = bar_range(self.latency.iter());
        for state in State::ALL {
            let histogram = &self.latency[state as usize];
            w!(
                page,
                "<h3><span class=\"dot\" style=\"background:{}\"></span>{} ({}) \u{b7} {} orders",
                state.color(),
                state.name(),
                state.terminal(),
                num(histogram.count)
            );
            if histogram.count > 0 {
                w!(
                    page,
                    " \u{b7} p50 {} \u{b7} p90 {} \u{b7} p99 {} \u{b7} max {}",
                    dur(histogram.quantile(0.5)),
                    dur(histogram.quantile(0.9)),
                    dur(histogram.quantile(0.99)),
                    dur(histogram.max)
                );
            }
            page.raw("</h3>\n");
            match range {
                Some(range) if histogram.count > 0 => {
                    histogram_svg(page, state, histogram, range);
                }
                _ => w!(
                    page,
                    "<p class=\"note\" id=\"latency-{}\">No {} orders.</p>\n",
                    state.name(),
                    state.name()
                ),
            }
        }
        page.raw("</section>\n");
    }

    fn steps_section(&self, page: &mut Page) {
        page.raw("<section id=\"steps\">\n<h2>How long each step took</h2>\n");
        page.raw("<p class=\"note\">From an event's publication to the publication of the event it caused, per kind of step: queueing behind other orders' events, the service's simulated latency, payment-gateway retries, crashes and restarts. Percentiles are read from log-scale buckets (within about 6%).</p>\n");
        page.raw(
            "<table id=\"step-durations\"><tr><th>step</th><th>by</th><th class=\"n\">count</th>\
             <th class=\"n\">mean</th><th class=\"n\">p50</th><th class=\"n\">p90</th>\
             <th class=\"n\">p99</th><th class=\"n\">max</th></tr>\n",
        );
        let mut steps: Vec<_> = self.steps.iter().collect();
        // In flow order: by where the effect sits in the flow, then the cause.
        let position = |k: &EventKind| EventKind::ALL.iter().position(|a| a == k);
        steps.sort_by_key(|((cause, effect), _)| (position(effect), position(cause)));
        for ((cause, effect), step) in steps {
            let d = &step.durations;
            w!(
                page,
                "<tr><td><span class=\"ev {}\">{cause}</span> \u{2192} <span class=\"ev {}\">{effect}</span></td>\
                 <td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                role(*cause).class(),
                role(*effect).class(),
                step.service,
                num(d.count),
                dur(d.mean()),
                dur(d.quantile(0.5)),
                dur(d.quantile(0.9)),
                dur(d.quantile(0.99)),
                dur(d.max)
            );
        }
        page.raw("</table>\n</section>\n");
    }

    fn timeline_section(&self, page: &mut Page, summary: &Summary) {
        page.raw("<section id=\"over-time\">\n<h2>Orders finished over time</h2>\n");
        let end = self.last_at_us.max(ms_to_us(summary.elapsed_ms));
        w!(
            page,
            "<p class=\"note\">Orders reaching each terminal state per {} of run time (simulated \
             with the virtual clock), stacked; the line is the running total of completed orders.</p>\n",
            dur(self.timeline.slot_us)
        );
        page.raw("<div class=\"legend\">");
        for state in State::ALL {
            w!(
                page,
                "<span><span class=\"swatch\" style=\"background:{}\"></span>{}</span>",
                state.color(),
                state.name()
            );
        }
        page.raw("</div>\n");
        timeline_svg(page, &self.timeline, end);
        page.raw("</section>\n");
    }

    /// How many unfinished orders get a swimlane: what room the sample leaves.
    fn unfinished_shown(&self, unfinished: &[(OrderId, &[Envelope])]) -> usize {
        unfinished
            .len()
            .min(SAMPLE_UNFINISHED)
            .min(SAMPLE_MAX.saturating_sub(self.sample.len()))
    }

    fn swimlanes_section(&self, page: &mut Page, unfinished: &[(OrderId, &[Envelope])]) {
        page.raw("<section id=\"swimlanes\">\n<h2>Swimlanes: sample orders, step by step</h2>\n");
        page.raw("<p class=\"note\">The first completed orders and the first order of every way of failing that occurred. One lane per service; each box is an event that service published, arrows go from cause to effect with the time between them. The bar under the lanes is the order's time to scale, coloured by the service that produced each next event.</p>\n");
        page.raw("<div class=\"legend\">");
        for service in ServiceName::ALL {
            w!(
                page,
                "<span><span class=\"swatch\" style=\"background:{}\"></span>{service}</span>",
                service_color(service)
            );
        }
        page.raw("</div>\n");
        let mut shown: Vec<(Outcome, &[Envelope])> = self
            .sample
            .iter()
            .map(|s| (s.outcome, s.events.as_slice()))
            .collect();
        shown.sort_by_key(|(outcome, events)| (*outcome, events.first().map(|e| e.seq)));
        shown.extend(
            unfinished
                .iter()
                .take(self.unfinished_shown(unfinished))
                .map(|(_, events)| (Outcome::Unfinished, *events)),
        );
        if shown.is_empty() {
            page.raw("<p>No orders.</p>\n");
        }
        for (outcome, events) in shown {
            swimlane(page, outcome, events);
        }
        page.raw("</section>\n");
    }
}

fn kinds_list(page: &mut Page, kinds: Kinds, own: Option<Kinds>) {
    for (i, kind) in kinds.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        w!(
            page,
            "{sep}<span class=\"ev {}\">{kind}</span>",
            role(kind).class()
        );
        if own.is_some_and(|own| own.contains(kind)) {
            page.raw(" (own)");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Charts

/// The topology as arcs between four service boxes laid out in flow order.
fn topology_svg(page: &mut Page, published: &[u64], summary: &Summary) {
    const WIDTH: f64 = 1150.0;
    const NODE_W: f64 = 234.0;
    const NODE_H: f64 = 80.0;
    const LINE: f64 = 15.0;
    let services = services();
    let center = |i: usize| 245.0 + 263.0 * i as f64;

    // Edges: publisher -> subscriber, with the events that travel that way.
    struct Edge {
        from: usize,
        to: usize,
        kinds: Vec<EventKind>,
    }
    let mut edges = Vec::new();
    for (from, a) in services.iter().enumerate() {
        for (to, b) in services.iter().enumerate() {
            let kinds: Vec<EventKind> = a
                .publishes
                .iter()
                .filter(|k| from != to && b.subscribes.contains(*k))
                .collect();
            if !kinds.is_empty() {
                edges.push(Edge { from, to, kinds });
            }
        }
    }
    // Each side stacks arcs by span: an arc's apex clears the labels of every shorter one.
    let mut apex = [[0.0f64; 4]; 2];
    let mut extent = [0.0f64; 2];
    for (side, forward) in [(0usize, true), (1, false)] {
        let mut clear = 18.0;
        for (span, apex) in apex[side].iter_mut().enumerate().skip(1) {
            *apex = clear + 14.0;
            let tallest = edges
                .iter()
                .filter(|e| (e.to > e.from) == forward && e.from.abs_diff(e.to) == span)
                .map(|e| e.kinds.len())
                .max()
                .unwrap_or(0);
            clear = *apex + tallest as f64 * LINE + 6.0;
        }
        extent[side] = clear + 8.0;
    }
    let [above, below] = extent;
    let node_top = above;
    let height = above + NODE_H + below;
    w!(
        page,
        "<svg id=\"topology-graph\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" \
         height=\"{height:.0}\" role=\"img\" aria-label=\"Services and the events between them\">\n"
    );
    // The order file feeding OrderService.
    let entry_y = node_top + NODE_H / 2.0;
    w!(
        page,
        "<rect x=\"8\" y=\"{:.0}\" width=\"82\" height=\"30\" rx=\"15\" fill=\"#eef1f6\" \
         stroke=\"#9aa3b5\"/><text x=\"49\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">order file</text>\
         <line x1=\"90\" y1=\"{entry_y:.0}\" x2=\"{:.0}\" y2=\"{entry_y:.0}\" stroke=\"#22784a\" \
         stroke-width=\"1.6\" marker-end=\"url(#arrow-fwd)\"/>\n",
        entry_y - 15.0,
        entry_y + 4.0,
        center(0) - NODE_W / 2.0,
    );
    let mut labels = String::new();
    for edge in &edges {
        let forward = edge.to > edge.from;
        let span = edge.from.abs_diff(edge.to);
        let side = usize::from(!forward);
        // Apex of a cubic with both control points at depth h is 0.75 h.
        let depth = apex[side][span] / 0.75;
        let shift = 12.0 + 18.0 * span as f64;
        let (x1, x2) = if forward {
            (center(edge.from) + shift, center(edge.to) - shift)
        } else {
            (center(edge.from) - shift, center(edge.to) + shift)
        };
        let (y, cy) = if forward {
            (node_top, node_top - depth)
        } else {
            (node_top + NODE_H, node_top + NODE_H + depth)
        };
        let strongest = edge
            .kinds
            .iter()
            .map(|k| role(*k))
            .min()
            .unwrap_or(Role::Failure);
        let dash = if strongest == Role::Forward {
            ""
        } else {
            " stroke-dasharray=\"6 4\""
        };
        w!(
            page,
            "<path d=\"M{x1:.0},{y:.0} C{x1:.0},{cy:.0} {x2:.0},{cy:.0} {x2:.0},{y:.0}\" fill=\"none\" \
             stroke=\"{}\" stroke-width=\"1.6\"{dash} marker-end=\"url(#arrow-{})\"><title>{} \u{2192} {}</title></path>\n",
            strongest.ink(),
            strongest.class(),
            services[edge.from].name,
            services[edge.to].name
        );
        let mx = (x1 + x2) / 2.0;
        let apex_y = if forward {
            node_top - apex[side][span]
        } else {
            node_top + NODE_H + apex[side][span]
        };
        for (i, kind) in edge.kinds.iter().enumerate() {
            let ly = if forward {
                apex_y - 5.0 - (edge.kinds.len() - 1 - i) as f64 * LINE
            } else {
                apex_y + 14.0 + i as f64 * LINE
            };
            let _ = fmt::Write::write_fmt(
                &mut labels,
                format_args!(
                    "<text x=\"{mx:.0}\" y=\"{ly:.0}\" text-anchor=\"middle\" class=\"halo\" \
                     style=\"fill:{}\">{kind} <tspan class=\"small\">{}</tspan></text>\n",
                    role(*kind).ink(),
                    num(published[*kind as usize])
                ),
            );
        }
    }
    for (i, service) in services.iter().enumerate() {
        let x = center(i) - NODE_W / 2.0;
        let restarts = summary.restarts.get(&service.name).copied().unwrap_or(0);
        let dead_lettered = summary
            .dead_lettered
            .get(&service.name)
            .copied()
            .unwrap_or(0);
        let ends: Vec<EventKind> = service
            .publishes
            .iter()
            .filter(|k| k.is_terminal())
            .collect();
        w!(
            page,
            "<g id=\"node-{}\"><rect x=\"{x:.0}\" y=\"{node_top:.0}\" width=\"{NODE_W}\" height=\"{NODE_H}\" \
             rx=\"9\" fill=\"#fff\" stroke=\"{}\" stroke-width=\"2.2\"/>\
             <rect x=\"{x:.0}\" y=\"{node_top:.0}\" width=\"8\" height=\"{NODE_H}\" rx=\"3\" fill=\"{}\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" style=\"font-weight:700;font-size:14px\">{}</text>\
             <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">reacts to {} kinds \u{b7} publishes {}</text>\
             <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">{} restarts \u{b7} {} dead-lettered</text>",
            service.name,
            service_color(service.name),
            service_color(service.name),
            center(i) + 4.0,
            node_top + 21.0,
            service.name,
            center(i) + 4.0,
            node_top + 38.0,
            service.subscribes.iter().count(),
            service.publishes.iter().count(),
            center(i) + 4.0,
            node_top + 53.0,
            num(restarts),
            num(dead_lettered)
        );
        if !ends.is_empty() {
            w!(
                page,
                "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">ends: ",
                center(i) + 4.0,
                node_top + 69.0
            );
            for (j, kind) in ends.iter().enumerate() {
                let sep = if j == 0 { "" } else { ", " };
                w!(
                    page,
                    "{sep}<tspan style=\"fill:{}\">{kind}</tspan>",
                    role(*kind).ink()
                );
            }
            page.raw("</text>");
        }
        page.raw("</g>\n");
    }
    page.raw(&labels);
    page.raw("</svg>\n");
}

/// The bars, over every histogram, that hold a value: whole decades, `[start, end)`.
fn bar_range<'a>(histograms: impl Iterator<Item = &'a LogHistogram>) -> Option<(usize, usize)> {
    let mut range: Option<(usize, usize)> = None;
    for histogram in histograms {
        for (i, n) in histogram.bars().iter().enumerate() {
            if *n > 0 {
                range = Some(match range {
                    None => (i, i + 1),
                    Some((lo, hi)) => (lo.min(i), hi.max(i + 1)),
                });
            }
        }
    }
    range.map(|(lo, hi)| {
        let lo = lo / BARS_PER_DECADE * BARS_PER_DECADE;
        let hi = hi.div_ceil(BARS_PER_DECADE) * BARS_PER_DECADE;
        (lo, hi.max(lo + BARS_PER_DECADE))
    })
}

/// 10^(bar / 5) µs, the lower bound of a chart bar.
fn bar_start_us(bar: usize) -> f64 {
    10f64.powf(bar as f64 / BARS_PER_DECADE as f64)
}

fn histogram_svg(page: &mut Page, state: State, histogram: &LogHistogram, range: (usize, usize)) {
    const WIDTH: f64 = 1120.0;
    const HEIGHT: f64 = 150.0;
    const LEFT: f64 = 72.0;
    const RIGHT: f64 = 14.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 24.0;
    let (lo, hi) = range;
    let bars = histogram.bars();
    let most = bars[lo..hi].iter().copied().max().unwrap_or(0).max(1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let bar_w = plot_w / (hi - lo) as f64;
    let base = TOP + plot_h;
    w!(
        page,
        "<svg id=\"latency-{}\" class=\"histogram\" data-state=\"{}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{} latency histogram\">\n",
        state.name(),
        state.name(),
        state.name()
    );
    w!(
        page,
        "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{:.0}\" y2=\"{TOP}\"/>\
         <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\" class=\"small\">{}</text>\
         <text x=\"{:.0}\" y=\"{base:.0}\" text-anchor=\"end\" class=\"small\">0</text>\n",
        WIDTH - RIGHT,
        LEFT - 6.0,
        TOP + 4.0,
        num(most),
        LEFT - 6.0
    );
    for (i, &n) in bars[lo..hi].iter().enumerate() {
        if n == 0 {
            continue;
        }
        let bar = lo + i;
        let h = (n as f64 / most as f64 * plot_h).max(1.5);
        w!(
            page,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\">\
             <title>{} to {}: {} orders</title></rect>\n",
            LEFT + i as f64 * bar_w + 1.0,
            base - h,
            (bar_w - 2.0).max(1.0),
            state.color(),
            dur(bar_start_us(bar).round() as u64),
            dur(bar_start_us(bar + 1).round() as u64),
            num(n)
        );
    }
    w!(
        page,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{base:.0}\" x2=\"{:.0}\" y2=\"{base:.0}\"/>\n",
        WIDTH - RIGHT
    );
    for bar in (lo..=hi).step_by(BARS_PER_DECADE) {
        let x = LEFT + (bar - lo) as f64 * bar_w;
        w!(
            page,
            "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{base:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\"/>\
             <text x=\"{x:.1}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">{}</text>\n",
            base + 4.0,
            base + 16.0,
            decade_label(bar / BARS_PER_DECADE)
        );
    }
    // Percentile markers, at their place on the log axis.
    let x_of = |micros: u64| {
        let position = if micros == 0 {
            0.0
        } else {
            (micros as f64).log10() * BARS_PER_DECADE as f64 - lo as f64
        };
        LEFT + position.clamp(0.0, (hi - lo) as f64) * bar_w
    };
    for (i, (name, q)) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)]
        .into_iter()
        .enumerate()
    {
        let value = histogram.quantile(q);
        let x = x_of(value);
        let y = 11.0 + 12.0 * i as f64;
        let anchor = if x > WIDTH - 110.0 { "end" } else { "start" };
        let dx = if anchor == "end" { -4.0 } else { 4.0 };
        w!(
            page,
            "<line x1=\"{x:.1}\" y1=\"{:.0}\" x2=\"{x:.1}\" y2=\"{base:.0}\" stroke=\"#1c2333\" \
             stroke-width=\"1\" stroke-dasharray=\"3 3\"/><text x=\"{:.1}\" y=\"{y:.0}\" \
             text-anchor=\"{anchor}\" class=\"small halo\">{name} {}</text>\n",
            y - 4.0,
            x + dx,
            dur(value)
        );
    }
    page.raw("</svg>\n");
}

/// "1 µs", "10 ms", "1 s", ... for 10^decade µs.
fn decade_label(decade: usize) -> String {
    const UNITS: [&str; 5] = ["\u{b5}s", "ms", "s", "ks", "Ms"];
    let unit = (decade / 3).min(UNITS.len() - 1);
    let value = 10u64.pow((decade - 3 * unit) as u32);
    format!("{value} {}", UNITS[unit])
}

fn timeline_svg(page: &mut Page, timeline: &Timeline, end_us: u64) {
    const WIDTH: f64 = 1120.0;
    const HEIGHT: f64 = 240.0;
    const LEFT: f64 = 72.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 26.0;
    const BOTTOM: f64 = 26.0;
    let used = ((end_us / timeline.slot_us) as usize + 1).min(TIME_SLOTS);
    let slots = &timeline.slots[..used];
    let most = slots
        .iter()
        .map(|s| s.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let completed: u64 = slots.iter().map(|s| s[0]).sum();
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot_w = plot_w / used as f64;
    let span_us = used as u64 * timeline.slot_us;
    let base = TOP + plot_h;
    w!(
        page,
        "<svg id=\"completions\" data-slot-us=\"{}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" role=\"img\" aria-label=\"Orders finished over time\">\n",
        timeline.slot_us
    );
    w!(
        page,
        "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{:.0}\" y2=\"{TOP}\"/>\
         <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\" class=\"small\">{}</text>\
         <text x=\"{:.0}\" y=\"{base:.0}\" text-anchor=\"end\" class=\"small\">0</text>\
         <text x=\"{LEFT}\" y=\"12\" class=\"small\">orders per {}</text>\
         <text x=\"{:.0}\" y=\"12\" text-anchor=\"end\" class=\"small\" style=\"fill:#1f6b3a\">\
         line: completed so far, {} in all</text>\n",
        WIDTH - RIGHT,
        LEFT - 6.0,
        TOP + 4.0,
        num(most),
        LEFT - 6.0,
        dur(timeline.slot_us),
        WIDTH - RIGHT,
        num(completed)
    );
    for (i, slot) in slots.iter().enumerate() {
        let x = LEFT + i as f64 * slot_w;
        let mut y = base;
        for state in State::ALL {
            let n = slot[state as usize];
            if n == 0 {
                continue;
            }
            let h = n as f64 / most as f64 * plot_h;
            y -= h;
            w!(
                page,
                "<rect class=\"slot {}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                state.name(),
                x + 0.5,
                (slot_w - 1.0).max(0.5),
                state.color()
            );
        }
        if slot.iter().any(|n| *n > 0) {
            w!(
                page,
                "<rect x=\"{x:.1}\" y=\"{TOP}\" width=\"{slot_w:.1}\" height=\"{plot_h:.0}\" fill=\"transparent\">\
                 <title>{} to {}: {} completed, {} rejected, {} cancelled</title></rect>\n",
                dur(i as u64 * timeline.slot_us),
                dur((i as u64 + 1) * timeline.slot_us),
                num(slot[0]),
                num(slot[1]),
                num(slot[2])
            );
        }
    }
    // Running total of completed orders, scaled to the full height.
    if completed > 0 {
        let mut running = 0;
        let mut points = format!("{LEFT},{base}");
        for (i, slot) in slots.iter().enumerate() {
            running += slot[0];
            let x = LEFT + (i + 1) as f64 * slot_w;
            let y = base - running as f64 / completed as f64 * plot_h;
            points.push_str(&format!(" {x:.1},{y:.1}"));
        }
        w!(
            page,
            "<polyline points=\"{points}\" fill=\"none\" stroke=\"#1f6b3a\" stroke-width=\"1.8\"/>\n"
        );
    }
    w!(
        page,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{base:.0}\" x2=\"{:.0}\" y2=\"{base:.0}\"/>\n",
        WIDTH - RIGHT
    );
    let step = nice_step(span_us);
    let mut tick = 0;
    while tick <= span_us {
        let x = LEFT + tick as f64 / span_us as f64 * plot_w;
        w!(
            page,
            "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{base:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\"/>\
             <text x=\"{x:.1}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">{}</text>\n",
            base + 4.0,
            base + 17.0,
            time_tick(tick)
        );
        match tick.checked_add(step) {
            Some(next) => tick = next,
            None => break,
        }
    }
    page.raw("</svg>\n");
}

/// A tick step from 1, 2, 5 x 10^k µs giving at most ten ticks over `span_us`.
fn nice_step(span_us: u64) -> u64 {
    let mut magnitude: u64 = 1;
    loop {
        for factor in [1, 2, 5] {
            let step = magnitude.saturating_mul(factor);
            if span_us / step <= 10 {
                return step;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// A round time for an axis: "0", "500 ms", "10 s", "20 min".
fn time_tick(micros: u64) -> String {
    match micros {
        0 => "0".into(),
        m if m % 3_600_000_000 == 0 => format!("{} h", m / 3_600_000_000),
        m if m >= 600_000_000 && m % 60_000_000 == 0 => format!("{} min", m / 60_000_000),
        m if m % 1_000_000 == 0 => format!("{} s", m / 1_000_000),
        m if m >= 1_000_000 => format!("{:.1} s", m as f64 / 1e6),
        m if m % 1_000 == 0 => format!("{} ms", m / 1_000),
        m => format!("{m} \u{b5}s"),
    }
}

/// One order's events in four lanes, one per service.
fn swimlane(page: &mut Page, outcome: Outcome, events: &[Envelope]) {
    const WIDTH: f64 = 1120.0;
    const LABEL: f64 = 132.0;
    const LANE: f64 = 48.0;
    const TOP: f64 = 6.0;
    const BOX_H: f64 = 36.0;
    let Some(first) = events.first() else {
        return;
    };
    let order_id = first.order_id;
    let start = first.at_us;
    let took = events.last().map_or(0, |e| e.at_us.saturating_sub(start));
    let column = ((WIDTH - LABEL - 10.0) / events.len().max(1) as f64).min(180.0);
    let box_w = column - 16.0;
    let lanes_h = TOP + 4.0 * LANE;
    let height = lanes_h + 40.0;
    w!(
        page,
        "<figure id=\"order-{order_id}\" class=\"swimlane\" data-outcome=\"{}\">\n<figcaption>\
         <span class=\"dot\" style=\"background:{}\"></span>Order {order_id} \u{b7} {} \
         <span class=\"why\">\u{b7} {} events over {} \u{b7} from {} into the run</span></figcaption>\n",
        outcome.slug(),
        outcome.color(),
        esc(&outcome.label()),
        events.len(),
        dur(took),
        dur(start)
    );
    w!(
        page,
        "<svg viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\" role=\"img\" \
         aria-label=\"Order {order_id}, event by event\">\n"
    );
    for service in ServiceName::ALL {
        let y = TOP + lane(service) as f64 * LANE;
        let fill = if lane(service) % 2 == 0 {
            "#f7f8fb"
        } else {
            "#fff"
        };
        w!(
            page,
            "<rect x=\"0\" y=\"{y:.0}\" width=\"{WIDTH}\" height=\"{LANE}\" fill=\"{fill}\"/>\
             <rect x=\"0\" y=\"{y:.0}\" width=\"4\" height=\"{LANE}\" fill=\"{}\"/>\
             <text x=\"12\" y=\"{:.0}\" style=\"font-weight:600\">{service}</text>\n",
            service_color(service),
            y + LANE / 2.0 + 4.0
        );
    }
    let place = |i: usize, e: &Envelope| {
        let x = LABEL + i as f64 * column;
        let y = TOP + lane(e.service) as f64 * LANE + (LANE - BOX_H) / 2.0;
        (x, y)
    };
    // Arrows first, so boxes sit on top of them.
    for (i, event) in events.iter().enumerate() {
        let Some(cause) = event.cause else { continue };
        let Some((j, cause_event)) = events.iter().enumerate().find(|(_, e)| e.id == cause) else {
            continue;
        };
        let (cx, cy) = place(j, cause_event);
        let (ex, ey) = place(i, event);
        let (x1, y1) = (cx + box_w, cy + BOX_H / 2.0);
        let (x2, y2) = (ex - 2.0, ey + BOX_H / 2.0);
        let ink = role(event.kind()).ink();
        w!(
            page,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{ink}\" \
             stroke-width=\"1.4\" marker-end=\"url(#arrow-{})\"/>\n",
            role(event.kind()).class(),
        );
    }
    for (i, event) in events.iter().enumerate() {
        let (x, y) = place(i, event);
        let role = role(event.kind());
        let at = event.at_us.saturating_sub(start);
        let when = match step_of(event, events) {
            Some(step) => format!("t+{} (+{})", dur(at), dur(step)),
            None if i == 0 => "start".to_string(),
            None => format!("t+{}", dur(at)),
        };
        w!(
            page,
            "<g class=\"event\" data-kind=\"{}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{box_w:.1}\" height=\"{BOX_H}\" \
             rx=\"5\" fill=\"{}\" stroke=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" style=\"font-size:11px;\
             font-weight:600;fill:{}\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" class=\"small\" \
             style=\"font-size:10px\">{when}</text><title>{}</title></g>\n",
            event.kind(),
            role.fill(),
            role.ink(),
            x + 6.0,
            y + 15.0,
            role.ink(),
            event.kind(),
            x + 6.0,
            y + 29.0,
            esc(&facts(event))
        );
    }
    // The order's time to scale.
    let bar_y = lanes_h + 12.0;
    let bar_w = WIDTH - LABEL - 10.0;
    w!(
        page,
        "<text x=\"12\" y=\"{:.0}\" class=\"small\">time to scale</text>\
         <rect x=\"{LABEL}\" y=\"{bar_y:.0}\" width=\"{bar_w:.0}\" height=\"10\" fill=\"#eef1f6\"/>\n",
        bar_y + 9.0
    );
    if took > 0 {
        for pair in events.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let x1 = LABEL + (a.at_us - start) as f64 / took as f64 * bar_w;
            let x2 = LABEL + (b.at_us - start) as f64 / took as f64 * bar_w;
            if x2 - x1 < 0.05 {
                continue;
            }
            w!(
                page,
                "<rect x=\"{x1:.1}\" y=\"{bar_y:.0}\" width=\"{:.1}\" height=\"10\" fill=\"{}\">\
                 <title>{} until {} ({})</title></rect>",
                x2 - x1,
                service_color(b.service),
                dur(b.at_us - a.at_us),
                b.kind(),
                b.service
            );
        }
        page.raw("\n");
    }
    w!(
        page,
        "<text x=\"{LABEL}\" y=\"{:.0}\" class=\"small\">0</text><text x=\"{:.0}\" y=\"{:.0}\" \
         text-anchor=\"end\" class=\"small\">{}</text>\n</svg>\n",
        bar_y + 24.0,
        LABEL + bar_w,
        bar_y + 24.0,
        dur(took)
    );
    page.raw(
        "<table class=\"events\"><tr><th class=\"n\">t</th><th class=\"n\">step</th>\
         <th>service</th><th>event</th><th>what happened</th></tr>\n",
    );
    for event in events {
        let step = step_of(event, events).map_or(String::new(), |d| format!("+{}", dur(d)));
        w!(
            page,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{step}</td><td>{}</td>\
             <td><span class=\"ev {}\">{}</span></td><td>{}</td></tr>\n",
            dur(event.at_us.saturating_sub(start)),
            event.service,
            role(event.kind()).class(),
            event.kind(),
            esc(&facts(event))
        );
    }
    page.raw("</table>\n</figure>\n");
}

/// How long after its cause (among `events`) an event was published.
fn step_of(event: &Envelope, events: &[Envelope]) -> Option<u64> {
    let cause = event.cause?;
    let cause = events.iter().find(|e| e.id == cause)?;
    Some(event.at_us.saturating_sub(cause.at_us))
}

/// The facts an event carries, in words (the same words as `choreo trace`).
fn facts(envelope: &Envelope) -> String {
    crate::event::Facts(&envelope.event).to_string()
}

// ---------------------------------------------------------------------------------------------
// Formatting

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole number with thousands separators: 1,234,567.
fn num(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms_to_us(ms: f64) -> u64 {
    (ms * 1000.0).round().max(0.0) as u64
}

fn ms(ms: f64) -> String {
    dur(ms_to_us(ms))
}

/// A duration in microseconds, in the unit that reads best, in three digits or so: 250 µs,
/// 3.20 ms, 41.5 ms, 760 ms, 2.35 s, 4 min 12 s.
fn dur(micros: u64) -> String {
    match micros {
        0..=999 => format!("{micros} \u{b5}s"),
        1_000..=9_999 => format!("{:.2} ms", micros as f64 / 1e3),
        10_000..=99_999 => format!("{:.1} ms", micros as f64 / 1e3),
        100_000..=999_999 => format!("{:.0} ms", micros as f64 / 1e3),
        1_000_000..=59_999_999 => format!("{:.2} s", micros as f64 / 1e6),
        60_000_000..=3_599_999_999 => {
            let s = micros / 1_000_000;
            format!("{} min {} s", s / 60, s % 60)
        }
        _ => {
            let m = micros / 60_000_000;
            format!("{} h {} min", m / 60, m % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Declined, EventId, Unavailable};
    use crate::order::{CustomerId, ProductId, Quantity};

    struct Feed {
        seq: u64,
    }

    impl Feed {
        fn emit(
            &mut self,
            report: &mut Report,
            order: u64,
            at_us: u64,
            service: ServiceName,
            cause: Option<EventKind>,
            event: Event,
        ) {
            let order_id = OrderId::new(order).expect("valid id");
            let envelope = Envelope {
                seq: self.seq,
                at_us,
                id: EventId {
                    order_id,
                    kind: event.kind(),
                },
                order_id,
                service,
                cause: cause.map(|kind| EventId { order_id, kind }),
                event,
            };
            self.seq += 1;
            report.event(&envelope).expect("report takes events");
        }
    }

    fn created() -> Event {
        Event::OrderCreated {
            product_id: ProductId::new(101).expect("valid"),
            quantity: Quantity::new(2).expect("valid"),
            customer_id: CustomerId::new(1).expect("valid"),
        }
    }

    fn rejected(available: Option<u64>) -> Event {
        Event::OrderRejected(Unavailable {
            product_id: ProductId::new(101).expect("valid"),
            requested: Quantity::new(2).expect("valid"),
            available,
        })
    }

    fn declined(reason: DeclineReason) -> Event {
        Event::PaymentDeclined(Declined {
            customer_id: CustomerId::new(1).expect("valid"),
            amount_cents: 100,
            credit_left_cents: Some(50),
            reason,
            attempts: 1,
        })
    }

    /// A rejected order: created, then rejected.
    fn reject(feed: &mut Feed, report: &mut Report, order: u64, at: u64, available: Option<u64>) {
        use ServiceName::*;
        feed.emit(report, order, at, OrderService, None, created());
        feed.emit(
            report,
            order,
            at + 1500,
            OrderService,
            Some(EventKind::OrderCreated),
            rejected(available),
        );
    }

    #[test]
    fn finished_orders_are_dropped_and_the_sample_stays_small() {
        let mut report = Report::new(&Config::default());
        let mut feed = Feed { seq: 0 };
        for order in 1..=10_000 {
            reject(&mut feed, &mut report, order, order * 10, Some(1));
        }
        assert!(report.in_flight.is_empty());
        assert_eq!(report.sample.len(), 1, "only the first of its kind");
        let tally = &report.outcomes[&Outcome::OutOfStock];
        assert_eq!(tally.count, 10_000);
        assert_eq!(tally.first.len(), FIRST_IDS);
        assert!(report.spare.len() <= SPARE_LISTS);
        assert_eq!(report.latency[State::Rejected as usize].count, 10_000);
    }

    #[test]
    fn every_failure_kind_is_sampled_once_and_the_sample_is_capped() {
        use ServiceName::*;
        let mut report = Report::new(&Config::default());
        let mut feed = Feed { seq: 0 };
        let mut order = 0;
        for round in 0..3 {
            let mut next = || {
                order += 1;
                order
            };
            let at = round * 100_000;
            reject(&mut feed, &mut report, next(), at, Some(0));
            reject(&mut feed, &mut report, next(), at, None);
            for reason in [
                DeclineReason::InsufficientCredit,
                DeclineReason::UnknownCustomer,
                DeclineReason::GatewayTimeout,
            ] {
                let id = next();
                feed.emit(&mut report, id, at, OrderService, None, created());
                feed.emit(
                    &mut report,
                    id,
                    at + 10,
                    PaymentService,
                    Some(EventKind::OrderCreated),
                    declined(reason),
                );
                feed.emit(
                    &mut report,
                    id,
                    at + 20,
                    OrderService,
                    Some(EventKind::PaymentDeclined),
                    Event::OrderCancelled {
                        reason: CancelReason::PaymentDeclined,
                    },
                );
            }
            for service in [InventoryService, PaymentService, ShippingService] {
                let id = next();
                feed.emit(&mut report, id, at, OrderService, None, created());
                feed.emit(
                    &mut report,
                    id,
                    at + 30,
                    service,
                    Some(EventKind::OrderCreated),
                    Event::DeadLettered {
                        gave_up_on: EventKind::OrderCreated,
                        crashes: 3,
                    },
                );
                feed.emit(
                    &mut report,
                    id,
                    at + 40,
                    OrderService,
                    Some(EventKind::DeadLettered),
                    Event::OrderCancelled {
                        reason: CancelReason::DeadLettered,
                    },
                );
            }
            for _ in 0..5 {
                let id = next();
                feed.emit(&mut report, id, at, OrderService, None, created());
                feed.emit(
                    &mut report,
                    id,
                    at + 50,
                    ShippingService,
                    Some(EventKind::OrderCreated),
                    Event::ShippingArranged {
                        product_id: ProductId::new(101).expect("valid"),
                        quantity: Quantity::new(2).expect("valid"),
                    },
                );
            }
        }
        let outcomes: Vec<Outcome> = report.sample.iter().map(|s| s.outcome).collect();
        assert_eq!(outcomes.len(), 8 + SAMPLE_COMPLETED, "{outcomes:?}");
        assert!(report.sample.len() <= SAMPLE_MAX);
        for outcome in [
            Outcome::OutOfStock,
            Outcome::UnknownProduct,
            Outcome::InsufficientCredit,
            Outcome::UnknownCustomer,
            Outcome::GatewayTimeout,
            Outcome::DeadLettered(InventoryService),
            Outcome::DeadLettered(PaymentService),
            Outcome::DeadLettered(ShippingService),
        ] {
            assert_eq!(outcomes.iter().filter(|o| **o == outcome).count(), 1);
            assert_eq!(report.outcomes[&outcome].count, 3);
        }

        let page = report.render(&Summary::default());
        assert!(page.contains("data-service=\"PaymentService\""));
        // PaymentService: 3 declines x 3 rounds + 3 dead letters = 12 of 18 cancellations.
        assert!(
            page.contains("<b>PaymentService</b> started the most cancellations: 12 of 18"),
            "{page}"
        );
    }

    #[test]
    fn unfinished_orders_are_shown_and_the_page_is_self_contained() {
        use ServiceName::*;
        let mut report = Report::new(&Config::default());
        let mut feed = Feed { seq: 0 };
        feed.emit(&mut report, 7, 0, OrderService, None, created());
        feed.emit(
            &mut report,
            7,
            3000,
            InventoryService,
            Some(EventKind::OrderCreated),
            Event::InventoryChecked {
                product_id: ProductId::new(101).expect("valid"),
                quantity: Quantity::new(2).expect("valid"),
                stock: 10,
            },
        );
        let summary = Summary {
            orders: 1,
            unfinished: 1,
            ..Summary::default()
        };
        let page = report.render(&summary);
        assert!(page.contains("id=\"run-failed\""));
        assert!(page.contains("id=\"order-7\" class=\"swimlane\" data-outcome=\"unfinished\""));
        assert!(page.contains("+3.00 ms"), "step duration shown");
        for needle in ["http:", "https:", "src=", "<script", "@import", "url(http"] {
            assert!(!page.contains(needle), "{needle}");
        }
        for href in page.split("href=\"").skip(1) {
            assert!(href.starts_with('#'), "only links within the page: {href}");
        }
        assert_eq!(page, report.render(&summary), "deterministic");
    }

    #[test]
    fn user_text_is_escaped() {
        assert_eq!(
            esc(r#"<b a="1">Tom & 'Jerry'</b>"#),
            "&lt;b a=&quot;1&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
        let mut config = Config::default();
        if let Some(product) = config.products.values_mut().next() {
            product.name = "<script>alert(1)</script>".into();
        }
        let report = Report::new(&config);
        let page = report.render(&Summary::new(&config));
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn the_log_histogram_reads_percentiles_within_a_bucket() {
        let mut h = LogHistogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 100);
        }
        for (q, exact) in [(0.5, 500_000.0), (0.9, 900_000.0), (0.99, 990_000.0)] {
            let got = h.quantile(q) as f64;
            assert!((got / exact - 1.0).abs() < 0.07, "q{q}: {got} vs {exact}");
        }
        assert_eq!(h.quantile(1.0), 1_000_000);
        assert_eq!(h.max, 1_000_000);
        assert_eq!(h.mean(), 500_050);
        let mut one = LogHistogram::default();
        one.record(1000);
        assert_eq!(one.quantile(0.5), 1000, "clamped to the exact value");
        one.record(0);
        one.record(u64::MAX);
        assert_eq!(
            one.bars().iter().sum::<u64>(),
            3,
            "nothing falls off the ends"
        );
    }

    #[test]
    fn the_timeline_widens_instead_of_growing() {
        let mut timeline = Timeline::default();
        timeline.record(0, State::Completed);
        timeline.record(FIRST_SLOT_US * TIME_SLOTS as u64 - 1, State::Rejected);
        assert_eq!(timeline.slot_us, FIRST_SLOT_US);
        timeline.record(FIRST_SLOT_US * TIME_SLOTS as u64, State::Cancelled);
        assert_eq!(timeline.slot_us, 2 * FIRST_SLOT_US);
        timeline.record(u64::MAX, State::Completed);
        assert_eq!(timeline.slots.len(), TIME_SLOTS);
        let total: u64 = timeline.slots.iter().flatten().sum();
        assert_eq!(total, 4, "nothing lost when slots merge");
        assert_eq!(timeline.slots[0][0] + timeline.slots[0][1], 2);
    }

    #[test]
    fn the_topology_comes_from_the_declarations() {
        let mut page = Page::default();
        topology_svg(&mut page, &[0; 12], &Summary::default());
        for service in ServiceName::ALL {
            assert!(page.0.contains(&format!("id=\"node-{service}\"")));
        }
        assert!(page
            .0
            .contains("<title>InventoryService \u{2192} PaymentService</title>"));
        assert!(page
            .0
            .contains("<title>ShippingService \u{2192} PaymentService</title>"));
        assert!(
            !page
                .0
                .contains("<title>ShippingService \u{2192} ShippingService</title>"),
            "a service hearing its own event is not an edge"
        );
    }

    #[test]
    fn durations_and_numbers_read_well() {
        assert_eq!(dur(0), "0 \u{b5}s");
        assert_eq!(dur(3_200), "3.20 ms");
        assert_eq!(dur(41_500), "41.5 ms");
        assert_eq!(dur(760_400), "760 ms");
        assert_eq!(dur(2_350_000), "2.35 s");
        assert_eq!(dur(252_000_000), "4 min 12 s");
        assert_eq!(dur(7_380_000_000), "2 h 3 min");
        assert_eq!(num(0), "0");
        assert_eq!(num(1_000), "1,000");
        assert_eq!(num(12_345_678), "12,345,678");
        assert_eq!(decade_label(0), "1 \u{b5}s");
        assert_eq!(decade_label(4), "10 ms");
        assert_eq!(decade_label(7), "10 s");
    }
}
