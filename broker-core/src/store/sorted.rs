//! A map kept as a vector sorted by key.
//!
//! The store holds hundreds to a few thousand tasks and looks each one up
//! by binary search; inserting moves at most the tail of one vector. A
//! `BTreeMap` would do the same job, but each of its instantiations costs
//! kilobytes of code in the browser build, where every kilobyte is paid by
//! every page load; this is a few hundred bytes and iterates in key order
//! just the same.

use alloc::vec::Vec;

/// Keys in order, each once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    fn find(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        match self.find(key) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// Inserts or replaces. Appending in key order costs no move.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.entries.last().is_some_and(|(last, _)| *last < key) {
            self.entries.push((key, value));
            return;
        }
        match self.find(&key) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (key, value)),
        }
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        match self.find(key) {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.entries.retain(|(k, v)| keep(k, v));
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub(crate) fn into_entries(self) -> Vec<(K, V)> {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn behaves_like_an_ordered_map() {
        let mut m = SortedMap::default();
        let mut model = std::collections::BTreeMap::new();
        let mut x = 7u32;
        for step in 0..2000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = (x >> 16) % 64;
            match step % 3 {
                0 | 1 => {
                    m.insert(key, step);
                    model.insert(key, step);
                }
                _ => assert_eq!(m.remove(&key), model.remove(&key)),
            }
            assert_eq!(m.get(&key), model.get(&key));
            assert_eq!(m.len(), model.len());
        }
        let ours: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
        let theirs: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(ours, theirs);
        m.retain(|k, _| k % 2 == 0);
        assert!(m.iter().all(|(k, _)| k % 2 == 0));
        assert!(m.get(&1).is_none());
        assert_eq!(m.is_empty(), m.iter().next().is_none());
    }
}
