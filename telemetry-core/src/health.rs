//! The export health of this process: export failures and dropped records per signal and
//! reason, the last success and failure of each signal, and the spool depth.
//!
//! The export wrappers of this crate ([`crate::provider`]) report every export result here and
//! `telemetry-otlp` reports the records it drops and how to measure its spool; the recorder
//! reads the tally back as instruments (`gastown.telemetry.*`), `gt otel doctor` reads the
//! last success and failure of each signal from the state directory ([`HealthFile`]).
//!
//! The tally is per process. A failure is counted when the export that failed returns, so a
//! metrics export cannot carry its own failure: the next export of the process does. What a
//! process counted after its last metrics collection (a one-shot command's final logs export
//! failed after its final metrics collection) is carried over ([`carry_over`]) in the health
//! file to the next gt process of the host, which adds it to its own tally at start
//! ([`adopt`]); with cumulative temporality the counters of scope `gastown` then add up across
//! processes in the host's counter store.
//!
//! It must not export or record anything itself, and it never fails: an unwritable state
//! directory only loses the persisted times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The name of the health file inside `<state_dir>/telemetry`.
pub const HEALTH_FILE: &str = "health.json";

/// How long a persisted outcome stays fresh: an export with the same outcome within this time
/// of the last write does not write again.
pub const PERSIST_EVERY: Duration = Duration::from_secs(60);

/// The `reason` of a failed export, from its error message: `timeout`, `http_4xx`,
/// `http_5xx`, `unreachable` (refused, no route, name resolution) or `other`.
#[must_use]
pub fn failure_reason(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    let status = ["status code: ", "status code ", "status: "]
        .iter()
        .find_map(|p| m.find(p).map(|i| &m[i + p.len()..]))
        .and_then(|rest| rest.chars().next());
    match status {
        Some('5') => "http_5xx",
        Some('4') => "http_4xx",
        _ if m.contains("timed out") || m.contains("timeout") || m.contains("no answer within") => {
            "timeout"
        }
        _ if [
            "refused",
            "network",
            "connect",
            "resolve",
            "dns",
            "unreachable",
            "reset",
        ]
        .iter()
        .any(|w| m.contains(w)) =>
        {
            "unreachable"
        }
        _ => "other",
    }
}

/// What the spool holds for one signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolDepth {
    /// Files waiting.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Measures the spool: `(signal, depth)` per signal, `None` when there is no spool.
