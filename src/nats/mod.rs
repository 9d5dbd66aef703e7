//! The same services over NATS JetStream: each service its own process (`choreo serve`), a run
//! that injects the orders and observes the stream (`choreo run --nats`).
//!
//! Every event is a message in one stream (`<nats.stream>`), on a subject of its own
//! (`<nats.stream>.events.<instance>.<Kind>`, the instance's id as a [`token`]), its JSON
//! envelope as the payload. The stream holds at most one message per subject and refuses a
//! second (see [`stream()`]), so an event is stored once, however long after it is published
//! again. The stream's sequence is the bus sequence.
//! Each service reads every event through its own durable pull consumer, and handles them
//! strictly in stream order (see [`serve`]): that makes its state a function
//! of the stream, which is how it recovers.

mod instances;
pub mod run;
pub mod serve;
pub mod token;

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::context::{GetStreamErrorKind, PublishErrorKind};
use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::engine::config::NatsConfig;
use crate::engine::{Choreography, Envelope, EventId, Name};

/// The oldest server choreo runs on: 2.9 has everything used here (streams, durable pull
/// consumers, explicit acks, ordered consumers, and from 2.9.1 a stream that refuses a
/// second message on a subject).
pub const OLDEST_SERVER: (u64, u64) = (2, 9);

/// The first server with a consumer reset (ADR-60), which a service uses when it starts to
/// have what its consumer delivered before and nobody acknowledged delivered again at once.
pub const CONSUMER_RESET: (u64, u64) = (2, 14);

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("cannot reach a NATS server at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error(
        "the NATS server at {url} has no JetStream (start it with `nats-server -js`): {reason}"
    )]
    NoJetStream { url: String, reason: String },
    #[error("the NATS server at {url} is version {version}; choreo needs {}.{} or newer", OLDEST_SERVER.0, OLDEST_SERVER.1)]
    TooOld { url: String, version: String },
    #[error("NATS: {0}")]
    Broker(String),
    /// A request of the setting up (before any event is handled) that the broker failed:
    /// which one, and where, so the user knows what to look at.
    #[error("the NATS server at {url} failed the {step}: {reason}")]
    Setup {
        url: String,
        step: String,
        reason: String,
    },
    #[error("stream `{stream}` holds subjects {found}, not this choreo's ({wanted}): it was made by an older choreo, or by something else; run on a new stream (--set nats.stream=NAME)")]
    Layout {
        stream: String,
        found: String,
        wanted: String,
    },
    #[error("stream `{stream}` was started with another config than this one: {differences}. A change applies to new orders only, on a new stream: --set nats.stream=NAME")]
    Disagree { stream: String, differences: String },
    #[error("{service} is served already on stream `{stream}` (pid {pid}): two would share its consumer; stop that one first, or give this one another stream (--set nats.stream=NAME)")]
    Second {
        service: &'static str,
        stream: String,
        pid: u32,
    },
    #[error("a process serves {service} on stream `{stream}` already but has not answered for {waited:?} (stopped with SIGSTOP?): two would share its consumer; end that one first, or give this one another stream (--set nats.stream=NAME)")]
    Silent {
        service: &'static str,
        stream: String,
        waited: Duration,
    },
    /// What a service or a run stands on has gone (see [`what_is_gone`]).
    #[error("{what}: {remedy}")]
    Gone { what: String, remedy: &'static str },
    #[error("not an event of this choreography: {reason}")]
    Decode { seq: u64, reason: String },
    #[error("no service `{name}` in this choreography; one of: {known}")]
    UnknownService { name: String, known: String },
    #[error("{service} published {kind}, which it does not declare in PUBLISHES")]
    Undeclared {
        service: &'static str,
        kind: &'static str,
    },
    #[error(transparent)]
    Spawn(#[from] crate::engine::SpawnError),
}

impl NatsError {
    fn broker(err: impl std::fmt::Display) -> Self {
        NatsError::Broker(err.to_string())
    }

    /// Whether the broker failed a request for a reason that passes: it timed out, nothing
    /// answered for JetStream yet, or JetStream said it is briefly unavailable (a cluster
    /// electing a leader, or a stream it has just made not yet known to every node). A refusal
    /// (a stream's subjects taken, say) does not pass.
    pub fn passes(&self) -> bool {
        let (NatsError::Broker(reason) | NatsError::Setup { reason, .. }) = self else {
            return false;
        };
        // "no stream found" too: a stream just made on a cluster is not yet known to every
        // node for a moment.
        [
            "timed out",
            "no responders",
            "code 503",
            "temporarily unavailable",
            "no stream found",
        ]
        .iter()
        .any(|passing| reason.contains(passing))
    }

    /// This error as one of setting up: a broker's error named with its `url` and the
    /// `step` it failed (other errors as they are).
    pub fn during(self, url: &str, step: impl std::fmt::Display) -> Self {
        match self {
            NatsError::Broker(reason) => NatsError::Setup {
                url: url.to_owned(),
                step: step.to_string(),
                reason,
            },
            other => other,
        }
    }
}

/// A connection to the broker.
#[derive(Debug, Clone)]
pub struct Connection {
    pub context: jetstream::Context,
    /// The client's connection as [`watch_link`] keeps it: a publisher waiting for an
    /// acknowledgement learns from it that the connection its message went out on is gone
    /// (and the acknowledgement with it), a service or a run that the client has connected
    /// again.
    link: watch::Receiver<Link>,
}

/// How many times the client has connected (the first time included), and whether it is
/// connected now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Link {
    connects: u64,
    connected: bool,
}

impl Link {
    fn of(client: &async_nats::Client) -> Link {
        Link {
            connects: client.statistics().connects.load(Ordering::Relaxed),
            connected: client.connection_state() == async_nats::connection::State::Connected,
        }
    }
}

/// The longest wait between two tries at reconnecting. async-nats doubles its wait up to 4 s,
/// so a broker back after a second's absence was found up to a second or two late; a try on
/// a loopback or local network costs next to nothing.
const RECONNECT_AT_LEAST_EVERY: Duration = Duration::from_millis(100);

/// How long a look at the stream's end waits for its answer (see
/// [`Connection::last_sequence`]).
pub const LOOKED_WITHIN: Duration = Duration::from_secs(1);

/// How often [`watch_link`] looks at the client's connection without being told to.
const LINK_CHECKED_EVERY: Duration = Duration::from_millis(50);

