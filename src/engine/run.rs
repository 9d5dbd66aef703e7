//! A run: spawn the services, admit the instances as they arrive and as the bus has room,
//! observe every event in bus order, then stop every task and report.
//!
//! The supervisor is also the bus's observer: it holds its own subscription, so it sees every
//! event in sequence order, feeds it to the sinks, and knows when each instance is finished.
//! Admission's arithmetic is [`Credit`].

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustc_hash::FxHashMap;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::admission::Credit;
use crate::engine::bus::{Bus, Subscription};
use crate::engine::choreography::{self, Choreography, Name, SpawnError};
use crate::engine::choreography::{Envelope, EventId};
use crate::engine::config::Config;
use crate::engine::failure::{Failure, RunFailed, Stall, Waiting, SHOWN};
use crate::engine::gate::{Gate, Watched};
use crate::engine::kinds::Kinds;
use crate::engine::monitor::Watch;
use crate::engine::sink::EventSink;
use crate::engine::stats::{Finished, Summary};
use crate::engine::supervisor::{judge, Ended, Services};
use crate::engine::worker::BATCH;
use crate::input::{InstanceId, Record};
use crate::sim::arrivals::Arrivals;

/// Runs every order through the choreography and reports how it went.
///
/// Events go to `sink` in bus order. Returns the summary when every order reached its terminal
/// event and every service stopped cleanly; otherwise [`RunFailed`] with the summary and each
/// failure. Time is Tokio's: run it on a paused clock for a simulation.
pub async fn run<C: Choreography>(
    config: &Config<C>,
    orders: impl IntoIterator<Item = C::Input>,
    sink: &mut (dyn EventSink<C> + Send),
) -> Result<Summary<C>, RunFailed<C>> {
    run_until(config, orders, sink, &Interrupt::default()).await
}

/// How a run can be interrupted from outside (Ctrl-C).
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    /// Stop admitting orders; let the admitted ones finish (within the time limit).
    pub admitting: CancellationToken,
    /// Stop now, orders in flight included.
    pub everything: CancellationToken,
}

/// [`run`], interruptible: see [`Interrupt`]. An interrupted run ends with
/// [`Failure::Interrupted`], everything observed so far reported.
pub async fn run_until<C: Choreography>(
    config: &Config<C>,
    orders: impl IntoIterator<Item = C::Input>,
    sink: &mut (dyn EventSink<C> + Send),
    interrupt: &Interrupt,
) -> Result<Summary<C>, RunFailed<C>> {
    run_fed(config, Iterated(orders.into_iter()), sink, interrupt).await
}

/// Where a run's orders come from, in order: an iterator ([`Iterated`]), or a live source
/// that may have nothing yet.
pub trait Feed<T> {
    /// The next order; `Ready(None)` at the end. A source that is read as fast as the run
    /// asks (an iterator, a regular file) is always `Ready`: reading is then part of the
    /// run's step, and the run is the same however fast the reading goes. A live source (a
    /// pipe) is `Pending` while it has nothing, and wakes `cx` when it may have: the run goes
    /// on meanwhile with the orders it admitted.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>>;

    /// The next order, waited for as long as it takes: the run has nothing else to do.
    fn next_blocking(&mut self) -> Option<T>;

    /// Orders left, as [`Iterator::size_hint`].
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

/// An iterator as a [`Feed`]: always ready.
#[derive(Debug)]
pub struct Iterated<I>(pub I);

impl<I: Iterator> Feed<I::Item> for Iterated<I> {
    fn poll_next(&mut self, _cx: &mut Context<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.0.next())
    }

    fn next_blocking(&mut self) -> Option<I::Item> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<I: Iterator> Iterator for Iterated<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<T, F: Feed<T> + ?Sized> Feed<T> for &mut F {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        (**self).poll_next(cx)
    }

    fn next_blocking(&mut self) -> Option<T> {
        (**self).next_blocking()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (**self).size_hint()
    }
}

