//! Typed configuration, loaded in layers and checked once at load time.
//!
//! Layers, each overriding the one before: the engine's defaults (`config/engine.toml`,
//! compiled in), the choreography's defaults ([`Choreography::DEFAULT_CONFIG`]; for the shop
//! the text of `config/default.toml`, so the shipped file and the defaults cannot differ),
//! then each `--config FILE` in order, then each `--set KEY=VALUE`. Values are parsed into
//! domain types here (a non-zero capacity, a duration), so the rest of the program never
//! re-validates. The choreography's keys ([`Choreography::CONFIG_KEYS`]) are split off and
//! parsed into its own type; everything else is the engine's.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::engine::config::{
    BusConfig, CheckConfig, InputConfig, NatsConfig, RunConfig, ServicesConfig,
};
use crate::engine::Choreography;
use crate::sim::SimulationConfig;

pub use crate::engine::config::Config;

/// The text of `config/engine.toml`: every engine setting with its default and a comment.
pub const ENGINE_TOML: &str = include_str!("../config/engine.toml");

/// The engine's part, as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
struct EngineConfig<C: Choreography> {
    bus: BusConfig,
    run: RunConfig,
    services: ServicesConfig,
    input: InputConfig,
    check: CheckConfig,
    nats: NatsConfig,
    simulation: SimulationConfig<C::Service>,
}

/// Where a bad setting came from, so the message can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    BuiltIn,
    File(PathBuf),
    Set(String),
    /// `Config::from_toml`.
    Text,
    /// A config built or changed in code, checked by `Config::validate`.
    Code,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::BuiltIn => f.write_str("built-in defaults"),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Set(arg) => write!(f, "--set {arg}"),
            Source::Text => f.write_str("config text"),
            Source::Code => f.write_str("set in code"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read config file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: larger than 1 MiB, the most a config file may hold")]
    TooLarge { path: PathBuf },
    #[error("{origin}:{line}:{column}: {message}")]
    Syntax {
        origin: Source,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("--set {arg}: expected KEY=VALUE, e.g. --set bus.capacity=16")]
    SetSyntax { arg: String },
    #[error("config key `{key}` ({origin}): {message}")]
    Invalid {
        key: String,
        origin: Source,
        message: String,
    },
}

impl<C: Choreography> Default for Config<C> {
    /// The built-in defaults.
    ///
    /// # Panics
    /// If the choreography's [`Choreography::DEFAULT_CONFIG`] is invalid: a bug in the
    /// choreography, which its own tests find (`Config::<C>::load(&[], &[])` says what).
    fn default() -> Self {
        Config::load(&[], &[]).expect("the choreography's built-in config is valid")
    }
}

/// One layer of settings, with where it came from.
struct Layer {
    origin: Source,
    table: toml::Table,
    /// The layer as written, to quote a value as it was written in a message.
    text: String,
}

/// Loading: the layers, and the engine's and the choreography's checks with blame. (The
/// types are the engine's: [`crate::engine::config`].)
impl<C: Choreography> Config<C> {
    /// Loads the built-in defaults, then each of `files` in order, then each `KEY=VALUE` of
    /// `overrides`.
    pub fn load(files: &[PathBuf], overrides: &[String]) -> Result<Self, ConfigError> {
        Self::from_layers(read_layers(files)?, overrides)
    }

