//! Typed configuration, loaded in layers and checked once at load time.
//!
//! Layers, each overriding the one before: the built-in defaults (the text of
//! `config/default.toml`, compiled in, so the shipped file and the defaults cannot differ),
//! then `--config FILE`, then each `--set KEY=VALUE`. Values are parsed into domain types here
//! (a non-zero capacity, a duration), so the rest of the program never re-validates.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::order::{CustomerId, ProductId, Quantity, WholeNumber};
use crate::simulation::SimulationConfig;

/// The text of `config/default.toml`: every setting with its default and a comment.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub bus: BusConfig,
    pub run: RunConfig,
    /// The catalog InventoryService sells from, by product id (`[products.101]`).
    #[serde(deserialize_with = "keyed_by_id")]
    pub products: BTreeMap<ProductId, Product>,
    /// The customers PaymentService charges, by customer id (`[customers.1]`).
    #[serde(deserialize_with = "keyed_by_id")]
    pub customers: BTreeMap<CustomerId, Customer>,
    pub payment: PaymentConfig,
    pub shipping: ShippingConfig,
    pub services: ServicesConfig,
    pub input: InputConfig,
    pub simulation: SimulationConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// JSON Lines: a repeated `order_id` is refused while the first is among this many of the
    /// most recently read orders.
    pub duplicate_window: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    /// How many finished orders each service remembers, to ignore late duplicate deliveries.
    pub dedup_window: usize,
}

/// A product in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    /// Unit price in cents, 0 ..= [`MAX_PRICE_CENTS`].
    #[serde(deserialize_with = "price")]
    pub price_cents: u64,
    /// Units in stock when the run starts.
    pub stock: u64,
}

/// Largest unit price, in cents: with at most a million units an order, any charge fits in
/// 64 bits many times over.
pub const MAX_PRICE_CENTS: u64 = 1_000_000_000;

/// A customer PaymentService can charge.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub name: String,
    /// The most the customer may have charged at once, in cents; refunds give it back.
    pub credit_limit_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentConfig {
    /// Who pays for orders without a `customer_id`; must be one of `[customers]`.
    pub default_customer: CustomerId,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingConfig {
    /// Orders for more units than this cannot be shipped; they are refunded, released and
    /// cancelled.
    pub max_quantity_per_shipment: Quantity,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    /// Slots in the broadcast channel.
    pub capacity: Capacity,
    /// Admit orders only while their events fit in the bus. Off only for experiments: every
    /// order goes in at once, subscribers lag, and the run fails counting the lost events.
    pub admission: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The run stops with the unfinished orders listed once this has passed.
    #[serde(deserialize_with = "positive_duration")]
    pub time_limit: Duration,
    /// How long services get to stop once told to.
    #[serde(deserialize_with = "positive_duration")]
    pub shutdown_timeout: Duration,
}

/// A bus capacity: [`Capacity::MIN`] ..= [`Capacity::MAX`] slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity(usize);

impl Capacity {
    /// Room for every event one order can cause: admission never lets an order in without
    /// that much room, so a smaller bus could never admit anything.
    pub const MIN: usize = crate::supervisor::MAX_EVENTS_PER_ORDER as usize;
    /// Large enough for any sensible window; small enough that the up-front allocation
    /// (about 32 bytes a slot) stays modest.
    pub const MAX: usize = 1 << 20;

    pub fn new(slots: usize) -> Option<Self> {
        (Self::MIN..=Self::MAX)
            .contains(&slots)
            .then_some(Capacity(slots))
    }

    pub fn get(self) -> usize {
        self.0
    }
}

impl<'de> Deserialize<'de> for Capacity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let slots = deserializer.deserialize_u64(WholeNumber {
            what: "capacity (at least the most events one order can cause)",
            min: Self::MIN as u64,
            max: Self::MAX as u64,
        })?;
        Ok(Capacity(slots as usize))
    }
}

fn price<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let cents = u64::deserialize(deserializer)?;
    if cents > MAX_PRICE_CENTS {
        return Err(serde::de::Error::custom(format_args!(
            "must be at most {MAX_PRICE_CENTS} cents, got {cents}"
        )));
    }
    Ok(cents)
}

