//! The HTML run report: one self-contained page (inline SVG and CSS, no network) with the
//! summary, the topology, latency histograms, orders completed over time, and swimlane
//! timelines for a sample of orders including every failure kind that occurred.
//!
//! The page is meant to let a newcomer answer, from choreo's own output: which orders failed
//! and why, how long each step took, which service caused the most cancellations, and how the
//! services are wired.
//!
//! It works for any [`Choreography`]: services and kinds come from [`Name::ALL`], how a kind
//! is drawn from [`Choreography::role`] and [`Choreography::outcome`], why an instance failed
//! from [`Choreography::cause`], the wiring from the services' own declarations
//! ([`declarations`](crate::view::diagram::declarations)), and the choreography's own figures
//! from its [`Stats`](crate::engine::Stats) as they serialize.
//!
//! - `collect`: what the report counts, in bounded memory.
//! - `page`: the page and its sections; `html`: the formatting they share.
//! - `svg`: the charts.
//!
//! # Bounded memory
//! A run can have ten million orders, so [`Report`] keeps nothing per order once the order is
//! finished, except for the few it samples:
//! - the events of each order **in flight** (at most [`Choreography::MAX_EVENTS`] each, and
//!   admission bounds the orders in flight), dropped at its terminal event;
//! - a **sample** of at most [`SAMPLE_MAX`] orders for the swimlanes: the first
//!   two completed ones and the first order of each distinct way of failing;
//! - per way of ending, a count and the first [`FIRST_IDS`] order ids;
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
use crate::engine::sink::EventSink;
use crate::engine::stats::{Finished, Summary};
use crate::engine::{Choreography, Name, Outcome, Role};
use crate::engine::{Envelope, Kinds};
use crate::input::InstanceId;

/// Writes to a [`html::Page`]. Writing to a `String` cannot fail, so the `fmt::Result` is
/// dropped.
macro_rules! w {
    ($page:expr, $($arg:tt)*) => {
        $page.push(format_args!($($arg)*))
    };
}

/// As [`w!`], for the page's own words about instances: see [`html::Page::words`].
macro_rules! say {
    ($page:expr, $($arg:tt)*) => {
        $page.words(&format!($($arg)*))
    };
}

mod collect;
mod html;
mod page;
mod svg;

use collect::{Ending, LogHistogram, Sampled, Step, Tally, Timeline};

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
pub struct Report<C: Choreography> {
    seed: u64,
    /// The events of each order in flight, in bus order.
    in_flight: FxHashMap<InstanceId, Vec<Envelope<C>>>,
    spare: Vec<Vec<Envelope<C>>>,
    /// Orders drawn as swimlanes, in the order they finished.
    sample: Vec<Sampled<C>>,
    completed_sampled: usize,
    /// Per way of ending, by its outcome's [`Outcome::index`] and its slug.
    outcomes: BTreeMap<(usize, String), Tally<C::Service, C::Kind>>,
    /// From the order's first event to the terminal event, per [`Outcome::index`].
    latency: [LogHistogram; Outcome::ALL.len()],
    /// From an event's cause to the event, per (cause, event) kind.
    steps: BTreeMap<CauseAndEffect<C::Kind>, Step<C::Service>>,
    timeline: Timeline,
    /// Events published, per service and kind: at `service.index() * kinds + kind.index()`
    /// (see [`published_at`]), so an edge carries its own publisher's count.
    published: Vec<u64>,
    /// The kinds of the orders' first events (the ones without a cause), and the services
    /// that published them: where orders enter.
    starts: Kinds<C::Kind>,
    entries: Kinds<C::Service>,
    events: u64,
    last_at_us: u64,
}

/// A kind of step: the kind of an event's cause, and its own.
type CauseAndEffect<K> = (K, K);

