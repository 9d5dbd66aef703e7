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

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;
use tokio::task::{Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bus::{Bus, BusError, Subscription};
use crate::config::Config;
use crate::event::{Envelope, ServiceName};
use crate::order::{CustomerId, Order, OrderId};
use crate::output::EventSink;
use crate::service::{
    self, InventoryService, OrderService, PaymentService, Service, ServiceError, ShippingService,
};
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
/// failure.
pub async fn run(
    config: &Config,
    orders: impl IntoIterator<Item = Order>,
    sink: &mut (dyn EventSink + Send),
) -> Result<Summary, RunFailed> {
    let bus = Arc::new(Bus::new(config.bus.capacity));
    let cancel = CancellationToken::new();
    let mut failures = Vec::new();

    // Every subscription exists before the first order goes in: a receiver only sees events
    // published after it subscribed.
    let mut services = Services {
        tasks: JoinSet::new(),
        names: HashMap::new(),
        dedup_window: config.services.dedup_window,
    };
    let started = services
        .spawn(OrderService, &bus, &cancel)
        .and_then(|()| services.spawn(InventoryService::new(&config.products), &bus, &cancel))
        .and_then(|()| {
            let payment = PaymentService::new(&config.products, &config.customers);
            services.spawn(payment, &bus, &cancel)
        })
        .and_then(|()| {
            let shipping = ShippingService::new(config.shipping.max_quantity_per_shipment);
            services.spawn(shipping, &bus, &cancel)
        })
        .and_then(|()| bus.subscribe("supervisor"));
    let mut summary = Summary::new(config);
    match started {
        Ok(observer) => {
            let mut admission = Admission::new(&bus, orders.into_iter(), observer, config);
            let outcome = admission.drive(config, &mut services, sink).await;
            summary = admission.summary();
            failures.extend(outcome);
        }
        Err(err) => failures.push(err.into()),
    }

    cancel.cancel();
    failures.extend(services.stop(config.run.shutdown_timeout).await);
    if let Err(err) = sink.finish() {
        failures.push(Failure::Output(err));
    }
    summary.lost_events = bus.lost_events();
    summary.events = bus.published();
    if failures.is_empty() {
        Ok(summary)
    } else {
        Err(RunFailed { summary, failures })
    }
}

/// The running service tasks, by task id, so a panic can be named.
struct Services {
    tasks: JoinSet<Result<(), ServiceError>>,
    names: HashMap<Id, ServiceName>,
    dedup_window: usize,
}

impl Services {
    fn spawn<S: Service>(
        &mut self,
        service: S,
        bus: &Arc<Bus>,
        cancel: &CancellationToken,
    ) -> Result<(), BusError> {
        let events = bus.subscribe(S::NAME.as_str())?;
        let task = service::run(
            service,
            events,
            Arc::clone(bus),
            cancel.clone(),
            self.dedup_window,
        )
        .instrument(tracing::info_span!("service", service = %S::NAME));
        let handle = self.tasks.spawn(task);
        self.names.insert(handle.id(), S::NAME);
        Ok(())
    }

    /// Waits up to `timeout` for every service to stop (they have been told to), then aborts
    /// the rest and reports them as stuck.
    async fn stop(&mut self, timeout: Duration) -> Vec<Failure> {
        let mut failures = Vec::new();
        let (tasks, names) = (&mut self.tasks, &self.names);
        let joined_all = tokio::time::timeout(timeout, async {
            while let Some(joined) = tasks.join_next_with_id().await {
                failures.extend(judge(names, joined).1.err());
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
                    joined => failures.extend(judge(names, joined).1.err()),
                }
            }
        }
        failures
    }
}

/// Which service a finished task ran, and whether it finished cleanly.
fn judge(
    names: &HashMap<Id, ServiceName>,
    joined: Result<(Id, Result<(), ServiceError>), JoinError>,
) -> (ServiceName, Result<(), Failure>) {
    match joined {
        Ok((id, Ok(()))) => (names[&id], Ok(())),
        Ok((id, Err(error))) => {
            let service = names[&id];
            (service, Err(Failure::ServiceFailed { service, error }))
        }
        Err(err) => {
            let service = names[&err.id()];
            if !err.is_panic() {
                return (service, Err(Failure::ServiceEnded { service }));
            }
            let payload = err.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".into());
            (service, Err(Failure::ServicePanicked { service, message }))
        }
    }
}

/// The injector and observer: admits orders within the bus's room, watches them finish.
struct Admission<'b, I> {
    bus: &'b Arc<Bus>,
    orders: I,
    observer: Subscription,
    /// Events of finished orders plus [`MAX_EVENTS_PER_ORDER`] per order in flight.
    reserved: u64,
    /// Events seen so far of each order in flight; an order leaves at its terminal event, so
    /// this holds only what is in flight.
    in_flight: FxHashMap<OrderId, u64>,
    default_customer: CustomerId,
    /// `bus.admission`; off only for experiments with lag.
    admission: bool,
    summary: Summary,
    admitted: u64,
    not_admitted: u64,
    input_done: bool,
}