/// A table keyed by ids (`[products.101]`): TOML keys are strings, so each is parsed here.
fn keyed_by_id<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: FromStr<Err = String> + Ord,
    V: Deserialize<'de>,
{
    BTreeMap::<String, V>::deserialize(deserializer)?
        .into_iter()
        .map(|(key, value)| Ok((key.parse().map_err(serde::de::Error::custom)?, value)))
        .collect()
}

fn positive_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let duration: Duration = humantime_serde::deserialize(deserializer)?;
    if duration.is_zero() {
        return Err(serde::de::Error::custom("must be longer than zero"));
    }
    Ok(duration)
}

/// Where a bad setting came from, so the message can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    BuiltIn,
    File(PathBuf),
    Set(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::BuiltIn => f.write_str("built-in defaults"),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Set(arg) => write!(f, "--set {arg}"),
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

impl Default for Config {
    fn default() -> Self {
        Config::load(None, &[]).expect("the built-in config/default.toml is valid")
    }
}

impl Config {
    /// Loads the built-in defaults, then `file`, then each `KEY=VALUE` of `overrides`.
    pub fn load(file: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        let mut table = parse_table(DEFAULT_TOML, Source::BuiltIn)?;
        let mut file_table = None;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
                path: path.to_owned(),
                source,
            })?;
            let layer = parse_table(&text, Source::File(path.to_owned()))?;
            merge(&mut table, layer.clone());
            file_table = Some((path, layer));
        }
        let mut sets = Vec::with_capacity(overrides.len());
        for arg in overrides {
            let (key, value) = parse_set(arg)?;
            set_path(&mut table, &key, value);
            sets.push((key, arg));
        }

        // The last layer that mentions a key is the one to blame for its value.
        let blame = |key: &str| {
            if let Some((_, arg)) = sets.iter().rev().find(|(k, _)| key_covers(k, key)) {
                Source::Set((*arg).clone())
            } else if let Some((path, _)) = file_table.as_ref().filter(|(_, t)| has_path(t, key)) {
                Source::File(path.to_path_buf())
            } else {
                Source::BuiltIn
            }
        };
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|err| {
                let key = err.path().to_string();
                ConfigError::Invalid {
                    origin: blame(&key),
                    key,
                    message: err.into_inner().message().trim_end().to_owned(),
                }
            })?;
        if !config
            .customers
            .contains_key(&config.payment.default_customer)
        {
            return Err(ConfigError::Invalid {
                key: "payment.default_customer".into(),
                origin: blame("payment.default_customer"),
                message: format!(
                    "customer {} is not in [customers]",
                    config.payment.default_customer
                ),
            });
        }
        Ok(config)
    }
}

fn parse_table(text: &str, origin: Source) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|err| {
        let offset = err.span().map_or(0, |span| span.start.min(text.len()));
        let (line, column) = crate::order::position_of(text, offset);
        ConfigError::Syntax {
            origin,
            line,
            column,
            message: err.message().trim_end().to_owned(),
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
    use super::*;

    fn load_with(sets: &[&str]) -> Result<Config, String> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::load(None, &sets).map_err(|e| e.to_string())
    }

    #[test]
    fn built_in_defaults_are_the_shipped_file() {
        let config = Config::default();
        assert_eq!(config.bus.capacity.get(), 1024);
        assert_eq!(config.run.time_limit, Duration::from_secs(30));
        assert_eq!(config.run.shutdown_timeout, Duration::from_secs(5));
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
        let err = load_with(&["run.time_limit=0s"]).unwrap_err();
        assert!(err.contains("must be longer than zero"), "{err}");
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
        let config = Config::load(Some(&path), &[]).expect("valid");
        assert_eq!(config.bus.capacity.get(), 64);
        assert_eq!(config.run.time_limit, Duration::from_secs(30));
    }

    #[test]
    fn a_bad_file_value_names_the_file_and_a_syntax_error_its_position() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[bus]\ncapacity = -3\n").expect("write");
        let err = Config::load(Some(&path), &[]).unwrap_err().to_string();
        assert!(
            err.contains("`bus.capacity`") && err.contains("bad.toml"),
            "{err}"
        );

        std::fs::write(&path, "[bus\ncapacity = 3\n").expect("write");
        let err = Config::load(Some(&path), &[]).unwrap_err().to_string();
        assert!(err.contains("bad.toml:1:"), "{err}");
    }
}
