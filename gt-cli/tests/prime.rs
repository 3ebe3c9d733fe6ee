//! `gt prime` as a real process against a real OTLP/HTTP receiver on loopback.

mod support;

use std::time::{Duration, Instant};

use otlp_capture::{Mode, Receiver, Value};
use support::{gt, run_ok as run};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn version_and_help_work() {
    let out = run(gt().arg("--version"));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("gt "));
    let out = run(gt().arg("--help"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("prime"));
}

#[test]
fn prime_with_telemetry_off_prints_a_summary_and_exports_nothing() {
    let out = run(gt().args(["prime", "--no-bd"]).env("GT_ROLE", "mayor"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("agent: mayor") && stdout.contains("telemetry: off"),
        "{stdout}"
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn prime_delivers_its_record_and_counter_to_the_logs_url() {
    let receiver = Receiver::start().unwrap();
    let out = run(gt()
        .args(["prime", "--no-bd", "--hook"])
        .env(
            "GT_OTEL_LOGS_URL",
            receiver.url("/insert/opentelemetry/v1/logs"),
        )
        .env(
            "GT_OTEL_METRICS_URL",
            receiver.url("/opentelemetry/api/v1/push"),
        )
        .env("GT_ROLE", "gastown/polecats/Toast")
        .env("GT_RUN", "run-1234"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("telemetry: on"));
    let logs = receiver.wait_for_logs(1, WAIT);
    let prime = logs
        .iter()
        .find(|r| r.body_str() == Some("prime"))
        .expect("a prime record");
    assert_eq!(prime.path, "/insert/opentelemetry/v1/logs");
    assert_eq!(prime.str_attr("role"), Some("gastown/polecats/Toast"));
    assert_eq!(prime.attr("hook_mode"), Some(&Value::Bool(true)));
    assert_eq!(prime.str_attr("status"), Some("ok"));
    assert_eq!(prime.str_attr("run.id"), Some("run-1234"));
    assert_eq!(
        prime.resource_attr("service.name"),
        Some(&Value::Str("gastown".into()))
    );
    let points = receiver.wait_for_metric("gastown.prime.total", WAIT);
    let point = points.last().expect("a prime counter");
    assert_eq!(point.path, "/opentelemetry/api/v1/push");
    assert_eq!(point.as_f64(), Some(1.0));
    assert_eq!(point.attr("hook_mode"), Some(&Value::Bool(true)));
}

/// Runs `gt prime` against `url` and returns (elapsed, stderr).
fn prime_against(url: &str) -> (Duration, String) {
    let started = Instant::now();
    let out = run(gt()
        .args(["prime", "--no-bd"])
        .env("GT_OTEL_METRICS_URL", url)
        .env("GT_OTEL_LOGS_URL", url));
    (
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_one_warning_per_signal(stderr: &str) {
    for signal in ["metrics", "logs"] {
        let lines = stderr
            .lines()
            .filter(|l| l.contains(&format!("telemetry {signal} export")))
            .count();
        assert!(lines <= 1, "{signal}: {lines} warning lines:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn prime_with_a_refusing_backend_exits_zero_quickly_with_at_most_one_warning_per_signal() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (took, stderr) = prime_against(&format!("http://127.0.0.1:{port}/v1/x"));
    assert_one_warning_per_signal(&stderr);
    assert!(
        stderr.contains("telemetry logs export"),
        "the operator is told once: {stderr}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn prime_with_a_hanging_backend_exits_within_the_documented_bound() {
    let receiver = Receiver::start_with(Mode::Hang).unwrap();
    let (took, stderr) = prime_against(&receiver.url("/v1/hang"));
    assert_one_warning_per_signal(&stderr);
    // One-shot profile: 1 s exporter timeout, metrics and logs in parallel; 5 s hard deadline.
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn prime_with_a_malformed_url_warns_once_and_goes_on() {
    let out = run(gt()
        .args(["prime", "--no-bd"])
        .env("GT_OTEL_LOGS_URL", "localhost:9428/v1/logs"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("GT_OTEL_LOGS_URL"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("telemetry: off"));
}
