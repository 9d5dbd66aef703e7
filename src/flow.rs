//! The short way to write a choreography: say its own ideas once, and let the rest be derived.
//!
//! Two macros write the whole [`Choreography`] contract from what only the choreography can
//! say:
//! - [`events!`](crate::events) declares the events, each with its facts and what it means
//!   (a step, a failure, a compensation, or the end of an instance: `completed`, `rejected`,
//!   `cancelled`). It writes the event enum, tagged `event` in JSON by construction, and its
//!   kind enum from the same list, so the names are written once.
//! - [`choreography!`](crate::choreography) declares the choreography: its input record and the
//!   field holding its id, the service that starts an instance and how, what each service
//!   reacts to, may publish, keeps per instance and decides, and optionally what each event
//!   says (narration), its config section, its stats and its invariant.
//!
//! Everything else is derived: the kinds, the service names, [`Choreography::MAX_EVENTS`]
//! (the kinds reachable from the start through the declared wiring, each happening at most
//! once per instance), each kind's [`Role`] (from what it means), the facts (from the event's
//! fields), the cause of a failed instance (its first failure, and the service that published
//! it). A choreography that knows better says so in a clause of its own (`max_events`,
//! `facts`, `ending`, `cause`): `examples/trip` does. No config section and no stats unless
//! the choreography declares them ([`NoConfig`], [`NoStats`]). What a macro cannot see is
//! checked when the choreography starts, with a message naming the kinds ([`check_wiring`]):
//! a terminal kind that no path reaches, a kind published that no service hears, a kind no
//! service publishes.
//!
//! Why declarative macros and not a derive: the two lists (events, services) are all the
//! macros need, `macro_rules!` reads them without a proc-macro crate (no `syn` to build, and a
//! user's edit compiles no more than their own code), and the generated code is plain calls
//! into this module, where the logic lives and is tested. The full trait stays underneath, for
//! a choreography that wants control over every item (the shop).
//!
//! ```
//! use choreo::flow::prelude::*;
//!
//! choreo::events! {
//!     /// A ping answered by a pong, which completes the exchange.
//!     pub enum Event: Kind {
//!         Pinged { times: u32 },
//!         Ponged => completed,
//!     }
//! }
//!
//! /// One exchange to run.
//! #[derive(Debug, Clone, Deserialize)]
//! pub struct Ask { id: InstanceId }
//!
//! choreo::choreography! {
//!     pub PingPong("ping-pong") {
//!         events: Event / Kind,
//!         input: Ask / id,
//!         start: Pinger, |_ask, _config| Event::Pinged { times: 1 },
//!     }
//!     services: Service {
//!         Pinger: [] -> [Pinged],
//!         Ponger: [Pinged] -> [Ponged] => |_, _, _, out| out.publish(Event::Ponged),
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let ask: Ask = serde_json::from_str(r#"{"id": 1}"#)?;
//! let config = choreo::config::Config::<PingPong>::default();
//! let mut events = Vec::new();
//! let summary = choreo::engine::run(&config, [ask], &mut events).await?;
//! assert_eq!(summary.completed, 1);
//! assert_eq!(events.len(), 2);
//! # Ok::<(), anyhow::Error>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

use crate::engine::choreography::{Cause, Choreography, Envelope, Outbox, Outcome, Role};
use crate::engine::SpawnError;
use crate::input::InstanceId;
use crate::name::Name;

/// What a choreography written with the macros usually needs, in one `use`.
pub mod prelude {
    pub use crate::engine::{Envelope, Outbox};
    pub use crate::input::{InstanceId, TextId};
    pub use serde::{Deserialize, Serialize};
    pub use std::process::ExitCode;
}

/// The config of a choreography that has none: an empty section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// The stats of a choreography that adds none to the summary.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct NoStats {}

impl<C: Choreography> crate::engine::Stats<C> for NoStats {
    fn new(_config: &C::Config) -> Self {
        NoStats {}
    }

    fn record(&mut self, _envelope: &Envelope<C>) {}

    fn headline(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }

    fn details(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

/// What an event means for its instance, as [`events!`](crate::events) declares it after
/// `=>` (nothing for a step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// A step on the way to completion.
    Step,
    /// Something went wrong: a refusal, a failed step.
    Failure,
    /// Undoing an earlier step.
    Compensation,
    /// The instance ended as asked.
    Completed,
    /// The instance was refused before anything had to be undone.
    Rejected,
    /// The instance was undone.
    Cancelled,
}

impl Meaning {
    /// `Some` for the meanings that end an instance.
    pub const fn outcome(self) -> Option<Outcome> {
        match self {
            Meaning::Completed => Some(Outcome::Completed),
            Meaning::Rejected => Some(Outcome::Rejected),
            Meaning::Cancelled => Some(Outcome::Cancelled),
            Meaning::Step | Meaning::Failure | Meaning::Compensation => None,
        }
    }

    /// How diagrams and the report draw a kind that means this.
    pub const fn role(self) -> Role {
        match self {
            Meaning::Step | Meaning::Completed => Role::Forward,
            Meaning::Failure => Role::Failure,
            Meaning::Compensation => Role::Compensation,
            Meaning::Rejected | Meaning::Cancelled => Role::Closing,
        }
    }
}

/// An event enum written by [`events!`](crate::events): its kinds and what each means.
pub trait Events {
    type Kind: Name;
    fn kind(&self) -> Self::Kind;
    fn meaning(kind: Self::Kind) -> Meaning;
}

/// The kinds in `edges` (each a service's subscriptions and publications, as bit masks)
/// reachable from `start`: every kind an instance can cause, at most once each.
pub const fn reachable(edges: &[(u64, u64)], start: u64) -> u64 {
    let mut reached = start;
    loop {
        let mut next = reached;
        let mut i = 0;
        while i < edges.len() {
            if edges[i].0 & reached != 0 {
                next |= edges[i].1;
            }
            i += 1;
        }
        if next == reached {
            return reached;
        }
        reached = next;
    }
}

/// One service's wiring, as [`check_wiring`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct Wiring<C: Choreography> {
    pub service: C::Service,
    pub subscribes: &'static [C::Kind],
    pub publishes: &'static [C::Kind],
}

/// Checks the declared wiring when the choreography starts: every kind is published by some
/// service, every kind that does not end an instance is heard by one, and every terminal kind
/// is reachable from the kinds the `starter` publishes. The error names the kinds.
pub fn check_wiring<C: Choreography>(
    starter: C::Service,
    wiring: &[Wiring<C>],
) -> Result<(), SpawnError> {
    let bits = |kinds: &[C::Kind]| kinds.iter().fold(0u64, |m, k| m | 1 << k.index());
    let named = |mask: u64| {
        let names: Vec<&str> = C::Kind::ALL
            .iter()
            .filter(|k| mask & 1 << k.index() != 0)
            .map(|k| k.name())
            .collect();
        names.join(", ")
    };
    let terminal = bits(
        &C::Kind::ALL
            .iter()
            .copied()
            .filter(|k| C::outcome(*k).is_some())
            .collect::<Vec<_>>(),
    );
    let all = bits(C::Kind::ALL);
    let published = wiring.iter().fold(0, |m, w| m | bits(w.publishes));
    let heard = wiring.iter().fold(0, |m, w| m | bits(w.subscribes));
    let edges: Vec<(u64, u64)> = wiring
        .iter()
        .map(|w| (bits(w.subscribes), bits(w.publishes)))
        .collect();
    let start = wiring
        .iter()
        .filter(|w| w.service == starter)
        .fold(0, |m, w| m | bits(w.publishes));
    let wrong = |what: &str, mask: u64| Err(SpawnError::Wiring(format!("{what}: {}", named(mask))));
    if all & !published != 0 {
        return wrong("no service publishes", all & !published);
    }
    if published & !terminal & !heard != 0 {
        return wrong(
            "published but heard by no service, and not ending an instance",
            published & !terminal & !heard,
        );
    }
    if terminal == 0 {
        return Err(SpawnError::Wiring(
            "no kind ends an instance: mark one `=> completed`".into(),
        ));
    }
    let reached = reachable(&edges, start & !terminal) | (start & terminal);
    if terminal & !reached != 0 {
        return wrong(
            &format!("no path from {starter}'s start reaches"),
            terminal & !reached,
        );
    }
    Ok(())
}

/// Pins a handler closure's signature, so that its arguments need no annotation.
pub fn handler<C: Choreography, O, S>(
    f: impl FnMut(&mut O, &mut S, &Envelope<C>, &mut Outbox<C>),
) -> impl FnMut(&mut O, &mut S, &Envelope<C>, &mut Outbox<C>) {
    f
}

/// Pins a start closure's signature: an input record and the config give the first event.
pub fn starter<I, Config, E>(f: impl Fn(&I, &Config) -> E) -> impl Fn(&I, &Config) -> E {
    f
}

/// Pins a maker's signature: a service's own state from the choreography's config.
pub fn maker<Config, O>(f: impl Fn(&Config) -> O) -> impl Fn(&Config) -> O {
    f
}

/// What a service says about an event: one line (a `String`), several (an array or a `Vec`
/// of them), or maybe one (an `Option`).
pub trait Said {
    fn lines(self) -> Vec<String>;
}

impl Said for String {
    fn lines(self) -> Vec<String> {
        vec![self]
    }
}

impl Said for Vec<String> {
    fn lines(self) -> Vec<String> {
        self
    }
}

impl<const N: usize> Said for [String; N] {
    fn lines(self) -> Vec<String> {
        self.into()
    }
}

impl Said for Option<String> {
    fn lines(self) -> Vec<String> {
        self.into_iter().collect()
    }
}

/// Writes what the emitting service says about `envelope`: each of the lines `says` gives
/// for the event and its instance, as `Service: line`.
pub fn narrate<C: Choreography, L: Said>(
    envelope: &Envelope<C>,
    out: &mut impl io::Write,
    says: impl Fn(&C::Event, InstanceId) -> L,
) -> io::Result<()> {
    for line in says(&envelope.event, envelope.order_id).lines() {
        writeln!(out, "{}: {line}", envelope.service)?;
    }
    Ok(())
}

/// The narration of a choreography that declares none: the kind, and its facts if it has any.
pub fn plainly<C: Choreography>(event: &C::Event, id: InstanceId) -> String {
    let facts = crate::engine::Facts::<C>(event).to_string();
    let kind = C::kind(event);
    if facts.is_empty() {
        format!("{kind} for {id}")
    } else {
        format!("{kind} for {id}: {facts}")
    }
}

/// An event's facts from its fields, `name value` each, in declaration order:
/// `account 1, amount_cents 500`. Nothing for an event without fields.
pub fn facts<E: Serialize>(event: &E, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    // Read back from its JSON, whose object keeps the fields in order (a `serde_json::Value`
    // would sort them).
    let fields = serde_json::to_string(event)
        .ok()
        .and_then(|json| serde_json::from_str::<Fields>(&json).ok());
    let mut first = true;
    for (name, value) in fields.iter().flat_map(|f| &f.0) {
        if name == "event" {
            continue;
        }
        f.write_str(if first { "" } else { ", " })?;
        first = false;
        match value {
            serde_json::Value::String(text) => write!(f, "{name} {text}")?,
            other => write!(f, "{name} {other}")?,
        }
    }
    Ok(())
}

/// A JSON object's fields, in order.
struct Fields(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> serde::de::Visitor<'de> for InOrder {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = map.next_entry()? {
                    fields.push(field);
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

/// Why an instance did not complete: its first failure, named after its kind
/// (`DebitRejected`: `debit-rejected`, "debit rejected"), started by the service that
/// published it.
pub fn cause<C>(envelope: &Envelope<C>) -> Option<Cause<C::Service>>
where
    C: Choreography,
    C::Event: Events<Kind = C::Kind>,
{
    if <C::Event as Events>::meaning(envelope.kind()) != Meaning::Failure {
        return None;
    }
    let label = words(envelope.kind().name());
    Some(Cause {
        slug: label.replace(' ', "-"),
        label,
        started_by: Some(envelope.service),
    })
}

/// `DebitRejected` as `debit rejected`.
fn words(name: &str) -> String {
    let mut words = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            words.push(' ');
        }
        words.extend(c.to_lowercase());
    }
    words
}

