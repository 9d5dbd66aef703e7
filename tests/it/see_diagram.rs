//! Tests for `choreo diagram` (being written).
