//! One order's story, from a journal: its causal chain as a tree, or the orders that never
//! reached a terminal state.
//!
//! A run's text output interleaves every order; when one order went wrong, a reader wants that
//! order alone, in the shape the choreography gave it: each event hangs under the event that
//! caused it (its envelope's `cause`), so a failure and the compensations it set off read top to
//! bottom, each line with the facts that explain it (what was requested and available, what was
//! charged and what credit was left, the shipment limit, what was given up on) and two times:
//! since the order arrived, and since its cause (the step, including any time spent queued
//! behind other orders' work).
//!
//! Everything here is a function of the journal alone, so a trace of a replayed seed is the
//! same bytes as the trace of the original run.

use std::fmt;
use std::io;

use rustc_hash::FxHashMap;

use crate::engine::Choreography;
use crate::engine::{Envelope, EventId, Facts};
use crate::input::InstanceId;

/// Prints `order`'s causal chain as a tree: each event, its service, and the time since the
/// order's first event; then its terminal state, or `STUCK after <event>`.
///
/// One line per event, `tree`-style, children under their cause in bus (`seq`) order:
///
/// ```text
/// OrderCreated by OrderService at +0 ms: 150 of product 101 for customer 1, 0 ms into the run
/// └─ InventoryChecked by InventoryService at +12 ms (step 12 ms): reserved 150 of product 101, 848 left
///    └─ PaymentProcessed by PaymentService at +149 ms (step 137 ms): charged $2998.50 to customer 1, $996961.52 credit left
///       └─ ...
/// terminal: OrderCancelled after 230 ms
/// ```
///
/// Times are in milliseconds with up to three decimals (`at_us` is microseconds): `at` is since
/// the order's `OrderCreated` (or its earliest event, in a journal that lacks it), `step` since
/// the event's cause. The last line is `terminal: <kind> after <ms> ms` for the order's first
/// terminal event, or `STUCK after <kind>` naming its last event when it has none.
///
/// A journal written by `run --journal` always gives one tree rooted at `OrderCreated`; a
/// hand-edited or truncated one still prints every event of the order exactly once: an event
/// whose cause is missing becomes a root of its own, marked `cause <id> is not in the journal`.
///
/// An order with no event in the journal is an [`io::ErrorKind::NotFound`] error, which
/// `choreo trace` reports as a usage error.
pub fn order<C: Choreography>(
    events: &[Envelope<C>],
    order: InstanceId,
    out: &mut impl io::Write,
) -> io::Result<()> {
    // Only this order's events are kept: memory follows the order, not the journal.
    let mut chain: Vec<&Envelope<C>> = events.iter().filter(|e| e.order_id == order).collect();
    if chain.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} {order} is not in the journal",
                <C::Input as crate::input::Record>::noun()
            ),
        ));
    }
    // A journal is in bus order already; sorting (stable) makes sure of it for any input.
    chain.sort_by_key(|e| e.seq);

    // Causation: each event's parent is the event whose id is its cause. Should an id appear
    // twice (never in a real journal), the first one is the parent.
    let mut position: FxHashMap<EventId<C::Kind>, usize> = FxHashMap::default();
    for (i, envelope) in chain.iter().enumerate() {
        position.entry(envelope.id).or_insert(i);
    }
    let parent: Vec<Option<usize>> = chain
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.cause
                .and_then(|cause| position.get(&cause).copied())
                .filter(|&p| p != i)
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); chain.len()];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            // `i` grows, so every child list is in seq order.
            children[*p].push(i);
        }
    }

    let base = chain
        .iter()
        .find(|e| e.is_start())
        .or_else(|| chain.iter().min_by_key(|e| e.at_us))
        .map_or(0, |e| e.at_us);

    let tree = Tree {
        chain: &chain,
        parent: &parent,
        children: &children,
        base,
    };
    let mut shown = vec![false; chain.len()];
    // The roots first; then anything still not shown, which only a cycle of causes in a
    // hand-made journal can leave: every event is printed once, and the walk always ends.
    let roots = (0..chain.len()).filter(|&i| parent[i].is_none());
    let rest = 0..chain.len();
    for root in roots.chain(rest) {
        if !shown[root] {
            tree.print(root, &mut shown, out)?;
        }
    }

    let terminal = chain.iter().find(|e| e.is_terminal());
    match (terminal, chain.last()) {
        (Some(end), _) => writeln!(
            out,
            "terminal: {} after {} ms",
            end.kind(),
            Ms(end.at_us.saturating_sub(base))
        ),
        (None, Some(last)) => writeln!(out, "STUCK after {}", last.kind()),
        (None, None) => Ok(()),
    }
}

