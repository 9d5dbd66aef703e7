//! Mermaid diagrams: the services' wiring, derived from what each service declares in code,
//! and one order's sequence across the services, from a journal.
//!
//! Both are built from [`declarations`], the `SUBSCRIBES` and `PUBLISHES` constants of the
//! choreography's [`Service`](crate::engine::Service) impls. Those constants are the real wiring: the task loop delivers a service only
//! the kinds it subscribes to and fails it if it publishes one it does not declare. So a
//! diagram drawn from them cannot drift from the code the way a hand-drawn one can. The only
//! other part is presentation: which kinds are drawn as failures, compensations or terminal
//! states (the choreography's [`Role`] and outcomes).
//!
//! Both outputs are deterministic: services and kinds in their [`Name::ALL`] order, no hash
//! map anywhere, so they can be pinned byte for byte in tests
//! and checked into docs/seeing-a-run.md.

use std::io;

use crate::config::Config;
use crate::engine::{Choreography, Envelope, Kinds, Name, Role};
use crate::input::InstanceId;

/// One service's declared wiring: its name, the kinds it subscribes to, the kinds it publishes.
pub type Declaration<C> = (
    <C as Choreography>::Service,
    Kinds<<C as Choreography>::Kind>,
    Kinds<<C as Choreography>::Kind>,
);

/// Every service's declared wiring, in [`Name::ALL`] order, read from the trait constants of
/// the services the choreography builds from its default config, so that nothing here
/// restates them. (The wiring does not depend on the config; a choreography whose defaults
/// cannot build its services has none to draw, and its own tests say why.)
pub fn declarations<C: Choreography>() -> Vec<Declaration<C>> {
    let declared = Config::<C>::load(&[], &[])
        .map_err(|err| err.to_string())
        .and_then(|config| {
            crate::engine::choreography::declarations::<C>(
                &config.choreography,
                config.simulation.seed,
            )
            .map_err(|err| err.to_string())
        });
    match declared {
        Ok(declared) => declared
            .into_iter()
            .map(|d| (d.name, d.subscribes, d.publishes))
            .collect(),
        Err(err) => {
            tracing::error!(%err, "the choreography cannot build its services to draw them");
            Vec::new()
        }
    }
}

/// How a kind is drawn: the choreography's [`Role`], except that a terminal kind is drawn as
/// one whatever else it is, since that it ends the instance matters most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drawn {
    Forward,
    Failure,
    Compensation,
    Terminal,
}

fn role<C: Choreography>(kind: C::Kind) -> Drawn {
    if C::outcome(kind).is_some() {
        return Drawn::Terminal;
    }
    match C::role(kind) {
        Role::Failure => Drawn::Failure,
        Role::Compensation => Drawn::Compensation,
        Role::Forward | Role::Closing => Drawn::Forward,
    }
}

/// The services that publish `kind`, in [`Name::ALL`] order.
fn publishers<C: Choreography>(
    decls: &[Declaration<C>],
    kind: C::Kind,
) -> impl Iterator<Item = C::Service> + '_ {
    decls
        .iter()
        .filter(move |(_, _, publishes)| publishes.contains(kind))
        .map(|(name, _, _)| *name)
}

/// Whether `service` hearing `kind` is it hearing its own event (as in the reference, each
/// service confirms what it published) rather than reacting to another's: it is the only
/// service that publishes the kind. A kind several services publish (the shop's `DeadLettered`) is a real
/// reaction for each subscriber, since it hears the others' too.
fn is_own<C: Choreography>(decls: &[Declaration<C>], service: C::Service, kind: C::Kind) -> bool {
    let mut publishing = publishers::<C>(decls, kind);
    publishing.next() == Some(service) && publishing.next().is_none()
}

/// One edge of the topology flowchart.
struct Edge {
    from: &'static str,
    /// The Mermaid arrow, with its label if any.
    arrow: &'static str,
    to: &'static str,
    /// The role of the event at either end, which colours the edge.
    role: Drawn,
}