/// [`run_until`] on a [`Feed`]. With a live feed on the virtual clock, time does not pass
/// while the run waits for input with nothing in flight (so the time limit does not run out
/// between orders); with orders in flight, they go on, and time with them.
pub async fn run_fed<C: Choreography>(
    config: &Config<C>,
    orders: impl Feed<C::Input>,
    sink: &mut (dyn EventSink<C> + Send),
    interrupt: &Interrupt,
) -> Result<Summary<C>, RunFailed<C>> {
    // A config built in code gets the checks a loaded one got, before anything runs.
    if let Err(invalid) = config.check() {
        return Err(RunFailed {
            summary: Summary::new(&config.choreography),
            failures: vec![Failure::Config(format!(
                "config key `{}`: {}",
                invalid.key, invalid.message
            ))],
        });
    }
    let mut bus = Bus::new(config.bus.capacity);
    if config.simulation.faults.any_crash_after_publish() {
        bus = bus.deduplicating(config.bus.capacity.get());
    }
    let bus = Arc::new(bus);
    tracing::debug!(
        capacity = config.bus.capacity.get(),
        admission = config.bus.admission,
        max_events = C::MAX_EVENTS,
        time_limit = ?config.run.time_limit,
        "bus ready"
    );
    let cancel = CancellationToken::new();
    let mut failures = Vec::new();

    // Every subscription exists before the first order goes in: a receiver only sees events
    // published after it subscribed.
    let (mut services, started) = Services::start(config, &bus, &cancel);
    let started = started.and_then(|()| {
        bus.subscribe("supervisor")
            .map_err(|err| SpawnError::Subscribe {
                service: "the supervisor",
                reason: err.to_string(),
            })
    });
    let mut admission = match started {
        Ok(observer) => {
            let mut admission = Admission::new(&bus, orders, observer, config);
            failures.extend(
                admission
                    .drive(config, &mut services, sink, interrupt)
                    .await,
            );
            // Where the run ended or was stopped: its run time, whatever came last.
            admission.summary.ran_until(bus.now_us());
            tracing::debug!(
                events = bus.published(),
                failures = failures.len(),
                "admission and observing ended"
            );
            Some(admission)
        }
        Err(err) => {
            failures.push(Failure::Spawn(err));
            None
        }
    };

    cancel.cancel();
    failures.extend(services.stop(config.run.shutdown_timeout).await);
    // A run that stopped early still reports every event that was published before the
    // services stopped (but for an invariant broken: the journal ends with the event that
    // broke it).
    let mut summary = match &mut admission {
        Some(admission) => {
            failures.extend(admission.invariants.at_end());
            admission.drain(sink);
            admission.summary()
        }
        None => Summary::new(&config.choreography),
    };
    if let Err(err) = sink.finish() {
        failures.push(Failure::Output(err));
    }
    summary.lost_events = bus.lost_events();
    summary.events = bus.published();
    summary.restarts = services.restarted;
    for (service, fired) in &services.fired {
        for (fault, n) in fired.counts() {
            if n > 0 {
                summary
                    .coverage
                    .faults
                    .insert(format!("{service} {fault}"), n);
            }
        }
    }
    summary.republished = bus.republished();
    if failures.is_empty() {
        Ok(summary)
    } else {
        Err(RunFailed { summary, failures })
    }
}

/// An order admitted and not yet finished.
#[derive(Debug, Clone, Copy)]
struct InFlight<K: Name> {
    /// Its events seen so far.
    seen: u64,
    /// Their kinds: an event id is its instance and kind, so a kind seen twice is one id
    /// published twice, which the services would take for a duplicate and drop.
    kinds: Kinds<K>,
    /// When it arrived, in microseconds since the run started.
    arrived_us: u64,
    /// Its last event's kind and sequence number: what it waits after, if it stalls.
    last: Option<(K, u64)>,
}

