//! Simulation settings and the randomness behind them: arrivals, per-service latency models,
//! faults, and the seeded random streams that make a run replayable.
//!
//! One seed drives everything. Each consumer (a service, the arrival process) draws from its
//! own stream, derived from the seed and the consumer's name, so adding draws in one place
//! never shifts another's, and a run replays byte for byte on the virtual clock.

pub mod arrivals;

use derive_where::derive_where;
use std::fmt;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Normal};

use serde::{Deserialize, Deserializer};

use crate::name::Name;

/// `[simulation]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
#[derive_where(Clone, Debug, PartialEq)]
pub struct SimulationConfig<S: Name> {
    /// Seeds every random choice; `--seed N` overrides it. Any whole number from 0 to
    /// 2^64 - 1, as `--seed` takes it (beyond TOML's integers, written as a string).
    #[serde(deserialize_with = "seed")]
    pub seed: u64,
    pub arrivals: ArrivalsConfig,
    /// How long each service takes to handle an event it reacts to.
    #[serde(default)]
    pub latency: PerService<S, Latency>,
    pub faults: FaultsConfig<S>,
}

/// One setting per service, keyed in config by the service's short name
/// ([`Name::key`]); a service left out gets `T::default()` (no latency, no faults).
#[derive_where(Clone, PartialEq; T)]
pub struct PerService<S: Name, T> {
    /// By [`Name::index`] of the service.
    values: Vec<T>,
    services: std::marker::PhantomData<S>,
}

impl<S: Name, T> PerService<S, T> {
    pub fn get(&self, service: S) -> &T {
        &self.values[service.index()]
    }

    pub fn get_mut(&mut self, service: S) -> &mut T {
        &mut self.values[service.index()]
    }

    /// Every service with its setting, in [`Name::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (S, &T)> {
        S::ALL.iter().map(|s| (*s, self.get(*s)))
    }
}

impl<S: Name, T: Default> Default for PerService<S, T> {
    fn default() -> Self {
        PerService {
            values: S::ALL.iter().map(|_| T::default()).collect(),
            services: std::marker::PhantomData,
        }
    }
}

impl<S: Name, T: fmt::Debug> fmt::Debug for PerService<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(s, v)| (s.key(), v)))
            .finish()
    }
}

impl<'de, S: Name, T: Deserialize<'de> + Default> Deserialize<'de> for PerService<S, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PerServiceVisitor {
            per_service: PerService::default(),
            others: Others::None,
        })
    }
}

/// Keys a per-service table may hold besides the services' short names, and where they go.
enum Others<'a> {
    None,
    Faults(&'a mut FaultsGeneral),
}

struct PerServiceVisitor<'a, S: Name, T> {
    per_service: PerService<S, T>,
    others: Others<'a>,
}

impl<'de, S: Name, T: Deserialize<'de>> serde::de::Visitor<'de> for PerServiceVisitor<'_, S, T> {
    type Value = PerService<S, T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table keyed by service (")?;
        for (i, service) in S::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(service.key())?;
        }
        f.write_str(")")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        mut self,
        mut map: A,
    ) -> Result<Self::Value, A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if let Some(service) = S::ALL.iter().find(|s| s.key() == key) {
                *self.per_service.get_mut(*service) = map.next_value()?;
                continue;
            }
            let taken = match &mut self.others {
                Others::Faults(general) => general.take(&key, &mut map)?,
                Others::None => false,
            };
            if !taken {
                let mut expected: Vec<&'static str> = S::ALL.iter().map(|s| s.key()).collect();
                if let Others::Faults(_) = self.others {
                    expected.extend(FaultsGeneral::KEYS);
                }
                // Refused as its value is read, so the error's path names the key itself.
                return map.next_value_seed(Refuse {
                    key: &key,
                    expected: &expected,
                    value: std::marker::PhantomData,
                });
            }
        }
        Ok(self.per_service)
    }
}

/// Refuses the value of an unknown key, naming the key and what is expected, as serde's
/// derive does for a struct.
struct Refuse<'a, T> {
    key: &'a str,
    expected: &'a [&'static str],
    value: std::marker::PhantomData<T>,
}

impl<'de, T> serde::de::DeserializeSeed<'de> for Refuse<'_, T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, _deserializer: D) -> Result<T, D::Error> {
        let expected: Vec<String> = self.expected.iter().map(|k| format!("`{k}`")).collect();
        Err(serde::de::Error::custom(format_args!(
            "unknown field `{}`, expected one of {}",
            self.key,
            expected.join(", ")
        )))
    }
}

