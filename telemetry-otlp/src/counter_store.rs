//! The durable counter store: host-level totals of every counter and histogram series, kept in
//! one small file under the state directory and advanced by each `gt` process under an
//! advisory lock.
//!
//! Why it exists: a one-shot process that exports its own cumulative series (one sample, its
//! own `service.instance.id`) is invisible to `rate()` and, for values of 10 and more, to
//! VictoriaMetrics' `increase()` (see docs/architecture.md, "Counting with short-lived
//! processes"). Here each process merges the *increments* it made into the store, and exports
//! the store's totals: one series per (instrument, attribute set) for the whole host, growing
//! from invocation to invocation.
//!
//! Every series keeps the pair (total, time of its last update), both written under the lock,
//! with the time strictly increasing per series *in whole milliseconds* (Prometheus-style
//! backends keep millisecond timestamps: two points in one millisecond would be one sample,
//! and a later one of them could read as a counter reset). Whatever process exports a state exports the
//! identical point, so a backend never sees a counter go down (two processes exporting in the
//! opposite order of their updates send older points later, never a smaller value at a later
//! time). A series also carries its creation time, exported as a zero point, so the first
//! increment counts in `increase()` whatever its size.
//!
//! It must not export, print, or hold the lock longer than a read, a merge and a write.

use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The store's file name inside the state directory.
pub const STORE_FILE: &str = "counters.json";
/// Series kept at most; increments of new series past it are dropped with a warning (the
/// recorder's cardinality limit keeps real use far below).
pub const MAX_SERIES: usize = 20_000;

/// One attribute value, as OTLP types it. Doubles compare and hash by their bits, so a series
/// key is an ordinary map key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttrValue {
    /// A string.
    S(String),
    /// A signed integer.
    I(i64),
    /// A double.
    F(f64),
    /// A boolean.
    B(bool),
}

impl PartialEq for AttrValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::S(a), Self::S(b)) => a == b,
            (Self::I(a), Self::I(b)) => a == b,
            (Self::F(a), Self::F(b)) => a.to_bits() == b.to_bits(),
            (Self::B(a), Self::B(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for AttrValue {}

impl std::hash::Hash for AttrValue {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Self::S(s) => s.hash(state),
            Self::I(i) => i.hash(state),
            Self::F(f) => f.to_bits().hash(state),
            Self::B(b) => b.hash(state),
        }
    }
}

/// What a series aggregates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Value {
    /// A monotonic integer sum.
    IntSum {
        /// The total.
        total: u64,
    },
    /// A monotonic floating-point sum.
    FloatSum {
        /// The total.
        total: f64,
    },
    /// An explicit-bucket histogram.
    Histogram {
        /// Bucket upper bounds.
        bounds: Vec<f64>,
        /// Count per bucket (`bounds.len() + 1` entries).
        counts: Vec<u64>,
        /// Number of recorded values.
        count: u64,
        /// Their sum.
        sum: f64,
    },
}

/// What tells one series from another, and what it is exported as.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeriesId {
    /// Resource attributes, sorted by key, without `service.instance.id` (the store's own is
    /// added at export): operators' attributes such as `deployment.environment` make series of
    /// their own.
    pub resource: Vec<(String, AttrValue)>,
    /// Instrumentation scope name.
    pub scope: String,
    /// Instrument name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Description.
    pub description: String,
    /// Data point attributes, sorted by key.
    pub attrs: Vec<(String, AttrValue)>,
}

/// An increment one process made to one series since its previous export.
#[derive(Debug, Clone, PartialEq)]
pub struct Increment {
    /// The series.
    pub id: SeriesId,
    /// The increment, in the shape of the series.
    pub delta: Value,
}

/// The whole total one contributor (a follower's checkpoint) holds of one series: the store
/// adds what it grew by since the contributor's previous [`Contribution`], so sending the same
/// total again adds nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// Who holds the total: stable across the contributor's restarts.
    pub contributor: String,
    /// The series.
    pub id: SeriesId,
    /// The contributor's total, in the shape of the series.
    pub total: Value,
}

/// Contributors remembered at most; past it the one that published least recently is
/// forgotten (were it to publish again, its whole total would count again).
pub const MAX_CONTRIBUTORS: usize = 1024;

