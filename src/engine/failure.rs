//! How a run can fail, each failure with what the user needs to act on it.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::engine::bus::BusError;
use crate::engine::choreography::Choreography;
use crate::engine::service::ServiceError;
use crate::engine::stats::Summary;
use crate::input::InstanceId;
use crate::plural::Count;

/// A run that did not bring every order to its terminal event, with everything that went wrong.
pub struct RunFailed<C: Choreography> {
    pub summary: Summary<C>,
    pub failures: Vec<Failure>,
}

impl<C: Choreography> std::error::Error for RunFailed<C> {}

impl<C: Choreography> fmt::Debug for RunFailed<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunFailed")
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl<C: Choreography> RunFailed<C> {
    /// Whether the run ended because it was interrupted, and for no other reason.
    pub fn interrupted(&self) -> bool {
        interrupted(&self.failures)
    }
}

fn interrupted(failures: &[Failure]) -> bool {
    matches!(failures, [Failure::Interrupted { .. }])
}

impl<C: Choreography> fmt::Display for RunFailed<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(&self.failures, f)
    }
}

/// A failed run's failures, without its summary: what the command line reports.
#[derive(Debug)]
pub struct Failures(pub Vec<Failure>);

impl Failures {
    /// Whether the run ended because it was interrupted, and for no other reason.
    pub fn interrupted(&self) -> bool {
        interrupted(&self.0)
    }
}

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(&self.0, f)
    }
}

fn describe(failures: &[Failure], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    {
        f.write_str("run failed: ")?;
        for (i, failure) in failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("time limit of {} reached; {}", humantime::format_duration(*limit), Unfinished(unfinished, *not_admitted))]
    TimeLimit {
        limit: Duration,
        /// Admitted orders that had not finished, in id order.
        unfinished: Vec<InstanceId>,
        /// Orders never admitted.
        not_admitted: u64,
    },
    #[error("simulated time reached {}, as far as Tokio's clock goes; the run cannot be simulated past it (arrivals and latencies that far apart are out of range)", humantime::format_duration(Duration::from_secs(reached.as_secs())))]
    Horizon { reached: Duration },
    #[error("{service} failed: {error}")]
    ServiceFailed {
        service: &'static str,
        error: ServiceError,
    },
    #[error("{service} crashed more than {max_restarts} times within {}; {}", humantime::format_duration(*window), Unfinished(unfinished, *not_admitted))]
    RestartLimit {
        service: &'static str,
        max_restarts: u32,
        window: Duration,
        unfinished: Vec<InstanceId>,
        not_admitted: u64,
    },
    #[error("{service} panicked: {message}")]
    ServicePanicked {
        service: &'static str,
        message: String,
    },
    #[error("{service} stopped before it was told to")]
    ServiceEnded { service: &'static str },
    #[error("{service} did not stop within {}", humantime::format_duration(*timeout))]
    ServiceStuck {
        service: &'static str,
        timeout: Duration,
    },
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The config does not pass its checks
    /// ([`Config::check`](crate::engine::config::Config::check); one built or changed in
    /// code): nothing was run.
    #[error("{0}")]
    Config(String),
    #[error("cannot start the services: {0}")]
    Spawn(crate::engine::SpawnError),
    #[error("order {order_id}: {problem}")]
    Protocol {
        order_id: InstanceId,
        problem: String,
    },
    #[error("interrupted; {} read {} not admitted (the summary counts any not read)", Count(*not_admitted, "order"), if *not_admitted == 1 { "was" } else { "were" })]
    Interrupted { not_admitted: u64 },
    #[error("cannot write output: {0}")]
    Output(io::Error),
    /// The broker of a distributed run failed it (cannot be reached, refused a request).
    #[error("{0}")]
    Transport(String),
    /// A service process that `run --spawn-services` started exited before it was told to:
    /// the orders that need it cannot finish.
    #[error("{service} (a spawned `serve`, pid {pid}) exited during the run ({status}); its own message, if any, is above")]
    ServiceExited {
        service: &'static str,
        pid: u32,
        status: String,
    },
}

/// Lists unfinished orders, the first few by id.
struct Unfinished<'a>(&'a [InstanceId], u64);

impl fmt::Display for Unfinished<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 10;
        let Unfinished(ids, not_admitted) = *self;
        write!(
            f,
            "{}",
            Count(ids.len() as u64 + not_admitted, "unfinished order")
        )?;
        if !ids.is_empty() {
            f.write_str(": ")?;
            for (i, id) in ids.iter().take(SHOWN).enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{id}")?;
            }
            if ids.len() > SHOWN {
                write!(f, " and {} more in flight", ids.len() - SHOWN)?;
            }
        }
        if not_admitted > 0 {
            write!(f, " ({not_admitted} never admitted)")?;
        }
        Ok(())
    }
}
