//! Input records and the files they come in.
//!
//! An input file (an "order file", whatever the choreography calls its records) is one JSON
//! object, a JSON array of them, or JSON Lines (one object per line, for files ending in
//! `.jsonl` or `.ndjson`). Every field is checked while it is parsed, so a bad value is
//! reported with the file, line and column where it stands, and the rest of the program only
//! ever sees valid [`Record`]s. Every record carries an id (`order_id`, or the field the
//! choreography names), the [`InstanceId`] of the instance it starts: a whole number, or a
//! string ([`TextId`], see [`ids`]); and it may carry an `at_ms` arrival time.

pub mod ids;
pub mod read_ahead;

pub use ids::{InstanceId, TextId};

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use derive_where::derive_where;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::recent::Recent;

/// Largest arrival time accepted, in milliseconds: 10 years of simulated time. Tokio's
/// clock, which the simulator runs on, goes no farther than about 30 years from the start,
/// so this leaves room for the orders' own steps.
pub const MAX_AT_MS: u64 = 10 * 365 * 24 * 3600 * 1000;

pub fn at_ms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    deserializer
        .deserialize_u64(WholeNumber {
            what: "at_ms",
            min: 0,
            max: MAX_AT_MS,
        })
        .map(Some)
}

/// Largest id accepted: the largest integer a JSON reader that uses doubles (JavaScript, jq)
/// still reads exactly, so ids survive a round trip through other tools.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// Largest quantity one order may ask for.
pub const MAX_QUANTITY: u64 = 1_000_000;

/// Deserializes `T` from an object only, `what` naming it in the message for anything else:
/// serde's derive also takes a struct's positional form (`[1, 101, 2]`), which is no record.
/// For a [`Record`]'s `Deserialize`: derive it on a private struct of the fields, and
/// convert.
pub fn object_only<'de, D, T>(deserializer: D, what: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Object<T>(&'static str, std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }

        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }

    deserializer.deserialize_map(Object(what, std::marker::PhantomData))
}

/// Writes a newtype for a whole number within 1 ..= `$max`, that deserializes with a plain
/// message for anything else and parses from the decimal text of a TOML key.
#[macro_export]
macro_rules! bounded_integer {
    ($(#[$doc:meta])* $name:ident($inner:ty), $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, $crate::serde::Serialize)]
        #[serde(transparent, crate = "choreo::serde")]
        pub struct $name($inner);

        impl $name {
            /// `None` unless `value` is within 1 ..= the documented maximum.
            pub fn new(value: u64) -> Option<Self> {
                (1..=$max).contains(&value).then(|| $name(value as $inner))
            }

            pub fn get(self) -> $inner {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        /// Parses the decimal text of an id, as in a TOML table key.
        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                text.parse().ok().and_then($name::new).ok_or_else(|| {
                    format!("`{text}` is not a {}: expected a whole number from 1 to {}", $what, $max)
                })
            }
        }

        impl<'de> $crate::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = deserializer.deserialize_u64($crate::input::WholeNumber {
                    what: $what,
                    min: 1,
                    max: $max,
                })?;
                Ok($name(value as $inner))
            }
        }
    };
}

/// One input record: the start of one instance of a choreography (an order, a booking).
///
/// Deserialize it from a JSON object only, with `deny_unknown_fields`, so a typo is an error
/// where it stands; an `at_ms` field, if it has one, through [`at_ms`].
pub trait Record: serde::de::DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static {
    /// The instance's id, unique within a run.
    fn id(&self) -> InstanceId;
    /// When the instance arrives, in milliseconds since the run started; `None` leaves it to
    /// the configured arrival process.
    fn at_ms(&self) -> Option<u64>;

    /// The field that holds the id in a record (`order_id`, `transfer_id`): how messages
    /// name an id.
    const ID_FIELD: &'static str = "order_id";

    /// Whether the ids are strings ([`TextId`]) rather than whole numbers ([`InstanceId`]):
    /// what journals and `--order` take. [`crate::choreography!`] sets it from the id
    /// field's type.
    const TEXT_IDS: bool = false;

    /// A record as `--help` shows it; by default the id alone (`{"transfer_id": 1, ...}`).
    const EXAMPLE: Option<&'static str> = None;

    /// What one instance is called in messages and the summary (`order`, `transfer`): the
    /// id's field without its `_id`, or `instance`.
    fn noun() -> &'static str {
        Self::ID_FIELD.strip_suffix("_id").unwrap_or("instance")
    }
}

