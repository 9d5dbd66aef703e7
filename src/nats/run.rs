//! `choreo run FILE --nats URL`: injects the orders into the stream and observes it, with
//! every output of an in-process run, from the ordered stream of events.
//!
//! The run reads the stream from the message after its last one when it starts, through an
//! ordered consumer (in stream order, gaps recovered by the client), so an earlier run's
//! events in the same stream are not its own. It keeps `nats.in_flight` orders in flight: the
//! next order's first event is published once one has finished, so a million-order file
//! neither floods the broker nor the memory. An event of an order not in flight (another
//! run's) and a repeat of an event id are passed over. A message that is not an event of the choreography is skipped, counted in
//! the summary (`foreign_messages`) and reported with its stream sequence, as the services do.
//! A broker that lost the stream's tail (an OS crash) has what the run observed of it put back,
//! as it was read and at the same sequences, before anything else is sent (see
//! `Observer::put_back`): the run's output and counts stay the stream's.
//! While orders are in flight, a watch on the services' consumers says when none has read
//! the stream for [`UNREAD`]: a run with nothing serving its stream would otherwise wait out
//! its time limit without a word.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::stream::RawMessageErrorKind;
use futures_util::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::engine::config::Config;
use crate::engine::kinds::Kinds;
use crate::engine::monitor::Watch;
use crate::engine::stats::{Finished, Summary};
use crate::engine::{
    Choreography, Envelope, EventId, EventSink, Failure, Interrupt, Name, RunFailed,
};
use crate::input::{InstanceId, Record};
use crate::nats::{self, NatsError};

struct InFlight<C: Choreography> {
    arrived_us: u64,
    kinds: Kinds<C::Kind>,
    seen: u64,
}

/// Ends a run from outside it, as failed: `choreo run --spawn-services` halts it when one
/// of its services exits, rather than wait out the time limit for orders that cannot finish.
#[derive(Debug, Clone, Default)]
pub struct Halt {
    halted: CancellationToken,
    /// Why: the first reason given, taken by the run.
    why: Arc<Mutex<Option<Failure>>>,
}

impl Halt {
    /// Halts the run with `why` (the first reason given wins).
    pub fn halt(&self, why: Failure) {
        let mut held = self
            .why
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if held.is_none() && !self.halted.is_cancelled() {
            *held = Some(why);
        }
        self.halted.cancel();
    }

    /// Waits until the run is halted; the reason.
    async fn halted(&self) -> Failure {
        self.halted.cancelled().await;
        let mut held = self
            .why
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.take()
            .unwrap_or_else(|| Failure::Transport("the run was halted".to_owned()))
    }
}

/// Holds a run's first orders back until the services it spawned (`--spawn-services`) serve:
/// a service starting reads the stream's history, asks whether another instance of it is
/// alive and makes its consumer first, and orders published meanwhile would wait in a
/// stream nobody reads (the first few hundred orders' latency was that wait). A run whose
/// services were started apart from it waits for nobody.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The services that have not said they serve yet.
    waiting: Arc<Mutex<Vec<&'static str>>>,
    all: CancellationToken,
}

impl Serving {
    /// Waits for `services` to say they serve (none: the run starts at once).
    pub fn of(services: Vec<&'static str>) -> Self {
        let all = CancellationToken::new();
        if services.is_empty() {
            all.cancel();
        }
        Serving {
            waiting: Arc::new(Mutex::new(services)),
            all,
        }
    }

