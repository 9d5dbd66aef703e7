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
//! The search is breadth first (stateright's), so the first violation found has a shortest
//! counterexample. It stops, incomplete, at `check.max_states` distinct states or after
//! `check.time_limit`.

mod model;

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stateright::{Checker, HasDiscoveries, Model as _};

use crate::engine::choreography::{Choreography, Envelope, EventId, Facts, SpawnError};
use crate::engine::config::Config;
use crate::input::Record;
use crate::plural::Count;
pub use model::Faults;
use model::{Broken, Fate, How, Model, State, Step};

/// The most instances one check takes: the state space grows about tenfold with each.
pub const MAX_INSTANCES: usize = 5;

/// How a search ended.
#[derive(Debug)]
pub struct Checked<C: Choreography> {
    /// Distinct states reached.
    pub states: usize,
    /// States generated, repeats included.
    pub generated: usize,
    /// The longest schedule explored, in steps.
    pub depth: usize,
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
    #[error("{count} to check; `check` explores every schedule of at most {MAX_INSTANCES} (the schedules multiply with each one): check a few at a time", count = Count(*count as u64, "order"))]
    TooMany { count: usize },
    #[error("a service panicked while the check ran its decisions")]
    Panicked,
}

/// Why the search should stop early, polled while it runs.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_states: u64,
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
    let stop = Arc::clone(&model.stop);
    let started = Instant::now();
    let mut checker = model
        .checker()
        .threads(1)
        .finish_when(HasDiscoveries::AnyFailures)
        .spawn_bfs();
    let handles = checker.handles();
    let mut stopped: Option<String> = None;
    while !handles.iter().all(|handle| handle.is_finished()) {
        std::thread::sleep(Duration::from_millis(5));
        let elapsed = started.elapsed();
        progress(checker.unique_state_count(), checker.max_depth(), elapsed);
        if stopped.is_none() {
            stopped = if limits.interrupt.load(Ordering::Relaxed) {
                Some("interrupted".to_owned())
            } else if checker.unique_state_count() as u64 >= limits.max_states {
                Some(format!("check.max_states ({}) reached", limits.max_states))
            } else if elapsed >= limits.time_limit {
                Some(format!(
                    "check.time_limit ({}) reached",
                    humantime::format_duration(limits.time_limit)
                ))
            } else {
                None
            };
            if stopped.is_some() {
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
    for handle in handles {
        handle.join().map_err(|_| CheckError::Panicked)?;
    }
    let elapsed = started.elapsed();
    let verdict = match first_violation(&checker) {
        Some(verdict) => verdict,
        None => match stopped {
            Some(reason) => Verdict::Incomplete { reason },
            None => Verdict::Holds,
        },
    };
    Ok(Checked {
        states: checker.unique_state_count(),
        generated: checker.state_count(),
        depth: checker.max_depth(),
        elapsed,
        verdict,
    })
}

/// The broken property with the shortest counterexample, if any.
fn first_violation<C: Choreography>(checker: &impl Checker<Model<C>>) -> Option<Verdict<C>> {
    let model = checker.model();
    let (property, path) = checker
        .discoveries()
        .into_iter()
        .min_by_key(|(name, path)| (path.clone().into_actions().len(), *name))?;
    let mut steps = model.start().1;
    let mut last: Option<State<C>> = None;
    for (state, action) in path.into_vec() {
        if let Some(action) = action {
            if let Some((_, taken)) = model.step(&state, action) {
                steps.extend(taken);
            }
        }
        last = Some(state);
    }
    let last = last?;
    let starts = last
        .streams
        .iter()
        .filter_map(|stream| stream.first())
        .map(|stored| Arc::clone(&stored.envelope))
        .collect();
    Some(Verdict::Violated {
        property,
        why: why::<C>(model, &last, property),
        counterexample: Counterexample { starts, steps },
    })
}

/// What breaks `property` in `state`, in a sentence.
fn why<C: Choreography>(model: &Model<C>, state: &State<C>, property: &str) -> String {
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
        (_, model::ENDS_ONCE) => Model::ends_badly(state).unwrap_or_default(),
        (_, model::FINISHES) => format!(
            "nothing is left to deliver, and {} {} no terminal event",
            match Model::unfinished(state).as_slice() {
                [one] => format!("order {one}"),
                many => format!("orders {}", many.join(", ")),
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
    /// The search's figures: states, depth, time and rate.
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
        Ok(())
    }
}