impl Connection {
    /// How many times the client has connected so far: it goes up when it reconnects (the
    /// broker restarted, say).
    pub fn connects(&self) -> u64 {
        self.link.borrow().connects
    }

    /// Whether the client is connected to the broker now.
    pub fn connected(&self) -> bool {
        self.link.borrow().connected
    }

    /// Returns once the client has connected again since it had connected `connects` times.
    pub async fn reconnected_since(&self, connects: u64) {
        self.until(|link| link.connects != connects).await;
    }

    /// Returns once the client is connected.
    pub async fn up(&self) {
        self.until(|link| link.connected).await;
    }

    /// The stream's last sequence, asked once the client is connected, within
    /// [`LOOKED_WITHIN`]: a request sent just as the connection goes down is lost, and would
    /// otherwise be waited for up to the client's timeout (`nats.connect_timeout`).
    pub async fn last_sequence(&self, stream: &stream::Stream) -> Result<u64, NatsError> {
        self.up().await;
        match tokio::time::timeout(LOOKED_WITHIN, stream.get_info()).await {
            Ok(info) => Ok(info.map_err(NatsError::broker)?.state.last_sequence),
            Err(_) => Err(NatsError::Broker(format!(
                "the stream's end: no answer within {LOOKED_WITHIN:?}"
            ))),
        }
    }

    async fn until(&self, condition: impl FnMut(&Link) -> bool) {
        let mut link = self.link.clone();
        if link.wait_for(condition).await.is_err() {
            // The watch has ended, which it does only once no connection is left to ask.
            std::future::pending::<()>().await;
        }
    }

    /// Whether the server the client is connected to is at least version `(major, minor)`.
    pub fn server_at_least(&self, version: (u64, u64)) -> bool {
        at_least(&self.context.client().server_info().version, version)
    }
}

/// Keeps `link` up to date with `client`'s connection until nobody watches it: at each event
/// of the client (`nudged`), and every [`LINK_CHECKED_EVERY`] besides, since async-nats drops
/// events when its queue of them is full (a flood of slow-consumer reports after a pause
/// fills it). The counts are the client's own, never the events'.
async fn watch_link(client: async_nats::Client, link: watch::Sender<Link>, nudged: Arc<Notify>) {
    loop {
        tokio::select! {
            () = link.closed() => return,
            () = nudged.notified() => {}
            () = tokio::time::sleep(LINK_CHECKED_EVERY) => {}
        }
        let now = Link::of(&client);
        link.send_if_modified(|was| std::mem::replace(was, now) != now);
    }
}

/// A connection to the broker at `url` with JetStream, of a version choreo runs on; an error
/// within `nats.connect_timeout` otherwise, never a wait for a broker that is not there (one
/// whose JetStream did not answer in time [`passes`](NatsError::passes): see [`patiently`]).
/// `url` may name several servers of a cluster, separated by commas: the client connects to
/// one and, when it goes away, to another.
pub async fn connect(url: &str, config: &NatsConfig) -> Result<Connection, NatsError> {
    let connection = open(url, config, Reconnect::Always).await?;
    let version = connection.context.client().server_info().version;
    if !at_least(&version, OLDEST_SERVER) {
        return Err(NatsError::TooOld {
            url: url.to_owned(),
            version,
        });
    }
    // Any JetStream request tells whether the server has it: this one asks for the stream.
    // A server without JetStream has no responder for it; one whose JetStream is busy (a
    // cluster electing a leader, or loaded) may not answer in time, which passes (callers
    // ask again `patiently`).
    match connection.context.get_stream(&config.stream).await {
        Ok(_) => Ok(connection),
        Err(err) if matches!(err.kind(), GetStreamErrorKind::JetStream(_)) => Ok(connection),
        Err(err) if timed_out(&err) => Err(NatsError::broker(err)
            .during(url, "lookup of the stream, to see that JetStream is there")),
        Err(err) => Err(NatsError::NoJetStream {
            url: url.to_owned(),
            reason: err.to_string(),
        }),
    }
}

/// Whether `err` is a request that timed out.
fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = err.source();
    while let Some(err) = cause {
        if err
            .downcast_ref::<async_nats::RequestError>()
            .is_some_and(|err| err.kind() == async_nats::RequestErrorKind::TimedOut)
        {
            return true;
        }
        cause = err.source();
    }
    false
}

/// How long setting up (the stream, its record, the consumers) is tried again while the
/// broker fails it for a reason that passes: a cluster electing a leader after losing a node
/// takes seconds, during which requests time out or JetStream says it is unavailable.
pub const SET_UP_PATIENCE: Duration = Duration::from_secs(30);

/// `set_up`, tried again while it fails for a reason that passes (see
/// [`NatsError::passes`]), for up to [`SET_UP_PATIENCE`]; at once for one that will not
/// (unreachable, refused, disagreeing). `None` if `stop` fires first.
pub async fn patiently<T, Step>(
    stop: &CancellationToken,
    mut set_up: impl FnMut() -> Step,
) -> Option<Result<T, NatsError>>
where
    Step: std::future::Future<Output = Result<T, NatsError>>,
{
    let started = tokio::time::Instant::now();
    let mut backoff = Backoff::starting_at(Duration::from_millis(100));
    loop {
        let done = tokio::select! {
            biased;
            () = stop.cancelled() => return None,
            done = set_up() => done,
        };
        match done {
            Err(err) if err.passes() && started.elapsed() < SET_UP_PATIENCE => {
                tracing::warn!(%err, "setting up: trying again");
                backoff.wait(stop).await.ok()?;
            }
            done => return Some(done),
        }
    }
}

/// What a client does when its connection is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reconnect {
    /// Connects again, for as long as it takes: the broker may be restarting.
    Always,
    /// Never connects again: what was queued on it is never sent. A [`Publisher`] needs that
    /// (see [`Publisher::confirm`]).
    Never,
}

/// How long a client waits before its `attempts`th try to connect again: at once, then at
/// least every [`RECONNECT_AT_LEAST_EVERY`] (async-nats's own waits grow to seconds).
fn reconnect_delay(attempts: usize) -> Duration {
    match attempts {
        0 | 1 => Duration::ZERO,
        _ => Duration::from_millis(1 << attempts.min(16)).min(RECONNECT_AT_LEAST_EVERY),
    }
}