/// The injector and observer: admits orders as they arrive and as the bus has room, watches
/// them finish.
struct Admission<'b, C: Choreography, I> {
    bus: &'b Arc<Bus<C>>,
    config: &'b Config<C>,
    orders: I,
    /// The next order and when it arrives, read but not yet admitted.
    next: Option<(C::Input, Instant)>,
    arrivals: Arrivals,
    observer: Subscription<C>,
    /// The room the bus has for more instances.
    credit: Credit,
    /// Each order in flight; an order leaves at its terminal event, so this holds only what
    /// is in flight.
    in_flight: FxHashMap<InstanceId, InFlight<C::Kind>>,
    summary: Summary<C>,
    /// Orders read from the input (admitted, or waiting to be).
    read: u64,
    /// Interrupted: no more orders are admitted.
    interrupted: bool,
    /// The input has no more orders.
    exhausted: bool,
    admitted: u64,
    input_done: bool,
    /// A live input has no order ready: the run waits for it alongside everything else.
    input_pending: bool,
    /// The choreography's invariants, checked as events are observed (`run.invariants`).
    invariants: Watch<C>,
    /// An invariant stopped the run: what is observed after it is not written out.
    halted: bool,
}

impl<'b, C: Choreography, I: Feed<C::Input>> Admission<'b, C, I> {
    fn new(
        bus: &'b Arc<Bus<C>>,
        orders: I,
        observer: Subscription<C>,
        config: &'b Config<C>,
    ) -> Self {
        Admission {
            bus,
            config,
            orders,
            next: None,
            arrivals: Arrivals::new(&config.simulation.arrivals, config.simulation.seed),
            observer,
            credit: Credit::new(
                config.bus.capacity.get() as u64,
                C::MAX_EVENTS,
                config.bus.admission,
            ),
            in_flight: FxHashMap::default(),
            summary: Summary::new(&config.choreography),
            read: 0,
            interrupted: false,
            exhausted: false,
            admitted: 0,
            input_done: false,
            input_pending: false,
            invariants: Watch::new(config.run.invariants, &config.choreography),
            halted: false,
        }
    }

    fn has_room(&mut self) -> bool {
        self.room() > 0
    }

    /// How many more orders fit on the bus now.
    fn room(&mut self) -> u64 {
        // The observer is a subscriber too: what it consumed counts.
        self.observer.report();
        self.credit.room(self.bus.slowest_consumed())
    }

    /// The next order and its arrival time, reading one if none is waiting.
    fn peek(&mut self) -> Option<(C::Input, Instant)> {
        if self.interrupted {
            return None;
        }
        if self.next.is_none() && !self.input_done {
            // Looked at without a waker: a live input with nothing yet is waited for in
            // `drive`, alongside everything else (or alone, with nothing in flight).
            let polled = self
                .orders
                .poll_next(&mut Context::from_waker(std::task::Waker::noop()));
            match polled {
                Poll::Ready(order) => self.read_one(order, false),
                Poll::Pending => self.input_pending = true,
            }
        }
        self.next.clone()
    }

    /// The input gave `order` (`None`: it has no more); `waited`: it was not there yet when
    /// the run first asked for it, and so arrives no earlier than now.
    fn read_one(&mut self, order: Option<C::Input>, waited: bool) {
        self.input_pending = false;
        match order {
            Some(order) => {
                self.read += 1;
                let arrives = match order.at_ms() {
                    Some(at_ms) => Duration::from_millis(at_ms),
                    None => self
                        .arrivals
                        .next(self.admitted + u64::from(self.next.is_some())),
                };
                let mut arrives = self.bus.started() + arrives;
                if waited {
                    arrives = arrives.max(Instant::now());
                }
                self.next = Some((order, arrives));
            }
            None => {
                self.input_done = true;
                self.exhausted = true;
            }
        }
    }

