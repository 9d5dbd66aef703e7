//! `choreo serve SERVICE --nats URL`: one service of the choreography as its own long-lived
//! process, the same decisions and the same task-loop step (`engine::service::decide`) as a
//! service on the in-process bus.
//!
//! **Strictly in stream order.** The service reads every event through its durable consumer
//! `<stream>_<service>` and handles them in stream sequence, whatever order the broker
//! delivers them in: an event already handled (a redelivery) is acknowledged and passed over,
//! and a gap (an event the broker will not redeliver, say one acknowledged before a server
//! restart lost the acknowledgement of an earlier one) is filled by reading the stream.
//!
//! **Durable state is the stream.** An event is acknowledged only once everything its
//! decision published is stored (publish acknowledgements received). So the consumer's ack
//! floor is a point up to which the service's state is the fold of its decisions over the
//! stream: at start, it replays the stream up to there through the same step and picks up
//! after it. Events past the floor that it had handled before it died are decided again
//! from the same state, in the same order, so they publish the same events under the same
//! ids, on the same subjects: the stream refuses them as repeats (one message per subject),
//! and every consumer ignores a repeat by id anyway. Nothing is lost, nothing reserved,
//! charged, refunded or released twice.
//!
//! **Foreign messages.** Anything can be published on the stream's subject. A message that is
//! not an event of the choreography (not an envelope, or an id that does not name its event),
//! or an event of an instance the stream never started (every other event follows its
//! instance's first in the stream), is skipped and acknowledged with the rest, counted, and
//! reported with the stream's name and sequence, by every service alike: stopping on it would
//! stop them all, and again after every restart, as the replay reads it again.
//!
//! **A broker that dies.** A NATS server killed with `kill -9` loses nothing it had
//! acknowledged (it writes to the OS first), so after a reconnect the service keeps its state
//! and its place, and only pulls anew (`Handler::resume`); what its publisher had not had
//! confirmed is sent again only after that look. Where the stream ends before the last event
//! the service read, or the last it published (an OS crash took the broker's tail, and the
//! broker hands out those sequence numbers again), it waits a moment for the run to put back
//! what it observed of the tail (see `run`), and goes on as before. Where the stream still
//! does not hold them, it starts over instead: a fresh state replayed from the stream as it now is, and the last [`REDECIDED`] events before
//! the floor decided again with their events published (repeats are dropped by id; what the
//! broker lost is stored again). The price of starting over is a replay as long as the stream
//! (see docs/distributed.md).

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::RawMessageErrorKind;
use async_nats::jetstream::{self, stream};
use futures_util::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::engine::config::Config;
use crate::engine::replica::{hash_of, replicas, Replica};
use crate::engine::{Choreography, Envelope, EventId, Name, Outbox};
use crate::nats::instances::Instances;
use crate::nats::{self, NatsError, Publisher};

/// Events before the ack floor decided again, publishing, when the service (re)starts: far
/// more than a broker can have confirmed in the moment before it died.
pub const REDECIDED: u64 = 1024;

/// How long a service that finds the stream ends before what it read or published waits for
/// the run to put back what it observed of the lost tail (see `run`), before it starts over.
const PUT_BACK_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a replay waits for the stream's next message before it begins again: the
/// consumer of a node that died can fall silent for good (async-nats's ordered consumer
/// notices a first missed heartbeat and then waits for a wake-up that never comes), while a
/// replay reads messages the stream holds, one after another.
const SILENT_REPLAY: std::time::Duration = std::time::Duration::from_secs(5);

/// What a served service did, for its last log line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Served {
    /// Events replayed from the stream at start and after reconnects.
    pub replayed: u64,
    /// Events handled since.
    pub handled: u64,
    /// Events published.
    pub published: u64,
    /// Foreign messages skipped (see [`nats::skipped`]), each counted once.
    pub foreign: u64,
}