    /// `service` serves.
    pub fn serves(&self, service: &str) {
        let mut waiting = self.waiting();
        waiting.retain(|held| *held != service);
        if waiting.is_empty() {
            self.all.cancel();
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Vec<&'static str>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until every service serves; the failure that ends the run first otherwise (a
    /// service that exits halts it, a Ctrl-C, the time limit, the broker out of reach for
    /// `quiet`: the services wait for it as long as it takes, so the run must not). Said once,
    /// after `quiet`, who it waits for: a service replaying a long stream takes its time, and
    /// is not failed for it.
    async fn awaited(
        &self,
        halt: &Halt,
        interrupt: &Interrupt,
        (limit, limit_at): (Duration, tokio::time::Instant),
        (quiet, connection): (Duration, &nats::Connection),
    ) -> Result<(), Failure> {
        let limit_at = tokio::time::sleep_until(limit_at);
        tokio::pin!(limit_at);
        let said = tokio::time::sleep(quiet);
        tokio::pin!(said);
        let mut told = false;
        let mut checked = tokio::time::interval(Duration::from_millis(100));
        let mut out_of_reach_since: Option<Instant> = None;
        loop {
            tokio::select! {
                biased;
                _ = checked.tick() => {
                    if connection.connected() {
                        out_of_reach_since = None;
                    } else if out_of_reach_since.get_or_insert_with(Instant::now).elapsed() >= quiet {
                        return Err(Failure::Transport(format!(
                            "the broker has been out of reach for {quiet:?} (nats.stall_timeout) while the run waited for {} to serve",
                            self.waiting().join(", ")
                        )));
                    }
                }
                () = self.all.cancelled() => return Ok(()),
                failure = halt.halted() => return Err(failure),
                () = interrupt.everything.cancelled() => {
                    return Err(Failure::Interrupted { not_admitted: 0 });
                }
                () = interrupt.admitting.cancelled() => {
                    return Err(Failure::Interrupted { not_admitted: 0 });
                }
                () = &mut limit_at => {
                    return Err(Failure::TimeLimit {
                        limit,
                        unfinished: Vec::new(),
                        not_admitted: 0,
                        stall: Default::default(),
                    });
                }
                () = &mut said, if !told => {
                    told = true;
                    tracing::warn!(
                        "waited {quiet:?} for {} to serve (replaying the stream, or waiting for the broker?): the first orders go in once they do",
                        self.waiting().join(", ")
                    );
                }
            }
        }
    }
}

/// How long no service may have read the stream, while orders are in flight, before the run
/// says so.
pub const UNREAD: Duration = Duration::from_secs(5);

/// Runs `orders` through the services serving the stream at `url`, writing every event to
/// `sink` in stream order; the summary as for an in-process run (its `events` are the events
/// observed). `halt` ends it as failed from outside; its first orders wait for `serving`.
///
/// On a multi-thread runtime `orders` is read off the runtime's threads (it may block on its
/// source); on a current-thread one (a plain `#[tokio::test]`) it is read in place, and an
/// `orders` that blocks holds the whole runtime, the broker's connection with it.
pub async fn run<C: Choreography>(
    config: &Config<C>,
    url: &str,
    orders: impl IntoIterator<Item = C::Input>,
    sink: &mut (dyn EventSink<C> + Send),
    interrupt: &Interrupt,
    (halt, serving): (&Halt, &Serving),
    agreement: &nats::Agreement,
) -> Result<Summary<C>, RunFailed<C>> {
    // The time limit counts from here: connecting, setting up and waiting for the services
    // spend it too. (A limit past Tokio's instants is none.)
    let now = tokio::time::Instant::now();
    let limit_at = now
        .checked_add(config.run.time_limit)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 24 * 60 * 60));
    let summary = Summary::<C>::new(&config.choreography);
    let fail = |summary: Summary<C>, failure: Failure| RunFailed {
        summary,
        failures: vec![failure],
    };
    let transport = |err: NatsError| Failure::Transport(err.to_string());
    let settings = &config.nats;
    // A JetStream that does not answer in time (a cluster electing a leader) is asked again;
    // a second Ctrl-C ends the waiting.
    let connection =
        match nats::patiently(&interrupt.everything, || nats::connect(url, settings)).await {
            Some(Ok(connection)) => connection,
            Some(Err(err)) => return Err(fail(summary, transport(err))),
            None => return Err(fail(summary, Failure::Interrupted { not_admitted: 0 })),
        };
    let context = &connection.context;
    let open = || async {
        let name = &settings.stream;
        let stream = nats::stream(context, settings).await.map_err(|err| {
            err.during(url, format_args!("lookup or creation of stream `{name}`"))
        })?;
        nats::agree(context, &stream, settings, agreement)
            .await
            .map_err(|err| {
                err.during(url, format_args!("agreement on stream `{name}`'s config"))
            })?;
        let last = stream
            .get_info()
            .await
            .map_err(NatsError::broker)
            .map_err(|err| {
                err.during(
                    url,
                    format_args!("lookup of stream `{name}`'s last sequence"),
                )
            })?
            .state
            .last_sequence;
        let events = observe_from(&stream, last + 1).await.map_err(|err| {
            err.during(
                url,
                format_args!("creation of the run's consumer on stream `{name}`"),
            )
        })?;
        Ok::<_, NatsError>((stream, last, events))
    };
    // A second Ctrl-C, or a halt, stops the waiting.
    let stop = interrupt.everything.clone();
    let (stream, start, mut events) = match nats::patiently(&stop, open).await {
        Some(Ok(opened)) => opened,
        Some(Err(err)) => return Err(fail(summary, transport(err))),
        None => return Err(fail(summary, Failure::Interrupted { not_admitted: 0 })),
    };
    if let Err(failure) = serving
        .awaited(
            halt,
            interrupt,
            (config.run.time_limit, limit_at),
            (settings.stall_timeout, &connection),
        )
        .await
    {
        return Err(fail(summary, failure));
    }
    let started_us = nats::now_us();
    let window = settings.in_flight as usize;
    let deadline = tokio::time::sleep_until(limit_at);
    tokio::pin!(deadline);
    // Events observed plus orders admitted: what the watch on stalls looks at.
    let progress = Arc::new(AtomicU64::new(0));
    let mut orders = orders.into_iter();
    let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::MultiThread;
    let mut observer = Observer {
        in_flight: HashMap::new(),
        summary,
        observed: 0,
        read_upto: start,
        started_us,
        settings: settings.clone(),
        record: nats::record_subject(settings),
        invariants: Watch::new(config.run.invariants, &config.choreography),
        kept: VecDeque::new(),
    };
    // How many orders are in flight, for the watch on the services.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let watch = tokio::spawn(watch_readers::<C>(
        stream.clone(),
        settings.stream.clone(),
        Arc::clone(&in_flight),
    ));
    // The watch ends with the run, however it ends.
    let _unwatch = AbortOnDropHandle::new(watch);
    let lost = tokio::spawn(watch_for_loss(
        context.clone(),
        settings.clone(),
        stream.cached_info().created,
        halt.clone(),
    ));
    let _unwatch_loss = AbortOnDropHandle::new(lost);
    let stalls = tokio::spawn(watch_for_stalls(
        Arc::clone(&progress),
        Arc::clone(&in_flight),
        settings.stall_timeout,
        halt.clone(),
    ));
    let _unwatch_stalls = AbortOnDropHandle::new(stalls);
    let (mut read, mut admitting) = (0u64, true);
    let mut warned_at_ms = false;
    let mut failures = Vec::new();
    let mut publisher = nats::Publisher::new(url, settings, &stream);
    // Waiting for the broker ends with the time limit or a second Ctrl-C.
    let give_up = CancellationToken::new();
    let _give_up_at_the_end = give_up.clone().drop_guard();
    {
        let (give_up, everything) = (give_up.clone(), interrupt.everything.clone());
        let halted = halt.halted.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep_until(limit_at) => {}
                () = everything.cancelled() => {}
                () = halted.cancelled() => {}
                // The run ended (the guard below).
                () = give_up.cancelled() => {}
            }
            give_up.cancel();
        });
    }
    let mut connects = connection.connects();
    // The publisher's connection was lost: it sends nothing again until the stream is looked at.
    let mut link_lost = false;
    loop {
        let reconnected = connection.connects() != connects;
        if reconnected || link_lost {
            connects = connection.connects();
            link_lost = false;
            // What the broker lost of what the run observed is put back first, before anything
            // else lands where it was.
            match observer.put_back(&connection, &stream, &give_up).await {
                // What the publisher had stored past it was lost: the sequences the broker
                // hands out again are not out of order.
                Ok(Some(last)) => publisher.stream_ends_at(last),
                Ok(None) => {}
                Err(failure) => {
                    failures.push(failure);
                    break;
                }
            }
            // The first events of the orders in flight, in case the broker lost any.
            match publisher.reassert(&give_up).await {
                Ok(()) => {}
                // Lost again on the way: looked at again on the next turn, nothing dropped
                // (stopping admission here would end the run short of its orders, as a success).
                Err(nats::Unconfirmed::LinkLost) => {
                    link_lost = true;
                    continue;
                }
                Err(nats::Unconfirmed::GaveUp) => admitting = false,
            }
            // The broker may have forgotten the run's consumer, or the end of the stream:
            // read it again from the run's start (repeats are passed over).
            if reconnected {
                if let Some(reopened) = reopen(&stream, start + 1, &give_up).await {
                    events = reopened;
                }
            }
        }
        while admitting && observer.in_flight.len() < window {
            // The reader may wait for its source: off the runtime's own threads where there
            // are others (block_in_place panics on a current-thread runtime, as a
            // #[tokio::test]'s: there the reader's wait holds the run).
            let next = if multi_thread {
                tokio::task::block_in_place(|| orders.next())
            } else {
                orders.next()
            };
            let Some(order) = next else {
                admitting = false;
                break;
            };
            read += 1;
            if !warned_at_ms && order.at_ms().is_some() {
                warned_at_ms = true;
                tracing::warn!(
                    "order {} has `at_ms`, which does not apply with --nats: orders go in as they are read, at most nats.in_flight at once (said once for the run)",
                    order.id()
                );
            }
            let (service, event) = C::start(&order, &config.choreography);
            let first = Envelope::<C> {
                seq: 0,
                at_us: nats::now_us(),
                id: EventId {
                    order_id: order.id(),
                    kind: C::kind(&event),
                },
                order_id: order.id(),
                service,
                cause: None,
                event,
            };
            // A string id's text is kept while its order is in flight (see `input::ids`).
            order.id().hold();
            observer.in_flight.insert(
                order.id(),
                InFlight {
                    arrived_us: first.at_us.saturating_sub(started_us),
                    kinds: Kinds::empty(),
                    seen: 0,
                },
            );
            if let Err(err) = publisher.send(&first).await {
                failures.push(transport(err));
                admitting = false;
            }
        }
        in_flight.store(observer.in_flight.len(), Ordering::Relaxed);
        progress.store(observer.observed + read, Ordering::Relaxed);
        match publisher.confirm(&give_up).await {
            Ok(repeats) if repeats.is_empty() => {}
            Ok(repeats) => {
                failures.push(Failure::Transport(format!(
                    "{} ran before on stream `{}` (the stream holds their first events already: {}): run them on a new stream, --set nats.stream=NAME",
                    crate::plural::Count(repeats.len() as u64, <C::Input as Record>::noun()),
                    settings.stream,
                    first_few(&repeats)
                )));
                break;
            }
            // The time limit or a second Ctrl-C: the wait below ends at once with it.
            Err(nats::Unconfirmed::GaveUp) => admitting = false,
            // Looked at once the client is connected again (the broker went away, most
            // often: a look sent before the client finds out is lost, and waited for).
            Err(nats::Unconfirmed::LinkLost) => {
                link_lost = true;
                let reconnected = connection.reconnected_since(connects);
                let _ = tokio::time::timeout(nats::LOOKED_WITHIN, reconnected).await;
                continue;
            }
        }
        in_flight.store(observer.in_flight.len(), Ordering::Relaxed);
        if observer.in_flight.is_empty() && !admitting {
            break;
        }
        progress.store(observer.observed + read, Ordering::Relaxed);
        let received = tokio::select! {
            biased;
            mut failure = halt.halted() => {
                if let Failure::Stalled { unfinished, .. } = &mut failure {
                    unfinished.extend(observer.in_flight.keys().copied());
                    unfinished.sort_unstable();
                }
                failures.push(failure);
                break;
            }
            () = interrupt.everything.cancelled() => {
                failures.push(Failure::Interrupted { not_admitted: 0 });
                break;
            }
            () = interrupt.admitting.cancelled(), if admitting => {
                admitting = false;
                continue;
            }
            () = &mut deadline => {
                let mut unfinished: Vec<InstanceId> =
                    observer.in_flight.keys().copied().collect();
                unfinished.sort_unstable();
                failures.push(Failure::TimeLimit {
                    limit: config.run.time_limit,
                    unfinished,
                    not_admitted: 0,
                    stall: Default::default(),
                });
                break;
            }
            // A reconnect, noticed while nothing arrives.
            () = connection.reconnected_since(connects) => continue,
            () = tokio::time::sleep(SILENT_READER) => {
                if let Some(reopened) = behind(&stream, observer.read_upto, &give_up).await {
                    events = reopened;
                }
                continue;
            }
            received = events.next() => received,
        };
        let mut next = Some(received);
        // This message, then whatever else has arrived, before admitting more.
        while let Some(received) = next.take() {
            let message = match received {
                Some(Ok(message)) => message,
                Some(Err(err)) => {
                    // The broker restarted, say, and forgot the consumer: read on from the
                    // last event observed with a new one.
                    tracing::warn!(%err, "observing the stream; reading on with a new consumer");
                    match reopen(&stream, start + 1, &give_up).await {
                        Some(reopened) => events = reopened,
                        None => continue,
                    }
                    break;
                }
                None => {
                    match reopen(&stream, start + 1, &give_up).await {
                        Some(reopened) => events = reopened,
                        None => continue,
                    }
                    break;
                }
            };
            if let Err(failure) = observer.observe(&message, sink) {
                failures.push(failure);
                break;
            }
            if observer.in_flight.is_empty() {
                break;
            }
            next = events.next().now_or_never();
        }
        if !failures.is_empty() {
            break;
        }
    }
    if interrupt.admitting.is_cancelled() && failures.is_empty() {
        // The admitted orders finished; the rest was not read.
        failures.push(Failure::Interrupted { not_admitted: 0 });
    }
    failures.extend(observer.invariants.at_end());
    if let Err(err) = sink.finish() {
        failures.push(Failure::Output(err));
    }
    let mut summary = observer.summary;
    summary.orders = read;
    summary.events = observer.observed;
    summary.unfinished = read - summary.finished();
    summary.orders_per_second = summary.throughput();
    // Give the client a moment to send what it buffered (there is nothing to wait for).
    let _ = tokio::time::timeout(Duration::from_secs(1), context.client().flush()).await;
    if failures.is_empty() {
        Ok(summary)
    } else {
        Err(RunFailed { summary, failures })
    }
}

