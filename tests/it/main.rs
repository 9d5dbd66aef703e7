//! choreo's integration tests: one binary, a module per area.

mod check;
mod cli;
mod cluster;
mod docs;
mod engine;
mod hardening;
mod helpers;
mod ids;
mod invariants;
mod library;
mod nats;
mod nats_ids;
mod nats_operations;
mod rules;
mod run_invariants;
mod scale;
mod schedule;
mod see_diagram;
mod see_journal;
mod see_report;
mod see_trace;
mod shrink;
mod simulation;
mod transfer;
mod tutorial;