/// The service named `name` (`InventoryService`, or its short config name `inventory`).
pub fn service_named<C: Choreography>(name: &str) -> Result<C::Service, NatsError> {
    C::Service::ALL
        .iter()
        .copied()
        .find(|service| service.name() == name || service.key() == name)
        .ok_or_else(|| NatsError::UnknownService {
            name: name.to_owned(),
            known: C::Service::ALL
                .iter()
                .map(|s| format!("{} ({})", s.name(), s.key()))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Runs `service` against the broker at `url` until `stop` is cancelled: then it finishes the
/// event in hand and returns. `serving` is called once it serves: the stream replayed, its
/// consumer pulling (what a run that spawned it waits for before its first orders).
pub async fn serve<C: Choreography>(
    config: &Config<C>,
    service: C::Service,
    url: &str,
    agreement: &nats::Agreement,
    stop: CancellationToken,
    serving: impl FnOnce(),
) -> Result<Served, NatsError> {
    let settings = &config.nats;
    // Setting up waits on the broker (each step within `nats.connect_timeout`): a stop
    // meanwhile ends it at once.
    let set_up = || async {
        let connection = nats::connect(url, settings).await?;
        let stream = nats::stream(&connection.context, settings)
            .await
            .map_err(|err| {
                err.during(
                    url,
                    format_args!("lookup or creation of stream `{}`", settings.stream),
                )
            })?;
        nats::agree(&connection.context, &stream, settings, agreement)
            .await
            .map_err(|err| {
                err.during(
                    url,
                    format_args!("agreement on stream `{}`'s config", settings.stream),
                )
            })?;
        let answering = the_only_instance::<C>(url, settings, service)
            .await
            .map_err(|err| err.during(url, "look for another instance of the service"))?;
        let durable = format!("{}_{}", settings.stream, service.key());
        let consumer = stream
            .get_or_create_consumer(
                &durable,
                pull::Config {
                    durable_name: Some(durable.clone()),
                    ack_policy: ack_policy(&connection),
                    ack_wait: settings.ack_wait,
                    max_ack_pending: i64::from(settings.max_ack_pending),
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .map_err(NatsError::broker)
            .map_err(|err| err.during(url, format_args!("creation of consumer `{durable}`")))?;
        Ok::<_, NatsError>((connection, stream, consumer, answering))
    };
    let Some(set_up) = nats::patiently(&stop, set_up).await else {
        tracing::warn!(service = %service, url, "stopped before the broker answered");
        return Ok(Served::default());
    };
    let (connection, stream, mut consumer, _answering) = set_up?;
    let acks_all = consumer.cached_info().config.ack_policy == AckPolicy::All;
    let context = &connection.context;
    let mut served = Served::default();
    let durable = format!("{}_{}", settings.stream, service.key());
    let created = stream.cached_info().created;
    let work = async {
        let mut handler = Handler {
            replica: fresh::<C>(config, service)?,
            connection: &connection,
            instances: Instances::new(config.services.dedup_window),
            stream: &stream,
            name: &settings.stream,
            publisher: Publisher::new(url, settings, &stream),
            settings,
            record: nats::record_subject(settings),
            served: &mut served,
            foreign_upto: 0,
            last_read: None,
        };
        let mut connects = connection.connects();
        let Some((mut next, mut messages)) = handler
            .start_over(config, service, &mut consumer, &stop)
            .await?
        else {
            return Ok(());
        };
        tracing::info!(service = %service, replayed = handler.served.replayed, "serving");
        serving();
        let most = batch(settings);
        // The broker failed a request on the way (it is going away, or coming back).
        let mut failed = false;
        loop {
            if failed || connection.connects() != connects {
                (connects, failed) = (connection.connects(), false);
                // What the old pull stream still holds was sent before the broker came back.
                let Some(resumed) = handler
                    .resume(config, service, &mut consumer, &stop, next)
                    .await?
                else {
                    break;
                };
                (next, messages) = resumed;
                continue;
            }
            let received = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                // A reconnect, noticed while nothing arrives.
                () = connection.reconnected_since(connects) => continue,
                received = messages.next() => received,
            };
            let mut batch = match received {
                Some(Ok(message)) => vec![message],
                ended => {
                    // Missed heartbeats (a busy or restarting server), or the end: the pull is
                    // made anew, since a pull that missed its heartbeats may never deliver again.
                    // What the old one had on the way comes again after the ack wait, or is read
                    // from the stream first as a gap.
                    if let Some(Err(err)) = ended {
                        tracing::warn!(%err, "consumer stream: pulling anew");
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    match until_stopped(&stop, pull_stream(&consumer, settings)).await {
                        None => break,
                        Some(Ok(pulled)) => messages = pulled,
                        Some(Err(err)) => failed = broker_failed(err)?,
                    }
                    continue;
                }
            };
            // Whatever else has arrived, without waiting: decided in one go, published together,
            // acknowledged together once all of it is stored.
            while batch.len() < most {
                match messages.next().now_or_never() {
                    Some(Some(Ok(message))) => batch.push(message),
                    _ => break,
                }
            }
            batch.sort_by_key(|message| message.info().map_or(0, |info| info.stream_sequence));
            // Stopped in the middle (a gap read from a broker that is away, say): nothing of the
            // batch is acknowledged, so all of it is delivered again.
            let Some(handled) = until_stopped(&stop, handler.batch(&batch, &mut next)).await else {
                break;
            };
            if let Err(err) = handled {
                // Nothing of the batch is acknowledged: it comes again after the service has
                // started over.
                failed = broker_failed(err)?;
                continue;
            }
            match handler.publisher.confirm(&stop).await {
                Ok(_) => {}
                // Stopped while the broker was away: nothing acknowledged, all delivered again.
                Err(nats::Unconfirmed::GaveUp) => break,
                // Nothing acknowledged: the stream is looked at before anything is sent again,
                // once the client is connected again (the broker went away, most often: a look
                // sent before the client finds out is lost, and waited for).
                Err(nats::Unconfirmed::LinkLost) => {
                    let reconnected = connection.reconnected_since(connects);
                    until_stopped(
                        &stop,
                        tokio::time::timeout(nats::LOOKED_WITHIN, reconnected),
                    )
                    .await;
                    failed = true;
                    continue;
                }
            }
            // The last of the batch acknowledges it all where the consumer acknowledges all
            // before an event (see `ack_policy`).
            let acked = if acks_all {
                &batch[batch.len() - 1..]
            } else {
                &batch[..]
            };
            for message in acked {
                // A lost acknowledgement only means a redelivery, which is passed over.
                if let Err(err) = message.ack().await {
                    tracing::debug!(%err, "acknowledgement not sent");
                }
            }
            flush(context, &stop).await;
        }
        Ok::<(), NatsError>(())
    };
    tokio::select! {
        worked = work => worked?,
        gone = watch_for_loss(context, settings, created, &stream, &durable) => return Err(gone),
    }
    // Acknowledgements are buffered: send them before the process exits, if the broker
    // answers soon. What it does not get is delivered again, and passed over or decided the
    // same way: the stop must not wait on a broker that is gone.
    let flushed = tokio::time::timeout(FLUSH_AT_STOP, context.client().flush())
        .await
        .is_ok_and(|flushed| flushed.is_ok());
    let connected = context.client().connection_state() == async_nats::connection::State::Connected;
    if !(flushed && connected) {
        tracing::warn!(
            service = %service,
            url,
            "stopping without the broker's answer: the events not acknowledged are delivered again"
        );
    }
    tracing::info!(service = %service, handled = served.handled, published = served.published, foreign = served.foreign, "stopped");
    Ok(served)
}

/// Looks, every [`nats::WATCHED_EVERY`], that what the service stands on is still there (see
/// [`nats::what_is_gone`]), and its consumer `durable`; returns what has gone. The service
/// then stops at once, loudly: looping "starting over" on a stream that lost its history, or
/// making consumers anew, would hide it.
async fn watch_for_loss(
    context: &jetstream::Context,
    settings: &crate::engine::config::NatsConfig,
    created: async_nats::datetime::DateTime,
    stream: &stream::Stream,
    durable: &str,
) -> NatsError {
    let mut looks = nats::Looks::default();
    loop {
        tokio::time::sleep(nats::WATCHED_EVERY).await;
        let gone = match nats::what_is_gone(context, settings, created).await {
            Some(what) => Some(NatsError::Gone {
                what,
                remedy: nats::HISTORY_GONE,
            }),
            None => match stream.consumer_info(durable).await {
                Err(err) if err.kind() == ConsumerInfoErrorKind::NotFound => Some(NatsError::Gone {
                    what: format!(
                        "consumer `{durable}` of stream `{}` was deleted",
                        settings.stream
                    ),
                    remedy: "start the service again: its new consumer handles the stream from its start, and the stream refuses what the service published before",
                }),
                _ => None,
            },
        };
        if let Some(gone) = looks.found(gone) {
            return gone;
        }
    }
}

/// How a service's consumer takes acknowledgements. The service handles the stream strictly
/// in order, so acknowledging an event may acknowledge every one before it: one message a
/// batch instead of one an event, which costs the broker about a third less CPU a run (measured
/// on 2.15.1: 254 against 405 ticks for 20,000 orders, 4,040 orders/s against 2,900). That is
/// used where the server can reset a consumer ([`nats::CONSUMER_RESET`]): on nats-server
/// 2.9.10, after a `kill -9` and a restart, a consumer's ack floor can be past what it has
/// delivered, so the broker delivers again messages at or below the floor, and 2.9.10 ignores
/// an acknowledge-all at or below the floor (`processAckMsg`): they stay pending up to
/// `max_ack_pending`, and nothing new is delivered (measured: see CHANGELOG, "Tried and
/// dropped"). An explicit ack removes its message whatever the floor; the reset (2.14 and
/// later) puts the consumer back at its floor. A consumer keeps the policy it was made with.
fn ack_policy(connection: &nats::Connection) -> AckPolicy {
    if connection.server_at_least(nats::CONSUMER_RESET) {
        AckPolicy::All
    } else {
        AckPolicy::Explicit
    }
}

/// Who serves a service on a stream: answers to whoever asks on `<stream>.alive.<service>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Instance {
    pid: u32,
}

/// How long a starting service waits for an answer from an instance of it that the broker
/// says is there (subscribed), before it asks again.
const ASKED_FOR: std::time::Duration = std::time::Duration::from_millis(300);

/// Refuses to serve `service` if another instance of it serves the stream already: two would
/// share its durable consumer, each handling what the other was delivered from the stream
/// again. Returns what answers for this instance from now on, for as long as it is held.
///
/// The question costs a round trip, not a wait: the instance subscribes to answer first,
/// then asks, on a connection the broker never sends its own messages back to (`no_echo`),
/// so a broker with nobody else subscribed says "no responders" at once. Of two started at
/// the same moment, the one whose subscription the broker took second sees the first (its
/// question reaches it), and is refused; if both see each other, both are refused: never
/// two. An instance that is subscribed and does not answer (stopped with SIGSTOP, say) is
/// asked again for `nats.connect_timeout`, then this one is refused. One whose process died
/// does not answer or subscribe (its subscription went with its connection), so a service
/// restarted after a crash is not held up.
async fn the_only_instance<C: Choreography>(
    url: &str,
    settings: &crate::engine::config::NatsConfig,
    service: C::Service,
) -> Result<tokio_util::task::AbortOnDropHandle<()>, NatsError> {
    let client = nats::client_without_echo(url, settings).await?;
    let subject = format!("{}.alive.{}", settings.stream, service.key());
    let me = Instance {
        pid: std::process::id(),
    };
    let answer: bytes::Bytes = serde_json::to_vec(&me).map_err(NatsError::broker)?.into();
    let mut asked = client
        .subscribe(subject.clone())
        .await
        .map_err(NatsError::broker)?;
    let replier = client.clone();
    let answering = tokio::spawn(async move {
        while let Some(question) = asked.next().await {
            if let Some(reply) = question.reply {
                let _ = replier.publish(reply, answer.clone()).await;
            }
        }
    });
    let answering = tokio_util::task::AbortOnDropHandle::new(answering);
    // The broker holds the subscription before the question goes: whoever asks from now on
    // sees this instance.
    client.flush().await.map_err(NatsError::broker)?;
    let started = tokio::time::Instant::now();
    loop {
        let asked = client
            .send_request(
                subject.clone(),
                async_nats::Request::new().timeout(Some(ASKED_FOR)),
            )
            .await;
        match asked {
            Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
                return Ok(answering);
            }
            Ok(answer) => {
                return Err(NatsError::Second {
                    service: service.name(),
                    stream: settings.stream.clone(),
                    pid: serde_json::from_slice::<Instance>(&answer.payload)
                        .map_or(0, |other| other.pid),
                });
            }
            Err(err) if err.kind() == async_nats::RequestErrorKind::TimedOut => {
                if started.elapsed() >= settings.connect_timeout {
                    return Err(NatsError::Silent {
                        service: service.name(),
                        stream: settings.stream.clone(),
                        waited: settings.connect_timeout,
                    });
                }
            }
            Err(err) => return Err(NatsError::broker(err)),
        }
    }
}

/// `work`'s result, or `None` if `stop` fires first.
async fn until_stopped<T>(
    stop: &CancellationToken,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        biased;
        () = stop.cancelled() => None,
        done = work => Some(done),
    }
}

/// How long a stopping service waits for the broker to take its last acknowledgements.
const FLUSH_AT_STOP: std::time::Duration = std::time::Duration::from_secs(2);

/// Sends the acknowledgements buffered; given up on a stop (a broker that is away would hold
/// the flush until it is back).
async fn flush(context: &jetstream::Context, stop: &CancellationToken) {
    let client = context.client();
    tokio::select! {
        biased;
        () = stop.cancelled() => {}
        _ = client.flush() => {}
    }
}

/// `Ok(true)` for a broker's error, which the service outlives by starting over once the
/// broker answers again; any other error ends it.
fn broker_failed(err: NatsError) -> Result<bool, NatsError> {
    match err {
        NatsError::Broker(err) => {
            tracing::warn!(%err, "the broker failed a request: starting over");
            Ok(true)
        }
        err => Err(err),
    }
}

/// The service as `config` builds it, with no event handled yet.
fn fresh<C: Choreography>(
    config: &Config<C>,
    service: C::Service,
) -> Result<Box<dyn Replica<C>>, NatsError> {
    replicas::<C>(
        &config.choreography,
        config.simulation.seed,
        config.services.dedup_window,
    )?
    .into_iter()
    .find(|held| held.name() == service)
    .ok_or(NatsError::Spawn(crate::engine::SpawnError::Missing(
        service.name(),
    )))
}

/// The consumer's messages, pulled in batches of up to `max_ack_pending`, with short-lived
/// pull requests and heartbeats: after a broker restart, pulling resumes within seconds.
async fn pull_stream(
    consumer: &jetstream::consumer::Consumer<pull::Config>,
    settings: &crate::engine::config::NatsConfig,
) -> Result<pull::Stream, NatsError> {
    consumer
        .stream()
        .max_messages_per_batch(batch(settings))
        .expires(std::time::Duration::from_secs(2))
        .heartbeat(std::time::Duration::from_millis(500))
        .messages()
        .await
        .map_err(NatsError::broker)
}

/// The most messages a pull asks for at once, and a service handles in one go: a quarter of
/// what its consumer may have pending. What is unacknowledged is then at most a pull's worth
/// on the way and a batch being handled, so after a reconnect what a pull that died had been
/// delivered (passed over when it comes again) leaves room for the new pull at once, on a
/// server too old to reset the consumer (see [`redeliver_past_the_ack_floor`]).
fn batch(settings: &crate::engine::config::NatsConfig) -> usize {
    (settings.max_ack_pending as usize / 4).max(1)
}

/// Has the broker deliver everything past the consumer's ack floor again now (a consumer
/// reset, nats-server 2.14 and newer), rather than when each event's `nats.ack_wait` runs out:
/// what a killed process had been delivered and had not acknowledged held the consumer up to
/// `nats.max_ack_pending` until then, so a restarted service waited that long for its first
/// event. Older servers have no reset: there the events come after the ack wait, as before.
async fn redeliver_past_the_ack_floor(
    connection: &nats::Connection,
    consumer: &mut jetstream::consumer::Consumer<pull::Config>,
) {
    if !connection.server_at_least(nats::CONSUMER_RESET) {
        return;
    }
    match consumer.reset(None).await {
        Ok(reset) => tracing::debug!(from = reset.reset_seq, "consumer reset to its ack floor"),
        // What is pending comes again after the ack wait, as on an older server.
        Err(err) => tracing::warn!(%err, "consumer not reset to its ack floor"),
    }
}

struct Handler<'a, C: Choreography> {
    replica: Box<dyn Replica<C>>,
    connection: &'a nats::Connection,
    /// What the stream has started, as the replica has read it: rebuilt with it.
    instances: Instances,
    stream: &'a stream::Stream,
    /// The stream's name, for warnings.
    name: &'a str,
    publisher: Publisher,
    settings: &'a crate::engine::config::NatsConfig,
    /// The subject of the stream's record (see [`nats::Agreement`]), skipped as read.
    record: String,
    served: &'a mut Served,
    /// The last sequence of a foreign message counted: one read again as the stream is
    /// replayed is not counted or reported twice.
    foreign_upto: u64,
    /// The sequence and a hash of the subject of the last message read (see
    /// [`Handler::resume`]).
    last_read: Option<(u64, u64)>,
}

impl<C: Choreography> Handler<'_, C> {
    /// Handles a batch of delivered messages, in stream order from `next`: whatever comes
    /// before one in the stream first, read from the stream if the broker does not deliver it
    /// (a gap); a redelivery of one handled is passed over.
    async fn batch(
        &mut self,
        batch: &[jetstream::Message],
        next: &mut u64,
    ) -> Result<(), NatsError> {
        for message in batch {
            let seq = message.info().map_err(NatsError::broker)?.stream_sequence;
            while *next < seq {
                self.read_and_handle(*next).await?;
                *next += 1;
            }
            if seq == *next {
                self.message(&message.subject, &message.payload, seq, true)
                    .await?;
                *next += 1;
            }
        }
        Ok(())
    }

    /// Starts the service over (see the module documentation): a fresh state, the stream
    /// replayed up to the consumer's ack floor (or the stream's end, if the broker lost its
    /// tail), its last [`REDECIDED`] events with their events published again, then the
    /// consumer's messages pulled from there. Returns the sequence to go on from and the
    /// messages; `None` if stopped first. A broker that fails a request on the way (it went
    /// away again) is waited for, and the start begun again.
    async fn start_over(
        &mut self,
        config: &Config<C>,
        service: C::Service,
        consumer: &mut jetstream::consumer::Consumer<pull::Config>,
        stop: &CancellationToken,
    ) -> Result<Option<(u64, pull::Stream)>, NatsError> {
        let mut backoff = nats::Backoff::starting_at(std::time::Duration::from_millis(100));
        loop {
            let starting = async {
                match self.try_resync(config, service, consumer, stop).await {
                    Ok(Some(next)) => {
                        redeliver_past_the_ack_floor(self.connection, consumer).await;
                        pull_stream(consumer, &config.nats)
                            .await
                            .map(|messages| Some((next, messages)))
                    }
                    stopped_or_failed => stopped_or_failed.map(|_| None),
                }
            };
            // Each request waits up to `nats.connect_timeout` for a broker that is away: a
            // stop does not wait with it (the start is begun anew from scratch anyway).
            let Some(started) = until_stopped(stop, starting).await else {
                return Ok(None);
            };
            match started {
                Err(NatsError::Broker(err)) => {
                    tracing::warn!(%err, "cannot replay the stream yet");
                    if backoff.wait(stop).await.is_err() {
                        return Ok(None);
                    }
                }
                done => return done,
            }
        }
    }

    /// Picks up where the service is after a reconnect, or a request the broker failed: its
    /// state, its place in the stream and what its publisher has not had confirmed are kept,
    /// and only the pull is made anew (what the old one had on the way comes again, or is
    /// read from the stream as a gap). A broker killed loses nothing it acknowledged (it
    /// writes to the OS first), so this is the rule; where the stream no longer holds the last
    /// event read as it was read, or the last event the service had confirmed as published
    /// (the broker lost its tail: an OS crash, say), the service starts over instead
    /// ([`Handler::start_over`]). Returns as `start_over` does.
    async fn resume(
        &mut self,
        config: &Config<C>,
        service: C::Service,
        consumer: &mut jetstream::consumer::Consumer<pull::Config>,
        stop: &CancellationToken,
        next: u64,
    ) -> Result<Option<(u64, pull::Stream)>, NatsError> {
        let mut backoff = nats::Backoff::starting_at(std::time::Duration::from_millis(100));
        loop {
            let resuming = async {
                if !self.holds_what_it_knew(stop).await? {
                    return Ok(None);
                }
                self.publisher.resend_after_look();
                redeliver_past_the_ack_floor(self.connection, consumer).await;
                pull_stream(consumer, &config.nats).await.map(Some)
            };
            let Some(resumed) = until_stopped(stop, resuming).await else {
                return Ok(None);
            };
            match resumed {
                Ok(Some(messages)) => return Ok(Some((next, messages))),
                Ok(None) => {
                    tracing::warn!(
                        stream = self.name,
                        sequence = self.last_read.map_or(0, |(seq, _)| seq),
                        "the stream no longer holds the last event read as it was read, or the last one published: starting over"
                    );
                    return self.start_over(config, service, consumer, stop).await;
                }
                Err(NatsError::Broker(err)) => {
                    tracing::warn!(%err, "cannot resume yet");
                    if backoff.wait(stop).await.is_err() {
                        return Ok(None);
                    }
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Whether the stream holds what this service knew of it: the last message it read, at its
    /// sequence, and the newest event it had confirmed as published. A stream that ends
    /// before either lost its tail: the run puts back what it observed of it (see `run`), so
    /// that is waited for, up to [`PUT_BACK_WITHIN`], before the service gives up on it and
    /// starts over.
    async fn holds_what_it_knew(&mut self, stop: &CancellationToken) -> Result<bool, NatsError> {
        let known = self
            .last_read
            .map_or(0, |(seq, _)| seq)
            .max(self.publisher.last_stored());
        let mut waited_since: Option<tokio::time::Instant> = None;
        loop {
            let last = self.connection.last_sequence(self.stream).await?;
            if last >= known {
                return Ok(self.holds_what_was_read().await?
                    && self
                        .publisher
                        .holds_the_newest(stop)
                        .await
                        .map_err(|_| NatsError::Broker("stopped".into()))?);
            }
            let since = *waited_since.get_or_insert_with(|| {
                tracing::warn!(
                    stream = self.name,
                    last,
                    known,
                    "the stream ends before what this service read or published: waiting for the run to put back what it observed"
                );
                tokio::time::Instant::now()
            });
            if since.elapsed() >= PUT_BACK_WITHIN {
                return Ok(false);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Whether the stream still holds, at its sequence, the last message this service read
    /// (an event's subject names it alone: see `nats::subject_of`).
    async fn holds_what_was_read(&self) -> Result<bool, NatsError> {
        let Some((seq, subject)) = self.last_read else {
            return Ok(true);
        };
        match self.stream.get_raw_message(seq).await {
            Ok(message) => Ok(hash_of(&message.subject.as_str()) == subject),
            Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => Ok(false),
            Err(err) => Err(NatsError::broker(err)),
        }
    }

    async fn try_resync(
        &mut self,
        config: &Config<C>,
        service: C::Service,
        consumer: &mut jetstream::consumer::Consumer<pull::Config>,
        stop: &CancellationToken,
    ) -> Result<Option<u64>, NatsError> {
        self.replica = fresh::<C>(config, service)?;
        self.instances = Instances::new(config.services.dedup_window);
        // Decided on the state just dropped; decided again as the stream is replayed.
        self.publisher.forget_unconfirmed();
        let floor = consumer
            .info()
            .await
            .map_err(NatsError::broker)?
            .ack_floor
            .stream_sequence;
        let last = self
            .stream
            .get_info()
            .await
            .map_err(NatsError::broker)?
            .state
            .last_sequence;
        // A consumer with nothing acknowledged is new (a service added, or its consumer
        // deleted): it handles the stream from its start. What its service published before
        // is refused by the stream (one message per subject, ever), what it never handled is
        // handled now.
        let upto = floor.min(last);
        if upto == 0 {
            return Ok(Some(1));
        }
        let quiet = upto.saturating_sub(REDECIDED);
        let ordered = self
            .stream
            .create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(NatsError::broker)?;
        let mut messages = ordered.messages().await.map_err(NatsError::broker)?;
        let mut replayed = 0;
        while replayed < upto {
            let message = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                message = messages.next() => message,
                // Begun again (see `start_over`).
                () = tokio::time::sleep(SILENT_REPLAY) => {
                    return Err(NatsError::Broker(format!(
                        "the replay's consumer delivered nothing for {SILENT_REPLAY:?} at sequence {replayed} of {upto}"
                    )));
                }
            };
            let message = message
                .ok_or_else(|| NatsError::Broker("the stream ended while replaying it".into()))?
                .map_err(NatsError::broker)?;
            let seq = message.info().map_err(NatsError::broker)?.stream_sequence;
            if seq > upto {
                break;
            }
            self.message(&message.subject, &message.payload, seq, seq > quiet)
                .await?;
            replayed = seq;
        }
        match self.publisher.confirm(stop).await {
            _ if stop.is_cancelled() => return Ok(None),
            Ok(_) => {}
            Err(nats::Unconfirmed::GaveUp) => return Ok(None),
            // Begun again (see `start_over`), once the broker answers.
            Err(nats::Unconfirmed::LinkLost) => {
                return Err(NatsError::Broker(
                    "the connection was lost while publishing the replay's decisions".into(),
                ))
            }
        }
        self.served.replayed += replayed;
        tracing::info!(replayed, floor, last, "replayed the stream");
        Ok(Some(replayed + 1))
    }

    /// Handles one event: the task loop's step, and, if `publishing`, everything the decision
    /// caused sent through the publisher (whose confirmation the caller waits for before it
    /// acknowledges the event).
    async fn event(&mut self, envelope: &Envelope<C>, publishing: bool) -> Result<(), NatsError> {
        let mut out = Outbox::default();
        self.replica.deliver(envelope, &mut out);
        if !publishing {
            return Ok(());
        }
        self.served.handled += 1;
        let service = self.replica.name();
        for event in out.events {
            let kind = C::kind(&event);
            if !self.replica.publishes(kind) {
                return Err(NatsError::Undeclared {
                    service: service.name(),
                    kind: kind.name(),
                });
            }
            let caused = Envelope::<C> {
                seq: 0,
                at_us: nats::now_us(),
                id: EventId {
                    order_id: envelope.order_id,
                    kind,
                },
                order_id: envelope.order_id,
                service,
                cause: Some(envelope.id),
                event,
            };
            self.publisher.send(&caused).await?;
            self.served.published += 1;
        }
        Ok(())
    }

    /// Handles the event at `seq`, read from the stream: one the broker will not deliver.
    async fn read_and_handle(&mut self, seq: u64) -> Result<(), NatsError> {
        let message = self
            .stream
            .get_raw_message(seq)
            .await
            .map_err(NatsError::broker)?;
        tracing::debug!(seq, "filling a gap from the stream");
        self.message(&message.subject, &message.payload, seq, true)
            .await
    }

    /// Handles the message at `seq` as [`Handler::event`] does, unless it is foreign: not an
    /// event of this choreography, or one of an instance the stream never started. That is
    /// skipped (and acknowledged with the rest), counted and reported: stopping on it would
    /// stop every service, and again after every restart.
    async fn message(
        &mut self,
        subject: &str,
        payload: &[u8],
        seq: u64,
        publishing: bool,
    ) -> Result<(), NatsError> {
        self.last_read = Some((seq, hash_of(&subject)));
        if *subject == self.record {
            // The stream's record of what it runs, not an event.
            return Ok(());
        }
        let reason = match nats::decode::<C>(self.settings, subject, payload, seq) {
            Ok(envelope) => match self.instances.admit(&envelope) {
                Ok(()) => return self.event(&envelope, publishing).await,
                Err(reason) => reason,
            },
            Err(err) => err.to_string(),
        };
        if seq > self.foreign_upto {
            self.foreign_upto = seq;
            self.served.foreign += 1;
            let service = self.replica.name();
            nats::skipped(self.name, seq, &format_args!("{service}: {reason}"));
        }
        Ok(())
    }
}
