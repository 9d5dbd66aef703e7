//! The run's summary, folded from its events in bus order: orders per terminal state,
//! revenue, stock. Printed on stderr for people and written as JSON by `--summary FILE`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::config::Config;
use hdrhistogram::Histogram;

use crate::event::{Envelope, Event, EventKind, ServiceName};
use crate::order::{OrderId, ProductId};
use crate::service::Money;

/// What a run did, whether or not it succeeded.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Orders read from the input.
    pub orders: u64,
    /// Orders that reached ShippingArranged.
    pub completed: u64,
    /// Orders that reached OrderRejected.
    pub rejected: u64,
    /// Orders that reached OrderCancelled.
    pub cancelled: u64,
    /// Orders without a terminal event when the run ended (admitted or not).
    pub unfinished: u64,
    /// Events that some subscriber lost to lag.
    pub lost_events: u64,
    /// Events published on the bus.
    pub events: u64,
    /// Charged minus refunded, in cents.
    pub revenue_cents: u64,
    /// Events a service gave up on after crashing on them again and again: how many, per
    /// service, and the first [`LISTED_DEAD_LETTERS`] of them with their orders (a bounded
    /// list, however long the run).
    pub dead_lettered: BTreeMap<ServiceName, u64>,
    pub dead_letters: Vec<DeadLetter>,
    /// Times each service was restarted after a crash.
    pub restarts: BTreeMap<ServiceName, u64>,
    /// From each order's arrival to its terminal event, per terminal state, in milliseconds
    /// (simulated with the virtual clock).
    pub latency_ms: Latencies,
    /// Time of the last event, in milliseconds since the start (simulated with the virtual
    /// clock), and orders finished per second of it.
    pub elapsed_ms: f64,
    pub orders_per_second: f64,
    /// Per product in the catalog, by id.
    pub stock: Vec<StockLine>,
    /// JSON Lines input, every line accounted for: `lines` = orders read + `blank_lines` +
    /// `invalid_lines` + `unread_lines` (after a stop at an invalid line). 0 for documents.
    pub lines: u64,
    pub blank_lines: u64,
    pub invalid_lines: u64,
    pub unread_lines: u64,
    /// How the machine took it: the one part of the summary that differs between runs.
    pub machine: Machine,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub order_id: OrderId,
    pub service: ServiceName,
    pub event: EventKind,
    pub crashes: u32,
}

/// Latency histograms per terminal state, serialized as their percentiles.
#[derive(Debug, Clone)]
pub struct Latencies {
    completed: Histogram<u64>,
    rejected: Histogram<u64>,
    cancelled: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        // Microseconds up to about 12 days of simulated time, 3 significant digits.
        let histogram = || Histogram::new_with_bounds(1, 1 << 40, 3).expect("valid bounds");
        Latencies {
            completed: histogram(),
            rejected: histogram(),
            cancelled: histogram(),
        }
    }
}

impl Latencies {
    fn record(&mut self, kind: EventKind, micros: u64) {
        let histogram = match kind {
            EventKind::ShippingArranged => &mut self.completed,
            EventKind::OrderRejected => &mut self.rejected,
            _ => &mut self.cancelled,
        };
        histogram.saturating_record(micros);
    }

    fn stats(histogram: &Histogram<u64>) -> LatencyStats {
        let ms = |micros: u64| {
            if histogram.is_empty() {
                0.0
            } else {
                micros as f64 / 1000.0
            }
        };
        LatencyStats {
            count: histogram.len(),
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
        }
    }

