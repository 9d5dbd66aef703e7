//! Tests that run the built binary.
