//! choreo's integration tests: one binary, a module per area.

mod cli;
mod helpers;
mod invariants;
mod library;
mod rules;
mod scale;
mod simulation;
