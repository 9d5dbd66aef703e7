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
    /// No per-event output: the summary only.
    None,
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
///
/// When the reader of `out` goes away (`choreo run big.jsonl | head`), the writer falls quiet
/// and the run goes on: a closed pipe is not an error.
#[derive(Debug)]
pub struct Writer<W: Write> {
    format: Format,
    out: W,
    closed: bool,
}

impl<W: Write> Writer<W> {
    pub fn new(format: Format, out: W) -> Self {
        Writer {
            format,
            out,
            closed: false,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn write(&mut self, envelope: &Envelope) -> io::Result<()> {
        match self.format {
            Format::Text => crate::service::narrate(envelope, &mut self.out),
            Format::Json => {
                serde_json::to_writer(&mut self.out, envelope)?;
                self.out.write_all(b"\n")
            }
            Format::None => Ok(()),
        }
    }

    /// A closed pipe quiets the writer; any other error is returned, once, and quiets it
    /// too (the run reports it; the other outputs go on).
    fn quiet_if_closed(&mut self, result: io::Result<()>) -> io::Result<()> {
        match result {
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {
                tracing::debug!("output closed by its reader; continuing without output");
                self.closed = true;
                Ok(())
            }
            Err(err) => {
                self.closed = true;
                Err(err)
            }
            ok => ok,
        }
    }
}

impl<W: Write> EventSink for Writer<W> {
    fn event(&mut self, envelope: &Envelope) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.write(envelope);
        self.quiet_if_closed(result)
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.out.flush();
        self.quiet_if_closed(result)
    }
}

/// Counts finished orders on a progress bar, then passes every event on to `inner`.
///
/// The bar draws on stderr only when stderr is a terminal, at most a few times a second;
/// otherwise there is no bar at all, and no cost.
#[derive(Debug)]
pub struct Progress<S> {
    bar: Option<indicatif::ProgressBar>,
    inner: S,
}

impl<S: EventSink> Progress<S> {
    /// `total`: the number of orders, when known before the run.
    pub fn new(total: Option<u64>, inner: S) -> Self {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Progress { bar: None, inner };
        }
        let bar = match total {
            Some(total) => indicatif::ProgressBar::new(total).with_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {human_pos}/{human_len} orders, {per_sec}, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            ),
            None => indicatif::ProgressBar::no_length().with_style(
                indicatif::ProgressStyle::with_template("{spinner} {human_pos} orders, {per_sec}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            ),
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
        Progress {
            bar: Some(bar),
            inner,
        }
    }
}

impl<S: EventSink> EventSink for Progress<S> {
    fn event(&mut self, envelope: &Envelope) -> io::Result<()> {
        if let Some(bar) = &self.bar {
            if envelope.kind().is_terminal() {
                bar.inc(1);
            }
        }
        self.inner.event(envelope)
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.inner.finish()
    }
}

/// Keeps every event: for tests and for callers that inspect a run afterwards.
impl EventSink for Vec<Envelope> {
    fn event(&mut self, envelope: &Envelope) -> io::Result<()> {
        self.push(envelope.clone());
        Ok(())
    }
}

/// Feeds every event to several sinks, in order (the output, a journal, a report).
#[allow(missing_debug_implementations)]
pub struct Fanout<'a>(pub Vec<&'a mut (dyn EventSink + Send)>);

impl EventSink for Fanout<'_> {
    fn event(&mut self, envelope: &Envelope) -> io::Result<()> {
        // Every sink gets every event, even after one fails: the journal stays complete when
        // stdout breaks.
        let mut first_error = None;
        for sink in self.0.iter_mut() {
            if let Err(err) = sink.event(envelope) {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn finish(&mut self) -> io::Result<()> {
        // Every sink is finished, even after one fails: a journal must be flushed.
        let mut first_error = None;
        for sink in self.0.iter_mut() {
            if let Err(err) = sink.finish() {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