/// One host-level series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The series.
    #[serde(flatten)]
    pub id: SeriesId,
    /// When the series was created (its zero point), ns since the epoch.
    pub start_ns: u64,
    /// When it last changed, ns since the epoch; strictly increasing.
    pub time_ns: u64,
    /// The totals.
    #[serde(flatten)]
    pub value: Value,
    /// The total each contributor last published to this series.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contributions: BTreeMap<String, Value>,
}

/// The totals of one host (or, without a state directory, of one process).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Format version.
    pub version: u32,
    /// The `service.instance.id` its series are exported under.
    pub instance_id: String,
    /// Every series.
    pub series: Vec<Series>,
    /// When each contributor last published, ns since the epoch.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contributors: BTreeMap<String, u64>,
}

impl Totals {
    /// Empty totals under a new instance id.
    #[must_use]
    pub fn new() -> Self {
        Self {
            version: 1,
            instance_id: uuid_v4(),
            series: Vec::new(),
            contributors: BTreeMap::new(),
        }
    }

    /// Adds `increments` at `now_ns`; returns how many were dropped because the store was full
    /// or their shape did not match the series (a histogram whose bounds changed).
    pub fn merge(&mut self, increments: &[Increment], now_ns: u64) -> usize {
        let index: HashMap<&SeriesId, usize> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.id, i))
            .collect();
        // Indices only: the map borrows series ids, so plan the work first.
        let plan: Vec<Option<usize>> = increments
            .iter()
            .map(|inc| index.get(&inc.id).copied())
            .collect();
        drop(index);
        let mut dropped = 0;
        for (inc, found) in increments.iter().zip(plan) {
            match found {
                Some(i) => {
                    let series = &mut self.series[i];
                    if add(&mut series.value, &inc.delta) {
                        series.time_ns = whole_ms(now_ns).max(series.time_ns + MS);
                    } else {
                        dropped += 1;
                    }
                }
                None if self.series.len() >= MAX_SERIES => dropped += 1,
                None => self.series.push(Series {
                    id: inc.id.clone(),
                    // The zero point lies one millisecond before the first value.
                    start_ns: whole_ms(now_ns).saturating_sub(MS),
                    time_ns: whole_ms(now_ns),
                    value: inc.delta.clone(),
                    contributions: BTreeMap::new(),
                }),
            }
        }
        dropped
    }

    /// Adds to each series what its contributor's total grew by since that contributor's
    /// previous contribution (all of it for a first one). A total smaller than the previous one
    /// adds nothing and is not remembered: the series grows again once the contributor passes
    /// its old total (a contributor that starts over must take a new name). Returns how many
    /// were dropped (store full).
    pub fn contribute(&mut self, contributions: &[Contribution], now_ns: u64) -> usize {
        let mut dropped = 0;
        // Indices only, as in `merge`: the map borrows the series.
        let index: HashMap<&SeriesId, usize> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.id, i))
            .collect();
        let plan: Vec<Option<usize>> = contributions
            .iter()
            .map(|c| index.get(&c.id).copied())
            .collect();
        drop(index);
        // Series this call creates, for a second contribution to the same one.
        let mut created: HashMap<&SeriesId, usize> = HashMap::new();
        for (c, planned) in contributions.iter().zip(plan) {
            let found = planned.or_else(|| created.get(&c.id).copied());
            let i = match found {
                Some(i) => i,
                None if self.series.len() >= MAX_SERIES => {
                    dropped += 1;
                    continue;
                }
                None => {
                    self.series.push(Series {
                        id: c.id.clone(),
                        start_ns: whole_ms(now_ns).saturating_sub(MS),
                        time_ns: whole_ms(now_ns).saturating_sub(MS),
                        value: zero_like(&c.total),
                        contributions: BTreeMap::new(),
                    });
                    created.insert(&c.id, self.series.len() - 1);
                    self.series.len() - 1
                }
            };
            let series = &mut self.series[i];
            let delta = match series.contributions.get(&c.contributor) {
                Some(previous) => growth(previous, &c.total),
                None => Some(c.total.clone()),
            };
            let Some(delta) = delta else {
                // Went back (or changed shape): nothing to add, the old total stays the mark.
                self.contributors.insert(c.contributor.clone(), now_ns);
                continue;
            };
            if !is_zero(&delta) || found.is_none() {
                if !add(&mut series.value, &delta) {
                    dropped += 1;
                    continue;
                }
                series.time_ns = whole_ms(now_ns).max(series.time_ns + MS);
            }
            series
                .contributions
                .insert(c.contributor.clone(), c.total.clone());
            self.contributors.insert(c.contributor.clone(), now_ns);
        }
        while self.contributors.len() > MAX_CONTRIBUTORS {
            let Some(oldest) = self
                .contributors
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(c, _)| c.clone())
            else {
                break;
            };
            self.contributors.remove(&oldest);
            for s in &mut self.series {
                s.contributions.remove(&oldest);
            }
        }
        dropped
    }
}

