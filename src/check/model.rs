//! The choreography as a model to search (see the `search` module): a state is every service (its
//! decisions' own state and the task loop's [`Inbox`]) plus every event published; a step
//! is one delivery, a duplicate delivery, or a crash. Each step runs the services' real
//! `handle` through the task loop's own [`decide`], so what is checked is what runs.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::engine::choreography::{Choreography, Envelope, EventId, Outbox, SpawnError};
pub use crate::engine::config::Reduction;
use crate::engine::replica::{hash_of, quietly, replicas, Replica};
use crate::engine::service::Delivery;

/// What the search explores besides reordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    /// Any event a service has taken may be delivered to it again, at any later point.
    pub duplicates: bool,
    /// Crashes of any service at any step, in all: before a decision, or after publishing
    /// some of what it caused but before the event is recorded as handled.
    pub crashes: u32,
    /// Which schedules are left out as equivalent to one explored: silent deliveries taken
    /// first (see `Model::silent_step`), deliveries that touch only their instance's record
    /// not interleaved with the other instances' (see `Model::ample`).
    pub reduction: Reduction,
}

/// An event in the model's stream, with a fingerprint of what it says (events need not be
/// `Hash`; they are `Serialize`).
#[derive_where::derive_where(Clone, Debug)]
pub(crate) struct Stored<C: Choreography> {
    pub envelope: Arc<Envelope<C>>,
    fingerprint: u64,
}

impl<C: Choreography> Stored<C> {
    fn new(envelope: Envelope<C>) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        envelope.id.hash(&mut hasher);
        envelope.service.hash(&mut hasher);
        envelope.cause.hash(&mut hasher);
        // An event that cannot be serialized cannot be journaled either; it still hashes by
        // its id.
        if let Ok(bytes) = serde_json::to_vec(&envelope.event) {
            bytes.hash(&mut hasher);
        }
        Stored {
            envelope: Arc::new(envelope),
            fingerprint: hasher.finish(),
        }
    }
}

/// A publication that breaks a property the moment it happens.
#[derive_where::derive_where(Clone, Debug)]
pub(crate) enum Broken<C: Choreography> {
    /// An event id published a second time, other than as the same decision made again
    /// after a crash (which the stream drops by id).
    Twice { second: Arc<Envelope<C>> },
    /// A service published a kind it does not declare.
    Undeclared { envelope: Arc<Envelope<C>> },
    /// A handling the choreography declares per-instance ([`Choreography::shared`]) changed
    /// what the service shares between instances.
    Shares {
        service: C::Service,
        delivered: Arc<Envelope<C>>,
    },
}

/// Everything the choreography is at one point of one schedule.
#[derive_where::derive_where(Clone, Debug)]
pub(crate) struct State<C: Choreography> {
    /// Every service, in index order, as of its last completed event.
    pub nodes: Vec<Arc<dyn Replica<C>>>,
    /// Every event published, per instance (in input order), in the order published.
    /// (Shared between states until one publishes: most steps publish nothing.)
    pub streams: Vec<Arc<Vec<Stored<C>>>>,
    /// Per service, per instance: the position in the instance's stream up to which the
    /// service has taken (or passed over) every event.
    cursors: Vec<Vec<u8>>,
    /// Per service: the instance whose event it crashed on; after the restart that event is
    /// delivered again, before anything else.
    interrupted: Vec<Option<u8>>,
    crashes: u32,
    pub broken: Option<Broken<C>>,
}

impl<C: Choreography> Hash for State<C> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for node in &self.nodes {
            node.hash_into(state);
        }
        for stream in &self.streams {
            stream.len().hash(state);
            for stored in stream.iter() {
                stored.fingerprint.hash(state);
            }
        }
        self.cursors.hash(state);
        self.interrupted.hash(state);
        self.crashes.hash(state);
        self.broken.is_some().hash(state);
    }
}

impl<C: Choreography> PartialEq for State<C> {
    /// By fingerprint: what the checker tells states apart by.
    fn eq(&self, other: &Self) -> bool {
        hash_of(self) == hash_of(other)
    }
}