/// Lists every order without a terminal state, with its last event.
///
/// One line per such order, sorted by order id, e.g.
/// `order 7: STUCK after PaymentProcessed (+1520 ms, seq 41)`: the time of that last event
/// since the order's `OrderCreated` (as in [`order`]'s tree: how long the order got before it
/// stopped moving) and its bus position, to find it in the journal or in `trace --order`. When
/// every order finished, the one line `no stuck orders`, so the answer is never an empty
/// screen. Nothing else is printed, so the lines can be counted or filtered as they are.
///
/// A stuck order is a fact about the run, not an error in reading it: the result is `Ok`
/// either way, with the number of stuck orders (the command line exits 1 when there are
/// any, so scripts can tell).
///
/// One pass over the journal; memory is one small record per order.
pub fn stuck<C: Choreography>(events: &[Envelope<C>], out: &mut impl io::Write) -> io::Result<u64> {
    let mut orders: FxHashMap<InstanceId, Progress<C>> = FxHashMap::default();
    for envelope in events {
        let progress = orders.entry(envelope.order_id).or_insert(Progress {
            created_at: None,
            earliest_at: envelope.at_us,
            last: envelope,
            finished: false,
        });
        if envelope.is_start() && progress.created_at.is_none() {
            progress.created_at = Some(envelope.at_us);
        }
        progress.earliest_at = progress.earliest_at.min(envelope.at_us);
        if envelope.seq >= progress.last.seq {
            progress.last = envelope;
        }
        progress.finished |= envelope.is_terminal();
    }
    let mut stuck: Vec<(InstanceId, Progress<C>)> = orders
        .into_iter()
        .filter(|(_, progress)| !progress.finished)
        .collect();
    if stuck.is_empty() {
        writeln!(
            out,
            "no stuck {}s",
            <C::Input as crate::input::Record>::noun()
        )?;
        return Ok(0);
    }
    stuck.sort_unstable_by_key(|(order, _)| *order);
    let count = stuck.len() as u64;
    for (order, progress) in stuck {
        let base = progress.created_at.unwrap_or(progress.earliest_at);
        writeln!(
            out,
            "{} {order}: STUCK after {} (+{} ms, seq {})",
            <C::Input as crate::input::Record>::noun(),
            progress.last.kind(),
            Ms(progress.last.at_us.saturating_sub(base)),
            progress.last.seq
        )?;
    }
    Ok(count)
}

/// What [`stuck`] remembers of one order while it reads the journal.
struct Progress<'a, C: Choreography> {
    /// When the order's `OrderCreated` was published: the order's time zero.
    created_at: Option<u64>,
    /// Time zero in a journal that lacks the `OrderCreated`.
    earliest_at: u64,
    /// The event with the highest `seq` so far.
    last: &'a Envelope<C>,
    finished: bool,
}

/// One order's events with their causation, ready to print.
struct Tree<'a, C: Choreography> {
    /// The order's events, in seq order.
    chain: &'a [&'a Envelope<C>],
    parent: &'a [Option<usize>],
    /// Each event's children, in seq order.
    children: &'a [Vec<usize>],
    /// The order's time zero, in microseconds since the run started.
    base: u64,
}

