//! The journal: every envelope of a run, as JSON Lines, and reading it back.
//!
//! Its first line says how to repeat the run, `{"repeat": {...}}`: choreo's version, the
//! schedule's, the clock, the seed and the effective config (the summary's `repeat`). Every
//! line after it is exactly what `--format json` prints: the envelope (sequence, time, ids,
//! correlation, causation, emitter) and the event with its facts. It is complete: the run's
//! text output, traces and diagrams are all derived from it. Journals written before the
//! first line was (and a counterexample's, which has no seed) start with an event; they read
//! the same.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::engine::sink::EventSink;
use crate::engine::stats::Repeat;
use crate::engine::Choreography;
use crate::engine::Envelope;
use crate::input::MAX_LINE;
use crate::view::output::{Format, Writer};

/// Writes a journal to a file, buffered; flushed by [`EventSink::finish`], which the run
/// calls however it ends. An error names the journal.
#[derive(Debug)]
pub struct JournalWriter<C> {
    path: PathBuf,
    writer: Writer<C, BufWriter<File>>,
}

/// A journal's first line.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    repeat: Repeat,
}

/// A journal writing to `file`, which is at `path` (for messages), starting with how to
/// `repeat` the run when there is one to record.
pub fn create<C: Choreography>(
    path: &Path,
    file: File,
    repeat: Option<&Repeat>,
) -> io::Result<JournalWriter<C>> {
    let mut out = BufWriter::new(file);
    if let Some(repeat) = repeat {
        let header = Header {
            repeat: repeat.clone(),
        };
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
    }
    Ok(JournalWriter {
        path: path.to_owned(),
        writer: Writer::new(Format::Json, out),
    })
}

/// How to repeat the run a journal records, from its first line; `None` for a journal
/// without one.
pub fn repeat_of(path: &Path) -> Result<Option<Repeat>, JournalError> {
    let io_error = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io_error)?);
    let mut line = Vec::new();
    // The header holds the whole config: bounded, but not by a line of events' bound.
    (&mut reader)
        .take(MAX_HEADER as u64)
        .read_until(b'\n', &mut line)
        .map_err(io_error)?;
    Ok(serde_json::from_slice::<Header>(&line)
        .ok()
        .map(|header| header.repeat))
}

/// The most a first line may hold: the config (itself at most 1 MiB as a file) and a little.
const MAX_HEADER: usize = 2 << 20;

impl<C: Choreography> JournalWriter<C> {
    fn named(&self, err: io::Error) -> io::Error {
        io::Error::new(
            err.kind(),
            format!("{}: cannot write the journal: {err}", self.path.display()),
        )
    }
}

impl<C: Choreography> EventSink<C> for JournalWriter<C> {
    fn event(&mut self, envelope: &Envelope<C>) -> io::Result<()> {
        self.writer.event(envelope).map_err(|err| self.named(err))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush().map_err(|err| self.named(err))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.writer.finish().map_err(|err| self.named(err))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: cannot read journal: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}: not a journal line: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Reads a whole journal, a line at a time: each line is bounded ([`MAX_LINE`]), so a file
/// that is not a journal (or an endless source) fails at its first line instead of filling
/// the memory.
pub fn read<C: Choreography>(path: &Path) -> Result<Vec<Envelope<C>>, JournalError> {
    let io_error = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let invalid = |line: usize, message: String| JournalError::Invalid {
        path: path.to_owned(),
        line,
        message,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io_error)?);
    let mut events = Vec::new();
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let most = if number == 1 {
            MAX_HEADER
        } else {
            MAX_LINE + 2
        };
        (&mut reader)
            .take(most as u64)
            .read_until(b'\n', &mut line)
            .map_err(io_error)?;
        if line.is_empty() {
            break;
        }
        if number == 1 {
            if serde_json::from_slice::<Header>(&line).is_ok() {
                continue;
            }
            // Not the first line of how to repeat the run: an event, bound as every other.
            line.truncate(MAX_LINE + 2);
        }
        let complete = line.ends_with(b"\n");
        if !complete && line.len() > MAX_LINE {
            return Err(invalid(
                number,
                format!("line longer than {MAX_LINE} bytes; a journal line takes well under 1 KiB"),
            ));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Envelope<C>>(&line) {
            Ok(envelope) => events.push(envelope),
            // A last line without its newline was cut off by a killed process: the journal
            // up to it is still whole.
            Err(err) if !complete && err.is_eof() => {
                tracing::warn!(line = number, "journal ends with a cut-off line; ignored");
            }
            // An order file given where a journal is expected: say so plainly.
            Err(_) if serde_json::from_slice::<C::Input>(&line).is_ok() => {
                return Err(invalid(
                    number,
                    format!(
                        "this is {} file, not a journal: `run FILE --journal JOURNAL` writes the journal that replay, trace and diagram order read",
                        crate::plural::a(<C::Input as crate::input::Record>::noun())
                    ),
                ));
            }
            Err(err) => return Err(invalid(number, err.to_string())),
        }
    }
    Ok(events)
}

/// Prints the run's text output again, from its journal.
pub fn replay<C: Choreography>(events: &[Envelope<C>], out: impl io::Write) -> io::Result<()> {
    let mut writer = Writer::<C, _>::new(Format::Text, out);
    for envelope in events {
        writer.event(envelope)?;
    }
    writer.finish()
}
