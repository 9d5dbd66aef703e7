//! The breadth-first search over the model's states, and what bounds it.
//!
//! The store is what the search keeps: the fingerprint of every state seen, with the step
//! that first reached it (its parent's index and the action), and the queue of states not yet
//! explored. A counterexample is rebuilt from the parents by running its actions again. The
//! queue holds whole states and is most of the memory; its size is estimated from the states
//! themselves (see [`Store::bytes`]), so `check.max_memory` bounds what the search keeps, not
//! what the allocator has handed out.
//!
//! Every limit is polled between two states: once a stop is decided the search ends there,
//! with what it has found so far; the queue is dropped, not explored.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::model::{Action, Model, State, Step};
use super::Limits;
use crate::engine::choreography::Choreography;
use crate::engine::replica::hash_of;

/// How often (in states explored) the clock and the memory are looked at: often enough to
/// stop well within a second (a state takes microseconds), rarely enough to cost nothing.
const POLL_EVERY: usize = 64;
/// How often the progress callback hears from the search.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// One state in this many has its size measured; the mean stands for the rest.
const MEASURE_EVERY: usize = 32;
/// What a state's measured size does not see: allocation headers, the spare capacity of the
/// services' maps, services replaced by a step but still held by states queued before it.
/// Measured on the shop: every schedule of 5 orders (the bench's) kept an estimated 225 MiB
/// without it, at a peak resident size of 553 MB.
const OVERHEAD: f64 = 2.5;

/// What a search found, and its figures.
pub(crate) struct Searched {
    /// Distinct states reached, the first included.
    pub states: usize,
    /// States generated, repeats included.
    pub generated: usize,
    /// The deepest state reached, counting the first as 1.
    pub depth: usize,
    /// The store's estimated size at its largest, in bytes.
    pub memory: u64,
    /// How each instance ended, in the states reached (see [`ending`]).
    pub endings: BTreeSet<String>,
    pub end: End,
}

/// Why the search ended.
pub(crate) enum End {
    /// Every reachable state was explored.
    Explored,
    /// A state breaks `property`; `path` reaches it from the first state.
    Broken {
        property: &'static str,
        path: Vec<Action>,
    },
    /// A limit (or Ctrl-C) stopped it, for this reason.
    Stopped(String),
}

/// A fingerprint is a hash already: the map takes it as it is.
#[derive(Default)]
struct Fingerprints(u64);

impl Hasher for Fingerprints {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, fingerprint: u64) {
        self.0 = fingerprint;
    }
}

/// Counts the bytes a value hashes: a measure of the data in a service's state, which the
/// check sees only through [`Replica::hash_into`](crate::engine::replica::Replica::hash_into).
#[derive(Default)]
struct Sizer(u64);

impl Hasher for Sizer {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 += bytes.len() as u64;
    }
}

struct Pending<C: Choreography> {
    state: State<C>,
    index: u32,
    depth: u32,
}

/// What the search keeps.
struct Store<C: Choreography> {
    /// Every state seen, by fingerprint: its index in `parents`.
    seen: HashMap<u64, u32, BuildHasherDefault<Fingerprints>>,
    /// Per state seen: the index of the state it was reached from and the action; the first
    /// state's parent is itself.
    parents: Vec<(u32, Action)>,
    queue: VecDeque<Pending<C>>,
    /// The mean measured size of a queued state, and how many were measured.
    state_bytes: f64,
    measured: u32,
}

impl<C: Choreography> Store<C> {
    /// The store's estimated size: the map's and the parents' allocations, and the queued
    /// states at their mean measured size.
    fn bytes(&self) -> u64 {
        let seen = self.seen.capacity() * (size_of::<(u64, u32)>() + 1);
        let parents = self.parents.capacity() * size_of::<(u32, Action)>();
        let queue = self.queue.capacity() * size_of::<Pending<C>>();
        (seen + parents + queue) as u64 + (self.queue.len() as f64 * self.state_bytes) as u64
    }

    /// Measures what `next` holds that `parent` does not share with it (services and streams
    /// are shared until a step changes them), and folds it into the mean.
    fn measure(&mut self, parent: &State<C>, next: &State<C>) {
        let services = next.nodes.len();
        let instances = next.streams.len();
        let mut bytes = (services * (size_of::<usize>() * 2 + 3 * size_of::<usize>() + instances)
            + services * 2
            + instances * size_of::<usize>()) as u64;
        for (node, before) in next.nodes.iter().zip(&parent.nodes) {
            if !std::sync::Arc::ptr_eq(node, before) {
                let mut sizer = Sizer::default();
                node.hash_into(&mut sizer);
                bytes += sizer.0 + 64;
            }
        }
        for (stream, before) in next.streams.iter().zip(&parent.streams) {
            if !std::sync::Arc::ptr_eq(stream, before) {
                bytes += (stream.len() * 24 + 256) as u64;
            }
        }
        let bytes = bytes as f64 * OVERHEAD;
        self.measured += 1;
        self.state_bytes += (bytes - self.state_bytes) / f64::from(self.measured);
    }

    /// The actions from the first state to the one at `index`.
    fn path(&self, mut index: u32) -> Vec<Action> {
        let mut path = Vec::new();
        loop {
            let (parent, action) = self.parents[index as usize];
            if parent == index {
                break;
            }
            path.push(action);
            index = parent;
        }
        path.reverse();
        path
    }
}