/// A latency model, in milliseconds of (simulated) time. Written as an inline table, e.g.
/// `{ model = "exponential", mean_ms = 10 }`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase", deny_unknown_fields)]
pub enum Latency {
    Fixed {
        ms: Millis,
    },
    Uniform {
        min_ms: Millis,
        max_ms: Millis,
    },
    /// Clamped at zero.
    Normal {
        mean_ms: Millis,
        std_dev_ms: Millis,
    },
    Exponential {
        mean_ms: Millis,
    },
    /// `median_ms` is e^mu; `sigma` the spread of the underlying normal.
    Lognormal {
        median_ms: Millis,
        sigma: Millis,
    },
}

/// No latency: the default for a service the config does not mention.
impl Default for Latency {
    fn default() -> Self {
        Latency::Fixed { ms: Millis(0.0) }
    }
}

impl Latency {
    /// What deserializing cannot check alone: a range that is the right way round.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Latency::Uniform { min_ms, max_ms } if min_ms.0 > max_ms.0 => Err(format!(
                "min_ms ({}) is more than max_ms ({})",
                min_ms.0, max_ms.0
            )),
            _ => Ok(()),
        }
    }

    pub fn is_zero(&self) -> bool {
        matches!(self, Latency::Fixed { ms } if ms.0 == 0.0)
    }

    /// One draw. Uses `rng` only when the model is random, so a fixed latency leaves the
    /// stream untouched.
    pub fn sample(&self, rng: &mut Rng) -> Duration {
        let ms = match *self {
            Latency::Fixed { ms } => ms.0,
            Latency::Uniform { min_ms, max_ms } if min_ms.0 < max_ms.0 => {
                rng.random_range(min_ms.0..max_ms.0)
            }
            Latency::Uniform { min_ms, .. } => min_ms.0,
            Latency::Normal {
                mean_ms,
                std_dev_ms,
            } => Normal::new(mean_ms.0, std_dev_ms.0).map_or(mean_ms.0, |d| d.sample(rng)),
            Latency::Exponential { mean_ms } if mean_ms.0 > 0.0 => {
                Exp::new(1.0 / mean_ms.0).map_or(mean_ms.0, |d| d.sample(rng))
            }
            Latency::Exponential { .. } => 0.0,
            Latency::Lognormal { median_ms, sigma } if median_ms.0 > 0.0 => {
                LogNormal::new(median_ms.0.ln(), sigma.0).map_or(median_ms.0, |d| d.sample(rng))
            }
            Latency::Lognormal { .. } => 0.0,
        };
        millis(ms)
    }
}

/// The runtime of a simulation: Tokio's paused clock on a single thread, which jumps ahead
/// whenever every task waits, and makes the schedule, and so every run, the same. Timers
/// only: without an I/O driver, jumping the clock costs no system call, which is most of
/// what a simulated latency would otherwise cost.
pub fn virtual_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
}

/// Milliseconds, as a float, to a duration rounded to the microsecond; negatives are zero.
pub fn millis(ms: f64) -> Duration {
    Duration::from_micros((ms.max(0.0) * 1000.0).round() as u64)
}

/// A number of milliseconds, 0 ..= [`Millis::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Millis(pub f64);

/// Hashed as the number (`-0` as `0`), consistent with `==` for the finite values a config
/// holds.
impl std::hash::Hash for Millis {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.0 + 0.0).to_bits().hash(state);
    }
}

impl Millis {
    /// The largest accepted: a billion milliseconds, about 11.6 days. Any sum the simulator
    /// makes of such values (a gateway's doubled backoffs included) stays finite and fits a
    /// `Duration`, so no setting can overflow the arithmetic that uses it.
    pub const MAX: f64 = 1e9;
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        if !(value.is_finite() && (0.0..=Self::MAX).contains(&value)) {
            return Err(serde::de::Error::custom(format_args!(
                "must be a number of milliseconds from 0 to 1000000000 (about 11.6 days), got {value}"
            )));
        }
        Ok(Millis(value))
    }
}

