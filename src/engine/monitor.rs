//! Invariants checked as a run goes: a [`Monitor`] takes every event in bus order and says
//! which property, if any, the event breaks. The meaning it must agree with is
//! [`Choreography::invariant`], which `choreo check` tests in every state it reaches; a
//! monitor checks the same properties incrementally, in O(1) per event and in memory bounded
//! by the instances in flight, so a run of millions of instances can check them all.
//!
//! What `run.invariants` does with it: `every-event` (the default) stops the run at the
//! first event that breaks a property, so the journal ends with that event; `end` lets the
//! run go on and fails it when it ends, naming the same event; `off` does not check.

use std::fmt;

use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::engine::choreography::{Choreography, Envelope};
use crate::engine::failure::{BrokenAt, Failure};
use crate::engine::kinds::Kinds;
use crate::engine::Name;
use crate::input::{InstanceId, Record};

/// A choreography's invariants, checked incrementally: see the module documentation.
pub trait Monitor<C: Choreography>: Send {
    /// Takes one event, in bus order, with the kinds its instance has had so far, its own
    /// included (the run keeps them for every instance in flight, so a monitor need not);
    /// the property it breaks, if any. Events of an instance come in the order they were
    /// published, each kind at most once; nothing of an instance follows its terminal event.
    fn observe(&mut self, envelope: &Envelope<C>, kinds: Kinds<C::Kind>) -> Result<(), Broken>;

    /// The run has ended: the end-state properties that span instances, if any.
    fn end(&mut self) -> Result<(), Broken> {
        Ok(())
    }
}

/// A property broken: which (a short name, `no charge past a credit limit`), and why, in a
/// sentence (`customer 2 is charged 2100000 cents, past a credit limit of 2000000`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub property: &'static str,
    pub why: String,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.why)
    }
}

/// When a run checks the choreography's invariants (`run.invariants`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariants {
    /// Not at all.
    Off,
    /// Every event is taken, and a broken property fails the run when it ends.
    End,
    /// A broken property stops the run at the event that broke it.
    EveryEvent,
}

/// The property [`Replay`] names: whatever [`Choreography::invariant`] says.
pub const INVARIANTS: &str = "the choreography's invariants hold";

/// The monitor of a choreography that has no incremental one of its own: it replays
/// [`Choreography::invariant`] on each instance's own events, as they come (`ended` false)
/// and once more when the instance reaches its terminal event (`ended` true: nothing is left
/// to deliver for it). The cost per event is bounded by the events of one instance
/// ([`Choreography::MAX_EVENTS`]), never by the length of the run, and it keeps only the
/// instances in flight. What it cannot see is a property that only a sum over several
/// instances breaks (two bookings that together overbook): a choreography with such a
/// property says so with a monitor of its own ([`Choreography::monitor`]), as the shop does.
#[derive(Debug)]
pub struct Replay<C: Choreography> {
    config: C::Config,
    in_flight: FxHashMap<InstanceId, Vec<Envelope<C>>>,
}

impl<C: Choreography> Replay<C> {
    pub fn new(config: &C::Config) -> Self {
        Replay {
            config: config.clone(),
            in_flight: FxHashMap::default(),
        }
    }
}

impl<C: Choreography> Monitor<C> for Replay<C> {
    fn observe(&mut self, envelope: &Envelope<C>, _: Kinds<C::Kind>) -> Result<(), Broken> {
        let terminal = envelope.is_terminal();
        let mut events = if terminal {
            self.in_flight
                .remove(&envelope.order_id)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let events = if terminal {
            events.push(envelope.clone());
            &events
        } else {
            let events = self.in_flight.entry(envelope.order_id).or_default();
            events.push(envelope.clone());
            &*events
        };
        let events: Vec<&Envelope<C>> = events.iter().collect();
        C::invariant(&self.config, &events, terminal).map_err(|why| Broken {
            property: INVARIANTS,
            why,
        })
    }
}

/// A run's monitor under `run.invariants`, whatever carries the events (the in-process bus,
/// or a stream over NATS): it takes the events in the order the run observes them and turns
/// a broken property into the run's [`Failure`], naming the event that broke it.
pub(crate) struct Watch<C: Choreography> {
    /// `None` when off, or once a property stopped the run, or once the run is over.
    monitor: Option<Box<dyn Monitor<C>>>,
    when: Invariants,
    /// With `end`: the first property broken, reported when the run ends.
    broken: Option<Failure>,
}

impl<C: Choreography> Watch<C> {
    pub(crate) fn new(when: Invariants, config: &C::Config) -> Self {
        Watch {
            monitor: (when != Invariants::Off).then(|| C::monitor(config)),
            when,
            broken: None,
        }
    }

    /// Gives `envelope` to the monitor: a property it breaks stops the run here
    /// (`every-event`: the error, and nothing is checked after it), or is kept for the run's
    /// end (`end`, the first only).
    pub(crate) fn observe(
        &mut self,
        envelope: &Envelope<C>,
        kinds: Kinds<C::Kind>,
    ) -> Result<(), Failure> {
        let Some(monitor) = &mut self.monitor else {
            return Ok(());
        };
        let Err(broken) = monitor.observe(envelope, kinds) else {
            return Ok(());
        };
        let failure = Failure::Invariant {
            property: broken.property,
            why: broken.why,
            at: Some(BrokenAt {
                seq: envelope.seq,
                noun: <C::Input as Record>::noun(),
                order_id: envelope.order_id,
                service: envelope.service.name(),
                kind: envelope.kind().name(),
            }),
        };
        if self.when == Invariants::EveryEvent {
            self.monitor = None;
            return Err(failure);
        }
        self.broken.get_or_insert(failure);
        Ok(())
    }

    /// The run is over: the property kept from earlier (`end`), or an end-state property
    /// broken. Nothing is checked after it.
    pub(crate) fn at_end(&mut self) -> Option<Failure> {
        let mut monitor = self.monitor.take()?;
        self.broken.take().or_else(|| {
            monitor.end().err().map(|broken| Failure::Invariant {
                property: broken.property,
                why: broken.why,
                at: None,
            })
        })
    }
}
