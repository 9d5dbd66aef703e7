//! The engine: everything that runs a choreography, generic over [`Choreography`] and
//! knowing nothing of any particular one.
//!
//! - [`choreography`]: the contract a choreography implements.
//! - [`envelope`]: the envelope every event travels in, event ids, sets of kinds.
//! - [`service`]: the service contract (decisions, no Tokio) and per-instance bookkeeping.
//! - [`bus`]: the broadcast bus; lag is an error, counted, never skipped.
//! - [`worker`]: the one task loop every service runs in, and its crash-recovery slot.
//! - [`supervisor`]: spawning, restart intensity, stopping, each task's result.
//! - [`admission`]: the credit window that keeps the bus lossless.
//! - [`run`]: a whole run: admit, observe in bus order, time limit, shutdown, report.
//! - [`sink`], [`stats`], [`failure`]: where events go, what a run did, how it failed.
//! - [`recent`]: bounded memory of the last N keys.

pub mod admission;
pub mod bus;
pub mod choreography;
pub mod envelope;
pub mod failure;
pub mod recent;
pub mod run;
pub mod service;
pub mod sink;
pub mod stats;
pub mod supervisor;
pub mod worker;

pub use choreography::{Cause, Choreography, Name, Outcome, Role, Services, SpawnError, Stats};
pub use envelope::{Envelope, EventId, Facts, Kinds};
pub use failure::{Failure, RunFailed};
pub use run::{run, run_until, Interrupt};
pub use service::{Outbox, Service, ServiceError};
pub use sink::{EventSink, Fanout};
pub use stats::Summary;
