//! The one task loop every service runs in: receive, decide, publish; with the simulated
//! latency and faults of `[simulation]` around it.
//!
//! A [`Worker`] is everything a service is apart from its task: its decisions and state, its
//! per-order records, its subscription, and the event it has in hand. It lives in a shared
//! slot while its task runs, and a guard puts it back when the task ends (a simulated crash
//! is an error that ends it; a panic, a bug, unwinds through the guard), so the supervisor
//! can restart the service from its state as of its last completed event, with the same
//! receiver (nothing published meanwhile is missed), and hand it the interrupted event again:
//! the recovery a real service gets from its database and its broker's redelivery.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use rustc_hash::FxHashMap;
use tokio_util::sync::CancellationToken;

use tokio::time::{Instant, Sleep};

use crate::engine::bus::{Bus, Subscription};
use crate::engine::choreography::{Choreography, Name};
use crate::engine::choreography::{Envelope, EventId};
use crate::engine::choreography::{Outbox, Service};
use crate::engine::gate::Watched;
use crate::engine::kinds::Kinds;
use crate::engine::protocol::{self, HandBack, Lease};
use crate::engine::service::{decide, Delivery, Inbox, ServiceError};
use crate::input::InstanceId;
use crate::sim::{self, Latency, Rng, ServiceFaults};

/// Events a task takes in a row before it yields.
pub(crate) const BATCH: u32 = 128;

/// Everything a service is apart from its task; see the module documentation.
pub struct Worker<C: Choreography, S: Service<C>> {
    service: S,
    inbox: Inbox<C::Kind, S::State>,
    events: Subscription<C>,
    /// `S::SUBSCRIBES` and `S::PUBLISHES` as bit sets, checked on every event.
    subscribes: Kinds<C::Kind>,
    publishes: Kinds<C::Kind>,
    /// What the service takes from the bus: what it subscribes to, and the terminal kinds (by
    /// which it forgets an instance). Anything else is passed over as it comes.
    takes: Kinds<C::Kind>,
    /// The event being handled. Set before handling starts and cleared once it is done, so an
    /// event interrupted by a crash is delivered again after the restart. (Kept only when
    /// crashes are simulated: nothing else panics on purpose.)
    in_hand: Option<Arc<Envelope<C>>>,
    /// Whether crashes (or poison) are simulated at all: the hot path skips what they need.
    may_crash: bool,
    /// Whether a fresh event may have to wait (a delay fault): otherwise it is handled as it
    /// comes, without looking.
    routes: bool,
    /// The kind a poison event can be: the service's forward event, if the choreography
    /// has a dead letter to give up with.
    poisonable: Option<C::Kind>,
    /// Events due before anything new from the bus (a late event, and those of its order that
    /// waited behind it).
    /// Each with whether it was a scheduled late delivery, which pins its instance until
    /// it is handled.
    ready: VecDeque<(Arc<Envelope<C>>, bool)>,
    /// The instance of the scheduled late delivery in hand, unpinned once it is handled.
    unpin_after: Option<InstanceId>,
    /// Late deliveries and duplicates, each with the time it is due. Every one is `delay_ms`
    /// after it was scheduled, so the queue is in due order and a plain deque keeps it.
    late: VecDeque<(Instant, Late<C>)>,
    /// Orders with an event delivered late: their later events wait here, in order.
    held: FxHashMap<InstanceId, VecDeque<Arc<Envelope<C>>>>,
    latency: Latency,
    faults: ServiceFaults,
    seed: u64,
    poison_crashes: u32,
    /// The event that crashed the service last, and how many times in a row.
    crashes: Option<(EventId<C::Kind>, u32)>,
    rngs: Streams,
    fired: Arc<Fired>,
    out: Outbox<C>,
    /// The time the events it publishes are stamped with, read once after each wait: time
    /// cannot move on the virtual clock while the task runs (see [`Bus::publish_at`]).
    now_us: Option<u64>,
}

/// One random stream per kind of draw, so turning one fault on does not change what another
/// draws.
#[derive(Debug)]
struct Streams {
    latency: Rng,
    delay: Rng,
    duplicate: Rng,
    crash: Rng,
    after_publish: Rng,
}

/// A crash a fault calls for, other than one before the decision (which happens at once).
enum Crash {
    /// After publishing some of the decision.
    AfterPublish,
    /// A poison event is given up on after this many crashes.
    GiveUp { crashes: u32 },
}