/// The servers `urls` names, separated by commas (`nats://a:4222,nats://b:4222`).
fn servers(urls: &str) -> Result<Vec<async_nats::ServerAddr>, NatsError> {
    urls.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            url.parse::<async_nats::ServerAddr>()
                .map_err(|err| NatsError::Connect {
                    url: url.to_owned(),
                    reason: format!("not a server address: {err}"),
                })
        })
        .collect()
}

/// A client connected to one of the servers `url` names, within `nats.connect_timeout`.
async fn open(
    url: &str,
    config: &NatsConfig,
    reconnect: Reconnect,
) -> Result<Connection, NatsError> {
    let nudged = Arc::new(Notify::new());
    let nudge = Arc::clone(&nudged);
    let connect_error = |reason: String| NatsError::Connect {
        url: url.to_owned(),
        reason,
    };
    // Set once the first connection is made: from then on, a client that never reconnects
    // waits "forever" (until the process ends) before its next try.
    let connected = Arc::new(AtomicBool::new(false));
    let once = Arc::clone(&connected);
    let options = async_nats::ConnectOptions::new()
        .connection_timeout(config.connect_timeout)
        .max_reconnects(None)
        .reconnect_delay_callback(move |attempts| {
            if reconnect == Reconnect::Never && once.load(Ordering::Relaxed) {
                return NEVER;
            }
            reconnect_delay(attempts)
        })
        .event_callback(move |event| {
            if matches!(
                event,
                async_nats::Event::Connected | async_nats::Event::Disconnected
            ) {
                nudge.notify_one();
            }
            async move {
                tracing::debug!(%event, "broker");
            }
        });
    let client = tokio::time::timeout(
        config.connect_timeout,
        async_nats::connect_with_options(servers(url)?, options),
    )
    .await
    .map_err(|_| connect_error(format!("no answer within {:?}", config.connect_timeout)))?
    .map_err(|err| connect_error(err.to_string()))?;
    connected.store(true, Ordering::Relaxed);
    let (tell, link) = watch::channel(Link::of(&client));
    tokio::spawn(watch_link(client.clone(), tell, nudged));
    let mut context = jetstream::new(client);
    context.set_timeout(config.connect_timeout);
    Ok(Connection { context, link })
}

/// A plain client of one of the servers `url` names, which the server never sends what it
/// publishes itself (`no_echo`): a request on a subject it subscribes to as well is then
/// answered "no responders" at once when nobody else subscribes (see `serve`'s
/// `the_only_instance`). It connects again for as long as it takes, and as soon, as
/// [`connect`]'s does: an instance's answers must be back with its work, or a second one
/// started just after a broker restart would hear nobody.
pub async fn client_without_echo(
    url: &str,
    config: &NatsConfig,
) -> Result<async_nats::Client, NatsError> {
    let options = async_nats::ConnectOptions::new()
        .no_echo()
        .connection_timeout(config.connect_timeout)
        .max_reconnects(None)
        .reconnect_delay_callback(reconnect_delay);
    tokio::time::timeout(
        config.connect_timeout,
        async_nats::connect_with_options(servers(url)?, options),
    )
    .await
    .map_err(|_| NatsError::Connect {
        url: url.to_owned(),
        reason: format!("no answer within {:?}", config.connect_timeout),
    })?
    .map_err(|err| NatsError::Connect {
        url: url.to_owned(),
        reason: err.to_string(),
    })
}

/// "Forever", as a wait before a client that never reconnects tries again: a year, within
/// what Tokio's timers take (about 2 years).
const NEVER: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Whether `version` (`2.9.10`) is at least `(major, minor)`.
fn at_least(version: &str, (major, minor): (u64, u64)) -> bool {
    let mut parts = version
        .split(['.', '-'])
        .map(|part| part.parse::<u64>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

/// The subjects of the stream's events: each event on a subject of its own,
/// `<stream>.events.<instance>.<Kind>` (see [`subject_of`]).
pub fn events(config: &NatsConfig) -> String {
    format!("{}.events.>", config.stream)
}

/// The subject of the event `id`: its instance and its kind. An instance has at most one
/// event of each kind, so the subject holds at most one message, ever: the stream refuses a
/// second one (see [`stream()`]), so an event is stored at most once, however long after, not
/// only within a broker's duplicate window.
pub fn subject_of<K: Name>(config: &NatsConfig, id: &EventId<K>) -> String {
    let mut subject = format!("{}.events.", config.stream);
    push_message_id(&mut subject, id);
    subject
}

/// The event `id` as its subject ends: `<instance>.<Kind>`, the instance's id as a
/// [`token`]; for a number, the event id itself (`17.OrderCreated`). Also its
/// `Nats-Msg-Id`, on a stream that needs one (see [`Publisher::send`]).
fn push_message_id<K: Name>(out: &mut String, id: &EventId<K>) {
    token::push_token(out, id.order_id);
    out.push('.');
    out.push_str(id.kind.name());
}

/// Whether `subject` is [`subject_of`]`(config, id)`, without making that string: every
/// message read is checked so.
fn is_subject_of<K: Name>(config: &NatsConfig, subject: &str, id: &EventId<K>) -> bool {
    subject
        .strip_prefix(config.stream.as_str())
        .and_then(|rest| rest.strip_prefix(".events."))
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(instance, kind)| {
            kind == id.kind.name()
                && match id.order_id.number() {
                    Some(n) => instance == itoa::Buffer::new().format(n),
                    None => instance == token::token(id.order_id),
                }
        })
}

/// The subject of the stream's one record of what it runs (see [`Agreement`]).
pub fn record_subject(config: &NatsConfig) -> String {
    format!("{}.config", config.stream)
}

/// The stream, created with file storage and `nats.replicas` copies if it does not exist yet;
/// an error if a stream of that name exists with other subjects (made by an older choreo,
/// whose events were all on `<stream>.events`, or by something else): its consumers would
/// miss events. One that exists keeps its own number of copies (changing it is the
/// operator's call, with `nats stream edit`): a different `nats.replicas` is warned about.
pub async fn stream(
    context: &jetstream::Context,
    config: &NatsConfig,
) -> Result<stream::Stream, NatsError> {
    let subjects = vec![events(config), record_subject(config)];
    let made = context
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: subjects.clone(),
            storage: stream::StorageType::File,
            duplicate_window: config.duplicate_window,
            num_replicas: config.replicas,
            // One message per subject, ever: a second is refused, whoever sends it and
            // however late (see `Publisher`).
            max_messages_per_subject: 1,
            discard: stream::DiscardPolicy::New,
            discard_new_per_subject: true,
            ..Default::default()
        })
        .await;
    let stream = match made {
        Ok(stream) => stream,
        // Made by another (a service, the run) at the same moment, which nats-server 2.9
        // refuses as subjects that overlap: the stream is there now.
        Err(err) => context
            .get_stream(&config.stream)
            .await
            .map_err(|_| NatsError::broker(err))?,
    };
    let found = &stream.cached_info().config.subjects;
    if *found != subjects {
        return Err(NatsError::Layout {
            stream: config.stream.clone(),
            found: found.join(", "),
            wanted: subjects.join(", "),
        });
    }
    let replicas = stream.cached_info().config.num_replicas;
    if replicas != config.replicas {
        tracing::warn!(
            "stream `{}` has {replicas} replicas, not nats.replicas = {}: it existed already, and keeps its own",
            config.stream,
            config.replicas
        );
    }
    Ok(stream)
}