/// Accepts a whole number in `min..=max` and says plainly what is wrong with anything else.
#[derive(Debug)]
pub struct WholeNumber {
    pub what: &'static str,
    pub min: u64,
    pub max: u64,
}

impl WholeNumber {
    fn out_of_range<E: de::Error>(&self, got: impl fmt::Display) -> E {
        E::custom(format_args!(
            "{} must be a whole number from {} to {}, got {got}",
            self.what, self.min, self.max
        ))
    }
}

impl Visitor<'_> for WholeNumber {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} as a whole number from {} to {}",
            self.what, self.min, self.max
        )
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if (self.min..=self.max).contains(&v) {
            Ok(v)
        } else {
            Err(self.out_of_range(v))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(self.out_of_range(v)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        // Debug keeps what marks it as not a whole number: `2.0`, `1e20`.
        Err(self.out_of_range(format_args!("{v:?}")))
    }
}

/// A table keyed by ids (`[products.101]`): TOML keys are strings, so each is parsed here.
/// A key must be the id as choreo writes it (`101`, not `0101` or `+101`): two spellings of
/// one id would otherwise be two entries of which one silently wins.
pub fn keyed_by_id<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: std::str::FromStr<Err = String> + Ord + fmt::Display,
    V: Deserialize<'de>,
{
    BTreeMap::<String, V>::deserialize(deserializer)?
        .into_iter()
        .map(|(key, value)| {
            let id: K = key.parse().map_err(serde::de::Error::custom)?;
            if id.to_string() != key {
                return Err(serde::de::Error::custom(format_args!(
                    "key `{key}` is not an id as written by choreo: write it `{id}`"
                )));
            }
            Ok((id, value))
        })
        .collect()
}

/// Why an order file could not be read. Every message starts with the file's path and, where
/// there is one, the line and column, so editors and terminals can jump to it.
#[derive(Debug, thiserror::Error)]
pub enum OrderFileError {
    #[error("{path}: cannot read order file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{path}: every line is invalid ({invalid} of them, each reported above); nothing was run"
    )]
    NoValidLine { path: PathBuf, invalid: u64 },
    #[error("{path}: is a directory, expected an order file")]
    Directory { path: PathBuf },
    #[error("{path}: larger than {} MiB, the most an order document (a JSON object or array) may hold; give many orders as JSON Lines (a .jsonl file, or `-` for standard input), which are streamed", limit / (1024 * 1024))]
    TooLarge { path: PathBuf, limit: u64 },
    #[error(
        "{path}: the file is empty, expected an order object, an array of orders, or JSON Lines"
    )]
    Empty { path: PathBuf },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Text taken from the input, made safe to echo in a message: control characters escaped
/// (a terminal would act on them), and cut after [`ECHO_MAX`] characters.
pub fn echo(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(ECHO_MAX));
    for (i, c) in text.chars().enumerate() {
        if i == ECHO_MAX {
            out.push_str("... (cut)");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The most characters of input [`echo`] repeats.
pub const ECHO_MAX: usize = 200;

impl OrderFileError {
    pub(crate) fn invalid(
        path: &Path,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        OrderFileError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message: echo(&message.into()),
        }
    }

    /// The message with the record's own id field where the id's reader says `order_id`
    /// (`expected transfer_id as a whole number ...`).
    fn naming_the_id<R: Record>(mut self) -> Self {
        if let OrderFileError::Invalid { message, .. } = &mut self {
            if R::ID_FIELD != "order_id" {
                *message = message.replace("order_id", R::ID_FIELD);
            }
        }
        self
    }

    /// Positions a `serde_json` error from text that starts at `(line, column)` of the file
    /// (a line of JSON Lines, an element of an array; `(0, 1)` for the whole file).
    fn from_json(
        path: &Path,
        (line, column): (usize, usize),
        source: &[u8],
        err: &serde_json::Error,
    ) -> Self {
        // serde_json appends " at line L column C" to its messages; we put the position first,
        // and say "an order object" where serde names the Rust type.
        let text = err.to_string();
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        let message = text
            .strip_suffix(&suffix)
            .unwrap_or(&text)
            .replace("struct Order", "an order object");
        let message = match err.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("not valid JSON: {message}")
            }
            _ => as_written(
                message,
                number_before(source, err.line(), err.column()).as_slice(),
            ),
        };
        // serde_json says column 0 for "before the line's first character".
        let at_column = err.column().max(1);
        let (line, column) = match (line, err.line()) {
            (0, at) => (at, at_column),
            (first, 1) => (first, column + at_column - 1),
            (first, at) => (first + at - 1, at_column),
        };
        Self::invalid(path, line, column, message)
    }
}

