//! The page as text: the buffer it is written into, and the formatting every section and
//! chart shares (escaping, numbers, durations, an event's facts).

use std::fmt;

use crate::engine::{Choreography, Envelope, Facts};

/// The page being written.
#[derive(Debug)]
pub(super) struct Page {
    text: String,
    /// What the choreography calls an instance, for the page's own words ([`Page::words`]).
    noun: &'static str,
}

impl Default for Page {
    fn default() -> Self {
        Page::new("order")
    }
}

impl Page {
    pub fn new(noun: &'static str) -> Self {
        Page {
            text: String::new(),
            noun,
        }
    }

    pub fn push(&mut self, args: fmt::Arguments<'_>) {
        let _ = fmt::Write::write_fmt(&mut self.text, args);
    }

    pub fn raw(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Writes the page's own words about instances, which say "order", in the
    /// choreography's words: `3 transfers` rather than `3 orders`.
    pub fn words(&mut self, text: &str) {
        self.text
            .push_str(&crate::plural::reworded(text, self.noun));
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

/// The facts an event carries, in words (the same words as `choreo trace`).
pub(super) fn facts<C: Choreography>(envelope: &Envelope<C>) -> String {
    Facts::<C>(&envelope.event).to_string()
}

/// Escapes text for HTML element content and attribute values.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole number with thousands separators: 1,234,567.
pub(super) fn num(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(super) fn ms_to_us(ms: f64) -> u64 {
    (ms * 1000.0).round().max(0.0) as u64
}

pub(super) fn ms(ms: f64) -> String {
    dur(ms_to_us(ms))
}

/// A duration in microseconds, in the unit that reads best, in three digits or so: 250 µs,
/// 3.20 ms, 41.5 ms, 760 ms, 2.35 s, 4 min 12 s.
pub(super) fn dur(micros: u64) -> String {
    match micros {
        0..=999 => format!("{micros} \u{b5}s"),
        1_000..=9_999 => format!("{:.2} ms", micros as f64 / 1e3),
        10_000..=99_999 => format!("{:.1} ms", micros as f64 / 1e3),
        100_000..=999_999 => format!("{:.0} ms", micros as f64 / 1e3),
        1_000_000..=59_999_999 => format!("{:.2} s", micros as f64 / 1e6),
        60_000_000..=3_599_999_999 => {
            let s = micros / 1_000_000;
            format!("{} min {} s", s / 60, s % 60)
        }
        _ => {
            let m = micros / 60_000_000;
            format!("{} h {} min", m / 60, m % 60)
        }
    }
}