    /// Checks a config built or changed in code as a loaded one is checked; an error names the
    /// key. (Fields are public, so a value can be set out of range.)
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check().map_err(|invalid| ConfigError::Invalid {
            key: invalid.key,
            origin: Source::Code,
            message: invalid.message,
        })
    }

    /// The built-in defaults with `toml` over them: only the keys it changes, e.g.
    /// `Config::from_toml("[bus]\ncapacity = 64")`. Checked like a loaded file.
    pub fn from_toml(toml: &str) -> Result<Self, ConfigError> {
        let layer = Layer {
            table: parse_table(toml, Source::Text)?,
            origin: Source::Text,
            text: toml.to_owned(),
        };
        Self::from_layers(vec![layer], &[])
    }

    /// The effective config of `load(files, overrides)`, checked as `load` checks it, as one
    /// TOML table: every key, from the built-in defaults, the files and the `--set`s. Given
    /// back as the only `--config` file, it makes the same config.
    pub fn effective(files: &[PathBuf], overrides: &[String]) -> Result<toml::Table, ConfigError> {
        let layers = read_layers(files)?;
        let (table, _) = Self::merged(&layers, overrides)?;
        Self::from_layers(layers, overrides)?;
        Ok(table)
    }

    /// Whether `files` or `overrides` set `key` (dotted: `run.time_limit`), rather than leave
    /// it to the built-in defaults.
    pub fn sets(files: &[PathBuf], overrides: &[String], key: &str) -> Result<bool, ConfigError> {
        let in_a_file = read_layers(files)?.iter().any(|layer| {
            let mut parts = key.split('.');
            let first = parts.next().and_then(|part| layer.table.get(part));
            parts
                .try_fold(first, |value, part| Some(value?.get(part)))
                .flatten()
                .is_some()
        });
        let mut in_a_set = false;
        for arg in overrides {
            in_a_set |= parse_set(arg)?.0 == key;
        }
        Ok(in_a_file || in_a_set)
    }

    /// The built-in defaults, then `files`, then `overrides`, as one table; with each
    /// override's key.
    fn merged<'a>(
        files: &[Layer],
        overrides: &'a [String],
    ) -> Result<(toml::Table, Vec<Set<'a>>), ConfigError> {
        let mut table = parse_table(ENGINE_TOML, Source::BuiltIn)?;
        // Each choreography's stream is its own unless it says otherwise: one broker then
        // carries several, and none reads another's events as its own.
        set_path(
            &mut table,
            "nats.stream",
            toml::Value::String(C::NAME.to_owned()),
        );
        merge(&mut table, parse_table(C::DEFAULT_CONFIG, Source::BuiltIn)?);
        for layer in files {
            merge(&mut table, layer.table.clone());
        }
        let mut sets = Vec::with_capacity(overrides.len());
        for arg in overrides {
            let (key, value) = parse_set(arg)?;
            set_path(&mut table, &key, value);
            sets.push((key, arg));
        }
        Ok((table, sets))
    }

    /// The built-in defaults as written, every key with its comment: the engine's, then the
    /// choreography's own (only the choreography's, if it repeats every engine key, as the
    /// shop's does).
    pub fn defaults_text() -> String {
        let own = parse_table(C::DEFAULT_CONFIG, Source::BuiltIn).unwrap_or_default();
        let engine = parse_table(ENGINE_TOML, Source::BuiltIn).unwrap_or_default();
        if covers(&own, &engine) {
            return C::DEFAULT_CONFIG.to_owned();
        }
        format!(
            "{ENGINE_TOML}\n# ----------------------------------------------------------------\n# {}'s own settings\n# ----------------------------------------------------------------\n\n{}",
            C::NAME,
            C::DEFAULT_CONFIG
        )
    }

    fn from_layers(files: Vec<Layer>, overrides: &[String]) -> Result<Self, ConfigError> {
        let (mut table, sets) = Self::merged(&files, overrides)?;

        // The last layer that mentions a key is the one to blame for its value; with how late
        // it came, so that of several keys the one written last can be named.
        let blame_ranked = |key: &str| {
            if let Some((i, (_, arg))) = sets
                .iter()
                .enumerate()
                .rev()
                .find(|(_, (k, _))| key_covers(k, key))
            {
                (2 + files.len() + i, Source::Set((*arg).clone()))
            } else if let Some((i, layer)) = files
                .iter()
                .enumerate()
                .rev()
                .find(|(_, l)| has_path(&l.table, key))
            {
                (1 + i, layer.origin.clone())
            } else {
                (0, Source::BuiltIn)
            }
        };
        let blame = |key: &str| blame_ranked(key).1;
        // The numbers in the value of `key` as the layer that set it wrote them, to quote
        // in a message.
        let written = |key: &str, origin: &Source| -> Vec<String> {
            let (text, key) = match origin {
                Source::Set(arg) => match arg.split_once('=') {
                    Some((_, value)) => (format!("v = {value}"), "v".to_owned()),
                    None => return Vec::new(),
                },
                Source::File(_) | Source::Text => {
                    match files.iter().rev().find(|l| &l.origin == origin) {
                        Some(layer) => (layer.text.clone(), key.to_owned()),
                        None => return Vec::new(),
                    }
                }
                Source::BuiltIn | Source::Code => return Vec::new(),
            };
            numbers_as_written(&text, &key)
        };
        let invalid = |err: serde_path_to_error::Error<toml::de::Error>| {
            let key = err.path().to_string();
            let mut message = err.into_inner().message().trim_end().to_owned();
            // The engine's part does not know the choreography's keys beside its own: an
            // unknown key's list of what is expected gets them too.
            if message.starts_with("unknown field") {
                let parent = key.rsplit_once('.').map_or("", |(parent, _)| parent);
                for own in C::CONFIG_KEYS {
                    let (own_parent, name) = own.rsplit_once('.').unwrap_or(("", own));
                    if own_parent == parent && !message.contains(&format!("`{name}`")) {
                        message.push_str(&format!(", `{name}`"));
                    }
                }
            }
            let origin = blame(&key);
            // A number is shown as it was written (`0x1`), not as converted.
            message = crate::input::as_written(message, &written(&key, &origin));
            ConfigError::Invalid {
                origin,
                key: crate::input::echo(&key),
                message: crate::input::echo(&message),
            }
        };
        // The choreography's keys go to its own type, at the same paths, so an error names
        // the key as written.
        let mut own = toml::Table::new();
        for key in C::CONFIG_KEYS {
            if let Some(value) = take_path(&mut table, key) {
                set_path(&mut own, key, value);
            }
        }
        let engine: EngineConfig<C> =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(invalid)?;
        let choreography: C::Config =
            serde_path_to_error::deserialize(toml::Value::Table(own)).map_err(invalid)?;
        let config = Config {
            bus: engine.bus,
            run: engine.run,
            services: engine.services,
            input: engine.input,
            check: engine.check,
            nats: engine.nats,
            simulation: engine.simulation,
            choreography,
        };
        config.check().map_err(|invalid| {
            // Of the key and the keys that make it wrong, the one written last is named.
            // On a tie, the key itself.
            let (_, origin, key) = std::iter::once(&invalid.key)
                .chain(&invalid.related)
                .enumerate()
                .map(|(i, key)| {
                    let (rank, origin) = blame_ranked(key);
                    ((rank, usize::MAX - i), origin, key.clone())
                })
                .max_by_key(|(rank, _, _)| *rank)
                .unwrap_or(((0, 0), Source::BuiltIn, invalid.key.clone()));
            let message = crate::input::as_written(invalid.message, &written(&key, &origin));
            ConfigError::Invalid {
                origin,
                key,
                message,
            }
        })?;
        Ok(config)
    }
}