/// The number token that ends at 1-based `line` and `column` of `source`, as written (`1e2`,
/// `-0`): serde_json reports a bad value right after it.
fn number_before(source: &[u8], line: usize, column: usize) -> Option<&str> {
    let start_of_line = source
        .split(|b| *b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let end = (start_of_line + column).min(source.len());
    let number = |b: &u8| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E');
    let start = source[..end]
        .iter()
        .rposition(|b| !number(b))
        .map_or(0, |i| i + 1);
    std::str::from_utf8(&source[start..end])
        .ok()
        .filter(|token| token.bytes().any(|b| b.is_ascii_digit()))
}

/// A message ending `got <number>` shows the number as the input wrote it, where that
/// differs from the converted value (`got 1e2`, not `got 100.0`).
pub fn as_written(message: String, written: &[impl AsRef<str>]) -> String {
    let Some((head, got)) = message.rsplit_once(", got ") else {
        return message;
    };
    // TOML writes numbers JSON does not (`0x1`, `1_000`): read the token as TOML too.
    let value = |text: &str| -> Option<f64> {
        text.parse::<f64>().ok().or_else(|| {
            match format!("v = {text}")
                .parse::<toml::Table>()
                .ok()?
                .remove("v")?
            {
                toml::Value::Integer(i) => Some(i as f64),
                toml::Value::Float(f) => Some(f),
                _ => None,
            }
        })
    };
    // Of the numbers written, the one that is the number converted.
    let Some(token) = written
        .iter()
        .map(AsRef::as_ref)
        .find(|token| matches!((value(got), value(token)), (Some(a), Some(b)) if a == b))
    else {
        return message;
    };
    if got == token {
        return message;
    }
    format!("{head}, got {token}")
}

/// Where a run's orders come from.
#[derive(Debug)]
pub enum OrderSource<R> {
    /// One object or an array: read and checked whole before anything runs.
    Document(Vec<R>),
    /// JSON Lines: read one line at a time while the run goes on, so memory does not grow
    /// with the file.
    Lines(Box<JsonLines<R, LineReader>>),
}

/// What JSON Lines are read through: a file or standard input, buffered.
pub type LineReader = BufReader<Box<dyn Read + Send>>;

/// The path that means standard input: `choreo run -` reads JSON Lines from it, streamed.
pub const STDIN: &str = "-";

/// How standard input is named in messages.
pub const STDIN_NAME: &str = "<stdin>";

fn is_json_lines(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"))
}

/// The largest order document (`.json`) read: an order takes well under 1 KiB, so this is
/// a quarter of a million orders or so; JSON Lines, streamed, have no limit.
pub const MAX_DOCUMENT: u64 = 256 * 1024 * 1024;

/// Reads at most `limit` bytes of `reader`; `Ok(None)` if there is more.
pub fn read_bounded(reader: impl Read, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Opens an order file: a document is read and checked whole; JSON Lines are streamed, with
/// a repeated `order_id` refused while the first is among the last `duplicate_window` read.
pub fn open_order_file<R: Record>(
    path: &Path,
    duplicate_window: usize,
) -> Result<OrderSource<R>, OrderFileError> {
    let io_error = |source| OrderFileError::Io {
        path: path.to_owned(),
        source,
    };
    if path == Path::new(STDIN) {
        let reader: LineReader = BufReader::new(Box::new(io::stdin()));
        let lines = JsonLines::new(Path::new(STDIN_NAME), reader, duplicate_window);
        return Ok(OrderSource::Lines(Box::new(lines)));
    }
    if path.is_dir() {
        return Err(OrderFileError::Directory {
            path: path.to_owned(),
        });
    }
    if is_json_lines(path) {
        // An empty file is refused before the run, like an empty document. (Only a regular
        // file is looked at twice: a pipe's data would be gone.)
        let regular = std::fs::metadata(path).map_err(io_error)?.is_file();
        if regular && !has_content(path).map_err(io_error)? {
            return Err(OrderFileError::Empty {
                path: path.to_owned(),
            });
        }
        let file = File::open(path).map_err(io_error)?;
        let reader: LineReader = BufReader::new(Box::new(file));
        let lines = JsonLines::new(path, reader, duplicate_window);
        return Ok(OrderSource::Lines(Box::new(lines)));
    }
    // Bounded: a document read from an endless source (`/dev/zero`) must not take the memory.
    let bytes = read_bounded(File::open(path).map_err(io_error)?, MAX_DOCUMENT)
        .map_err(io_error)?
        .ok_or_else(|| OrderFileError::TooLarge {
            path: path.to_owned(),
            limit: MAX_DOCUMENT,
        })?;
    // A document is read whole before the run: the texts of its string ids must all be
    // remembered until their records are admitted (it has fewer records than bytes, and it is
    // in memory anyway). A table that forgets nothing is left so.
    if ids::window() != usize::MAX {
        ids::remember(bytes.len());
    }
    let text = std::str::from_utf8(&bytes).map_err(|err| {
        let valid = std::str::from_utf8(&bytes[..err.valid_up_to()]).unwrap_or_default();
        let (line, column) = position_of(valid, valid.len());
        OrderFileError::invalid(path, line, column, "the file is not valid UTF-8 text")
    })?;
    parse_json_document(path, text).map(OrderSource::Document)
}

/// Whether the file holds anything but white space; reads only up to the first other byte.
fn has_content(path: &Path) -> io::Result<bool> {
    let mut reader = BufReader::new(File::open(path)?);
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(false);
        }
        if chunk.iter().any(|b| !b.is_ascii_whitespace()) {
            return Ok(true);
        }
        let len = chunk.len();
        reader.consume(len);
    }
}

