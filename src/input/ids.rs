//! Instance ids as people write them: a whole number (`17`) or a string (`"T-2026-0001"`, a
//! UUID), chosen by the choreography through its record's id field ([`InstanceId`] or
//! [`TextId`]).
//!
//! Inside the engine an id is always an [`InstanceId`]: 8 bytes, `Copy`, hashed and compared
//! as a number, so the hot path does not care which kind of id a choreography chose. A number
//! is its own key. A string gets a key from this module's table of texts the first time it is
//! read (an input record, a journal line, `--order`), and the same key for as long as the
//! table remembers it; where an id is shown (output, journal, trace, report, errors) its key
//! is turned back into the text.
//!
//! The table is bounded, like every memory of an endless stream: it remembers the texts of the
//! last [`window`] ids read or shown, in two generations (see [`crate::recent::Recent`]), plus
//! the texts *held*: an instance in flight, an instance a report keeps as a sample. A text costs
//! its length plus [`ENTRY_BYTES`], so its memory is at most
//! `2 x window x (MAX_TEXT_ID + ENTRY_BYTES)` plus what is held; [`bytes()`] says how much it is.
//! `run` sets the window to `input.duplicate_window` (at least [`MIN_WINDOW`]) plus the orders
//! the reader may hold ahead of the run ([`crate::input::read_ahead::MOST_AHEAD`]), and to a
//! document's length for a document: a repeated id is recognised as long as the reader
//! remembers it, and an order's text is still there when it is admitted. A command that reads a whole journal
//! into memory anyway (`replay`, `trace`, ...) leaves the window unbounded.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustc_hash::FxHashMap;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{WholeNumber, MAX_ID};

/// The bit that marks a key as a text's: numbers are at most [`MAX_ID`], far below it.
const TEXT: u64 = 1 << 63;

/// The longest string id, in bytes (a UUID takes 36).
pub const MAX_TEXT_ID: usize = 128;

/// What one remembered text costs besides its own bytes: its shared allocation's counts, and
/// an entry in each of the two maps that find a text by key and a key by text.
pub const ENTRY_BYTES: usize = 96;

/// The fewest ids the table remembers, whatever the duplicate window.
pub const MIN_WINDOW: usize = 1024;

/// An instance's id (`order_id`, `transfer_id` in files and journals): unique within a run.
///
/// A whole number from 1 to [`MAX_ID`] is its own value; a string id ([`TextId`]) is a key
/// into this module's table (see the [module](self) documentation). As a record's field, this
/// type reads a whole number only: a choreography whose ids are strings types its field
/// [`TextId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(u64);

impl InstanceId {
    /// `None` unless `value` is within 1 ..= [`MAX_ID`].
    pub fn new(value: u64) -> Option<Self> {
        (1..=MAX_ID).contains(&value).then_some(InstanceId(value))
    }

    /// The id of the string `text`, checked as [`TextId`] checks it: `Err` says what is wrong.
    pub fn text(text: &str) -> Result<Self, String> {
        check_text(text)?;
        Ok(InstanceId(table().intern(text)))
    }

    /// The whole number; for a string id, its key (see [`number`](Self::number)).
    pub fn get(self) -> u64 {
        self.0
    }

    /// The whole number, `None` for a string id.
    pub fn number(self) -> Option<u64> {
        (!self.is_text()).then_some(self.0)
    }

    /// Whether the id is a string.
    pub fn is_text(self) -> bool {
        self.0 & TEXT != 0
    }

    /// A string id's text; `None` for a number, or a text the table forgot.
    pub fn as_text(self) -> Option<Arc<str>> {
        self.is_text().then(|| table().resolve(self.0)).flatten()
    }

    /// Keeps a string id's text until as many [`release`](Self::release)s: an instance in
    /// flight, a sample a view shows at its end. Nothing for a number.
    pub fn hold(self) {
        if self.is_text() {
            table().hold(self.0, true);
        }
    }

    /// Undoes one [`hold`](Self::hold).
    pub fn release(self) {
        if self.is_text() {
            table().hold(self.0, false);
        }
    }

