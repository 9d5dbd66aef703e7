//! Coverage: what a run exercised, folded from the events in bus order. Which declared
//! subscriptions were handled (a (service, kind) pair: an event of the kind was published,
//! and the bus delivers every event to every service that subscribes to its kind), which ways
//! an instance ended ([`ending`], the words `choreo check` and the report use too) among the
//! ones the choreography can reach ([`Choreography::endings`]), and which faults fired, how
//! often. O(1) per event; memory bounded by the instances in flight.

use std::collections::BTreeMap;
use std::fmt;

use derive_where::derive_where;
use rustc_hash::FxHashMap;
use serde::ser::SerializeStruct;
use serde::Serialize;

use crate::engine::choreography::{declarations, Choreography, Envelope, Name, Outcome};
use crate::input::InstanceId;

/// How an instance ended, in the report's words: its outcome, and the label of the cause the
/// first of its events that gives one gives (`rejected: not enough stock`), or the outcome
/// alone (`completed`).
pub fn ending(outcome: Option<Outcome>, cause: Option<&str>) -> String {
    let outcome = outcome.map_or("ended", Outcome::name);
    match cause {
        Some(label) => format!("{outcome}: {label}"),
        None => outcome.to_owned(),
    }
}

/// See the module documentation.
#[derive_where(Clone, Debug)]
pub struct Coverage<C: Choreography> {
    /// Events published, per kind (by [`Name::index`]).
    kinds: Vec<u64>,
    /// Every declared subscription, in the choreography's order of services.
    declared: Vec<(C::Service, C::Kind)>,
    /// The cause of each instance in flight that has one so far (the first).
    causes: FxHashMap<InstanceId, String>,
    /// Instances ended, per ending.
    reached: BTreeMap<String, u64>,
    /// The endings the choreography can reach, if it says.
    possible: Option<Vec<String>>,
    /// Faults that fired, and how often (`PaymentService crashed`: 3), set when the run ends.
    pub faults: BTreeMap<String, u64>,
}

impl<C: Choreography> Coverage<C> {
    pub fn new(config: &C::Config) -> Self {
        // Only the services' constants are read: the seed they are built with does not matter.
        let declared = declarations::<C>(config, 0)
            .unwrap_or_default()
            .iter()
            .flat_map(|service| {
                service
                    .subscribes
                    .iter()
                    .map(move |kind| (service.name, kind))
            })
            .collect();
        Coverage {
            kinds: vec![0; C::Kind::ALL.len()],
            declared,
            causes: FxHashMap::default(),
            reached: BTreeMap::new(),
            possible: C::endings(),
            faults: BTreeMap::new(),
        }
    }

    /// Takes one event into account, in bus order.
    pub fn record(&mut self, envelope: &Envelope<C>) {
        self.kinds[envelope.kind().index()] += 1;
        let terminal = envelope.is_terminal();
        if terminal || !self.causes.contains_key(&envelope.order_id) {
            if let Some(cause) = C::cause(envelope) {
                self.causes.entry(envelope.order_id).or_insert(cause.label);
            }
        }
        if terminal {
            let cause = self.causes.remove(&envelope.order_id);
            *self
                .reached
                .entry(ending(envelope.outcome(), cause.as_deref()))
                .or_default() += 1;
        }
    }

    /// Each declared subscription, with how many events of its kind the service was given.
    pub fn handlings(&self) -> impl Iterator<Item = (C::Service, C::Kind, u64)> + '_ {
        self.declared
            .iter()
            .map(|(service, kind)| (*service, *kind, self.kinds[kind.index()]))
    }

    /// Each ending reached, with how many instances reached it, and then each possible one
    /// never reached, with 0.
    pub fn endings(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        let never = self
            .possible
            .iter()
            .flatten()
            .filter(|ending| !self.reached.contains_key(*ending))
            .map(|ending| (ending.as_str(), 0));
        self.reached
            .iter()
            .map(|(ending, n)| (ending.as_str(), *n))
            .chain(never)
    }
}

/// The handlings and endings never reached that the line names; the summary JSON has all.
const NEVER_SHOWN: usize = 4;

/// `covered 31 of 34 handlings, 9 of 10 endings; never: PaymentService on ShippingFailed,
/// cancelled: shipping failed, quantity above the shipment limit`: the first few never
/// reached, handlings first.
impl<C: Choreography> fmt::Display for Coverage<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let handled = self.handlings().filter(|(_, _, n)| *n > 0).count();
        write!(
            f,
            "covered {handled} of {} handlings, ",
            self.declared.len()
        )?;
        let never: Vec<String> = self
            .handlings()
            .filter(|(_, _, n)| *n == 0)
            .map(|(service, kind, _)| format!("{service} on {kind}"))
            .chain(
                self.endings()
                    .filter(|(_, n)| *n == 0)
                    .map(|(ending, _)| ending.to_owned()),
            )
            .collect();
        match &self.possible {
            Some(possible) => {
                let reached = possible
                    .iter()
                    .filter(|ending| self.reached.contains_key(*ending))
                    .count();
                write!(f, "{reached} of {} endings", possible.len())?;
            }
            None => write!(f, "{} endings", self.reached.len())?,
        }
        if !never.is_empty() {
            let shown = never.len().min(NEVER_SHOWN);
            write!(f, "; never: {}", never[..shown].join(", "))?;
            if never.len() > shown {
                write!(f, " and {} more", never.len() - shown)?;
            }
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Handling {
    service: &'static str,
    kind: &'static str,
    events: u64,
}

#[derive(Serialize)]
struct Ending<'a> {
    ending: &'a str,
    instances: u64,
}

/// `{"handlings": [{"service", "kind", "events"}], "endings": [{"ending", "instances"}],
/// "faults": {"PaymentService crashed": 3}}`: every declared handling and every possible
/// ending, those never reached with 0.
impl<C: Choreography> Serialize for Coverage<C> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let handlings: Vec<Handling> = self
            .handlings()
            .map(|(service, kind, events)| Handling {
                service: service.name(),
                kind: kind.name(),
                events,
            })
            .collect();
        let endings: Vec<Ending> = self
            .endings()
            .map(|(ending, instances)| Ending { ending, instances })
            .collect();
        let mut coverage = serializer.serialize_struct("Coverage", 4)?;
        coverage.serialize_field("summary", &self.to_string())?;
        coverage.serialize_field("handlings", &handlings)?;
        coverage.serialize_field("endings", &endings)?;
        coverage.serialize_field("faults", &self.faults)?;
        coverage.end()
    }
}
