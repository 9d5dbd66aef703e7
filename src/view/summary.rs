//! The summary as people read it: a few lines for stderr.

use std::fmt;

use crate::engine::stats::Summary;
use crate::engine::{Choreography, Stats};
use crate::plural::Count;

/// The human summary, a few lines for stderr.
impl<C: Choreography> fmt::Display for Summary<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "summary: {}: {} completed, {} rejected, {} cancelled, {} unfinished",
            Count(self.orders, "order"),
            self.completed,
            self.rejected,
            self.cancelled,
            self.unfinished
        )?;
        writeln!(
            f,
            "  events: {} published, {} lost",
            self.events, self.lost_events
        )?;
        if self.foreign_messages > 0 {
            writeln!(
                f,
                "  foreign messages skipped: {} (not events of this choreography; each was reported)",
                self.foreign_messages
            )?;
        }
        if self.lines > 0 {
            writeln!(
                f,
                "  input: {} lines: {} blank, {} invalid, {} not read",
                self.lines, self.blank_lines, self.invalid_lines, self.unread_lines
            )?;
        }
        self.stats.headline(f)?;
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
                    "    {state}: {} / {} / {} / {} ({})",
                    stats.p50,
                    stats.p90,
                    stats.p99,
                    stats.max,
                    Count(stats.count, "order")
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
        if self.republished > 0 {
            writeln!(
                f,
                "  published again after a crash, dropped by id: {}",
                Count(self.republished, "event")
            )?;
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
        self.stats.details(f)?;
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