/// One step of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Action {
    /// The next event of an instance that a service has not taken yet (or the one it
    /// crashed on) is delivered to it.
    Deliver { service: u8, instance: u8 },
    /// An event the service took before is delivered again.
    Duplicate {
        service: u8,
        instance: u8,
        position: u8,
    },
    /// The service crashes on the delivery `Deliver` would make: before deciding
    /// (`published` 0), or after publishing the first `published` events it decided on.
    Crash {
        service: u8,
        instance: u8,
        published: u8,
    },
}

/// What one step did, for the counterexample.
#[derive_where::derive_where(Debug)]
pub(crate) struct Step<C: Choreography> {
    pub service: C::Service,
    pub delivered: Arc<Envelope<C>>,
    pub how: How,
    /// What the service published, each with what became of it.
    pub published: Vec<(Arc<Envelope<C>>, Fate)>,
}

/// How an event was delivered in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// For the first time.
    First,
    /// Again, after the service crashed on it.
    AfterRestart,
    /// A duplicate of a delivery taken before.
    Duplicate,
    /// The service crashed: before deciding (`published` 0) or after publishing that many.
    Crash { published: usize },
}

/// What became of a published event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Stored,
    /// The same decision published again after a crash: dropped by its id.
    Dropped,
    /// Breaks a property ([`Broken`]).
    Broken,
}

pub(crate) struct Model<C: Choreography> {
    config: C::Config,
    faults: Faults,
    initial: State<C>,
    /// Whether a service may forget a finished instance while others run (its window is
    /// shorter than the instances): a duplicate may then be taken as new, and finishing one
    /// instance changes what another's duplicates do. The partial-order reduction is off then.
    forgets: bool,
}

impl<C: Choreography> fmt::Debug for Model<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl<C: Choreography> Model<C> {
    /// The model of `starts` (each instance's first event, with its emitter) run by the
    /// services of `config`, each remembering `dedup_window` finished instances.
    pub fn new(
        config: &C::Config,
        seed: u64,
        dedup_window: usize,
        starts: Vec<Envelope<C>>,
        faults: Faults,
    ) -> Result<Self, SpawnError> {
        let nodes: Vec<Arc<dyn Replica<C>>> = replicas(config, seed, dedup_window)?
            .into_iter()
            .map(Arc::from)
            .collect();
        let instances = starts.len();
        let initial = State {
            cursors: vec![vec![0; instances]; nodes.len()],
            interrupted: vec![None; nodes.len()],
            nodes,
            streams: starts
                .into_iter()
                .map(|e| Arc::new(vec![Stored::new(e)]))
                .collect(),
            crashes: 0,
            broken: None,
        };
        Ok(Model {
            config: config.clone(),
            faults,
            initial,
            forgets: dedup_window < instances,
        })
    }