    /// Admits orders that have arrived while there is room. Returns when the next order has
    /// not arrived yet, there is no room, or the input is done.
    fn admit(&mut self, now: Instant, admitting: &mut Watched) -> Result<(), Failure> {
        // The room is measured once, when the first order is ready: it only grows while this
        // loop runs. (The next order is always read, so the caller knows what waits.)
        let mut room = None;
        while let Some((order, arrives)) = self.peek() {
            if arrives > now {
                break;
            }
            // Nothing is admitted after an interrupt, however many orders are ready: the
            // loop above only looks at it between batches.
            if admitting.is_cancelled() {
                break;
            }
            let left = *room.get_or_insert_with(|| self.room());
            if left == 0 {
                break;
            }
            room = Some(left - 1);
            self.next = None;
            let arrived_us = arrives.duration_since(self.bus.started()).as_micros() as u64;
            let record = InFlight {
                seen: 0,
                kinds: Kinds::empty(),
                arrived_us,
                last: None,
            };
            let order_id = order.id();
            // A string id's text is kept while its instance is in flight.
            order_id.hold();
            if self.in_flight.insert(order_id, record).is_some() {
                return Err(Failure::Protocol {
                    order_id,
                    problem: "admitted twice while in flight".into(),
                });
            }
            self.credit.admit();
            self.admitted += 1;
            let (service, first) = C::start(&order, &self.config.choreography);
            let at_us = now.duration_since(self.bus.started()).as_micros() as u64;
            self.bus.publish_at(at_us, order_id, service, None, first)?;
        }
        Ok(())
    }

    /// Runs until every order is finished, the time limit passes, or something fails.
    async fn drive(
        &mut self,
        config: &Config<C>,
        services: &mut Services<C>,
        sink: &mut (dyn EventSink<C> + Send),
        interrupt: &Interrupt,
    ) -> Option<Failure> {
        let deadline = tokio::time::sleep(config.run.time_limit);
        tokio::pin!(deadline);
        // Waits made once for the whole run and looked at cheaply: a wait made afresh at every
        // event, or polled at every wake-up, costs its token's lock.
        let mut admitting = Watched::new(&interrupt.admitting);
        let mut everything = Watched::new(&interrupt.everything);
        let (mut ended, mut time_up) = (Gate::default(), Gate::default());
        loop {
            // The clock is read once a step: on the virtual clock time cannot move while the
            // step runs, and on the real one a few microseconds late does no harm.
            let now = Instant::now();
            if everything.is_cancelled() {
                let (_, not_admitted) = self.unfinished();
                return Some(Failure::Interrupted { not_admitted });
            }
            if !self.interrupted && admitting.is_cancelled() {
                // Stop admitting; what is in flight goes on to its end. The order waiting to
                // go in stays out (it counts as read, not admitted).
                self.interrupted = true;
                self.input_done = true;
                self.next = None;
            }
            if let Err(failure) = self.admit(now, &mut admitting) {
                return Some(failure);
            }
            if self.input_pending && self.in_flight.is_empty() {
                // A live input with nothing yet, and nothing else to do: what was written is
                // let out, then the input is waited for here, where (on the virtual clock)
                // time cannot pass, so the time limit does not run out between orders.
                if let Err(err) = sink.flush() {
                    return Some(Failure::Output(err));
                }
                let order = self.orders.next_blocking();
                self.read_one(order, true);
                continue;
            }
            let done = self.input_done && self.in_flight.is_empty();
            if done && self.interrupted {
                let (_, not_admitted) = self.unfinished();
                return Some(Failure::Interrupted { not_admitted });
            }
            if done && self.next.is_none() {
                return None;
            }
            // Take the events that are ready without waiting: far cheaper than a `select!` per
            // event. Only when none is ready does the loop wait below.
            let mut taken = 0;
            while taken < BATCH {
                match self.observer.try_recv() {
                    Ok(Some(envelope)) => {
                        if let Err(failure) = self.observe(&envelope, sink) {
                            return Some(failure);
                        }
                        taken += 1;
                    }
                    Ok(None) => break,
                    Err(err) => return Some(err.into()),
                }
            }
            if taken > 0 {
                if now >= deadline.deadline() {
                    return Some(self.deadline_passed(config.run.time_limit));
                }
                if taken == BATCH {
                    tokio::task::yield_now().await;
                }
                continue;
            }
            // Waiting for the next order to arrive, or for room on the bus.
            let arrival = self.next.as_ref().map(|(_, arrives)| *arrives);
            let waiting_for_arrival = arrival.is_some_and(|at| at > now);
            let blocked = arrival.is_some() && !waiting_for_arrival;
            if blocked {
                // Out of room: ask subscribers to say when they consume, then look once more
                // before sleeping (see `Bus::wait_for_room`).
                self.bus.wait_for_room(self.credit.room_at());
                if self.has_room() {
                    self.bus.stop_waiting_for_room();
                    continue;
                }
            }
            let arrives = async {
                match arrival {
                    // Made only when it is waited for: even a timer never polled reads the
                    // clock.
                    Some(at) if waiting_for_arrival => tokio::time::sleep_until(at).await,
                    _ => std::future::pending().await,
                }
            };
            let step = tokio::select! {
                biased;
                () = std::future::poll_fn(|cx| time_up.poll(cx, |cx| deadline.as_mut().poll(cx))) => {
                    Err(self.deadline_passed(config.run.time_limit))
                }
                joined = std::future::poll_fn(|cx| {
                    match ended.poll(cx, |cx| services.tasks.poll_join_next_with_id(cx)) {
                        Poll::Ready(Some(joined)) => Poll::Ready(joined),
                        // No task: nothing to wait for (and nothing registered to wake).
                        Poll::Ready(None) | Poll::Pending => Poll::Pending,
                    }
                }) => {
                    let ended = match &joined {
                        Ok((id, _)) => *id,
                        Err(err) => err.id(),
                    };
                    let judged = judge(&services.names, joined);
                    services.names.remove(&ended);
                    match judged {
                        (service, Ended::Crashed) => services.restart(service).map_err(
                            |(max_restarts, window)| self.restart_limit(service, max_restarts, window),
                        ),
                        // Services only stop when told to: any other end now is a failure.
                        (service, Ended::Stopped) => Err(Failure::ServiceEnded { service: service.name() }),
                        (_, Ended::Failed(failure)) => Err(failure),
                    }
                }
                received = self.observer.recv() => match received {
                    Ok(envelope) => self.observe(&envelope, sink),
                    Err(err) => Err(err.into()),
                },
                () = self.bus.room_freed(), if blocked => Ok(()),
                () = admitting.cancelled(), if !self.interrupted => Ok(()),
                () = everything.cancelled() => Ok(()),
                () = arrives, if waiting_for_arrival => Ok(()),
                order = std::future::poll_fn(|cx| self.orders.poll_next(cx)),
                    if self.input_pending => {
                    self.read_one(order, true);
                    Ok(())
                }
            };
            self.bus.stop_waiting_for_room();
            if let Err(failure) = step {
                return Some(failure);
            }
        }
    }

