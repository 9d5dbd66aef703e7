//! The same services over NATS JetStream: each service its own process (`choreo serve`), a run
//! that injects the orders and observes the stream (`choreo run --nats`).
//!
//! Every event is a message in one stream (`<nats.stream>`, subject `<nats.stream>.events`),
//! its JSON envelope as the payload and its event id as `Nats-Msg-Id`, so the broker drops a
//! re-publication within `nats.duplicate_window`. The stream's sequence is the bus sequence.
//! Each service reads every event through its own durable pull consumer with explicit acks,
//! and handles them strictly in stream order (see [`serve`]): that makes its state a function
//! of the stream, which is how it recovers.

pub mod run;
pub mod serve;

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::engine::config::NatsConfig;
use crate::engine::{Choreography, Envelope, Name};

/// The oldest server choreo runs on: 2.9 has everything used here (streams, durable pull
/// consumers, explicit acks, `Nats-Msg-Id`, ordered consumers).
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

/// How often [`watch_link`] looks at the client's connection without being told to.
const LINK_CHECKED_EVERY: Duration = Duration::from_millis(50);

impl Connection {
    /// How many times the client has connected so far: it goes up when it reconnects (the
    /// broker restarted, say).
    pub fn connects(&self) -> u64 {
        self.link.borrow().connects
    }

    /// Returns once the client has connected again since it had connected `connects` times.
    pub async fn reconnected_since(&self, connects: u64) {
        self.until(|link| link.connects != connects).await;
    }

    /// Returns once the connection the client had after connecting `connects` times is
    /// lost: it is not connected, or connected anew.
    async fn lost_since(&self, connects: u64) {
        self.until(|link| !link.connected || link.connects != connects)
            .await;
    }