/// Explores the model breadth first from its first state until a property breaks, every
/// state is explored, or a limit stops it; `progress` hears (states, depth, elapsed) ten
/// times a second.
pub(crate) fn search<C: Choreography>(
    model: &Model<C>,
    limits: &Limits,
    progress: &mut dyn FnMut(usize, usize, Duration),
) -> Searched {
    let started = Instant::now();
    let (first, steps) = model.start();
    let mut endings = BTreeSet::new();
    note_endings(&first, &steps, &mut endings);
    let mut store = Store {
        seen: HashMap::default(),
        parents: vec![(
            0,
            Action::Deliver {
                service: 0,
                instance: 0,
            },
        )],
        queue: VecDeque::new(),
        state_bytes: 0.0,
        measured: 0,
    };
    store.seen.insert(hash_of(&first), 0);
    let mut searched = Searched {
        states: 1,
        generated: 1,
        depth: 1,
        memory: 0,
        endings: BTreeSet::new(),
        end: End::Explored,
    };
    if let Some(property) = model.broken(&first) {
        searched.end = End::Broken {
            property,
            path: Vec::new(),
        };
        searched.endings = endings;
        return searched;
    }
    store.queue.push_back(Pending {
        state: first,
        index: 0,
        depth: 1,
    });
    let mut actions = Vec::new();
    let mut explored = 0usize;
    let mut heard = started;
    while let Some(pending) = store.queue.pop_front() {
        explored += 1;
        if let Some(reason) = stop_for(limits, &store, explored, started, &mut searched) {
            searched.end = End::Stopped(reason);
            // Freeing a million queued states takes a while: it happens beside the answer,
            // not before it.
            let queue = std::mem::take(&mut store.queue);
            std::thread::spawn(move || drop(queue));
            break;
        }
        if heard.elapsed() >= PROGRESS_EVERY {
            heard = Instant::now();
            progress(store.seen.len(), searched.depth, started.elapsed());
        }
        model.actions(&pending.state, &mut actions);
        for action in actions.drain(..) {
            let Some((next, steps)) = model.step(&pending.state, action) else {
                continue;
            };
            searched.generated += 1;
            let index = store.parents.len() as u32;
            match store.seen.entry(hash_of(&next)) {
                Entry::Occupied(_) => continue,
                Entry::Vacant(entry) => entry.insert(index),
            };
            store.parents.push((pending.index, action));
            note_endings(&next, &steps, &mut endings);
            let depth = pending.depth + 1;
            searched.depth = searched.depth.max(depth as usize);
            if let Some(property) = model.broken(&next) {
                searched.end = End::Broken {
                    property,
                    path: store.path(index),
                };
                store.queue.clear();
                break;
            }
            if index as usize % MEASURE_EVERY == 1 {
                store.measure(&pending.state, &next);
            }
            store.queue.push_back(Pending {
                state: next,
                index,
                depth,
            });
        }
    }
    searched.states = store.seen.len();
    searched.memory = searched.memory.max(store.bytes());
    searched.endings = endings;
    searched
}

/// The reason to stop before exploring the next state, if there is one: Ctrl-C at once, the
/// other limits every [`POLL_EVERY`] states. Keeps `searched.memory` at its peak.
fn stop_for<C: Choreography>(
    limits: &Limits,
    store: &Store<C>,
    explored: usize,
    started: Instant,
    searched: &mut Searched,
) -> Option<String> {
    if limits.interrupt.load(Ordering::Relaxed) {
        return Some("interrupted".to_owned());
    }
    if store.seen.len() as u64 >= limits.max_states {
        return Some(format!("check.max_states ({}) reached", limits.max_states));
    }
    if explored % POLL_EVERY != 0 {
        return None;
    }
    if started.elapsed() >= limits.time_limit {
        return Some(format!(
            "check.time_limit ({}) reached",
            humantime::format_duration(limits.time_limit)
        ));
    }
    let bytes = store.bytes();
    searched.memory = searched.memory.max(bytes);
    (bytes >= limits.max_memory).then(|| {
        format!(
            "check.max_memory ({}) reached",
            crate::engine::config::Bytes(limits.max_memory)
        )
    })
}

/// Adds how each instance that `steps` ended (a terminal event stored) ended, in `state`.
fn note_endings<C: Choreography>(
    state: &State<C>,
    steps: &[Step<C>],
    endings: &mut BTreeSet<String>,
) {
    for step in steps {
        for (envelope, fate) in &step.published {
            if *fate == super::model::Fate::Stored && envelope.is_terminal() {
                if let Some(stream) = state.streams.iter().find(|stream| {
                    stream
                        .first()
                        .is_some_and(|e| e.envelope.order_id == envelope.order_id)
                }) {
                    endings.insert(ending(
                        stream.iter().map(|stored| &*stored.envelope),
                        envelope,
                    ));
                }
            }
        }
    }
}

/// How an instance ended ([`coverage::ending`](crate::engine::coverage::ending)), from its
/// events and its terminal event.
pub(crate) fn ending<'a, C: Choreography>(
    mut events: impl Iterator<Item = &'a crate::engine::choreography::Envelope<C>>,
    terminal: &crate::engine::choreography::Envelope<C>,
) -> String {
    let cause = events.find_map(|envelope| C::cause(envelope));
    crate::engine::coverage::ending(terminal.outcome(), cause.as_ref().map(|c| c.label.as_str()))
}
