//! What the task loop keeps for every service, as plain code: the per-instance [`Inbox`]
//! (state, de-duplication, forgetting finished instances), the errors that end a service,
//! and a test [`Harness`] for a service's decisions.

use std::collections::hash_map::Entry;
use std::hash::Hash;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::engine::bus::BusError;
use crate::engine::choreography::{Choreography, Envelope, Outbox, Service};
use crate::engine::kinds::Kinds;
use crate::input::InstanceId;
use crate::recent::{hash_sorted, Recent};

/// Per-instance state kept by the task loop: the service's own, and which events it has
/// already taken, so an event delivered twice (same id) is acted on once.
///
/// An instance's record lives while the instance is in flight. When it finishes, the record
/// goes and the id joins the last `window` finished instances remembered, so a late duplicate
/// of one of its events is recognised too. Memory: the instances in flight, plus `window` ids.
#[derive(Debug, Clone)]
pub struct Inbox<K: crate::name::Name, T> {
    live: FxHashMap<InstanceId, Record<K, T>>,
    finished: Recent<InstanceId, ()>,
    /// Deliveries still scheduled per instance (late or duplicate), which must find their
    /// instance remembered however long they wait.
    pinned: FxHashMap<InstanceId, u32>,
    /// Finished instances that are pinned: remembered until their last scheduled delivery is
    /// handled, whatever the window.
    finished_pinned: FxHashSet<InstanceId>,
}

#[derive(Debug, Clone, Hash)]
struct Record<K: crate::name::Name, T> {
    taken: Kinds<K>,
    state: T,
}

/// Hashed by content, in instance order (as `Recent` is): `choreo check`
/// tells states apart by it.
impl<K: crate::name::Name, T: Hash> Hash for Inbox<K, T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hash_sorted(&self.live, state);
        self.finished.hash(state);
        hash_sorted(&self.pinned, state);
        let mut finished_pinned: Vec<&InstanceId> = self.finished_pinned.iter().collect();
        finished_pinned.sort_unstable();
        finished_pinned.hash(state);
    }
}

impl<K: crate::name::Name, T: Default> Inbox<K, T> {
    /// Remembers the last `window` finished instances, and every finished instance a
    /// scheduled delivery is pinned to ([`Inbox::pin`]).
    pub fn new(window: usize) -> Self {
        Inbox {
            live: FxHashMap::default(),
            finished: Recent::new(window),
            pinned: FxHashMap::default(),
            finished_pinned: FxHashSet::default(),
        }
    }

    /// A delivery of one of `order_id`'s events is scheduled: until it is handled
    /// ([`Inbox::unpin`]), the instance is remembered if it finishes.
    pub fn pin(&mut self, order_id: InstanceId) {
        *self.pinned.entry(order_id).or_default() += 1;
    }

    /// The scheduled delivery was handled.
    pub fn unpin(&mut self, order_id: InstanceId) {
        if let Entry::Occupied(mut pins) = self.pinned.entry(order_id) {
            *pins.get_mut() -= 1;
            if *pins.get() == 0 {
                pins.remove();
                self.finished_pinned.remove(&order_id);
            }
        }
    }

    fn is_finished(&self, order_id: InstanceId) -> bool {
        is_finished(&self.finished, &self.finished_pinned, order_id)
    }

    /// Records the delivery of event `kind` of `order_id` and returns the instance's state;
    /// `None` if this event was taken before, or its instance has finished.
    pub fn take(&mut self, order_id: InstanceId, kind: K) -> Option<&mut T> {
        let record = match self.live.entry(order_id) {
            Entry::Occupied(record) => record.into_mut(),
            Entry::Vacant(_) if is_finished(&self.finished, &self.finished_pinned, order_id) => {
                return None
            }
            Entry::Vacant(slot) => slot.insert(Record {
                taken: Kinds::empty(),
                state: T::default(),
            }),
        };
        if record.taken.contains(kind) {
            return None;
        }
        record.taken.insert(kind);
        Some(&mut record.state)
    }

    /// Whether the event would be taken, without taking it.
    pub fn is_new(&self, order_id: InstanceId, kind: K) -> bool {
        match self.live.get(&order_id) {
            Some(record) => !record.taken.contains(kind),
            None => !self.is_finished(order_id),
        }
    }

    /// Drops a finished instance's record and remembers its id among the finished.
    pub fn finish(&mut self, order_id: InstanceId) {
        self.live.remove(&order_id);
        self.finished.insert(order_id, ());
        if !self.pinned.is_empty() && self.pinned.contains_key(&order_id) {
            self.finished_pinned.insert(order_id);
        }
    }

    /// Instances in flight.
    pub fn in_flight(&self) -> usize {
        self.live.len()
    }
}

