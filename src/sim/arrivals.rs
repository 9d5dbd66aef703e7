//! When instances without an `at_ms` arrive: all at once, at a fixed rate, or as a Poisson
//! process, from their own seeded stream.

use std::time::Duration;

use rand_distr::{Distribution, Exp};

use super::{stream, ArrivalProcess, ArrivalsConfig, Rng};

/// When orders without an `at_ms` arrive.
#[derive(Debug)]
pub struct Arrivals {
    process: ArrivalProcess,
    per_second: f64,
    rng: Rng,
    /// The last arrival the process gave, since the run started.
    last: Duration,
}

impl Arrivals {
    /// When the instance with 0-based `index` among those without an `at_ms` arrives,
    /// since the run started.
    pub fn next(&mut self, index: u64) -> Duration {
        let gap = |per_second: f64| {
            if per_second > 0.0 {
                1.0 / per_second
            } else {
                0.0
            }
        };
        self.last = match self.process {
            ArrivalProcess::AllAtOnce => Duration::ZERO,
            ArrivalProcess::FixedRate => {
                Duration::from_secs_f64(index as f64 * gap(self.per_second))
            }
            ArrivalProcess::Poisson => {
                let mean = gap(self.per_second);
                let draw = if mean > 0.0 {
                    Exp::new(1.0 / mean).map_or(0.0, |d| d.sample(&mut self.rng))
                } else {
                    0.0
                };
                self.last + Duration::from_secs_f64(draw)
            }
        };
        self.last
    }
}

impl Arrivals {
    pub fn new(config: &ArrivalsConfig, seed: u64) -> Self {
        Arrivals {
            process: config.process,
            per_second: config.per_second,
            rng: stream(seed, "arrivals"),
            last: Duration::ZERO,
        }
    }
}
