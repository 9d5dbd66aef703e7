// The gate's protocol, compiled twice (see `engine::protocol`): `AtomicBool`, `AtomicWaker`
// and `Ordering` are the including module's, std's and futures' for the engine, loom's for
// its model.

/// Polls a wait only when it has woken since it was last polled (or has never been).
///
/// Protocol: the wait is polled with a waker of the gate's own, which sets `flag` and then
/// wakes the task registered in `task`. A poll registers the task's waker first, then swaps
/// the flag: a wake after the registration finds the waker (and wakes the task), a wake
/// before the swap is seen by it (and the wait is polled). Registering at every poll is what
/// keeps this true after a wake: a wake takes the waker out of `task`.
#[derive(Debug)]
pub struct Gate {
    woken: std::sync::Arc<Woken>,
    /// What the wait is polled with: wakes `woken`, which wakes the task.
    waker: std::task::Waker,
    /// The wait has been polled and is registered with `waker`.
    primed: bool,
}

#[derive(Debug)]
struct Woken {
    flag: AtomicBool,
    task: AtomicWaker,
}

impl std::task::Wake for Woken {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.flag.store(true, Ordering::SeqCst);
        self.task.wake();
    }
}

impl Default for Gate {
    fn default() -> Self {
        let woken = std::sync::Arc::new(Woken {
            flag: AtomicBool::new(false),
            task: AtomicWaker::new(),
        });
        Gate {
            waker: std::task::Waker::from(std::sync::Arc::clone(&woken)),
            woken,
            primed: false,
        }
    }
}

impl Gate {
    /// `poll` (a wait's poll function), unless the wait has not woken since its last
    /// `Pending`: then `Pending` without polling it. The task is woken as the wait would wake
    /// it. After a `Ready`, the next call polls again (the wait may have more).
    pub fn poll<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        poll: impl FnOnce(&mut std::task::Context<'_>) -> std::task::Poll<T>,
    ) -> std::task::Poll<T> {
        // Before the flag is looked at, every time: see the type's documentation. (The same
        // waker registered again costs two atomic operations and no clone.)
        self.woken.task.register(cx.waker());
        if self.primed && !self.woken.flag.swap(false, Ordering::SeqCst) {
            return std::task::Poll::Pending;
        }
        self.primed = true;
        let polled = poll(&mut std::task::Context::from_waker(&self.waker));
        if polled.is_ready() {
            self.primed = false;
        }
        polled
    }

    /// Whether the wait has been polled and is pending (until it wakes).
    pub fn primed(&self) -> bool {
        self.primed
    }

    /// Whether the wait woke since the gate last polled it, without taking the wake.
    pub fn woken(&self) -> bool {
        self.woken.flag.load(Ordering::SeqCst)
    }
}
