//! The engine's hand-made synchronisation protocols, each written once and compiled twice:
//! with std's atomics and locks (and Tokio's `Notify`) for the engine, and, under `cargo
//! test`, with shuttle's, whose models below explore the interleavings of their threads
//! (depth-first, then by PCT, each to a bound) and fail on a wait that nobody ends.
//! (`cargo fmt` does not reach an included file: `rustfmt src/engine/protocol/*.rs` does.)
//!
//! Why shuttle and not loom: loom models `SeqCst` accesses as `AcqRel` (a documented limit
//! of it), and these protocols are Dekker-style (each side stores, then loads what the other
//! stores), correct only under the total order `SeqCst` gives; loom reports stalls there that
//! `SeqCst` rules out. Every atomic access of these protocols is `SeqCst` (a subscriber's
//! look at its own cursor aside), so a sequentially consistent explorer checks exactly what
//! the hardware guarantees.
//!
//! - [`Gate`] (`protocol/gate.rs`): a wait polled again only after its waker fired; what
//!   [`Watched`](crate::engine::gate::Watched) and the supervisor's waits stand on.
//! - [`Room`] and [`Cursor`] (`protocol/room.rs`): the bus's consumption cursors, told only
//!   when it matters, and the supervisor's wait for room on the bus.
//! - [`Lease`] (`protocol/lease.rs`): a worker handed back to its slot as its task stops or
//!   crashes, for the restart to take.
//!
//! Each file names the types it needs and takes them from the module that includes it.

mod engine {
    pub(super) use futures_util::task::AtomicWaker;
    pub(super) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    pub(super) use std::sync::{Arc, Mutex};
    pub(super) use tokio::sync::Notify;
}

mod gate {
    use super::engine::{AtomicBool, AtomicWaker, Ordering};
    include!("protocol/gate.rs");
}

mod room {
    use super::engine::{Arc, AtomicU64, Mutex, Notify, Ordering};
    include!("protocol/room.rs");
}

mod lease {
    use super::engine::{Arc, Mutex};
    include!("protocol/lease.rs");
}

pub use gate::Gate;
pub use lease::{HandBack, Lease, Slot};
pub use room::{Cursor, Room};

/// The same protocols on shuttle's types, and their models (see `model` for how far `cargo
/// test` explores each).
#[cfg(test)]
mod models {
    mod modelled {
        pub(super) use shuttle::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        pub(super) use shuttle::sync::{Arc, Mutex};

        /// An `AtomicWaker` with the futures crate's contract (a wake takes the waker out;
        /// register stores the latest), kept behind a lock: the model checks the gate's use of
        /// it, not the futures crate's lock-free inside.
        #[derive(Debug)]
        pub(super) struct AtomicWaker(Mutex<Option<std::task::Waker>>);

        impl AtomicWaker {
            pub(super) fn new() -> Self {
                AtomicWaker(Mutex::new(None))
            }

            pub(super) fn register(&self, waker: &std::task::Waker) {
                *self.0.lock().expect("not poisoned") = Some(waker.clone());
            }

            pub(super) fn wake(&self) {
                let waker = self.0.lock().expect("not poisoned").take();
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        }

        /// Tokio's `Notify` as the room protocol uses it: one waiter, and a wake-up kept for
        /// a waiter yet to come (`notify_one`'s permit).
        #[derive(Debug)]
        pub(super) struct Notify {
            permit: Mutex<bool>,
            woken: shuttle::sync::Condvar,
        }

        impl Notify {
            pub(super) fn new() -> Self {
                Notify {
                    permit: Mutex::new(false),
                    woken: shuttle::sync::Condvar::new(),
                }
            }

            pub(super) fn notify_one(&self) {
                *self.permit.lock().expect("not poisoned") = true;
                self.woken.notify_one();
            }

            /// Waits for a permit and takes it.
            pub(super) fn wait(&self) {
                let mut permit = self.permit.lock().expect("not poisoned");
                while !*permit {
                    permit = self.woken.wait(permit).expect("not poisoned");
                }
                *permit = false;
            }
        }
    }

    // The models do not use every method.
    #[allow(dead_code)]
    mod gate {
        use super::modelled::{AtomicBool, AtomicWaker, Ordering};
        include!("protocol/gate.rs");
    }

    #[allow(dead_code)]
    mod room {
        use super::modelled::{Arc, AtomicU64, Mutex, Notify, Ordering};
        include!("protocol/room.rs");
    }

    #[allow(dead_code)]
    mod lease {
        use super::modelled::{Arc, Mutex};
        include!("protocol/lease.rs");
    }

    use std::task::Poll;

    use modelled::{Arc, AtomicWaker, Mutex, Ordering};
    use shuttle::sync::atomic::AtomicUsize;

