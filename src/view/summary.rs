//! The summary as people read it: a few lines for stderr.

use std::fmt;

use crate::engine::stats::{significant, Summary};
use crate::engine::{Choreography, Stats};
use crate::input::Record;
use crate::plural::Count;

/// The human summary, a few lines for stderr.
impl<C: Choreography> fmt::Display for Summary<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = <C::Input as Record>::noun();
        writeln!(
            f,
            "summary: {}: {} completed, {} rejected, {} cancelled, {} unfinished",
            Count(self.orders, noun),
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
                "  run time: {} ({:.0} {noun}s/s); latency from arrival (p50 / p90 / p99 / max):",
                Ms(self.elapsed_ms),
                self.orders_per_second
            )?;
        } else if self.finished() > 0 {
            // No simulated time passed at all, to the run's end: no latency, no arrival gap,
            // no delay, and every latency is 0.
            writeln!(f, "  run time: 0 s (no latency configured); latency from arrival (p50 / p90 / p99 / max):")?;
        }
        for (state, stats) in self.latency_ms.by_state() {
            if stats.count > 0 {
                writeln!(
                    f,
                    "    {state}: {} / {} / {} / {} ({})",
                    Ms(stats.p50),
                    Ms(stats.p90),
                    Ms(stats.p99),
                    Ms(stats.max),
                    Count(stats.count, noun)
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
                    "; {noun} {} ({} gave up on {})",
                    letter.order_id, letter.service, letter.event
                )?;
            }
            if total > 5 {
                write!(f, "; ...")?;
            }
            writeln!(f)?;
        }
        self.stats.details(f)?;
        writeln!(f, "  {}", self.coverage)?;
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
            write!(f, " ({:.0} {noun}s/s)", self.finished() as f64 / wall)?;
        }
        if let Some(kib) = self.machine.peak_rss_kib {
            write!(f, ", peak memory: {:.1} MiB", kib as f64 / 1024.0)?;
        }
        writeln!(f)
    }
}

/// A duration given in milliseconds, in the unit a person reads: ms under a second, then s,
/// min and h, to 3 significant digits (milliseconds as given, up to a microsecond).
struct Ms(f64);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        let (value, unit) = match ms {
            ms if ms < 1_000.0 => return write!(f, "{} ms", (ms * 1000.0).round() / 1000.0),
            ms if ms < 60_000.0 => (ms / 1_000.0, "s"),
            ms if ms < 3_600_000.0 => (ms / 60_000.0, "min"),
            ms => (ms / 3_600_000.0, "h"),
        };
        write!(f, "{} {unit}", significant(value, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::Ms;

    #[test]
    fn durations_read_in_the_unit_a_person_uses() {
        let read = |ms: f64| Ms(ms).to_string();
        assert_eq!(read(0.0), "0 ms");
        assert_eq!(read(14.721), "14.721 ms");
        assert_eq!(read(999.0), "999 ms");
        assert_eq!(read(1_500.0), "1.5 s");
        assert_eq!(read(159_000.0), "2.65 min");
        assert_eq!(read(330_741.0), "5.51 min");
        assert_eq!(read(7_200_000.0), "2 h");
    }
}