/// The first few of `ids`, and how many more.
fn first_few(ids: &[String]) -> String {
    const SHOWN: usize = 5;
    let shown = ids[..ids.len().min(SHOWN)].join(", ");
    match ids.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// The run's view of the stream: the orders in flight, and the summary folded from the
/// events observed.
struct Observer<C: Choreography> {
    in_flight: HashMap<InstanceId, InFlight<C>>,
    summary: Summary<C>,
    observed: u64,
    /// The stream sequence of the last message read (see [`SILENT_READER`]).
    read_upto: u64,
    started_us: u64,
    /// The stream's settings: its name for warnings, its subjects.
    settings: crate::engine::config::NatsConfig,
    /// The subject of the stream's record (see [`nats::Agreement`]), skipped as read.
    record: String,
    /// The choreography's invariants over the run's own orders, checked in stream order as
    /// in process (`run.invariants`).
    invariants: Watch<C>,
    /// The last [`KEPT`] messages read, as read: what the run puts back of a stream that
    /// lost its tail (see [`Observer::put_back`]).
    kept: VecDeque<Kept>,
}

/// Why the stream does not hold a message as the run observed it.
enum Unkept {
    /// It holds another message at that sequence.
    Other(String),
    /// It holds nothing there (a put back that was not stored), or cannot be read back.
    Unread(String),
}

/// A message of the stream as the run read it.
struct Kept {
    seq: u64,
    subject: async_nats::Subject,
    headers: Option<async_nats::HeaderMap>,
    payload: bytes::Bytes,
}

/// How many of the last messages read the run keeps, to put back what a broker lost (see
/// [`Observer::put_back`]): about 24 MiB of the shop's events (a run of 20,000 orders
/// peaked at 39.9 MiB, against 15.4 without), and what a broker writes in 2 s or more at
/// this machine's pace.
const KEPT: usize = 65_536;

/// How many times putting back is begun again while a message put back is not stored, and
/// a message is read back while the broker does not answer.
const PUT_BACK_TRIES: u32 = 5;

/// How many messages being put back are on the way at once (see [`Observer::put_back`]).
const PUT_BACK_AT_ONCE: usize = 256;

/// Watches, while orders are in flight, that the services read the stream, and says so
/// when they do not for [`UNREAD`] (once, until one reads again): a run with no `choreo
/// serve` behind it would otherwise wait out its time limit without a word. A service reads
/// when its durable consumer delivers further, or has nothing left to deliver.
async fn watch_readers<C: Choreography>(
    stream: async_nats::jetstream::stream::Stream,
    name: String,
    in_flight: Arc<AtomicUsize>,
) {
    struct Reader {
        service: &'static str,
        consumer: String,
        /// The last stream sequence its consumer delivered, once looked at.
        delivered: Option<u64>,
        read_at: Instant,
        warned: bool,
    }
    let now = Instant::now();
    let mut readers: Vec<Reader> = C::Service::ALL
        .iter()
        .map(|service| Reader {
            service: service.name(),
            consumer: format!("{name}_{}", service.key()),
            delivered: None,
            read_at: now,
            warned: false,
        })
        .collect();
    let mut none_warned = false;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let idle = in_flight.load(Ordering::Relaxed) == 0;
        for reader in &mut readers {
            let reading = match stream.consumer_info(&reader.consumer).await {
                Ok(info) => {
                    let seq = info.delivered.stream_sequence;
                    let further = reader.delivered.is_some_and(|before| seq > before);
                    reader.delivered = Some(seq);
                    further || (info.num_pending == 0 && info.num_ack_pending == 0)
                }
                // No consumer (no service ever served this stream), or no broker: not read.
                Err(_) => false,
            };
            if reading || idle {
                (reader.read_at, reader.warned) = (now, false);
            }
        }
        let unread = |reader: &Reader| now.duration_since(reader.read_at) >= UNREAD;
        if readers.iter().all(unread) {
            if !none_warned {
                none_warned = true;
                tracing::warn!(
                    "no service has read stream `{name}` for {} s: is choreo serve running? --spawn-services starts them",
                    UNREAD.as_secs()
                );
            }
            continue;
        }
        none_warned = false;
        for reader in readers.iter_mut().filter(|reader| !reader.warned) {
            if now.duration_since(reader.read_at) >= UNREAD {
                reader.warned = true;
                tracing::warn!(
                    "{} has not read stream `{name}` for {} s while others have: is its choreo serve running?",
                    reader.service,
                    UNREAD.as_secs()
                );
            }
        }
    }
}