    /// Writes the id as a JSON value (a number, or a string) to `out`.
    pub fn write_json(self, out: &mut Vec<u8>) {
        match self.number() {
            Some(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            None => {
                // Writing to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, &self.to_string());
            }
        }
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.number() {
            Some(n) => fmt::Display::fmt(&n, f),
            None => match table().resolve(self.0) {
                Some(text) => f.write_str(&text),
                // Held texts (instances in flight, samples) are never forgotten; this is an
                // id shown long after its instance ended, past the window.
                None => write!(f, "<forgotten id #{}>", self.0 & !TEXT),
            },
        }
    }
}

/// Parses the decimal text of an id, as in a TOML table key.
impl std::str::FromStr for InstanceId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.parse().ok().and_then(InstanceId::new).ok_or_else(|| {
            format!("`{text}` is not a order_id: expected a whole number from 1 to {MAX_ID}")
        })
    }
}

impl Serialize for InstanceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.number() {
            Some(n) => serializer.serialize_u64(n),
            None => serializer.collect_str(self),
        }
    }
}

/// Reads a whole number only (see [`TextId`] for strings).
impl<'de> Deserialize<'de> for InstanceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserializer.deserialize_u64(WholeNumber {
            what: "order_id",
            min: 1,
            max: MAX_ID,
        })?;
        Ok(InstanceId(value))
    }
}

/// A string instance id, as a record's id field holds it: `"transfer_id": "T-2026-0001"`.
/// Typing the field `TextId` instead of [`InstanceId`] is how a choreography chooses string
/// ids. A text is 1 to [`MAX_TEXT_ID`] bytes with no control character; anything else (a
/// number, an empty string) is an error that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TextId(pub InstanceId);

impl fmt::Display for TextId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for TextId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TextId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Text).map(TextId)
    }
}

/// What a string id must be, said in messages.
const TEXT_EXPECTED: &str = "a string of 1 to 128 bytes, no control characters";

/// Whether `text` may be a string id: `Err` says what is wrong.
pub(crate) fn check_text(text: &str) -> Result<(), String> {
    if text.is_empty() {
        Err(format!(
            "order_id must be {TEXT_EXPECTED}, got an empty string"
        ))
    } else if text.len() > MAX_TEXT_ID {
        Err(format!(
            "order_id must be {TEXT_EXPECTED}, got {} bytes",
            text.len()
        ))
    } else if text.chars().any(char::is_control) {
        Err(format!(
            "order_id must be {TEXT_EXPECTED}, got {:?}",
            super::echo(text)
        ))
    } else {
        Ok(())
    }
}

/// Reads a string id; says plainly what is wrong with anything else.
struct Text;

impl Visitor<'_> for Text {
    type Value = InstanceId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "order_id as {TEXT_EXPECTED}")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<InstanceId, E> {
        InstanceId::text(v).map_err(E::custom)
    }
}

/// Reads either kind of id, as journals and `--order` hold them: a whole number, or a string.
/// Whether it is the kind the choreography chose is for the caller to check.
pub(crate) struct AnyId;

impl Visitor<'_> for AnyId {
    type Value = InstanceId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "order_id as a whole number or a string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<InstanceId, E> {
        WholeNumber {
            what: "order_id",
            min: 1,
            max: MAX_ID,
        }
        .visit_u64(v)
        .map(InstanceId)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<InstanceId, E> {
        WholeNumber {
            what: "order_id",
            min: 1,
            max: MAX_ID,
        }
        .visit_i64(v)
        .map(InstanceId)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<InstanceId, E> {
        Text.visit_str(v)
    }
}

impl<'de> Deserialize<'de> for AnyIdOf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyId).map(AnyIdOf)
    }
}

/// An id of either kind, read with [`AnyId`].
pub(crate) struct AnyIdOf(pub InstanceId);

/// A record's id field: [`InstanceId`] (a whole number) or [`TextId`] (a string).
pub trait IdField: Copy {
    /// Whether ids of this field are strings.
    const TEXT: bool;
    fn instance_id(self) -> InstanceId;
}