impl<C: Choreography> fmt::Debug for Report<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("seed", &self.seed)
            .field("in_flight", &self.in_flight.len())
            .field("sampled", &self.sample.len())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl<C: Choreography> Report<C> {
    /// An empty report for a run of `config` (only its seed is shown); feed it every event in
    /// bus order as an [`EventSink`], then [`write`](Report::write) it.
    pub fn new(config: &Config<C>) -> Self {
        Report {
            seed: config.simulation.seed,
            in_flight: FxHashMap::default(),
            spare: Vec::new(),
            sample: Vec::new(),
            completed_sampled: 0,
            outcomes: BTreeMap::new(),
            latency: std::array::from_fn(|_| LogHistogram::default()),
            steps: BTreeMap::new(),
            timeline: Timeline::default(),
            published: vec![0; C::Service::ALL.len() * C::Kind::ALL.len()],
            starts: Kinds::empty(),
            entries: Kinds::empty(),
            events: 0,
            last_at_us: 0,
        }
    }

    /// Writes the page for a run that ended with `summary`, successfully or not (a failed run's
    /// orders still in flight are shown as unfinished).
    pub fn write(&self, summary: &Summary<C>, path: &Path) -> io::Result<()> {
        std::fs::write(path, self.render(summary))
    }

    /// The page, as text.
    pub fn render(&self, summary: &Summary<C>) -> String {
        let declarations = crate::view::diagram::declarations::<C>();
        let mut page = html::Page::new(<C::Input as crate::input::Record>::noun());
        let unfinished = self.unfinished();
        page.head(self, summary);
        self.summary_section(&mut page, summary);
        self.failures_section(&mut page, &unfinished);
        self.topology_section(&mut page, summary, &declarations);
        self.coverage_section(&mut page, summary);
        self.latency_section(&mut page);
        self.steps_section(&mut page);
        self.timeline_section(&mut page, summary);
        self.swimlanes_section(&mut page, &unfinished);
        page.foot(summary);
        page.into_string()
    }

    /// The orders in flight, by id, with their events.
    fn unfinished(&self) -> Vec<(InstanceId, &[Envelope<C>])> {
        let mut orders: Vec<_> = self
            .in_flight
            .iter()
            .map(|(id, events)| (*id, events.as_slice()))
            .collect();
        orders.sort_unstable_by_key(|(id, _)| *id);
        orders
    }

    /// Takes a finished order's events into account and keeps them if it joins the sample.
    fn finish(&mut self, terminal: &Envelope<C>, outcome: Outcome, events: Vec<Envelope<C>>) {
        let ending = Ending::of(outcome, &events);
        self.timeline.record(terminal.at_us, outcome);
        let key = (outcome.index(), ending.slug().to_owned());
        let tally = self.outcomes.entry(key).or_insert_with(|| Tally {
            ending: ending.clone(),
            count: 0,
            first: Vec::new(),
        });
        tally.count += 1;
        if tally.first.len() < FIRST_IDS {
            // Shown at the end of the run, however long: its text is kept until then.
            terminal.order_id.hold();
            tally.first.push(terminal.order_id);
        }
        // Failures come first: a choreography has a handful of ways to fail, so with the
        // completed ones the sample stays within SAMPLE_MAX and every way that occurred is in
        // it (as long as there are fewer than SAMPLE_MAX - SAMPLE_COMPLETED of them).
        let completed = outcome == Outcome::Completed;
        let keep = self.sample.len() < SAMPLE_MAX
            && if completed {
                self.completed_sampled < SAMPLE_COMPLETED
            } else {
                tally.count == 1
            };
        if keep {
            if completed {
                self.completed_sampled += 1;
            }
            terminal.order_id.hold();
            self.sample.push(Sampled { ending, events });
        } else if self.spare.len() < SPARE_LISTS {
            let mut events = events;
            events.clear();
            self.spare.push(events);
        }
    }
}

/// Where [`Report::published`] counts `kind` published by `service`.
fn published_at<C: Choreography>(service: C::Service, kind: C::Kind) -> usize {
    service.index() * C::Kind::ALL.len() + kind.index()
}

