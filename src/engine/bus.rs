//! The bus: one `tokio::sync::broadcast` channel that every service reads and writes.
//!
//! A broadcast sender never waits: a subscriber that falls more than `capacity` events behind
//! loses the oldest ones for good (`RecvError::Lagged`). The bus makes that loud and countable
//! rather than preventing it itself: every [`Subscription`] turns a lag into
//! [`BusError::Lagged`] and adds it to [`Bus::lost_events`], and it keeps a cursor of how many
//! events it has consumed, so the supervisor can admit orders only while their events fit ahead
//! of the slowest subscriber (see [`admission`](crate::engine::admission)).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use crate::engine::choreography::Choreography;
use crate::engine::choreography::{Envelope, EventId};
use crate::engine::config::Capacity;
use crate::engine::protocol::{Cursor, Room};
use crate::input::InstanceId;
use crate::recent::Recent;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("{subscriber} fell behind the bus and lost {lost} events (bus.capacity too small for the load, or admission control is off)")]
    Lagged { subscriber: String, lost: u64 },
    #[error("the bus closed while {subscriber} was still reading")]
    Closed { subscriber: String },
    #[error("{subscriber} subscribed after the first event was published and would miss events")]
    LateSubscriber { subscriber: String },
    #[error("an event was published with no subscriber to receive it")]
    NoSubscribers,
}

/// The shared bus. Cheap to share behind an `Arc`; publishing takes `&self`.
pub struct Bus<C: Choreography> {
    tx: broadcast::Sender<Arc<Envelope<C>>>,
    /// The next sequence number. Held across `send`, so sequence order is channel order: every
    /// subscriber sees `seq` 0, 1, 2, ... with no gaps unless it lagged.
    next_seq: Mutex<u64>,
    capacity: Capacity,
    /// Each subscriber's consumption cursor, and the supervisor's wait for room (a protocol
    /// of its own, model-checked: see [`Room`]).
    room: Room,
    /// Each subscriber's name, in subscription order.
    subscribers: Mutex<Vec<String>>,
    /// The sequence numbers lost to lag, a range per lag, as `[from, to)`.
    lost: Mutex<Vec<(u64, u64)>>,
    /// Time 0 of the run, for the envelopes' `at_us` (Tokio's clock: simulated when paused).
    started: tokio::time::Instant,
    /// The ids of the latest events published, with their sequence numbers, when services
    /// may publish an event again (a crash after publishing): such an event is dropped by its
    /// id, as a broker's de-duplication (JetStream's `Nats-Msg-Id`) drops it.
    published_ids: Option<Mutex<Recent<EventId<C::Kind>, u64>>>,
    /// Events so dropped.
    republished: AtomicU64,
}

impl<C: Choreography> Bus<C> {
    pub fn new(capacity: Capacity) -> Self {
        // The receiver made here is dropped at once: only `subscribe` makes receivers.
        let (tx, _) = broadcast::channel(capacity.get());
        Bus {
            tx,
            next_seq: Mutex::new(0),
            capacity,
            room: Room::default(),
            subscribers: Mutex::new(Vec::new()),
            lost: Mutex::new(Vec::new()),
            started: tokio::time::Instant::now(),
            published_ids: None,
            republished: AtomicU64::new(0),
        }
    }

    /// This bus drops an event published again with the id of one of the last `window`
    /// events (at least): see [`Bus::publish`]. For services that may crash after publishing,
    /// whose redelivered event makes them publish the same events again; `window` must cover
    /// every event published between the two (the bus capacity does, with admission on).
    pub fn deduplicating(mut self, window: usize) -> Self {
        self.published_ids = Some(Mutex::new(Recent::new(window)));
        self
    }

    /// Events dropped because their id was published before (see [`Bus::deduplicating`]).
    pub fn republished(&self) -> u64 {
        self.republished.load(Ordering::Relaxed)
    }

    /// Time 0 of the run.
    pub fn started(&self) -> tokio::time::Instant {
        self.started
    }

    pub fn capacity(&self) -> Capacity {
        self.capacity
    }