impl<'b, I: Iterator<Item = Order>> Admission<'b, I> {
    fn new(bus: &'b Arc<Bus>, orders: I, observer: Subscription, config: &Config) -> Self {
        Admission {
            bus,
            orders,
            observer,
            reserved: 0,
            in_flight: FxHashMap::default(),
            default_customer: config.payment.default_customer,
            admission: config.bus.admission,
            summary: Summary::new(config),
            admitted: 0,
            not_admitted: 0,
            input_done: false,
        }
    }

    fn has_room(&self) -> bool {
        if !self.admission {
            return true;
        }
        let capacity = self.bus.capacity().get() as u64;
        self.reserved + MAX_EVENTS_PER_ORDER <= self.bus.slowest_consumed() + capacity
    }

    /// Admits orders while there is room. Returns a failure if publishing failed.
    fn admit(&mut self) -> Result<(), Failure> {
        while !self.input_done && self.has_room() {
            let Some(order) = self.orders.next() else {
                self.input_done = true;
                break;
            };
            if self.in_flight.insert(order.order_id, 0).is_some() {
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
    ) -> Option<Failure> {
        let deadline = tokio::time::sleep(config.run.time_limit);
        tokio::pin!(deadline);
        loop {
            if let Err(failure) = self.admit() {
                return Some(failure);
            }
            if self.input_done && self.in_flight.is_empty() {
                return None;
            }
            // Take the events that are ready without waiting: far cheaper than a `select!` per
            // event. Only when none is ready does the loop wait below.
            let mut taken = 0;
            while taken < service::BATCH {
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
                if tokio::time::Instant::now() >= deadline.deadline() {
                    return Some(self.time_limit(config.run.time_limit));
                }
                if taken == service::BATCH {
                    tokio::task::yield_now().await;
                }
                continue;
            }
            // Out of room with orders waiting: ask subscribers to say when they consume, then
            // look once more before sleeping (see `Bus::set_waiting_for_room`).
            let blocked = !self.input_done;
            if blocked {
                self.bus.set_waiting_for_room(true);
                if self.has_room() {
                    self.bus.set_waiting_for_room(false);
                    continue;
                }
            }
            let step = tokio::select! {
                biased;
                () = &mut deadline => Err(self.time_limit(config.run.time_limit)),
                Some(joined) = services.tasks.join_next_with_id() => {
                    // Services only stop when told to: any end now is a failure.
                    let (service, result) = judge(&services.names, joined);
                    Err(result.err().unwrap_or(Failure::ServiceEnded { service }))
                }
                received = self.observer.recv() => match received {
                    Ok(envelope) => self.observe(&envelope, sink),
                    Err(err) => Err(err.into()),
                },
                () = self.bus.room_freed(), if blocked => Ok(()),
            };
            self.bus.set_waiting_for_room(false);
            if let Err(failure) = step {
                return Some(failure);
            }
        }
    }

    /// Handles one event in bus order: output, then bookkeeping.
    fn observe(&mut self, envelope: &Envelope, sink: &mut dyn EventSink) -> Result<(), Failure> {
        sink.event(envelope).map_err(Failure::Output)?;
        self.summary.record(envelope);
        let order_id = envelope.order_id;
        let Some(seen) = self.in_flight.get_mut(&order_id) else {
            return Err(Failure::Protocol {
                order_id,
                problem: format!("{} arrived for an order not in flight", envelope.kind()),
            });
        };
        *seen += 1;
        let seen = *seen;
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
        }
        Ok(())
    }

    fn time_limit(&mut self, limit: Duration) -> Failure {
        let mut unfinished: Vec<OrderId> = self.in_flight.keys().copied().collect();
        unfinished.sort_unstable();
        self.not_admitted = self.orders.by_ref().count() as u64;
        Failure::TimeLimit {
            limit,
            unfinished,
            not_admitted: self.not_admitted,
        }
    }

    fn summary(&self) -> Summary {
        let orders = self.admitted + self.not_admitted;
        Summary {
            orders,
            unfinished: orders - self.summary.finished(),
            ..self.summary.clone()
        }
    }
}