enum Late<C: Choreography> {
    /// Delivered late: the order's later events wait behind it.
    Delayed(Arc<Envelope<C>>),
    /// Delivered a second time.
    Duplicate(Arc<Envelope<C>>),
}

/// How a worker's service is simulated.
#[derive(Debug, Clone)]
pub struct Simulated {
    pub latency: Latency,
    pub faults: ServiceFaults,
    pub seed: u64,
    pub poison_crashes: u32,
    /// Where the faults that fire are counted, for the run's coverage.
    pub fired: Arc<Fired>,
}

/// How often each simulated fault fired on one service. Counted only when one fires, so a
/// run without faults never touches it; read when the run ends.
#[derive(Debug, Default)]
pub struct Fired {
    pub delay: AtomicU64,
    pub duplicate: AtomicU64,
    pub crash: AtomicU64,
    pub crash_after_publish: AtomicU64,
    pub poison: AtomicU64,
}

impl Fired {
    /// Each fault kind with how often it fired, as `[simulation.faults.<service>]` names it.
    pub fn counts(&self) -> [(&'static str, u64); 5] {
        let read = |n: &AtomicU64| n.load(Ordering::Relaxed);
        [
            ("delay", read(&self.delay)),
            ("duplicate", read(&self.duplicate)),
            ("crash", read(&self.crash)),
            ("crash_after_publish", read(&self.crash_after_publish)),
            ("poison", read(&self.poison)),
        ]
    }

    fn count(n: &AtomicU64) {
        // Relaxed: a tally, read after every task has stopped.
        n.fetch_add(1, Ordering::Relaxed);
    }
}

impl<C: Choreography, S: Service<C>> Worker<C, S> {
    pub fn new(service: S, events: Subscription<C>, dedup_window: usize, sim: Simulated) -> Self {
        // Poison needs a dead letter to give up with; without one it is not simulated.
        let poisonable = S::FORWARD.filter(|kind| C::dead_lettered(*kind, 0).is_some());
        Worker {
            service,
            // Late deliveries pin their instance in the inbox (see `schedule`), so the window
            // only bounds the memory of instances with nothing pending.
            inbox: Inbox::new(dedup_window),
            events,
            subscribes: Kinds::of(S::SUBSCRIBES),
            publishes: Kinds::of(S::PUBLISHES),
            takes: C::Kind::ALL
                .iter()
                .filter(|kind| C::outcome(**kind).is_some())
                .fold(Kinds::of(S::SUBSCRIBES), |mut takes, terminal| {
                    takes.insert(*terminal);
                    takes
                }),
            in_hand: None,
            may_crash: !(sim.faults.crash.is_zero()
                && sim.faults.crash_after_publish.is_zero()
                && (sim.faults.poison.is_zero() || poisonable.is_none())),
            poisonable,
            routes: !sim.faults.delay.is_zero(),
            ready: VecDeque::new(),
            unpin_after: None,
            late: VecDeque::new(),
            held: FxHashMap::default(),
            latency: sim.latency,
            faults: sim.faults,
            seed: sim.seed,
            poison_crashes: sim.poison_crashes,
            crashes: None,
            rngs: Streams {
                latency: sim::stream(sim.seed, &format!("{}/latency", S::NAME)),
                delay: sim::stream(sim.seed, &format!("{}/delay", S::NAME)),
                duplicate: sim::stream(sim.seed, &format!("{}/duplicate", S::NAME)),
                crash: sim::stream(sim.seed, &format!("{}/crash", S::NAME)),
                after_publish: sim::stream(sim.seed, &format!("{}/after_publish", S::NAME)),
            },
            fired: sim.fired,
            out: Outbox::default(),
            now_us: None,
        }
    }

    /// Before the task waits on anything: the supervisor learns what it consumed, and the
    /// clock is read again after.
    fn before_waiting(&mut self) {
        self.events.report();
        self.now_us = None;
    }