    /// The position of the next event of `instance` that `service` has to take, if any.
    fn next_for(state: &State<C>, service: usize, instance: usize) -> Option<usize> {
        let node = &state.nodes[service];
        let from = usize::from(state.cursors[service][instance]);
        state.streams[instance]
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, stored)| node.receives(stored.envelope.kind()))
            .map(|(position, _)| position)
    }

    /// Carries out `action` on `state`: the next state and what the step did, or `None` if
    /// the action changes nothing (a duplicate the service ignores, a crash point past what
    /// the decision publishes).
    pub fn step(&self, state: &State<C>, action: Action) -> Option<(State<C>, Vec<Step<C>>)> {
        if let Action::Duplicate {
            service,
            instance,
            position,
        } = action
        {
            let stored = state.streams[usize::from(instance)].get(usize::from(position))?;
            if !state.nodes[usize::from(service)].is_new(&stored.envelope) {
                // The task loop ignores it: nothing changes.
                return None;
            }
        }
        let mut next = state.clone();
        let step = Self::apply(&mut next, action)?;
        let mut steps = vec![step];
        if self.faults.reduction != Reduction::None {
            steps.extend(Self::settle(&mut next));
        }
        Some((next, steps))
    }

    /// The crashes of `service` on `delivered` (after publishing how many events) that can
    /// show something delivering it without a crash does not. Not a crash before deciding (the
    /// service restarts as it was and decides again), nor one after publishing all it decided
    /// when deciding again gives the same events (dropped by id when published again): either
    /// way, once the event is delivered again, the state is the delivery's with one crash fewer
    /// left, and until then nothing sees anything the delivery does not show, while the
    /// service is held to that one instance, so whatever the crash leads to, the delivery
    /// leads to too (with a crash to spare). A crash between two publications, and one after
    /// which the service decides otherwise, are shown.
    fn crashes_shown(
        state: &State<C>,
        service: usize,
        delivered: &Envelope<C>,
    ) -> std::ops::Range<usize> {
        let decide = || {
            let mut node = state.nodes[service].cloned();
            let mut out = Outbox::default();
            quietly(|| node.deliver(delivered, &mut out));
            out.events
        };
        let first = decide();
        let all = first.len();
        if all > 0 && first != decide() {
            1..all + 1
        } else {
            1..all
        }
    }

    /// The initial state, settled, and the steps that settled it.
    pub fn start(&self) -> (State<C>, Vec<Step<C>>) {
        let mut state = self.initial.clone();
        let steps = if self.faults.reduction != Reduction::None {
            Self::settle(&mut state)
        } else {
            Vec::new()
        };
        (state, steps)
    }

    /// Takes every silent delivery there is in `state` (see [`Self::silent_step`]).
    fn settle(state: &mut State<C>) -> Vec<Step<C>> {
        let mut steps = Vec::new();
        while let Some(silent) = Self::silent_step(state) {
            match Self::apply(state, silent) {
                Some(step) => steps.push(step),
                None => break,
            }
        }
        steps
    }

    /// Carries out `action` on `state` in place; `None`, with `state` untouched, if it
    /// changes nothing.
    fn apply(state: &mut State<C>, action: Action) -> Option<Step<C>> {
        let (service, instance, position, how) = match action {
            Action::Deliver { service, instance } => {
                let (service, instance) = (usize::from(service), usize::from(instance));
                let position = Self::next_for(state, service, instance)?;
                let how = if state.interrupted[service].is_some() {
                    How::AfterRestart
                } else {
                    How::First
                };
                (service, instance, position, how)
            }
            Action::Duplicate {
                service,
                instance,
                position,
            } => (
                usize::from(service),
                usize::from(instance),
                usize::from(position),
                How::Duplicate,
            ),
            Action::Crash {
                service,
                instance,
                published,
            } => {
                let (service, instance) = (usize::from(service), usize::from(instance));
                let position = Self::next_for(state, service, instance)?;
                let published = usize::from(published);
                (service, instance, position, How::Crash { published })
            }
        };
        let delivered = Arc::clone(&state.streams[instance].get(position)?.envelope);
        if how == How::Duplicate && !state.nodes[service].is_new(&delivered) {
            // The task loop ignores it: nothing changes.
            return None;
        }
        let mut node = state.nodes[service].cloned();
        let mut out = Outbox::default();
        let delivery = quietly(|| node.deliver(&delivered, &mut out));
        // A handling declared per-instance is held to it: the partial-order reduction
        // depends on it (see `Model::ample`).
        let overstepped = !matches!(how, How::Crash { .. })
            && node.subscribes(delivered.kind())
            && !C::shared(node.name(), delivered.kind())
            && node.own_hash() != state.nodes[service].own_hash();
        let mut events = out.events;
        // A decision made again after a crash may publish what it published before.
        let retry = state.interrupted[service].is_some();
        let next = state;
        match how {
            How::Crash { published } => {
                if published > events.len() || (published == 0 && delivery != Delivery::Taken) {
                    return None;
                }
                // The service is back as of its last completed event (the node is not
                // kept), and the event will be delivered again.
                events.truncate(published);
                next.crashes += 1;
                next.interrupted[service] = Some(instance as u8);
            }
            How::First | How::AfterRestart | How::Duplicate => {
                if overstepped {
                    next.broken = Some(Broken::Shares {
                        service: node.name(),
                        delivered: Arc::clone(&delivered),
                    });
                }
                next.nodes[service] = Arc::from(node);
                next.interrupted[service] = None;
                if how != How::Duplicate {
                    next.cursors[service][instance] = position as u8 + 1;
                }
            }
        }
        let name = next.nodes[service].name();
        let mut step = Step {
            service: name,
            delivered: Arc::clone(&delivered),
            how,
            published: Vec::new(),
        };
        for event in events {
            let (envelope, fate) = Self::publish(next, service, instance, &delivered, event, retry);
            step.published.push((envelope, fate));
            if fate == Fate::Broken {
                break;
            }
        }
        Some(step)
    }

    /// Publishes `event`, caused by `cause`, into `instance`'s stream: stored, dropped as the
    /// same decision made again after a crash (`retry`), or breaking a property.
    fn publish(
        state: &mut State<C>,
        service: usize,
        instance: usize,
        cause: &Envelope<C>,
        event: C::Event,
        retry: bool,
    ) -> (Arc<Envelope<C>>, Fate) {
        let kind = C::kind(&event);
        let node = &state.nodes[service];
        let stored = Stored::new(Envelope {
            seq: 0,
            at_us: 0,
            id: EventId {
                order_id: cause.order_id,
                kind,
            },
            order_id: cause.order_id,
            service: node.name(),
            cause: Some(cause.id),
            event,
        });
        let envelope = Arc::clone(&stored.envelope);
        if !node.publishes(kind) {
            state.broken = Some(Broken::Undeclared {
                envelope: Arc::clone(&envelope),
            });
            return (envelope, Fate::Broken);
        }
        let stream = Arc::make_mut(&mut state.streams[instance]);
        let fate = match stream.iter().find(|e| e.envelope.id == envelope.id) {
            // As JetStream drops a message whose Nats-Msg-Id it has stored.
            Some(first) if retry && first.fingerprint == stored.fingerprint => Fate::Dropped,
            Some(_) => {
                state.broken = Some(Broken::Twice {
                    second: Arc::clone(&envelope),
                });
                Fate::Broken
            }
            None => {
                stream.push(stored);
                Fate::Stored
            }
        };
        (envelope, fate)
    }

    /// A first delivery that is silent (see [`Replica::is_silent`]), if there is one: taken
    /// at once, as part of the step that made it possible. It commutes with every other step
    /// (it publishes nothing, touches only its instance's record, and a duplicate of that
    /// instance's events is ignored before and after it alike), so the schedules that take it
    /// later reach the same states; exploring them too would multiply the states for
    /// nothing. This assumes a decision that changes nothing shared also reads nothing
    /// shared; `Reduction::None` explores without the assumption.
    fn silent_step(state: &State<C>) -> Option<Action> {
        for (service, node) in state.nodes.iter().enumerate() {
            for instance in 0..state.streams.len() {
                if state.interrupted[service]
                    .is_some_and(|crashed| usize::from(crashed) != instance)
                {
                    continue;
                }
                if let Some(position) = Self::next_for(state, service, instance) {
                    if node.is_silent(&state.streams[instance][position].envelope) {
                        return Some(Action::Deliver {
                            service: service as u8,
                            instance: instance as u8,
                        });
                    }
                }
            }
        }
        None
    }

    /// Whether nothing is left to deliver for the first time: with fair delivery, every
    /// instance must have finished by then.
    pub fn quiescent(state: &State<C>) -> bool {
        (0..state.nodes.len()).all(|service| {
            (0..state.streams.len())
                .all(|instance| Self::next_for(state, service, instance).is_none())
        })
    }

    /// Every event published, instance by instance.
    pub fn events(state: &State<C>) -> Vec<&Envelope<C>> {
        state
            .streams
            .iter()
            .flat_map(|stream| stream.iter())
            .map(|stored| &*stored.envelope)
            .collect()
    }

    /// The choreography's invariants in `state`.
    pub fn invariant(&self, state: &State<C>) -> Result<(), String> {
        C::invariant(&self.config, &Self::events(state), Self::quiescent(state))
    }

    /// The first instance whose stream breaks "one terminal event, and it is the last".
    pub fn ends_badly(state: &State<C>) -> Option<String> {
        state.streams.iter().find_map(|stream| {
            let terminals: Vec<&Stored<C>> = stream
                .iter()
                .filter(|stored| stored.envelope.is_terminal())
                .collect();
            let last = stream.last()?;
            match terminals.as_slice() {
                [] => None,
                [only] if Arc::ptr_eq(&only.envelope, &last.envelope) => None,
                [only] => Some(format!(
                    "{} {} has {} after its terminal event {}",
                    <C::Input as crate::input::Record>::noun(),
                    last.envelope.order_id,
                    last.envelope.kind(),
                    only.envelope.kind()
                )),
                [first, second, ..] => Some(format!(
                    "{} {} ends twice: {} and {}",
                    <C::Input as crate::input::Record>::noun(),
                    first.envelope.order_id,
                    first.envelope.kind(),
                    second.envelope.kind()
                )),
            }
        })
    }

    /// The instances without a terminal event.
    /// The loop an instance went round, if the event `state` holds twice was caused, through
    /// the instance's own events, by its first copy: that copy first, each event it led to in
    /// order, then the copy again. Event ids are one per instance and kind, so the stream
    /// refuses the repeat; with fresh ids the instance would go round for ever without ending
    /// (a livelock), and this is its lasso: the path to the first copy, then the loop.
    pub fn looped(state: &State<C>) -> Option<Vec<Arc<Envelope<C>>>> {
        let Some(Broken::Twice { second }) = &state.broken else {
            return None;
        };
        let stream = state.streams.iter().find(|stream| {
            stream
                .first()
                .is_some_and(|e| e.envelope.order_id == second.order_id)
        })?;
        let mut chain = vec![Arc::clone(second)];
        let mut cause = second.cause;
        // Each step goes back to an event stored before: at most the stream's length.
        for _ in 0..stream.len() {
            let stored = stream
                .iter()
                .find(|stored| Some(stored.envelope.id) == cause)?;
            chain.push(Arc::clone(&stored.envelope));
            if stored.envelope.id == second.id {
                chain.reverse();
                return Some(chain);
            }
            cause = stored.envelope.cause;
        }
        None
    }

    pub fn unfinished(state: &State<C>) -> Vec<String> {
        state
            .streams
            .iter()
            .filter(|stream| !stream.iter().any(|stored| stored.envelope.is_terminal()))
            .filter_map(|stream| stream.first())
            .map(|stored| stored.envelope.order_id.to_string())
            .collect()
    }
}

