//! The engine: everything that runs a choreography, generic over [`Choreography`] and
//! knowing nothing of any particular one.
//!
//! - [`choreography`]: the contract: [`Choreography`], [`Service`], [`Outbox`], and the
//!   [`Envelope`] every event travels in.
//! - [`kinds`]: bit sets of kinds.
//! - [`config`]: the engine's typed settings, and [`Config`] composed with the choreography's.
//! - [`service`]: per-instance bookkeeping (state, de-duplication), a test harness.
//! - [`bus`]: the broadcast bus; lag is an error, counted, never skipped.
//! - [`worker`]: the one task loop every service runs in, and its crash-recovery slot.
//! - [`supervisor`]: spawning, restart intensity, stopping, each task's result.
//! - [`admission`]: the credit window that keeps the bus lossless.
//! - [`run`](mod@run): a whole run: admit, observe in bus order, time limit, shutdown, report.
//! - [`sink`], [`stats`], [`failure`]: where events go, what a run did, how it failed.
//! - [`monitor`]: the choreography's invariants, checked as a run goes; [`coverage`]: what
//!   a run exercised.
//! - [`gate`]: waits that are cheap to look at on every wake-up.
//! - [`protocol`]: the hand-made synchronisation protocols (the gate, the bus's room, the
//!   worker's hand-over across a crash), model-checked with loom.
//!
//! Inside, dependencies run one way, from the contract up to [`run`](mod@run): nothing here imports
//! the shop, the views, the config loader or the command line.

pub mod admission;
pub mod bus;
pub mod choreography;
pub mod config;
pub mod coverage;
pub mod failure;
pub mod gate;
pub mod kinds;
pub mod monitor;
pub mod protocol;
pub mod replica;
pub mod run;
pub mod service;
pub mod sink;
pub mod stats;
pub mod supervisor;
#[cfg(test)]
pub(crate) mod testing;
pub mod worker;

pub use choreography::{
    Cause, Choreography, Envelope, EventId, Facts, Name, Outbox, Outcome, Role, Service, Services,
    SpawnError, Stats,
};
pub use config::Config;
pub use failure::{Failure, RunFailed, Stall, Waiting};
pub use kinds::Kinds;
pub use run::{run, run_fed, run_until, Feed, Interrupt, Iterated};
pub use service::ServiceError;
pub use sink::{EventSink, Fanout};
pub use stats::Summary;
