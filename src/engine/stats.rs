//! Run statistics: the summary, folded from the events in bus order: instances per outcome,
//! events, losses, restarts, dead letters, latency, and the choreography's own figures
//! ([`Stats`]). Printed on stderr for people (`view::summary`) and written as JSON by
//! `--summary FILE`.

use derive_where::derive_where;
use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::engine::choreography::Envelope;
use crate::engine::choreography::{Choreography, Outcome, Stats};
use crate::engine::coverage::Coverage;
use crate::input::InstanceId;

/// One instance, finished: the one definition of its outcome and its latency, which the
/// summary and the report share. (Times within an instance, in `trace` and the report's
/// steps, run from its start: [`Envelope::is_start`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    pub order_id: InstanceId,
    pub outcome: Outcome,
    /// When it arrived, in microseconds since the run started: its `at_ms`, or when the
    /// arrival process made it due. Admission may let it in later, when the bus has room.
    pub arrived_us: u64,
    /// When its terminal event was published.
    pub finished_us: u64,
}

impl Finished {
    /// From arrival to the terminal event: the wait for admission included, since a user
    /// waits through it too.
    pub fn latency_us(&self) -> u64 {
        self.finished_us.saturating_sub(self.arrived_us)
    }
}

/// What a run did, whether or not it succeeded.
#[derive(Serialize)]
#[serde(bound = "")]
#[derive_where(Clone, Debug)]
pub struct Summary<C: Choreography> {
    /// Orders read from the input.
    pub orders: u64,
    /// Orders whose terminal kind means [`Outcome::Completed`].
    pub completed: u64,
    /// Orders whose terminal kind means [`Outcome::Rejected`].
    pub rejected: u64,
    /// Orders whose terminal kind means [`Outcome::Cancelled`].
    pub cancelled: u64,
    /// Orders without a terminal event when the run ended (admitted or not).
    pub unfinished: u64,
    /// Events that some subscriber lost to lag.
    pub lost_events: u64,
    /// Events published on the bus.
    pub events: u64,
    /// Over NATS: messages on the stream's subject that were not events of this choreography,
    /// skipped (each reported with its stream sequence). 0 in-process.
    pub foreign_messages: u64,
    /// The choreography's own figures (the shop's revenue and stock).
    #[serde(flatten)]
    pub stats: C::Stats,
    /// Events a service gave up on after crashing on them again and again: how many, per
    /// service, and the first [`LISTED_DEAD_LETTERS`] of them with their orders (a bounded
    /// list, however long the run).
    pub dead_lettered: BTreeMap<C::Service, u64>,
    pub dead_letters: Vec<DeadLetter<C>>,
    /// Times each service was restarted after a crash.
    pub restarts: BTreeMap<C::Service, u64>,
    /// Events a restarted service published again (it crashed after publishing them, before
    /// recording what it had handled), dropped by the bus by their ids.
    pub republished: u64,
    /// From each order's arrival to its terminal event, per terminal state, in milliseconds
    /// (simulated with the virtual clock).
    pub latency_ms: Latencies,
    /// The run's time, in milliseconds since the start (simulated with the virtual clock): to
    /// its last event, or to where it was stopped if later; and orders finished per second of
    /// it.
    pub elapsed_ms: f64,
    pub orders_per_second: f64,
    /// JSON Lines input, every line accounted for: `lines` = orders read + `blank_lines` +
    /// `invalid_lines` + `unread_lines` (after a stop at an invalid line). 0 for documents.
    pub lines: u64,
    pub blank_lines: u64,
    pub invalid_lines: u64,
    pub unread_lines: u64,
    /// What the run exercised: handlings, endings, faults ([`Coverage`]).
    pub coverage: Coverage<C>,
    /// How to run it again, where the command line ran it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
    /// How the machine took it: the one part of the summary that differs between runs.
    pub machine: Machine,
}

/// The version of the schedule a seeded run follows: which of two simultaneous events comes
/// first, and so every seeded run's events. It goes up with a change that gives the same seed
/// and config another run, so a recorded run says which schedule it was made with.
/// Schedule 2 orders events as schedule 1 did: it came with the pin of seeded runs
/// (`tests/it/schedule.rs`), ahead of the structural speed-ups that will change the order (and
/// then the version) deliberately. Journals of schedule 1 still read (`replay`, `trace`,
/// `diagram` do not run anything again).
pub const SCHEDULE: u32 = 2;