    /// The next event to handle: the one in hand after a restart, one that is due, or the
    /// next from the bus. `None` once `cancel` fires.
    async fn next(
        &mut self,
        stop: &mut Watched,
        budget: &mut u32,
    ) -> Result<Option<Arc<Envelope<C>>>, ServiceError> {
        loop {
            if let Some(envelope) = &self.in_hand {
                return Ok(Some(Arc::clone(envelope)));
            }
            if let Some((envelope, scheduled)) = self.ready.pop_front() {
                if scheduled {
                    self.unpin_after = Some(envelope.order_id);
                }
                return Ok(Some(self.hold(envelope)));
            }
            if !self.late.is_empty() && self.release_due() {
                continue;
            }
            // Take what is ready without waiting, and wait (heeding cancellation) only when
            // nothing is: far cheaper than a `select!` per event. Every `BATCH` events the
            // task yields, so the others on its thread get to run, and looks at the clock.
            if *budget == 0 {
                *budget = BATCH;
                self.before_waiting();
                tokio::task::yield_now().await;
                if stop.is_cancelled() {
                    return Ok(None);
                }
            }
            *budget -= 1;
            let received = match self.events.try_recv()? {
                Some(envelope) => envelope,
                None => {
                    // `try_recv` told the supervisor what was consumed.
                    self.now_us = None;
                    // Cancellation first: once told to stop, a service stops. (A timer only
                    // when something is due later: even one never polled costs a clock read.)
                    match self.late.front().map(|(due, _)| *due) {
                        None => tokio::select! {
                            biased;
                            () = stop.cancelled() => return Ok(None),
                            received = self.events.recv() => received?,
                        },
                        Some(due) => tokio::select! {
                            biased;
                            () = stop.cancelled() => return Ok(None),
                            () = tokio::time::sleep_until(due) => continue,
                            received = self.events.recv() => received?,
                        },
                    }
                }
            };
            let envelope = match self.routes {
                false => received,
                true => match self.route(received) {
                    Some(envelope) => envelope,
                    None => continue,
                },
            };
            // What `handle` would pass over (see `decide`) is passed over here, without the
            // round trip.
            if self.takes.contains(envelope.kind()) {
                return Ok(Some(self.hold(envelope)));
            }
        }
    }

    /// Puts `envelope` in hand, if crashes are simulated, and returns it.
    fn hold(&mut self, envelope: Arc<Envelope<C>>) -> Arc<Envelope<C>> {
        if self.may_crash {
            self.in_hand = Some(Arc::clone(&envelope));
        }
        envelope
    }

    /// A fresh event from the bus: handled now, or made to wait (delay fault, or its order
    /// already waiting behind a late event).
    fn route(&mut self, envelope: Arc<Envelope<C>>) -> Option<Arc<Envelope<C>>> {
        if !self.held.is_empty() {
            if let Some(waiting) = self.held.get_mut(&envelope.order_id) {
                waiting.push_back(envelope);
                return None;
            }
        }
        if self.faults.delay.happens(&mut self.rngs.delay) {
            Fired::count(&self.fired.delay);
            self.held.insert(envelope.order_id, VecDeque::new());
            self.schedule(Late::Delayed(envelope));
            return None;
        }
        Some(envelope)
    }

    /// Schedules a late delivery `delay_ms` from now. Its instance is pinned in the inbox
    /// until the delivery is handled: a finished instance stays remembered however long the
    /// delivery then waits (a busy service, a restart), so it cannot be taken as new.
    fn schedule(&mut self, late: Late<C>) {
        let due = Instant::now() + sim::millis(self.faults.delay_ms.0);
        let (Late::Delayed(envelope) | Late::Duplicate(envelope)) = &late;
        self.inbox.pin(envelope.order_id);
        self.late.push_back((due, late));
    }

    /// The scheduled late delivery in hand was handled: its instance is no longer pinned.
    fn handled(&mut self) {
        self.in_hand = None;
        if let Some(order_id) = self.unpin_after.take() {
            self.inbox.unpin(order_id);
        }
    }

