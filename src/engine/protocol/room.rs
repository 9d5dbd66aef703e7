// The bus's room protocol, compiled twice (see `engine::protocol`): `Arc`, `Mutex`,
// `AtomicU64`, `Ordering` and `Notify` are the including module's, std's and Tokio's for the
// engine, loom's for its model.

/// [`Room::room_at`]'s value while the supervisor is not waiting for room.
pub const NOT_WAITING: u64 = u64::MAX;

/// How far each subscriber of the bus has consumed, and the supervisor's wait for room.
///
/// Protocol: the supervisor, out of room, stores the slowest consumed count at which there is
/// room ([`Room::wait_for_room`]), looks at the cursors once more, and only then waits on
/// [`Room::freed`]. A subscriber stores its cursor before it reads that count (both
/// `SeqCst`), so either the supervisor's second look sees the new cursor or the subscriber
/// sees the count; and the last cursor to reach it sees every other, and wakes the
/// supervisor. `Notify` keeps the wake-up if the supervisor does not wait yet.
#[derive(Debug)]
pub struct Room {
    /// Events consumed by each subscriber, in subscription order.
    cursors: Mutex<Vec<Arc<AtomicU64>>>,
    /// While the supervisor waits for room: the slowest consumed count at which there is
    /// room ([`NOT_WAITING`] otherwise). Subscribers then tell their cursor after each event
    /// they consume, and wake it once every cursor has reached the count: a wake-up for a
    /// consumption that makes no room would only cost it a look.
    room_at: AtomicU64,
    freed: Notify,
}

impl Default for Room {
    fn default() -> Self {
        Room {
            cursors: Mutex::new(Vec::new()),
            room_at: AtomicU64::new(NOT_WAITING),
            freed: Notify::new(),
        }
    }
}

impl Room {
    /// A new subscriber's cursor, at 0.
    pub fn cursor(&self) -> Cursor {
        let shared = Arc::new(AtomicU64::new(0));
        self.cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Arc::clone(&shared));
        Cursor {
            shared,
            consumed: 0,
        }
    }

    /// How many events the slowest subscriber has told it consumed.
    pub fn slowest_consumed(&self) -> u64 {
        let cursors = self
            .cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cursors
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .min()
            .unwrap_or(0)
    }

    /// What the subscriber `index` (in subscription order) has told it consumed.
    pub fn consumed_by(&self, index: usize) -> Option<u64> {
        let cursors = self
            .cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cursors.get(index).map(|c| c.load(Ordering::SeqCst))
    }

    /// Asks subscribers to signal [`Room::freed`] as soon as the slowest of them has consumed
    /// `at` events. The caller looks for room once more before it waits.
    pub fn wait_for_room(&self, at: u64) {
        self.room_at.store(at, Ordering::SeqCst);
    }

    /// Stops asking (see [`Room::wait_for_room`]).
    pub fn stop_waiting_for_room(&self) {
        self.room_at.store(NOT_WAITING, Ordering::SeqCst);
    }

    /// What the supervisor waits on once it asked for room and looked once more.
    pub fn freed(&self) -> &Notify {
        &self.freed
    }

    /// A subscriber has told its cursor, `consumed`: wakes the supervisor if it waits for
    /// room and every subscriber has now consumed enough.
    #[inline]
    fn told(&self, consumed: u64) {
        let at = self.room_at.load(Ordering::SeqCst);
        if at != NOT_WAITING && consumed >= at && self.slowest_consumed() >= at {
            self.freed.notify_one();
        }
    }
}

/// One subscriber's consumption: the count it has, and the cursor the supervisor reads,
/// told only when it matters (see [`Cursor::consumed`] and [`Cursor::report`]).
#[derive(Debug)]
pub struct Cursor {
    shared: Arc<AtomicU64>,
    /// Events consumed, of which `shared` has been told as of the last report.
    consumed: u64,
}

impl Cursor {
    /// One more event consumed; told at once if the supervisor waits for room.
    #[inline]
    pub fn consumed(&mut self, room: &Room) {
        self.consumed += 1;
        if room.room_at.load(Ordering::SeqCst) != NOT_WAITING {
            self.shared.store(self.consumed, Ordering::SeqCst);
            room.told(self.consumed);
        }
    }

    /// Tells the supervisor how far this subscriber has consumed: before the subscriber
    /// waits on anything, so admission never waits on a count the subscriber has not told.
    pub fn report(&mut self, room: &Room) {
        if self.shared.load(Ordering::Relaxed) != self.consumed {
            self.shared.store(self.consumed, Ordering::SeqCst);
            room.told(self.consumed);
        }
    }

    /// Events consumed.
    pub fn count(&self) -> u64 {
        self.consumed
    }
}