impl<C: Choreography> EventSink<C> for Report<C> {
    fn event(&mut self, envelope: &Envelope<C>) -> io::Result<()> {
        let kind = envelope.kind();
        self.events += 1;
        if let Some(published) = self
            .published
            .get_mut(published_at::<C>(envelope.service, kind))
        {
            *published += 1;
        }
        if envelope.cause.is_none() {
            self.starts.insert(kind);
            self.entries.insert(envelope.service);
        }
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
                    .record(envelope.step_us(cause));
            }
        }
        events.push(envelope.clone());
        if let Some(outcome) = envelope.outcome() {
            if let Some(events) = self.in_flight.remove(&envelope.order_id) {
                self.finish(envelope, outcome, events);
            }
        }
        Ok(())
    }

    /// Latency as the summary counts it: one definition for both.
    fn finished(&mut self, instance: &Finished) {
        self.latency[instance.outcome.index()].record(instance.latency_us());
    }
}

// ---------------------------------------------------------------------------------------------
// How things are drawn

/// A name's place in its [`Name::ALL`]: the order views list them in.
fn position<N: Name>(name: N) -> usize {
    N::ALL
        .iter()
        .position(|n| *n == name)
        .unwrap_or(N::ALL.len())
}

/// What part an event plays in the flow, which decides its colour: the choreography's
/// [`Role`], with the closing kinds drawn as the failures they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Drawn {
    Forward,
    Compensation,
    Failure,
}

impl Drawn {
    const ALL: [Drawn; 3] = [Drawn::Forward, Drawn::Compensation, Drawn::Failure];

    fn of<C: Choreography>(kind: C::Kind) -> Drawn {
        match C::role(kind) {
            Role::Forward => Drawn::Forward,
            Role::Compensation => Drawn::Compensation,
            Role::Failure | Role::Closing => Drawn::Failure,
        }
    }

    fn ink(self) -> &'static str {
        match self {
            Drawn::Forward => "#22784a",
            Drawn::Compensation => "#a86400",
            Drawn::Failure => "#b8382b",
        }
    }

    fn fill(self) -> &'static str {
        match self {
            Drawn::Forward => "#e3f4e8",
            Drawn::Compensation => "#fcefd9",
            Drawn::Failure => "#fbe3e0",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Drawn::Forward => "fwd",
            Drawn::Compensation => "comp",
            Drawn::Failure => "fail",
        }
    }
}

/// Service colours, by [`Name::index`]; a choreography with more services goes round again.
const SERVICE_COLORS: [&str; 8] = [
    "#3e6fb0", "#d9822b", "#3a9a5b", "#8e5ea2", "#c4516c", "#2b8f99", "#8a7a2e", "#5f6b7d",
];

fn service_color<S: Name>(service: S) -> &'static str {
    SERVICE_COLORS[service.index() % SERVICE_COLORS.len()]
}

fn outcome_color(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Completed => "#2f9e57",
        Outcome::Rejected => "#d99a1e",
        Outcome::Cancelled => "#cf4a3c",
    }
}

impl<S: Name, K: Name> Ending<S, K> {
    fn color(&self) -> &'static str {
        self.outcome.map_or("#7a8294", outcome_color)
    }
}

/// The kinds that end an instance with `outcome`, in [`Name::ALL`] order.
fn terminal_kinds<C: Choreography>(outcome: Outcome) -> impl Iterator<Item = C::Kind> {
    C::Kind::ALL
        .iter()
        .copied()
        .filter(move |kind| C::outcome(*kind) == Some(outcome))
}

