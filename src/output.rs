//! What the user sees, derived from the event stream in bus order.
//!
//! The supervisor feeds every event to one [`EventSink`], in sequence order, from one task:
//! output never depends on which service task happened to run first.

use std::io::{self, Write};

use crate::event::Envelope;

/// How events are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The reference's `Service: message` lines.
    #[default]
    Text,
    /// One JSON object per event, per line (the envelope: seq, id, event, order_id, service,
    /// cause, and the event's facts).
    Json,
}

/// Receives every event of a run, in bus order.
pub trait EventSink {
    fn event(&mut self, envelope: &Envelope) -> io::Result<()>;

    /// Called once after the last event: flush what is buffered.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes events in `format` to `out`.
#[derive(Debug)]
pub struct Writer<W: Write> {
    format: Format,
    out: W,
}

impl<W: Write> Writer<W> {
    pub fn new(format: Format, out: W) -> Self {
        Writer { format, out }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> EventSink for Writer<W> {
    fn event(&mut self, envelope: &Envelope) -> io::Result<()> {
        match self.format {
            Format::Text => crate::service::narrate(envelope, &mut self.out),
            Format::Json => {
                serde_json::to_writer(&mut self.out, envelope)?;
                self.out.write_all(b"\n")
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Keeps every event: for tests and for callers that inspect a run afterwards.
impl EventSink for Vec<Envelope> {
    fn event(&mut self, envelope: &Envelope) -> io::Result<()> {
        self.push(envelope.clone());
        Ok(())
    }
}