    /// Moves every late delivery that is due to `ready`; whether there was any.
    fn release_due(&mut self) -> bool {
        if self.late.is_empty() {
            return false;
        }
        let now = Instant::now();
        let mut released = false;
        while self.late.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, late)) = self.late.pop_front() {
                self.arrive_late(late);
                released = true;
            }
        }
        released
    }

    fn arrive_late(&mut self, late: Late<C>) {
        match late {
            Late::Delayed(envelope) => {
                let waiting = self.held.remove(&envelope.order_id).unwrap_or_default();
                self.ready.push_back((envelope, true));
                self.ready.extend(waiting.into_iter().map(|e| (e, false)));
            }
            Late::Duplicate(envelope) => self.ready.push_back((envelope, true)),
        }
    }

    /// Handles the event in hand: faults, decision, latency, publishing. `Ok(false)` if told
    /// to stop while busy.
    async fn handle(
        &mut self,
        envelope: &Envelope<C>,
        bus: &Bus<C>,
        stop: &mut Watched,
        mut busy_timer: Pin<&mut Sleep>,
    ) -> Result<bool, ServiceError> {
        let kind = envelope.kind();
        let subscribed = self.subscribes.contains(kind);
        let mut crash_after_publish = false;
        if self.may_crash && subscribed && self.inbox.is_new(envelope.order_id, kind) {
            match self.maybe_crash(envelope)? {
                Some(Crash::GiveUp { crashes }) => {
                    return self.dead_letter(envelope, crashes, bus).map(|()| true)
                }
                Some(Crash::AfterPublish) => crash_after_publish = true,
                None => {}
            }
        }
        // What a crash after publishing puts back: the service and the instance's record as
        // they were before this event.
        let before = crash_after_publish
            .then(|| (self.service.clone(), self.inbox.saved(envelope.order_id)));
        match decide(
            &mut self.service,
            &mut self.inbox,
            self.subscribes,
            envelope,
            &mut self.out,
        ) {
            Delivery::Passed => return Ok(true),
            Delivery::Duplicate => {
                tracing::debug!(order_id = %envelope.order_id, id = %envelope.id, "duplicate delivery ignored");
                return Ok(true);
            }
            Delivery::Taken => {}
        }
        if subscribed {
            let mut busy = std::mem::take(&mut self.out.busy);
            if !self.latency.is_zero() {
                busy += self.latency.sample(&mut self.rngs.latency);
            }
            if !busy.is_zero() {
                self.before_waiting();
                busy_timer.as_mut().reset(Instant::now() + busy);
                tokio::select! {
                    biased;
                    () = stop.cancelled() => return Ok(false),
                    () = busy_timer => {}
                }
            }
            tracing::trace!(order_id = %envelope.order_id, id = %envelope.id, ?busy, "handled");
            if let Some((service, record)) = before {
                // Some of the decision goes out, then the service dies before it records the
                // event as handled.
                let published = match self.out.events.len() {
                    0 => 0,
                    caused => self.rngs.after_publish.random_range(1..=caused),
                };
                let at_us = *self.now_us.get_or_insert_with(|| bus.now_us());
                for event in self.out.events.drain(..).take(published) {
                    publish::<C, S>(bus, at_us, self.publishes, envelope, event)?;
                }
                self.out.events.clear();
                self.service = service;
                self.inbox.restore(record);
                return Err(self.crash(envelope, published));
            }
            if !self.out.events.is_empty() {
                let at_us = *self.now_us.get_or_insert_with(|| bus.now_us());
                for event in self.out.events.drain(..) {
                    publish::<C, S>(bus, at_us, self.publishes, envelope, event)?;
                }
            }
        }
        // The terminal event, subscribed or not, ends what the service keeps for the order.
        if envelope.is_terminal() {
            self.inbox.finish(envelope.order_id);
        }
        // A redelivery that was ignored returned above: only a delivery taken is duplicated,
        // so a finished instance's events cannot keep coming.
        if self.faults.duplicate.happens(&mut self.rngs.duplicate) {
            Fired::count(&self.fired.duplicate);
            self.schedule(Late::Duplicate(Arc::new(envelope.clone())));
        }
        Ok(true)
    }

    /// Whether a fault crashes the service on `envelope`: a crash before the decision is the
    /// error returned here; one after publishing is for the caller to carry out; a poison
    /// event that has crashed the service often enough is given up on instead, after that
    /// many crashes.
    fn maybe_crash(&mut self, envelope: &Envelope<C>) -> Result<Option<Crash>, ServiceError> {
        let poison = self.poisonable == Some(envelope.kind())
            && sim::is_poison(self.seed, S::NAME.name(), &envelope.id, self.faults.poison);
        let crash = poison || self.faults.crash.happens(&mut self.rngs.crash);
        if !crash {
            self.crashes = None;
            let after_publish = self
                .faults
                .crash_after_publish
                .happens(&mut self.rngs.after_publish);
            if after_publish {
                Fired::count(&self.fired.crash_after_publish);
            }
            return Ok(after_publish.then_some(Crash::AfterPublish));
        }
        Fired::count(if poison {
            &self.fired.poison
        } else {
            &self.fired.crash
        });
        let in_a_row = match self.crashes {
            Some((id, n)) if id == envelope.id => n + 1,
            _ => 1,
        };
        if poison && in_a_row > self.poison_crashes {
            self.crashes = None;
            return Ok(Some(Crash::GiveUp {
                crashes: in_a_row - 1,
            }));
        }
        self.crashes = Some((envelope.id, in_a_row));
        tracing::debug!(id = %envelope.id, in_a_row, "injected crash");
        Err(self.crash(envelope, 0))
    }

    /// A simulated crash of the service, `published` events into the decision on `envelope`:
    /// the error that ends its task at once, as a crash would, and that the supervisor
    /// restarts it after. (It is not a panic: unwinding cost a fifth of a chaotic run.)
    fn crash(&self, envelope: &Envelope<C>, published: usize) -> ServiceError {
        if published > 0 {
            tracing::debug!(id = %envelope.id, published, "injected crash after publishing");
        }
        ServiceError::Crashed {
            service: S::NAME.name(),
        }
    }

    fn dead_letter(
        &mut self,
        envelope: &Envelope<C>,
        crashes: u32,
        bus: &Bus<C>,
    ) -> Result<(), ServiceError> {
        tracing::info!(order_id = %envelope.order_id, id = %envelope.id, crashes, "dead-lettered");
        self.inbox.take(envelope.order_id, envelope.kind());
        // A choreography without dead letters never simulates poison (see `may_crash`).
        match C::dead_lettered(envelope.kind(), crashes) {
            Some(event) => publish::<C, S>(bus, bus.now_us(), self.publishes, envelope, event),
            None => Ok(()),
        }
    }
}