    /// Explores `f` two ways, each up to `CHOREO_MODEL_ITERATIONS` schedules (10,000 by
    /// default): depth-first, every schedule in turn (exhaustive for a small model), and by
    /// probabilistic concurrency testing (PCT, depth 3), which finds bugs that need a thread
    /// preempted early, where a depth-first search arrives last.
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let iterations = std::env::var("CHOREO_MODEL_ITERATIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(10_000);
        let f = std::sync::Arc::new(f);
        let again = std::sync::Arc::clone(&f);
        shuttle::check_dfs(move || f(), Some(iterations));
        shuttle::check_pct(move || again(), iterations, 3);
    }

    /// A wait that is ready once it has been woken twice.
    struct Wakes {
        count: AtomicUsize,
        waker: AtomicWaker,
    }

    /// A task waiting through a gate is woken by every wake of its wait, not only the first:
    /// the wait wakes twice (from another thread), and the task, which needs both, finishes.
    /// (A task that nobody wakes fails the model as a deadlock.)
    #[test]
    fn a_task_waiting_through_a_gate_is_woken_by_every_wake_of_its_wait() {
        model(|| {
            let wait = Arc::new(Wakes {
                count: AtomicUsize::new(0),
                waker: AtomicWaker::new(),
            });
            let waking = Arc::clone(&wait);
            let waker = shuttle::thread::spawn(move || {
                for _ in 0..2 {
                    waking.count.fetch_add(1, Ordering::SeqCst);
                    waking.waker.wake();
                }
            });
            let mut gate = gate::Gate::default();
            shuttle::future::block_on(std::future::poll_fn(|cx| {
                gate.poll(cx, |cx| {
                    wait.waker.register(cx.waker());
                    match wait.count.load(Ordering::SeqCst) {
                        2 => Poll::Ready(()),
                        _ => Poll::Pending,
                    }
                })
            }));
            waker.join().expect("the waking thread");
        });
    }

    /// What the supervisor does out of room (`engine::run`): ask, look once more, sleep, until
    /// the slowest subscriber has consumed `at` events.
    fn wait_for_room(room: &room::Room, at: u64) {
        while room.slowest_consumed() < at {
            room.wait_for_room(at);
            if room.slowest_consumed() >= at {
                room.stop_waiting_for_room();
                break;
            }
            room.freed().wait();
            room.stop_waiting_for_room();
        }
    }

    /// The supervisor out of room sleeps until the slowest subscriber makes room, and is
    /// always woken then: two subscribers consume on their own threads (telling their
    /// cursors only as the protocol says: at once while the supervisor waits, and before
    /// they wait themselves), and the supervisor, waiting for both to reach 2, never sleeps
    /// through it.
    #[test]
    fn the_supervisor_waiting_for_room_is_woken_once_every_subscriber_made_it() {
        model(|| {
            const AT: u64 = 2;
            let room = Arc::new(room::Room::default());
            let subscribers: Vec<_> = (0..2)
                .map(|_| {
                    let (room, mut cursor) = (Arc::clone(&room), room.cursor());
                    shuttle::thread::spawn(move || {
                        for _ in 0..AT {
                            cursor.consumed(&room);
                        }
                        // Nothing more to read: about to wait.
                        cursor.report(&room);
                    })
                })
                .collect();
            wait_for_room(&room, AT);
            for subscriber in subscribers {
                subscriber.join().expect("a subscriber");
            }
        });
    }

    /// A worker and what it consumed.
    struct Worker {
        room: Arc<room::Room>,
        cursor: room::Cursor,
        handled: u64,
    }

    impl lease::HandBack for Worker {
        fn handing_back(&mut self) {
            self.cursor.report(&self.room);
        }
    }

    /// The supervisor waits for room while the slowest subscriber crashes: the crashed
    /// task's lease hands the worker back to its slot with what it consumed told, which
    /// wakes the supervisor; the restart (once the supervisor has seen the task end, which the
    /// runtime reports only after the task's future is dropped) finds the worker as it was.
    #[test]
    fn a_crashed_workers_state_and_reading_are_handed_to_its_restart() {
        model(|| {
            let room = Arc::new(room::Room::default());
            let worker = Worker {
                room: Arc::clone(&room),
                cursor: room.cursor(),
                handled: 0,
            };
            let slot: lease::Slot<Worker> = Arc::new(Mutex::new(Some(worker)));
            let task = {
                let slot = Arc::clone(&slot);
                shuttle::thread::spawn(move || {
                    let mut lease = lease::Lease::take(slot);
                    let worker = lease.worker().expect("the worker is in its slot");
                    let room = Arc::clone(&worker.room);
                    worker.cursor.consumed(&room);
                    worker.handled += 1;
                    // The crash: the lease is dropped by the unwinding.
                    drop(lease);
                })
            };
            wait_for_room(&room, 1);
            task.join().expect("the task");
            let restarted = {
                let slot = Arc::clone(&slot);
                shuttle::thread::spawn(move || {
                    let mut lease = lease::Lease::take(slot);
                    let worker = lease.worker().expect("handed back before the end was seen");
                    (worker.handled, worker.cursor.count())
                })
            };
            assert_eq!(restarted.join().expect("the restart"), (1, 1));
        });
    }
}