/// A duration as config writes it (`"500ms"`, `"30s"`, `"2m"`); an error shows an example.
pub fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    humantime_serde::deserialize(deserializer).map_err(|err: D::Error| {
        serde::de::Error::custom(format_args!(
            "{}, such as \"500ms\", \"30s\" or \"2m\"",
            err.to_string().trim_end()
        ))
    })
}

/// A seed: a whole number 0 ..= `u64::MAX`, from a TOML integer or, past `i64::MAX`, a
/// string of digits (`--set simulation.seed=18446744073709551615` gives one).
fn seed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Seed;
    impl serde::de::Visitor<'_> for Seed {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a seed, a whole number from 0 to 18446744073709551615")
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| {
                E::custom(format_args!(
                    "a seed must be a whole number from 0 to 18446744073709551615, got {v}"
                ))
            })
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
            v.trim().parse().map_err(|_| {
                E::custom(format_args!(
                    "a seed must be a whole number from 0 to 18446744073709551615, got `{v}`"
                ))
            })
        }
    }
    deserializer.deserialize_any(Seed)
}

/// A rate of arrivals: positive, and at most a billion a second (a gap of a nanosecond).
fn rate<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if !(value.is_finite() && (1e-6..=1e9).contains(&value)) {
        return Err(serde::de::Error::custom(format_args!(
            "must be a rate from 0.000001 to 1000000000 a second, got {value}"
        )));
    }
    Ok(value)
}

pub fn at_least_one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let value = u32::deserialize(deserializer)?;
    if value == 0 {
        return Err(serde::de::Error::custom("must be at least 1, got 0"));
    }
    Ok(value)
}

/// A probability, 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Probability(pub f64);

/// As [`Millis`]'s.
impl std::hash::Hash for Probability {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.0 + 0.0).to_bits().hash(state);
    }
}

impl Probability {
    pub fn is_zero(self) -> bool {
        self.0 == 0.0
    }

    /// One draw: `true` with this probability. Uses `rng` only when the probability is not 0,
    /// so faults that are off never shift the random stream.
    #[inline]
    pub fn happens(self, rng: &mut Rng) -> bool {
        !self.is_zero() && rng.random_bool(self.0)
    }
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        if !(0.0..=1.0).contains(&value) {
            return Err(serde::de::Error::custom(format_args!(
                "must be a probability from 0 to 1, got {value}"
            )));
        }
        Ok(Probability(value))
    }
}

/// `[simulation.arrivals]`: when orders without an `at_ms` arrive.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalsConfig {
    pub process: ArrivalProcess,
    /// Orders a second of simulated time, for `fixed-rate` and `poisson`.
    #[serde(deserialize_with = "rate")]
    pub per_second: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalProcess {
    /// Every order arrives at time 0 (admission still paces them onto the bus).
    AllAtOnce,
    /// One every `1 / per_second` seconds.
    FixedRate,
    /// Exponential gaps with mean `1 / per_second` seconds.
    Poisson,
}

/// `[simulation.faults]`: one table of [`ServiceFaults`] per service (by its short name),
/// and the settings below for every service.
#[derive_where(Clone, Debug, PartialEq)]
pub struct FaultsConfig<S: Name> {
    pub services: PerService<S, ServiceFaults>,
    pub general: FaultsGeneral,
}

/// The restart and poison settings of `[simulation.faults]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultsGeneral {
    /// A service may be restarted at most this many times within `restart_window`
    /// (simulated time); one more and the run fails.
    pub max_restarts: u32,
    pub restart_window: Duration,
    /// How long a crashed service takes to come back.
    pub restart_delay: Duration,
    /// An event whose handling crashes its service this many times in a row is dead-lettered.
    pub poison_crashes: u32,
}

impl Default for FaultsGeneral {
    fn default() -> Self {
        FaultsGeneral {
            max_restarts: 100,
            restart_window: Duration::from_secs(1),
            restart_delay: Duration::ZERO,
            poison_crashes: 3,
        }
    }
}

impl FaultsGeneral {
    const KEYS: [&'static str; 4] = [
        "max_restarts",
        "restart_window",
        "restart_delay",
        "poison_crashes",
    ];