/// Whether `stream` refuses a second message on a subject (made so by [`stream()`]). One made
/// by an earlier choreo does not: events published to it carry the condition that their
/// subject is empty (`Nats-Expected-Last-Subject-Sequence: 0`) and their id
/// (`Nats-Msg-Id`) instead, which costs the broker about a quarter more CPU per event.
pub fn one_per_subject(stream: &stream::Stream) -> bool {
    let config = &stream.cached_info().config;
    config.discard_new_per_subject && config.max_messages_per_subject == 1
}

/// What to do once the stream's history is gone (see [`what_is_gone`]).
pub const HISTORY_GONE: &str = "the services' state is the fold of the whole stream, so none can be rebuilt from what is left; run on a new stream (--set nats.stream=NAME)";

/// How often a service and a run look that what they stand on is still there.
pub const WATCHED_EVERY: Duration = Duration::from_secs(1);

/// How many looks in a row must find something gone before it is believed: a nats-server
/// 2.9 just restarted answers "stream not found" for a moment while it loads its streams.
pub const GONE_AFTER_LOOKS: u32 = 5;

/// Counts looks in a row that found something gone; `Some` once [`GONE_AFTER_LOOKS`] did.
#[derive(Debug, Default)]
pub struct Looks(u32);

impl Looks {
    /// Takes the latest look's finding into account.
    pub fn found<T>(&mut self, gone: Option<T>) -> Option<T> {
        match gone {
            Some(gone) => {
                self.0 += 1;
                (self.0 >= GONE_AFTER_LOOKS).then_some(gone)
            }
            None => {
                self.0 = 0;
                None
            }
        }
    }
}

/// What has gone of the stream `config` names since it was made (at `created`): deleted,
/// deleted and made anew, purged, or messages deleted from it. The services' state is the
/// fold of the whole stream, so none can be rebuilt from what is left. `None` while it is
/// all there, or while the broker does not answer (it may be restarting).
pub async fn what_is_gone(
    context: &jetstream::Context,
    config: &NatsConfig,
    created: async_nats::datetime::DateTime,
) -> Option<String> {
    let name = &config.stream;
    let stream = match context.get_stream(name).await {
        Ok(stream) => stream,
        Err(err) => {
            return match err.kind() {
                GetStreamErrorKind::JetStream(err)
                    if err.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
                {
                    Some(format!("stream `{name}` was deleted"))
                }
                _ => None,
            }
        }
    };
    let info = stream.cached_info();
    let state = &info.state;
    if info.created != created {
        Some(format!("stream `{name}` was deleted and made anew"))
    } else if state.first_sequence > 1 {
        Some(format!(
            "stream `{name}` was purged: its first message is now {}, the events before it are gone",
            state.first_sequence
        ))
    } else {
        state
            .deleted_count
            .filter(|deleted| *deleted > 0)
            .map(|deleted| match deleted {
                1 => format!("1 message was deleted from stream `{name}`"),
                _ => format!("{deleted} messages were deleted from stream `{name}`"),
            })
    }
}

/// What the services and the runs on a stream must agree on, since the stream's events were
/// decided with it: the choreography, and every setting its decisions depend on (its own
/// tables, and the seed its services draw from). The first to start on a stream records it
/// there (`<stream>.config`); each later one compares its own and is refused if they differ,
/// naming the keys. A service that decided under another config would publish decisions that
/// contradict the stored ones (charge an order declined long before). A change applies to new
/// orders only on a new stream (`--set nats.stream=NAME`).
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    record: serde_json::Value,
}

impl Agreement {
    /// The agreement of choreography `C` under the effective config `effective` (every key,
    /// as `choreo config` prints it) and the seed `seed` (`--seed`, or the config's).
    pub fn of<C: Choreography>(effective: &toml::Table, seed: u64) -> Agreement {
        let mut record = serde_json::Map::new();
        record.insert("choreography".to_owned(), C::NAME.into());
        for key in C::CONFIG_KEYS {
            if let Some(value) = effective.get(*key) {
                record.insert((*key).to_owned(), to_json(value));
            }
        }
        record.insert("simulation".to_owned(), serde_json::json!({ "seed": seed }));
        Agreement {
            record: record.into(),
        }
    }

    /// The keys whose values differ between `self` and `other`, each with both values
    /// (`key: here vs there`).
    fn differences(&self, stored: &serde_json::Value) -> Vec<String> {
        let (mut here, mut there) = (Vec::new(), Vec::new());
        flatten("", &self.record, &mut here);
        flatten("", stored, &mut there);
        let there: std::collections::BTreeMap<_, _> = there.into_iter().collect();
        let here: std::collections::BTreeMap<_, _> = here.into_iter().collect();
        let mut keys: Vec<&String> = here.keys().chain(there.keys()).collect();
        keys.sort();
        keys.dedup();
        let none = "(not set)".to_owned();
        keys.into_iter()
            .filter(|key| here.get(*key) != there.get(*key))
            .map(|key| {
                format!(
                    "`{key}` is {} on the stream, {} here",
                    there.get(key).unwrap_or(&none),
                    here.get(key).unwrap_or(&none)
                )
            })
            .collect()
    }
}

fn to_json(value: &toml::Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Every leaf of `value` as (dotted key, value as JSON text).
fn flatten(prefix: &str, value: &serde_json::Value, into: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                let key = match prefix {
                    "" => key.clone(),
                    _ => format!("{prefix}.{key}"),
                };
                flatten(&key, value, into);
            }
        }
        leaf => into.push((prefix.to_owned(), leaf.to_string())),
    }
}