/// Halts the run once what it stands on has gone (see [`nats::what_is_gone`]): its orders
/// could not finish, and the services stop on it too.
async fn watch_for_loss(
    context: async_nats::jetstream::Context,
    settings: crate::engine::config::NatsConfig,
    created: async_nats::datetime::DateTime,
    halt: Halt,
) {
    let mut looks = nats::Looks::default();
    loop {
        tokio::time::sleep(nats::WATCHED_EVERY).await;
        let gone = nats::what_is_gone(&context, &settings, created).await;
        if let Some(what) = looks.found(gone) {
            halt.halt(Failure::Transport(format!(
                "{what}: {}",
                nats::HISTORY_GONE
            )));
            return;
        }
    }
}

/// Halts the run once `progress` (events observed and orders admitted) has not moved for
/// `quiet` while orders are in flight (`nats.stall_timeout`): whatever the run waits on then
/// (an event, the broker's acknowledgement, the broker itself) gives up too.
async fn watch_for_stalls(
    progress: Arc<AtomicU64>,
    in_flight: Arc<AtomicUsize>,
    quiet: Duration,
    halt: Halt,
) {
    let look_every = (quiet / 4).min(Duration::from_secs(1));
    let mut since = (
        progress.load(Ordering::Relaxed),
        tokio::time::Instant::now(),
    );
    loop {
        tokio::time::sleep(look_every).await;
        let now = progress.load(Ordering::Relaxed);
        if now != since.0 || in_flight.load(Ordering::Relaxed) == 0 {
            since = (now, tokio::time::Instant::now());
        } else if since.1.elapsed() >= quiet {
            halt.halt(Failure::Stalled {
                quiet,
                unfinished: Vec::new(),
            });
            return;
        }
    }
}

