//! choreo runs and simulates event-driven *choreographies*: services that cooperate only by
//! reacting to each other's events on one shared bus, with no central coordinator.
//!
//! The machinery is generic over a [`Choreography`](engine::Choreography): its events, its
//! services (each a [`Service`](engine::Service): event in, events out, no Tokio), its
//! terminal states and its config. Each service runs as its own Tokio task with its own
//! `tokio::sync::broadcast` receiver on the bus; a supervisor spawns them, admits instances
//! without ever losing an event, watches each to its terminal event, then stops every task and
//! collects its result. The e-commerce order flow ([`shop`]) is the built-in example; the
//! travel-booking saga in `examples/trip/` is a second.
//!
//! # Your own choreography
//! Say what only your choreography can say, with [`flow`]'s two macros: its events (and which
//! end an instance, and how), its services (what each reacts to, may publish, keeps per
//! instance, decides), how an input record starts an instance, and what each event says. The
//! rest (kinds, the most events an instance causes, roles, facts, causes, an empty config
//! section, no stats) is derived, and the declared wiring is checked when it starts. The
//! tutorial's choreography, whole (`examples/tutorial/main.rs`, which prints the tutorial's
//! reference output; `examples/transfer/main.rs` is a saga with a refund, a config section and
//! an invariant):
//!
#![doc = concat!("```rust,no_run\n", include_str!("../examples/tutorial/main.rs"), "```")]
//!
//! From `cargo new` to a running binary (Rust 1.85 or later):
//!
//! ```text
//! cargo new my-flow && cd my-flow
//! cargo add --path ../choreo               # a path dependency: choreo is not on crates.io
//! cargo add serde --features derive        # for the input record's Deserialize
//! # write src/main.rs as above, then:
//! cargo run --release -- run orders.jsonl  # and check, trace, diagram, report, serve ...
//! ```
//!
//! Every subcommand of `choreo` works on it: `run` (text, JSON, journal, summary, report),
//! `replay`, `trace`, `diagram`, `check`, `shrink`, and `serve`/`run --nats` over NATS. For
//! control over every item, implement [`engine::Choreography`] yourself, as the shop does.
//!
//! # Layout
//! Dependencies run one way, with no cycle between modules: [`name`] and [`recent`] at the
//! bottom; [`input`] and [`sim`] on them; [`engine`] on those; [`shop`] on the engine;
//! [`view`] and [`config`] (the loader) above; [`shrink`] on those and `check`; [`cli`] and
//! [`app`] on top.
//! - [`name`]: closed sets of names (services, kinds) and the [`names!`] macro.
//! - [`recent`]: bounded memory of the last N keys.
//! - [`engine`]: the contract, envelopes, the bus, the task loop, supervision, admission,
//!   the run, sinks, statistics, failures.
//! - [`sim`]: seeded random streams, latency models, arrivals, delivery faults.
//! - [`input`]: instance ids and input files with positioned errors.
//! - [`config`]: typed, layered configuration: the engine's sections and the choreography's.
//! - [`shop`]: the e-commerce choreography.
//! - [`flow`]: the short way to write a choreography: two macros over the contract.
//! - [`view`]: text and JSON output, the summary, journal and replay, trace, diagrams, report.
//! - [`shrink`]: from a failing run to the smallest case that fails the same way.
//! - [`cli`], [`app`], [`telemetry`]: the command line for any choreography, and logging.
//!
//! # Stable API
//! For writing a choreography: [`flow`] with [`events!`] and [`choreography!`];
//! for full control, [`engine::Choreography`], [`engine::Service`],
//! [`engine::Outbox`], [`engine::Stats`], [`name::Name`] and [`names!`], [`input::Record`],
//! [`config::Config`], [`engine::run()`], [`engine::EventSink`], [`app::main`]. Everything else
//! is public so the views can be reused, but may change between versions.
//!
//! # Using it from tests
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use choreo::config::Config;
//! use choreo::engine::{self, Envelope};
//! use choreo::shop::{Order, Shop};
//!
//! let order: Order = serde_json::from_str(r#"{"order_id": 1, "product_id": 101, "quantity": 2}"#)?;
//! let mut events: Vec<Envelope<Shop>> = Vec::new();
//! let summary = engine::run(&Config::<Shop>::default(), [order], &mut events).await?;
//! assert_eq!(summary.completed, 1);
//! assert_eq!(events.len(), 4);
//! # Ok::<(), anyhow::Error>(())
//! # }).unwrap();
//! ```

// So that `names!` and `bounded_integer!` can name `choreo::serde` inside this crate too.
extern crate self as choreo;

pub mod app;
pub mod check;
pub mod cli;
pub mod config;
pub mod engine;
pub mod flow;
pub mod input;
pub mod name;
pub mod nats;
pub mod plural;
pub mod recent;
pub mod shop;
pub mod shrink;
pub mod sim;
pub mod telemetry;
pub mod view;

/// Re-exported for [`names!`] and for choreographies: the same serde choreo uses.
pub use serde;
/// Re-exported so a choreography's tests need no extra dependency for cancellation.
pub use tokio_util::sync::CancellationToken;
