//! The self-health of telemetry, end to end with real `gt` processes: when the logs backend
//! answers 500, the metrics backend receives `gastown.telemetry.*` (export failures, spool
//! depth, dropped records), `gt otel doctor` shows the spool and the last success and failure
//! per signal, and the growing-spool alert (`docs/alerts/telemetry-health.rules.yml`) fires in
//! vmalert against VictoriaMetrics fed by such processes (and passes promtool's unit tests).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use otlp_capture::{MetricPoint, Mode, PointValue, Receiver, Value};
use support::backends::{self, poll, run_tag};
use support::promql::{
    promtool_check_and_test, seconds_since_epoch, vmalert_alert_list, vmalert_with_short_for,
};
use support::{gt, run_ok, state_dir};

/// A generous bound for anything that waits on gt processes (the CI machine is loaded).
const PATIENCE: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `gt otel emit done` sending logs to `logs_url` and metrics to `metrics_url`.
fn emit(state: &Path, logs_url: &str, metrics_url: &str) -> Command {
    let mut cmd = gt();
    cmd.env("GT_STATE_DIR", state)
        .env("GT_OTEL_LOGS_URL", logs_url)
        .env("GT_OTEL_METRICS_URL", metrics_url)
        .args(["otel", "emit", "done", "--attr", "exit_type=COMPLETED"]);
    cmd
}

fn attr<'a>(point: &'a MetricPoint, key: &str) -> Option<&'a str> {
    point.attributes.iter().find_map(|(k, v)| match v {
        Value::Str(s) if k == key => Some(s.as_str()),
        _ => None,
    })
}

fn number(point: &MetricPoint) -> f64 {
    match point.value {
        #[allow(clippy::cast_precision_loss, reason = "small test counts")]
        PointValue::Int(n) => n as f64,
        PointValue::Double(x) => x,
        _ => f64::NAN,
    }
}

/// The largest value received for `name` with `signal` (and `reason`, when given).
fn largest(rx: &Receiver, name: &str, signal: &str, reason: Option<&str>) -> f64 {
    rx.metrics()
        .iter()
        .filter(|m| m.name == name && attr(m, "signal") == Some(signal))
        .filter(|m| reason.is_none() || attr(m, "reason") == reason)
        .map(number)
        .fold(0.0, f64::max)
}

#[test]
fn self_health_instruments_reach_the_receiver_when_the_logs_backend_fails() {
    let logs = Receiver::start_with(Mode::Status(500)).unwrap();
    let metrics = Receiver::start().unwrap();
    let state = state_dir();
    let (logs_url, metrics_url) = (logs.url("/v1/logs"), metrics.url("/v1/metrics"));
    // Each failure is reported by its own process's final metrics export, or (when it came
    // after that export's collection) carried over to the next process.
    for _ in 0..2 {
        run_ok(&mut emit(&state, &logs_url, &metrics_url));
    }
    let failures = metrics.wait_until(PATIENCE, |rx| {
        let n = largest(
            rx,
            "gastown.telemetry.export_failures.total",
            "logs",
            Some("http_5xx"),
        );
        (n >= 1.0).then_some(n)
    });
    assert!(
        failures.is_some(),
        "no logs export failure reported: {:?}",
        metrics
            .metrics()
            .iter()
            .map(|m| &m.name)
            .collect::<Vec<_>>()
    );
    // The second process found the first one's batch in the spool.
    let files = metrics.wait_until(PATIENCE, |rx| {
        let n = largest(rx, "gastown.telemetry.spool_files", "logs", None);
        (n >= 1.0).then_some(n)
    });
    assert!(files.is_some(), "no spool depth reported");
    let bytes = largest(&metrics, "gastown.telemetry.spool_bytes", "logs", None);
    assert!(bytes > 0.0, "spool bytes {bytes}");

    // Without a spool, the failed batch is lost, and counted as dropped.
    for _ in 0..2 {
        run_ok(emit(&state, &logs_url, &metrics_url).env("GT_OTEL_SPOOL_MAX_MB", "0"));
    }
    let dropped = metrics.wait_until(PATIENCE, |rx| {
        let n = largest(
            rx,
            "gastown.telemetry.dropped_records.total",
            "logs",
            Some("no_spool"),
        );
        (n >= 1.0).then_some(n)
    });
    assert!(dropped.is_some(), "no dropped records reported");

    // The doctor reads the spool and the exports' history from the state directory.
    let out = gt()
        .env("GT_STATE_DIR", &state)
        .env("GT_OTEL_LOGS_URL", &logs_url)
        .env("GT_OTEL_METRICS_URL", &metrics_url)
        .args(["otel", "doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Telemetry health:"), "{text}");
    let line = |signal: &str| {
        text.lines()
            .find(|l| {
                l.trim_start()
                    .starts_with(&format!("{signal}: last success"))
            })
            .unwrap_or_else(|| panic!("no {signal} health line in\n{text}"))
            .to_owned()
    };
    let logs_line = line("logs");
    assert!(
        logs_line.contains("last success never") && logs_line.ends_with(": FAILING"),
        "{logs_line}"
    );
    assert!(logs_line.contains("500"), "the error is shown: {logs_line}");
    let metrics_line = line("metrics");
    assert!(
        !metrics_line.contains("last success never") && !metrics_line.contains("FAILING"),
        "{metrics_line}"
    );
    let spool_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("spool:"))
        .unwrap_or_default();
    assert!(
        spool_line.contains("2 files") || spool_line.contains("3 files"),
        "the two spooled batches wait (a third if the doctor's own probe spooled): {spool_line}"
    );
}

