//! The journal: every envelope of a run, as JSON Lines, and reading it back.
//!
//! A journal line is exactly what `--format json` prints: the envelope (sequence, time, ids,
//! correlation, causation, emitter) and the event with its facts. It is complete: the run's
//! text output, traces and diagrams are all derived from it.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

use crate::engine::sink::EventSink;
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

/// A journal writing to `file`, which is at `path` (for messages).
pub fn create<C: Choreography>(path: &Path, file: File) -> JournalWriter<C> {
    JournalWriter {
        path: path.to_owned(),
        writer: Writer::new(Format::Json, BufWriter::new(file)),
    }
}

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
        (&mut reader)
            .take(MAX_LINE as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(io_error)?;
        if line.is_empty() {
            break;
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
                    "this is an order file, not a journal: `run FILE --journal JOURNAL` writes the journal that replay, trace and diagram order read".into(),
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