/// Records `agreement` on the stream if it has none yet, else compares it with the one there:
/// an error naming what differs.
pub async fn agree(
    context: &jetstream::Context,
    stream: &stream::Stream,
    config: &NatsConfig,
    agreement: &Agreement,
) -> Result<(), NatsError> {
    let subject = record_subject(config);
    let payload: bytes::Bytes = serde_json::to_vec(&agreement.record)
        .map_err(NatsError::broker)?
        .into();
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Expected-Last-Subject-Sequence", "0");
    let published = context
        .publish_with_headers(subject.clone(), headers, payload)
        .await
        .map_err(NatsError::broker)?
        .await;
    match published {
        Ok(_) => return Ok(()),
        Err(err) if err.kind() == PublishErrorKind::WrongLastSequence => {}
        Err(err) => return Err(NatsError::broker(err)),
    }
    let stored = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .map_err(NatsError::broker)?;
    let stored: serde_json::Value = serde_json::from_slice(&stored.payload).map_err(|err| {
        NatsError::Broker(format!("the record on `{subject}` is not choreo's: {err}"))
    })?;
    let differences = agreement.differences(&stored);
    if differences.is_empty() {
        return Ok(());
    }
    Err(NatsError::Disagree {
        stream: config.stream.clone(),
        differences: differences.join("; "),
    })
}

/// Microseconds since the Unix epoch: envelopes published over NATS carry wall time, which the
/// run turns into time since it started.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Publishes events many at a time, each stored exactly once and in the order sent:
/// [`Publisher::send`] sends one without waiting, [`Publisher::confirm`] waits until the
/// stream has stored every one sent (or refused it as one its subject holds already:
/// publishing is idempotent, since an event's subject is its own).
///
/// **In order.** A service's events carry figures that follow its own decisions (stock left,
/// credit left), so the stream must hold them in the order it decided them. One connection
/// keeps the order of what it carries, but a client that connects again after losing its
/// connection sends what it had queued meanwhile on the new one, ahead of what the old one
/// lost: sent again, the lost ones would land after them. So a publisher sends on a
/// connection of its own that never reconnects: once that connection is lost, what was
/// queued on it is never sent, and everything not acknowledged is sent again, in order, on a
/// new connection (the first alone, until it is stored, then the rest). The stream refusing
/// the repeats of what it stored, each event is stored once, in order. The one case left is
/// a broker that refuses a publish while storing the next on the same connection (a stream
/// that is briefly without a leader in a cluster, say): that is counted and reported (see
/// [`Publisher::reordered`]), never silent.
///
/// **Not into a stream that lost its tail.** Once its connection is lost with events
/// unconfirmed, a publisher sends nothing again until its caller has looked at the stream
/// ([`Publisher::resend_after_look`]): a broker restarted without the stream's last messages
/// (an OS crash) numbers new ones from the end of what it kept, and an event sent again at
/// once would land there, ahead of the events that caused it (every reader would skip it as
/// foreign), and ahead of what the run puts back (see `run`). [`Publisher::confirm`] says so
/// with [`Unconfirmed::LinkLost`].
///
/// It also remembers the last events it had confirmed, to [`Publisher::reassert`] them after
/// a broker restart: sending them again is harmless, since the stream refuses any it kept.
pub struct Publisher {
    url: String,
    config: NatsConfig,
    /// The stream refuses a second message on a subject by itself (see [`one_per_subject`]):
    /// events go out bare, without the headers that ask the broker for the same.
    bare: bool,
    /// The connection the events go out on, once made; never one that reconnected.
    link: Option<Connection>,
    /// Events sent or to send, oldest first, not confirmed yet: the first ones sent on
    /// `link` (with their acknowledgements to wait for), then the ones not sent yet.
    unconfirmed: VecDeque<Out>,
    /// Only the first unconfirmed event is sent until it is stored (after a failure).
    probing: bool,
    /// The connection was lost with events unconfirmed: nothing is sent again until the
    /// caller has looked at the stream (see the type's documentation).
    held: bool,
    recent: VecDeque<Out>,
    /// The stream sequence of the last event stored, to check the order.
    last_stored: u64,
    reordered: u64,
}

/// An event to publish, and the acknowledgement to wait for once it is sent.
struct Out {
    subject: String,
    /// None on a stream that refuses a second message on a subject by itself.
    headers: Option<HeaderMap>,
    payload: bytes::Bytes,
    pending: Option<jetstream::context::PublishAckFuture>,
    /// Sent before, with no acknowledgement: the broker may have it already.
    again: bool,
}

/// Confirmed events a [`Publisher`] remembers to send again after a reconnect: far more than a
/// broker can have acknowledged in the moment before it died.
const REASSERTED: usize = 4096;