    /// A new subscriber. Only before the first publish: a receiver starts at the tail of the
    /// channel, so a late one would silently miss what came before.
    pub fn subscribe(
        self: &Arc<Self>,
        name: impl Into<String>,
    ) -> Result<Subscription<C>, BusError> {
        let name = name.into();
        let seq = self.next_seq.lock().unwrap_or_else(PoisonError::into_inner);
        if *seq > 0 {
            return Err(BusError::LateSubscriber { subscriber: name });
        }
        let cursor = self.room.cursor();
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(name.clone());
        let rx = self.tx.subscribe();
        drop(seq);
        Ok(Subscription {
            name,
            rx,
            cursor,
            bus: Arc::clone(self),
        })
    }

    /// Publishes `event` for `order_id`, emitted by `service` in reaction to `cause`, and
    /// returns its sequence number. On a [deduplicating](Bus::deduplicating) bus, an event
    /// whose id was published lately is dropped, and the first one's sequence number returned.
    pub fn publish(
        &self,
        order_id: InstanceId,
        service: C::Service,
        cause: Option<EventId<C::Kind>>,
        event: C::Event,
    ) -> Result<u64, BusError> {
        self.publish_at(self.now_us(), order_id, service, cause, event)
    }

    /// The run's time now, in microseconds since it started: what [`Bus::publish`] stamps an
    /// event with.
    pub fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// [`Bus::publish`], stamped `at_us` (from [`Bus::now_us`]) rather than now: a publisher
    /// that publishes several events without waiting in between reads the clock once. (On the
    /// virtual clock time cannot move while a task runs; on the real one it moves by the
    /// microseconds the task takes.)
    pub fn publish_at(
        &self,
        at_us: u64,
        order_id: InstanceId,
        service: C::Service,
        cause: Option<EventId<C::Kind>>,
        event: C::Event,
    ) -> Result<u64, BusError> {
        let id = EventId {
            order_id,
            kind: C::kind(&event),
        };
        let mut next_seq = self.next_seq.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = *next_seq;
        if let Some(published) = &self.published_ids {
            let mut published = published.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(first) = published.get(&id) {
                self.republished.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%id, first, "published again: dropped");
                return Ok(*first);
            }
            published.insert(id, seq);
        }
        let envelope = Arc::new(Envelope {
            seq,
            at_us,
            id,
            order_id,
            service,
            cause,
            event,
        });
        self.tx
            .send(envelope)
            .map_err(|_| BusError::NoSubscribers)?;
        *next_seq += 1;
        Ok(seq)
    }

    /// How many events have been published.
    pub fn published(&self) -> u64 {
        *self.next_seq.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many events the slowest subscriber has consumed.
    pub fn slowest_consumed(&self) -> u64 {
        self.room.slowest_consumed()
    }

    /// How many events the subscriber named `name` has told it consumed (see
    /// [`Subscription`]: exact for one that waits), if there is one.
    pub fn consumed_by(&self, name: &str) -> Option<u64> {
        let subscribers = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let index = subscribers.iter().position(|s| s == name)?;
        self.room.consumed_by(index)
    }

    /// Events that some subscriber lost to lag so far, each counted once however many
    /// subscribers missed it.
    pub fn lost_events(&self) -> u64 {
        let mut ranges = self
            .lost
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        ranges.sort_unstable();
        let (mut lost, mut covered_to) = (0, 0);
        for (from, to) in ranges {
            let from = from.max(covered_to);
            if to > from {
                lost += to - from;
                covered_to = to;
            }
        }
        lost
    }

    /// Asks subscribers to signal [`Bus::room_freed`] as soon as the slowest of them has
    /// consumed `at` events; the caller looks for room once more before it waits (see
    /// [`Room::wait_for_room`]).
    pub fn wait_for_room(&self, at: u64) {
        self.room.wait_for_room(at);
    }

    /// Stops asking (see [`Bus::wait_for_room`]).
    pub fn stop_waiting_for_room(&self) {
        self.room.stop_waiting_for_room();
    }

    /// Resolves once every subscriber has consumed what [`Bus::wait_for_room`] asked for (the
    /// caller looks for room itself after asking, before it waits).
    pub async fn room_freed(&self) {
        self.room.freed().notified().await;
    }
}