impl<K: crate::name::Name, T: Clone> Inbox<K, T> {
    /// What the inbox keeps about `order_id` now, to [`Inbox::restore`] it: what a crash
    /// before the event was recorded as handled leaves behind.
    pub fn saved(&self, order_id: InstanceId) -> Saved<K, T> {
        Saved {
            order_id,
            record: self.live.get(&order_id).cloned(),
        }
    }

    /// An inbox with `order_id`'s record alone, as this one has it: for trying a delivery of
    /// one of its events out (`order_id` must not be finished).
    pub fn only(&self, order_id: InstanceId) -> Self
    where
        T: Default,
    {
        let mut only = Inbox::new(0);
        only.restore(self.saved(order_id));
        only
    }

    /// Puts `order_id`'s record back as it was when `saved` was taken.
    pub fn restore(&mut self, saved: Saved<K, T>) {
        match saved.record {
            Some(record) => self.live.insert(saved.order_id, record),
            None => self.live.remove(&saved.order_id),
        };
    }
}

/// One instance's record as it was: see [`Inbox::saved`].
#[derive(Debug)]
pub struct Saved<K: crate::name::Name, T> {
    order_id: InstanceId,
    record: Option<Record<K, T>>,
}

/// What one delivery came to: see [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Neither subscribed to nor terminal: passed over.
    Passed,
    /// Taken before, or its instance has finished: ignored.
    Duplicate,
    /// Taken: the decision (if the service subscribes to it) is in the outbox.
    Taken,
}

/// What the task loop does with one delivered event, apart from time, faults and publishing:
/// passes over what the service neither subscribes to nor must forget by, ignores what it has
/// taken before, and otherwise takes the event and lets the service decide into `out`. The
/// caller publishes `out` and then, for a terminal event, [`Inbox::finish`]es the instance:
/// only then is the event handled. `choreo check` runs this same code.
pub fn decide<C: Choreography, S: Service<C>>(
    service: &mut S,
    inbox: &mut Inbox<C::Kind, S::State>,
    subscribes: Kinds<C::Kind>,
    envelope: &Envelope<C>,
    out: &mut Outbox<C>,
) -> Delivery {
    let kind = envelope.kind();
    let subscribed = subscribes.contains(kind);
    if !(subscribed || envelope.is_terminal()) {
        return Delivery::Passed;
    }
    let Some(state) = inbox.take(envelope.order_id, kind) else {
        return Delivery::Duplicate;
    };
    if subscribed {
        service.handle(state, envelope, out);
    }
    Delivery::Taken
}

