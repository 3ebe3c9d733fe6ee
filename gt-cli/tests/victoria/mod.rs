//! Talking to real VictoriaMetrics / VictoriaLogs from tests: the `GT_IT_BACKENDS=1` gate, a
//! run tag to find one test's data, `curl`, a LogsQL query, and polling with a deadline.

#![allow(
    dead_code,
    reason = "each backend test binary uses a different part of the helpers"
)]

use std::process::Command;
use std::time::{Duration, Instant};

/// Whether the shared backends are there (`GT_IT_BACKENDS=1`, set by `.ci/run`); says why not.
pub(crate) fn backends_enabled() -> bool {
    let on = std::env::var(telemetry_core::env::GT_IT_BACKENDS).is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: set GT_IT_BACKENDS=1 with .ci/start-backends.sh running");
    }
    on
}

/// A value unique to this test run, used as a resource attribute to find our data.
pub(crate) fn run_tag(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}

/// POSTs `data` form-encoded to `url` (10 s at most); the body, empty on failure.
pub(crate) fn curl(url: &str, data: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", url]);
    for (key, value) in data {
        cmd.arg("--data-urlencode").arg(format!("{key}={value}"));
    }
    let out = cmd.output().expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rows a LogsQL query returns from the VictoriaLogs at `base` (`http://host:port`).
pub(crate) fn logsql(base: &str, query: &str) -> Vec<serde_json::Value> {
    curl(&format!("{base}/select/logsql/query"), &[("query", query)])
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Field `name` of a stats row as a number (LogsQL answers numbers as strings).
pub(crate) fn number(row: &serde_json::Value, name: &str) -> f64 {
    row[name]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Polls `probe` until it returns Some, up to `deadline`.
pub(crate) fn poll<T>(deadline: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if started.elapsed() > deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}