/// The properties, by name: see docs/checking.md.
pub(crate) const PUBLISHED_ONCE: &str = "no event is published twice";
pub(crate) const DECLARED: &str = "services publish only what they declare";
pub(crate) const ENDS_ONCE: &str = "each order ends once, with its last event";
pub(crate) const FINISHES: &str = "every order finishes when delivery is fair";
pub(crate) const INVARIANTS: &str = "the choreography's invariants hold";
pub(crate) const PER_INSTANCE: &str = "a handling declared per-instance changes nothing shared";

impl<C: Choreography> Model<C> {
    /// Every step `state` can take next (some may change nothing: see [`Self::step`]): all of
    /// them, or, with the partial-order reduction, those of one instance that stand for all
    /// (see [`Self::ample`]).
    pub fn actions(&self, state: &State<C>, actions: &mut Vec<Action>) {
        if state.broken.is_some() {
            return;
        }
        if self.faults.reduction == Reduction::Por && self.ample(state, actions) {
            return;
        }
        for service in 0..state.nodes.len() {
            for instance in 0..state.streams.len() {
                self.push_actions(state, service, instance, actions);
            }
        }
    }

    /// The steps `service` can take on `instance`'s events.
    fn push_actions(
        &self,
        state: &State<C>,
        service: usize,
        instance: usize,
        actions: &mut Vec<Action>,
    ) {
        let node = &state.nodes[service];
        let (s, i) = (service as u8, instance as u8);
        if state.interrupted[service].is_some_and(|crashed| crashed != i) {
            return;
        }
        if let Some(position) = Self::next_for(state, service, instance) {
            actions.push(Action::Deliver {
                service: s,
                instance: i,
            });
            let envelope = &state.streams[instance][position].envelope;
            if state.crashes < self.faults.crashes
                && node.subscribes(envelope.kind())
                && node.is_new(envelope)
            {
                let shown = (self.faults.reduction == Reduction::Por)
                    .then(|| Self::crashes_shown(state, service, envelope));
                for published in 0..=node.most_published() {
                    if shown
                        .as_ref()
                        .is_some_and(|shown| !shown.contains(&published))
                    {
                        continue;
                    }
                    actions.push(Action::Crash {
                        service: s,
                        instance: i,
                        published: published as u8,
                    });
                }
            }
        }
        if self.faults.duplicates && state.interrupted[service].is_none() {
            let taken = usize::from(state.cursors[service][instance]);
            for (position, stored) in state.streams[instance][..taken].iter().enumerate() {
                // One the service would ignore changes nothing (see `Self::step`).
                if node.receives(stored.envelope.kind()) && node.is_new(&stored.envelope) {
                    actions.push(Action::Duplicate {
                        service: s,
                        instance: i,
                        position: position as u8,
                    });
                }
            }
        }
    }