pub type SpoolProbe = Arc<dyn Fn() -> Option<Vec<(&'static str, SpoolDepth)>> + Send + Sync>;

/// A `(signal, reason)` pair and its count.
pub type Tallied = Vec<((&'static str, &'static str), u64)>;

/// Every signal.
const SIGNALS: [&str; 3] = ["metrics", "logs", "traces"];
/// Every failure reason of [`failure_reason`].
const FAILURE_REASONS: [&str; 5] = ["timeout", "http_4xx", "http_5xx", "unreachable", "other"];
/// Every reason of [`dropped`].
const DROP_REASONS: [&str; 4] = ["spool_full", "no_spool", "spool_error", "queue"];

type Counts = BTreeMap<(&'static str, &'static str), u64>;

#[derive(Default)]
struct Tally {
    failures: Counts,
    dropped: Counts,
    /// What the instruments last read of `failures` and `dropped`.
    observed_failures: Counts,
    observed_dropped: Counts,
    /// What this process last wrote (or found) in the health file, per signal.
    persisted: BTreeMap<&'static str, (bool, SystemTime)>,
    spool: Option<SpoolProbe>,
}

static TALLY: Mutex<Option<Tally>> = Mutex::new(None);

fn with_tally<T>(f: impl FnOnce(&mut Tally) -> T) -> T {
    let mut guard = TALLY.lock().unwrap_or_else(PoisonError::into_inner);
    f(guard.get_or_insert_with(Tally::default))
}

/// Notes one export of `signal` (`error`: its message when it failed), and persists the
/// outcome in `health_file` when it changed or went stale ([`PERSIST_EVERY`]): at most one
/// small write, none when the file already says the same (a new process reads it once).
pub fn export_result(signal: &'static str, error: Option<&str>, health_file: Option<&HealthFile>) {
    let now = SystemTime::now();
    let ok = error.is_none();
    let fresh = |(was_ok, at): (bool, SystemTime)| {
        was_ok == ok && now.duration_since(at).unwrap_or_default() < PERSIST_EVERY
    };
    let known = with_tally(|t| {
        if let Some(message) = error {
            *t.failures
                .entry((signal, failure_reason(message)))
                .or_default() += 1;
        }
        t.persisted.get(signal).copied()
    });
    let Some(file) = health_file else {
        return;
    };
    let last = known.or_else(|| {
        file.read()
            .signals
            .get(signal)
            .and_then(LastExports::latest)
    });
    if last.is_some_and(fresh) {
        if known.is_none() {
            with_tally(|t| t.persisted.extend(last.map(|l| (signal, l))));
        }
        return;
    }
    with_tally(|t| t.persisted.insert(signal, (ok, now)));
    file.note(signal, now, error);
}

/// Log records and spans handed to the SDK's batch processors, and those the processors handed
/// to the exporter (successfully or not): at shutdown, the difference is what the batch queue
/// dropped (full) or still held when the shutdown bound ran out ([`settle_queues`]).
static QUEUE: [(AtomicU64, AtomicU64); 2] = [
    (AtomicU64::new(0), AtomicU64::new(0)),
    (AtomicU64::new(0), AtomicU64::new(0)),
];

fn queue_of(signal: &str) -> Option<&'static (AtomicU64, AtomicU64)> {
    match signal {
        "logs" => Some(&QUEUE[0]),
        "traces" => Some(&QUEUE[1]),
        _ => None,
    }
}

/// One record of `signal` entered its batch processor's queue.
pub(crate) fn queued(signal: &str) {
    if let Some((entered, _)) = queue_of(signal) {
        entered.fetch_add(1, Ordering::Relaxed);
    }
}

/// `records` of `signal` left the queue for the exporter.
pub(crate) fn dequeued(signal: &str, records: u64) {
    if let Some((_, left)) = queue_of(signal) {
        left.fetch_add(records, Ordering::Relaxed);
    }
}

/// After the processors shut down: counts what entered a queue and never reached the exporter
/// as dropped for reason `queue`.
pub(crate) fn settle_queues() {
    for signal in ["logs", "traces"] {
        if let Some((entered, left)) = queue_of(signal) {
            let lost = entered
                .swap(0, Ordering::Relaxed)
                .saturating_sub(left.swap(0, Ordering::Relaxed));
            dropped(signal, "queue", lost);
        }
    }
}

/// Counts `records` of `signal` dropped for `reason` (`spool_full`, `no_spool`,
/// `spool_error`, `queue`).
pub fn dropped(signal: &'static str, reason: &'static str, records: u64) {
    if records > 0 {
        with_tally(|t| *t.dropped.entry((signal, reason)).or_default() += records);
    }
}

/// Export failures of this process per `(signal, reason)`, as an instrument reports them:
/// what this returns is no longer carried over to the next process.
#[must_use]
pub fn observe_failures() -> Tallied {
    with_tally(|t| {
        t.observed_failures.clone_from(&t.failures);
        t.failures.iter().map(|(k, v)| (*k, *v)).collect()
    })
}

/// Records dropped by this process per `(signal, reason)`, as an instrument reports them
/// (see [`observe_failures`]).
#[must_use]
pub fn observe_dropped() -> Tallied {
    with_tally(|t| {
        t.observed_dropped.clone_from(&t.dropped);
        t.dropped.iter().map(|(k, v)| (*k, *v)).collect()
    })
}