    /// Per terminal state: `completed`, `rejected`, `cancelled`.
    pub fn by_state(&self) -> [(&'static str, LatencyStats); 3] {
        [
            ("completed", Self::stats(&self.completed)),
            ("rejected", Self::stats(&self.rejected)),
            ("cancelled", Self::stats(&self.cancelled)),
        ]
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

/// Percentiles of one terminal state's latencies, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyStats {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// One product's stock over the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockLine {
    pub product_id: ProductId,
    pub name: String,
    /// Units at the start.
    pub start: u64,
    /// Units available at the end, as InventoryService last reported it.
    pub left: u64,
    /// Units shipped.
    pub shipped: u64,
}

impl Summary {
    /// An empty summary for a run of `config`'s catalog.
    pub fn new(config: &Config) -> Self {
        Summary {
            stock: config
                .products
                .iter()
                .map(|(id, product)| StockLine {
                    product_id: *id,
                    name: product.name.clone(),
                    start: product.stock,
                    left: product.stock,
                    shipped: 0,
                })
                .collect(),
            ..Summary::default()
        }
    }

    /// Takes one event into account; events must come in bus order.
    pub fn record(&mut self, envelope: &Envelope) {
        match envelope.event {
            Event::InventoryChecked {
                product_id, stock, ..
            }
            | Event::InventoryReleased {
                product_id, stock, ..
            } => {
                if let Some(line) = self.line(product_id) {
                    line.left = stock;
                }
            }
            Event::PaymentProcessed { amount_cents, .. } => self.revenue_cents += amount_cents,
            Event::PaymentRefunded { amount_cents, .. } => self.revenue_cents -= amount_cents,
            Event::ShippingArranged {
                product_id,
                quantity,
            } => {
                self.completed += 1;
                if let Some(line) = self.line(product_id) {
                    line.shipped += u64::from(quantity.get());
                }
            }
            Event::OrderRejected(_) => self.rejected += 1,
            Event::OrderCancelled { .. } => self.cancelled += 1,
            Event::DeadLettered {
                gave_up_on,
                crashes,
            } => {
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
            _ => {}
        }
        self.elapsed_ms = envelope.at_us as f64 / 1000.0;
    }

    /// Takes a terminal event's latency, from its order's arrival, into account.
    pub fn record_latency(&mut self, terminal: &Envelope, micros: u64) {
        self.latency_ms.record(terminal.kind(), micros);
    }

    /// Orders finished per second of run time (simulated with the virtual clock).
    pub fn throughput(&self) -> f64 {
        if self.elapsed_ms > 0.0 {
            self.finished() as f64 / (self.elapsed_ms / 1000.0)
        } else {
            0.0
        }
    }

    fn line(&mut self, product_id: ProductId) -> Option<&mut StockLine> {
        self.stock
            .binary_search_by_key(&product_id, |line| line.product_id)
            .ok()
            .map(|i| &mut self.stock[i])
    }

    /// Orders that reached a terminal event.
    pub fn finished(&self) -> u64 {
        self.completed + self.rejected + self.cancelled
    }
}

/// The human summary, a few lines for stderr.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "summary: {} orders: {} completed, {} rejected, {} cancelled, {} unfinished",
            self.orders, self.completed, self.rejected, self.cancelled, self.unfinished
        )?;
        writeln!(
            f,
            "  events: {} published, {} lost",
            self.events, self.lost_events
        )?;
        if self.lines > 0 {
            writeln!(
                f,
                "  input: {} lines: {} blank, {} invalid, {} not read",
                self.lines, self.blank_lines, self.invalid_lines, self.unread_lines
            )?;
        }
        writeln!(f, "  revenue: {}", Money(self.revenue_cents))?;
        if self.elapsed_ms > 0.0 {
            writeln!(
                f,
                "  run time: {:.3} s ({:.0} orders/s); latency from arrival, ms (p50 / p90 / p99 / max):",
                self.elapsed_ms / 1000.0,
                self.orders_per_second
            )?;
        } else if self.finished() > 0 {
            // No latency configured: no simulated time passed, and every latency is 0.
            writeln!(f, "  run time: 0 s (no latency configured); latency from arrival, ms (p50 / p90 / p99 / max):")?;
        }
        for (state, stats) in self.latency_ms.by_state() {
            if stats.count > 0 {
                writeln!(
                    f,
                    "    {state}: {} / {} / {} / {} ({} orders)",
                    stats.p50, stats.p90, stats.p99, stats.max, stats.count
                )?;
            }
        }
        if !self.restarts.is_empty() {
            f.write_str("  restarts:")?;
            for (service, n) in &self.restarts {
                write!(f, " {service} {n}")?;
            }
            writeln!(f)?;
        }
        if !self.dead_letters.is_empty() {
            let total: u64 = self.dead_lettered.values().sum();
            write!(f, "  dead letters: {total}")?;
            for letter in self.dead_letters.iter().take(5) {
                write!(
                    f,
                    "; order {} ({} gave up on {})",
                    letter.order_id, letter.service, letter.event
                )?;
            }
            if total > 5 {
                write!(f, "; ...")?;
            }
            writeln!(f)?;
        }
        f.write_str("  stock left:")?;
        for (i, line) in self.stock.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(
                f,
                "{sep}{} ({}) {} of {}",
                line.name, line.product_id, line.left, line.start
            )?;
            if line.shipped > 0 {
                write!(f, " ({} shipped)", line.shipped)?;
            }
        }
        writeln!(f)?;
        let wall = self.machine.wall_ms as f64 / 1000.0;
        write!(f, "  wall time: {wall:.3} s")?;
        if wall > 0.0 && self.elapsed_ms > 0.0 {
            write!(
                f,
                "; the run time was {:.1}x that",
                self.elapsed_ms / 1000.0 / wall
            )?;
        }
        if wall > 0.0 {
            write!(f, " ({:.0} orders/s)", self.finished() as f64 / wall)?;
        }
        if let Some(kib) = self.machine.peak_rss_kib {
            write!(f, ", peak memory: {:.1} MiB", kib as f64 / 1024.0)?;
        }
        writeln!(f)
    }
}