    /// The partial-order reduction: puts into `actions` a set of steps that stands for every
    /// step `state` can take (a persistent set), if it finds one, and says whether it did: the
    /// steps of the first instance whose every possible step is a first
    /// delivery to a handling that touches only the instance's own record
    /// ([`Choreography::shared`]), none of them a crash that can show something (see
    /// [`Self::crashes_shown`]) and none of its events held back behind another instance's
    /// crash. What the other instances do can neither change what those steps do nor stop
    /// them for good (a crash holds a service back only until it has its event again), and
    /// those steps change nothing the others' read: taken first, they lead to everything
    /// the others' steps lead to. Not where a service forgets finished instances while
    /// others run (`forgets`): a duplicate may then be taken as new.
    ///
    /// What a property reads stays reachable: each instance's own events come in the same
    /// order (so a property of one instance is seen broken at the same point), and the
    /// events of shared handlings are never put off (so a property across instances, which
    /// reads only those, is too). Every step taken here moves a service on in a stream, so
    /// no cycle of states is made of reduced ones alone (the cycle proviso). See
    /// docs/checking.md.
    fn ample(&self, state: &State<C>, actions: &mut Vec<Action>) -> bool {
        if self.forgets {
            return false;
        }
        let start = actions.len();
        'instances: for instance in 0..state.streams.len() {
            actions.truncate(start);
            for (service, crashed) in state.interrupted.iter().enumerate() {
                if crashed.is_some_and(|crashed| usize::from(crashed) != instance)
                    && Self::next_for(state, service, instance).is_some()
                {
                    continue 'instances;
                }
            }
            for service in 0..state.nodes.len() {
                self.push_actions(state, service, instance, actions);
            }
            let own = |action: &Action| match *action {
                Action::Deliver { service, .. } => {
                    let service = usize::from(service);
                    let node = &state.nodes[service];
                    Self::next_for(state, service, instance).is_some_and(|position| {
                        let kind = state.streams[instance][position].envelope.kind();
                        !node.subscribes(kind) || !C::shared(node.name(), kind)
                    })
                }
                Action::Duplicate { .. } | Action::Crash { .. } => false,
            };
            if actions.len() > start && actions[start..].iter().all(own) {
                return true;
            }
        }
        actions.truncate(start);
        false
    }

    /// The property `state` breaks, if any; of several, the first in the order of
    /// docs/checking.md.
    pub fn broken(&self, state: &State<C>) -> Option<&'static str> {
        [
            // A loop is a liveness violation first: the repeat is refused only by its id.
            (Self::looped(state).is_some(), FINISHES),
            (
                matches!(state.broken, Some(Broken::Twice { .. })),
                PUBLISHED_ONCE,
            ),
            (
                matches!(state.broken, Some(Broken::Undeclared { .. })),
                DECLARED,
            ),
            (
                matches!(state.broken, Some(Broken::Shares { .. })),
                PER_INSTANCE,
            ),
            (Self::ends_badly(state).is_some(), ENDS_ONCE),
            (
                Self::quiescent(state) && !Self::unfinished(state).is_empty(),
                FINISHES,
            ),
        ]
        .into_iter()
        .find_map(|(broken, property)| broken.then_some(property))
        .or_else(|| self.invariant(state).is_err().then_some(INVARIANTS))
    }
}
