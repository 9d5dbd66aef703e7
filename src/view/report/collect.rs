//! What the report counts: how each instance ended and why, latency and step histograms in
//! log-scale buckets, instances finished over time. All of it in bounded memory.

use crate::engine::Envelope;
use crate::engine::{Cause, Choreography, Name, Outcome};
use crate::input::InstanceId;

use super::{position, FIRST_SLOT_US, TIME_SLOTS};

/// How an instance ended, precisely enough to say why: its outcome, and the cause the
/// choreography gives for the first of its events that has one ([`Choreography::cause`]).
/// Each distinct cause is its own way of ending, with its own row and swimlane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ending<S, K> {
    /// `None`: in flight when the run ended.
    pub outcome: Option<Outcome>,
    pub cause: Option<Cause<S>>,
    /// The kind of the event that gave the cause, and whether it was a dead letter.
    pub by: Option<(K, bool)>,
}

/// A choreography's [`Ending`].
pub(super) type EndingOf<C> = Ending<<C as Choreography>::Service, <C as Choreography>::Kind>;

impl<S: Name, K: Name> Ending<S, K> {
    /// Reads a finished instance's events: the first event the choreography gives a cause for
    /// decides; without one, the outcome itself.
    pub fn of<C: Choreography<Service = S, Kind = K>>(
        outcome: Outcome,
        events: &[Envelope<C>],
    ) -> Self {
        let found = events
            .iter()
            .find_map(|envelope| C::cause(envelope).map(|cause| (envelope, cause)));
        match found {
            Some((envelope, cause)) => Ending {
                outcome: Some(outcome),
                cause: Some(cause),
                by: Some((
                    envelope.kind(),
                    C::as_dead_letter(&envelope.event).is_some(),
                )),
            },
            None => Ending {
                outcome: Some(outcome),
                cause: None,
                by: None,
            },
        }
    }

    /// An instance still in flight when the run ended.
    pub fn unfinished() -> Self {
        Ending {
            outcome: None,
            cause: None,
            by: None,
        }
    }

    /// A stable name for element ids and `data-outcome`.
    pub fn slug(&self) -> &str {
        match (&self.cause, self.outcome) {
            (Some(cause), _) => &cause.slug,
            (None, Some(outcome)) => outcome.name(),
            (None, None) => "unfinished",
        }
    }

    /// What happened, for people: the outcome, and why.
    pub fn label(&self) -> String {
        match self.outcome {
            Some(outcome) => match &self.cause {
                Some(cause) => format!("{outcome}: {}", cause.label),
                None => outcome.name().to_string(),
            },
            None => "unfinished: in flight when the run ended".into(),
        }
    }

    /// Why, without the outcome: the cause's words, or the outcome's when there is no cause.
    pub fn reason(&self) -> String {
        match &self.cause {
            Some(cause) => cause.label.clone(),
            None => self.label(),
        }
    }

    /// The service whose failure started the instance's end: the one to look at first.
    pub fn started_by(&self) -> Option<S> {
        self.cause.as_ref().and_then(|cause| cause.started_by)
    }

    /// Where the way of ending is listed: by outcome (unfinished last), then where the event
    /// that gave the cause sits in the flow, then by the service it started with, then by
    /// name, so that the order is the same for every run.
    pub fn rank(&self) -> (usize, usize, usize, &str) {
        (
            self.outcome.map_or(Outcome::ALL.len(), Outcome::index),
            self.by.map_or(0, |(kind, _)| position(kind)),
            self.started_by().map_or(0, |service| position(service) + 1),
            self.slug(),
        )
    }
}

/// One sampled instance, all its events.
pub(super) struct Sampled<C: Choreography> {
    pub ending: EndingOf<C>,
    pub events: Vec<Envelope<C>>,
}

/// How many instances ended one way, and the first few.
#[derive(Debug)]
pub(super) struct Tally<S, K> {
    pub ending: Ending<S, K>,
    pub count: u64,
    pub first: Vec<InstanceId>,
}

/// The durations of one kind of step: a service publishing `effect` in reaction to `cause`.
#[derive(Debug)]
pub(super) struct Step<S> {
    pub service: S,
    pub durations: LogHistogram,
}

/// A histogram of microseconds in log-scale buckets: [`PER_DECADE`] per power of ten, from
/// 1 µs to 10^[`DECADES`] µs (11.6 days), a fixed 2 KiB whatever the count. Percentiles read
/// from it are within 6% (half a bucket) of the exact ones, and clamped to the exact min/max.
#[derive(Debug, Clone)]
pub(super) struct LogHistogram {
    /// Bucket 0 holds 0 µs; bucket `i >= 1` holds `[10^((i-1)/PER_DECADE), 10^(i/PER_DECADE))`.
    counts: Vec<u64>,
    pub count: u64,
    sum: u128,
    min: u64,
    pub max: u64,
}

const PER_DECADE: usize = 20;
pub(super) const DECADES: usize = 12;
const FINE_BUCKETS: usize = PER_DECADE * DECADES + 1;
/// The charts merge this many fine buckets into one bar: 5 bars per power of ten.
const BAR_GROUP: usize = 4;
pub(super) const BARS_PER_DECADE: usize = PER_DECADE / BAR_GROUP;

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

    pub fn record(&mut self, micros: u64) {
        self.counts[Self::bucket(micros)] += 1;
        self.count += 1;
        self.sum += u128::from(micros);
        self.min = self.min.min(micros);
        self.max = self.max.max(micros);
    }

    /// The value at quantile `q` (0..=1), in microseconds; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
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

    pub fn mean(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            (self.sum / u128::from(self.count)) as u64
        }
    }

    /// Counts per chart bar: bar `b` holds `[10^(b/5), 10^((b+1)/5))` µs (bar 0 also 0 µs).
    pub fn bars(&self) -> Vec<u64> {
        let mut bars = vec![0; DECADES * BARS_PER_DECADE];
        for (i, n) in self.counts.iter().enumerate() {
            bars[i.saturating_sub(1) / BAR_GROUP] += n;
        }
        bars
    }
}

/// Instances finished over time, per outcome, in [`TIME_SLOTS`] slots. When an event falls
/// past the last slot, the slot width doubles and neighbouring slots merge: the memory stays
/// the same however long the run, and the chart always spans between half and all of its
/// slots.
#[derive(Debug, Clone)]
pub(super) struct Timeline {
    pub slot_us: u64,
    /// Per slot, per [`Outcome::index`].
    pub slots: Vec<[u64; Outcome::ALL.len()]>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            slot_us: FIRST_SLOT_US,
            slots: vec![[0; Outcome::ALL.len()]; TIME_SLOTS],
        }
    }
}

impl Timeline {
    pub fn record(&mut self, at_us: u64, outcome: Outcome) {
        while at_us / self.slot_us >= TIME_SLOTS as u64 {
            self.widen();
        }
        self.slots[(at_us / self.slot_us) as usize][outcome.index()] += 1;
    }

    fn widen(&mut self) {
        for i in 0..TIME_SLOTS {
            let merged = if 2 * i + 1 < TIME_SLOTS {
                let (a, b) = (self.slots[2 * i], self.slots[2 * i + 1]);
                std::array::from_fn(|k| a[k] + b[k])
            } else {
                [0; Outcome::ALL.len()]
            };
            self.slots[i] = merged;
        }
        self.slot_us = self.slot_us.saturating_mul(2);
    }
}