/// The first wait before a publish is sent again, and the longest: a broker that answers
/// again is used within a quarter of a second.
const REPUBLISH_WAITS: (Duration, Duration) =
    (Duration::from_millis(50), Duration::from_millis(250));

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("stream", &self.config.stream)
            .field("unconfirmed", &self.unconfirmed.len())
            .field("reordered", &self.reordered)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher to `stream` (the one `config` names), on the broker at `url` (it connects
    /// when it first sends).
    pub fn new(url: &str, config: &NatsConfig, stream: &stream::Stream) -> Self {
        Publisher {
            url: url.to_owned(),
            config: config.clone(),
            bare: one_per_subject(stream),
            link: None,
            unconfirmed: VecDeque::new(),
            probing: false,
            held: false,
            recent: VecDeque::new(),
            last_stored: 0,
            reordered: 0,
        }
    }

    /// How many events the broker stored out of the order they were sent in (see the type's
    /// documentation); each was reported as it was found.
    pub fn reordered(&self) -> u64 {
        self.reordered
    }

    /// After a reconnect: sends again what was not confirmed, and waits until all of it is
    /// stored; `Err` if `give_up` fires first. A broker killed loses nothing it acknowledged
    /// (it writes to the OS first), and a stream that loses anything loses its tail: so only
    /// where the stream no longer holds the newest event confirmed are the events confirmed
    /// lately sent again too, ahead of the rest (the broker drops any it kept).
    pub async fn reassert(&mut self, give_up: &CancellationToken) -> Result<(), Unconfirmed> {
        self.unsend();
        self.resend_after_look();
        if self.holds_the_newest(give_up).await? {
            tracing::info!("reconnected: the stream holds every event confirmed");
        } else {
            tracing::info!(
                events = self.recent.len(),
                "reconnected: sending the latest events again"
            );
            for mut out in self.recent.drain(..).rev() {
                out.again = true;
                self.unconfirmed.push_front(out);
            }
        }
        self.confirm(give_up).await.map(|_| ())
    }

    /// The caller has looked at the stream after a lost connection, and found it holds what
    /// it read and what this publisher had confirmed: what was not confirmed is sent again.
    pub fn resend_after_look(&mut self) {
        self.held = false;
        if !self.is_up() {
            // Replaced when next sent on.
            self.link = None;
        }
    }

    /// The stream ends at `last` (it lost its tail, and holds again what the caller put back):
    /// events stored from now on are numbered from there, and are not out of order.
    pub fn stream_ends_at(&mut self, last: u64) {
        self.last_stored = self.last_stored.min(last);
    }

    /// The stream sequence of the last event stored, as its acknowledgement said: the
    /// stream that holds less than that lost its tail.
    pub fn last_stored(&self) -> u64 {
        self.last_stored
    }

    /// Whether the stream holds the newest event this publisher had confirmed (or it has
    /// confirmed none), asked on a connection made anew if need be; `false` also where the
    /// broker cannot say yet (starting over, or sending again, is the safe side).
    pub async fn holds_the_newest(&mut self, give_up: &CancellationToken) -> Result<bool, GaveUp> {
        let newest = self
            .recent
            .back()
            .map(|out| (out.subject.clone(), out.payload.clone()));
        match newest {
            Some((subject, payload)) => self.holds(&subject, &payload, give_up).await,
            None => Ok(true),
        }
    }

    /// Whether the stream holds `payload` on `subject`, as this publisher sent it.
    async fn holds(
        &mut self,
        subject: &str,
        payload: &bytes::Bytes,
        give_up: &CancellationToken,
    ) -> Result<bool, GaveUp> {
        // A look at the stream: on a connection made anew, whatever was sent on the old one.
        self.reconnect(give_up).await?;
        let Some(link) = &self.link else {
            return Ok(false);
        };
        let stored = async {
            link.context
                .get_stream(&self.config.stream)
                .await
                .ok()?
                .get_last_raw_message_by_subject(subject)
                .await
                .ok()
        };
        Ok(stored.await.is_some_and(|stored| stored.payload == payload))
    }

    /// Forgets the events sent but not confirmed yet, and those confirmed lately: for a
    /// service that starts over, and decides them again from the stream as it now is. (The
    /// broker may hold them or not; it refuses the ones decided again that it holds.) What
    /// it remembers of a stream that lost its tail would have it start over again at every
    /// reconnect, and see the sequences the broker hands out again as out of order.
    pub fn forget_unconfirmed(&mut self) {
        self.unconfirmed.clear();
        self.probing = false;
        self.resend_after_look();
        self.recent.clear();
        self.last_stored = 0;
    }

    /// Sends `envelope` without waiting: now if everything before it is sent on a connection
    /// that is up, else when [`Publisher::confirm`] sends it.
    pub async fn send<C: Choreography>(&mut self, envelope: &Envelope<C>) -> Result<(), NatsError> {
        let payload: bytes::Bytes = serde_json::to_vec(envelope)
            .map_err(NatsError::broker)?
            .into();
        // On a stream made before it refused a second message on a subject: the broker is
        // asked to store it only if its subject is empty (never twice, whatever the windows),
        // and to drop a repeat of its id within its duplicate window.
        let headers = (!self.bare).then(|| {
            let mut headers = HeaderMap::new();
            let mut id = String::new();
            push_message_id(&mut id, &envelope.id);
            headers.insert("Nats-Msg-Id", id.as_str());
            headers.insert("Nats-Expected-Last-Subject-Sequence", "0");
            headers
        });
        let mut out = Out {
            subject: subject_of(&self.config, &envelope.id),
            headers,
            payload,
            pending: None,
            again: false,
        };
        let all_sent = self
            .unconfirmed
            .back()
            .is_none_or(|last| last.pending.is_some());
        if all_sent && !self.probing && !self.held && self.is_up() {
            out.pending = self.post(&out).await;
        }
        self.unconfirmed.push_back(out);
        Ok(())
    }

    /// Waits until every event sent is stored, in order; what was not acknowledged (refused,
    /// timed out, or sent on a connection lost since) is sent again, with everything after
    /// it, until `give_up` fires; but once the connection is lost, nothing is sent again
    /// until the caller has looked at the stream ([`Unconfirmed::LinkLost`]). Returns the ids
    /// of the events the stream held already before this publisher first sent them (a run's
    /// orders that ran before).
    pub async fn confirm(
        &mut self,
        give_up: &CancellationToken,
    ) -> Result<Vec<String>, Unconfirmed> {
        let mut repeats = Vec::new();
        let mut backoff = Backoff::between(REPUBLISH_WAITS);
        while let Some(front) = self.unconfirmed.front_mut() {
            if front.pending.is_none() {
                // The first of what is to be sent again: alone, until it is stored.
                self.connected(give_up).await?;
                self.probing = true;
                let Some(front) = self.unconfirmed.front() else {
                    break;
                };
                let pending = self.post(front).await;
                if let Some(front) = self.unconfirmed.front_mut() {
                    front.pending = pending;
                }
            }
            let Some(mut out) = self.unconfirmed.pop_front() else {
                break;
            };
            let stored = match out.pending.take() {
                Some(pending) => self.stored(pending).await,
                None => Err("not sent".to_owned()),
            };
            let ack = match stored {
                Ok(ack) => ack,
                Err(reason) => {
                    out.again = true;
                    self.unconfirmed.push_front(out);
                    if !self.is_up() {
                        // Lost with the connection: sent again once the stream is looked at.
                        self.unsend();
                        self.held = true;
                        tracing::warn!(
                            events = self.unconfirmed.len(),
                            %reason,
                            "connection lost with publishes unconfirmed; sending them again once the stream is looked at"
                        );
                        return Err(Unconfirmed::LinkLost);
                    }
                    tracing::warn!(
                        events = self.unconfirmed.len(),
                        %reason,
                        "publish not acknowledged; sending it again, and everything after it"
                    );
                    self.unsend();
                    if self.is_up() {
                        backoff.wait(give_up).await?;
                    }
                    continue;
                }
            };
            backoff = Backoff::between(REPUBLISH_WAITS);
            match ack {
                Stored::New(sequence) => self.check_order(sequence),
                // A repeat within the duplicate window of one sent before is this
                // publisher's own (its acknowledgement lost): only a refusal past the window
                // is looked at, rarely.
                Stored::Repeat if out.again => {}
                Stored::Repeat => repeats.push(id_of(&out)),
                Stored::Before => {
                    if !out.again || !self.is_ours(&out).await {
                        repeats.push(id_of(&out));
                    }
                }
            }
            self.remember(out);
            if std::mem::take(&mut self.probing) {
                self.send_the_rest().await;
            }
        }
        Ok(repeats)
    }

    /// Sends every event not sent yet, in order, while the connection takes them.
    async fn send_the_rest(&mut self) {
        for index in 0..self.unconfirmed.len() {
            if self.unconfirmed[index].pending.is_some() {
                continue;
            }
            let pending = self.post(&self.unconfirmed[index]).await;
            let sent = pending.is_some();
            self.unconfirmed[index].pending = pending;
            if !sent {
                // The rest waits for this one.
                return;
            }
        }
    }

    /// Takes every event not confirmed as not sent: their acknowledgements are no longer
    /// waited for, and they are all sent again, in order.
    fn unsend(&mut self) {
        for out in &mut self.unconfirmed {
            if out.pending.take().is_some() {
                out.again = true;
            }
        }
    }

    /// Whether the publisher's connection is up.
    fn is_up(&self) -> bool {
        self.link
            .as_ref()
            .is_some_and(|link| link.link.borrow().connected)
    }

    /// Makes sure the publisher has a connection that is up: a connection that went down is
    /// dropped (with whatever was queued on it) and a new one made, tried again until it is
    /// or `give_up` fires.
    ///
    /// A connection found lost is not replaced here (nothing is sent again until the stream
    /// is looked at: see the type's documentation): `Err(LinkLost)`.
    async fn connected(&mut self, give_up: &CancellationToken) -> Result<(), Unconfirmed> {
        if self.is_up() && !self.held {
            return Ok(());
        }
        if self.held || self.link.is_some() {
            self.held = true;
            return Err(Unconfirmed::LinkLost);
        }
        self.reconnect(give_up).await.map_err(Unconfirmed::from)
    }

    /// Makes a new connection if the publisher has none that is up, tried again until it is
    /// or `give_up` fires: for a look at the stream, or once it was looked at.
    async fn reconnect(&mut self, give_up: &CancellationToken) -> Result<(), GaveUp> {
        if self.is_up() {
            return Ok(());
        }
        self.link = None;
        let mut backoff = Backoff::between(REPUBLISH_WAITS);
        loop {
            let opened = tokio::select! {
                biased;
                () = give_up.cancelled() => return Err(GaveUp),
                opened = open(&self.url, &self.config, Reconnect::Never) => opened,
            };
            match opened {
                Ok(link) => {
                    self.link = Some(link);
                    return Ok(());
                }
                Err(err) => {
                    tracing::debug!(%err, "publisher: connecting again");
                    backoff.wait(give_up).await?;
                }
            }
        }
    }

    /// Sends one event on the publisher's connection; the acknowledgement to wait for, or
    /// `None` if it could not be sent.
    async fn post(&self, out: &Out) -> Option<jetstream::context::PublishAckFuture> {
        let link = self.link.as_ref()?;
        let subject = out.subject.clone();
        match &out.headers {
            Some(headers) => {
                link.context
                    .publish_with_headers(subject, headers.clone(), out.payload.clone())
                    .await
            }
            None => link.context.publish(subject, out.payload.clone()).await,
        }
        .ok()
    }

    /// Whether the message the stream holds on `out`'s subject is `out` itself, sent before
    /// by this publisher (its acknowledgement lost): its payload carries the time it was
    /// made, so another's is never the same. A message that cannot be read counts as ours.
    async fn is_ours(&self, out: &Out) -> bool {
        let Some(link) = &self.link else {
            return true;
        };
        let stored = async {
            link.context
                .get_stream(&self.config.stream)
                .await
                .ok()?
                .get_last_raw_message_by_subject(&out.subject)
                .await
                .ok()
        };
        stored
            .await
            .is_none_or(|stored| stored.payload == out.payload)
    }

    /// Whether `pending` was stored; `Err` with the reason if it was refused, timed out, or
    /// the connection it went out on was lost (its acknowledgement will never come).
    async fn stored(
        &self,
        pending: jetstream::context::PublishAckFuture,
    ) -> Result<Stored, String> {
        let lost = async {
            if let Some(link) = &self.link {
                link.until(|link| !link.connected).await;
            }
        };
        tokio::select! {
            biased;
            ack = pending.into_future() => match ack {
                Ok(ack) if ack.duplicate => Ok(Stored::Repeat),
                Ok(ack) => Ok(Stored::New(ack.sequence)),
                Err(err) if err.kind() == PublishErrorKind::WrongLastSequence => {
                    Ok(Stored::Before)
                }
                Err(err) if holds_its_subject(&err) => Ok(Stored::Before),
                Err(err) => Err(err.to_string()),
            },
            () = lost => Err("the connection was lost".to_owned()),
        }
    }

    /// Checks that the event just stored at `sequence` comes after the one stored before it.
    fn check_order(&mut self, sequence: u64) {
        if sequence < self.last_stored {
            self.reordered += 1;
            tracing::error!(
                sequence,
                after = self.last_stored,
                reordered = self.reordered,
                "an event was stored out of the order it was sent in (the broker refused it, then stored the next): its figures reach readers out of order"
            );
        }
        self.last_stored = self.last_stored.max(sequence);
    }

    fn remember(&mut self, out: Out) {
        if self.recent.len() == REASSERTED {
            self.recent.pop_front();
        }
        self.recent.push_back(out);
    }
}

