//! The engine's settings, typed: the bus, the run's limits, the services' memory, input
//! windows and the simulation, composed with the choreography's own into one [`Config`].
//! Loading them from layers of TOML with blame is the config loader's
//! ([`crate::config`]); checking what types alone cannot is here.

use std::fmt;
use std::time::Duration;

use derive_where::derive_where;
use serde::{Deserialize, Deserializer};

use crate::engine::choreography::{declarations, Choreography, Name};
use crate::engine::monitor::Invariants;
use crate::input::WholeNumber;
use crate::sim::SimulationConfig;

/// A whole configuration: the engine's settings and the choreography's own.
#[derive_where(Clone, Debug, PartialEq)]
pub struct Config<C: Choreography> {
    pub bus: BusConfig,
    pub run: RunConfig,
    pub services: ServicesConfig,
    pub input: InputConfig,
    pub check: CheckConfig,
    pub nats: NatsConfig,
    pub simulation: SimulationConfig<C::Service>,
    /// The choreography's own settings (the shop's catalog, customers, ...).
    pub choreography: C::Config,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// JSON Lines: a repeated `order_id` is refused while the first is among this many of the
    /// most recently read orders.
    pub duplicate_window: usize,
}

/// Running over NATS JetStream: names on the broker, acknowledgements, flow control.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// The stream's name, which every other name on the broker starts with.
    #[serde(deserialize_with = "broker_name")]
    pub stream: String,
    #[serde(deserialize_with = "positive_duration")]
    pub ack_wait: Duration,
    #[serde(deserialize_with = "at_least_one")]
    pub max_ack_pending: u32,
    #[serde(deserialize_with = "positive_duration")]
    pub duplicate_window: Duration,
    #[serde(deserialize_with = "at_least_one")]
    pub in_flight: u32,
    #[serde(deserialize_with = "positive_duration")]
    pub connect_timeout: Duration,
    /// A run over NATS with orders in flight fails once no event has come for this long.
    #[serde(deserialize_with = "positive_duration")]
    pub stall_timeout: Duration,
    /// Copies of the stream a cluster keeps, each on another server, when choreo creates it.
    #[serde(deserialize_with = "replicas")]
    pub replicas: usize,
}

fn broker_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let name = String::deserialize(deserializer)?;
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !fine {
        return Err(serde::de::Error::custom(format!(
            "a stream name is 1 to 64 letters, digits, `-` or `_`, got {name:?}"
        )));
    }
    Ok(name)
}

fn at_least_one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let n = deserializer.deserialize_u64(WholeNumber {
        what: "count",
        min: 1,
        max: u64::from(u32::MAX),
    })?;
    Ok(n as u32)
}

/// JetStream keeps from 1 to 5 copies of a stream.
fn replicas<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    let n = deserializer.deserialize_u64(WholeNumber {
        what: "replicas",
        min: 1,
        max: 5,
    })?;
    Ok(n as usize)
}

/// The bounds of `choreo check`'s search.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Distinct states seen before the search stops, incomplete.
    pub max_states: u64,
    /// Time before the search stops, incomplete.
    #[serde(deserialize_with = "positive_duration")]
    pub time_limit: Duration,
    /// What the search may keep (the states it has yet to explore and the fingerprints of
    /// those it has seen) before it stops, incomplete.
    pub max_memory: Bytes,
    /// Which schedules the search may leave out as equivalent to one it explores.
    pub reduction: Reduction,
}

/// The reductions `choreo check` makes (`check.reduction`): each leaves out only schedules
/// that reach what another one explored reaches, so the verdicts stay the same (see
/// docs/checking.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reduction {
    /// Every interleaving of every delivery (as `--every-interleaving`).
    None,
    /// Deliveries that publish nothing and change nothing shared are taken at once.
    Silent,
    /// That, and deliveries that touch only their instance's record
    /// ([`Choreography::shared`]) are not interleaved
    /// with the other instances' (a partial-order reduction).
    Por,
}

/// An amount of memory, above zero: bytes (`1048576`) or with a unit (`512MiB`, `2GiB`, `64KiB`;
/// `KB`, `MB`, `GB` count in thousands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl Bytes {
    const UNITS: [(&'static str, u64); 6] = [
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("KB", 1_000),
    ];

    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (number, unit) = Self::UNITS
            .iter()
            .find_map(|&(name, unit)| text.strip_suffix(name).map(|number| (number, unit)))
            .unwrap_or((text.strip_suffix('B').unwrap_or(text), 1));
        let bytes = number
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|number| number.checked_mul(unit))
            .ok_or_else(|| {
                format!("`{text}` is not an amount of memory: say `512MiB`, `2GiB` or a number of bytes")
            })?;
        if bytes == 0 {
            return Err("must be more than zero".to_owned());
        }
        Ok(Bytes(bytes))
    }
}

