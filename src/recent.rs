//! A bounded memory of recent keys: what choreo uses wherever it must remember "the last N"
//! of an endless stream (finished orders, order ids read) without growing with it.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Remembers at least the last `window` keys inserted, with a value each, in at most
/// `2 * window` entries.
///
/// Two generations: keys go into the young one; when it holds `window`, it becomes the old
/// one and the previous old one is forgotten at once. That costs one
/// insert per key and no per-key eviction, which matters on the hot path.
#[derive(Debug, Clone)]
pub struct Recent<K, V> {
    young: Generation<K, V>,
    old: Generation<K, V>,
    window: usize,
}

/// One generation's keys: those that came in increasing order in a vector (an append to
/// insert; a comparison with the last, or a binary search, to look up: no cache miss per key
/// as a large hash map has), the others in a hash map.
#[derive(Debug, Clone)]
struct Generation<K, V> {
    ordered: Vec<(K, V)>,
    hashed: FxHashMap<K, V>,
}

impl<K: Hash + Ord, V> Generation<K, V> {
    fn get(&self, key: &K) -> Option<&V> {
        let in_order = match self.ordered.last() {
            Some((last, value)) if last == key => return Some(value),
            Some((last, _)) if last > key => self
                .ordered
                .binary_search_by(|(k, _)| k.cmp(key))
                .ok()
                .map(|at| &self.ordered[at].1),
            _ => None,
        };
        match in_order {
            Some(value) => Some(value),
            None if self.hashed.is_empty() => None,
            None => self.hashed.get(key),
        }
    }

    fn insert(&mut self, key: K, value: V) {
        match self.ordered.last() {
            Some((last, _)) if *last >= key => {
                self.hashed.insert(key, value);
            }
            _ => self.ordered.push((key, value)),
        }
    }

    fn len(&self) -> usize {
        self.ordered.len() + self.hashed.len()
    }

    fn clear(&mut self) {
        self.ordered.clear();
        self.hashed.clear();
    }
}

impl<K, V> Default for Generation<K, V> {
    fn default() -> Self {
        Generation {
            ordered: Vec::new(),
            hashed: FxHashMap::default(),
        }
    }
}

/// Hashed in key order, however its keys were filled in.
impl<K: Hash + Ord, V: Hash> Hash for Generation<K, V> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut entries: Vec<(&K, &V)> = self.ordered.iter().map(|(k, v)| (k, v)).collect();
        entries.extend(self.hashed.iter());
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries.hash(state);
    }
}

/// Hashed by what it remembers, each generation in key order (so equal memories hash alike
/// however they were filled), and its window.
impl<K: Hash + Ord, V: Hash> Hash for Recent<K, V> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.young.hash(state);
        self.old.hash(state);
        self.window.hash(state);
    }
}

/// Hashes a map's entries in key order: a hash map's own order depends on its history.
pub(crate) fn hash_sorted<K: Hash + Ord, V: Hash, H: std::hash::Hasher>(
    map: &FxHashMap<K, V>,
    state: &mut H,
) {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries.hash(state);
}

impl<K: Hash + Ord, V> Recent<K, V> {
    /// `window` 0 remembers nothing.
    pub fn new(window: usize) -> Self {
        Recent {
            young: Generation::default(),
            old: Generation::default(),
            window,
        }
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.young.get(key).or_else(|| self.old.get(key))
    }

    pub fn contains(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Remembers `key`. Callers insert a key once (they look it up first), so a repeat is not
    /// checked for: that would cost two lookups on every insert of the hot path.
    pub fn insert(&mut self, key: K, value: V) {
        if self.window == 0 {
            return;
        }
        if self.young.len() >= self.window {
            // The old generation's allocation is reused for the new young one.
            std::mem::swap(&mut self.young, &mut self.old);
            self.young.clear();
        }
        self.young.insert(key, value);
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_at_least_the_last_window_keys() {
        let mut recent = Recent::new(3);
        for key in 0..10 {
            recent.insert(key, key * 10);
            for back in 0..3.min(key + 1) {
                assert_eq!(recent.get(&(key - back)), Some(&((key - back) * 10)));
            }
            assert!(recent.len() <= 6);
        }
        assert!(!recent.contains(&0), "old keys are forgotten");
    }

    #[test]
    fn a_key_is_found_in_either_generation() {
        let mut recent = Recent::new(2);
        recent.insert("a", 1);
        recent.insert("b", 2);
        recent.insert("c", 3);
        assert_eq!(recent.get(&"a"), Some(&1), "in the old generation");
        assert_eq!(recent.get(&"c"), Some(&3), "in the young one");
    }

    #[test]
    fn keys_out_of_order_are_remembered_as_those_in_order() {
        let mut recent = Recent::new(100);
        let keys = [5, 9, 7, 12, 1, 12_000, 8, 13];
        for key in keys {
            recent.insert(key, key * 2);
        }
        for key in keys {
            assert_eq!(recent.get(&key), Some(&(key * 2)), "{key}");
        }
        for absent in [0, 2, 6, 10, 11, 14, 11_999, 12_001] {
            assert!(!recent.contains(&absent), "{absent}");
        }
        assert_eq!(recent.len(), keys.len());
    }

    #[test]
    fn equal_memories_hash_alike_however_they_were_filled() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = |keys: &[u64]| {
            let mut recent = Recent::new(10);
            for key in keys {
                recent.insert(*key, ());
            }
            BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(&recent)
        };
        assert_eq!(hash(&[1, 2, 3]), hash(&[3, 1, 2]));
        assert_ne!(hash(&[1, 2, 3]), hash(&[1, 2, 4]));
    }

    #[test]
    fn a_zero_window_remembers_nothing() {
        let mut recent = Recent::new(0);
        recent.insert(1, ());
        assert!(recent.is_empty());
    }
}