/// A flowchart of services and events: who publishes what, who reacts to what, failure and
/// compensation edges marked.
///
/// Every service is a box and every event kind a rounded node. `service --> event`: the
/// service publishes it (labelled `fails` or `compensates` for failures and compensations,
/// and coloured red or orange, as are the edges out of such events). `event -.-> service`:
/// the service subscribes to it. A service that subscribes to an event only it publishes
/// hears its own event and confirms it, as in the reference; those self-loops are kept,
/// since they are declared, but labelled `confirms` so they do not read as a step forward.
/// Terminal states have a thick border.
pub fn topology<C: Choreography>(out: &mut impl io::Write) -> io::Result<()> {
    let decls = declarations::<C>();
    writeln!(out, "flowchart LR")?;
    writeln!(
        out,
        "    %% Generated by `choreo diagram topology` from each service's SUBSCRIBES and PUBLISHES."
    )?;
    writeln!(
        out,
        "    %% service --> event: publishes it; event -.-> service: reacts to it; -.->|confirms|: hears its own event."
    )?;
    for (service, _, _) in &decls {
        writeln!(out, "    {service}[{service}]:::service")?;
    }
    for &kind in C::Kind::ALL {
        let class = match role::<C>(kind) {
            Drawn::Forward => "",
            Drawn::Failure => ":::failure",
            Drawn::Compensation => ":::compensation",
            Drawn::Terminal => ":::terminal",
        };
        writeln!(out, "    {kind}([{kind}]){class}")?;
    }

    let mut edges = Vec::new();
    for &kind in C::Kind::ALL {
        let role = role::<C>(kind);
        for service in publishers::<C>(&decls, kind) {
            edges.push(Edge {
                from: service.name(),
                arrow: match role {
                    Drawn::Failure => "-->|fails|",
                    Drawn::Compensation => "-->|compensates|",
                    Drawn::Forward | Drawn::Terminal => "-->",
                },
                to: kind.name(),
                role,
            });
        }
        for &(service, subscribes, _) in &decls {
            if subscribes.contains(kind) {
                edges.push(Edge {
                    from: kind.name(),
                    arrow: if is_own::<C>(&decls, service, kind) {
                        "-.->|confirms|"
                    } else {
                        "-.->"
                    },
                    to: service.name(),
                    role,
                });
            }
        }
    }
    for edge in &edges {
        writeln!(out, "    {} {} {}", edge.from, edge.arrow, edge.to)?;
    }

    writeln!(out, "    classDef service fill:#e8eefc,stroke:#446")?;
    writeln!(out, "    classDef failure fill:#f7d4d4,stroke:#a22")?;
    writeln!(out, "    classDef compensation fill:#fbe7c6,stroke:#c70")?;
    writeln!(out, "    classDef terminal stroke:#222,stroke-width:3px")?;
    // Mermaid styles edges by their position among all the edges, counted from 0.
    for (marked, style) in [
        (Drawn::Failure, "stroke:#a22"),
        (Drawn::Compensation, "stroke:#c70"),
    ] {
        let positions: Vec<String> = edges
            .iter()
            .enumerate()
            .filter(|(_, edge)| edge.role == marked)
            .map(|(position, _)| position.to_string())
            .collect();
        if !positions.is_empty() {
            writeln!(out, "    linkStyle {} {style}", positions.join(","))?;
        }
    }
    Ok(())
}

/// A sequence diagram of one order across the services.
///
/// Every service is a participant, in [`Name::ALL`] order, so diagrams
/// of different orders line up. Each event of the order, in journal (bus) order, is drawn as
/// one message from its emitter to each service that subscribes to it (their `SUBSCRIBES`):
/// the bus delivers it there, whether or not the service then acts on it. The emitter's own
/// confirmation comes first, as a dotted message to itself; an event nobody subscribes to
/// (`OrderRejected`, `OrderCancelled`) is a note over its emitter. Each label is the event's
/// name and the time since the order's first event. A last note spanning every service says
/// how the order ended, or that it has no terminal event in this journal. (The task loop also
/// hands every terminal event to every service, to drop the order's state; that is
/// bookkeeping, not a subscription, and is not drawn.)
///
/// An order with no event in `events` is an [`io::ErrorKind::NotFound`] error, which the CLI
/// shows as a usage error; nothing is written then.
pub fn order<C: Choreography>(
    events: &[Envelope<C>],
    order: InstanceId,
    out: &mut impl io::Write,
) -> io::Result<()> {
    let noun = <C::Input as crate::input::Record>::noun();
    let mine: Vec<&Envelope<C>> = events.iter().filter(|e| e.order_id == order).collect();
    let (Some(earliest), Some(latest)) = (mine.first(), mine.last()) else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{noun} {order} is not in the journal"),
        ));
    };
    let start = earliest.at_us;
    let decls = declarations::<C>();
    let (Some(first), Some(last)) = (C::Service::ALL.first(), C::Service::ALL.last()) else {
        return Ok(());
    };

    writeln!(out, "sequenceDiagram")?;
    writeln!(
        out,
        "    %% {}{} {order}: each event goes from its emitter to every service that subscribes to it;",
        noun[..1].to_uppercase(),
        &noun[1..]
    )?;
    writeln!(
        out,
        "    %% -->> to itself: the emitter hears its own event; times are since the {noun}'s first event."
    )?;
    for service in C::Service::ALL {
        writeln!(out, "    participant {service}")?;
    }
    let mut ending = None;
    for &envelope in &mine {
        let kind = envelope.kind();
        let emitter = envelope.service;
        let label = label(envelope, start);
        let hearing: Vec<C::Service> = decls
            .iter()
            .filter(|(_, subscribes, _)| subscribes.contains(kind))
            .map(|(service, _, _)| *service)
            .collect();
        if hearing.is_empty() {
            writeln!(out, "    Note over {emitter}: {label}")?;
        }
        if hearing.contains(&emitter) {
            writeln!(out, "    {emitter}-->>{emitter}: {label}")?;
        }
        for service in hearing.into_iter().filter(|s| *s != emitter) {
            writeln!(out, "    {emitter}->>{service}: {label}")?;
        }
        if envelope.is_terminal() && ending.is_none() {
            ending = Some(envelope);
        }
    }
    let outcome = match ending {
        Some(terminal) => C::ending(terminal),
        None => format!(
            "{noun} {order} did not finish in this journal: last event {}",
            latest.kind()
        ),
    };
    writeln!(out, "    Note over {first},{last}: {outcome}")
}