/// A value of `like`'s shape at zero.
fn zero_like(like: &Value) -> Value {
    match like {
        Value::IntSum { .. } => Value::IntSum { total: 0 },
        Value::FloatSum { .. } => Value::FloatSum { total: 0.0 },
        Value::Histogram { bounds, counts, .. } => Value::Histogram {
            bounds: bounds.clone(),
            counts: vec![0; counts.len()],
            count: 0,
            sum: 0.0,
        },
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::IntSum { total } => *total == 0,
        Value::FloatSum { total } => *total == 0.0,
        Value::Histogram { count, .. } => *count == 0,
    }
}

/// What `now` adds to `before`: their difference; `None` when `now` is smaller in any part
/// (the contributor's state went back, a checkpoint restored from a backup: what it counts
/// again up to `before` was counted already) or their shapes differ.
fn growth(before: &Value, now: &Value) -> Option<Value> {
    Some(match (before, now) {
        (Value::IntSum { total: b }, Value::IntSum { total: n }) => Value::IntSum {
            total: n.checked_sub(*b)?,
        },
        (Value::FloatSum { total: b }, Value::FloatSum { total: n }) if n >= b => {
            Value::FloatSum { total: n - b }
        }
        (
            Value::Histogram {
                bounds: bb,
                counts: bc,
                count: bn,
                sum: bs,
            },
            Value::Histogram {
                bounds: nb,
                counts: nc,
                count: nn,
                sum: ns,
            },
        ) if bb == nb && bc.len() == nc.len() => Value::Histogram {
            bounds: nb.clone(),
            counts: bc
                .iter()
                .zip(nc)
                .map(|(b, n)| n.checked_sub(*b))
                .collect::<Option<_>>()?,
            count: nn.checked_sub(*bn)?,
            sum: ns - bs,
        },
        _ => return None,
    })
}

impl Default for Totals {
    fn default() -> Self {
        Self::new()
    }
}

/// One millisecond in nanoseconds: the resolution of every stored time.
pub const MS: u64 = 1_000_000;

/// `ns` rounded down to a whole millisecond.
#[must_use]
pub fn whole_ms(ns: u64) -> u64 {
    ns - ns % MS
}

/// Adds `delta` into `total`; false when their shapes differ.
fn add(total: &mut Value, delta: &Value) -> bool {
    match (total, delta) {
        (Value::IntSum { total }, Value::IntSum { total: d }) => {
            *total = total.saturating_add(*d);
            true
        }
        (Value::FloatSum { total }, Value::FloatSum { total: d }) => {
            *total += d;
            true
        }
        (
            Value::Histogram {
                bounds,
                counts,
                count,
                sum,
            },
            Value::Histogram {
                bounds: db,
                counts: dc,
                count: dn,
                sum: ds,
            },
        ) if bounds == db && counts.len() == dc.len() => {
            for (c, d) in counts.iter_mut().zip(dc) {
                *c = c.saturating_add(*d);
            }
            *count = count.saturating_add(*dn);
            *sum += ds;
            true
        }
        _ => false,
    }
}

/// Why the store could not be used; the caller warns once and keeps per-process totals.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory or a file in it could not be created, locked, read or written.
    #[error("counter store {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another process held the store's lock for longer than [`LOCK_WAIT`] (a stopped or hung
    /// `gt`); this process's counters go out per process instead of waiting.
    #[error("counter store {path} stayed locked by another process for {LOCK_WAIT:?}")]
    Busy {
        /// The store file.
        path: PathBuf,
    },
}

/// How long [`Store::advance`] waits for the lock before giving up: far above a healthy
/// holder's read-merge-write (well under a millisecond for a real store), far below the export
/// bound of a one-shot command.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Takes `file`'s exclusive advisory lock, retrying with short pauses up to [`LOCK_WAIT`].
fn lock_within_bound(file: &std::fs::File) -> Result<(), Option<std::io::Error>> {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_micros(200);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Err(None),
            Err(std::fs::TryLockError::Error(err)) => return Err(Some(err)),
        }
    }
}

