//! The export health of this process: export failures and dropped records per signal and
//! reason, the last success and failure of each signal, and the spool depth.
//!
//! The export wrappers of this crate ([`crate::provider`]) report every export result here and
//! `telemetry-otlp` reports the records it drops and how to measure its spool; the recorder
//! reads the tally back as instruments (`gastown.telemetry.*`), `gt otel doctor` reads the
//! last success and failure of each signal from the state directory ([`HealthFile`]).
//!
//! The tally is per process. A failure is counted when the export that failed returns, so a
//! metrics export cannot carry its own failure: the next export of the process does, or (for
//! a one-shot command) the next process through the host's counter store, where the counters
//! of scope `gastown` add up across processes.
//!
//! It must not export or record anything itself, and it never fails: an unwritable state
//! directory only loses the persisted times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

#[derive(Default)]
struct Tally {
    failures: BTreeMap<(&'static str, &'static str), u64>,
    dropped: BTreeMap<(&'static str, &'static str), u64>,
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
/// outcome in `health_file` when it changed or went stale (at most one small write).
pub fn export_result(signal: &'static str, error: Option<&str>, health_file: Option<&HealthFile>) {
    let now = SystemTime::now();
    let ok = error.is_none();
    let write = with_tally(|t| {
        if let Some(message) = error {
            *t.failures
                .entry((signal, failure_reason(message)))
                .or_default() += 1;
        }
        let fresh = |(was_ok, at): (bool, SystemTime)| {
            was_ok == ok && now.duration_since(at).unwrap_or_default() < PERSIST_EVERY
        };
        if t.persisted.get(signal).copied().is_some_and(fresh) {
            return false;
        }
        t.persisted.insert(signal, (ok, now));
        true
    });
    if let (true, Some(file)) = (write, health_file) {
        file.note(signal, now, error);
    }
}

/// Counts `records` of `signal` dropped for `reason` (`spool_full`, `no_spool`,
/// `spool_error`).
pub fn dropped(signal: &'static str, reason: &'static str, records: u64) {
    if records > 0 {
        with_tally(|t| *t.dropped.entry((signal, reason)).or_default() += records);
    }
}

/// Export failures of this process per `(signal, reason)`.
#[must_use]
pub fn failures() -> Tallied {
    with_tally(|t| t.failures.iter().map(|(k, v)| (*k, *v)).collect())
}

/// Records dropped by this process per `(signal, reason)`.
#[must_use]
pub fn dropped_records() -> Tallied {
    with_tally(|t| t.dropped.iter().map(|(k, v)| (*k, *v)).collect())
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

/// `<state_dir>/telemetry/health.json`: the last success and failure per signal, shared by
/// every gt process of the host (best-effort: concurrent writers may lose one update).
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

    /// The outcomes per signal; empty when the file is missing or unreadable.
    #[must_use]
    pub fn read(&self) -> BTreeMap<String, LastExports> {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    fn note(&self, signal: &str, at: SystemTime, error: Option<&str>) {
        let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let mut all = self.read();
        let entry = all.entry(signal.to_owned()).or_default();
        match error {
            None => entry.last_success = Some(secs),
            Some(message) => {
                entry.last_failure = Some(secs);
                entry.last_error = Some(message.chars().take(300).collect());
            }
        }
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
        let all = file.read();
        assert_eq!(all["logs"].last_failure, Some(1000));
        assert_eq!(all["logs"].last_success, Some(1005));
        assert_eq!(all["logs"].last_error.as_deref(), Some("status code: 500"));
        assert_eq!(all["metrics"].last_success, Some(1000));
        let _ = std::fs::remove_dir_all(dir);
    }
}
