//! What a served service knows of the stream's instances: those started and not ended, and
//! the last ones ended (see [`Instances`]).

use std::collections::VecDeque;

use rustc_hash::FxHashSet;

use crate::engine::{Choreography, Envelope, Name};
use crate::input::InstanceId;
use crate::recent::Recent;

/// The instances the stream has started and not ended, and the last ones it ended (as many
/// as `services.dedup_window`). Every event but an instance's first follows that first
/// event in the stream, since it was decided after it was read: an event of an instance the
/// stream never started is foreign (made up, or published by something else on the
/// subject), and a service that took it would reserve, charge or ship for an order that
/// does not exist. Memory: the instances in flight and the window.
///
/// A string id is a key into the process's table of texts (see [`crate::input::ids`]), which
/// forgets texts nobody holds: read again, a forgotten text would get a new key, and its
/// instance would be one the service never saw. So the texts of the instances in flight and
/// of the last `window` ended are held, and released as they leave the window (or the whole
/// record is dropped, as the service starts over): a serve that runs forever keeps the texts
/// of these only, plus the table's own window.
#[derive(Debug)]
pub(crate) struct Instances {
    open: FxHashSet<InstanceId>,
    ended: Recent<InstanceId, ()>,
    /// The last `window` ended instances with string ids, oldest first: their texts are held.
    held: VecDeque<InstanceId>,
    window: usize,
}

impl Instances {
    pub(crate) fn new(window: usize) -> Self {
        Instances {
            open: FxHashSet::default(),
            ended: Recent::new(window),
            held: VecDeque::new(),
            window,
        }
    }

    /// `id` (in flight until now, its text held) has ended: its text is held while it is one
    /// of the last `window` ended, and the one that leaves the window is released.
    fn end(&mut self, id: InstanceId) {
        self.ended.insert(id, ());
        if id.is_text() {
            self.held.push_back(id);
            if self.held.len() > self.window {
                if let Some(oldest) = self.held.pop_front() {
                    oldest.release();
                }
            }
        }
    }

    /// Takes `envelope` into account: `Err` with the reason if no service can take it.
    pub(crate) fn admit<C: Choreography>(&mut self, envelope: &Envelope<C>) -> Result<(), String> {
        let id = envelope.order_id;
        if self.open.contains(&id) {
            if envelope.is_terminal() {
                self.open.remove(&id);
                self.end(id);
            }
            return Ok(());
        }
        if self.ended.contains(&id) {
            // A late repeat: the step passes it over as a duplicate.
            return Ok(());
        }
        if envelope.is_start() {
            if !envelope.is_terminal() {
                self.open.insert(id);
                id.hold();
            }
            return Ok(());
        }
        Err(format!(
            "{} of instance {id}, which the stream has not started (or ended too long ago)",
            envelope.kind().name()
        ))
    }
}

/// Lets go of every text held: the service starts over with a fresh record, or stops.
impl Drop for Instances {
    fn drop(&mut self) {
        for id in self.open.drain().chain(self.held.drain(..)) {
            id.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EventId;
    use crate::input::ids::is_held;
    use crate::shop::{CancelReason, Event, EventKind, ServiceName, Shop};

    /// An event of instance `id`: its first (`cause` none), or its last (a cancellation).
    fn event(id: InstanceId, first: bool) -> Envelope<Shop> {
        let (kind, event) = if first {
            let event = serde_json::json!({
                "event": "OrderCreated", "product_id": 1, "quantity": 1, "customer_id": 1
            });
            (
                EventKind::OrderCreated,
                serde_json::from_value(event).expect("an event"),
            )
        } else {
            let reason = CancelReason::PaymentDeclined;
            (EventKind::OrderCancelled, Event::OrderCancelled { reason })
        };
        let cause = EventId {
            order_id: id,
            kind: EventKind::OrderCreated,
        };
        Envelope {
            seq: 0,
            at_us: 0,
            id: EventId { order_id: id, kind },
            order_id: id,
            service: ServiceName::OrderService,
            cause: (!first).then_some(cause),
            event,
        }
    }

    /// A serve that runs on and on keeps the texts of the instances in flight and of the last
    /// `window` ended only: older ones are let go (the table may forget them), and a fresh
    /// record (the service starting over) lets go of everything it held.
    #[test]
    fn texts_of_instances_in_flight_and_lately_ended_are_held_and_no_others() {
        let window = 3;
        let mut instances = Instances::new(window);
        let ids: Vec<InstanceId> = (0..10)
            .map(|n| InstanceId::text(&format!("instances-held-{n}")).expect("an id"))
            .collect();
        for id in &ids {
            instances.admit(&event(*id, true)).expect("started");
            assert!(is_held(*id), "in flight");
        }
        for id in &ids[..8] {
            instances.admit(&event(*id, false)).expect("ended");
        }
        let held: Vec<bool> = ids.iter().map(|id| is_held(*id)).collect();
        assert_eq!(
            held,
            [false, false, false, false, false, true, true, true, true, true],
            "the last {window} ended and the 2 in flight"
        );
        let late = event(ids[7], false);
        assert_eq!(instances.admit(&late), Ok(()), "a late repeat passes");
        let never = InstanceId::text("instances-held-never").expect("an id");
        assert!(instances.admit(&event(never, false)).is_err(), "foreign");
        drop(instances);
        assert!(ids.iter().all(|id| !is_held(*id)), "all let go");
    }
}
