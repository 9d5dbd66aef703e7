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
    #[error("time limit of {} reached; {}{}", humantime::format_duration(*limit), Unfinished(unfinished, *not_admitted), stall)]
    TimeLimit {
        limit: Duration,
        /// Admitted orders that had not finished, in id order.
        unfinished: Vec<InstanceId>,
        /// Orders never admitted.
        not_admitted: u64,
        /// What the first few unfinished orders wait for, where the run can tell.
        stall: Stall,
    },
    /// Over NATS: no event came for `nats.stall_timeout` while orders were in flight.
    #[error("no event for {} (nats.stall_timeout) with orders in flight; {}", humantime::format_duration(*quiet), Unfinished(unfinished, 0))]
    Stalled {
        quiet: Duration,
        /// Admitted orders that had not finished, in id order.
        unfinished: Vec<InstanceId>,
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
    /// A choreography's invariant broken (`run.invariants`): the property, why, and the event
    /// that broke it, if one did (an end-state property may be broken by none).
    #[error("invariant broken {}: {property}: {why}", At(at))]
    Invariant {
        property: &'static str,
        why: String,
        at: Option<BrokenAt>,
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

/// Where a run stopped with instances unfinished stood: what the first few of them wait
/// for, and how far each service had read the bus. A stall names the services that hold it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stall {
    pub orders: Vec<Waiting>,
    /// Each service with the events it had read (told before it waits, so exact for a
    /// service that waits), in the choreography's order.
    pub read: Vec<(&'static str, u64)>,
    /// Events published on the bus in all.
    pub published: u64,
}

/// What an unfinished instance waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub order_id: InstanceId,
    /// Its last event observed, as an id (`7.InventoryChecked`), and that event's sequence
    /// number on the bus; `None` if none was observed yet.
    pub last: Option<(String, u64)>,
    /// The services subscribed to that event's kind.
    pub reacting: Vec<&'static str>,
    /// Those of them that had not read it.
    pub unread_by: Vec<&'static str>,
}

impl fmt::Display for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((last, seq)) = &self.last else {
            return write!(f, "order {} with no event observed", self.order_id);
        };
        write!(f, "order {} after {last} (event {seq})", self.order_id)?;
        match (self.reacting.is_empty(), self.unread_by.as_slice()) {
            (true, _) => f.write_str(", which no service reacts to"),
            (false, []) => write!(
                f,
                ", read by {} (busy with it, or it decided nothing)",
                self.reacting.join(" and ")
            ),
            (false, unread_by) => write!(f, ", not yet read by {}", unread_by.join(" and ")),
        }
    }
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.orders.is_empty() {
            return Ok(());
        }
        for (i, waiting) in self.orders.iter().enumerate() {
            f.write_str(if i == 0 { "; waiting: " } else { "; " })?;
            write!(f, "{waiting}")?;
        }
        f.write_str("; events read of ")?;
        write!(f, "{}: ", self.published)?;
        for (i, (service, read)) in self.read.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{service} {read}")?;
        }
        Ok(())
    }
}

/// The event that broke an invariant: its sequence number on the bus, its order, who
/// published it and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenAt {
    pub seq: u64,
    /// What an instance is called (`order`, `transfer`: [`Record::noun`](crate::input::Record::noun)).
    pub noun: &'static str,
    pub order_id: InstanceId,
    pub service: &'static str,
    pub kind: &'static str,
}

/// `at event 1234 (order 17, PaymentService PaymentProcessed)`, or `at the end of the run`.
struct At<'a>(&'a Option<BrokenAt>);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(at) => write!(
                f,
                "at event {} ({} {}, {} {})",
                at.seq, at.noun, at.order_id, at.service, at.kind
            ),
            None => f.write_str("at the end of the run"),
        }
    }
}

/// Lists unfinished orders, the first few by id.
struct Unfinished<'a>(&'a [InstanceId], u64);

/// Unfinished orders named in a message; the rest are counted.
pub(crate) const SHOWN: usize = 10;

impl fmt::Display for Unfinished<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// How a run failed, as a kind: what `choreo shrink` keeps while it makes a failing case
/// smaller ("fails the same way"). Two failures of one kind differ only in what the case
/// reduces (which orders, when); a service's kinds keep the service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Problem {
    /// The time limit (or, over NATS, the stall timeout) came with orders unfinished.
    TimeLimit,
    /// The choreography broke the engine's contract for an order: a kind published a second
    /// time, an event for an order not in flight, more events than it declares.
    Protocol,
    /// The service crashed more often than its restart limit allows.
    RestartLimit { service: &'static str },
    /// The service failed, panicked, stopped early or did not stop.
    Service { service: &'static str },
    /// The bus lost events (a subscriber lagged).
    Bus,
    /// A choreography's invariant broken (`run.invariants`): the same property, whatever
    /// the event that broke it.
    Invariant { property: &'static str },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TimeLimit => f.write_str("orders unfinished at the time limit"),
            Problem::Protocol => {
                f.write_str("a protocol violation (a kind published twice, an event out of place)")
            }
            Problem::RestartLimit { service } => {
                write!(f, "{service} crashed past its restart limit")
            }
            Problem::Service { service } => write!(f, "{service} failed"),
            Problem::Bus => f.write_str("events lost on the bus"),
            Problem::Invariant { property } => write!(f, "an invariant broken: {property}"),
        }
    }
}

impl Failure {
    /// The kind of this failure, for a failure in what ran; `None` for what is not the
    /// choreography's doing (bad config, an interrupt, output, the transport, the horizon of
    /// simulated time).
    pub fn problem(&self) -> Option<Problem> {
        // Every variant is named, so a new one has to say whether it is a problem.
        match self {
            Failure::TimeLimit {
                unfinished,
                not_admitted,
                ..
            } => (!unfinished.is_empty() || *not_admitted > 0).then_some(Problem::TimeLimit),
            Failure::Stalled { .. } => Some(Problem::TimeLimit),
            Failure::Protocol { .. } => Some(Problem::Protocol),
            Failure::RestartLimit { service, .. } => Some(Problem::RestartLimit { service }),
            Failure::ServiceFailed { service, .. }
            | Failure::ServicePanicked { service, .. }
            | Failure::ServiceEnded { service }
            | Failure::ServiceStuck { service, .. } => Some(Problem::Service { service }),
            Failure::Bus(_) => Some(Problem::Bus),
            Failure::Invariant { property, .. } => Some(Problem::Invariant { property }),
            Failure::Horizon { .. }
            | Failure::Config(_)
            | Failure::Spawn(_)
            | Failure::Interrupted { .. }
            | Failure::Output(_)
            | Failure::Transport(_)
            | Failure::ServiceExited { .. } => None,
        }
    }
}

impl Problem {
    /// The kind of a failed run: its first failure that has one.
    pub fn of(failures: &[Failure]) -> Option<Problem> {
        failures.iter().find_map(Failure::problem)
    }
}
