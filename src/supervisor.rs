//! The supervisor: spawns the services, admits orders, watches every order to its terminal
//! event, then tells every service to stop and collects each one's result.
//!
//! It is also the bus's observer: it holds its own subscription, so it sees every event in
//! sequence order, feeds it to the output, and knows when each order is finished.
//!
//! # Admission (why nothing is lost)
//! A broadcast sender never waits, so the bus stays lossless only if no subscriber ever falls
//! `capacity` events behind. An order can cause at most [`MAX_EVENTS_PER_ORDER`] events. The
//! supervisor keeps `reserved`: the events of finished orders plus the maximum for each order
//! in flight, an upper bound on everything that will ever be published. It admits the next
//! order only while `reserved + MAX_EVENTS_PER_ORDER <= slowest_consumed + capacity`. Since
//! the slowest cursor only grows, no subscriber can be more than `capacity` behind.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_distr::{Distribution, Exp};
use tokio::time::Instant;

use rustc_hash::FxHashMap;
use tokio::task::{Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bus::{Bus, BusError, Subscription};
use crate::config::Config;
use crate::event::{Envelope, ServiceName};
use crate::order::{CustomerId, Order, OrderId};
use crate::output::EventSink;
use crate::service::worker::{self, Simulated, Slot, BATCH};
use crate::service::{
    InjectedCrash, InventoryService, OrderService, PaymentService, Service, ServiceError,
    ShippingService, Worker,
};
use crate::simulation::{self, ArrivalProcess, SimulationConfig};
use crate::summary::Summary;

/// The most events one order can cause: the longest path through the flow, a shipment that
/// fails after payment: OrderCreated, InventoryChecked, PaymentProcessed, ShippingFailed,
/// PaymentRefunded, InventoryReleased, OrderCancelled.
pub const MAX_EVENTS_PER_ORDER: u64 = 7;

/// A run that did not bring every order to its terminal event, with everything that went wrong.
#[derive(Debug, thiserror::Error)]
pub struct RunFailed {
    pub summary: Summary,
    pub failures: Vec<Failure>,
}

impl RunFailed {
    /// Whether the run ended because it was interrupted, and for no other reason.
    pub fn interrupted(&self) -> bool {
        matches!(self.failures.as_slice(), [Failure::Interrupted { .. }])
    }
}

impl fmt::Display for RunFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("run failed: ")?;
        for (i, failure) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("time limit of {} reached; {}", humantime::format_duration(*limit), Unfinished(unfinished, *not_admitted))]
    TimeLimit {
        limit: Duration,
        /// Admitted orders that had not finished, in id order.
        unfinished: Vec<OrderId>,
        /// Orders never admitted.
        not_admitted: u64,
    },
    #[error("{service} failed: {error}")]
    ServiceFailed {
        service: ServiceName,
        error: ServiceError,
    },
    #[error("{service} crashed more than {max_restarts} times within {}; {}", humantime::format_duration(*window), Unfinished(unfinished, *not_admitted))]
    RestartLimit {
        service: ServiceName,
        max_restarts: u32,
        window: Duration,
        unfinished: Vec<OrderId>,
        not_admitted: u64,
    },
    #[error("{service} panicked: {message}")]
    ServicePanicked {
        service: ServiceName,
        message: String,
    },
    #[error("{service} stopped before it was told to")]
    ServiceEnded { service: ServiceName },
    #[error("{service} did not stop within {}", humantime::format_duration(*timeout))]
    ServiceStuck {
        service: ServiceName,
        timeout: Duration,
    },
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("order {order_id}: {problem}")]
    Protocol { order_id: OrderId, problem: String },
    #[error("interrupted; {not_admitted} orders read were not admitted (the summary counts any not read)")]
    Interrupted { not_admitted: u64 },
    #[error("cannot write output: {0}")]
    Output(io::Error),
}

/// Lists unfinished orders, the first few by id.
struct Unfinished<'a>(&'a [OrderId], u64);

