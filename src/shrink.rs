//! `choreo shrink`: from a failing run to the smallest case that still fails the same way.
//!
//! A [`Case`] is which of the order file's records run, the effective config (every key, as
//! one TOML table) and the seed. Each candidate runs in-process on the virtual clock, so one
//! of a few hundred orders costs milliseconds, and is kept when it fails with the same
//! [`Problem`] as the given run. The steps, each deterministic (the same case gives the same
//! result), repeated until a round changes nothing:
//! 1. fewer orders: delta debugging (Zeller's ddmin) over the records, down to a set from
//!    which no single order can be left out; then the first few of those under one of the
//!    next 32 seeds (a seeded fault hits the order whose draw it is, so the fewest orders
//!    that fail under one seed may be more than under another), and ddmin again;
//! 2. a smaller config: each entry of each of the choreography's own top-level tables
//!    ([`Choreography::CONFIG_KEYS`] without a dot: the shop's `products.<id>` and
//!    `customers.<id>`) taken out, all of a table's at once first (those no remaining order
//!    names go in one run), or else one at a time; a candidate whose config does not load (a
//!    customer `payment.default_customer` names) is no case. Only entries the built-in
//!    defaults do not have: a config is layered over them, so `--config DIR/config.toml`
//!    could not take one of theirs out (the shop's products 101 to 103 and customers 1 and 2
//!    stay). A choreography without such tables (the trip, the transfer) has nothing here;
//! 3. fewer and smaller faults: each fault chance of each service turned off, or else halved,
//!    then each delay turned to 0, then the choreography's own fault chances (under
//!    `simulation.faults`, in tables that are not a service's, such as the shop's
//!    `gateway.timeout`) turned off, or else halved;
//! 4. simpler latencies: each service's latency zeroed, or else made fixed at its middle
//!    value, then halved.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, ConfigError};
use crate::engine::failure::Problem;
use crate::engine::stats::Repeat;
use crate::engine::{run_until, Choreography, EventSink, Interrupt, RunFailed, Summary};
use crate::input::{OrderFileError, Record};
use crate::name::Name;

/// A case: the records that run (indices into the order file's, in file order), the
/// effective config, and the seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub orders: Vec<usize>,
    pub config: toml::Table,
    pub seed: u64,
}

impl Case {
    /// The typed config of this case, the seed in it.
    pub fn config<C: Choreography>(&self) -> Result<Config<C>, ConfigError> {
        let text = toml::to_string(&self.config).map_err(|err| ConfigError::Invalid {
            key: String::new(),
            origin: crate::config::Source::Code,
            message: err.to_string(),
        })?;
        let mut config = Config::<C>::from_toml(&text)?;
        config.simulation.seed = self.seed;
        Ok(config)
    }
}

/// The config table with `seed` as `simulation.seed` (a TOML integer, or a string past
/// TOML's integers, as `--set` takes it): what the case's `config.toml` holds.
pub fn with_seed(mut config: toml::Table, seed: u64) -> toml::Table {
    let value = i64::try_from(seed).map_or_else(
        |_| toml::Value::String(seed.to_string()),
        toml::Value::Integer,
    );
    if let Some(toml::Value::Table(simulation)) = config.get_mut("simulation") {
        simulation.insert("seed".into(), value);
    }
    config
}

/// What shrink tells as it goes.
#[derive(Debug)]
pub enum Step {
    /// A line for the user: what it found, what it took out.
    Said(String),
    /// A candidate ran: how many so far, and the orders of the smallest failing case.
    Ran { runs: u64, orders: usize },
}

/// Why there is nothing to shrink.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error("the run does not fail: nothing to shrink")]
    Passes,
    #[error("the run fails in a way shrink does not reduce ({0})")]
    Unclassified(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot start the Tokio runtime: {0}")]
    Runtime(std::io::Error),
}

/// What shrinking found.
#[derive(Debug)]
pub struct Shrunk {
    /// The smallest failing case found.
    pub case: Case,
    /// How it fails, as the given run did.
    pub problem: Problem,
    /// Candidate runs made, the given run's included.
    pub runs: u64,
    /// Whether Ctrl-C stopped it before the end (`case` is then the smallest so far).
    pub interrupted: bool,
}