/// Names joined for a sentence: `A`, `A and B`, `A, B and C`.
fn and_list<T: fmt::Display>(items: impl IntoIterator<Item = T>, last: &str) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    match items.split_last() {
        None => String::new(),
        Some((only, [])) => only.clone(),
        Some((tail, rest)) => format!("{} {last} {tail}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::html::{dur, esc, num, Page};
    use super::svg::{decade_label, topology_svg};
    use super::*;
    use crate::engine::EventId;
    use crate::shop::{
        CancelReason, CustomerId, DeclineReason, Declined, Event, EventKind, OrderId, ProductId,
        Quantity, ServiceName, Shop, Unavailable,
    };

    type Envelope = crate::engine::Envelope<Shop>;

    fn config() -> Config<Shop> {
        Config::default()
    }

    fn summary(config: &Config<Shop>) -> Summary<Shop> {
        Summary::new(&config.choreography)
    }

    impl<C: Choreography> Report<C> {
        fn tally(&self, slug: &str) -> &Tally<C::Service, C::Kind> {
            self.outcomes
                .iter()
                .find(|((_, s), _)| s == slug)
                .map(|(_, tally)| tally)
                .unwrap_or_else(|| panic!("no orders ended {slug}"))
        }
    }

    #[derive(Default)]
    struct Feed {
        seq: u64,
        arrived: std::collections::HashMap<OrderId, u64>,
    }

    impl Feed {
        fn emit(
            &mut self,
            report: &mut Report<Shop>,
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
            // As the engine does: the finished instance right after its terminal event,
            // arrived when its first event was published.
            if envelope.cause.is_none() {
                self.arrived.insert(order_id, at_us);
            }
            if let Some(outcome) = envelope.outcome() {
                report.finished(&Finished {
                    order_id,
                    outcome,
                    arrived_us: self.arrived.remove(&order_id).unwrap_or(at_us),
                    finished_us: at_us,
                });
            }
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
    fn reject(
        feed: &mut Feed,
        report: &mut Report<Shop>,
        order: u64,
        at: u64,
        available: Option<u64>,
    ) {
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
        let mut report = Report::new(&config());
        let mut feed = Feed::default();
        for order in 1..=10_000 {
            reject(&mut feed, &mut report, order, order * 10, Some(1));
        }
        assert!(report.in_flight.is_empty());
        assert_eq!(report.sample.len(), 1, "only the first of its kind");
        let tally = report.tally("out-of-stock");
        assert_eq!(tally.count, 10_000);
        assert_eq!(tally.first.len(), FIRST_IDS);
        assert_eq!(tally.ending.outcome, Some(Outcome::Rejected));
        assert!(report.spare.len() <= SPARE_LISTS);
        assert_eq!(report.latency[Outcome::Rejected.index()].count, 10_000);
    }

    #[test]
    fn every_failure_kind_is_sampled_once_and_the_sample_is_capped() {
        use ServiceName::*;
        let config = config();
        let mut report = Report::new(&config);
        let mut feed = Feed::default();
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
        let slugs: Vec<&str> = report.sample.iter().map(|s| s.ending.slug()).collect();
        assert_eq!(slugs.len(), 8 + SAMPLE_COMPLETED, "{slugs:?}");
        assert!(report.sample.len() <= SAMPLE_MAX);
        for slug in [
            "out-of-stock",
            "unknown-product",
            "insufficient-credit",
            "unknown-customer",
            "gateway-timeout",
            "dead-lettered-InventoryService",
            "dead-lettered-PaymentService",
            "dead-lettered-ShippingService",
        ] {
            assert_eq!(slugs.iter().filter(|s| **s == slug).count(), 1, "{slug}");
            assert_eq!(report.tally(slug).count, 3, "{slug}");
        }
        assert_eq!(
            report
                .tally("dead-lettered-PaymentService")
                .ending
                .started_by(),
            Some(PaymentService)
        );

        let page = report.render(&summary(&config));
        assert!(page.contains("data-service=\"PaymentService\""));
        // PaymentService: 3 declines x 3 rounds + 3 dead letters = 12 of 18 cancellations.
        assert!(
            page.contains("<b>PaymentService</b> started the most cancellations: 12 of 18"),
            "{page}"
        );
        assert!(
            page.contains(
                "PaymentDeclined counts for PaymentService, DeadLettered for the service that \
                 gave up. (Rejections are InventoryService's refusals;"
            ),
            "{page}"
        );
        assert!(page.contains(
            "<tr data-outcome=\"out-of-stock\"><td><span class=\"dot\" style=\"background:#d99a1e\">\
             </span>rejected: not enough stock</td>"
        ));
    }

    #[test]
    fn unfinished_orders_are_shown_and_the_page_is_self_contained() {
        use ServiceName::*;
        let config = config();
        let mut report = Report::new(&config);
        let mut feed = Feed::default();
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
        let mut summary = summary(&config);
        summary.orders = 1;
        summary.unfinished = 1;
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
        let mut config = config();
        if let Some(product) = config.choreography.products.values_mut().next() {
            product.name = "<script>alert(1)</script>".into();
        }
        let report = Report::new(&config);
        let page = report.render(&summary(&config));
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("<table id=\"summary-stock\">"), "{page}");
        assert!(page.contains("id=\"summary-revenue\" data-value=\"0\"><b>$0.00</b>"));
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
        timeline.record(0, Outcome::Completed);
        timeline.record(FIRST_SLOT_US * TIME_SLOTS as u64 - 1, Outcome::Rejected);
        assert_eq!(timeline.slot_us, FIRST_SLOT_US);
        timeline.record(FIRST_SLOT_US * TIME_SLOTS as u64, Outcome::Cancelled);
        assert_eq!(timeline.slot_us, 2 * FIRST_SLOT_US);
        timeline.record(u64::MAX, Outcome::Completed);
        assert_eq!(timeline.slots.len(), TIME_SLOTS);
        let total: u64 = timeline.slots.iter().flatten().sum();
        assert_eq!(total, 4, "nothing lost when slots merge");
        assert_eq!(timeline.slots[0][0] + timeline.slots[0][1], 2);
    }

    /// A kind several services publish carries, on each service's edge, that service's own
    /// count, not the run's total.
    #[test]
    fn each_edge_counts_what_its_own_publisher_published() {
        use ServiceName::*;
        let config = config();
        let mut report = Report::new(&config);
        let mut feed = Feed::default();
        let gave_up = |on| Event::DeadLettered {
            gave_up_on: on,
            crashes: 3,
        };
        for order in 1..=3 {
            feed.emit(&mut report, order, 0, OrderService, None, created());
            let service = if order == 3 {
                PaymentService
            } else {
                InventoryService
            };
            feed.emit(
                &mut report,
                order,
                10,
                service,
                Some(EventKind::OrderCreated),
                gave_up(EventKind::OrderCreated),
            );
        }
        let page = report.render(&summary(&config));
        let label = |n: u64| format!("DeadLettered <tspan class=\"small\">{n}</tspan>");
        assert!(page.contains(&label(2)), "InventoryService's two");
        assert!(page.contains(&label(1)), "PaymentService's one");
        assert!(!page.contains(&label(3)), "never the total");
    }

    /// Revenue past 64 bits is still shown in dollars.
    #[test]
    fn revenue_past_64_bits_is_shown_in_dollars() {
        let config = config();
        let report = Report::new(&config);
        let mut summary = summary(&config);
        summary.stats.revenue_cents = 20_000_000_000_000_000_000;
        let page = report.render(&summary);
        assert!(page.contains("$200000000000000000.00"), "in dollars");
    }

    #[test]
    fn the_topology_comes_from_the_declarations() {
        let config = config();
        let mut page = Page::default();
        let declarations = crate::view::diagram::declarations::<Shop>();
        let published = vec![0; ServiceName::ALL.len() * EventKind::ALL.len()];
        topology_svg(&mut page, &declarations, &published, &summary(&config), 0);
        let page = page.into_string();
        for service in ServiceName::ALL {
            assert!(page.contains(&format!("id=\"node-{service}\"")));
        }
        assert!(page.contains("<title>InventoryService \u{2192} PaymentService</title>"));
        assert!(page.contains("<title>ShippingService \u{2192} PaymentService</title>"));
        assert!(
            !page.contains("<title>ShippingService \u{2192} ShippingService</title>"),
            "a service hearing its own event is not an edge"
        );
        // The last service's box fits the drawing whole (it used to end 2 px past it).
        let number_after = |text: &str, from: &str| -> f64 {
            let start = text.find(from).expect(from) + from.len();
            let digits: String = text[start..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            digits.parse().expect("a number")
        };
        let width = number_after(&page, "viewBox=\"0 0 ");
        let last = &page[page.find("id=\"node-ShippingService\"").expect("last node")..];
        let right = number_after(last, "x=\"") + number_after(last, "width=\"");
        assert!(right < width, "the last box ends at {right}, in {width}");
        assert!(width <= 1180.0, "four services fit the page: {width}");
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
        assert_eq!(and_list(["A"], "and"), "A");
        assert_eq!(and_list(["A", "B", "C"], "and"), "A, B and C");
    }
}
