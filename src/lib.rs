//! choreo simulates an event-driven *choreography*: services that cooperate only by reacting
//! to each other's events on one shared bus, with no central coordinator.
//!
//! An order goes through four services by four events:
//! `OrderCreated -> InventoryChecked -> PaymentProcessed -> ShippingArranged`.
//! Each service runs as its own Tokio task with its own `tokio::sync::broadcast` receiver on
//! the bus. A supervisor spawns them, admits the orders, watches each order to its terminal
//! event, then stops every task and collects its result.
//!
//! # Layout
//! - [`event`]: the [`Event`](event::Event) enum and the [`Envelope`](event::Envelope) it
//!   travels in (id, correlation, causation, sequence, emitter).
//! - [`bus`]: the broadcast bus; lag is an error, counted, never skipped.
//! - [`service`]: each service's decisions as plain code, and the one generic task loop.
//! - [`supervisor`]: spawn, admit within the bus's room, observe, shut down, gather results.
//! - [`output`]: text and JSON output, derived from the events in bus order.
//! - [`summary`]: orders per terminal state, revenue and stock, folded from the events.
//! - [`journal`], [`trace`], [`diagram`], [`report`]: seeing a run: the journal of every
//!   event, one order's story, Mermaid diagrams, the HTML report.
//! - [`order`]: orders and order files, with positioned errors.
//! - [`config`]: typed, layered configuration.
//! - [`simulation`]: seed, latency models, arrivals and faults for simulated runs.
//! - [`recent`]: bounded memory of the last N keys (finished orders, ids read).
//! - [`cli`], [`app`], [`telemetry`]: the command line, what it does, and logging.
//!
//! # Using it from tests
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use choreo::{config::Config, event::Envelope, order::Order, supervisor};
//!
//! let order: Order = serde_json::from_str(r#"{"order_id": 1, "product_id": 101, "quantity": 2}"#)?;
//! let mut events: Vec<Envelope> = Vec::new();
//! let summary = supervisor::run(&Config::default(), [order], &mut events).await?;
//! assert_eq!(summary.completed, 1);
//! assert_eq!(events.len(), 4);
//! # Ok::<(), anyhow::Error>(())
//! # }).unwrap();
//! ```

pub mod app;
pub mod bus;
pub mod cli;
pub mod config;
pub mod diagram;
pub mod event;
pub mod journal;
pub mod order;
pub mod output;
pub mod recent;
pub mod report;
pub mod service;
pub mod simulation;
pub mod summary;
pub mod supervisor;
pub mod telemetry;
pub mod trace;