impl fmt::Display for Unfinished<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 10;
        let Unfinished(ids, not_admitted) = *self;
        write!(f, "{} unfinished orders", ids.len() as u64 + not_admitted)?;
        if !ids.is_empty() {
            f.write_str(": ")?;
            for (i, id) in ids.iter().take(SHOWN).enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{id}")?;
            }
            if ids.len() > SHOWN {
                write!(f, " and {} more in flight", ids.len() - SHOWN)?;
            }
        }
        if not_admitted > 0 {
            write!(f, " ({not_admitted} never admitted)")?;
        }
        Ok(())
    }
}

/// Runs every order through the choreography and reports how it went.
///
/// Events go to `sink` in bus order. Returns the summary when every order reached its terminal
/// event and every service stopped cleanly; otherwise [`RunFailed`] with the summary and each
/// failure. Time is Tokio's: run it on a paused clock for a simulation.
pub async fn run(
    config: &Config,
    orders: impl IntoIterator<Item = Order>,
    sink: &mut (dyn EventSink + Send),
) -> Result<Summary, RunFailed> {
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
pub async fn run_until(
    config: &Config,
    orders: impl IntoIterator<Item = Order>,
    sink: &mut (dyn EventSink + Send),
    interrupt: &Interrupt,
) -> Result<Summary, RunFailed> {
    let bus = Arc::new(Bus::new(config.bus.capacity));
    let cancel = CancellationToken::new();
    let mut failures = Vec::new();
    let sim = &config.simulation;
    if ServiceName::ALL
        .iter()
        .any(|s| !sim.faults.of(*s).crash.is_zero() || !sim.faults.of(*s).poison.is_zero())
    {
        worker::quiet_injected_crashes();
    }

    // Every subscription exists before the first order goes in: a receiver only sees events
    // published after it subscribed.
    let mut services = Services::new(config);
    let started = services
        .spawn(OrderService, &bus, &cancel)
        .and_then(|()| services.spawn(InventoryService::new(&config.products), &bus, &cancel))
        .and_then(|()| {
            let rng = simulation::stream(sim.seed, "PaymentService/gateway");
            let gateway = sim.faults.gateway.clone();
            let payment = PaymentService::new(&config.products, &config.customers, gateway, rng);
            services.spawn(payment, &bus, &cancel)
        })
        .and_then(|()| {
            let shipping = ShippingService::new(config.shipping.max_quantity_per_shipment);
            services.spawn(shipping, &bus, &cancel)
        })
        .and_then(|()| bus.subscribe("supervisor"));
    let mut admission = match started {
        Ok(observer) => {
            let mut admission = Admission::new(&bus, orders.into_iter(), observer, config);
            failures.extend(
                admission
                    .drive(config, &mut services, sink, interrupt)
                    .await,
            );
            Some(admission)
        }
        Err(err) => {
            failures.push(err.into());
            None
        }
    };

    cancel.cancel();
    failures.extend(services.stop(config.run.shutdown_timeout).await);
    // A run that stopped early still reports every event that was published before the
    // services stopped.
    let mut summary = match &mut admission {
        Some(admission) => {
            admission.drain(sink);
            admission.summary()
        }
        None => Summary::new(config),
    };
    if let Err(err) = sink.finish() {
        failures.push(Failure::Output(err));
    }
    summary.lost_events = bus.lost_events();
    summary.events = bus.published();
    summary.restarts = services.restarted;
    if failures.is_empty() {
        Ok(summary)
    } else {
        Err(RunFailed { summary, failures })
    }
}

/// Starts a service's task again on the worker it left behind.
type Respawn = Box<dyn Fn(&mut JoinSet<Result<(), ServiceError>>, Duration) -> Id + Send>;

/// The running service tasks, by task id so a panic can be named, and how to restart each.
struct Services {
    tasks: JoinSet<Result<(), ServiceError>>,
    names: HashMap<Id, ServiceName>,
    respawn: HashMap<ServiceName, Respawn>,
    /// When each service was restarted, within the restart window.
    recent_restarts: HashMap<ServiceName, VecDeque<Instant>>,
    /// Restarts over the whole run, per service.
    restarted: BTreeMap<ServiceName, u64>,
    dedup_window: usize,
    sim: SimulationConfig,
}

/// How a service task ended.
enum Ended {
    /// It returned `Ok`: it was told to stop.
    Stopped,
    /// A simulated crash: the service is to be restarted.
    Crashed,
    Failed(Failure),
}

impl Services {
    fn new(config: &Config) -> Self {
        Services {
            tasks: JoinSet::new(),
            names: HashMap::new(),
            respawn: HashMap::new(),
            recent_restarts: HashMap::new(),
            restarted: BTreeMap::new(),
            dedup_window: config.services.dedup_window,
            sim: config.simulation.clone(),
        }
    }

    fn spawn<S: Service>(
        &mut self,
        service: S,
        bus: &Arc<Bus>,
        cancel: &CancellationToken,
    ) -> Result<(), BusError> {
        let events = bus.subscribe(S::NAME.as_str())?;
        let simulated = Simulated {
            latency: *self.sim.latency.get(S::NAME),
            faults: self.sim.faults.of(S::NAME).clone(),
            seed: self.sim.seed,
            poison_crashes: self.sim.faults.poison_crashes,
        };
        let worker = Worker::new(service, events, self.dedup_window, simulated);
        let slot: Slot<S> = Arc::new(Mutex::new(Some(worker)));
        let (bus, cancel) = (Arc::clone(bus), cancel.clone());
        // Starts the task after `delay`: a restarted service takes time to come back.
        let respawn = move |tasks: &mut JoinSet<Result<(), ServiceError>>, delay: Duration| {
            let (slot, bus, cancel) = (Arc::clone(&slot), Arc::clone(&bus), cancel.clone());
            let task = async move {
                if !delay.is_zero() {
                    tokio::select! {
                        biased;
                        () = cancel.cancelled() => return Ok(()),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                worker::run(slot, bus, cancel).await
            };
            tasks
                .spawn(task.instrument(tracing::info_span!("service", service = %S::NAME)))
                .id()
        };
        let id = respawn(&mut self.tasks, Duration::ZERO);
        self.names.insert(id, S::NAME);
        self.respawn.insert(S::NAME, Box::new(respawn));
        Ok(())
    }

    /// Restarts a crashed service, unless it crashed too often lately (OTP's restart
    /// intensity: at most `max_restarts` within `restart_window`).
    fn restart(&mut self, service: ServiceName) -> Result<(), (u32, Duration)> {
        let (max, window) = (self.sim.faults.max_restarts, self.sim.faults.restart_window);
        let now = Instant::now();
        let recent = self.recent_restarts.entry(service).or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            recent.pop_front();
        }
        if recent.len() >= max as usize {
            return Err((max, window));
        }
        recent.push_back(now);
        *self.restarted.entry(service).or_default() += 1;
        tracing::debug!(%service, "restarting after a crash");
        if let Some(respawn) = self.respawn.get(&service) {
            let id = respawn(&mut self.tasks, self.sim.faults.restart_delay);
            self.names.insert(id, service);
        }
        Ok(())
    }

    /// Waits up to `timeout` for every service to stop (they have been told to), then aborts
    /// the rest and reports them as stuck. A crash now needs no restart: the work is done.
    async fn stop(&mut self, timeout: Duration) -> Vec<Failure> {
        let mut failures = Vec::new();
        let (tasks, names) = (&mut self.tasks, &self.names);
        let joined_all = tokio::time::timeout(timeout, async {
            while let Some(joined) = tasks.join_next_with_id().await {
                if let (_, Ended::Failed(failure)) = judge(names, joined) {
                    failures.push(failure);
                }
            }
        })
        .await;
        if joined_all.is_err() {
            tasks.abort_all();
            while let Some(joined) = tasks.join_next_with_id().await {
                match joined {
                    Err(err) if err.is_cancelled() => failures.push(Failure::ServiceStuck {
                        service: names[&err.id()],
                        timeout,
                    }),
                    joined => {
                        if let (_, Ended::Failed(failure)) = judge(names, joined) {
                            failures.push(failure);
                        }
                    }
                }
            }
        }
        failures
    }
}

/// Which service a finished task ran, and how it ended.
fn judge(
    names: &HashMap<Id, ServiceName>,
    joined: Result<(Id, Result<(), ServiceError>), JoinError>,
) -> (ServiceName, Ended) {
    match joined {
        Ok((id, Ok(()))) => (names[&id], Ended::Stopped),
        Ok((id, Err(error))) => {
            let service = names[&id];
            (
                service,
                Ended::Failed(Failure::ServiceFailed { service, error }),
            )
        }
        Err(err) => {
            let service = names[&err.id()];
            if !err.is_panic() {
                return (service, Ended::Failed(Failure::ServiceEnded { service }));
            }
            let payload = err.into_panic();
            if payload.is::<InjectedCrash>() {
                return (service, Ended::Crashed);
            }
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".into());
            (
                service,
                Ended::Failed(Failure::ServicePanicked { service, message }),
            )
        }
    }
}

/// An order admitted and not yet finished.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    /// Its events seen so far.
    seen: u64,
    /// When it arrived, in microseconds since the run started.
    arrived_us: u64,
}

/// The injector and observer: admits orders as they arrive and as the bus has room, watches
/// them finish.
struct Admission<'b, I> {
    bus: &'b Arc<Bus>,
    orders: I,
    /// The next order and when it arrives, read but not yet admitted.
    next: Option<(Order, Instant)>,
    arrivals: Arrivals,
    observer: Subscription,
    /// Events of finished orders plus [`MAX_EVENTS_PER_ORDER`] per order in flight.
    reserved: u64,
    /// Each order in flight; an order leaves at its terminal event, so this holds only what
    /// is in flight.
    in_flight: FxHashMap<OrderId, InFlight>,
    default_customer: CustomerId,
    /// `bus.admission`; off only for experiments with lag.
    admission: bool,
    summary: Summary,
    /// Orders read from the input (admitted, or waiting to be).
    read: u64,
    /// Interrupted: no more orders are admitted.
    interrupted: bool,
    /// The input has no more orders.
    exhausted: bool,
    admitted: u64,
    input_done: bool,
}