impl<C: Choreography> Tree<'_, C> {
    /// Prints the subtree under `root`, marking each event `shown`. Iterative, so a long chain
    /// in a hand-made journal cannot overflow the stack.
    fn print(&self, root: usize, shown: &mut [bool], out: &mut impl io::Write) -> io::Result<()> {
        // (event, depth, last among its siblings)
        let mut stack = vec![(root, 0usize, true)];
        shown[root] = true;
        // For each ancestor below the root: whether it was the last of its siblings, which
        // decides between `│  ` and blank under it.
        let mut lasts: Vec<bool> = Vec::new();
        let mut prefix = String::new();
        while let Some((i, depth, last)) = stack.pop() {
            prefix.clear();
            if depth > 0 {
                lasts.truncate(depth - 1);
                for &ancestor_last in &lasts {
                    prefix.push_str(if ancestor_last { "   " } else { "│  " });
                }
                prefix.push_str(if last { "└─ " } else { "├─ " });
                lasts.push(last);
            }
            self.line(&prefix, i, out)?;
            let next: Vec<usize> = self.children[i]
                .iter()
                .copied()
                .filter(|&c| !shown[c])
                .collect();
            for (n, &child) in next.iter().enumerate().rev() {
                shown[child] = true;
                stack.push((child, depth + 1, n + 1 == next.len()));
            }
        }
        Ok(())
    }

    /// One event's line: kind, emitter, time since the order arrived, step time, facts.
    fn line(&self, prefix: &str, i: usize, out: &mut impl io::Write) -> io::Result<()> {
        let envelope = self.chain[i];
        write!(
            out,
            "{prefix}{} by {} at +{} ms",
            envelope.kind(),
            envelope.service,
            Ms(envelope.at_us.saturating_sub(self.base))
        )?;
        if let Some(p) = self.parent[i] {
            let step = envelope.step_us(self.chain[p]);
            write!(out, " (step {} ms)", Ms(step))?;
        }
        write!(out, "{}", Facts::<C>(&envelope.event).after_colon())?;
        if envelope.is_start() {
            write!(out, ", {} ms into the run", Ms(envelope.at_us))?;
        }
        match (envelope.cause, self.parent[i]) {
            (Some(cause), None) => writeln!(out, "; cause {cause} is not in the journal"),
            _ => writeln!(out),
        }
    }
}

