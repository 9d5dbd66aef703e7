//! Tests for `choreo report` (being written).