    /// Handles one event in bus order: output, then bookkeeping.
    fn observe(
        &mut self,
        envelope: &Envelope<C>,
        sink: &mut dyn EventSink<C>,
    ) -> Result<(), Failure> {
        self.summary.record(envelope);
        let written = if self.halted {
            Ok(())
        } else {
            sink.event(envelope)
        };
        let order_id = envelope.order_id;
        let Some(order) = self.in_flight.get_mut(&order_id) else {
            return Err(Failure::Protocol {
                order_id,
                problem: format!("{} arrived for an order not in flight", envelope.kind()),
            });
        };
        order.seen += 1;
        if order.kinds.contains(envelope.kind()) {
            return Err(Failure::Protocol {
                order_id,
                problem: format!(
                    "{} published a second time: each kind happens at most once per order",
                    envelope.id
                ),
            });
        }
        order.kinds.insert(envelope.kind());
        order.last = Some((envelope.kind(), envelope.seq));
        let InFlight {
            seen,
            arrived_us,
            kinds,
            ..
        } = *order;
        if seen > C::MAX_EVENTS {
            return Err(Failure::Protocol {
                order_id,
                problem: format!(
                    "more than {} events; admission assumes at most that many",
                    C::MAX_EVENTS
                ),
            });
        }
        if let Some(outcome) = envelope.outcome() {
            self.in_flight.remove(&order_id);
            order_id.release();
            // The order will publish nothing more: give back what it did not use.
            self.credit.finish(seen);
            let finished = Finished {
                order_id,
                outcome,
                arrived_us,
                finished_us: envelope.at_us,
            };
            self.summary.record_finished(&finished);
            if !self.halted {
                sink.finished(&finished);
            }
        }
        written.map_err(Failure::Output)?;
        self.invariants.observe(envelope, kinds).inspect_err(|_| {
            // What is observed after it is not written out: the journal ends with it.
            self.halted = true;
        })
    }