impl IdField for InstanceId {
    const TEXT: bool = false;
    fn instance_id(self) -> InstanceId {
        self
    }
}

impl IdField for TextId {
    const TEXT: bool = true;
    fn instance_id(self) -> InstanceId {
        self.0
    }
}

/// Whether the record field `field` takes out holds string ids; for [`crate::choreography!`]
/// (`text_ids(|record: Transfer| record.transfer_id)`), which knows the field's name only.
pub const fn text_ids<R, T: IdField>(_field: fn(R) -> T) -> bool {
    T::TEXT
}

/// Sets how many of the latest ids the table remembers the texts of (at least
/// [`MIN_WINDOW`]); it never shrinks, so that runs side by side in one process (tests) do not
/// forget each other's.
pub fn remember(window: usize) {
    let mut table = table();
    let window = window.max(MIN_WINDOW);
    if table.window == usize::MAX || window > table.window {
        table.window = window;
    }
}

/// How many of the latest ids the table remembers the texts of; `usize::MAX` until a run says.
pub fn window() -> usize {
    table().window
}

/// The bytes the table's texts take now, as accounted (see the [module](self) documentation).
pub fn bytes() -> usize {
    table().bytes()
}

/// Whether `id`'s text is held (see [`InstanceId::hold`]).
#[cfg(test)]
pub(crate) fn is_held(id: InstanceId) -> bool {
    table()
        .held
        .as_ref()
        .is_some_and(|held| held.contains_key(&id.0))
}

fn table() -> MutexGuard<'static, Table> {
    static TABLE: Mutex<Table> = Mutex::new(Table::new());
    // A panic elsewhere while it was held leaves the table whole: every change is one insert
    // or one move.
    TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The texts of string ids: two generations of the latest, and those held.
#[derive(Debug)]
pub(crate) struct Table {
    young: Generation,
    old: Generation,
    /// How many holds each held key has.
    held: Option<FxHashMap<u64, u32>>,
    window: usize,
    next: u64,
}

#[derive(Debug, Default)]
struct Generation {
    keys: FxHashMap<Arc<str>, u64>,
    texts: FxHashMap<u64, Arc<str>>,
    bytes: usize,
}

impl Generation {
    fn insert(&mut self, key: u64, text: Arc<str>) {
        self.bytes += text.len() + ENTRY_BYTES;
        self.keys.insert(Arc::clone(&text), key);
        self.texts.insert(key, text);
    }

    fn remove(&mut self, key: u64) -> Option<Arc<str>> {
        let text = self.texts.remove(&key)?;
        self.keys.remove(&text);
        self.bytes -= text.len() + ENTRY_BYTES;
        Some(text)
    }
}

impl Table {
    pub(crate) const fn new() -> Self {
        Table {
            young: Generation {
                keys: FxHashMap::with_hasher(rustc_hash::FxBuildHasher),
                texts: FxHashMap::with_hasher(rustc_hash::FxBuildHasher),
                bytes: 0,
            },
            old: Generation {
                keys: FxHashMap::with_hasher(rustc_hash::FxBuildHasher),
                texts: FxHashMap::with_hasher(rustc_hash::FxBuildHasher),
                bytes: 0,
            },
            held: None,
            window: usize::MAX,
            next: 1,
        }
    }

    /// The key of `text`, the one it had if remembered; it becomes one of the latest.
    pub(crate) fn intern(&mut self, text: &str) -> u64 {
        if let Some(key) = self.young.keys.get(text) {
            return *key;
        }
        let key = match self.old.keys.get(text).copied() {
            Some(key) => key,
            None => {
                let key = TEXT | self.next;
                self.next += 1;
                key
            }
        };
        let text = self.old.remove(key).unwrap_or_else(|| Arc::from(text));
        self.young.insert(key, text);
        self.turn();
        key
    }

    /// The text of `key`, if remembered; it becomes one of the latest.
    pub(crate) fn resolve(&mut self, key: u64) -> Option<Arc<str>> {
        if let Some(text) = self.young.texts.get(&key) {
            return Some(Arc::clone(text));
        }
        let text = self.old.remove(key)?;
        self.young.insert(key, Arc::clone(&text));
        self.turn();
        Some(text)
    }

