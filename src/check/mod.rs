//! `choreo check`: every schedule of a few instances, searched exhaustively.
//!
//! The seed swarm samples schedules; this explores all of them, for the instances of one
//! small input: every order in which the services can receive the events (each instance's
//! events reach a service in the order they were published, as a broker's per-subject order
//! gives them; instances interleave freely), duplicate delivery of any event a service has
//! taken at any later point, and up to a number of crashes of any service at any step, before
//! its decision or after it published some of what it decided (see the `model` module). The services'
//! real decisions run, through the task loop's own de-duplication and per-instance records.
//!
//! The search is breadth first (the `search` module), so the first violation found has a
//! shortest counterexample. It stops, incomplete, at `check.max_states` distinct states, at
//! `check.max_memory` (the size of what it keeps), after `check.time_limit`, or on Ctrl-C,
//! within a few states of being told.

mod model;
mod search;

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::choreography::{Choreography, Envelope, EventId, Facts, SpawnError};
pub use crate::engine::config::Bytes;
use crate::engine::config::Config;
use crate::input::Record;
use crate::plural::Count;
use model::{Action, Broken, Fate, How, Model, State, Step};
pub use model::{Faults, Reduction};
use search::End;

/// The most instances one check takes: the state space grows tenfold with each where the
/// choreography declares what its instances share (the partial-order reduction), and more
/// where it does not.
pub const MAX_INSTANCES: usize = 6;

/// How a search ended.
#[derive(Debug)]
pub struct Checked<C: Choreography> {
    /// Distinct states reached.
    pub states: usize,
    /// States generated, repeats included.
    pub generated: usize,
    /// The longest schedule explored, in steps.
    pub depth: usize,
    /// The size of what the search kept, at its largest, in bytes (an estimate: see
    /// `check.max_memory`).
    pub memory: u64,
    /// How the instances ended, among the states explored: an outcome, with the cause the
    /// instance's events give (`rejected: not enough stock`), as the report names them.
    pub endings: BTreeSet<String>,
    pub elapsed: Duration,
    pub verdict: Verdict<C>,
}

#[derive(Debug)]
pub enum Verdict<C: Choreography> {
    /// Every reachable state was explored and none breaks a property.
    Holds,
    /// A property is broken: which, why, and a shortest schedule that breaks it.
    Violated {
        property: &'static str,
        why: String,
        counterexample: Counterexample<C>,
    },
    /// The search stopped before it explored everything, for this reason; nothing broken
    /// was found in what it explored.
    Incomplete { reason: String },
}

/// A schedule that breaks a property, step by step.
#[derive(Debug)]
pub struct Counterexample<C: Choreography> {
    starts: Vec<Arc<Envelope<C>>>,
    steps: Vec<Step<C>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error("{count} to check; `check` explores every schedule of at most {MAX_INSTANCES} (the schedules multiply with each one): check a few at a time", count = Count(*count as u64, noun))]
    TooMany { count: usize, noun: &'static str },
    #[error("a service panicked while the check ran its decisions")]
    Panicked,
}

/// Why the search should stop early, polled while it runs.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_states: u64,
    /// Bytes the search may keep (its store: see the `search` module).
    pub max_memory: u64,
    pub time_limit: Duration,
    /// Set from outside (Ctrl-C) to stop the search.
    pub interrupt: Arc<AtomicBool>,
}

/// Explores every schedule of `inputs` under `faults`, with the services of `config`;
/// `progress` hears (states, depth, elapsed) a few times a second.
pub fn check<C: Choreography>(
    config: &Config<C>,
    inputs: &[C::Input],
    faults: Faults,
    limits: &Limits,
    progress: &mut dyn FnMut(usize, usize, Duration),
) -> Result<Checked<C>, CheckError> {
    if inputs.len() > MAX_INSTANCES {
        return Err(CheckError::TooMany {
            count: inputs.len(),
            noun: <C::Input as Record>::noun(),
        });
    }
    let starts = inputs
        .iter()
        .map(|input| {
            let (service, event) = C::start(input, &config.choreography);
            Envelope {
                seq: 0,
                at_us: 0,
                id: EventId {
                    order_id: input.id(),
                    kind: C::kind(&event),
                },
                order_id: input.id(),
                service,
                cause: None,
                event,
            }
        })
        .collect();
    let model = Model::<C>::new(
        &config.choreography,
        config.simulation.seed,
        config.services.dedup_window,
        starts,
        faults,
    )?;
    let started = Instant::now();
    let searched = search::search(&model, limits, progress);
    let verdict = match searched.end {
        End::Explored => Verdict::Holds,
        End::Stopped(reason) => Verdict::Incomplete { reason },
        End::Broken { property, path } => violation(&model, property, &path),
    };
    Ok(Checked {
        states: searched.states,
        generated: searched.generated,
        depth: searched.depth,
        memory: searched.memory,
        endings: searched.endings,
        elapsed: started.elapsed(),
        verdict,
    })
}

/// `property`, broken at the end of `path`: why, and the schedule step by step.
fn violation<C: Choreography>(
    model: &Model<C>,
    property: &'static str,
    path: &[Action],
) -> Verdict<C> {
    let (mut last, mut steps) = model.start();
    for &action in path {
        if let Some((next, taken)) = model.step(&last, action) {
            steps.extend(taken);
            last = next;
        }
    }
    let starts = last
        .streams
        .iter()
        .filter_map(|stream| stream.first())
        .map(|stored| Arc::clone(&stored.envelope))
        .collect();
    Verdict::Violated {
        property,
        why: why::<C>(model, &last, property),
        counterexample: Counterexample { starts, steps },
    }
}