/// A message's label: the event's name (with what was given up on, for a dead letter) and the
/// time since the order's first event.
fn label<C: Choreography>(envelope: &Envelope<C>, start_us: u64) -> String {
    let since = since(envelope.at_us.saturating_sub(start_us));
    match C::as_dead_letter(&envelope.event) {
        Some((gave_up_on, _)) => format!("{}, gave up on {gave_up_on} {since}", envelope.kind()),
        None => format!("{} {since}", envelope.kind()),
    }
}

/// Microseconds as `+12 ms` or `+12.5 ms`: exact (the journal's resolution) without floats,
/// and short for the whole milliseconds simulated latencies mostly are.
fn since(us: u64) -> String {
    let (ms, frac) = (us / 1000, us % 1000);
    if frac == 0 {
        format!("+{ms} ms")
    } else {
        let frac = format!("{frac:03}");
        format!("+{ms}.{} ms", frac.trim_end_matches('0'))
    }
}

/// The (publisher, kind) pairs whose kind no other service subscribes to, terminal kinds left
/// out. A service hearing its own event only confirms it; if nobody else hears it, the
/// instance stops there without reaching a terminal state. Terminal kinds end the instance,
/// so nobody needs to react to them. Empty for a sound wiring.
pub fn unheard<C: Choreography>(decls: &[Declaration<C>]) -> Vec<(C::Service, C::Kind)> {
    let mut unheard = Vec::new();
    for &(publisher, _, publishes) in decls {
        for kind in publishes.iter().filter(|k| C::outcome(*k).is_none()) {
            let heard = decls
                .iter()
                .any(|&(other, subscribes, _)| other != publisher && subscribes.contains(kind));
            if !heard {
                unheard.push((publisher, kind));
            }
        }
    }
    unheard
}

/// The kinds an instance can reach from its first event, of kind `start`: from an event
/// published by one service, every kind that another service subscribing to it publishes.
/// A service hearing its own event is not followed (it only confirms it). The declarations do
/// not say which input leads to which output, so this is what the wiring allows: an
/// unreachable terminal kind is certainly a wiring bug; a reachable one is possible.
pub fn reachable<C: Choreography>(decls: &[Declaration<C>], start: C::Kind) -> Kinds<C::Kind> {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo: Vec<(C::Service, C::Kind)> = publishers::<C>(decls, start)
        .map(|service| (service, start))
        .collect();
    let mut kinds = Kinds::empty();
    while let Some((publisher, kind)) = todo.pop() {
        if !seen.insert((publisher, kind)) {
            continue;
        }
        kinds.insert(kind);
        for &(service, subscribes, publishes) in decls {
            if service != publisher && subscribes.contains(kind) {
                todo.extend(publishes.iter().map(|next| (service, next)));
            }
        }
    }
    kinds
}

