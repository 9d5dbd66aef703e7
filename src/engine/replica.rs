//! Every service of a choreography behind one type: a [`Replica`] is a service with the task
//! loop's per-instance records, delivered events one at a time by the task loop's own step
//! ([`decide`]). For the code that holds services outside the Tokio task loop: `choreo check`
//! (every state of every service) and `choreo serve` (one service over a broker).

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::engine::choreography::{Choreography, Envelope, Name, Outbox, Service};
use crate::engine::choreography::{Services, SpawnError};
use crate::engine::kinds::Kinds;
use crate::engine::service::{decide, Delivery, Inbox};

/// One service with the task loop's record of it (its [`Inbox`]), behind one type for every
/// service of a choreography: what `choreo check` and `choreo serve` hold.
pub trait Replica<C: Choreography>: Send + Sync + fmt::Debug {
    fn name(&self) -> C::Service;
    /// Whether an event of `kind` is delivered to this service at all: it subscribes to it,
    /// or it ends an instance (which every service forgets by).
    fn receives(&self, kind: C::Kind) -> bool;
    fn subscribes(&self, kind: C::Kind) -> bool;
    fn publishes(&self, kind: C::Kind) -> bool;
    /// The most events one decision can publish: each kind at most once per instance.
    fn most_published(&self) -> usize;
    /// Whether the task loop would take `envelope` (it is not a duplicate).
    fn is_new(&self, envelope: &Envelope<C>) -> bool;
    /// Delivers `envelope` as the task loop does ([`decide`]), recording it as handled:
    /// what the service decided is in `out`.
    fn deliver(&mut self, envelope: &Envelope<C>, out: &mut Outbox<C>) -> Delivery;
    /// Whether delivering `envelope` is silent: it publishes nothing and leaves the service
    /// itself unchanged (only the instance's record changes).
    fn is_silent(&self, envelope: &Envelope<C>) -> bool;
    fn cloned(&self) -> Box<dyn Replica<C>>;
    /// A fingerprint of what the service shares between instances (itself, without the
    /// task loop's per-instance records).
    fn own_hash(&self) -> u64;
    fn hash_into(&self, state: &mut dyn Hasher);
}

struct Held<C: Choreography, S: Service<C>> {
    service: S,
    inbox: Inbox<C::Kind, S::State>,
    subscribes: Kinds<C::Kind>,
    publishes: Kinds<C::Kind>,
}

impl<C: Choreography, S: Service<C>> fmt::Debug for Held<C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held")
            .field("service", &self.service)
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

impl<C: Choreography, S: Service<C>> Replica<C> for Held<C, S> {
    fn name(&self) -> C::Service {
        S::NAME
    }

    fn receives(&self, kind: C::Kind) -> bool {
        self.subscribes.contains(kind) || C::outcome(kind).is_some()
    }

    fn subscribes(&self, kind: C::Kind) -> bool {
        self.subscribes.contains(kind)
    }

    fn publishes(&self, kind: C::Kind) -> bool {
        self.publishes.contains(kind)
    }

    fn most_published(&self) -> usize {
        S::PUBLISHES.len()
    }

    fn is_new(&self, envelope: &Envelope<C>) -> bool {
        self.inbox.is_new(envelope.order_id, envelope.kind())
    }

    fn deliver(&mut self, envelope: &Envelope<C>, out: &mut Outbox<C>) -> Delivery {
        let delivery = decide(
            &mut self.service,
            &mut self.inbox,
            self.subscribes,
            envelope,
            out,
        );
        if delivery == Delivery::Taken && envelope.is_terminal() {
            self.inbox.finish(envelope.order_id);
        }
        delivery
    }

    fn is_silent(&self, envelope: &Envelope<C>) -> bool {
        if !self.is_new(envelope) {
            // Ignored as a duplicate.
            return true;
        }
        let mut service = self.service.clone();
        let mut inbox = self.inbox.only(envelope.order_id);
        let mut out = Outbox::default();
        quietly(|| {
            decide(
                &mut service,
                &mut inbox,
                self.subscribes,
                envelope,
                &mut out,
            )
        });
        out.events.is_empty() && hash_of(&service) == hash_of(&self.service)
    }

    fn cloned(&self) -> Box<dyn Replica<C>> {
        Box::new(Held::<C, S> {
            service: self.service.clone(),
            inbox: self.inbox.clone(),
            subscribes: self.subscribes,
            publishes: self.publishes,
        })
    }

    fn own_hash(&self) -> u64 {
        hash_of(&self.service)
    }

    fn hash_into(&self, mut state: &mut dyn Hasher) {
        self.service.hash(&mut state);
        self.inbox.hash(&mut state);
    }
}

/// Runs `decide` with logging off: what decisions log about the odd schedules explored is
/// not for the user's screen.
pub fn quietly<T>(decide: impl FnOnce() -> T) -> T {
    tracing::dispatcher::with_default(&tracing::Dispatch::none(), decide)
}

pub fn hash_of(value: &impl Hash) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Every service `config` builds, in index order, each remembering `dedup_window` finished
/// instances. The choreography's names are checked, and each service must be added once.
pub fn replicas<C: Choreography>(
    config: &C::Config,
    seed: u64,
    dedup_window: usize,
) -> Result<Vec<Box<dyn Replica<C>>>, SpawnError> {
    struct Collect<C: Choreography> {
        replicas: Vec<Box<dyn Replica<C>>>,
        window: usize,
    }
    impl<C: Choreography> Services<C> for Collect<C> {
        fn add<S: Service<C>>(&mut self, service: S) -> Result<(), SpawnError> {
            if self.replicas.iter().any(|held| held.name() == S::NAME) {
                return Err(SpawnError::Twice(S::NAME.name()));
            }
            self.replicas.push(Box::new(Held::<C, S> {
                service,
                inbox: Inbox::new(self.window),
                subscribes: Kinds::of(S::SUBSCRIBES),
                publishes: Kinds::of(S::PUBLISHES),
            }));
            Ok(())
        }
    }
    crate::engine::choreography::check_names::<C::Kind>("kinds")?;
    crate::engine::choreography::check_names::<C::Service>("services")?;
    let mut collect = Collect {
        replicas: Vec::new(),
        window: dedup_window,
    };
    C::services(config, seed, &mut collect)?;
    let mut replicas = collect.replicas;
    replicas.sort_by_key(|held| held.name().index());
    if let Some(missing) = C::Service::ALL
        .iter()
        .find(|name| !replicas.iter().any(|held| held.name() == **name))
    {
        return Err(SpawnError::Missing(missing.name()));
    }
    Ok(replicas)
}
