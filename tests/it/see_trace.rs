//! Tests for `choreo trace` (being written).