/// The numbers of the value at dotted `key` as `text` writes them (`0x10`, `1e3`, `-0`),
/// however it is written: under a `[table]`, as a dotted key, inside an inline table or an
/// array (then each number in it). Empty if `text` does not set `key`.
fn numbers_as_written(text: &str, key: &str) -> Vec<String> {
    use toml::de::{DeTable, DeValue};
    fn leaves(text: &str, value: &toml::Spanned<DeValue<'_>>, out: &mut Vec<String>) {
        match value.get_ref() {
            DeValue::Table(table) => table.values().for_each(|v| leaves(text, v, out)),
            DeValue::Array(array) => array.iter().for_each(|v| leaves(text, v, out)),
            DeValue::Integer(_) | DeValue::Float(_) => {
                if let Some(written) = text.get(value.span()) {
                    out.push(written.trim().to_owned());
                }
            }
            _ => {}
        }
    }
    let Ok(root) = DeTable::parse(text) else {
        return Vec::new();
    };
    let mut table = root.get_ref();
    let mut parts = key.split('.').peekable();
    let mut out = Vec::new();
    while let Some(part) = parts.next() {
        let Some((_, value)) = table
            .iter()
            .find(|(name, _)| name.get_ref().as_ref() == part)
        else {
            return out;
        };
        match (parts.peek(), value.get_ref()) {
            (None, _) => leaves(text, value, &mut out),
            (Some(_), DeValue::Table(inner)) => table = inner,
            (Some(_), _) => return out,
        }
    }
    out
}