impl fmt::Display for Bytes {
    /// In the largest binary unit that divides it: `2 GiB`, `1536 MiB`, `100 bytes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Self::UNITS[..3]
            .iter()
            .find(|&&(_, unit)| self.0 % unit == 0)
        {
            Some((name, unit)) => write!(f, "{} {name}", self.0 / unit),
            None => write!(f, "{} bytes", self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(0) => Err(serde::de::Error::custom("must be more than zero")),
            Raw::Number(bytes) => Ok(Bytes(bytes)),
            Raw::Text(text) => Bytes::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    /// How many finished orders each service remembers, to ignore late duplicate deliveries.
    pub dedup_window: usize,
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
    /// When the choreography's invariants are checked ([`Invariants`]).
    pub invariants: Invariants,
}

fn positive_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let duration: Duration = crate::sim::duration(deserializer)?;
    if duration.is_zero() {
        return Err(serde::de::Error::custom("must be longer than zero"));
    }
    Ok(duration)
}

/// A bus capacity: 1 ..= [`Capacity::MAX`] slots. (A run also needs room for every event one
/// instance can cause: the config checks that against the choreography.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity(usize);

impl Capacity {
    /// Large enough for any sensible window; small enough that the up-front allocation
    /// (about 32 bytes a slot) stays modest.
    pub const MAX: usize = 1 << 20;

    pub fn new(slots: usize) -> Option<Self> {
        (1..=Self::MAX).contains(&slots).then_some(Capacity(slots))
    }

    pub fn get(self) -> usize {
        self.0
    }
}

impl<'de> Deserialize<'de> for Capacity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let slots = deserializer.deserialize_u64(WholeNumber {
            what: "capacity (at least the most events one order can cause)",
            // The lower bound is the choreography's: `Config` checks it right after.
            min: 0,
            max: Self::MAX as u64,
        })?;
        Ok(Capacity(slots as usize))
    }
}

/// A setting that does not hold, as a check finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The key the message is about (`payment.default_customer`).
    pub key: String,
    /// Other keys whose values make it wrong (`customers`): when one of them was set later
    /// than `key`, the error names it instead, since that is what the user wrote.
    pub related: Vec<String>,
    pub message: String,
}

impl Invalid {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            key: key.into(),
            related: Vec::new(),
            message: message.into(),
        }
    }

    /// Names another key that makes the setting wrong.
    pub fn related(mut self, key: impl Into<String>) -> Self {
        self.related.push(key.into());
        self
    }
}

impl<C: Choreography> Config<C> {
    /// What the types cannot check alone: the bus against the choreography, latency ranges
    /// the right way round, and the choreography's own checks
    /// ([`Choreography::validate`]). The error is the key and the message. Every run checks
    /// its config this way first, so one built or changed in code is held to what a loaded
    /// one is.
    pub fn check(&self) -> Result<(), Invalid> {
        check_capacity::<C>(self.bus.capacity).map_err(|m| Invalid::new("bus.capacity", m))?;
        for (service, latency) in self.simulation.latency.iter() {
            latency
                .check()
                .map_err(|m| Invalid::new(format!("simulation.latency.{}", service.key()), m))?;
        }
        self.check_poison()?;
        C::validate(&self.choreography)
    }
}

impl<C: Choreography> Config<C> {
    /// Poison only applies to a service's forward event, given up on with the choreography's
    /// dead letter: a chance set for a service without them would silently do nothing.
    fn check_poison(&self) -> Result<(), Invalid> {
        let faulty = self
            .simulation
            .faults
            .services
            .iter()
            .any(|(_, faults)| !faults.poison.is_zero());
        if !faulty {
            return Ok(());
        }
        let declared = declarations::<C>(&self.choreography, self.simulation.seed)
            .map_err(|err| Invalid::new("simulation.faults", err.to_string()))?;
        for service in declared {
            if self.simulation.faults.of(service.name).poison.is_zero() {
                continue;
            }
            let why = match service.forward {
                None => format!("{} has no forward event to give up on", service.name),
                Some(kind) if C::dead_lettered(kind, 0).is_none() => {
                    "the choreography has no dead letter to give up with".to_owned()
                }
                Some(_) => continue,
            };
            return Err(Invalid::new(
                format!("simulation.faults.{}.poison", service.name.key()),
                format!("{why}, so no event of it can be poison; set it to 0"),
            ));
        }
        Ok(())
    }
}

/// Room on the bus for every event one instance can cause: admission never lets an instance
/// in without that much room, so a smaller bus could never admit anything.
fn check_capacity<C: Choreography>(capacity: Capacity) -> Result<(), String> {
    let slots = capacity.get() as u64;
    if (C::MAX_EVENTS..=Capacity::MAX as u64).contains(&slots) {
        return Ok(());
    }
    Err(format!(
        "capacity (at least the most events one order can cause) must be a whole number from {} to {}, got {slots}",
        C::MAX_EVENTS,
        Capacity::MAX
    ))
}