/// The counts of `all` not yet in `observed`.
fn unobserved(kind: &str, all: &Counts, observed: &Counts) -> Vec<Pending> {
    all.iter()
        .filter_map(|(&(signal, reason), &n)| {
            let n = n.saturating_sub(observed.get(&(signal, reason)).copied().unwrap_or(0));
            (n > 0).then(|| Pending {
                kind: kind.to_owned(),
                signal: signal.to_owned(),
                reason: reason.to_owned(),
                count: n,
            })
        })
        .collect()
}

/// Leaves what this process counted and no instrument reported in `file`, for the next
/// process to [`adopt`]; call it once, after the provider's final export. Nothing is written
/// when everything was reported.
pub fn carry_over(file: &HealthFile) {
    let pending = with_tally(|t| {
        let mut pending = unobserved("failures", &t.failures, &t.observed_failures);
        pending.extend(unobserved("dropped", &t.dropped, &t.observed_dropped));
        // Counted as reported: a second call must not carry them again.
        t.observed_failures.clone_from(&t.failures);
        t.observed_dropped.clone_from(&t.dropped);
        pending
    });
    if !pending.is_empty() {
        file.update(|state| state.pending.extend(pending));
    }
}

/// Adds the counts a previous process carried over in `file` to this process's tally and
/// removes them from the file (one read when there are none).
pub fn adopt(file: &HealthFile) {
    let mut taken = Vec::new();
    if file.read().pending.is_empty() {
        return;
    }
    file.update(|state| taken = std::mem::take(&mut state.pending));
    let known = |list: &[&'static str], name: &str| list.iter().copied().find(|s| *s == name);
    with_tally(|t| {
        for p in taken {
            let (counts, reasons) = match p.kind.as_str() {
                "failures" => (&mut t.failures, &FAILURE_REASONS[..]),
                "dropped" => (&mut t.dropped, &DROP_REASONS[..]),
                _ => continue,
            };
            if let (Some(signal), Some(reason)) =
                (known(&SIGNALS, &p.signal), known(reasons, &p.reason))
            {
                let n = counts.entry((signal, reason)).or_default();
                *n = n.saturating_add(p.count);
            }
        }
    });
}

/// Sets how the spool is measured (the transport crate does, when it builds a provider).
pub fn set_spool_probe(probe: SpoolProbe) {
    with_tally(|t| t.spool = Some(probe));
}

/// The spool depth per signal, `None` without a spool.
#[must_use]
pub fn spool_depth() -> Option<Vec<(&'static str, SpoolDepth)>> {
    let probe = with_tally(|t| t.spool.clone())?;
    probe()
}

/// The last export outcomes of one signal, as persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastExports {
    /// Unix seconds of the last successful export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<u64>,
    /// Unix seconds of the last failed export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<u64>,
    /// The error of the last failed export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Counts a process could not report itself, for the next one (see [`carry_over`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// `failures` or `dropped`.
    pub kind: String,
    /// The signal.
    pub signal: String,
    /// The reason.
    pub reason: String,
    /// How many.
    pub count: u64,
}

/// The content of the health file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthState {
    /// The last outcomes per signal.
    #[serde(default)]
    pub signals: BTreeMap<String, LastExports>,
    /// Counts carried over to the next process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
}

impl LastExports {
    /// The latest outcome: whether it succeeded, and when.
    #[must_use]
    pub fn latest(&self) -> Option<(bool, SystemTime)> {
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        match (self.last_success, self.last_failure) {
            (Some(ok), Some(failed)) if failed > ok => Some((false, at(failed))),
            (Some(ok), _) => Some((true, at(ok))),
            (None, Some(failed)) => Some((false, at(failed))),
            (None, None) => None,
        }
    }
}

/// `<state_dir>/telemetry/health.json`: the last success and failure per signal and the counts
/// carried over between processes, shared by every gt process of the host (best-effort:
/// concurrent writers may lose one update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthFile {
    path: PathBuf,
}

