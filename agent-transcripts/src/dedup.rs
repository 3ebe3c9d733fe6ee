//! A bounded memory of keys already counted.
//!
//! One job: [`KeySet`], a first-in-first-out set of strings with a fixed capacity, so a parser
//! that follows transcripts for weeks never grows without bound. Membership is tested on a
//! 64-bit FNV-1a hash (deterministic across runs and Rust versions); the strings themselves are
//! kept only so that a checkpoint can be written and read back. It must not know what the keys
//! mean.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// A `Hasher` that passes an already-hashed `u64` through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// FNV-1a, 64-bit.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // A separator that cannot occur in JSON-decoded ids without escaping.
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A FIFO-bounded set of keys.
#[derive(Debug, Clone)]
pub(crate) struct KeySet {
    capacity: usize,
    order: VecDeque<String>,
    hashes: HashSet<u64, BuildHasherDefault<PassThrough>>,
}

impl KeySet {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            hashes: HashSet::default(),
        }
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.hashes.contains(&fnv1a(&[key.as_bytes()]))
    }

    /// Inserts `key`; returns false if it was already there. Evicts the oldest key when full.
    pub(crate) fn insert(&mut self, key: String) -> bool {
        if !self.hashes.insert(fnv1a(&[key.as_bytes()])) {
            return false;
        }
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.hashes.remove(&fnv1a(&[old.as_bytes()]));
            }
        }
        true
    }

    /// The keys, oldest first.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.order.iter().cloned().collect()
    }

    /// Replaces the content with `keys` (oldest first), keeping the newest `capacity`.
    pub(crate) fn restore(&mut self, keys: Vec<String>) {
        self.order.clear();
        self.hashes.clear();
        for k in keys {
            self.insert(k);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_keys_are_evicted_at_capacity() {
        let mut s = KeySet::new(2);
        assert!(s.insert("a".into()));
        assert!(!s.insert("a".into()));
        assert!(s.insert("b".into()));
        assert!(s.insert("c".into()));
        assert!(!s.contains("a"));
        assert!(s.contains("b") && s.contains("c"));
        assert_eq!(s.keys(), vec!["b".to_string(), "c".to_string()]);
        let mut t = KeySet::new(2);
        t.restore(s.keys());
        assert!(t.contains("c") && t.len() == 2);
    }
}