/// The stream's events from `start_sequence` on, in order.
async fn observe_from(
    stream: &async_nats::jetstream::stream::Stream,
    start_sequence: u64,
) -> Result<pull::Ordered, NatsError> {
    stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence },
            ..Default::default()
        })
        .await
        .map_err(NatsError::broker)?
        .messages()
        .await
        .map_err(NatsError::broker)
}

/// How long the run's consumer may deliver nothing, with orders in flight, before the run
/// looks whether the stream holds more than it has read. The consumer of a node that died
/// (a cluster's, say) can fall silent for good: async-nats's ordered consumer notices a
/// first missed heartbeat and then waits for a wake-up that never comes, so the run would
/// stall to `nats.stall_timeout` with every order's last event in the stream (found by the
/// cluster test, 1 run in 3).
const SILENT_READER: Duration = Duration::from_secs(3);

/// A new consumer from the first message after `read_upto`, if the stream holds messages
/// past it (the run's consumer fell silent; see [`SILENT_READER`]); `None` if it does not,
/// or the broker does not answer (looked at again later).
async fn behind(
    stream: &async_nats::jetstream::stream::Stream,
    read_upto: u64,
    give_up: &CancellationToken,
) -> Option<pull::Ordered> {
    let last = stream.get_info().await.ok()?.state.last_sequence;
    if last <= read_upto {
        return None;
    }
    tracing::warn!(
        read = read_upto,
        last,
        "the run's consumer delivers nothing while the stream holds more: reading on with a new one"
    );
    reopen(stream, read_upto + 1, give_up).await
}