impl HealthFile {
    /// The health file of `state_dir`.
    #[must_use]
    pub fn in_state_dir(state_dir: &Path) -> Self {
        Self {
            path: state_dir.join("telemetry").join(HEALTH_FILE),
        }
    }

    /// Its path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's content; empty when it is missing or unreadable.
    #[must_use]
    pub fn read(&self) -> HealthState {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    fn note(&self, signal: &str, at: SystemTime, error: Option<&str>) {
        let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        self.update(|state| {
            let entry = state.signals.entry(signal.to_owned()).or_default();
            match error {
                None => entry.last_success = Some(secs),
                Some(message) => {
                    entry.last_failure = Some(secs);
                    entry.last_error = Some(message.chars().take(300).collect());
                }
            }
        });
    }

    /// Reads, changes and replaces the file (renamed into place: readers never see half).
    fn update(&self, change: impl FnOnce(&mut HealthState)) {
        // The signals export on threads of their own: one update at a time in this process.
        static WRITING: Mutex<()> = Mutex::new(());
        let _one = WRITING.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all = self.read();
        change(&mut all);
        let Ok(text) = serde_json::to_string_pretty(&all) else {
            return;
        };
        let Some(dir) = self.path.parent() else {
            return;
        };
        let tmp = dir.join(format!(".{HEALTH_FILE}.{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_name_the_kind_of_failure() {
        assert_eq!(
            failure_reason("HTTP export failed with status code: 500"),
            "http_5xx"
        );
        assert_eq!(
            failure_reason("HTTP export failed. Status Code: 404, Response: x"),
            "http_4xx"
        );
        assert_eq!(failure_reason("no answer within 1000 ms"), "timeout");
        assert_eq!(
            failure_reason("HTTP export failed: io: Connection refused"),
            "unreachable"
        );
        assert_eq!(
            failure_reason("Operation failed: HTTP export failed: network error"),
            "unreachable"
        );
        assert_eq!(failure_reason("something else"), "other");
    }

    #[test]
    fn the_health_file_keeps_the_last_success_and_failure_per_signal() {
        let dir = std::env::temp_dir().join(format!("gt-health-{}", uuid::Uuid::new_v4()));
        let file = HealthFile::in_state_dir(&dir);
        let t = UNIX_EPOCH + Duration::from_secs(1000);
        file.note("logs", t, Some("status code: 500"));
        file.note("logs", t + Duration::from_secs(5), None);
        file.note("metrics", t, None);
        let all = file.read().signals;
        assert_eq!(all["logs"].last_failure, Some(1000));
        assert_eq!(all["logs"].last_success, Some(1005));
        assert_eq!(all["logs"].last_error.as_deref(), Some("status code: 500"));
        assert_eq!(all["metrics"].last_success, Some(1000));
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod carry_tests {
    use super::*;

    #[test]
    fn counts_no_instrument_reported_are_carried_to_the_next_process_once() {
        let dir = std::env::temp_dir().join(format!("gt-health-{}", uuid::Uuid::new_v4()));
        let file = HealthFile::in_state_dir(&dir);
        let before = |signal| {
            observe_failures()
                .into_iter()
                .find(|((s, r), _)| *s == signal && *r == "http_5xx")
                .map_or(0, |(_, n)| n)
        };
        // Another test may count in this process meanwhile: only `traces` is used here.
        let start = before("traces");
        export_result("traces", Some("status code: 503"), None);
        carry_over(&file);
        assert_eq!(file.read().pending.len(), 1, "{:?}", file.read());
        carry_over(&file);
        assert_eq!(file.read().pending.len(), 1, "carried once");
        adopt(&file);
        assert!(file.read().pending.is_empty(), "taken");
        assert_eq!(
            before("traces"),
            start + 2,
            "its own failure and the adopted one"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