/// Reads and checks a whole order file of any kind: every order valid, every `order_id`
/// unique. For callers that want all orders up front (tests, small files).
pub fn read_order_file<R: Record>(path: &Path) -> Result<Vec<R>, OrderFileError> {
    match open_order_file(path, usize::MAX)? {
        OrderSource::Document(orders) => Ok(orders),
        OrderSource::Lines(lines) => lines.collect(),
    }
}

const BYTE_ORDER_MARK: &str = "\u{feff}";

/// Parses a document holding one order object or an array of orders.
pub fn parse_json_document<R: Record>(path: &Path, text: &str) -> Result<Vec<R>, OrderFileError> {
    // Editors on some systems start UTF-8 files with a byte-order mark; it is not content.
    let text = text.strip_prefix(BYTE_ORDER_MARK).unwrap_or(text);
    let start = text.trim_start();
    match start.chars().next() {
        None => Err(OrderFileError::Empty {
            path: path.to_owned(),
        }),
        Some('{') => {
            let order: R = serde_json::from_str(text).map_err(|err| {
                let mut err = OrderFileError::from_json(path, (0, 1), text.as_bytes(), &err)
                    .naming_the_id::<R>();
                if let OrderFileError::Invalid { message, .. } = &mut err {
                    if message.ends_with("trailing characters") {
                        message.push_str(
                            " after the first order (for one order per line, name the file .jsonl)",
                        );
                    }
                }
                err
            })?;
            Ok(vec![order])
        }
        Some('[') => parse_array(path, text),
        Some(_) => {
            let (line, column) = position_of(text, text.len() - start.len());
            Err(OrderFileError::invalid(
                path,
                line,
                column,
                "expected an order object `{...}` or an array of orders `[...]`",
            ))
        }
    }
}

/// An array is split into its elements' raw text first, so an error in an element, or a
/// repeated id, can be placed where that element starts.
fn parse_array<R: Record>(path: &Path, text: &str) -> Result<Vec<R>, OrderFileError> {
    let elements: Vec<&RawValue> = serde_json::from_str(text)
        .map_err(|err| OrderFileError::from_json(path, (0, 1), text.as_bytes(), &err))?;
    // Positions are worked out only for an error: scanning for each element would be
    // quadratic in the file's size.
    let start_of = |raw: &RawValue| {
        let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        position_of(text, offset)
    };
    let mut orders = Vec::with_capacity(elements.len());
    let mut first_index_of: HashMap<InstanceId, usize> = HashMap::with_capacity(elements.len());
    for (index, raw) in elements.iter().enumerate() {
        let order: R = serde_json::from_str(raw.get()).map_err(|err| {
            OrderFileError::from_json(path, start_of(raw), raw.get().as_bytes(), &err)
                .naming_the_id::<R>()
        })?;
        if let Some(first) = first_index_of.insert(order.id(), index) {
            let (line, column) = start_of(raw);
            return Err(OrderFileError::invalid(
                path,
                line,
                column,
                format!(
                    "duplicate {} {} (element {} repeats element {})",
                    R::ID_FIELD,
                    order.id(),
                    index + 1,
                    first + 1
                ),
            ));
        }
        orders.push(order);
    }
    Ok(orders)
}

