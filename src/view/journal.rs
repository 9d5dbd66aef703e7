//! The journal: every envelope of a run, as JSON Lines, and reading it back.
//!
//! A journal line is exactly what `--format json` prints: the envelope (sequence, time, ids,
//! correlation, causation, emitter) and the event with its facts. It is complete: the run's
//! text output, traces and diagrams are all derived from it.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use crate::engine::sink::EventSink;
use crate::engine::Choreography;
use crate::engine::Envelope;
use crate::view::output::{Format, Writer};

/// Writes a journal to a file, buffered; flushed by [`EventSink::finish`], which the
/// supervisor calls however the run ends.
pub type JournalWriter<C> = Writer<C, BufWriter<File>>;

/// A journal writing to `file`.
pub fn create<C: Choreography>(file: File) -> JournalWriter<C> {
    Writer::new(Format::Json, BufWriter::new(file))
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

/// Reads a whole journal.
pub fn read<C: Choreography>(path: &Path) -> Result<Vec<Envelope<C>>, JournalError> {
    let io_error = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io_error)?;
    let mut events = Vec::new();
    let lines: Vec<&str> = text.split('\n').collect();
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Envelope<C>>(line) {
            Ok(envelope) => events.push(envelope),
            // A last line without its newline was cut off by a killed process: the journal
            // up to it is still whole.
            Err(err) if index + 1 == lines.len() && err.is_eof() => {
                tracing::warn!(
                    line = index + 1,
                    "journal ends with a cut-off line; ignored"
                );
            }
            Err(err) => {
                return Err(JournalError::Invalid {
                    path: path.to_owned(),
                    line: index + 1,
                    message: err.to_string(),
                })
            }
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