/// A store file in a state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// What one [`Store::advance`] did.
#[derive(Debug)]
pub struct Advanced {
    /// The totals after the merge, as written.
    pub totals: Totals,
    /// Increments dropped (store full, shape changed).
    pub dropped: usize,
    /// Set when the file was unreadable and was moved aside (its name) and started afresh.
    pub recovered_from: Option<PathBuf>,
}

impl Store {
    /// The store in `dir` (created on first use).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The store file's path.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
    }

    /// Under the file's advisory lock (`flock`): reads the totals, adds `increments` (stamped
    /// now), writes them back and returns them. With no increments nothing is written.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the directory, the lock or the files cannot be used.
    pub fn advance(&self, increments: &[Increment]) -> Result<Advanced, StoreError> {
        self.advance_with(increments, &[])
    }

    /// [`Store::advance`] that also applies `contributions` ([`Totals::contribute`]) in the
    /// same locked update. Written when anything was given.
    ///
    /// # Errors
    /// As [`Store::advance`].
    pub fn advance_with(
        &self,
        increments: &[Increment],
        contributions: &[Contribution],
    ) -> Result<Advanced, StoreError> {
        let path = self.path();
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(|source| StoreError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        lock_within_bound(&file).map_err(|err| match err {
            Some(source) => StoreError::Io {
                path: path.clone(),
                source,
            },
            None => StoreError::Busy { path: path.clone() },
        })?;
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(io)?;
        let mut recovered_from = None;
        let mut totals = if text.is_empty() {
            Totals::new()
        } else {
            match serde_json::from_slice::<Totals>(&text) {
                Ok(totals) if totals.version == 1 => totals,
                _ => {
                    // Keep the unreadable bytes for a post-mortem and start afresh: new series
                    // under a new instance id, each from its zero point, so increase() stays
                    // right; only the old series stop.
                    let aside = self.dir.join(format!("{STORE_FILE}.corrupt-{}", now_ns()));
                    std::fs::write(&aside, &text).map_err(io)?;
                    recovered_from = Some(aside);
                    Totals::new()
                }
            }
        };
        let now = now_ns();
        let dropped = totals.merge(increments, now) + totals.contribute(contributions, now);
        if !increments.is_empty()
            || !contributions.is_empty()
            || recovered_from.is_some()
            || text.is_empty()
        {
            let json = serde_json::to_vec(&totals).map_err(|e| io(std::io::Error::other(e)))?;
            // Rewritten in place under the lock: a rename would cost a second file and a
            // directory update on every invocation. A process killed mid-write leaves a torn
            // file, which the next reader moves aside as above.
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            file.write_all(&json).map_err(io)?;
            file.set_len(json.len() as u64).map_err(io)?;
        }
        drop(file);
        Ok(Advanced {
            totals,
            dropped,
            recovered_from,
        })
    }
}