/// Lines of a JSON Lines file, accounted for: every line read is an order, blank or invalid.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineStats {
    /// Lines read so far.
    pub lines: u64,
    pub blank_lines: u64,
    pub invalid_lines: u64,
}

impl LineStats {
    /// Lines that were valid orders.
    pub fn orders(&self) -> u64 {
        self.lines - self.blank_lines - self.invalid_lines
    }
}

/// Streams orders from JSON Lines: one object per line, blank lines skipped. Yields an error
/// for each invalid line (and goes on if asked to), and one for a file with no order at all.
#[derive_where(Debug)]
pub struct JsonLines<T, R> {
    path: PathBuf,
    #[derive_where(skip)]
    reader: R,
    line: Vec<u8>,
    /// The ids of recently read orders, with the line each was on.
    recent: Recent<InstanceId, usize>,
    records: std::marker::PhantomData<T>,
    stats: LineStats,
    done: bool,
    /// Set from outside (Ctrl-C): stop reading at the next line or chunk, whatever the
    /// source, so a signal is never held up by a long file or a slow pipe.
    stop: Option<Arc<AtomicBool>>,
    /// The source has a line that never ends (an endless source): nothing after it can be
    /// read, or counted.
    endless: bool,
    /// The end of the source was reached: every line was read.
    at_end: bool,
}

impl<T: Record, R: BufRead> JsonLines<T, R> {
    pub fn new(path: &Path, reader: R, duplicate_window: usize) -> Self {
        JsonLines {
            path: path.to_owned(),
            reader,
            line: Vec::new(),
            recent: Recent::new(duplicate_window),
            records: std::marker::PhantomData,
            stop: None,
            endless: false,
            at_end: false,
            stats: LineStats::default(),
            done: false,
        }
    }

    /// Stops reading once `stop` is set: the rest of the source is left unread.
    pub fn stop_when(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::Relaxed))
    }

    pub fn stats(&self) -> LineStats {
        self.stats
    }

    /// Whether every line of the source was read (not stopped, or cut short, before its end).
    pub fn read_to_the_end(&self) -> bool {
        self.at_end
    }

    /// Reads the rest of the file without parsing it; returns how many lines it held.
    pub fn skip_rest(&mut self) -> Result<u64, OrderFileError> {
        self.done = true;
        let mut unread = 0;
        let mut ends_without_newline = false;
        // An endless source cannot be counted; a stopped one is not waited for.
        while !self.endless && !self.stopped() {
            let chunk = self
                .reader
                .fill_buf()
                .map_err(|source| OrderFileError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if chunk.is_empty() {
                break;
            }
            unread += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            ends_without_newline = chunk.last() != Some(&b'\n');
            let len = chunk.len();
            self.reader.consume(len);
        }
        Ok(unread + u64::from(ends_without_newline))
    }

    fn parse(&mut self, line_no: usize) -> Result<T, OrderFileError> {
        // Without its line ending, an object cut short is reported on its own line.
        let mut bytes = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if line_no == 1 {
            bytes = bytes
                .strip_prefix(BYTE_ORDER_MARK.as_bytes())
                .unwrap_or(bytes);
        }
        let order: T = serde_json::from_slice(bytes).map_err(|err| {
            OrderFileError::from_json(&self.path, (line_no, 1), bytes, &err).naming_the_id::<T>()
        })?;
        if let Some(first) = self.recent.get(&order.id()).copied() {
            let column = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count() + 1;
            return Err(OrderFileError::invalid(
                &self.path,
                line_no,
                column,
                format!(
                    "duplicate {} {} (first on line {first})",
                    T::ID_FIELD,
                    order.id()
                ),
            ));
        }
        self.recent.insert(order.id(), line_no);
        Ok(order)
    }
}

impl<T, S: Read> JsonLines<T, BufReader<S>> {
    /// Whether a whole line is buffered already: reading it cannot wait on the source.
    pub fn line_buffered(&self) -> bool {
        self.reader.buffer().contains(&b'\n')
    }
}