/// Whether a finished instance is remembered: within the window, or pinned.
fn is_finished(
    finished: &Recent<InstanceId, ()>,
    finished_pinned: &FxHashSet<InstanceId>,
    order_id: InstanceId,
) -> bool {
    finished.contains(&order_id)
        || (!finished_pinned.is_empty() && finished_pinned.contains(&order_id))
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Bus(#[from] BusError),
    /// A simulated crash (`[simulation.faults]`): the supervisor restarts the service.
    #[error("{service} crashed (simulated)")]
    Crashed { service: &'static str },
    #[error("{service} has no worker to run: it was lost in an earlier crash")]
    NoWorker { service: &'static str },
    #[error("{service} published {kind}, which it does not declare in PUBLISHES")]
    Undeclared {
        service: &'static str,
        kind: &'static str,
    },
}

/// Test support: a service with the per-instance state the task loop would keep for it, and
/// envelopes as it would receive them. For unit tests of a choreography's decisions.
#[derive(Debug)]
pub struct Harness<C: Choreography, S: Service<C>> {
    pub service: S,
    pub states: std::collections::HashMap<InstanceId, S::State>,
    marker: std::marker::PhantomData<C>,
}

impl<C: Choreography, S: Service<C>> Harness<C, S> {
    pub fn new(service: S) -> Self {
        Harness {
            service,
            states: std::collections::HashMap::new(),
            marker: std::marker::PhantomData,
        }
    }

    /// What the service publishes in reaction to `event` for instance `order_id`, checked
    /// against what it declares.
    ///
    /// # Panics
    /// If the service does not subscribe to the event, or publishes something undeclared:
    /// this is for tests.
    pub fn react(&mut self, order_id: u64, event: C::Event) -> Vec<C::Event> {
        self.react_from(S::NAME, order_id, event)
    }

    /// [`Self::react`], to an event as if `emitter` had published it: for decisions that
    /// depend on who published an event.
    ///
    /// # Panics
    /// As [`Self::react`].
    pub fn react_from(
        &mut self,
        emitter: C::Service,
        order_id: u64,
        event: C::Event,
    ) -> Vec<C::Event> {
        let envelope = delivered::<C>(order_id, emitter, event);
        assert!(
            S::SUBSCRIBES.contains(&envelope.kind()),
            "{} does not subscribe to {}",
            S::NAME,
            envelope.kind()
        );
        let state = self.states.entry(envelope.order_id).or_default();
        let mut out = Outbox::default();
        self.service.handle(state, &envelope, &mut out);
        for event in &out.events {
            let kind = C::kind(event);
            assert!(S::PUBLISHES.contains(&kind), "undeclared {kind}");
        }
        out.events
    }
}

/// Test support: an envelope as a service would receive it, as if `service` emitted it.
///
/// # Panics
/// If `order_id` is 0: this is for tests.
pub fn delivered<C: Choreography>(
    order_id: u64,
    service: C::Service,
    event: C::Event,
) -> Envelope<C> {
    let order_id = InstanceId::new(order_id).expect("a valid instance id");
    Envelope {
        seq: 0,
        at_us: 0,
        id: crate::engine::EventId {
            order_id,
            kind: C::kind(&event),
        },
        order_id,
        service,
        cause: None,
        event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::names! {
        enum Kind { Created, Checked }
    }

    fn id(n: u64) -> InstanceId {
        InstanceId::new(n).expect("valid id")
    }

    /// Ids that grow are remembered in order; ids that do not, as well.
    #[test]
    fn finished_instances_are_known_whatever_order_their_ids_come_in() {
        let mut inbox: Inbox<Kind, ()> = Inbox::new(100);
        for n in [10, 3, 7] {
            assert!(inbox.take(id(n), Kind::Created).is_some(), "{n} is new");
            inbox.finish(id(n));
        }
        for n in [3, 7, 10] {
            assert!(inbox.take(id(n), Kind::Checked).is_none(), "{n} finished");
            assert!(!inbox.is_new(id(n), Kind::Checked));
        }
        for n in [4, 11] {
            assert!(inbox.is_new(id(n), Kind::Created), "{n} never came");
            assert!(inbox.take(id(n), Kind::Created).is_some());
        }
    }

    #[test]
    fn the_same_event_is_taken_once() {
        let mut inbox = Inbox::<Kind, u32>::new(4);
        *inbox.take(id(1), Kind::Created).expect("first delivery") += 1;
        assert!(
            inbox.take(id(1), Kind::Created).is_none(),
            "second delivery"
        );
        assert!(inbox.take(id(1), Kind::Checked).is_some(), "another kind");
        assert!(
            inbox.take(id(2), Kind::Created).is_some(),
            "another instance's event"
        );
    }

    #[test]
    fn a_late_duplicate_of_a_finished_instance_is_ignored() {
        let mut inbox = Inbox::<Kind, u32>::new(2);
        inbox.take(id(1), Kind::Created).expect("first delivery");
        inbox.finish(id(1));
        assert!(!inbox.is_new(id(1), Kind::Checked));
        assert!(
            inbox.take(id(1), Kind::Checked).is_none(),
            "finished, within the window"
        );
        assert_eq!(inbox.in_flight(), 0);
    }

    /// A finished instance with a delivery still scheduled is remembered even with no window
    /// at all, until that delivery is handled; then the window alone decides.
    #[test]
    fn a_pinned_finished_instance_is_remembered_beyond_the_window() {
        let mut inbox = Inbox::<Kind, u32>::new(0);
        inbox.take(id(1), Kind::Created).expect("first delivery");
        inbox.pin(id(1));
        inbox.finish(id(1));
        for n in 2..100 {
            inbox.take(id(n), Kind::Created).expect("another instance");
            inbox.finish(id(n));
        }
        assert!(
            inbox.take(id(1), Kind::Created).is_none(),
            "pinned: still finished"
        );
        inbox.unpin(id(1));
        assert!(
            inbox.take(id(1), Kind::Checked).is_some(),
            "window 0: forgotten"
        );
    }

    /// What a crash after publishing puts back: the record as it was before the event, taken
    /// kind and state alike, or no record at all for an instance seen first.
    #[test]
    fn a_saved_record_is_restored_as_it_was() {
        let mut inbox = Inbox::<Kind, u32>::new(4);
        *inbox.take(id(1), Kind::Created).expect("first") = 7;
        let saved = inbox.saved(id(1));
        *inbox.take(id(1), Kind::Checked).expect("second") = 8;
        inbox.restore(saved);
        assert!(
            inbox.is_new(id(1), Kind::Checked),
            "the kind is untaken again"
        );
        assert_eq!(inbox.take(id(1), Kind::Checked).copied(), Some(7));
        let unseen = inbox.saved(id(2));
        inbox.take(id(2), Kind::Created).expect("first");
        inbox.restore(unseen);
        assert_eq!(inbox.in_flight(), 1, "instance 2 forgotten again");
    }

    #[test]
    fn finishing_drops_the_service_state() {
        let mut inbox = Inbox::<Kind, Vec<u8>>::new(10);
        inbox
            .take(id(1), Kind::Created)
            .expect("first")
            .extend([1, 2, 3]);
        inbox.finish(id(1));
        assert!(inbox.live.is_empty());
    }
}