/// When orders without an `at_ms` arrive.
struct Arrivals {
    process: ArrivalProcess,
    per_second: f64,
    rng: simulation::Rng,
    /// The last arrival the process gave, since the run started.
    last: Duration,
}

impl Arrivals {
    fn next(&mut self, index: u64) -> Duration {
        let gap = |per_second: f64| {
            if per_second > 0.0 {
                1.0 / per_second
            } else {
                0.0
            }
        };
        self.last = match self.process {
            ArrivalProcess::AllAtOnce => Duration::ZERO,
            ArrivalProcess::FixedRate => {
                Duration::from_secs_f64(index as f64 * gap(self.per_second))
            }
            ArrivalProcess::Poisson => {
                let mean = gap(self.per_second);
                let draw = if mean > 0.0 {
                    Exp::new(1.0 / mean).map_or(0.0, |d| d.sample(&mut self.rng))
                } else {
                    0.0
                };
                self.last + Duration::from_secs_f64(draw)
            }
        };
        self.last
    }
}

impl<'b, I: Iterator<Item = Order>> Admission<'b, I> {
    fn new(bus: &'b Arc<Bus>, orders: I, observer: Subscription, config: &Config) -> Self {
        let arrivals = &config.simulation.arrivals;
        Admission {
            bus,
            orders,
            next: None,
            arrivals: Arrivals {
                process: arrivals.process,
                per_second: arrivals.per_second,
                rng: simulation::stream(config.simulation.seed, "arrivals"),
                last: Duration::ZERO,
            },
            observer,
            reserved: 0,
            in_flight: FxHashMap::default(),
            default_customer: config.payment.default_customer,
            admission: config.bus.admission,
            summary: Summary::new(config),
            read: 0,
            interrupted: false,
            exhausted: false,
            admitted: 0,
            input_done: false,
        }
    }