/// [`observe_from`], tried until the broker answers (the run's time limit still holds: the
/// caller's next wait is on it too).
async fn reopen(
    stream: &async_nats::jetstream::stream::Stream,
    start_sequence: u64,
    give_up: &CancellationToken,
) -> Option<pull::Ordered> {
    let mut backoff = nats::Backoff::starting_at(Duration::from_millis(100));
    loop {
        // A broker that restarted without its last messages numbers new ones from the end
        // of what it kept: read on from there.
        let start_sequence = match stream.get_info().await {
            Ok(info) if info.state.last_sequence + 1 < start_sequence => {
                tracing::warn!(
                    kept = info.state.last_sequence,
                    observed = start_sequence - 1,
                    "the broker lost the end of the stream; reading on from what it kept"
                );
                info.state.last_sequence + 1
            }
            _ => start_sequence,
        };
        match observe_from(stream, start_sequence).await {
            Ok(events) => return Some(events),
            Err(err) => {
                tracing::warn!(%err, "cannot read the stream yet");
                backoff.wait(give_up).await.ok()?;
            }
        }
    }
}

impl<C: Choreography> Observer<C> {
    /// Puts back, as it read them, the messages the run observed past the stream's end: a
    /// broker restarted without its last messages (an OS crash; a kill loses nothing it
    /// acknowledged) numbers new ones from the end of what it kept. What the run observed,
    /// wrote out and counted is then what the stream holds again, at the same sequences
    /// (each put back on the condition that the one before it is the stream's last), and the
    /// services that had read it go on from where they were (see `serve`). `Err` if the
    /// stream no longer holds what the run observed and it cannot be put back (lost beyond
    /// what the run keeps, or something else stored there first): the run's view would no
    /// longer be the stream's, so it fails rather than go on with it. `Ok` with the stream's
    /// last sequence once it holds what the run observed; `Ok(None)` if `give_up` fires first.
    async fn put_back(
        &self,
        connection: &nats::Connection,
        stream: &async_nats::jetstream::stream::Stream,
        give_up: &CancellationToken,
    ) -> Result<Option<u64>, Failure> {
        let mut backoff = nats::Backoff::starting_at(Duration::from_millis(50));
        let mut tries = 0;
        loop {
            let look = tokio::select! {
                biased;
                () = give_up.cancelled() => return Ok(None),
                look = connection.last_sequence(stream) => look,
            };
            let last = match look {
                Ok(last) => last,
                Err(err) => {
                    tracing::debug!(%err, "looking at the stream's end");
                    if backoff.wait(give_up).await.is_err() {
                        return Ok(None);
                    }
                    continue;
                }
            };
            let why = match self
                .put_back_after(last, &connection.context, stream, give_up)
                .await
            {
                Ok(()) => return Ok(Some(last.max(self.read_upto))),
                // Not stored, and nothing else in its place: begun again from the stream's end.
                Err(Unkept::Unread(why)) if tries < PUT_BACK_TRIES => {
                    tracing::warn!(%why, "putting back the stream's tail: trying again");
                    tries += 1;
                    if backoff.wait(give_up).await.is_err() {
                        return Ok(None);
                    }
                    continue;
                }
                Err(Unkept::Other(why) | Unkept::Unread(why)) => why,
            };
            return Err(Failure::Transport(format!(
                "the broker lost stream `{}`'s messages after sequence {last}, which the run had observed up to {}, and {why}: the run's view is no longer the stream's",
                self.settings.stream, self.read_upto
            )));
        }
    }

