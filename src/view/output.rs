//! What the user sees, derived from the event stream in bus order.
//!
//! The observer feeds every event to one [`EventSink`], in sequence order, from one task:
//! output never depends on which service task happened to run first.

use std::fmt;
use std::io::{self, Write};

use std::marker::PhantomData;

use crate::engine::sink::EventSink;
use crate::engine::stats::Finished;
use crate::engine::Choreography;
use crate::engine::Envelope;
use crate::engine::EventId;
use crate::engine::Name;

/// How events are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The reference's `Service: message` lines.
    #[default]
    Text,
    /// One JSON object per event, per line (the envelope: seq, id, event, the id under the
    /// input's own key, service, cause, and the event's facts).
    Json,
    /// No per-event output: the summary only.
    None,
}

/// Writes events in `format` to `out`.
///
/// When the reader of `out` goes away (`choreo run big.jsonl | head`), the writer falls quiet
/// and the run goes on: a closed pipe is not an error.
#[derive(Debug)]
pub struct Writer<C, W: Write> {
    format: Format,
    out: W,
    closed: bool,
    json: JsonLines<C>,
    choreography: PhantomData<fn() -> C>,
}

impl<C: Choreography, W: Write> Writer<C, W> {
    pub fn new(format: Format, out: W) -> Self {
        Writer {
            format,
            out,
            closed: false,
            json: JsonLines::default(),
            choreography: PhantomData,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn write(&mut self, envelope: &Envelope<C>) -> io::Result<()> {
        match self.format {
            Format::Text => C::narrate(envelope, &mut self.out),
            Format::Json => self.json.write(envelope, &mut self.out),
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

impl<C: Choreography, W: Write> EventSink<C> for Writer<C, W> {
    fn event(&mut self, envelope: &Envelope<C>) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.write(envelope);
        self.quiet_if_closed(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.out.flush();
        self.quiet_if_closed(result)
    }
}

/// Writes envelopes as the JSON lines their `Serialize` makes (seq, at_us, id, the id under
/// the input's id field, service, cause, then the event's own keys), byte for byte, but directly: the
/// derived form goes through `#[serde(flatten)]`, which buffers every key of the event as a
/// value first, and writes the ids through `Display`. Each kind's and service's JSON is made
/// once, and a line is put together in one buffer and written at once.
#[derive(Debug)]
pub struct JsonLines<C> {
    /// Each kind's name as it is written inside a JSON string, by [`Name::index`].
    kinds: Vec<Vec<u8>>,
    /// Each service as a JSON value, by [`Name::index`].
    services: Vec<Vec<u8>>,
    /// `,"order_id":`, with the input's own id field.
    id_key: Vec<u8>,
    line: Vec<u8>,
    choreography: PhantomData<fn() -> C>,
}

impl<C: Choreography> Default for JsonLines<C> {
    fn default() -> Self {
        // A name's JSON string, less its quotes: what it is inside any longer string.
        let inside = |name: &str| {
            let quoted = serde_json::to_vec(name).unwrap_or_default();
            quoted[1..quoted.len().max(2) - 1].to_vec()
        };
        let mut kinds = vec![Vec::new(); C::Kind::ALL.len()];
        for kind in C::Kind::ALL {
            kinds[kind.index()] = inside(kind.name());
        }
        let mut services = vec![Vec::new(); C::Service::ALL.len()];
        for service in C::Service::ALL {
            services[service.index()] = serde_json::to_vec(service).unwrap_or_default();
        }
        let id_field = <C::Input as crate::input::Record>::ID_FIELD;
        let id_key = format!(",{}:", serde_json::Value::from(id_field)).into_bytes();
        JsonLines {
            kinds,
            services,
            id_key,
            line: Vec::new(),
            choreography: PhantomData,
        }
    }
}

impl<C: Choreography> JsonLines<C> {
    /// Writes `envelope` as one line to `out`.
    pub fn write(&mut self, envelope: &Envelope<C>, out: &mut impl Write) -> io::Result<()> {
        let line = &mut self.line;
        line.clear();
        let mut digits = itoa::Buffer::new();
        line.extend_from_slice(b"{\"seq\":");
        line.extend_from_slice(digits.format(envelope.seq).as_bytes());
        line.extend_from_slice(b",\"at_us\":");
        line.extend_from_slice(digits.format(envelope.at_us).as_bytes());
        line.extend_from_slice(b",\"id\":");
        write_id(&self.kinds, &envelope.id, line);
        line.extend_from_slice(&self.id_key);
        envelope.order_id.write_json(line);
        line.extend_from_slice(b",\"service\":");
        line.extend_from_slice(&self.services[envelope.service.index()]);
        line.extend_from_slice(b",\"cause\":");
        match &envelope.cause {
            Some(cause) => write_id(&self.kinds, cause, line),
            None => line.extend_from_slice(b"null"),
        }
        // An event is a map with its kind's key at least (`#[serde(tag = "event")]`): its
        // keys follow the envelope's, its `{` made the comma between them. Anything else is
        // left to the derived form.
        let keys = line.len();
        serde_json::to_writer(&mut *line, &envelope.event)?;
        if line.get(keys) != Some(&b'{') || line.len() - keys < 2 {
            serde_json::to_writer(&mut *out, envelope)?;
            return out.write_all(b"\n");
        }
        line[keys] = b',';
        line.push(b'\n');
        out.write_all(line)
    }
}

/// An event id as its `Serialize` writes it: the string `order.Kind` (neither the digits nor
/// the dot are escaped; a string id is, as JSON escapes it).
fn write_id<K: crate::name::Name>(kinds: &[Vec<u8>], id: &EventId<K>, line: &mut Vec<u8>) {
    match id.order_id.number() {
        Some(n) => {
            line.push(b'"');
            line.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        }
        None => {
            id.order_id.write_json(line);
            // The string's closing quote: the kind goes inside it.
            line.pop();
        }
    }
    line.push(b'.');
    line.extend_from_slice(&kinds[id.kind.index()]);
    line.push(b'"');
}

/// Whether a progress bar is drawn: only on a terminal stderr, and not when `writes_stdout`
/// and stdout is that terminal too, where the bar and the lines would garble each other.
pub fn progress_wanted(writes_stdout: bool) -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && !(writes_stdout && std::io::stdout().is_terminal())
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

impl<S> Progress<S> {
    /// `total`: the number of orders, when known before the run.
    pub fn new(total: Option<u64>, inner: S) -> Self {
        Self::drawn_if(total, inner, progress_wanted(true))
    }

    /// A bar only if `draw`; see [`progress_wanted`].
    pub fn drawn_if(total: Option<u64>, inner: S, draw: bool) -> Self {
        if !draw {
            return Progress { bar: None, inner };
        }
        // Orders a second, as a whole number: `{per_sec}` would show four decimals.
        let rate = |state: &indicatif::ProgressState, out: &mut dyn fmt::Write| {
            let _ = write!(out, "{:.0} orders/s", state.per_sec());
        };
        let style = |template: &str, fallback: indicatif::ProgressStyle| {
            indicatif::ProgressStyle::with_template(template)
                .map(|style| style.with_key("rate", rate))
                .unwrap_or(fallback)
        };
        let bar = match total {
            Some(total) => indicatif::ProgressBar::new(total).with_style(style(
                "{bar:30} {human_pos}/{human_len} orders, {rate}, ETA {eta}",
                indicatif::ProgressStyle::default_bar(),
            )),
            None => indicatif::ProgressBar::no_length().with_style(style(
                "{spinner} {human_pos} orders, {rate}",
                indicatif::ProgressStyle::default_spinner(),
            )),
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
        Progress {
            bar: Some(bar),
            inner,
        }
    }
}

impl<C: Choreography, S: EventSink<C>> EventSink<C> for Progress<S> {
    fn event(&mut self, envelope: &Envelope<C>) -> io::Result<()> {
        if let Some(bar) = &self.bar {
            if envelope.is_terminal() {
                bar.inc(1);
            }
        }
        self.inner.event(envelope)
    }

    fn finished(&mut self, instance: &Finished) {
        self.inner.finished(instance);
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.inner.finish()
    }
}