/// One subscriber's receiver, its consumption cursor and its name for messages.
///
/// The cursor the supervisor reads is updated only when it matters: while the supervisor
/// waits for room, on every event (and the supervisor is woken once there is room);
/// otherwise whenever the subscriber finds nothing ready (it is about to wait) or calls
/// [`Subscription::report`] (before any other wait, and when it stops). A task on the
/// virtual clock's single thread is always at such a point when the supervisor runs, so
/// admission sees exactly what it saw with a cursor per event; on the real clock it may see a
/// few events less room, never more.
pub struct Subscription<C: Choreography> {
    name: String,
    rx: broadcast::Receiver<Arc<Envelope<C>>>,
    cursor: Cursor,
    bus: Arc<Bus<C>>,
}

impl<C: Choreography> std::fmt::Debug for Subscription<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("name", &self.name)
            .field("consumed", &self.cursor.count())
            .finish_non_exhaustive()
    }
}

impl<C: Choreography> Subscription<C> {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next event. Lag is an error, never skipped: the lost events are counted on the bus.
    pub async fn recv(&mut self) -> Result<Arc<Envelope<C>>, BusError> {
        self.report();
        match self.rx.recv().await {
            Ok(envelope) => Ok(self.consumed(envelope)),
            Err(RecvError::Lagged(lost)) => Err(self.lagged(lost)),
            Err(RecvError::Closed) => Err(self.closed()),
        }
    }

    /// The next event if one is ready, without waiting; `Ok(None)` if none is. Draining ready
    /// events this way costs far less than a `select!` per event.
    pub fn try_recv(&mut self) -> Result<Option<Arc<Envelope<C>>>, BusError> {
        match self.rx.try_recv() {
            Ok(envelope) => Ok(Some(self.consumed(envelope))),
            Err(TryRecvError::Empty) => {
                self.report();
                Ok(None)
            }
            Err(TryRecvError::Lagged(lost)) => Err(self.lagged(lost)),
            Err(TryRecvError::Closed) => Err(self.closed()),
        }
    }

    /// Counts the event, and if the supervisor waits for room, tells it at once.
    #[inline]
    fn consumed(&mut self, envelope: Arc<Envelope<C>>) -> Arc<Envelope<C>> {
        self.cursor.consumed(&self.bus.room);
        envelope
    }

    /// Tells the supervisor how far this subscriber has consumed: call it before waiting on
    /// anything but the bus, so admission never waits on a count the subscriber has not told.
    pub fn report(&mut self) {
        self.cursor.report(&self.bus.room);
    }

    /// Records the `lost` events as lost and says so.
    fn lagged(&mut self, lost: u64) -> BusError {
        // The receiver had taken everything before its cursor: the lost events are the `lost`
        // sequence numbers from there.
        self.report();
        let from = self.cursor.count();
        self.bus
            .lost
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((from, from + lost));
        tracing::error!(subscriber = %self.name, lost, "subscriber lagged: events lost");
        BusError::Lagged {
            subscriber: self.name.clone(),
            lost,
        }
    }

    fn closed(&self) -> BusError {
        BusError::Closed {
            subscriber: self.name.clone(),
        }
    }
}

