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
    young: FxHashMap<K, V>,
    old: FxHashMap<K, V>,
    window: usize,
}

/// Hashed by what it remembers, each generation in key order (so equal memories hash alike
/// however they were filled), and its window.
impl<K: Hash + Ord, V: Hash> Hash for Recent<K, V> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hash_sorted(&self.young, state);
        hash_sorted(&self.old, state);
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

impl<K: Hash + Eq, V> Recent<K, V> {
    /// `window` 0 remembers nothing.
    pub fn new(window: usize) -> Self {
        Recent {
            young: FxHashMap::default(),
            old: FxHashMap::default(),
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
    fn a_zero_window_remembers_nothing() {
        let mut recent = Recent::new(0);
        recent.insert(1, ());
        assert!(recent.is_empty());
    }
}