/// Removes the value at a dotted `key`, if there is one.
fn take_path(table: &mut toml::Table, key: &str) -> Option<toml::Value> {
    match key.split_once('.') {
        None => table.remove(key),
        Some((first, rest)) => match table.get_mut(first) {
            Some(toml::Value::Table(inner)) => take_path(inner, rest),
            _ => None,
        },
    }
}

/// The largest config file read: a config is a few KiB, so a bigger file is a mistake (or an
/// endless source), refused before it fills the memory.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A `--set`: its key, and the argument as given.
type Set<'a> = (String, &'a String);

/// Each config file, read and parsed, in order.
fn read_layers(files: &[PathBuf]) -> Result<Vec<Layer>, ConfigError> {
    files
        .iter()
        .map(|path| {
            let text = read_config(path)?;
            Ok(Layer {
                table: parse_table(&text, Source::File(path.to_owned()))?,
                origin: Source::File(path.to_owned()),
                text,
            })
        })
        .collect()
}

fn read_config(path: &std::path::Path) -> Result<String, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    let bytes =
        crate::input::read_bounded(std::fs::File::open(path).map_err(io)?, MAX_CONFIG_BYTES)
            .map_err(io)?
            .ok_or_else(|| ConfigError::TooLarge {
                path: path.to_owned(),
            })?;
    String::from_utf8(bytes).map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not valid UTF-8 text",
        ))
    })
}

fn parse_table(text: &str, origin: Source) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|err| {
        let offset = err.span().map_or(0, |span| span.start.min(text.len()));
        let (line, column) = crate::input::position_of(text, offset);
        let mut message = err.message().trim_end().to_owned();
        // TOML's integers are 64-bit; the parser says so in its own terms.
        if message.contains("as i128") {
            let written = err
                .span()
                .and_then(|span| text.get(span))
                .map(|written| format!(" ({})", crate::input::echo(written.trim())))
                .unwrap_or_default();
            message = format!(
                "a whole number beyond what TOML holds{written}: at most {}",
                i64::MAX
            );
        }
        ConfigError::Syntax {
            origin,
            line,
            column,
            message,
        }
    })
}

/// `KEY=VALUE`, where VALUE is a TOML value (`16`, `"30s"`, `true`) or, failing that, a bare
/// string (`30s`), so the shell quoting stays simple.
fn parse_set(arg: &str) -> Result<(String, toml::Value), ConfigError> {
    let (key, raw) = arg
        .split_once('=')
        .filter(|(key, _)| !key.trim().is_empty())
        .ok_or_else(|| ConfigError::SetSyntax {
            arg: arg.to_owned(),
        })?;
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    Ok((key.trim().to_owned(), value))
}

/// Puts `value` at a dotted `key`, creating tables on the way.
fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts = key.split('.').peekable();
    let mut current = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            current.insert(part.to_owned(), value);
            return;
        }
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            unreachable!("just made a table")
        };
        current = next;
    }
}

/// Merges `layer` into `base`: tables key by key, anything else replaced whole. A table with
/// a `model` key (a latency model) is one value: it replaces the table before it whole, so
/// switching models does not leave the old model's keys behind.
/// Whether `table` has every key (leaf) that `of` has.
fn covers(table: &toml::Table, of: &toml::Table) -> bool {
    of.iter().all(|(key, value)| match (value, table.get(key)) {
        (toml::Value::Table(of), Some(toml::Value::Table(table))) => covers(table, of),
        (toml::Value::Table(_), _) => false,
        (_, found) => found.is_some(),
    })
}