    fn has_room(&self) -> bool {
        self.room() > 0
    }

    /// How many more orders fit on the bus now.
    fn room(&self) -> u64 {
        if !self.admission {
            return u64::MAX;
        }
        let capacity = self.bus.capacity().get() as u64;
        let free = (self.bus.slowest_consumed() + capacity).saturating_sub(self.reserved);
        free / MAX_EVENTS_PER_ORDER
    }

    /// The next order and its arrival time, reading one if none is waiting.
    fn peek(&mut self) -> Option<(Order, Instant)> {
        if self.interrupted {
            return None;
        }
        if self.next.is_none() && !self.input_done {
            match self.orders.next() {
                Some(order) => {
                    self.read += 1;
                    let arrives = match order.at_ms {
                        Some(at_ms) => Duration::from_millis(at_ms),
                        None => self
                            .arrivals
                            .next(self.admitted + u64::from(self.next.is_some())),
                    };
                    self.next = Some((order, self.bus.started() + arrives));
                }
                None => {
                    self.input_done = true;
                    self.exhausted = true;
                }
            }
        }
        self.next
    }

    /// Admits orders that have arrived while there is room. Returns when the next order has
    /// not arrived yet, there is no room, or the input is done.
    fn admit(&mut self) -> Result<(), Failure> {
        let now = Instant::now();
        // The room is measured once, when the first order is ready: it only grows while this
        // loop runs. (The next order is always read, so the caller knows what waits.)
        let mut room = None;
        while let Some((order, arrives)) = self.peek() {
            if arrives > now {
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
                arrived_us,
            };
            if self.in_flight.insert(order.order_id, record).is_some() {
                return Err(Failure::Protocol {
                    order_id: order.order_id,
                    problem: "admitted twice while in flight".into(),
                });
            }
            self.reserved += MAX_EVENTS_PER_ORDER;
            self.admitted += 1;
            let created = OrderService::create_order(&order, self.default_customer);
            self.bus
                .publish(order.order_id, ServiceName::OrderService, None, created)?;
        }
        Ok(())
    }