/// Microseconds shown as milliseconds with up to three decimals: `0`, `12.5`, `1520`, `0.001`.
#[derive(Debug)]
pub struct Ms(pub u64);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ms, us) = (self.0 / 1000, self.0 % 1000);
        if us == 0 {
            return write!(f, "{ms}");
        }
        let decimals = format!("{us:03}");
        write!(f, "{ms}.{}", decimals.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::{
        CancelReason, CustomerId, DeclineReason, Declined, Event, EventKind, OrderId, ProductId,
        Quantity, ServiceName, Shop, Unavailable,
    };

    type Envelope = crate::engine::Envelope<Shop>;
    type EventId = crate::engine::EventId<EventKind>;

    fn id(order: u64, kind: EventKind) -> EventId {
        EventId {
            order_id: OrderId::new(order).expect("valid id"),
            kind,
        }
    }

    /// An envelope of `order` at bus position `seq`, `at_us` into the run, caused by the
    /// order's event of kind `cause`.
    fn envelope(
        seq: u64,
        at_us: u64,
        order: u64,
        service: ServiceName,
        cause: Option<EventKind>,
        event: Event,
    ) -> Envelope {
        Envelope {
            seq,
            at_us,
            id: id(order, event.kind()),
            order_id: OrderId::new(order).expect("valid id"),
            service,
            cause: cause.map(|kind| id(order, kind)),
            event,
        }
    }

    fn created(seq: u64, at_us: u64, order: u64) -> Envelope {
        envelope(
            seq,
            at_us,
            order,
            ServiceName::OrderService,
            None,
            Event::OrderCreated {
                product_id: ProductId::new(101).expect("valid"),
                quantity: Quantity::new(150).expect("valid"),
                customer_id: CustomerId::new(1).expect("valid"),
            },
        )
    }

    fn checked(seq: u64, at_us: u64, order: u64) -> Envelope {
        envelope(
            seq,
            at_us,
            order,
            ServiceName::InventoryService,
            Some(EventKind::OrderCreated),
            Event::InventoryChecked {
                product_id: ProductId::new(101).expect("valid"),
                quantity: Quantity::new(150).expect("valid"),
                stock: 850,
            },
        )
    }

    fn processed(seq: u64, at_us: u64, order: u64) -> Envelope {
        envelope(
            seq,
            at_us,
            order,
            ServiceName::PaymentService,
            Some(EventKind::InventoryChecked),
            Event::PaymentProcessed {
                customer_id: CustomerId::new(1).expect("valid"),
                amount_cents: 299_850,
                credit_left_cents: 700_150,
                attempts: 2,
            },
        )
    }

    /// A shipping failure and its compensations, with times.
    fn shipping_failure(order: u64, first_seq: u64, arrived_us: u64) -> Vec<Envelope> {
        let (s, t) = (first_seq, arrived_us);
        vec![
            created(s, t, order),
            checked(s + 1, t + 2_000, order),
            processed(s + 2, t + 12_500, order),
            envelope(
                s + 3,
                t + 13_500,
                order,
                ServiceName::ShippingService,
                Some(EventKind::PaymentProcessed),
                Event::ShippingFailed {
                    quantity: Quantity::new(150).expect("valid"),
                    max_quantity: Quantity::new(100).expect("valid"),
                },
            ),
            envelope(
                s + 4,
                t + 20_001,
                order,
                ServiceName::PaymentService,
                Some(EventKind::ShippingFailed),
                Event::PaymentRefunded {
                    customer_id: CustomerId::new(1).expect("valid"),
                    amount_cents: 299_850,
                    credit_left_cents: 1_000_000,
                },
            ),
            envelope(
                s + 5,
                t + 21_000,
                order,
                ServiceName::InventoryService,
                Some(EventKind::PaymentRefunded),
                Event::InventoryReleased {
                    product_id: ProductId::new(101).expect("valid"),
                    quantity: Quantity::new(150).expect("valid"),
                    stock: 1000,
                },
            ),
            envelope(
                s + 6,
                t + 1_520_000,
                order,
                ServiceName::OrderService,
                Some(EventKind::InventoryReleased),
                Event::OrderCancelled {
                    reason: CancelReason::ShippingFailed,
                },
            ),
        ]
    }

    fn trace(events: &[Envelope], order: u64) -> String {
        let mut out = Vec::new();
        super::order(events, OrderId::new(order).expect("valid id"), &mut out).expect("traced");
        String::from_utf8(out).expect("utf-8")
    }

    fn stuck_text(events: &[Envelope]) -> String {
        let mut out = Vec::new();
        super::stuck(events, &mut out).expect("listed");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn milliseconds_show_up_to_three_decimals() {
        let shown: Vec<String> = [0, 1, 500, 12_500, 12_340, 1_520_000]
            .into_iter()
            .map(|us| Ms(us).to_string())
            .collect();
        assert_eq!(shown, ["0", "0.001", "0.5", "12.5", "12.34", "1520"]);
    }

    #[test]
    fn a_shipping_failure_reads_as_one_chain_with_times_and_facts() {
        let events = shipping_failure(6, 3, 5_000);
        assert_eq!(
            trace(&events, 6),
            "\
OrderCreated by OrderService at +0 ms: 150 of product 101 for customer 1, 5 ms into the run
└─ InventoryChecked by InventoryService at +2 ms (step 2 ms): reserved 150 of product 101, 850 left
   └─ PaymentProcessed by PaymentService at +12.5 ms (step 10.5 ms): charged $2998.50 to customer 1, $7001.50 credit left, after 2 gateway attempts
      └─ ShippingFailed by ShippingService at +13.5 ms (step 1 ms): 150 units exceed the 100-unit shipment limit
         └─ PaymentRefunded by PaymentService at +20.001 ms (step 6.501 ms): refunded $2998.50 to customer 1, $10000.00 credit left
            └─ InventoryReleased by InventoryService at +21 ms (step 0.999 ms): released 150 of product 101, 1000 in stock
               └─ OrderCancelled by OrderService at +1520 ms (step 1499 ms): shipping failed
terminal: OrderCancelled after 1520 ms
"
        );
    }

    #[test]
    fn only_the_asked_order_is_traced() {
        let mut events = shipping_failure(1, 0, 0);
        events.extend(shipping_failure(2, 7, 0));
        events.truncate(10);
        assert_eq!(
            trace(&events, 2),
            "\
OrderCreated by OrderService at +0 ms: 150 of product 101 for customer 1, 0 ms into the run
└─ InventoryChecked by InventoryService at +2 ms (step 2 ms): reserved 150 of product 101, 850 left
   └─ PaymentProcessed by PaymentService at +12.5 ms (step 10.5 ms): charged $2998.50 to customer 1, $7001.50 credit left, after 2 gateway attempts
STUCK after PaymentProcessed
"
        );
    }

    #[test]
    fn a_rejection_shows_what_was_requested_and_available() {
        let unavailable = Unavailable {
            product_id: ProductId::new(103).expect("valid"),
            requested: Quantity::new(41).expect("valid"),
            available: Some(40),
        };
        let unknown = Unavailable {
            product_id: ProductId::new(999).expect("valid"),
            requested: Quantity::new(1).expect("valid"),
            available: None,
        };
        let mut events = Vec::new();
        for (order, facts) in [(2, unavailable), (4, unknown)] {
            events.push(created(order * 10, 0, order));
            events.push(envelope(
                order * 10 + 1,
                250,
                order,
                ServiceName::InventoryService,
                Some(EventKind::OrderCreated),
                Event::InventoryUnavailable(facts),
            ));
            events.push(envelope(
                order * 10 + 2,
                1_250,
                order,
                ServiceName::OrderService,
                Some(EventKind::InventoryUnavailable),
                Event::OrderRejected(facts),
            ));
        }
        assert_eq!(
            trace(&events, 2),
            "\
OrderCreated by OrderService at +0 ms: 150 of product 101 for customer 1, 0 ms into the run
└─ InventoryUnavailable by InventoryService at +0.25 ms (step 0.25 ms): requested 41 of product 103, 40 available
   └─ OrderRejected by OrderService at +1.25 ms (step 1 ms): requested 41 of product 103, 40 available
terminal: OrderRejected after 1.25 ms
"
        );
        assert!(trace(&events, 4).contains(
            "└─ InventoryUnavailable by InventoryService at +0.25 ms (step 0.25 ms): requested 1 of product 999, which is not in the catalog\n"
        ));
    }

    #[test]
    fn a_declined_payment_shows_its_reason_and_amounts() {
        let declined = |reason, credit_left_cents, attempts| {
            let events = vec![
                created(0, 0, 5),
                checked(1, 0, 5),
                envelope(
                    2,
                    3_000,
                    5,
                    ServiceName::PaymentService,
                    Some(EventKind::InventoryChecked),
                    Event::PaymentDeclined(Declined {
                        customer_id: CustomerId::new(2).expect("valid"),
                        amount_cents: 249_950,
                        credit_left_cents,
                        reason,
                        attempts,
                    }),
                ),
            ];
            let text = trace(&events, 5);
            text.lines().nth(2).expect("the declined line").to_owned()
        };
        assert_eq!(
            declined(DeclineReason::InsufficientCredit, Some(200_060), 0),
            "   └─ PaymentDeclined by PaymentService at +3 ms (step 3 ms): insufficient credit: $2499.50 charge, customer 2 has $2000.60 left"
        );
        assert_eq!(
            declined(DeclineReason::UnknownCustomer, None, 0),
            "   └─ PaymentDeclined by PaymentService at +3 ms (step 3 ms): unknown customer: customer 2 is not configured ($2499.50 charge)"
        );
        assert_eq!(
            declined(DeclineReason::GatewayTimeout, Some(200_060), 3),
            "   └─ PaymentDeclined by PaymentService at +3 ms (step 3 ms): gateway timeout: 3 attempts timed out ($2499.50 charge to customer 2)"
        );
    }

    #[test]
    fn a_dead_letter_shows_what_was_given_up_on_and_the_crashes() {
        let events = vec![
            created(0, 0, 3),
            envelope(
                1,
                40_000,
                3,
                ServiceName::InventoryService,
                Some(EventKind::OrderCreated),
                Event::DeadLettered {
                    gave_up_on: EventKind::OrderCreated,
                    crashes: 3,
                },
            ),
            envelope(
                2,
                40_000,
                3,
                ServiceName::OrderService,
                Some(EventKind::DeadLettered),
                Event::OrderCancelled {
                    reason: CancelReason::DeadLettered,
                },
            ),
        ];
        assert_eq!(
            trace(&events, 3),
            "\
OrderCreated by OrderService at +0 ms: 150 of product 101 for customer 1, 0 ms into the run
└─ DeadLettered by InventoryService at +40 ms (step 40 ms): gave up on OrderCreated after 3 crashes
   └─ OrderCancelled by OrderService at +40 ms (step 0 ms): dead-lettered
terminal: OrderCancelled after 40 ms
"
        );
    }

    #[test]
    fn several_children_of_one_cause_branch_in_seq_order() {
        // Not a path the services take, but the tree must draw any causation it is given.
        let mut events = vec![created(0, 0, 1), checked(1, 1_000, 1)];
        let mut second = processed(2, 2_000, 1);
        second.cause = Some(id(1, EventKind::OrderCreated));
        events.push(second);
        let under_second = envelope(
            3,
            3_000,
            1,
            ServiceName::ShippingService,
            Some(EventKind::PaymentProcessed),
            Event::ShippingArranged {
                product_id: ProductId::new(101).expect("valid"),
                quantity: Quantity::new(150).expect("valid"),
            },
        );
        events.push(under_second);
        events.push(envelope(
            4,
            4_000,
            1,
            ServiceName::InventoryService,
            Some(EventKind::InventoryChecked),
            Event::InventoryReleased {
                product_id: ProductId::new(101).expect("valid"),
                quantity: Quantity::new(150).expect("valid"),
                stock: 1000,
            },
        ));
        // Out of order in the slice: the tree still follows seq.
        events.swap(1, 2);
        assert_eq!(
            trace(&events, 1),
            "\
OrderCreated by OrderService at +0 ms: 150 of product 101 for customer 1, 0 ms into the run
├─ InventoryChecked by InventoryService at +1 ms (step 1 ms): reserved 150 of product 101, 850 left
│  └─ InventoryReleased by InventoryService at +4 ms (step 3 ms): released 150 of product 101, 1000 in stock
└─ PaymentProcessed by PaymentService at +2 ms (step 2 ms): charged $2998.50 to customer 1, $7001.50 credit left, after 2 gateway attempts
   └─ ShippingArranged by ShippingService at +3 ms (step 1 ms): shipped 150 of product 101
terminal: ShippingArranged after 3 ms
"
        );
    }

    #[test]
    fn an_event_whose_cause_is_missing_is_shown_as_a_root_of_its_own() {
        // The journal lost the order's first two events.
        let events = vec![processed(7, 9_000, 4)];
        assert_eq!(
            trace(&events, 4),
            "\
PaymentProcessed by PaymentService at +0 ms: charged $2998.50 to customer 1, $7001.50 credit left, after 2 gateway attempts; cause 4.InventoryChecked is not in the journal
STUCK after PaymentProcessed
"
        );
    }

    #[test]
    fn a_cycle_of_causes_prints_every_event_once_and_ends() {
        let mut a = checked(0, 0, 8);
        a.cause = Some(id(8, EventKind::PaymentProcessed));
        let b = processed(1, 1_000, 8);
        assert_eq!(
            trace(&[a, b], 8),
            "\
InventoryChecked by InventoryService at +0 ms (step 0 ms): reserved 150 of product 101, 850 left
└─ PaymentProcessed by PaymentService at +1 ms (step 1 ms): charged $2998.50 to customer 1, $7001.50 credit left, after 2 gateway attempts
STUCK after PaymentProcessed
"
        );
    }

    #[test]
    fn an_order_not_in_the_journal_is_not_found() {
        let events = shipping_failure(1, 0, 0);
        let mut out = Vec::new();
        let err = super::order(&events, OrderId::new(2).expect("valid"), &mut out)
            .expect_err("order 2 is not there");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(err.to_string(), "order 2 is not in the journal");
        assert!(out.is_empty());
    }

    #[test]
    fn stuck_orders_are_listed_by_id_with_their_last_event() {
        let mut events = shipping_failure(9, 0, 1_000);
        events.truncate(3);
        events.extend(shipping_failure(2, 3, 2_000));
        events.extend(shipping_failure(7, 10, 0));
        events.truncate(16);
        events.push(created(16, 50_000, 12));
        assert_eq!(
            stuck_text(&events),
            "\
order 7: STUCK after InventoryReleased (+21 ms, seq 15)
order 9: STUCK after PaymentProcessed (+12.5 ms, seq 2)
order 12: STUCK after OrderCreated (+0 ms, seq 16)
"
        );
    }

    #[test]
    fn when_every_order_finished_no_order_is_stuck() {
        let mut events = shipping_failure(1, 0, 0);
        events.extend(shipping_failure(2, 7, 0));
        assert_eq!(stuck_text(&events), "no stuck orders\n");
        assert_eq!(stuck_text(&[]), "no stuck orders\n");
    }
}