/// What the stream did with an event sent.
enum Stored {
    /// Stored it, at this sequence.
    New(u64),
    /// Had it already: a repeat of its id within the duplicate window.
    Repeat,
    /// Had it already: its subject held a message (past the duplicate window, or on a
    /// stream that refuses a second message on a subject).
    Before,
}

/// Whether the stream refused a publish because its subject holds a message already (on a
/// stream made by [`stream()`]: nats-server's error 10077, "maximum messages per subject
/// exceeded").
fn holds_its_subject(err: &jetstream::context::PublishError) -> bool {
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<jetstream::Error>())
        .is_some_and(|err| {
            err.error_code() == jetstream::ErrorCode::STREAM_STORE_FAILED
                && err.to_string().contains("per subject")
        })
}

/// The id of the event `out` carries, its instance as written: its subject names it (see
/// [`subject_of`]).
fn id_of(out: &Out) -> String {
    let event = out
        .subject
        .split_once(".events.")
        .map_or("", |(_, event)| event);
    match event.split_once('.') {
        Some((instance, kind)) => match token::instance_of(instance) {
            Some(id) => format!("{id}.{kind}"),
            None => event.to_owned(),
        },
        None => event.to_owned(),
    }
}

/// Waiting for the broker was given up (a time limit, a stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaveUp;