    /// Runs until every order is finished, the time limit passes, or something fails.
    async fn drive(
        &mut self,
        config: &Config,
        services: &mut Services,
        sink: &mut (dyn EventSink + Send),
        interrupt: &Interrupt,
    ) -> Option<Failure> {
        let deadline = tokio::time::sleep(config.run.time_limit);
        tokio::pin!(deadline);
        loop {
            if interrupt.everything.is_cancelled() {
                let (_, not_admitted) = self.unfinished();
                return Some(Failure::Interrupted { not_admitted });
            }
            if interrupt.admitting.is_cancelled() && !self.interrupted {
                // Stop admitting; what is in flight goes on to its end. The order waiting to
                // go in stays out (it counts as read, not admitted).
                self.interrupted = true;
                self.input_done = true;
                self.next = None;
            }
            if let Err(failure) = self.admit() {
                return Some(failure);
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
                if Instant::now() >= deadline.deadline() {
                    return Some(self.time_limit(config.run.time_limit));
                }
                if taken == BATCH {
                    tokio::task::yield_now().await;
                }
                continue;
            }
            // Waiting for the next order to arrive, or for room on the bus.
            let arrival = self.next.map(|(_, arrives)| arrives);
            let waiting_for_arrival = arrival.is_some_and(|at| at > Instant::now());
            let blocked = arrival.is_some() && !waiting_for_arrival;
            if blocked {
                // Out of room: ask subscribers to say when they consume, then look once more
                // before sleeping (see `Bus::set_waiting_for_room`).
                self.bus.set_waiting_for_room(true);
                if self.has_room() {
                    self.bus.set_waiting_for_room(false);
                    continue;
                }
            }
            let arrives = tokio::time::sleep_until(arrival.unwrap_or_else(Instant::now));
            let step = tokio::select! {
                biased;
                () = &mut deadline => Err(self.time_limit(config.run.time_limit)),
                Some(joined) = services.tasks.join_next_with_id() => {
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
                        (service, Ended::Stopped) => Err(Failure::ServiceEnded { service }),
                        (_, Ended::Failed(failure)) => Err(failure),
                    }
                }
                received = self.observer.recv() => match received {
                    Ok(envelope) => self.observe(&envelope, sink),
                    Err(err) => Err(err.into()),
                },
                () = self.bus.room_freed(), if blocked => Ok(()),
                () = interrupt.admitting.cancelled(), if !self.interrupted => Ok(()),
                () = interrupt.everything.cancelled() => Ok(()),
                () = arrives, if waiting_for_arrival => Ok(()),
            };
            self.bus.set_waiting_for_room(false);
            if let Err(failure) = step {
                return Some(failure);
            }
        }
    }

    /// Handles one event in bus order: output, then bookkeeping.
    fn observe(&mut self, envelope: &Envelope, sink: &mut dyn EventSink) -> Result<(), Failure> {
        self.summary.record(envelope);
        let written = sink.event(envelope);
        let order_id = envelope.order_id;
        let Some(order) = self.in_flight.get_mut(&order_id) else {
            return Err(Failure::Protocol {
                order_id,
                problem: format!("{} arrived for an order not in flight", envelope.kind()),
            });
        };
        order.seen += 1;
        let InFlight { seen, arrived_us } = *order;
        if seen > MAX_EVENTS_PER_ORDER {
            return Err(Failure::Protocol {
                order_id,
                problem: format!(
                    "more than {MAX_EVENTS_PER_ORDER} events; admission assumes at most that many"
                ),
            });
        }
        if envelope.kind().is_terminal() {
            self.in_flight.remove(&order_id);
            // The order will publish nothing more: give back what it did not use.
            self.reserved -= MAX_EVENTS_PER_ORDER - seen;
            self.summary
                .record_latency(envelope, envelope.at_us.saturating_sub(arrived_us));
        }
        written.map_err(Failure::Output)
    }

    /// The orders in flight, in id order, and how many are known not to have been admitted:
    /// the one waiting, and those left in an input that knows its length. (The rest of a
    /// stream is left unread: the caller counts it without parsing it.)
    fn unfinished(&mut self) -> (Vec<OrderId>, u64) {
        let mut unfinished: Vec<OrderId> = self.in_flight.keys().copied().collect();
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
    fn drain(&mut self, sink: &mut dyn EventSink) {
        while let Ok(Some(envelope)) = self.observer.try_recv() {
            // Bookkeeping only now: the failure that ended the run is already reported.
            let _ = self.observe(&envelope, sink);
        }
    }

    fn time_limit(&mut self, limit: Duration) -> Failure {
        let (unfinished, not_admitted) = self.unfinished();
        Failure::TimeLimit {
            limit,
            unfinished,
            not_admitted,
        }
    }

    fn restart_limit(
        &mut self,
        service: ServiceName,
        max_restarts: u32,
        window: Duration,
    ) -> Failure {
        let (unfinished, not_admitted) = self.unfinished();
        Failure::RestartLimit {
            service,
            max_restarts,
            window,
            unfinished,
            not_admitted,
        }
    }

    fn summary(&self) -> Summary {
        let orders = self.read + self.remaining();
        Summary {
            orders,
            unfinished: orders - self.summary.finished(),
            orders_per_second: self.summary.throughput(),
            ..self.summary.clone()
        }
    }
}