/// Runs `case` over `records` with `sink` on a fresh virtual clock, as `choreo run` would.
pub fn run_case<C: Choreography>(
    records: &[C::Input],
    case: &Case,
    config: &Config<C>,
    sink: &mut (dyn EventSink<C> + Send),
    interrupt: &Interrupt,
) -> Result<Result<Summary<C>, RunFailed<C>>, ShrinkError> {
    let runtime = crate::sim::virtual_runtime().map_err(ShrinkError::Runtime)?;
    let orders = case.orders.iter().map(|&i| records[i].clone());
    Ok(runtime.block_on(run_until(config, orders, sink, interrupt)))
}

/// A sink that keeps nothing: candidates are judged by how they end.
struct Nothing;

impl<C: Choreography> EventSink<C> for Nothing {
    fn event(&mut self, _envelope: &crate::engine::Envelope<C>) -> std::io::Result<()> {
        Ok(())
    }
}

/// The fault chances of each service (`simulation.faults.<service>.<chance>`), in the order
/// they are tried.
const CHANCES: [&str; 5] = [
    "poison",
    "crash",
    "crash_after_publish",
    "duplicate",
    "delay",
];

/// Other seeds tried for fewer orders.
const SEEDS: u64 = 32;

/// How often a setting that cannot go is halved, at most.
const HALVINGS: u32 = 4;

/// The reduction in progress.
struct Shrinker<'a, C: Choreography> {
    records: &'a [C::Input],
    target: Problem,
    best: Case,
    runs: u64,
    interrupt: &'a Interrupt,
    stop: &'a AtomicBool,
    report: &'a mut dyn FnMut(Step),
    /// The built-in defaults, every key: what a config layered over them cannot take out.
    defaults: toml::Table,
}

/// Shrinks `start`, a case over `records`, while it fails as it does; `report` hears of each
/// step and each run. Ctrl-C (`stop` set, `interrupt` cancelled) ends it with the smallest
/// case so far.
pub fn shrink<C: Choreography>(
    records: &[C::Input],
    start: Case,
    interrupt: &Interrupt,
    stop: &AtomicBool,
    report: &mut dyn FnMut(Step),
) -> Result<Shrunk, ShrinkError> {
    let config = start.config::<C>()?;
    let started = Instant::now();
    let failures = match run_case(records, &start, &config, &mut Nothing, interrupt)? {
        Ok(_) => return Err(ShrinkError::Passes),
        Err(failed) => failed.failures,
    };
    let Some(target) = Problem::of(&failures) else {
        return Err(ShrinkError::Unclassified(
            crate::engine::failure::Failures(failures).to_string(),
        ));
    };
    report(Step::Said(format!(
        "the run fails: {target} ({}, {:.1} s)",
        crate::plural::Count(start.orders.len() as u64, <C::Input as Record>::noun()),
        started.elapsed().as_secs_f64()
    )));
    let mut shrinker = Shrinker::<C> {
        records,
        target,
        best: start,
        runs: 1,
        interrupt,
        stop,
        report,
        defaults: Config::<C>::effective(&[], &[])?,
    };
    loop {
        let before = shrinker.best.clone();
        shrinker.orders()?;
        shrinker.settings()?;
        shrinker.faults()?;
        shrinker.latencies()?;
        if shrinker.best == before || shrinker.stopped() {
            break;
        }
    }
    Ok(Shrunk {
        interrupted: shrinker.stopped(),
        problem: shrinker.target,
        runs: shrinker.runs,
        case: shrinker.best,
    })
}