/// Checks a choreography's declared wiring: every non-terminal kind a service publishes is
/// heard by another service, and every terminal kind can be reached from `start` (the kind of
/// every instance's first event). For a choreography's own tests; the error lists every
/// problem.
pub fn check_wiring<C: Choreography>(start: C::Kind) -> Result<(), String> {
    let decls = declarations::<C>();
    let mut problems: Vec<String> = unheard::<C>(&decls)
        .into_iter()
        .map(|(service, kind)| {
            format!("{kind}, published by {service}, is heard by no other service")
        })
        .collect();
    let reached = reachable::<C>(&decls, start);
    problems.extend(
        C::Kind::ALL
            .iter()
            .filter(|k| C::outcome(**k).is_some() && !reached.contains(**k))
            .map(|k| format!("terminal {k} cannot be reached from {start}")),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::{EventKind, ServiceName, Shop};

    type Declaration = super::Declaration<Shop>;

    fn declarations() -> Vec<Declaration> {
        super::declarations::<Shop>()
    }

    fn publishers(
        decls: &[Declaration],
        kind: EventKind,
    ) -> impl Iterator<Item = ServiceName> + '_ {
        super::publishers::<Shop>(decls, kind)
    }

    fn is_own(decls: &[Declaration], service: ServiceName, kind: EventKind) -> bool {
        super::is_own::<Shop>(decls, service, kind)
    }

    fn unheard(decls: &[Declaration]) -> Vec<(ServiceName, EventKind)> {
        super::unheard::<Shop>(decls)
    }

    fn reachable(decls: &[Declaration]) -> Kinds<EventKind> {
        super::reachable::<Shop>(decls, EventKind::OrderCreated)
    }

    /// A small, deliberately broken wiring: InventoryChecked is heard by nobody else, so no
    /// terminal state can be reached.
    fn broken() -> Vec<Declaration> {
        vec![
            (
                ServiceName::OrderService,
                Kinds::of(&[EventKind::OrderCreated]),
                Kinds::of(&[
                    EventKind::OrderCreated,
                    EventKind::OrderRejected,
                    EventKind::OrderCancelled,
                ]),
            ),
            (
                ServiceName::InventoryService,
                Kinds::of(&[EventKind::OrderCreated, EventKind::InventoryChecked]),
                Kinds::of(&[EventKind::InventoryChecked]),
            ),
        ]
    }

    /// The table holds each service once, in `ServiceName::ALL` order, which both diagrams
    /// rely on.
    #[test]
    fn the_declarations_list_every_service_once_in_order() {
        let names: Vec<ServiceName> = declarations().iter().map(|(name, _, _)| *name).collect();
        assert_eq!(names.as_slice(), ServiceName::ALL);
    }

    /// Every non-terminal kind a service publishes is subscribed to by some other service, so
    /// no order can stop at an event nobody acts on.
    #[test]
    fn every_published_event_but_a_terminal_one_is_heard_by_another_service() {
        assert_eq!(unheard(&declarations()), []);
    }

    /// The one-call check a choreography's tests use finds nothing wrong with the shop.
    #[test]
    fn the_shop_wiring_passes_the_check() {
        assert_eq!(check_wiring::<Shop>(EventKind::OrderCreated), Ok(()));
    }

    /// Every terminal state can be reached from `OrderCreated` along publish and react edges.
    #[test]
    fn every_terminal_state_is_reachable_from_order_created() {
        let reachable = reachable(&declarations());
        for kind in EventKind::TERMINAL {
            assert!(reachable.contains(kind), "{kind} cannot be reached");
        }
    }

    /// Every kind is published by some service and every subscription is to a kind someone
    /// publishes: no dead node in the flowchart.
    #[test]
    fn every_kind_and_every_subscription_has_a_publisher() {
        let decls = declarations();
        for &kind in EventKind::ALL {
            assert!(
                publishers(&decls, kind).next().is_some(),
                "nobody publishes {kind}"
            );
        }
        for &(service, subscribes, _) in &decls {
            for kind in subscribes.iter() {
                assert!(
                    publishers(&decls, kind).next().is_some(),
                    "{service} subscribes to {kind}, which nobody publishes"
                );
            }
        }
    }

    /// The checks above can fail: on a broken wiring they name the unheard event and miss
    /// the terminal states.
    #[test]
    fn a_broken_wiring_is_caught_by_the_checks() {
        let decls = broken();
        assert_eq!(
            unheard(&decls),
            [(ServiceName::InventoryService, EventKind::InventoryChecked)]
        );
        let reachable = reachable(&decls);
        assert!(reachable.contains(EventKind::InventoryChecked));
        for kind in EventKind::TERMINAL {
            assert!(!reachable.contains(kind), "{kind} reached");
        }
    }

    /// Only the sole publisher of a kind hearing it counts as confirming its own event.
    #[test]
    fn a_service_confirms_only_what_it_alone_publishes() {
        let decls = declarations();
        assert!(is_own(
            &decls,
            ServiceName::OrderService,
            EventKind::OrderCreated
        ));
        assert!(!is_own(
            &decls,
            ServiceName::InventoryService,
            EventKind::OrderCreated
        ));
        assert!(!is_own(
            &decls,
            ServiceName::PaymentService,
            EventKind::DeadLettered
        ));
    }

    /// Times are exact to the microsecond and short when whole.
    #[test]
    fn times_are_shown_in_milliseconds_exactly() {
        assert_eq!(since(0), "+0 ms");
        assert_eq!(since(12_000), "+12 ms");
        assert_eq!(since(12_500), "+12.5 ms");
        assert_eq!(since(1_001), "+1.001 ms");
    }
}