/// Writes an event enum and its kinds from one list: see the [module](crate::flow)
/// documentation.
///
/// Each variant is a unit, has named fields, or holds one struct (`Requested(Plan)`, whose
/// fields stand beside the tag in JSON), and may say after `=>` what it means:
/// `completed`, `rejected` or `cancelled` end an instance; `failure` and `compensation` draw
/// it as such; nothing is a step forward. The event enum is serialized with its kind's name
/// under an `event` key, as choreo's journals need; the kind enum (named after the `:`) lists
/// the same names.
#[macro_export]
macro_rules! events {
    (
        $(#[$meta:meta])*
        $vis:vis enum $event:ident : $kind:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $(($nty:ty))? $({ $($(#[$fmeta:meta])* $field:ident : $fty:ty),* $(,)? })?
                $(=> $mark:ident)?
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, $crate::serde::Serialize, $crate::serde::Deserialize)]
        #[serde(crate = "choreo::serde", tag = "event")]
        $vis enum $event {
            $($(#[$vmeta])* $variant $(($nty))? $({ $($(#[$fmeta])* $field: $fty),* })?),+
        }

        $crate::names! {
            #[doc = concat!("The kinds of [`", stringify!($event), "`], in the same order.")]
            $vis enum $kind { $($variant),+ }
        }

        impl $kind {
            /// What each kind means for its instance.
            pub const fn meaning(self) -> $crate::flow::Meaning {
                match self { $($kind::$variant => $crate::events!(@meaning $($mark)?)),+ }
            }

            /// `kinds` as a bit mask.
            pub const fn bits(kinds: &[$kind]) -> u64 {
                let mut bits = 0;
                let mut i = 0;
                while i < kinds.len() {
                    bits |= 1 << (kinds[i] as u32);
                    i += 1;
                }
                bits
            }

            /// The kinds that end an instance, as a bit mask.
            pub const TERMINAL: u64 = {
                let all = [$($kind::$variant),+];
                let mut bits = 0;
                let mut i = 0;
                while i < all.len() {
                    if all[i].meaning().outcome().is_some() {
                        bits |= 1 << (all[i] as u32);
                    }
                    i += 1;
                }
                bits
            };
        }

        impl $crate::flow::Events for $event {
            type Kind = $kind;

            fn kind(&self) -> $kind {
                match self { $($event::$variant { .. } => $kind::$variant),+ }
            }

            fn meaning(kind: $kind) -> $crate::flow::Meaning {
                kind.meaning()
            }
        }
    };
    (@meaning) => { $crate::flow::Meaning::Step };
    (@meaning completed) => { $crate::flow::Meaning::Completed };
    (@meaning rejected) => { $crate::flow::Meaning::Rejected };
    (@meaning cancelled) => { $crate::flow::Meaning::Cancelled };
    (@meaning failure) => { $crate::flow::Meaning::Failure };
    (@meaning compensation) => { $crate::flow::Meaning::Compensation };
    (@meaning $other:ident) => {
        compile_error!(concat!(
            "`=> ", stringify!($other), "`: an event means `completed`, `rejected`, `cancelled`, ",
            "`failure` or `compensation` (or nothing, for a step)"
        ))
    };
}

/// Writes a whole [`Choreography`] and its services: see the [module](crate::flow)
/// documentation.
///
/// ```text
/// choreo::choreography! {
///     /// Docs.
///     pub Name("name") {
///         events: Event / Kind,                    // written by `choreo::events!`
///         input: Record / id_field / at_ms_field,  // an `InstanceId` (a number) or a
///                                                  // `TextId` (a string); `at_ms` optional
///         about: "what `--help` says it is",       // optional
///         config: Type, keys ["section"], defaults include_str!("default.toml"),  // optional
///         stats: Type,                             // optional
///         start: Starter, |record, config| first_event,
///         max_events: 7,                           // optional: the handlers' longest path,
///                                                  // when shorter than the kinds reached
///         narrate: |event, id| lines,              // optional
///         facts: |event, f| write!(f, ..),         // optional: the fields, by default
///         ending: |terminal| text,                 // optional: `kind for id`, by default
///         cause: |envelope| Some(Cause { .. }),    // optional: the first failure, by default
///         invariant: |config, events, ended| Ok(()),  // optional
///         shared: |service, kind| true,            // optional: which handlings touch what
///                                                  // instances share (`Choreography::shared`)
///     }
///     services: ServiceEnum {
///         Starter: [] -> [FirstKind],              // a service that only starts instances
///         Name = "key" (Own = |config| own): [Heard, ..] -> [Published, ..] with State
///             => |own, state, event, out| { .. },  // `= "key"` (its config and NATS
///                                                  // name), `(Own = ..)`, `with State` optional
///     }
/// }
/// ```
#[macro_export]
macro_rules! choreography {
    (
        $(#[$meta:meta])*
        $vis:vis $name:ident ($title:literal) {
            events: $event:ident / $kind:ident,
            input: $input:ident / $id:ident $(/ $at:ident)?,
            $(about: $about:expr,)?
            $(config: $config:ty, keys [$($key:literal),* $(,)?], defaults $defaults:expr,)?
            $(stats: $stats:ty,)?
            start: $starter:ident, $start:expr,
            $(max_events: $max:expr,)?
            $(narrate: $narrate:expr,)?
            $(facts: $facts:expr,)?
            $(ending: $ending:expr,)?
            $(cause: $cause:expr,)?
            $(invariant: $invariant:expr,)?
            $(shared: $shared:expr,)?
        }
        services: $svc:ident {
            $(
                $(#[$smeta:meta])*
                $service:ident $(= $skey:literal)? $(($own:ty = $make:expr))?
                    : [$($sub:ident),* $(,)?] -> [$($publ:ident),* $(,)?]
                    $(with $state:ty)?
                    $(=> $handler:expr)?
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;

        $crate::names! {
            #[doc = concat!("The services of [`", stringify!($name), "`].")]
            // Services are often named `...Service`, as the tutorial's are.
            #[allow(clippy::enum_variant_names)]
            $vis enum $svc { $($service $(= $skey)?),+ }
        }

        impl $name {
            /// The whole command line, for this choreography.
            // A binary's `main` calls it; a test that includes the choreography does not.
            #[allow(dead_code)]
            pub fn main() -> ::std::process::ExitCode {
                $crate::app::main::<Self>($title)
            }
        }

        impl $crate::input::Record for $input {
            fn id(&self) -> $crate::input::InstanceId {
                $crate::input::ids::IdField::instance_id(self.$id)
            }

            fn at_ms(&self) -> Option<u64> {
                $crate::choreography!(@or [$(self.$at)?] [None])
            }

            const ID_FIELD: &'static str = stringify!($id);

            const TEXT_IDS: bool = $crate::input::ids::text_ids(|record: $input| record.$id);
        }

        $(
            $(#[$smeta])*
            #[derive(Debug, Clone, Hash)]
            $vis struct $service(pub $crate::choreography!(@or [$($own)?] [()]));

            impl $crate::engine::Service<$name> for $service {
                const NAME: $svc = $svc::$service;
                const SUBSCRIBES: &'static [$kind] = &[$($kind::$sub),*];
                const PUBLISHES: &'static [$kind] = &[$($kind::$publ),*];
                type State = $crate::choreography!(@or [$($state)?] [()]);

                fn handle(
                    &mut self,
                    state: &mut Self::State,
                    event: &$crate::engine::Envelope<$name>,
                    out: &mut $crate::engine::Outbox<$name>,
                ) {
                    $crate::choreography!(
                        @handle [$($handler)?] [$crate::choreography!(@or [$($own)?] [()])]
                        self state event out $name
                    )
                }
            }
        )+

        impl $crate::engine::Choreography for $name {
            const NAME: &'static str = $title;
            type Event = $event;
            type Kind = $kind;
            type Service = $svc;
            type Input = $input;
            type Config = $crate::choreography!(@or [$($config)?] [$crate::flow::NoConfig]);
            type Stats = $crate::choreography!(@or [$($stats)?] [$crate::flow::NoStats]);
            const CONFIG_KEYS: &'static [&'static str] = &[$($($key),*)?];
            const ABOUT: Option<&'static str> = Some($crate::choreography!(@or [$($about)?] [
                concat!("The ", $title, " choreography: services that cooperate only through events")
            ]));
            const DEFAULT_CONFIG: &'static str = $crate::choreography!(@or [$($defaults)?] [""]);
            const MAX_EVENTS: u64 = {
                let edges = [$((
                    $kind::bits(<$service as $crate::engine::Service<$name>>::SUBSCRIBES),
                    $kind::bits(<$service as $crate::engine::Service<$name>>::PUBLISHES),
                )),+];
                let start = $kind::bits(<$starter as $crate::engine::Service<$name>>::PUBLISHES);
                let reached = ($crate::flow::reachable(&edges, start & !$kind::TERMINAL)
                    | (start & $kind::TERMINAL))
                    .count_ones() as u64;
                // What the handlers decide may keep an instance shorter than the wiring
                // allows, never longer.
                $(
                assert!($max <= reached, "max_events is more than the kinds the wiring reaches");
                let reached: u64 = $max;
                )?
                reached
            };

            fn kind(event: &$event) -> $kind {
                $crate::flow::Events::kind(event)
            }

            fn outcome(kind: $kind) -> Option<$crate::engine::Outcome> {
                kind.meaning().outcome()
            }

            fn role(kind: $kind) -> $crate::engine::Role {
                kind.meaning().role()
            }

            fn start(input: &$input, config: &Self::Config) -> ($svc, $event) {
                ($svc::$starter, $crate::flow::starter::<$input, Self::Config, $event>($start)(input, config))
            }

            fn services(
                config: &Self::Config,
                _seed: u64,
                services: &mut impl $crate::engine::Services<Self>,
            ) -> Result<(), $crate::engine::SpawnError> {
                $crate::flow::check_wiring::<Self>($svc::$starter, &[$($crate::flow::Wiring {
                    service: $svc::$service,
                    subscribes: <$service as $crate::engine::Service<$name>>::SUBSCRIBES,
                    publishes: <$service as $crate::engine::Service<$name>>::PUBLISHES,
                }),+])?;
                let _ = config;
                $(services.add($service($crate::choreography!(@make [$($make)?] config)))?;)+
                Ok(())
            }

            fn narrate(
                envelope: &$crate::engine::Envelope<Self>,
                out: &mut impl ::std::io::Write,
            ) -> ::std::io::Result<()> {
                $crate::flow::narrate::<Self, _>(
                    envelope,
                    out,
                    $crate::choreography!(@or [$($narrate)?] [$crate::flow::plainly::<Self>]),
                )
            }

            fn facts(event: &$event, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                $crate::choreography!(@or [$($facts)?] [$crate::flow::facts])(event, f)
            }

            fn cause(
                envelope: &$crate::engine::Envelope<Self>,
            ) -> Option<$crate::engine::Cause<$svc>> {
                $crate::choreography!(@or [$($cause)?] [$crate::flow::cause::<Self>])(envelope)
            }

            $(
            fn ending(terminal: &$crate::engine::Envelope<Self>) -> String {
                ($ending)(terminal)
            }
            )?

            $(
            fn invariant(
                config: &Self::Config,
                events: &[&$crate::engine::Envelope<Self>],
                ended: bool,
            ) -> Result<(), String> {
                ($invariant)(config, events, ended)
            }
            )?

            fn shared(service: $svc, kind: $kind) -> bool {
                $crate::choreography!(@shared [$($shared)?] [$($invariant)?] service kind {
                    $($svc::$service => $crate::choreography!(@has [$($own)?]),)+
                })
            }
        }
    };
    // What a service shares between instances is its own state (`(Own = ..)`): a service
    // without one touches only the instance's record. An invariant may read any event across
    // instances, so with one (and no `shared` clause) every handling counts as shared.
    (@shared [$shared:expr] [$($invariant:tt)*] $service:ident $kind:ident { $($arms:tt)* }) => {
        ($shared)($service, $kind)
    };
    (@shared [] [$($invariant:tt)+] $service:ident $kind:ident { $($arms:tt)* }) => {
        { let _ = ($service, $kind); true }
    };
    (@shared [] [] $service:ident $kind:ident { $($arms:tt)* }) => {
        { let _ = $kind; match $service { $($arms)* } }
    };
    (@has [$($given:tt)+]) => { true };
    (@has []) => { false };
    (@or [$($given:tt)+] [$($default:tt)*]) => { $($given)+ };
    (@or [] [$($default:tt)*]) => { $($default)* };
    (@make [$make:expr] $config:ident) => { $crate::flow::maker($make)($config) };
    (@make [] $config:ident) => { () };
    (@handle [$handler:expr] [$own:ty] $self:ident $state:ident $event:ident $out:ident $name:ident) => {
        $crate::flow::handler::<$name, $own, Self::State>($handler)(&mut $self.0, $state, $event, $out)
    };
    (@handle [] [$own:ty] $self:ident $state:ident $event:ident $out:ident $name:ident) => {
        { let _ = ($state, $event, $out); }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::events! {
        pub enum Ev: K { Asked, Echoed, Answered => completed, Lost => cancelled }
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Ask {
        id: InstanceId,
    }

    crate::choreography! {
        pub Asking("asking") {
            events: Ev / K,
            input: Ask / id,
            start: Asker, |_, _| Ev::Asked,
        }
        services: Svc {
            Asker: [] -> [Asked],
            Echo: [Asked] -> [Echoed, Answered],
            Loser: [] -> [Lost],
        }
    }

    fn wiring(service: Svc, subscribes: &'static [K], publishes: &'static [K]) -> Wiring<Asking> {
        Wiring {
            service,
            subscribes,
            publishes,
        }
    }

    /// The declared wiring is checked when the choreography starts, and the message names
    /// the kinds that make it wrong.
    #[test]
    fn a_wiring_that_cannot_work_is_refused_naming_the_kinds() {
        let asker = wiring(Svc::Asker, &[], &[K::Asked]);
        let heard = wiring(Svc::Echo, &[K::Asked, K::Echoed], &[K::Echoed, K::Answered]);
        let lost = wiring(Svc::Loser, &[], &[K::Lost]);
        let check = |wiring: &[Wiring<Asking>]| {
            check_wiring::<Asking>(Svc::Asker, wiring).map_err(|err| err.to_string())
        };
        let err = check(&[asker, heard]).unwrap_err();
        assert!(err.ends_with("no service publishes: Lost"), "{err}");
        let err = check(&[
            asker,
            wiring(Svc::Echo, &[K::Asked], &[K::Echoed, K::Answered]),
            lost,
        ])
        .unwrap_err();
        assert!(
            err.ends_with("heard by no service, and not ending an instance: Echoed"),
            "{err}"
        );
        let err = check(&[asker, heard, lost]).unwrap_err();
        assert!(
            err.ends_with("no path from Asker's start reaches: Lost"),
            "{err}"
        );
        let spawned = crate::engine::choreography::declarations::<Asking>(&NoConfig {}, 1);
        assert!(matches!(spawned, Err(SpawnError::Wiring(_))), "{spawned:?}");
    }

    /// An event's facts are its fields in declaration order, and nothing without fields.
    #[test]
    fn facts_are_the_fields_in_order() {
        #[derive(Serialize)]
        #[serde(tag = "event")]
        enum Said {
            Moved { to: u32, from: &'static str },
            Still,
        }
        struct Shown(Said);
        impl fmt::Display for Shown {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                facts(&self.0, f)
            }
        }
        assert_eq!(
            Shown(Said::Moved { to: 2, from: "A" }).to_string(),
            "to 2, from A"
        );
        assert_eq!(Shown(Said::Still).to_string(), "");
    }

    #[test]
    fn kind_names_read_as_words() {
        assert_eq!(words("DebitRejected"), "debit rejected");
        assert_eq!(words("Out"), "out");
    }

    #[test]
    fn reachable_follows_the_wiring_to_a_fixed_point() {
        // 0 -> 1 -> 2, 3 unreachable.
        let edges = [(0b1, 0b10), (0b10, 0b100), (0b1000, 0b1)];
        assert_eq!(reachable(&edges, 0b1), 0b111);
    }
}