    /// Returns once the client is connected.
    async fn connected(&self) {
        self.until(|link| link.connected).await;
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
/// within `nats.connect_timeout` otherwise, never a wait for a broker that is not there.
pub async fn connect(url: &str, config: &NatsConfig) -> Result<Connection, NatsError> {
    let nudged = Arc::new(Notify::new());
    let nudge = Arc::clone(&nudged);
    let connect_error = |reason: String| NatsError::Connect {
        url: url.to_owned(),
        reason,
    };
    let options = async_nats::ConnectOptions::new()
        .connection_timeout(config.connect_timeout)
        // Once connected, a broker that goes away is waited for: it may be restarting.
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| match attempts {
            0 | 1 => Duration::ZERO,
            _ => Duration::from_millis(1 << attempts.min(16)).min(RECONNECT_AT_LEAST_EVERY),
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
        async_nats::connect_with_options(url, options),
    )
    .await
    .map_err(|_| connect_error(format!("no answer within {:?}", config.connect_timeout)))?
    .map_err(|err| connect_error(err.to_string()))?;
    let version = client.server_info().version;
    if !at_least(&version, OLDEST_SERVER) {
        return Err(NatsError::TooOld {
            url: url.to_owned(),
            version,
        });
    }
    let (tell, link) = watch::channel(Link::of(&client));
    tokio::spawn(watch_link(client.clone(), tell, nudged));
    let mut context = jetstream::new(client);
    context.set_timeout(config.connect_timeout);
    let connection = Connection { context, link };
    // Any JetStream request tells whether the server has it: this one asks for the stream.
    match connection.context.get_stream(&config.stream).await {
        Ok(_) => Ok(connection),
        Err(err) if matches!(err.kind(), GetStreamErrorKind::JetStream(_)) => Ok(connection),
        Err(err) => Err(NatsError::NoJetStream {
            url: url.to_owned(),
            reason: err.to_string(),
        }),
    }
}

/// Whether `version` (`2.9.10`) is at least `(major, minor)`.
fn at_least(version: &str, (major, minor): (u64, u64)) -> bool {
    let mut parts = version
        .split(['.', '-'])
        .map(|part| part.parse::<u64>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

/// The subject every event is published on.
pub fn subject(config: &NatsConfig) -> String {
    format!("{}.events", config.stream)
}

/// The stream, created with file storage if it does not exist yet.
pub async fn stream(
    context: &jetstream::Context,
    config: &NatsConfig,
) -> Result<stream::Stream, NatsError> {
    context
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![subject(config)],
            storage: stream::StorageType::File,
            duplicate_window: config.duplicate_window,
            ..Default::default()
        })
        .await
        .map_err(NatsError::broker)
}

/// Microseconds since the Unix epoch: envelopes published over NATS carry wall time, which the
/// run turns into time since it started.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Publishes events without waiting for each: [`Publisher::send`] sends one, and
/// [`Publisher::confirm`] waits until the stream has stored every one sent (or dropped it as a
/// repeat of its id). One the broker did not acknowledge (down, restarting, slow) is sent
/// again with the same id until it is: publishing is idempotent by id. One sent on a
/// connection the client has lost since is sent again as soon as the client is connected
/// again, not after the acknowledgement's timeout (`nats.connect_timeout`): its
/// acknowledgement will never come.
///
/// It remembers the last events it had confirmed, to [`Publisher::reassert`] them after the
/// client reconnects: a broker killed with `kill -9` can lose the last messages it had
/// acknowledged (it writes them to disk a moment later), and sending them again is harmless,
/// since the broker drops any it did keep by id.
pub struct Publisher<'a> {
    connection: &'a Connection,
    subject: &'a str,
    sent: Vec<Sent>,
    recent: VecDeque<(HeaderMap, bytes::Bytes)>,
    /// One event in flight at a time: see [`Publisher::in_order`].
    in_order: bool,
}

/// An event sent, and the acknowledgement to wait for (none if it could not be sent).
type Sent = (HeaderMap, bytes::Bytes, Option<Pending>);

/// An acknowledgement to wait for, and how many times the client had connected when the
/// message went out: once that connection is lost, the acknowledgement may never come.
struct Pending {
    ack: jetstream::context::PublishAckFuture,
    connects: u64,
}

/// Confirmed events a [`Publisher`] remembers to send again after a reconnect: far more than a
/// broker can have acknowledged in the moment before it died.
const REASSERTED: usize = 4096;

/// The first wait before a publish is sent again, and the longest: a broker that answers
/// again is used within a quarter of a second.
const REPUBLISH_WAITS: (Duration, Duration) =
    (Duration::from_millis(50), Duration::from_millis(250));

impl std::fmt::Debug for Publisher<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("subject", &self.subject)
            .field("sent", &self.sent.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Publisher<'a> {
    pub fn new(connection: &'a Connection, subject: &'a str) -> Self {
        Publisher {
            connection,
            subject,
            sent: Vec::new(),
            recent: VecDeque::new(),
            in_order: false,
        }
    }

    /// This publisher's events are stored in the order it sent them, whatever happens to the
    /// connection: each is sent only once the one before it is stored.
    ///
    /// A service needs that: its events carry figures that follow its own decisions (stock
    /// left, credit left), so the stream must hold them in the order it decided them. With
    /// several in flight, a broker that dies loses the ones written to the old connection,
    /// while the client carries the ones still queued over to the new one, where they are
    /// stored first; the lost ones, sent again after their acknowledgement times out, land
    /// after them. One in flight costs a round trip per event.
    pub fn in_order(mut self) -> Self {
        self.in_order = true;
        self
    }

    /// Sends every event confirmed lately again (see the type's documentation), and waits
    /// until they are stored; `Err` if `give_up` fires first.
    pub async fn reassert(&mut self, give_up: &CancellationToken) -> Result<(), GaveUp> {
        tracing::info!(
            events = self.recent.len(),
            "reconnected: sending the latest events again"
        );
        let recent: Vec<(HeaderMap, bytes::Bytes)> = self.recent.drain(..).collect();
        for (headers, payload) in recent {
            let pending = self.post(&headers, &payload).await;
            self.sent.push((headers, payload, pending));
        }
        self.confirm(give_up).await.map(|_| ())
    }

    /// Forgets the events sent but not confirmed yet: for a service that starts over, and
    /// decides them again. (Sent in order, they have not left; otherwise the broker may store
    /// them or not, and drops the ones decided again by their ids if it did.)
    pub fn forget_unconfirmed(&mut self) {
        self.sent.clear();
    }

    /// Sends one message; the acknowledgement to wait for, or `None` if it could not be sent.
    async fn post(&self, headers: &HeaderMap, payload: &bytes::Bytes) -> Option<Pending> {
        // Read before the message goes: it goes on this connection or a later one.
        let connects = self.connection.connects();
        self.connection
            .context
            .publish_with_headers(self.subject.to_owned(), headers.clone(), payload.clone())
            .await
            .ok()
            .map(|ack| Pending { ack, connects })
    }

    /// Whether `pending` was stored as a repeat of its id; `None` if it was not acknowledged:
    /// refused, timed out, or sent on a connection lost since.
    async fn stored(&self, pending: Pending) -> Option<bool> {
        tokio::select! {
            biased;
            ack = pending.ack.into_future() => ack.ok().map(|ack| ack.duplicate),
            () = self.connection.lost_since(pending.connects) => None,
        }
    }

    /// Waits before sending again what was not acknowledged: until the client is connected
    /// again if it is not (sent meanwhile, it would only wait in the client), else the next
    /// wait of `backoff`; `Err` if `give_up` fires first.
    async fn before_sending_again(
        &self,
        backoff: &mut Backoff,
        give_up: &CancellationToken,
    ) -> Result<(), GaveUp> {
        if self.connection.link.borrow().connected {
            return backoff.wait(give_up).await;
        }
        tokio::select! {
            () = give_up.cancelled() => Err(GaveUp),
            () = self.connection.connected() => {
                // A broker just back is tried at once, and soon again if it is not ready.
                *backoff = Backoff::between(REPUBLISH_WAITS);
                Ok(())
            }
        }
    }

    /// Sends `envelope`, its id as `Nats-Msg-Id`.
    pub async fn send<C: Choreography>(&mut self, envelope: &Envelope<C>) -> Result<(), NatsError> {
        let payload: bytes::Bytes = serde_json::to_vec(envelope)
            .map_err(NatsError::broker)?
            .into();
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", envelope.id.to_string().as_str());
        // In order, an event is sent by `confirm`, once the one before it is stored.
        let pending = match self.in_order {
            true => None,
            false => self.post(&headers, &payload).await,
        };
        self.sent.push((headers, payload, pending));
        Ok(())
    }

    /// [`Publisher::confirm`] one event at a time, each sent (again) until it is stored
    /// before the next goes.
    async fn confirm_in_order(&mut self, give_up: &CancellationToken) -> Result<u64, GaveUp> {
        let mut repeats = 0;
        for (headers, payload, mut pending) in std::mem::take(&mut self.sent) {
            let mut backoff = Backoff::between(REPUBLISH_WAITS);
            let mut first = true;
            loop {
                let pending = match pending.take() {
                    Some(pending) => Some(pending),
                    None => self.post(&headers, &payload).await,
                };
                if let Some(pending) = pending {
                    if let Some(repeat) = self.stored(pending).await {
                        repeats += u64::from(first && repeat);
                        break;
                    }
                }
                first = false;
                tracing::warn!("publish not acknowledged; sending it again");
                self.before_sending_again(&mut backoff, give_up).await?;
            }
            self.remember(headers, payload);
        }
        Ok(repeats)
    }

    fn remember(&mut self, headers: HeaderMap, payload: bytes::Bytes) {
        if self.recent.len() == REASSERTED {
            self.recent.pop_front();
        }
        self.recent.push_back((headers, payload));
    }

    /// Waits until every event sent is stored: every acknowledgement at once (a broker that
    /// went away fails them all at once, not one after the other), then what was not
    /// acknowledged sent again, until `give_up` fires. Returns how many of the events the
    /// broker had stored already (acknowledged as repeats at the first sending).
    pub async fn confirm(&mut self, give_up: &CancellationToken) -> Result<u64, GaveUp> {
        if self.in_order {
            return self.confirm_in_order(give_up).await;
        }
        let mut round = std::mem::take(&mut self.sent);
        let mut backoff = Backoff::between(REPUBLISH_WAITS);
        let mut repeats = 0;
        let mut first = true;
        loop {
            let this = &*self;
            let acknowledged = futures_util::future::join_all(round.iter_mut().map(
                |(_, _, pending)| async move {
                    match pending.take() {
                        Some(pending) => this.stored(pending).await,
                        None => None,
                    }
                },
            ))
            .await;
            let mut again = Vec::new();
            for ((headers, payload, _), stored) in round.into_iter().zip(acknowledged) {
                match stored {
                    Some(repeat) => {
                        repeats += u64::from(first && repeat);
                        self.remember(headers, payload);
                    }
                    None => again.push((headers, payload)),
                }
            }
            if again.is_empty() {
                return Ok(repeats);
            }
            first = false;
            tracing::warn!(
                events = again.len(),
                "publish not acknowledged; sending again"
            );
            self.before_sending_again(&mut backoff, give_up).await?;
            round = Vec::with_capacity(again.len());
            for (headers, payload) in again {
                let pending = self.post(&headers, &payload).await;
                round.push((headers, payload, pending));
            }
        }
    }
}

/// Waiting for the broker was given up (a time limit, a stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaveUp;

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
/// for a message that is not one of this choreography's events (see [`skipped`]).
pub fn decode<C: Choreography>(payload: &[u8], seq: u64) -> Result<Envelope<C>, NatsError> {
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
    fn server_versions_compare_by_major_and_minor() {
        assert!(at_least("2.9.10", (2, 9)));
        assert!(at_least("2.15.0-beta", (2, 9)));
        assert!(!at_least("2.8.4", (2, 9)));
        assert!(!at_least("nonsense", (2, 9)));
    }
}