    /// [`Observer::put_back`] onto a stream whose last message is `last`.
    async fn put_back_after(
        &self,
        last: u64,
        context: &async_nats::jetstream::Context,
        stream: &async_nats::jetstream::stream::Stream,
        give_up: &CancellationToken,
    ) -> Result<(), Unkept> {
        let from = last + 1;
        let Some(first) = self.kept.iter().find(|kept| kept.seq >= from) else {
            // Nothing observed past the end. What the run read last must still be there.
            return match self.kept.back() {
                Some(newest) => match self.is_kept(stream, newest, give_up).await {
                    // The broker cannot say now: the stream's end held what was read.
                    Err(Unkept::Unread(_)) => Ok(()),
                    held => held,
                },
                None => Ok(()),
            };
        };
        // What the stream holds at its new end must be what the run observed there: something
        // stored there since the loss (a service that saw nothing of it, sending again at
        // once) would be replaced unseen by what is put back after it.
        if let Some(at_the_end) = self.kept.iter().rev().find(|kept| kept.seq == last) {
            self.is_kept(stream, at_the_end, give_up).await?;
        }
        if first.seq > from || self.kept.front().is_some_and(|oldest| oldest.seq > from) {
            return Err(Unkept::Other(format!(
                "the run keeps its last {KEPT} messages only, from sequence {}",
                first.seq
            )));
        }
        tracing::warn!(
            stream = %self.settings.stream,
            kept = last,
            observed = self.read_upto,
            "the broker lost the end of the stream: putting back the messages the run observed past it"
        );
        // Many on the way at once, a bounded number: the client holds each publish until its
        // acknowledgement is awaited.
        let mut pending = VecDeque::new();
        let mut put_back = 0u64;
        for kept in self.kept.iter().filter(|kept| kept.seq >= from) {
            if pending.len() == PUT_BACK_AT_ONCE {
                if let Some((kept, sent)) = pending.pop_front() {
                    self.stored_at_its_sequence(stream, kept, sent, give_up)
                        .await?;
                    put_back += 1;
                }
            }
            let mut headers = kept.headers.clone().unwrap_or_default();
            headers.insert(
                "Nats-Expected-Last-Sequence",
                itoa::Buffer::new().format(kept.seq - 1),
            );
            let sent = context
                .publish_with_headers(kept.subject.clone(), headers, kept.payload.clone())
                .await;
            pending.push_back((kept, sent));
        }
        for (kept, sent) in pending {
            self.stored_at_its_sequence(stream, kept, sent, give_up)
                .await?;
            put_back += 1;
        }
        tracing::warn!(stream = %self.settings.stream, put_back, "put back what the broker lost of what the run observed");
        Ok(())
    }