impl<T: Record, R: BufRead> Iterator for JsonLines<T, R> {
    type Item = Result<T, OrderFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            if self.stopped() {
                self.done = true;
                return None;
            }
            self.line.clear();
            // A line is read up to MAX_LINE bytes and its line ending; the rest of a longer one
            // is skipped unread, so one huge line cannot take the memory with it.
            let mut limited = (&mut self.reader).take(MAX_LINE as u64 + 2);
            match limited.read_until(b'\n', &mut self.line) {
                Ok(0) => {
                    self.done = true;
                    self.at_end = true;
                    if self.stats.lines == self.stats.blank_lines {
                        return Some(Err(OrderFileError::Empty {
                            path: self.path.clone(),
                        }));
                    }
                }
                Ok(_) if content_len(&self.line) > MAX_LINE => {
                    self.stats.lines += 1;
                    self.stats.invalid_lines += 1;
                    // Only a line cut off by the limit has a rest to skip: one that ended
                    // within it was read to its end already.
                    let cut_off = self.line.last() != Some(&b'\n');
                    if cut_off {
                        match skip_line(&mut self.reader, self.stop.as_deref()) {
                            Ok(Skipped::ToItsEnd) => {}
                            Ok(Skipped::Stopped) => {
                                self.done = true;
                                return None;
                            }
                            Ok(Skipped::Endless) => {
                                self.done = true;
                                self.endless = true;
                                return Some(Err(OrderFileError::invalid(
                                    &self.path,
                                    self.stats.lines as usize,
                                    MAX_LINE + 1,
                                    format!("line goes on past {} MiB without ending: not JSON Lines (an endless source?); nothing after it is read", MAX_SKIP / (1024 * 1024)),
                                )));
                            }
                            Err(source) => {
                                self.done = true;
                                return Some(Err(OrderFileError::Io {
                                    path: self.path.clone(),
                                    source,
                                }));
                            }
                        }
                    }
                    return Some(Err(OrderFileError::invalid(
                        &self.path,
                        self.stats.lines as usize,
                        MAX_LINE + 1,
                        format!(
                            "line longer than {MAX_LINE} bytes (the limit); an order takes well under 1 KiB"
                        ),
                    )));
                }
                Ok(_) => {
                    self.stats.lines += 1;
                    if self.line.iter().all(u8::is_ascii_whitespace) {
                        self.stats.blank_lines += 1;
                        continue;
                    }
                    let parsed = self.parse(self.stats.lines as usize);
                    if parsed.is_err() {
                        self.stats.invalid_lines += 1;
                    }
                    return Some(parsed);
                }
                Err(source) => {
                    self.done = true;
                    return Some(Err(OrderFileError::Io {
                        path: self.path.clone(),
                        source,
                    }));
                }
            }
        }
        None
    }
}

/// The longest JSON Lines line read, without its line ending; longer ones are invalid.
pub const MAX_LINE: usize = 64 * 1024;

/// A line's length without its line ending (`\n` or `\r\n`).
fn content_len(line: &[u8]) -> usize {
    let line = line
        .strip_suffix(b"\n")
        .map_or(line, |l| l.strip_suffix(b"\r").unwrap_or(l));
    line.len()
}

/// The most of one overlong line skipped in search of its end: a longer one means a source
/// that is not JSON Lines at all (`/dev/zero`), and reading stops there.
pub const MAX_SKIP: u64 = 64 * 1024 * 1024;

enum Skipped {
    ToItsEnd,
    Stopped,
    Endless,
}

/// Consumes the rest of the current line, without keeping it: up to [`MAX_SKIP`] bytes, and
/// only until `stop` is set.
fn skip_line(reader: &mut impl BufRead, stop: Option<&AtomicBool>) -> io::Result<Skipped> {
    let mut skipped = 0u64;
    loop {
        if stop.is_some_and(|stop| stop.load(Ordering::Relaxed)) {
            return Ok(Skipped::Stopped);
        }
        if skipped > MAX_SKIP {
            return Ok(Skipped::Endless);
        }
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(Skipped::ToItsEnd);
        }
        match chunk.iter().position(|b| *b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(Skipped::ToItsEnd);
            }
            None => {
                let len = chunk.len();
                reader.consume(len);
                skipped += len as u64;
            }
        }
    }
}

/// 1-based line and column of a byte offset.
pub fn position_of(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}