impl<C: Choreography> Shrinker<'_, C> {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn say(&mut self, line: String) {
        (self.report)(Step::Said(line));
    }

    fn noun() -> &'static str {
        <C::Input as Record>::noun()
    }

    /// Runs `case` and says whether it fails as the given run did.
    fn fails_the_same_way(&mut self, case: &Case, config: &Config<C>) -> Result<bool, ShrinkError> {
        if self.stopped() {
            return Ok(false);
        }
        self.runs += 1;
        (self.report)(Step::Ran {
            runs: self.runs,
            orders: self.best.orders.len(),
        });
        Ok(
            match run_case(self.records, case, config, &mut Nothing, self.interrupt)? {
                Ok(_) => false,
                Err(failed) => {
                    !failed.interrupted()
                        && !self.stopped()
                        && Problem::of(&failed.failures).as_ref() == Some(&self.target)
                }
            },
        )
    }

    /// Keeps `candidate` if it fails the same way (a config that does not pass its checks is
    /// not a case).
    fn try_config(&mut self, candidate: Case) -> Result<bool, ShrinkError> {
        let Ok(config) = candidate.config::<C>() else {
            return Ok(false);
        };
        let kept = self.fails_the_same_way(&candidate, &config)?;
        if kept {
            self.best = candidate;
        }
        Ok(kept)
    }

    /// Step 1: ddmin over the orders, then fewer orders under another seed, then ddmin again,
    /// for as long as that takes orders out.
    fn orders(&mut self) -> Result<(), ShrinkError> {
        self.ddmin()?;
        while self.best.orders.len() >= 2 && !self.stopped() && self.fewer_with_another_seed()? {
            self.ddmin()?;
        }
        Ok(())
    }

    /// The same failure, with the first of the orders only, under one of the next [`SEEDS`]
    /// seeds: a fault drawn from a seeded stream hits the order whose draw it is, so the
    /// fewest orders that fail under one seed may be more than under another. The fewest
    /// orders first, then the nearest seed.
    fn fewer_with_another_seed(&mut self) -> Result<bool, ShrinkError> {
        let mut config = self.best.config::<C>()?;
        let (from, seed) = (self.best.orders.len(), self.best.seed);
        for size in 1..from {
            for offset in 1..=SEEDS {
                let candidate = Case {
                    orders: self.best.orders[..size].to_vec(),
                    seed: seed.wrapping_add(offset),
                    config: self.best.config.clone(),
                };
                config.simulation.seed = candidate.seed;
                if self.fails_the_same_way(&candidate, &config)? {
                    self.say(format!(
                        "{}s: {from} -> {size}, with seed {} instead of {seed}",
                        Self::noun(),
                        candidate.seed
                    ));
                    self.best = candidate;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// ddmin over the orders: each subset of the current set is tried, then each complement,
    /// at a granularity that doubles when neither fails.
    fn ddmin(&mut self) -> Result<(), ShrinkError> {
        let config = self.best.config::<C>()?;
        let mut parts = 2;
        while self.best.orders.len() >= 2 && !self.stopped() {
            let current = self.best.orders.clone();
            let chunks: Vec<&[usize]> = current.chunks(current.len().div_ceil(parts)).collect();
            let mut found = None;
            for chunk in &chunks {
                let subset = Case {
                    orders: chunk.to_vec(),
                    ..self.best.clone()
                };
                if self.fails_the_same_way(&subset, &config)? {
                    found = Some((subset, 2));
                    break;
                }
            }
            if found.is_none() && chunks.len() > 2 {
                for i in 0..chunks.len() {
                    let complement: Vec<usize> = chunks
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .flat_map(|(_, chunk)| chunk.iter().copied())
                        .collect();
                    let candidate = Case {
                        orders: complement,
                        ..self.best.clone()
                    };
                    if self.fails_the_same_way(&candidate, &config)? {
                        found = Some((candidate, (chunks.len() - 1).max(2)));
                        break;
                    }
                }
            }
            match found {
                Some((smaller, next)) => {
                    self.say(format!(
                        "{}s: {} -> {}",
                        Self::noun(),
                        current.len(),
                        smaller.orders.len()
                    ));
                    self.best = smaller;
                    parts = next;
                }
                None if parts >= current.len() => break,
                None => parts = (parts * 2).min(current.len()),
            }
        }
        Ok(())
    }

    /// Step 2: the entries of the choreography's own top-level tables that the built-in
    /// defaults do not have, all of a table's out at once, or else each in turn.
    fn settings(&mut self) -> Result<(), ShrinkError> {
        for table in C::CONFIG_KEYS.iter().filter(|key| !key.contains('.')) {
            let Some(toml::Value::Table(entries)) = self.best.config.get(*table) else {
                continue;
            };
            let removable: Vec<String> = entries
                .keys()
                .filter(|entry| lookup(&self.defaults, &[table, entry.as_str()]).is_none())
                .cloned()
                .collect();
            if removable.len() > 1 && self.without(table, &removable)? {
                continue;
            }
            for entry in removable {
                self.without(table, std::slice::from_ref(&entry))?;
            }
        }
        Ok(())
    }

    /// Takes `entries` out of `table`; says so if that is kept.
    fn without(&mut self, table: &str, entries: &[String]) -> Result<bool, ShrinkError> {
        let mut candidate = self.best.clone();
        if let Some(toml::Value::Table(settings)) = candidate.config.get_mut(table) {
            for entry in entries {
                settings.remove(entry);
            }
        }
        let kept = self.try_config(candidate)?;
        if kept {
            self.say(format!("{table}: without {}", entries.join(", ")));
        }
        Ok(kept)
    }

    /// Step 3: each fault chance off, or else lower; each delay 0; the choreography's own
    /// faults to 0.
    fn faults(&mut self) -> Result<(), ShrinkError> {
        for service in C::Service::ALL {
            for chance in CHANCES {
                self.lower(&["simulation", "faults", service.key(), chance])?;
            }
        }
        for service in C::Service::ALL {
            self.zero(&["simulation", "faults", service.key(), "delay_ms"])?;
        }
        for (table, key) in own_chances::<C>(&self.best.config) {
            self.lower(&["simulation", "faults", &table, &key])?;
        }
        Ok(())
    }

    /// Sets the number at `path` to 0, if it is not; says so if that is kept.
    fn zero(&mut self, path: &[&str]) -> Result<bool, ShrinkError> {
        let Some(value) = lookup(&self.best.config, path).and_then(number) else {
            return Ok(false);
        };
        if value == 0.0 {
            return Ok(false);
        }
        let mut candidate = self.best.clone();
        set(
            &mut candidate.config,
            path,
            zero_like(lookup(&self.best.config, path)),
        );
        let kept = self.try_config(candidate)?;
        if kept {
            self.say(format!("{}: {} -> 0", path.join("."), value));
        }
        Ok(kept)
    }

    /// Sets the number at `path` to 0, or else halves it while the case fails.
    fn lower(&mut self, path: &[&str]) -> Result<(), ShrinkError> {
        let Some(first) = lookup(&self.best.config, path).and_then(number) else {
            return Ok(());
        };
        if first == 0.0 || self.zero(path)? {
            return Ok(());
        }
        let mut value = first;
        for _ in 0..HALVINGS {
            let mut candidate = self.best.clone();
            set(&mut candidate.config, path, toml::Value::Float(value / 2.0));
            if !self.try_config(candidate)? {
                break;
            }
            value /= 2.0;
        }
        if value < first {
            self.say(format!("{}: {first} -> {value}", path.join(".")));
        }
        Ok(())
    }

    /// Step 4: each service's latency zeroed, or else made fixed at its middle, then halved.
    fn latencies(&mut self) -> Result<(), ShrinkError> {
        for service in C::Service::ALL {
            let path = ["simulation", "latency", service.key()];
            let Some(toml::Value::Table(latency)) = lookup(&self.best.config, &path).cloned()
            else {
                continue;
            };
            let model = latency
                .get("model")
                .and_then(toml::Value::as_str)
                .unwrap_or("fixed");
            let ms = |key: &str| latency.get(key).and_then(number).unwrap_or(0.0);
            let middle = match model {
                "uniform" => (ms("min_ms") + ms("max_ms")) / 2.0,
                "normal" | "exponential" => ms("mean_ms"),
                "lognormal" => ms("median_ms"),
                _ => ms("ms"),
            };
            if model == "fixed" && middle == 0.0 {
                continue;
            }
            let was = toml::Value::Table(latency.clone()).to_string();
            let mut kept = None;
            for value in [0.0, middle] {
                if value == middle && model == "fixed" {
                    break;
                }
                let mut candidate = self.best.clone();
                set(&mut candidate.config, &path, fixed(value));
                if self.try_config(candidate)? {
                    kept = Some(value);
                    break;
                }
            }
            let mut value = match (kept, model) {
                (Some(0.0), _) => {
                    self.say(format!("{}: {was} -> fixed 0 ms", path.join(".")));
                    continue;
                }
                (Some(value), _) => value,
                (None, "fixed") => middle,
                (None, _) => continue,
            };
            let start = value;
            for _ in 0..HALVINGS {
                let mut candidate = self.best.clone();
                set(&mut candidate.config, &path, fixed(value / 2.0));
                if !self.try_config(candidate)? {
                    break;
                }
                value /= 2.0;
            }
            if kept.is_some() || value < start {
                self.say(format!("{}: {was} -> fixed {value} ms", path.join(".")));
            }
        }
        Ok(())
    }
}

/// `{ model = "fixed", ms = value }`.
fn fixed(ms: f64) -> toml::Value {
    let mut table = toml::Table::new();
    table.insert("model".into(), toml::Value::String("fixed".into()));
    table.insert("ms".into(), toml::Value::Float(ms));
    toml::Value::Table(table)
}

/// A number, integer or float.
fn number(value: &toml::Value) -> Option<f64> {
    value
        .as_float()
        .or_else(|| value.as_integer().map(|n| n as f64))
}

/// 0 of the same TOML type as `value` (an integer setting stays an integer).
fn zero_like(value: Option<&toml::Value>) -> toml::Value {
    match value {
        Some(toml::Value::Integer(_)) => toml::Value::Integer(0),
        _ => toml::Value::Float(0.0),
    }
}

fn lookup<'t>(table: &'t toml::Table, path: &[&str]) -> Option<&'t toml::Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(table.get(*first)?, |value, key| value.get(key))
}

/// Sets `path` (whose tables exist) to `value`.
fn set(table: &mut toml::Table, path: &[&str], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut here = table;
    for key in parents {
        match here.get_mut(*key) {
            Some(toml::Value::Table(inner)) => here = inner,
            _ => return,
        }
    }
    here.insert((*last).to_owned(), value);
}

/// The file's records as JSON values, in file order: each as the file wrote it, to write back
/// the ones a case keeps. `count` is how many `read_order_file` read, which checked them.
pub fn raw_records(path: &Path, count: usize) -> Result<Vec<serde_json::Value>, OrderFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| OrderFileError::Io {
        path: path.to_owned(),
        source,
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut values = Vec::with_capacity(count);
    for value in serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>() {
        match value {
            Ok(serde_json::Value::Array(items)) => values.extend(items),
            Ok(value) => values.push(value),
            Err(err) => {
                return Err(OrderFileError::invalid(
                    path,
                    err.line(),
                    err.column(),
                    err.to_string(),
                ))
            }
        }
    }
    if values.len() != count {
        return Err(OrderFileError::invalid(
            path,
            1,
            1,
            format!("{} JSON values but {count} records", values.len()),
        ));
    }
    Ok(values)
}

/// The files of a case in its directory.
#[derive(Debug)]
pub struct Files {
    pub orders: PathBuf,
    pub config: PathBuf,
    pub seed: PathBuf,
    pub journal: PathBuf,
}

impl Files {
    pub fn in_dir(dir: &Path) -> Self {
        Files {
            orders: dir.join("orders.jsonl"),
            config: dir.join("config.toml"),
            seed: dir.join("seed"),
            journal: dir.join("journal.jsonl"),
        }
    }
}

/// A file that could not be written: where, what, why.
pub type WriteError = (PathBuf, &'static str, io::Error);

/// An error writing `what` at `path`.
fn fail(path: &Path, what: &'static str) -> impl FnOnce(io::Error) -> WriteError {
    let path = path.to_owned();
    move |source| (path, what, source)
}

/// Writes the case of `shrunk` to `files`: its orders as JSON Lines (each record as the
/// order file wrote it), its config complete with its seed, the seed, and the journal of its
/// run (run once more here, first line `repeat`). Whether that run failed the same way (on
/// the virtual clock it does: the same case is the same run).
pub fn write_case<C: Choreography>(
    files: &Files,
    records: &[C::Input],
    raw: &[serde_json::Value],
    shrunk: &Shrunk,
    repeat: &Repeat,
) -> Result<bool, WriteError> {
    let case = &shrunk.case;
    let mut orders = String::new();
    for &i in &case.orders {
        orders.push_str(&raw[i].to_string());
        orders.push('\n');
    }
    std::fs::write(&files.orders, orders).map_err(fail(&files.orders, "orders"))?;
    let config = toml::to_string(&with_seed(case.config.clone(), case.seed))
        .map_err(io::Error::other)
        .map_err(fail(&files.config, "config"))?;
    std::fs::write(&files.config, config).map_err(fail(&files.config, "config"))?;
    std::fs::write(&files.seed, format!("{}\n", case.seed)).map_err(fail(&files.seed, "seed"))?;
    let file = std::fs::File::create(&files.journal).map_err(fail(&files.journal, "journal"))?;
    let mut journal = crate::view::journal::create::<C>(&files.journal, file, Some(repeat))
        .map_err(fail(&files.journal, "journal"))?;
    let config = case
        .config::<C>()
        .map_err(io::Error::other)
        .map_err(fail(&files.config, "config"))?;
    let ran = run_case(records, case, &config, &mut journal, &Interrupt::default())
        .map_err(io::Error::other)
        .map_err(fail(&files.journal, "journal"))?;
    journal.finish().map_err(fail(&files.journal, "journal"))?;
    Ok(match ran {
        Ok(_) => false,
        Err(failed) => Problem::of(&failed.failures).as_ref() == Some(&shrunk.problem),
    })
}

/// The faults a case's config still has, as `service.chance = value`; `no fault` if none.
pub fn faults_left<C: Choreography>(config: &toml::Table) -> String {
    let mut left = Vec::new();
    for service in C::Service::ALL {
        for chance in CHANCES {
            let path = ["simulation", "faults", service.key(), chance];
            if let Some(value) = lookup(config, &path).and_then(number).filter(|v| *v != 0.0) {
                left.push(format!("{}.{chance} = {value}", service.key()));
            }
        }
    }
    for (table, key) in own_chances::<C>(config) {
        let path = ["simulation", "faults", &table, &key];
        if let Some(value) = lookup(config, &path).and_then(number).filter(|v| *v != 0.0) {
            left.push(format!("{table}.{key} = {value}"));
        }
    }
    match left.is_empty() {
        true => "no fault".to_owned(),
        false => format!("faults left: {}", left.join(", ")),
    }
}

/// The choreography's own fault chances: under `simulation.faults`, in a table that is not a
/// service's, each key with a fractional number that is not a time (`_ms`), such as the
/// shop's `gateway.timeout`.
fn own_chances<C: Choreography>(config: &toml::Table) -> Vec<(String, String)> {
    let Some(toml::Value::Table(faults)) = lookup(config, &["simulation", "faults"]) else {
        return Vec::new();
    };
    let mut chances = Vec::new();
    for (table, value) in faults {
        if C::Service::ALL.iter().any(|s| s.key() == table.as_str()) {
            continue;
        }
        let toml::Value::Table(settings) = value else {
            continue;
        };
        for (key, value) in settings {
            if value.is_float() && !key.ends_with("_ms") {
                chances.push((table.clone(), key.clone()));
            }
        }
    }
    chances
}

/// The most orders a minimal case may have for shrink to run `check` on it: a check of more
/// may take long for a choreography that does not declare what its instances share.
const CHECKED_AT_MOST: usize = 5;

/// With at most 5 orders (`CHECKED_AT_MOST`), what `check` says of the case: is
/// its failure reachable in some schedule, with the kinds of fault the case has, without the
/// simulator's timing (a protocol bug), or does it need the timing? `None` for a bigger case.
pub fn checked<C: Choreography>(
    records: &[C::Input],
    case: &Case,
    stop: &Arc<AtomicBool>,
) -> Option<String> {
    if case.orders.len() > CHECKED_AT_MOST {
        return None;
    }
    let config = case.config::<C>().ok()?;
    let inputs: Vec<C::Input> = case.orders.iter().map(|&i| records[i].clone()).collect();
    let faults = &config.simulation.faults.services;
    let faults = crate::check::Faults {
        duplicates: faults.iter().any(|(_, f)| !f.duplicate.is_zero()),
        crashes: u32::from(faults.iter().any(|(_, f)| f.crashes())),
        reduction: config.check.reduction,
    };
    let limits = crate::check::Limits {
        max_states: config.check.max_states,
        max_memory: config.check.max_memory.0,
        time_limit: config.check.time_limit,
        interrupt: Arc::clone(stop),
    };
    let what = format!(
        "every schedule of {}{}{}",
        crate::plural::Count(inputs.len() as u64, <C::Input as Record>::noun()),
        if faults.duplicates {
            ", duplicate deliveries"
        } else {
            ""
        },
        if faults.crashes > 0 { ", a crash" } else { "" },
    );
    Some(match crate::check::check(&config, &inputs, faults, &limits, &mut |_, _, _| {}) {
        Err(err) => format!("check: {err}"),
        Ok(checked) => match checked.verdict {
            crate::check::Verdict::Violated { property, .. } => format!(
                "check: {what}: broken ({property}) without the simulator's timing: a protocol bug; `check` on the case shows a shortest schedule"
            ),
            crate::check::Verdict::Holds => format!(
                "check: {what}: no property broken; the failure needs the simulator's timing (latencies, delays, the time limit)"
            ),
            crate::check::Verdict::Incomplete { reason } => format!(
                "check: {what}: search incomplete ({reason}); whether the failure needs the simulator's timing is not known"
            ),
        },
    })
}