    /// `Ok` once `kept`, put back (`sent`), is stored at its own sequence; why not otherwise.
    async fn stored_at_its_sequence(
        &self,
        stream: &async_nats::jetstream::stream::Stream,
        kept: &Kept,
        sent: Result<
            async_nats::jetstream::context::PublishAckFuture,
            async_nats::jetstream::context::PublishError,
        >,
        give_up: &CancellationToken,
    ) -> Result<(), Unkept> {
        let stored = match sent {
            Ok(ack) => ack.await.map(|ack| ack.sequence),
            Err(err) => Err(err),
        };
        let refused = match stored {
            Ok(seq) if seq == kept.seq => return Ok(()),
            Ok(seq) => format!("stored at {seq}"),
            Err(err) => err.to_string(),
        };
        // Refused (the one before it was not the last), or not acknowledged: whatever the
        // stream holds at its sequence must be this message.
        match self.is_kept(stream, kept, give_up).await {
            Err(Unkept::Unread(why)) => {
                // Where the stream holds its subject, if it does: the broker's own account.
                let held = match stream.get_last_raw_message_by_subject(&kept.subject).await {
                    Ok(held) => format!("at sequence {}", held.sequence),
                    Err(err) => format!("nowhere ({err})"),
                };
                Err(Unkept::Unread(format!(
                    "{why} (put back: {refused}; the stream holds its subject `{}` {held})",
                    kept.subject
                )))
            }
            kept => kept,
        }
    }

    /// `Ok` if the stream holds `kept` at its sequence; what it holds instead otherwise, or
    /// why it cannot be read (tried a few times: a broker just restarted may not answer).
    async fn is_kept(
        &self,
        stream: &async_nats::jetstream::stream::Stream,
        kept: &Kept,
        give_up: &CancellationToken,
    ) -> Result<(), Unkept> {
        let mut backoff = nats::Backoff::starting_at(Duration::from_millis(100));
        let mut tries = 0;
        loop {
            match stream.get_raw_message(kept.seq).await {
                Ok(held) if held.subject == kept.subject && held.payload == kept.payload => {
                    return Ok(())
                }
                Ok(held) => {
                    return Err(Unkept::Other(format!(
                        "sequence {} holds a message on `{}` now, not the one observed on `{}`",
                        kept.seq, held.subject, kept.subject
                    )))
                }
                Err(err) => {
                    tries += 1;
                    let missing = err.kind() == RawMessageErrorKind::NoMessageFound;
                    if missing || tries == PUT_BACK_TRIES || backoff.wait(give_up).await.is_err() {
                        return Err(Unkept::Unread(format!(
                            "sequence {} cannot be read back: {err}",
                            kept.seq
                        )));
                    }
                }
            }
        }
    }

    /// Takes one message of the stream: an event of an order in flight, seen for the first
    /// time, goes to `sink` and the summary, numbered in the order observed.
    fn observe(
        &mut self,
        message: &async_nats::jetstream::Message,
        sink: &mut (dyn EventSink<C> + Send),
    ) -> Result<(), Failure> {
        let seq = message.info().map(|info| info.stream_sequence).unwrap_or(0);
        if seq > self.read_upto {
            if self.kept.len() == KEPT {
                self.kept.pop_front();
            }
            self.kept.push_back(Kept {
                seq,
                // Copies: a clone would hold on to the buffer the client read it into.
                subject: message.subject.as_str().into(),
                headers: message.headers.clone(),
                payload: bytes::Bytes::copy_from_slice(&message.payload),
            });
        }
        self.read_upto = self.read_upto.max(seq);
        if *message.subject == self.record {
            // The stream's record of what it runs, not an event.
            return Ok(());
        }
        let decoded = nats::decode::<C>(&self.settings, &message.subject, &message.payload, seq);
        let mut envelope = match decoded {
            Ok(envelope) => envelope,
            Err(err) => {
                // Skipped, as every service skips it (see `serve`); the summary counts it.
                self.summary.foreign_messages += 1;
                nats::skipped(&self.settings.stream, seq, &format_args!("the run: {err}"));
                return Ok(());
            }
        };
        let Some(order) = self.in_flight.get_mut(&envelope.order_id) else {
            tracing::debug!(id = %envelope.id, "not an order in flight: passed over");
            return Ok(());
        };
        if order.kinds.contains(envelope.kind()) {
            tracing::debug!(id = %envelope.id, "a repeat: passed over");
            return Ok(());
        }
        order.kinds.insert(envelope.kind());
        order.seen += 1;
        let kinds = order.kinds;
        envelope.seq = self.observed;
        envelope.at_us = envelope.at_us.saturating_sub(self.started_us);
        self.observed += 1;
        self.summary.record(&envelope);
        sink.event(&envelope).map_err(Failure::Output)?;
        if order.seen > C::MAX_EVENTS {
            return Err(Failure::Protocol {
                order_id: envelope.order_id,
                problem: format!("more than {} events", C::MAX_EVENTS),
            });
        }
        if let Some(outcome) = envelope.outcome() {
            let finished = Finished {
                order_id: envelope.order_id,
                outcome,
                arrived_us: order.arrived_us,
                finished_us: envelope.at_us,
            };
            self.in_flight.remove(&envelope.order_id);
            envelope.order_id.release();
            self.summary.record_finished(&finished);
            sink.finished(&finished);
        }
        self.invariants.observe(&envelope, kinds)
    }
}