    /// Reads the value of `key` if it is one of these settings; whether it was.
    fn take<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        /// A duration written as text (`"250ms"`), as everywhere in the config.
        #[derive(Deserialize)]
        #[serde(transparent)]
        struct Human(#[serde(deserialize_with = "duration")] Duration);
        /// At least 1.
        #[derive(Deserialize)]
        #[serde(transparent)]
        struct AtLeastOne(#[serde(deserialize_with = "at_least_one")] u32);
        match key {
            "max_restarts" => self.max_restarts = map.next_value()?,
            "restart_window" => self.restart_window = map.next_value::<Human>()?.0,
            "restart_delay" => self.restart_delay = map.next_value::<Human>()?.0,
            "poison_crashes" => self.poison_crashes = map.next_value::<AtLeastOne>()?.0,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<S: Name> FaultsConfig<S> {
    pub fn of(&self, service: S) -> &ServiceFaults {
        self.services.get(service)
    }

    /// Whether any service may crash after publishing: the bus then drops a re-published event
    /// by its id, as a broker's de-duplication does.
    pub fn any_crash_after_publish(&self) -> bool {
        self.services
            .iter()
            .any(|(_, f)| !f.crash_after_publish.is_zero())
    }

    /// Whether any service may crash (or meet a poison event).
    pub fn any_crash(&self) -> bool {
        self.services.iter().any(|(_, f)| f.crashes())
    }
}

impl<'de, S: Name> Deserialize<'de> for FaultsConfig<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut general = FaultsGeneral::default();
        let services = deserializer.deserialize_map(PerServiceVisitor {
            per_service: PerService::default(),
            others: Others::Faults(&mut general),
        })?;
        Ok(FaultsConfig { services, general })
    }
}

/// What can go wrong with one service's deliveries and handling.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceFaults {
    /// Chance that an event is delivered a second time, `delay_ms` later.
    pub duplicate: Probability,
    /// Chance that an event is delivered `delay_ms` late (later events of the same order wait
    /// behind it; other orders' events overtake it).
    pub delay: Probability,
    pub delay_ms: Millis,
    /// Chance that handling an event crashes the service (it is restarted, and the event
    /// delivered again).
    pub crash: Probability,
    /// Chance that handling an event crashes the service after it published some of what its
    /// decision caused (one event or more, drawn), before it recorded the event as handled:
    /// the window between a broker's publish acknowledgement and the consumer's own ack. It
    /// restarts from its state as of its last completed event, the event is delivered again,
    /// and the bus drops what it then publishes again, by event id.
    pub crash_after_publish: Probability,
    /// Chance that an event the service reacts to on the forward path is poison: its handling
    /// crashes every time, until it is dead-lettered.
    pub poison: Probability,
}

impl ServiceFaults {
    /// Whether the service may crash, at either point, or meet a poison event.
    pub fn crashes(&self) -> bool {
        !(self.crash.is_zero() && self.crash_after_publish.is_zero() && self.poison.is_zero())
    }

    pub fn any(&self) -> bool {
        !(self.duplicate.is_zero()
            && self.delay.is_zero()
            && self.crash.is_zero()
            && self.crash_after_publish.is_zero()
            && self.poison.is_zero())
    }
}

/// The random stream every simulated choice draws from: small, fast, and the same on every
/// platform for the same seed. Its whole state is one number, so a service that holds one
/// can still be cloned, compared and hashed (as `choreo check` does with every state).
#[derive(Clone, PartialEq, Eq)]
pub struct Rng(rand_pcg::Pcg64Mcg);

impl fmt::Debug for Rng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rng")
    }
}

impl std::hash::Hash for Rng {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.state().hash(state);
    }
}

impl rand::TryRng for Rng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.0.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.try_fill_bytes(dst)
    }
}

/// The stream for `name` under `seed`.
pub fn stream(seed: u64, name: &str) -> Rng {
    Rng(rand_pcg::Pcg64Mcg::seed_from_u64(mix(
        seed,
        fnv1a(name.as_bytes()),
    )))
}

/// Whether the event `id` is poison for `service`: decided by the seed and the id alone, so
/// every delivery of the event agrees.
pub fn is_poison(seed: u64, service: &str, id: &impl fmt::Display, chance: Probability) -> bool {
    if chance.is_zero() {
        return false;
    }
    let draw = mix(seed, Fnv1a::of(format_args!("{service}/{id}")));
    let uniform = (draw >> 11) as f64 / (1u64 << 53) as f64;
    uniform < chance.0
}

fn fnv1a(bytes: &[u8]) -> u64 {
    Fnv1a::default().add(bytes).0
}