/// Why [`Publisher::confirm`] returned with events unconfirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unconfirmed {
    /// Waiting for the broker was given up (a time limit, a stop).
    GaveUp,
    /// The connection was lost: nothing is sent again until the caller has looked at the
    /// stream and called [`Publisher::resend_after_look`] (or [`Publisher::reassert`], or
    /// [`Publisher::forget_unconfirmed`]).
    LinkLost,
}

impl From<GaveUp> for Unconfirmed {
    fn from(GaveUp: GaveUp) -> Self {
        Unconfirmed::GaveUp
    }
}

/// The waits between tries at the broker: each twice the one before, up to a ceiling.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    most: Duration,
}

impl Backoff {
    /// Waits from `first` up to 2 s.
    pub(crate) fn starting_at(first: Duration) -> Self {
        Backoff::between((first, Duration::from_secs(2)))
    }

    /// Waits from `first` up to `most`.
    pub(crate) fn between((first, most): (Duration, Duration)) -> Self {
        Backoff { next: first, most }
    }

    /// Waits the next wait; `Err` if `give_up` fires first.
    pub(crate) async fn wait(&mut self, give_up: &CancellationToken) -> Result<(), GaveUp> {
        tokio::select! {
            () = give_up.cancelled() => return Err(GaveUp),
            () = tokio::time::sleep(self.next) => {}
        }
        self.next = (self.next * 2).min(self.most);
        Ok(())
    }
}

/// The envelope a stream message carries, with the stream's sequence as its `seq`; an error
/// for a message that is not one of this choreography's events (see [`skipped`]), or that
/// is not on its own subject (see [`subject_of`]).
pub fn decode<C: Choreography>(
    config: &NatsConfig,
    subject: &str,
    payload: &[u8],
    seq: u64,
) -> Result<Envelope<C>, NatsError> {
    let not_an_event = |reason: String| NatsError::Decode { seq, reason };
    let mut envelope: Envelope<C> =
        serde_json::from_slice(payload).map_err(|err| not_an_event(err.to_string()))?;
    // Its id is what de-duplication goes by, everywhere: one that does not name the event
    // it is on would let a message pass for another event.
    if envelope.id.order_id != envelope.order_id || envelope.id.kind != C::kind(&envelope.event) {
        return Err(not_an_event(format!(
            "its id {} does not name its own event ({} of {})",
            envelope.id,
            C::kind(&envelope.event).name(),
            envelope.order_id
        )));
    }
    if !is_subject_of(config, subject, &envelope.id) {
        return Err(not_an_event(format!(
            "{} is on subject `{subject}`, not on its own, `{}`",
            envelope.id,
            subject_of(config, &envelope.id)
        )));
    }
    envelope.seq = seq;
    Ok(envelope)
}

/// Says, loudly, that the message at `seq` of `stream` was skipped as foreign, and why: a
/// message on the stream's subject that is not an event of the choreography, or one no
/// service can take (see `serve`). Anyone can publish on a subject; a service or run that
/// stopped on such a message would stop again on it after every restart.
pub fn skipped(stream: &str, seq: u64, reason: &dyn std::fmt::Display) {
    tracing::warn!("stream `{stream}` sequence {seq}: skipped a foreign message: {reason}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_busy_electing_passes_a_refusal_does_not() {
        let busy = [
            "timed out: request timed out: deadline has elapsed",
            "jetstream error: JetStream system temporarily unavailable (code 503, error code 10008)",
            "request error: no responders",
            "no stream found for given subject",
        ];
        for reason in busy {
            assert!(NatsError::Broker(reason.into()).passes(), "{reason}");
            assert!(
                NatsError::Broker(reason.into()).during("u", "s").passes(),
                "{reason}"
            );
        }
        let refused = "jetstream error: subjects overlap with an existing stream (code 400, error code 10065)";
        assert!(!NatsError::Broker(refused.into()).passes());
        assert!(!NatsError::Connect {
            url: "u".into(),
            reason: "timed out".into()
        }
        .passes());
    }

    #[test]
    fn an_event_is_on_its_own_subject_only() {
        let config = crate::engine::config::Config::<crate::shop::Shop>::load(&[], &[])
            .expect("the defaults")
            .nats;
        let id = EventId {
            order_id: crate::input::InstanceId::new(17).expect("an id"),
            kind: crate::shop::EventKind::OrderCreated,
        };
        let own = subject_of(&config, &id);
        assert!(is_subject_of(&config, &own, &id));
        for other in [
            "choreo.events.17.InventoryChecked",
            "choreo.events.171.OrderCreated",
            "choreo.events.1.OrderCreated",
            "other.events.17.OrderCreated",
            "choreo.events.17",
            "choreo.config",
        ] {
            assert!(!is_subject_of(&config, other, &id), "{other}");
        }
        let text = |text: &str| EventId {
            order_id: crate::input::InstanceId::text(text).expect("an id"),
            kind: crate::shop::EventKind::OrderCreated,
        };
        let id = text("a.b 17");
        assert_eq!(
            subject_of(&config, &id),
            "choreo.events._a_2Eb_2017.OrderCreated"
        );
        assert!(is_subject_of(&config, &subject_of(&config, &id), &id));
        for other in [&text("a_b 17"), &text("17")] {
            assert!(!is_subject_of(&config, &subject_of(&config, other), &id));
        }
        assert!(!is_subject_of(
            &config,
            "choreo.events.17.OrderCreated",
            &text("17")
        ));
    }

    #[test]
    fn server_versions_compare_by_major_and_minor() {
        assert!(at_least("2.9.10", (2, 9)));
        assert!(at_least("2.15.0-beta", (2, 9)));
        assert!(!at_least("2.8.4", (2, 9)));
        assert!(!at_least("nonsense", (2, 9)));
    }
}