/// Nanoseconds since the Unix epoch.
#[must_use]
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(name: &str, status: &str, n: u64) -> Increment {
        Increment {
            id: SeriesId {
                resource: vec![("service.name".into(), AttrValue::S("gastown".into()))],
                scope: "gastown".into(),
                name: name.into(),
                unit: "{call}".into(),
                description: String::new(),
                attrs: vec![("status".into(), AttrValue::S(status.into()))],
            },
            delta: Value::IntSum { total: n },
        }
    }

    #[test]
    fn increments_add_up_and_times_strictly_increase() {
        let mut t = Totals::new();
        let at = 7 * MS + 123;
        assert_eq!(t.merge(&[inc("a", "ok", 10)], at), 0);
        assert_eq!(t.merge(&[inc("a", "ok", 5), inc("a", "error", 1)], at), 0);
        assert_eq!(t.series.len(), 2);
        assert_eq!(t.series[0].value, Value::IntSum { total: 15 });
        // Same millisecond: the second update moves one millisecond on.
        assert_eq!(
            (t.series[0].start_ns, t.series[0].time_ns),
            (6 * MS, 8 * MS)
        );
        assert_eq!(t.series[1].value, Value::IntSum { total: 1 });
    }

    #[test]
    fn contributions_add_only_what_each_contributor_grew_by() {
        let c = |who: &str, n: u64| Contribution {
            contributor: who.into(),
            id: inc("tokens", "input", 0).id,
            total: Value::IntSum { total: n },
        };
        let mut t = Totals::new();
        t.contribute(&[c("a", 150)], 10 * MS);
        // The same total again (a retry, a restart from the same checkpoint): nothing.
        t.contribute(&[c("a", 150)], 11 * MS);
        t.contribute(&[c("a", 150)], 12 * MS);
        assert_eq!(t.series[0].value, Value::IntSum { total: 150 });
        // A new series' zero point lies before its first value, which is one update later.
        assert_eq!(t.series[0].start_ns + MS, t.series[0].time_ns);
        t.contribute(&[c("a", 300), c("b", 20)], 13 * MS);
        assert_eq!(t.series[0].value, Value::IntSum { total: 320 });
        // A contributor whose state went back (an older checkpoint) adds nothing until it
        // passes its old total.
        t.contribute(&[c("b", 5)], 14 * MS);
        assert_eq!(t.series[0].value, Value::IntSum { total: 320 });
        t.contribute(&[c("b", 25)], 14 * MS);
        assert_eq!(t.series[0].value, Value::IntSum { total: 325 });
        assert_eq!(t.series[0].time_ns, 15 * MS);
        // Increments from one-shot processes mix with contributions.
        t.merge(&[inc("tokens", "input", 1)], 15 * MS);
        t.contribute(&[c("a", 300)], 16 * MS);
        assert_eq!(t.series[0].value, Value::IntSum { total: 326 });
        assert_eq!(t.contributors.len(), 2);
    }

    #[test]
    fn a_histogram_whose_bounds_changed_is_not_mixed() {
        let h = |bounds: Vec<f64>| Increment {
            delta: Value::Histogram {
                counts: vec![1; bounds.len() + 1],
                bounds,
                count: 3,
                sum: 6.0,
            },
            ..inc("h", "ok", 0)
        };
        let mut t = Totals::new();
        assert_eq!(t.merge(&[h(vec![1.0, 2.0])], 1), 0);
        assert_eq!(t.merge(&[h(vec![1.0, 2.0])], 2), 0);
        assert_eq!(t.merge(&[h(vec![5.0])], 3), 1);
        assert!(matches!(
            t.series[0].value,
            Value::Histogram { count: 6, .. }
        ));
    }

    #[test]
    fn the_store_survives_processes_and_recovers_from_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let first = store.advance(&[inc("a", "ok", 3)]).unwrap();
        let second = store.advance(&[inc("a", "ok", 4)]).unwrap();
        assert_eq!(first.totals.instance_id, second.totals.instance_id);
        assert_eq!(second.totals.series[0].value, Value::IntSum { total: 7 });
        std::fs::write(store.path(), b"{torn").unwrap();
        let third = store.advance(&[inc("a", "ok", 1)]).unwrap();
        assert!(third.recovered_from.is_some_and(|p| p.exists()));
        assert_ne!(third.totals.instance_id, first.totals.instance_id);
        assert_eq!(third.totals.series[0].value, Value::IntSum { total: 1 });
    }

    #[test]
    fn a_store_locked_by_a_stuck_process_is_given_up_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.advance(&[inc("a", "ok", 1)]).unwrap();
        let holder = std::fs::File::open(store.path()).unwrap();
        holder.lock().unwrap();
        let started = std::time::Instant::now();
        let err = store.advance(&[inc("a", "ok", 1)]).unwrap_err();
        assert!(matches!(err, StoreError::Busy { .. }), "{err}");
        // Generous: the bound is LOCK_WAIT; a loaded machine may add scheduling delay.
        assert!(
            started.elapsed() < LOCK_WAIT * 10,
            "{:?}",
            started.elapsed()
        );
        drop(holder);
        let after = store.advance(&[inc("a", "ok", 1)]).unwrap();
        assert_eq!(after.totals.series[0].value, Value::IntSum { total: 2 });
    }

    #[test]
    fn concurrent_processes_never_lose_an_increment() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = Store::new(dir.path());
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        // A starved thread may give up on the lock (Busy); it tries again:
                        // what is under test is that no successful advance is lost.
                        while let Err(err) = store.advance(&[inc("a", "ok", 1)]) {
                            assert!(matches!(err, StoreError::Busy { .. }), "{err}");
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let last = Store::new(dir.path()).advance(&[]).unwrap();
        assert_eq!(last.totals.series[0].value, Value::IntSum { total: 200 });
    }
}