/// What breaks `property` in `state`, in a sentence.
fn why<C: Choreography>(model: &Model<C>, state: &State<C>, property: &str) -> String {
    if let (Some(round), model::FINISHES) = (Model::looped(state), property) {
        let steps: Vec<String> = round
            .iter()
            .map(|envelope| format!("{} by {}", envelope.kind(), envelope.service))
            .collect();
        return format!(
            "{} {} goes round a loop that never ends it: {} again (a livelock: only the \
             repeat's id, {}, stops it here)",
            <C::Input as Record>::noun(),
            round[0].order_id,
            steps.join(" -> "),
            round[0].id
        );
    }
    match (&state.broken, property) {
        (Some(Broken::Twice { second }), model::PUBLISHED_ONCE) => format!(
            "{} published {} a second time: what that event stands for was done twice",
            second.service, second.id
        ),
        (Some(Broken::Undeclared { envelope }), model::DECLARED) => format!(
            "{} published {}, which it does not declare in PUBLISHES",
            envelope.service,
            envelope.kind()
        ),
        (Some(Broken::Shares { service, delivered }), model::PER_INSTANCE) => format!(
            "{service} changed what it shares between {noun}s handling {}, which the \
             choreography declares touches only the {noun}'s own record \
             (Choreography::shared): declare it shared",
            delivered.id,
            noun = <C::Input as Record>::noun(),
        ),
        (_, model::ENDS_ONCE) => Model::ends_badly(state).unwrap_or_default(),
        (_, model::FINISHES) => format!(
            "nothing is left to deliver, and {} {} no terminal event",
            match Model::unfinished(state).as_slice() {
                [one] => format!("{} {one}", <C::Input as Record>::noun()),
                many => format!("{}s {}", <C::Input as Record>::noun(), many.join(", ")),
            },
            if Model::unfinished(state).len() == 1 {
                "has"
            } else {
                "have"
            }
        ),
        _ => model.invariant(state).err().unwrap_or_default(),
    }
}

impl<C: Choreography> Checked<C> {
    /// The line that says how the instances ended among the states explored, of the endings
    /// the choreography can have where it says ([`Choreography::endings`]):
    /// `2 of 10 endings reached: completed; rejected: not enough stock` (a cause's label may
    /// hold a comma).
    pub fn endings_line(&self) -> String {
        let endings: Vec<&str> = self.endings.iter().map(String::as_str).collect();
        let of = C::endings().map_or(String::new(), |all| format!(" of {}", all.len()));
        match endings.as_slice() {
            [] if of.is_empty() => "no ending reached".to_owned(),
            [] => format!("none{of} endings reached"),
            [one] => format!(
                "1{of} ending{} reached: {one}",
                if of.is_empty() { "" } else { "s" }
            ),
            many => format!("{}{of} endings reached: {}", many.len(), many.join("; ")),
        }
    }
}

impl<C: Choreography> Counterexample<C> {
    pub fn steps(&self) -> usize {
        self.steps.len()
    }

    /// The schedule, one numbered step a line, each followed by what it published, in the
    /// words of `choreo trace`.
    pub fn write(&self, out: &mut impl io::Write) -> io::Result<()> {
        for (n, step) in self.steps.iter().enumerate() {
            let delivered = &step.delivered;
            let how = match step.how {
                How::First => String::new(),
                How::AfterRestart => " again, restarted after its crash".to_owned(),
                How::Duplicate => " again (a duplicate delivery)".to_owned(),
                How::Crash { published: 0 } => ", and crashes before deciding".to_owned(),
                How::Crash { published } => format!(
                    ", and crashes after publishing {}, before recording it as handled",
                    Count(published as u64, "event")
                ),
            };
            writeln!(
                out,
                "{:>4}. {} receives {} from {}{how}",
                n + 1,
                step.service,
                delivered.id,
                delivered.service
            )?;
            for (envelope, fate) in &step.published {
                let note = match fate {
                    Fate::Stored => "",
                    Fate::Dropped => "  (the same as before the crash: dropped by its id)",
                    Fate::Broken => "  <- violation",
                };
                writeln!(
                    out,
                    "        {} by {}{}{note}",
                    envelope.kind(),
                    envelope.service,
                    Facts::<C>(&envelope.event).after_colon()
                )?;
            }
        }
        Ok(())
    }

    /// The schedule as a journal, for `choreo trace` and `choreo diagram order`: the first
    /// events at time 0, then everything each step published (dropped events aside) at
    /// step n = n ms, in sequence.
    pub fn journal(&self) -> Vec<Envelope<C>> {
        let mut events: Vec<Envelope<C>> = self.starts.iter().map(|e| (**e).clone()).collect();
        for (n, step) in self.steps.iter().enumerate() {
            for (envelope, fate) in &step.published {
                if *fate != Fate::Dropped {
                    let mut envelope = (**envelope).clone();
                    envelope.at_us = (n as u64 + 1) * 1000;
                    events.push(envelope);
                }
            }
        }
        for (seq, envelope) in events.iter_mut().enumerate() {
            envelope.seq = seq as u64;
        }
        events
    }
}

impl<C: Choreography> fmt::Display for Checked<C> {
    /// The search's figures: states, depth, time, rate and the most memory kept.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        write!(
            f,
            "{} distinct states ({} generated), depth {}, {:.2} s",
            self.states, self.generated, self.depth, seconds
        )?;
        if seconds > 0.0 {
            write!(f, ", {:.0} states/s", self.states as f64 / seconds)?;
        }
        write!(
            f,
            ", {:.1} MiB kept",
            self.memory as f64 / f64::from(1 << 20)
        )
    }
}