    pub(crate) fn hold(&mut self, key: u64, hold: bool) {
        let held = self.held.get_or_insert_with(FxHashMap::default);
        match (held.get_mut(&key), hold) {
            (Some(count), true) => *count += 1,
            (None, true) => {
                held.insert(key, 1);
            }
            (Some(1), false) => {
                held.remove(&key);
            }
            (Some(count), false) => *count -= 1,
            (None, false) => {}
        }
    }

    /// Once the young generation holds `window` texts it becomes the old one, and the old
    /// one's texts are forgotten, but for those held, which go on in the young one.
    fn turn(&mut self) {
        if self.young.texts.len() < self.window {
            return;
        }
        let mut forgotten = std::mem::replace(&mut self.old, std::mem::take(&mut self.young));
        for key in self.held.iter().flat_map(|held| held.keys()) {
            if let Some(text) = forgotten.remove(*key) {
                self.young.insert(*key, text);
            }
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.young.bytes + self.old.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(window: usize) -> Table {
        let mut table = Table::new();
        table.window = window;
        table
    }

    /// The same text gets the same key while remembered, and keys of texts are never numbers.
    #[test]
    fn a_text_keeps_its_key_and_is_no_number() {
        let mut t = table(4);
        let a = t.intern("T-2026-0001");
        assert_eq!(t.intern("T-2026-0001"), a);
        assert_ne!(t.intern("T-2026-0002"), a);
        assert!(a > MAX_ID);
        assert_eq!(t.resolve(a).as_deref(), Some("T-2026-0001"));
    }

    /// An endless stream of distinct ids: the table's bytes stay within two windows of the
    /// longest texts, and the latest `window` are always remembered.
    #[test]
    fn memory_stays_flat_on_an_endless_stream() {
        let window = 1000;
        let mut t = table(window);
        let mut keys = Vec::new();
        for n in 0..100_000 {
            let text = format!("{n:0>width$}", width = 1 + n % MAX_TEXT_ID);
            keys.push((t.intern(&text), text));
            assert!(t.bytes() <= 2 * window * (MAX_TEXT_ID + ENTRY_BYTES));
        }
        for (key, text) in &keys[keys.len() - window..] {
            assert_eq!(t.resolve(*key).as_deref(), Some(text.as_str()));
        }
        assert_eq!(t.resolve(keys[0].0), None, "the first is long forgotten");
    }

    /// A held text (an instance in flight) is remembered however many ids go past, until it
    /// is released.
    #[test]
    fn a_held_text_is_kept_until_released() {
        let mut t = table(10);
        let key = t.intern("stuck");
        t.hold(key, true);
        for n in 0..1000 {
            t.intern(&n.to_string());
        }
        assert_eq!(t.resolve(key).as_deref(), Some("stuck"));
        t.hold(key, false);
        for n in 1000..2000 {
            t.intern(&n.to_string());
        }
        assert_eq!(t.resolve(key), None);
    }

    /// A string id is checked: empty, too long, or with a control character, it is refused.
    #[test]
    fn bad_text_ids_are_refused_saying_why() {
        let read = |json: &str| serde_json::from_str::<TextId>(json).map_err(|e| e.to_string());
        assert!(read("\"\"").unwrap_err().contains("got an empty string"));
        let long = format!("\"{}\"", "x".repeat(MAX_TEXT_ID + 1));
        assert!(read(&long).unwrap_err().contains("got 129 bytes"));
        assert!(read("\"a\\nb\"")
            .unwrap_err()
            .contains("no control characters"));
        assert!(read("7")
            .unwrap_err()
            .contains("expected order_id as a string of 1 to 128 bytes"));
        let id = read("\"T-2026-0001\"").expect("a valid id").0;
        assert!(id.is_text());
        assert_eq!(id.to_string(), "T-2026-0001");
        assert_eq!(serde_json::to_string(&id).expect("json"), "\"T-2026-0001\"");
    }
}
