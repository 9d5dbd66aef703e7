//! Sets of kinds (or of any [`Name`]s), as bit masks.

use std::fmt;
use std::marker::PhantomData;

use crate::name::Name;

/// A set of kinds (or any [`Name`]s), as a bit mask: a service's subscriptions are checked on
/// every event it receives, so the check must cost next to nothing.
pub struct Kinds<K> {
    bits: u64,
    kinds: PhantomData<K>,
}

impl<K: Name> Kinds<K> {
    /// The most names a set holds.
    pub const MAX: usize = 64;

    pub const fn empty() -> Self {
        Kinds {
            bits: 0,
            kinds: PhantomData,
        }
    }

    pub fn of(kinds: &[K]) -> Self {
        let mut set = Self::empty();
        for kind in kinds {
            set.insert(*kind);
        }
        set
    }

    fn bit(kind: K) -> u64 {
        // `Name`s beyond 64 are refused when a choreography starts (`choreography::check_names`); the
        // wrapping shift keeps a misuse from panicking here.
        1u64.wrapping_shl(kind.index() as u32)
    }

    pub fn contains(self, kind: K) -> bool {
        self.bits & Self::bit(kind) != 0
    }

    pub fn insert(&mut self, kind: K) {
        self.bits |= Self::bit(kind);
    }

    pub fn union(self, other: Self) -> Self {
        Kinds {
            bits: self.bits | other.bits,
            kinds: PhantomData,
        }
    }

    pub fn difference(self, other: Self) -> Self {
        Kinds {
            bits: self.bits & !other.bits,
            kinds: PhantomData,
        }
    }

    pub fn is_empty(self) -> bool {
        self.bits == 0
    }

    /// The names in the set, in [`Name::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = K> {
        K::ALL.iter().copied().filter(move |k| self.contains(*k))
    }
}

impl<K> Clone for Kinds<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Kinds<K> {}

impl<K> PartialEq for Kinds<K> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl<K> Eq for Kinds<K> {}

impl<K> std::hash::Hash for Kinds<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bits.hash(state);
    }
}

impl<K> Default for Kinds<K> {
    fn default() -> Self {
        Kinds {
            bits: 0,
            kinds: PhantomData,
        }
    }
}

impl<K: Name> fmt::Debug for Kinds<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}
