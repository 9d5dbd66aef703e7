//! Admission control: how many more instances the bus has room for.
//!
//! A broadcast sender never waits, so the bus stays lossless only if no subscriber ever falls
//! `capacity` events behind. An instance can cause at most `max_events` events. [`Credit`]
//! keeps `reserved`: the events of finished instances plus the maximum for each instance in
//! flight, an upper bound on everything that will ever be published. The next instance is
//! admitted only while `reserved + max_events <= slowest_consumed + capacity`. Since the
//! slowest cursor only grows, no subscriber can be more than `capacity` behind.
//!
//! Freeing an instance's room at its terminal event alone would not do: a slow subscriber may
//! still hold unread events of finished instances, which is why the window is measured from
//! the slowest subscriber's consumed count.

/// The credit window; plain arithmetic, no Tokio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    capacity: u64,
    max_events: u64,
    /// Off only for experiments with lag: then there is always room.
    enabled: bool,
    reserved: u64,
}

impl Credit {
    pub fn new(capacity: u64, max_events: u64, enabled: bool) -> Self {
        Credit {
            capacity,
            max_events: max_events.max(1),
            enabled,
            reserved: 0,
        }
    }

    /// How many more instances fit, given what the slowest subscriber has consumed.
    pub fn room(&self, slowest_consumed: u64) -> u64 {
        if !self.enabled {
            return u64::MAX;
        }
        let free = (slowest_consumed + self.capacity).saturating_sub(self.reserved);
        free / self.max_events
    }

    /// The slowest consumed count from which [`Credit::room`] is more than 0.
    pub fn room_at(&self) -> u64 {
        if !self.enabled {
            return 0;
        }
        (self.reserved + self.max_events).saturating_sub(self.capacity)
    }

    /// One instance admitted: room for its most events is reserved.
    pub fn admit(&mut self) {
        self.reserved += self.max_events;
    }

    /// An instance finished after `seen` events: what it did not use is given back.
    pub fn finish(&mut self, seen: u64) {
        self.reserved -= self.max_events.saturating_sub(seen);
    }

    /// Events published or still to come, at most.
    pub fn reserved(&self) -> u64 {
        self.reserved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_is_admitted_only_with_room_for_its_most_events() {
        let mut credit = Credit::new(16, 7, true);
        assert_eq!(credit.room(0), 2);
        credit.admit();
        credit.admit();
        assert_eq!(credit.room(0), 0, "14 reserved, 2 free: not enough for 7");
        assert_eq!(credit.room_at(), 5, "5 more consumed free 7");
        assert_eq!(credit.room(4), 0);
        assert_eq!(credit.room(5), 1);
    }

    #[test]
    fn a_finished_instance_frees_only_what_it_did_not_use() {
        let mut credit = Credit::new(16, 7, true);
        credit.admit();
        credit.admit();
        credit.finish(4);
        assert_eq!(credit.reserved(), 11);
        // Its 4 events may still be unread by the slowest subscriber: no room yet.
        assert_eq!(credit.room(0), 0);
        // Once they are consumed, there is.
        assert_eq!(credit.room(4), 1);
    }

    #[test]
    fn room_grows_with_the_slowest_subscriber() {
        let mut credit = Credit::new(8, 4, true);
        credit.admit();
        credit.admit();
        assert_eq!(credit.room(0), 0);
        credit.finish(4);
        assert_eq!(
            credit.room(3),
            0,
            "one event of the finished instance still unread"
        );
        assert_eq!(credit.room(4), 1);
    }

    #[test]
    fn without_admission_there_is_always_room() {
        let credit = Credit::new(8, 4, false);
        assert_eq!(credit.room(0), u64::MAX);
    }
}