fn merge(base: &mut toml::Table, layer: toml::Table) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(layer))
                if !layer.contains_key("model") =>
            {
                merge(base, layer)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn has_path(table: &toml::Table, key: &str) -> bool {
    let mut parts = key.split('.');
    let Some(first) = parts.next() else {
        return false;
    };
    let mut current = table.get(first);
    for part in parts {
        current = current.and_then(|v| v.get(part));
    }
    current.is_some()
}

/// Whether a `--set` of `set_key` could have put the value at `error_key`.
fn key_covers(set_key: &str, error_key: &str) -> bool {
    error_key == set_key
        || error_key.starts_with(&format!("{set_key}."))
        || set_key.starts_with(&format!("{error_key}."))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::config::Capacity;
    use crate::shop::Shop;

    type Config = super::Config<Shop>;

    #[test]
    fn a_key_is_set_by_a_file_or_a_set_not_by_the_defaults(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("limit.toml");
        std::fs::write(&file, "[run]\ntime_limit = \"2m\"\n")?;
        let files = [file];
        assert!(Config::sets(&files, &[], "run.time_limit")?);
        assert!(!Config::sets(&files, &[], "run.shutdown_timeout")?);
        assert!(!Config::sets(&[], &[], "run.time_limit")?);
        let set = ["run.time_limit=\"5s\"".to_owned()];
        assert!(Config::sets(&[], &set, "run.time_limit")?);
        assert!(!Config::sets(&[], &set, "run")?);
        Ok(())
    }

    fn load_with(sets: &[&str]) -> Result<Config, String> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::load(&[], &sets).map_err(|e| e.to_string())
    }

    /// The error a config file's `text` is refused with.
    fn toml_error(text: &str) -> String {
        Config::from_toml(text)
            .expect_err("the config is refused")
            .to_string()
    }

    #[test]
    fn built_in_defaults_are_the_shipped_file() {
        let config = Config::default();
        assert_eq!(config.bus.capacity.get(), 1024);
        assert_eq!(config.run.time_limit, Duration::from_secs(30));
        assert_eq!(config.run.shutdown_timeout, Duration::from_secs(5));
    }

    /// The shop's config/default.toml repeats the engine's settings, for its readers: they
    /// must be the engine's defaults, or the two files would disagree.
    #[test]
    fn the_shop_defaults_repeat_the_engine_defaults() {
        let engine = parse_table(ENGINE_TOML, Source::BuiltIn).expect("engine.toml");
        let shop = parse_table(Shop::DEFAULT_CONFIG, Source::BuiltIn).expect("default.toml");
        for section in ["bus", "run", "services", "input", "check"] {
            assert_eq!(engine.get(section), shop.get(section), "[{section}]");
        }
        // The stream's name is the one the shop chooses itself (the engine's default is
        // each choreography's name).
        let nats = |t: &toml::Table| {
            let mut nats = t.get("nats").and_then(|s| s.as_table()).cloned();
            nats.as_mut().map(|nats| nats.remove("stream"));
            nats
        };
        assert_eq!(nats(&engine), nats(&shop), "[nats]");
        let simulation = |t: &toml::Table| t.get("simulation").and_then(|s| s.as_table()).cloned();
        let (engine, shop) = (
            simulation(&engine).expect("engine"),
            simulation(&shop).expect("shop"),
        );
        assert_eq!(engine.get("seed"), shop.get("seed"));
        assert_eq!(engine.get("arrivals"), shop.get("arrivals"));
        let faults = |t: &toml::Table| t.get("faults").and_then(|s| s.as_table()).cloned();
        let (engine, shop) = (
            faults(&engine).expect("engine"),
            faults(&shop).expect("shop"),
        );
        for key in [
            "max_restarts",
            "restart_window",
            "restart_delay",
            "poison_crashes",
        ] {
            assert_eq!(engine.get(key), shop.get(key), "simulation.faults.{key}");
        }
    }

    /// The shop's stream keeps the name it had before each choreography got its own, so a
    /// broker's existing shop stream and its consumers carry on.
    #[test]
    fn the_shop_keeps_its_stream_name_and_others_default_to_their_own() {
        assert_eq!(Config::default().nats.stream, "choreo");
        let engine = parse_table(ENGINE_TOML, Source::BuiltIn).expect("engine.toml");
        let nats = engine.get("nats").and_then(|s| s.as_table());
        assert_eq!(
            nats.and_then(|nats| nats.get("stream")),
            None,
            "the engine leaves the stream's name to the choreography"
        );
    }

    #[test]
    fn later_config_files_override_earlier_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
        std::fs::write(&a, "[bus]\ncapacity = 64\n[run]\ntime_limit = \"5s\"\n").expect("write");
        std::fs::write(&b, "[bus]\ncapacity = 32\n").expect("write");
        let config = Config::load(&[a, b], &[]).expect("valid");
        assert_eq!(config.bus.capacity.get(), 32, "the later file wins");
        assert_eq!(
            config.run.time_limit,
            Duration::from_secs(5),
            "the earlier file's other keys stay"
        );
    }

    #[test]
    fn a_config_from_text_needs_only_the_keys_it_changes() {
        let config = Config::from_toml("[bus]\ncapacity = 64").expect("valid");
        assert_eq!(config.bus.capacity.get(), 64);
        let err = toml_error("[bus]\ncapacity = 3");
        assert_eq!(
            err,
            "config key `bus.capacity` (config text): capacity (at least the most events one order can cause) must be a whole number from 7 to 1048576, got 3"
        );
    }

    #[test]
    fn a_config_changed_in_code_is_validated_like_a_loaded_one() {
        let mut config = Config::default();
        config.bus.capacity = Capacity::new(2).expect("in the type's range");
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("config key `bus.capacity` (set in code)"),
            "{err}"
        );
    }

    #[test]
    fn set_overrides_a_key() {
        let config = load_with(&["bus.capacity=16", "run.time_limit=250ms"]).expect("valid");
        assert_eq!(config.bus.capacity.get(), 16);
        assert_eq!(config.run.time_limit, Duration::from_millis(250));
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = load_with(&["bus.capcity=16"]).unwrap_err();
        assert!(err.contains("bus.capcity"), "{err}");
        assert!(err.contains("--set bus.capcity=16"), "{err}");
    }

    #[test]
    fn an_invalid_value_is_named() {
        let err = load_with(&["bus.capacity=0"]).unwrap_err();
        assert_eq!(
            err,
            "config key `bus.capacity` (--set bus.capacity=0): capacity (at least the most events one order can cause) must be a whole number from 7 to 1048576, got 0"
        );
        let err = load_with(&["run.time_limit=soon"]).unwrap_err();
        assert!(err.starts_with("config key `run.time_limit`"), "{err}");
        assert!(
            err.ends_with(r#"such as "500ms", "30s" or "2m""#),
            "an example: {err}"
        );
        let err = load_with(&["run.time_limit=0s"]).unwrap_err();
        assert!(err.contains("must be longer than zero"), "{err}");
    }

    /// `0101`, `+101` and `101` would be one product: only `101` is accepted.
    #[test]
    fn an_id_key_is_refused_unless_written_as_choreo_writes_it() {
        for key in ["0101", "+101", "101.0"] {
            let err = toml_error(&format!(
                "[products.\"{key}\"]\nname = \"W\"\nprice_cents = 1\nstock = 1"
            ));
            assert!(err.starts_with("config key `products`"), "{key}: {err}");
            assert!(err.contains(&format!("`{key}`")), "{key}: {err}");
        }
        let err =
            load_with(&[r#"customers.01={ name = "x", credit_limit_cents = 1 }"#]).unwrap_err();
        assert!(
            err.contains("`01`") && err.contains("write it `1`"),
            "{err}"
        );
    }

    /// Numbers the simulator's arithmetic could not hold are refused with the key.
    #[test]
    fn simulated_times_beyond_what_the_arithmetic_holds_are_refused() {
        let err = load_with(&["simulation.faults.gateway.backoff_ms=1e300"]).unwrap_err();
        assert!(
            err.starts_with("config key `simulation.faults.gateway.backoff_ms`")
                && err.contains("from 0 to 1000000000"),
            "{err}"
        );
        let err = load_with(&["simulation.faults.gateway.max_attempts=4000000000"]).unwrap_err();
        assert!(
            err.contains("max_attempts must be a whole number from 1 to 100"),
            "{err}"
        );
        let err = load_with(&[
            r#"simulation.latency.payment={ model = "uniform", min_ms = 9, max_ms = 2 }"#,
        ])
        .unwrap_err();
        assert_eq!(
            err,
            r#"config key `simulation.latency.payment` (--set simulation.latency.payment={ model = "uniform", min_ms = 9, max_ms = 2 }): min_ms (9) is more than max_ms (2)"#
        );
    }

    /// Poison where it cannot apply would silently do nothing: refused, with the key.
    #[test]
    fn poison_for_a_service_without_a_forward_event_is_refused() {
        let err = load_with(&["simulation.faults.order.poison=0.1"]).unwrap_err();
        assert_eq!(
            err,
            "config key `simulation.faults.order.poison` (--set simulation.faults.order.poison=0.1): OrderService has no forward event to give up on, so no event of it can be poison; set it to 0"
        );
        assert!(load_with(&["simulation.faults.inventory.poison=0.1"]).is_ok());
    }

    /// `--set simulation.seed=` takes every seed `--seed` does.
    #[test]
    fn every_seed_can_be_set() {
        let config = load_with(&["simulation.seed=18446744073709551615"]).expect("valid");
        assert_eq!(config.simulation.seed, u64::MAX);
        let err = load_with(&["simulation.seed=-1"]).unwrap_err();
        assert!(
            err.contains("a seed must be a whole number from 0 to 18446744073709551615, got -1"),
            "{err}"
        );
    }

    /// Numbers in errors are shown as written, not as converted.
    #[test]
    fn a_number_is_shown_as_written() {
        let err = load_with(&["bus.capacity=0x1"]).unwrap_err();
        assert!(err.ends_with("got 0x1"), "{err}");
        let err = toml_error("[bus]\ncapacity = 2");
        assert!(err.ends_with("got 2"), "{err}");
        let err = toml_error("[bus]\ncapacity = 0x3 # hex");
        assert!(err.ends_with("got 0x3"), "{err}");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "bus.capacity = +3\n").expect("write");
        let err = Config::load(std::slice::from_ref(&path), &[])
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("got +3"), "{err}");
        // Inside an inline table, on the command line or in a file, and under a dotted key.
        let latency = r#"simulation.latency.payment={ model = "fixed", ms = -1e3 }"#;
        let err = load_with(&[latency]).unwrap_err();
        assert!(err.ends_with("got -1e3"), "{err}");
        let err = Config::from_toml(
            "[simulation.latency]\npayment = { model = \"fixed\", ms = -1_000.0 }",
        )
        .unwrap_err()
        .to_string();
        assert!(err.ends_with("got -1_000.0"), "{err}");
        let err = toml_error("[simulation]\nlatency.payment = { model = \"fixed\", ms = -1e3 }");
        assert!(err.ends_with("got -1e3"), "{err}");
        let err = toml_error("[products.101]\nstock = 1_000_000_000_000_000_000_000");
        assert!(
            err.contains("2:9: a whole number beyond what TOML holds (1_000_000_000_000_000_000_000): at most 9223372036854775807"),
            "{err}"
        );
    }

    /// A check about one key caused by another names the one the user wrote.
    #[test]
    fn an_error_blames_the_key_the_user_wrote() {
        let err = load_with(&["customers={}"]).unwrap_err();
        assert_eq!(
            err,
            "config key `customers` (--set customers={}): customer 1 is not in [customers]"
        );
        let err = load_with(&["payment.default_customer=9"]).unwrap_err();
        assert!(
            err.starts_with("config key `payment.default_customer` (--set"),
            "{err}"
        );
    }

    #[test]
    fn a_set_without_equals_is_a_usage_error() {
        let err = load_with(&["bus.capacity"]).unwrap_err();
        assert!(err.contains("expected KEY=VALUE"), "{err}");
    }

    #[test]
    fn a_config_file_only_needs_the_keys_it_changes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("small.toml");
        std::fs::write(&path, "[bus]\ncapacity = 64\n").expect("write");
        let config = Config::load(std::slice::from_ref(&path), &[]).expect("valid");
        assert_eq!(config.bus.capacity.get(), 64);
        assert_eq!(config.run.time_limit, Duration::from_secs(30));
    }

    #[test]
    fn a_bad_file_value_names_the_file_and_a_syntax_error_its_position() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[bus]\ncapacity = -3\n").expect("write");
        let err = Config::load(std::slice::from_ref(&path), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`bus.capacity`") && err.contains("bad.toml"),
            "{err}"
        );

        std::fs::write(&path, "[bus\ncapacity = 3\n").expect("write");
        let err = Config::load(std::slice::from_ref(&path), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.toml:1:"), "{err}");
    }
}