    /// The orders in flight, in id order, and how many are known not to have been admitted:
    /// the one waiting, and those left in an input that knows its length. (The rest of a
    /// stream is left unread: the caller counts it without parsing it.)
    fn unfinished(&mut self) -> (Vec<InstanceId>, u64) {
        let mut unfinished: Vec<InstanceId> = self.in_flight.keys().copied().collect();
        unfinished.sort_unstable();
        (unfinished, self.read - self.admitted + self.remaining())
    }

    /// Orders left in the input, if it knows exactly.
    fn remaining(&self) -> u64 {
        match self.orders.size_hint() {
            (low, Some(high)) if low == high && !self.exhausted => low as u64,
            _ => 0,
        }
    }

    /// Observes the events still queued for the observer, after the services stopped.
    fn drain(&mut self, sink: &mut dyn EventSink<C>) {
        while let Ok(Some(envelope)) = self.observer.try_recv() {
            // Bookkeeping only now: the failure that ended the run is already reported.
            let _ = self.observe(&envelope, sink);
        }
    }

    /// The time limit's timer fired: the limit, or, when less simulated time has passed than
    /// the limit, the end of Tokio's clock, which a timer set beyond it fires at instead.
    fn deadline_passed(&mut self, limit: Duration) -> Failure {
        let elapsed = self.bus.started().elapsed();
        if elapsed < limit {
            return Failure::Horizon { reached: elapsed };
        }
        self.time_limit(limit)
    }

    fn time_limit(&mut self, limit: Duration) -> Failure {
        let (unfinished, not_admitted) = self.unfinished();
        let stall = self.stall(&unfinished);
        Failure::TimeLimit {
            limit,
            unfinished,
            not_admitted,
            stall,
        }
    }

    /// What the first few of `unfinished` wait for: their last event, and which of the
    /// services that react to it have not read it.
    fn stall(&mut self, unfinished: &[InstanceId]) -> Stall {
        self.observer.report();
        let config = self.config;
        let declared =
            choreography::declarations::<C>(&config.choreography, config.simulation.seed)
                .unwrap_or_default();
        let read: Vec<(&'static str, u64)> = declared
            .iter()
            .map(|service| {
                let name = service.name.name();
                (name, self.bus.consumed_by(name).unwrap_or(0))
            })
            .collect();
        let orders = unfinished
            .iter()
            .take(SHOWN)
            .filter_map(|order_id| {
                let (kind, seq) = match self.in_flight.get(order_id)?.last {
                    Some(last) => last,
                    None => {
                        return Some(Waiting {
                            order_id: *order_id,
                            last: None,
                            reacting: Vec::new(),
                            unread_by: Vec::new(),
                        })
                    }
                };
                let reacting: Vec<(&'static str, u64)> = declared
                    .iter()
                    .zip(&read)
                    .filter(|(service, _)| service.subscribes.contains(kind))
                    .map(|(_, read)| *read)
                    .collect();
                let id = EventId {
                    order_id: *order_id,
                    kind,
                };
                Some(Waiting {
                    order_id: *order_id,
                    last: Some((id.to_string(), seq)),
                    // Read means consumed past its sequence number.
                    unread_by: reacting
                        .iter()
                        .filter(|(_, read)| *read <= seq)
                        .map(|(name, _)| *name)
                        .collect(),
                    reacting: reacting.iter().map(|(name, _)| *name).collect(),
                })
            })
            .collect();
        Stall {
            orders,
            read,
            published: self.bus.published(),
        }
    }

    fn restart_limit(
        &mut self,
        service: C::Service,
        max_restarts: u32,
        window: Duration,
    ) -> Failure {
        let (unfinished, not_admitted) = self.unfinished();
        Failure::RestartLimit {
            service: service.name(),
            max_restarts,
            window,
            unfinished,
            not_admitted,
        }
    }

    fn summary(&self) -> Summary<C> {
        let orders = self.read + self.remaining();
        Summary {
            orders,
            unfinished: orders - self.summary.finished(),
            orders_per_second: self.summary.throughput(),
            ..self.summary.clone()
        }
    }
}