/// vmalert's alerts of `name` for host `host`: (group, state, signal).
fn alerts_of(vmalert: &str, name: &str, host: &str) -> Vec<(String, String, String)> {
    let mut alerts: Vec<_> = vmalert_alert_list(vmalert)
        .iter()
        .filter(|a| a["name"] == name && a["labels"]["host_name"] == host)
        .map(|a| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            (
                s(&a["labels"]["alertgroup"]),
                s(&a["state"]),
                s(&a["labels"]["signal"]),
            )
        })
        .collect();
    alerts.sort();
    alerts
}

#[test]
fn a_growing_spool_fires_its_alert_in_vmalert_and_a_constant_one_does_not() {
    if !backends::enabled() {
        return;
    }
    let vm = backends::victoria_metrics();
    let metrics_url = format!("{}/opentelemetry/api/v1/push", vm.url);
    let logs = Receiver::start_with(Mode::Status(500)).unwrap();
    let logs_url = logs.url("/v1/logs");
    let state = state_dir();
    let host = run_tag("spool-growing");
    // Logs grow by one spooled batch per process; traces (no traces URL) stay at 0.
    for _ in 0..4 {
        run_ok(
            emit(&state, &logs_url, &metrics_url)
                .env("OTEL_RESOURCE_ATTRIBUTES", format!("host.name={host}")),
        );
    }
    let at = seconds_since_epoch(SystemTime::now()) + 2.0;
    let spool = format!("gastown_telemetry_spool_bytes{{host_name=\"{host}\"}}");
    let seen = poll(PATIENCE, || {
        let series = support::promql::query(&vm.url, &spool, at).ok()?;
        (series.len() >= 2).then_some(series)
    });
    assert!(
        seen.is_some(),
        "spool gauges of {host} not in VictoriaMetrics"
    );

    let rules_file = repo().join("docs/alerts/telemetry-health.rules.yml");
    let (vmalert, _short_dir) = vmalert_with_short_for(&rules_file, &vm.url);
    let name = "GasTownTelemetrySpoolGrowing";
    let state = |group: &str, state: &str| (group.to_owned(), state.to_owned(), "logs".to_owned());
    let want = vec![
        // `for: 15m` in the shipped file: pending; 4 s in the copy: firing. Never traces.
        state("gastown-telemetry-health", "pending"),
        state("gastown-telemetry-health-short-for", "firing"),
    ];
    let mut got = Vec::new();
    let ok = poll(Duration::from_secs(120), || {
        got = alerts_of(&vmalert.url, name, &host);
        (got == want).then_some(())
    });
    assert!(
        ok.is_some(),
        "vmalert alerts of {host}\n    expected {want:?}\n    got      {got:?}\n    log: {}",
        vmalert.log()
    );
}

#[test]
fn promtool_checks_the_telemetry_health_rules_and_runs_their_unit_tests() {
    if !backends::enabled() {
        return;
    }
    promtool_check_and_test(
        &repo().join("docs/alerts"),
        "telemetry-health.rules.yml",
        "telemetry-health.rules.test.yml",
    );
}
