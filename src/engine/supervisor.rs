//! Task supervision: spawn each service's task, restart it after a simulated crash within a
//! restart intensity, tell every task to stop and collect each one's result.
//!
//! A service's [`Worker`] lives in a slot that outlives its task (see
//! [`worker`]), so a restart resumes from the service's state as of its
//! last completed event, on the same subscription: nothing published meanwhile is missed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::engine::bus::Bus;
use crate::engine::choreography::Service;
use crate::engine::choreography::{self, Choreography, Name, SpawnError};
use crate::engine::config::Config;
use crate::engine::failure::Failure;
use crate::engine::service::ServiceError;
use crate::engine::worker::{self, Fired, Simulated, Slot, Worker};
use crate::sim::SimulationConfig;

/// Starts a service's task again on the worker it left behind.
type Respawn = Box<dyn Fn(&mut JoinSet<Result<(), ServiceError>>, Duration) -> Id + Send>;

/// The running service tasks, by task id so a panic can be named, and how to restart each.
pub(crate) struct Services<C: Choreography> {
    pub(crate) tasks: JoinSet<Result<(), ServiceError>>,
    pub(crate) names: HashMap<Id, C::Service>,
    respawn: HashMap<C::Service, Respawn>,
    /// When each service was restarted, within the restart window.
    recent_restarts: HashMap<C::Service, VecDeque<Instant>>,
    /// Restarts over the whole run, per service.
    pub(crate) restarted: BTreeMap<C::Service, u64>,
    /// The faults that fired, per service.
    pub(crate) fired: BTreeMap<C::Service, Arc<Fired>>,
    dedup_window: usize,
    sim: SimulationConfig<C::Service>,
    bus: Arc<Bus<C>>,
    cancel: CancellationToken,
}

/// How a service task ended.
pub(crate) enum Ended {
    /// It returned `Ok`: it was told to stop.
    Stopped,
    /// A simulated crash: the service is to be restarted.
    Crashed,
    Failed(Failure),
}

impl<C: Choreography> Services<C> {
    /// Spawns every service of the choreography on `bus`, each told to stop by `cancel`.
    pub(crate) fn start(
        config: &Config<C>,
        bus: &Arc<Bus<C>>,
        cancel: &CancellationToken,
    ) -> (Self, Result<(), SpawnError>) {
        let mut services = Services::new(config, bus, cancel);
        let names = choreography::check_names::<C::Kind>("kinds")
            .and_then(|()| choreography::check_names::<C::Service>("services"));
        if let Err(err) = names {
            return (services, Err(err));
        }
        let started = C::services(&config.choreography, config.simulation.seed, &mut services)
            .and_then(|()| {
                match C::Service::ALL
                    .iter()
                    .find(|s| !services.respawn.contains_key(*s))
                {
                    Some(missing) => Err(SpawnError::Missing(missing.name())),
                    None => Ok(()),
                }
            });
        (services, started)
    }

    fn new(config: &Config<C>, bus: &Arc<Bus<C>>, cancel: &CancellationToken) -> Self {
        Services {
            bus: Arc::clone(bus),
            cancel: cancel.clone(),
            tasks: JoinSet::new(),
            names: HashMap::new(),
            respawn: HashMap::new(),
            recent_restarts: HashMap::new(),
            restarted: BTreeMap::new(),
            fired: BTreeMap::new(),
            dedup_window: config.services.dedup_window,
            sim: config.simulation.clone(),
        }
    }

    fn spawn<S: Service<C>>(&mut self, service: S) -> Result<(), SpawnError> {
        if self.respawn.contains_key(&S::NAME) {
            return Err(SpawnError::Twice(S::NAME.name()));
        }
        let events = self
            .bus
            .subscribe(S::NAME.name())
            .map_err(|err| SpawnError::Subscribe {
                service: S::NAME.name(),
                reason: err.to_string(),
            })?;
        let simulated = Simulated {
            latency: *self.sim.latency.get(S::NAME),
            faults: self.sim.faults.of(S::NAME).clone(),
            seed: self.sim.seed,
            poison_crashes: self.sim.faults.general.poison_crashes,
            fired: Arc::clone(self.fired.entry(S::NAME).or_default()),
        };
        let worker = Worker::new(service, events, self.dedup_window, simulated);
        let slot: Slot<C, S> = Arc::new(Mutex::new(Some(worker)));
        let (bus, cancel) = (Arc::clone(&self.bus), self.cancel.clone());
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
        tracing::debug!(service = %S::NAME, subscribes = S::SUBSCRIBES.len(), "service started");
        self.names.insert(id, S::NAME);
        self.respawn.insert(S::NAME, Box::new(respawn));
        Ok(())
    }

    /// Restarts a crashed service, unless it crashed too often lately (OTP's restart
    /// intensity: at most `max_restarts` within `restart_window`).
    pub(crate) fn restart(&mut self, service: C::Service) -> Result<(), (u32, Duration)> {
        let general = &self.sim.faults.general;
        let (max, window) = (general.max_restarts, general.restart_window);
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
            let id = respawn(&mut self.tasks, self.sim.faults.general.restart_delay);
            self.names.insert(id, service);
        }
        Ok(())
    }

    /// Waits up to `timeout` for every service to stop (they have been told to), then aborts
    /// the rest and reports them as stuck. A crash now needs no restart: the work is done.
    pub(crate) async fn stop(&mut self, timeout: Duration) -> Vec<Failure> {
        tracing::debug!(
            services = self.tasks.len(),
            ?timeout,
            "stopping the services"
        );
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
                        service: names[&err.id()].name(),
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
        tracing::debug!(failed = failures.len(), "every service stopped");
        failures
    }
}

/// Which service a finished task ran, and how it ended.
pub(crate) fn judge<S: Name>(
    names: &HashMap<Id, S>,
    joined: Result<(Id, Result<(), ServiceError>), JoinError>,
) -> (S, Ended) {
    match joined {
        Ok((id, Ok(()))) => (names[&id], Ended::Stopped),
        Ok((id, Err(ServiceError::Crashed { .. }))) => (names[&id], Ended::Crashed),
        Ok((id, Err(error))) => {
            let service = names[&id];
            (
                service,
                Ended::Failed(Failure::ServiceFailed {
                    service: service.name(),
                    error,
                }),
            )
        }
        Err(err) => {
            let service = names[&err.id()];
            if !err.is_panic() {
                return (
                    service,
                    Ended::Failed(Failure::ServiceEnded {
                        service: service.name(),
                    }),
                );
            }
            let payload = err.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".into());
            (
                service,
                Ended::Failed(Failure::ServicePanicked {
                    service: service.name(),
                    message,
                }),
            )
        }
    }
}

impl<C: Choreography> choreography::Services<C> for Services<C> {
    fn add<S: Service<C>>(&mut self, service: S) -> Result<(), SpawnError> {
        self.spawn(service)
    }
}