/// FNV-1a, fed as text is written to it: a `Display` value's hash without its string (poison
/// is decided for every event a service takes, and a string each was a tenth of a chaos
/// run's allocations).
#[derive(Debug, Clone, Copy)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn add(self, bytes: &[u8]) -> Self {
        Fnv1a(bytes.iter().fold(self.0, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        }))
    }

    /// The hash of `text` as it would be formatted: the same as `fnv1a` of its string.
    fn of(text: fmt::Arguments<'_>) -> u64 {
        let mut hash = Fnv1a::default();
        // Writing into the hash cannot fail; only a `Display` impl could, and ids do not.
        let _ = fmt::write(&mut hash, text);
        hash.0
    }
}

impl fmt::Write for Fnv1a {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        *self = self.add(text.as_bytes());
        Ok(())
    }
}

/// SplitMix64's finaliser over the pair: distinct inputs give unrelated outputs.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Latency::Fixed { ms } => write!(f, "fixed {} ms", ms.0),
            Latency::Uniform { min_ms, max_ms } => {
                write!(f, "uniform {}..{} ms", min_ms.0, max_ms.0)
            }
            Latency::Normal {
                mean_ms,
                std_dev_ms,
            } => {
                write!(f, "normal {} ms ± {} ms", mean_ms.0, std_dev_ms.0)
            }
            Latency::Exponential { mean_ms } => write!(f, "exponential, mean {} ms", mean_ms.0),
            Latency::Lognormal { median_ms, sigma } => {
                write!(f, "lognormal, median {} ms, sigma {}", median_ms.0, sigma.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_name_give_the_same_stream() {
        let draws = |seed, name| {
            let mut rng = stream(seed, name);
            (0..5).map(|_| rng.random::<u64>()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7, "payment"), draws(7, "payment"));
        assert_ne!(draws(7, "payment"), draws(8, "payment"));
        assert_ne!(draws(7, "payment"), draws(7, "shipping"));
    }

    #[test]
    fn latency_models_draw_within_their_shape() {
        let mut rng = stream(1, "test");
        let fixed = Latency::Fixed { ms: Millis(2.5) };
        assert_eq!(fixed.sample(&mut rng), Duration::from_micros(2500));
        let uniform = Latency::Uniform {
            min_ms: Millis(5.0),
            max_ms: Millis(10.0),
        };
        for _ in 0..1000 {
            let d = uniform.sample(&mut rng);
            assert!(d >= Duration::from_millis(5) && d <= Duration::from_millis(10));
        }
        let exponential = Latency::Exponential {
            mean_ms: Millis(10.0),
        };
        let mean = (0..20_000)
            .map(|_| exponential.sample(&mut rng).as_secs_f64() * 1000.0)
            .sum::<f64>()
            / 20_000.0;
        assert!((9.0..11.0).contains(&mean), "mean {mean}");
        let normal = Latency::Normal {
            mean_ms: Millis(1.0),
            std_dev_ms: Millis(5.0),
        };
        assert!((0..1000).all(|_| normal.sample(&mut rng) >= Duration::ZERO));
    }

    #[test]
    fn poison_is_decided_by_seed_and_id_alone() {
        let id = |n| format!("{n}.OrderCreated");
        let chance = Probability(0.3);
        let service = "InventoryService";
        let poisoned: Vec<bool> = (1..=1000)
            .map(|n| is_poison(9, service, &id(n), chance))
            .collect();
        let again: Vec<bool> = (1..=1000)
            .map(|n| is_poison(9, service, &id(n), chance))
            .collect();
        assert_eq!(poisoned, again);
        let share = poisoned.iter().filter(|p| **p).count();
        assert!((200..400).contains(&share), "{share} of 1000");
        assert!(!is_poison(9, service, &id(1), Probability(0.0)));
    }

    /// Hashing text as it is formatted gives the hash of its string: the poison draws (and so
    /// every seeded schedule) are the ones a string per event gave.
    #[test]
    fn a_formatted_key_hashes_as_its_string() {
        for (service, id) in [
            ("InventoryService", "17.OrderCreated"),
            ("", ""),
            ("é", "1.X"),
        ] {
            let key = format!("{service}/{id}");
            assert_eq!(
                Fnv1a::of(format_args!("{service}/{id}")),
                fnv1a(key.as_bytes())
            );
        }
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(
            fnv1a(b"a"),
            0xaf63_dc4c_8601_ec8c,
            "FNV-1a's published value for \"a\""
        );
    }
}