/// What a run needs to be run again, besides its input: the same version, schedule, clock,
/// seed and config give the same run (on the virtual clock, byte for byte). The summary
/// carries it, and a journal's first line.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Repeat {
    /// The version of choreo that ran it.
    pub version: String,
    /// The schedule's version ([`SCHEDULE`]).
    pub schedule: u32,
    /// `virtual` or `real`.
    pub clock: String,
    pub seed: u64,
    /// The effective config, every key (`--seed` included): as TOML, it is what `choreo
    /// config` prints, and given back with `--config` makes the same config.
    pub config: serde_json::Value,
}

/// Wall time and memory of the run, measured by the process itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// Wall-clock milliseconds from the first order admitted to the last service stopped.
    pub wall_ms: u64,
    /// Peak resident memory of the whole process, in KiB (Linux `VmHWM`); `null` elsewhere.
    pub peak_rss_kib: Option<u64>,
}

impl Machine {
    /// Measures now, for a run that started at `started`.
    pub fn measure(started: std::time::Instant) -> Self {
        Machine {
            wall_ms: started.elapsed().as_millis() as u64,
            peak_rss_kib: peak_rss_kib(),
        }
    }
}

/// The process's peak resident set, from `/proc/self/status` where there is one.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How many dead letters the summary lists one by one.
pub const LISTED_DEAD_LETTERS: usize = 100;

/// An event given up on.
#[derive(Serialize)]
#[serde(bound = "")]
#[derive_where(Clone, Debug)]
pub struct DeadLetter<C: Choreography> {
    pub order_id: InstanceId,
    pub service: C::Service,
    pub event: C::Kind,
    pub crashes: u32,
}

/// Latency histograms per terminal state, serialized as their percentiles.
#[derive(Debug, Clone)]
pub struct Latencies {
    /// By [`Outcome::index`].
    by_outcome: [Histogram<u64>; 3],
    /// The exact largest of each, in microseconds: the histogram keeps 3 significant digits.
    max_us: [u64; 3],
}

impl Default for Latencies {
    fn default() -> Self {
        // Microseconds up to about 140 years of simulated time (past Tokio's clock), 3
        // significant digits: no latency the simulator can reach saturates.
        let histogram = || Histogram::new_with_bounds(1, 1 << 52, 3).expect("valid bounds");
        Latencies {
            by_outcome: [histogram(), histogram(), histogram()],
            max_us: [0; 3],
        }
    }
}

impl Latencies {
    fn record(&mut self, outcome: Outcome, micros: u64) {
        self.by_outcome[outcome.index()].saturating_record(micros);
        let max = &mut self.max_us[outcome.index()];
        *max = (*max).max(micros);
    }

    fn stats(histogram: &Histogram<u64>, max_us: u64) -> LatencyStats {
        // Percentiles to the 3 significant digits the histogram holds, so a 1000 ms latency
        // reads 1000, not the top of its bucket (1000.447); the maximum exactly. A bucket's
        // middle can lie above the largest value recorded in it: a percentile is never shown
        // above the maximum.
        let max = max_us as f64 / 1000.0;
        let ms = |micros: u64| {
            if histogram.is_empty() {
                0.0
            } else {
                significant(micros as f64 / 1000.0, 3).min(max)
            }
        };
        LatencyStats {
            count: histogram.len(),
            p50: ms(histogram.median_equivalent(histogram.value_at_quantile(0.50))),
            p90: ms(histogram.median_equivalent(histogram.value_at_quantile(0.90))),
            p99: ms(histogram.median_equivalent(histogram.value_at_quantile(0.99))),
            max,
        }
    }

    /// Per terminal state: `completed`, `rejected`, `cancelled`.
    pub fn by_state(&self) -> [(&'static str, LatencyStats); 3] {
        Outcome::ALL.map(|outcome| {
            (
                outcome.name(),
                Self::stats(
                    &self.by_outcome[outcome.index()],
                    self.max_us[outcome.index()],
                ),
            )
        })
    }
}

impl Serialize for Latencies {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(3))?;
        for (state, stats) in self.by_state() {
            map.serialize_entry(state, &stats)?;
        }
        map.end()
    }
}