impl<C: Choreography> std::fmt::Debug for Bus<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("capacity", &self.capacity)
            .field("published", &self.published())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::{Node, Signal, Tiny};

    fn id(n: u64) -> InstanceId {
        InstanceId::new(n).expect("valid id")
    }

    fn created() -> Signal {
        Signal::Done
    }

    /// Publishes one event for each instance of `ids`.
    fn publish(bus: &Bus<Tiny>, ids: std::ops::RangeInclusive<u64>) {
        for n in ids {
            bus.publish(id(n), Node::Only, None, created())
                .expect("publish");
        }
    }

    fn bus(capacity: usize) -> Arc<Bus<Tiny>> {
        Arc::new(Bus::new(Capacity::new(capacity).expect("valid capacity")))
    }

    #[tokio::test]
    async fn every_subscriber_sees_events_in_sequence_order() {
        let bus = bus(16);
        let mut a = bus.subscribe("a").expect("subscribe");
        let mut b = bus.subscribe("b").expect("subscribe");
        publish(&bus, 1..=3);
        for sub in [&mut a, &mut b] {
            for expected in 0..3 {
                let envelope = sub.recv().await.expect("event");
                assert_eq!(envelope.seq, expected);
                assert_eq!(envelope.order_id, id(expected + 1));
            }
        }
        // Counted as consumed once each subscriber says so (as it does before it waits).
        // (`recv` reports what came before it.)
        assert_eq!(bus.slowest_consumed(), 2);
        a.report();
        assert_eq!(bus.slowest_consumed(), 2, "b has not reported its last");
        b.report();
        assert_eq!(bus.slowest_consumed(), 3);
    }

    #[tokio::test]
    async fn while_the_supervisor_waits_for_room_every_event_counts_at_once() {
        let bus = bus(16);
        let mut a = bus.subscribe("a").expect("subscribe");
        publish(&bus, 1..=3);
        a.recv().await.expect("event");
        bus.wait_for_room(2);
        a.recv().await.expect("event");
        assert_eq!(bus.slowest_consumed(), 2);
        tokio::time::timeout(std::time::Duration::from_secs(5), bus.room_freed())
            .await
            .expect("woken");
        // Finding nothing ready counts too: the subscriber is about to wait.
        bus.stop_waiting_for_room();
        a.recv().await.expect("event");
        assert_eq!(a.try_recv().expect("no lag"), None);
        assert_eq!(bus.slowest_consumed(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_supervisor_is_woken_only_once_the_slowest_subscriber_makes_room() {
        let bus = bus(16);
        let mut a = bus.subscribe("a").expect("subscribe");
        let mut b = bus.subscribe("b").expect("subscribe");
        publish(&bus, 1..=4);
        let woken = |bus: &Arc<Bus<Tiny>>| {
            let bus = Arc::clone(bus);
            async move {
                tokio::time::timeout(std::time::Duration::from_secs(1), bus.room_freed())
                    .await
                    .is_ok()
            }
        };
        bus.wait_for_room(2);
        for _ in 0..4 {
            a.recv().await.expect("event");
        }
        b.recv().await.expect("event");
        assert!(!woken(&bus).await, "b has consumed 1 of the 2 needed");
        b.recv().await.expect("event");
        assert!(woken(&bus).await, "both have consumed 2");
    }

    #[tokio::test]
    async fn lag_is_an_error_and_counted() {
        let bus = bus(8);
        let mut slow = bus.subscribe("slow").expect("subscribe");
        publish(&bus, 1..=14);
        let err = slow.recv().await.expect_err("lagged");
        assert_eq!(
            err,
            BusError::Lagged {
                subscriber: "slow".into(),
                lost: 6
            }
        );
        assert_eq!(bus.lost_events(), 6);
    }

    #[tokio::test]
    async fn an_event_lost_by_several_subscribers_counts_once() {
        let bus = bus(8);
        let mut early = bus.subscribe("early").expect("subscribe");
        let mut late = bus.subscribe("late").expect("subscribe");
        publish(&bus, 1..=10);
        // `early` lost seqs 0 and 1; `late` will lose 0..=5 once 4 more are published.
        assert!(early.recv().await.is_err());
        publish(&bus, 11..=14);
        assert!(late.recv().await.is_err());
        assert_eq!(bus.lost_events(), 6, "seqs 0 to 5, once each");
    }

    #[tokio::test]
    async fn subscribing_after_the_first_publish_is_refused() {
        let bus = bus(8);
        let _early = bus.subscribe("early").expect("subscribe");
        bus.publish(id(1), Node::Only, None, created())
            .expect("publish");
        let err = bus.subscribe("late").expect_err("refused");
        assert!(matches!(err, BusError::LateSubscriber { .. }));
    }

    #[test]
    fn publishing_with_no_subscriber_is_an_error() {
        let bus = bus(8);
        let err = bus
            .publish(id(1), Node::Only, None, created())
            .expect_err("no subscriber");
        assert_eq!(err, BusError::NoSubscribers);
    }
}
