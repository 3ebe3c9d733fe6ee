//! A memory of keys already counted: bounded for followers, exact for one-shot reads.
//!
//! One job: [`KeySet`], a set of strings in one of two modes. *Bounded* (first in, first out,
//! fixed capacity), so a parser that follows transcripts for weeks never grows without bound;
//! the strings are kept so that a checkpoint can be written and read back. *Exact* (no
//! capacity), for reading a whole history once: only a 128-bit FNV-1a hash of each key is kept
//! (16 bytes plus the table's overhead, so millions of keys fit in tens of MB), and a
//! checkpoint carries the hashes as `#<32 hex digits>`. Membership is tested on that hash in
//! both modes (deterministic across runs and Rust versions; two distinct keys collide with
//! probability about n²/2¹²⁹). It must not know what the keys mean.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// A `Hasher` that passes an already-hashed value through.
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
    fn write_u128(&mut self, n: u128) {
        // FNV-1a's low bits are well mixed; fold the high ones in anyway.
        self.0 = (n as u64) ^ ((n >> 64) as u64);
    }
}

const FNV128_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV128_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// FNV-1a, 128-bit.
fn fnv1a_128(key: &[u8]) -> u128 {
    let mut h = FNV128_OFFSET;
    for &b in key {
        h ^= u128::from(b);
        h = h.wrapping_mul(FNV128_PRIME);
    }
    h
}

/// The hash of a key: a checkpointed hash (`#` and 32 hex digits) stands for itself.
fn key_hash(key: &str) -> u128 {
    if let Some(hex) = key.strip_prefix('#')
        && hex.len() == 32
        && let Ok(h) = u128::from_str_radix(hex, 16)
    {
        return h;
    }
    fnv1a_128(key.as_bytes())
}

/// A set of keys, bounded (FIFO) or exact (see the [module docs](self)).
#[derive(Debug, Clone)]
pub(crate) struct KeySet {
    /// `None`: exact, no `order` kept.
    capacity: Option<usize>,
    order: VecDeque<String>,
    hashes: HashSet<u128, BuildHasherDefault<PassThrough>>,
}

impl KeySet {
    /// A FIFO set of at most `capacity` keys.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: Some(capacity.max(1)),
            order: VecDeque::new(),
            hashes: HashSet::default(),
        }
    }

    /// A set that forgets nothing, keeping only hashes.
    pub(crate) fn exact() -> Self {
        Self {
            capacity: None,
            order: VecDeque::new(),
            hashes: HashSet::default(),
        }
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.hashes.contains(&key_hash(key))
    }

    /// Inserts `key`; returns false if it was already there. A bounded set evicts its oldest
    /// key when full.
    pub(crate) fn insert(&mut self, key: String) -> bool {
        if !self.hashes.insert(key_hash(&key)) {
            return false;
        }
        let Some(capacity) = self.capacity else {
            return true;
        };
        self.order.push_back(key);
        while self.order.len() > capacity {
            if let Some(old) = self.order.pop_front() {
                self.hashes.remove(&key_hash(&old));
            }
        }
        true
    }

    /// The keys, oldest first (bounded); the hashes as `#<hex>`, in no order (exact).
    pub(crate) fn keys(&self) -> Vec<String> {
        match self.capacity {
            Some(_) => self.order.iter().cloned().collect(),
            None => self.hashes.iter().map(|h| format!("#{h:032x}")).collect(),
        }
    }

    /// Replaces the content with `keys` (as [`keys`](Self::keys) wrote them); a bounded set
    /// keeps the newest `capacity`.
    pub(crate) fn restore(&mut self, keys: Vec<String>) {
        self.order.clear();
        self.hashes.clear();
        for k in keys {
            self.insert(k);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
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

    #[test]
    fn an_exact_set_forgets_nothing_and_round_trips_its_hashes() {
        let mut s = KeySet::exact();
        for i in 0..300_000 {
            assert!(s.insert(format!("r\u{1f}msg_{i}\u{1f}req_{i}")));
        }
        for i in 0..300_000 {
            assert!(!s.insert(format!("r\u{1f}msg_{i}\u{1f}req_{i}")));
        }
        assert_eq!(s.len(), 300_000);
        let mut t = KeySet::exact();
        t.restore(s.keys());
        assert_eq!(t.len(), 300_000);
        assert!(t.contains("r\u{1f}msg_0\u{1f}req_0"));
        assert!(!t.contains("r\u{1f}msg_0\u{1f}req_1"));
    }
}