/// `x` rounded to `digits` significant digits.
pub(crate) fn significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// Percentiles of one terminal state's latencies, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyStats {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl<C: Choreography> Summary<C> {
    /// An empty summary for a run of the choreography's `config`.
    pub fn new(config: &C::Config) -> Self {
        Summary {
            orders: 0,
            completed: 0,
            rejected: 0,
            cancelled: 0,
            unfinished: 0,
            lost_events: 0,
            events: 0,
            foreign_messages: 0,
            stats: C::Stats::new(config),
            dead_lettered: BTreeMap::new(),
            dead_letters: Vec::new(),
            republished: 0,
            restarts: BTreeMap::new(),
            latency_ms: Latencies::default(),
            elapsed_ms: 0.0,
            orders_per_second: 0.0,
            lines: 0,
            blank_lines: 0,
            invalid_lines: 0,
            unread_lines: 0,
            coverage: Coverage::new(config),
            repeat: None,
            machine: Machine::default(),
        }
    }

    /// Takes one event into account; events must come in bus order.
    pub fn record(&mut self, envelope: &Envelope<C>) {
        match envelope.outcome() {
            Some(Outcome::Completed) => self.completed += 1,
            Some(Outcome::Rejected) => self.rejected += 1,
            Some(Outcome::Cancelled) => self.cancelled += 1,
            None => {}
        }
        if let Some((gave_up_on, crashes)) = C::as_dead_letter(&envelope.event) {
            *self.dead_lettered.entry(envelope.service).or_default() += 1;
            if self.dead_letters.len() < LISTED_DEAD_LETTERS {
                self.dead_letters.push(DeadLetter {
                    order_id: envelope.order_id,
                    service: envelope.service,
                    event: gave_up_on,
                    crashes,
                });
            }
        }
        self.stats.record(envelope);
        self.coverage.record(envelope);
        self.elapsed_ms = envelope.at_us as f64 / 1000.0;
    }

    /// Takes a finished instance's latency into account.
    pub fn record_finished(&mut self, finished: &Finished) {
        self.latency_ms
            .record(finished.outcome, finished.latency_us());
    }

    /// The run went on until `at_us` (its end, or where it was stopped): the run time is at
    /// least that, even when no event came so late (a run stopped at its time limit).
    pub fn ran_until(&mut self, at_us: u64) {
        self.elapsed_ms = self.elapsed_ms.max(at_us as f64 / 1000.0);
    }

    /// Orders finished per second of run time (simulated with the virtual clock).
    pub fn throughput(&self) -> f64 {
        if self.elapsed_ms > 0.0 {
            self.finished() as f64 / (self.elapsed_ms / 1000.0)
        } else {
            0.0
        }
    }

    /// Orders that reached a terminal event.
    pub fn finished(&self) -> u64 {
        self.completed + self.rejected + self.cancelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The latencies behind `choreo run orders/swarm.jsonl --config
    /// config/scenarios/slow-payment-gateway.toml`: the 99th percentile's bucket middle lay
    /// above the largest value recorded.
    #[test]
    fn no_percentile_is_above_the_maximum() {
        let mut latencies = Latencies::default();
        for micros in [159_000_000, 303_000_000, 330_741_000] {
            latencies.record(Outcome::Cancelled, micros);
        }
        let [_, _, (_, cancelled)] = latencies.by_state();
        assert_eq!(cancelled.max, 330_741.0);
        for percentile in [cancelled.p50, cancelled.p90, cancelled.p99] {
            assert!(percentile <= cancelled.max, "{cancelled:?}");
        }
    }

    /// Latencies print with the precision the histogram has: a 1000 ms latency is 1000.
    #[test]
    fn latencies_keep_the_precision_they_have() {
        let mut latencies = Latencies::default();
        for _ in 0..10 {
            latencies.record(Outcome::Completed, 1_000_000);
        }
        latencies.record(Outcome::Rejected, 12_345);
        let [(_, completed), (_, rejected), _] = latencies.by_state();
        assert_eq!(
            (completed.p50, completed.p99, completed.max),
            (1000.0, 1000.0, 1000.0)
        );
        assert_eq!((rejected.p50, rejected.max), (12.3, 12.345));
        assert_eq!(significant(0.0004567, 3), 0.000457);
    }
}