fn publish<C: Choreography, S: Service<C>>(
    bus: &Bus<C>,
    at_us: u64,
    publishes: Kinds<C::Kind>,
    cause: &Envelope<C>,
    event: C::Event,
) -> Result<(), ServiceError> {
    let kind = C::kind(&event);
    if !publishes.contains(kind) {
        return Err(ServiceError::Undeclared {
            service: S::NAME.name(),
            kind: kind.name(),
        });
    }
    tracing::trace!(%kind, "publish");
    bus.publish_at(at_us, cause.order_id, S::NAME, Some(cause.id), event)?;
    Ok(())
}

/// Where a worker waits while its task is not running: between a crash and the restart.
pub type Slot<C, S> = protocol::Slot<Worker<C, S>>;

impl<C: Choreography, S: Service<C>> HandBack for Worker<C, S> {
    /// Stopped or crashed: what it consumed counts, whatever comes next.
    fn handing_back(&mut self) {
        self.before_waiting();
    }
}

/// Runs the worker in `slot` until `cancel` fires.
///
/// Returns an error, ending the task, when the subscription lags or closes: a service that
/// missed events can no longer be trusted to decide, and the supervisor fails the run.
pub async fn run<C: Choreography, S: Service<C>>(
    slot: Slot<C, S>,
    bus: Arc<Bus<C>>,
    cancel: CancellationToken,
) -> Result<(), ServiceError> {
    let mut lease = Lease::take(slot);
    let Some(worker) = lease.worker() else {
        return Err(ServiceError::NoWorker {
            service: S::NAME.name(),
        });
    };
    let mut budget = BATCH;
    // One wait on the token for the task's whole life, looked at cheaply (a wait made afresh
    // at every event, or polled at every wake-up, costs the token's lock).
    let mut stop = Watched::new(&cancel);
    // One timer for every busy spell, set anew each time: a timer made and dropped per event
    // costs a handle to the clock, and a lock to take it off the timer wheel.
    let mut busy_timer = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
    while let Some(envelope) = worker.next(&mut stop, &mut budget).await? {
        if !worker
            .handle(&envelope, &bus, &mut stop, busy_timer.as_mut())
            .await?
        {
            break;
        }
        worker.handled();
    }
    Ok(())
}

impl<C: Choreography, S: Service<C>> std::fmt::Debug for Worker<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("service", &self.service)
            .field("in_flight", &self.inbox.in_flight())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}
