//! Read-back tests against real VictoriaMetrics and VictoriaLogs on their default ports.
//!
//! They run only with `GT_IT_BACKENDS=1` (set by `.ci/run` after `.ci/start-backends.sh`), so
//! `cargo test` stays offline for contributors. The HTTP status of an export proves nothing
//! (VictoriaMetrics 1.112 answers 200 and drops delta sums and out-of-retention samples): the
//! read-back through the query APIs is the test.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::backends::{curl, enabled as backends_enabled, poll, run_tag};
use telemetry_recorder::catalog::catalog;

const METRICS_URL: &str = "http://localhost:8428/opentelemetry/api/v1/push";
const VM: &str = "http://127.0.0.1:8428";
const VL: &str = "http://127.0.0.1:9428";

fn gt_prime(tag: &str) {
    gt_prime_with_state(tag, &support::state_dir());
}

/// One `gt prime` on the "host" whose durable counter store is in `state`.
fn gt_prime_with_state(tag: &str, state: &std::path::Path) {
    let out = support::gt()
        .env("GT_STATE_DIR", state)
        .arg("prime")
        .arg("--no-bd")
        .env_remove("GT_OTEL_LOGS_URL")
        .env("GT_OTEL_METRICS_URL", METRICS_URL)
        .env("GT_ROLE", "gastown/polecats/Toast")
        .env("OTEL_RESOURCE_ATTRIBUTES", format!("test.run={tag}"))
        .env_remove("TMUX")
        .output()
        .expect("gt runs");
    assert!(
        out.status.success(),
        "gt prime failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "no warning expected: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn five_prime_runs_are_counted_as_five_in_victoriametrics_and_logged_in_victorialogs() {
    if !backends_enabled() {
        return;
    }
    let tag = run_tag("five-primes");
    for _ in 0..5 {
        gt_prime(&tag);
    }
    // The documented query (docs/operations.md): each process is its own cumulative series
    // (service.instance.id), and increase() counts a new series from zero.
    let query = format!("sum(increase(gastown_prime_total{{test_run=\"{tag}\"}}[1h]))");
    let count = poll(Duration::from_secs(30), || {
        curl(&format!("{VM}/internal/force_flush"), &[]);
        let body = curl(&format!("{VM}/api/v1/query"), &[("query", &query)]);
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let value = json["data"]["result"][0]["value"][1]
            .as_str()?
            .parse::<f64>()
            .ok()?;
        (value >= 5.0).then_some(value)
    });
    assert_eq!(count, Some(5.0), "query {query}");

    let logsql = format!("_msg:prime AND test.run:\"{tag}\"");
    let lines = poll(Duration::from_secs(30), || {
        let body = curl(&format!("{VL}/select/logsql/query"), &[("query", &logsql)]);
        let lines: Vec<serde_json::Value> = body
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (lines.len() >= 5).then_some(lines)
    })
    .expect("five prime records in VictoriaLogs");
    assert_eq!(lines.len(), 5);
    for line in &lines {
        assert_eq!(line["role"], "gastown/polecats/Toast", "{line}");
        assert_eq!(line["status"], "ok");
        assert_eq!(line["service.name"], "gastown");
    }
}

/// The value of a PromQL/MetricsQL instant query once it reaches `at_least`.
fn query_value(query: &str, at_least: f64) -> Option<f64> {
    poll(Duration::from_secs(30), || {
        support::backends::vm_scalar(VM, query).filter(|v| *v >= at_least)
    })
}

#[test]
fn thirty_one_shot_primes_in_three_runs_give_an_exact_increase_and_a_rate() {
    if !backends_enabled() {
        return;
    }
    let tag = run_tag("thirty-primes");
    let host = support::state_dir();
    // Run 1 and 3: one after another; run 2: ten at once (the store's lock serialises them).
    for _ in 0..10 {
        gt_prime_with_state(&tag, &host);
    }
    std::thread::scope(|scope| {
        for _ in 0..10 {
            scope.spawn(|| gt_prime_with_state(&tag, &host));
        }
    });
    for _ in 0..10 {
        gt_prime_with_state(&tag, &host);
    }
    // The queries the dashboards use: one host-level series that grows 0, 1, …, 30.
    let selector = format!("gastown_prime_total{{test_run=\"{tag}\"}}");
    let increase = format!("sum(increase({selector}[30m]))");
    assert_eq!(query_value(&increase, 30.0), Some(30.0), "{increase}");
    let rate = format!("sum(rate({selector}[30m]))");
    let per_second = query_value(&rate, f64::MIN_POSITIVE).expect("rate() is not empty");
    assert!(per_second > 0.0, "{rate} = {per_second}");
    let series = curl(&format!("{VM}/api/v1/series"), &[("match[]", &selector)]);
    let json: serde_json::Value = serde_json::from_str(&series).unwrap();
    assert_eq!(
        json["data"].as_array().map(Vec::len),
        Some(1),
        "one long-lived series for the host, not one per process: {json}"
    );
}

#[test]
fn twenty_concurrent_primes_on_one_host_count_twenty() {
    if !backends_enabled() {
        return;
    }
    let tag = run_tag("twenty-concurrent");
    let host = support::state_dir();
    std::thread::scope(|scope| {
        for _ in 0..20 {
            scope.spawn(|| gt_prime_with_state(&tag, &host));
        }
    });
    let query = format!("sum(increase(gastown_prime_total{{test_run=\"{tag}\"}}[30m]))");
    assert_eq!(query_value(&query, 20.0), Some(20.0), "{query}");
}

#[test]
fn every_instrument_arrives_in_victoriametrics_under_its_catalogued_prometheus_names() {
    if !backends_enabled() {
        return;
    }
    let tag = run_tag("all-events");
    for event in catalog().events {
        let mut cmd = support::gt();
        cmd.env("GT_OTEL_METRICS_URL", METRICS_URL)
            .env(
                "GT_OTEL_LOGS_URL",
                "http://localhost:9428/insert/opentelemetry/v1/logs",
            )
            .env("OTEL_RESOURCE_ATTRIBUTES", format!("test.run={tag}"));
        support::emit_all_attributes(&mut cmd, event.name);
        let out = cmd.output().expect("gt runs");
        assert!(
            out.status.success(),
            "{}: {}",
            event.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Instruments no event records into (telemetry's own health) are proven under failure by
    // telemetry_health.rs and agent_log_health.rs.
    let expected: BTreeSet<String> = catalog()
        .instruments
        .iter()
        .filter(|i| !i.recorded_by.is_empty())
        .flat_map(|i| i.prometheus_names())
        .collect();
    let selector = format!("{{test_run=\"{tag}\"}}");
    let mut names = BTreeSet::new();
    let complete = poll(Duration::from_secs(30), || {
        curl(&format!("{VM}/internal/force_flush"), &[]);
        let body = curl(&format!("{VM}/api/v1/series"), &[("match[]", &selector)]);
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        names = json["data"]
            .as_array()?
            .iter()
            .filter_map(|s| s["__name__"].as_str().map(str::to_owned))
            .collect();
        expected.is_subset(&names).then_some(())
    });
    let missing: Vec<&String> = expected.difference(&names).collect();
    assert!(
        complete.is_some(),
        "missing in VictoriaMetrics: {missing:?}; present: {names:?}"
    );

    let logsql = format!("test.run:\"{tag}\"");
    let count = poll(Duration::from_secs(30), || {
        let body = curl(&format!("{VL}/select/logsql/query"), &[("query", &logsql)]);
        let n = body.lines().filter(|l| l.starts_with('{')).count();
        (n >= catalog().events.len()).then_some(n)
    });
    assert_eq!(
        count,
        Some(catalog().events.len()),
        "one record per event in VictoriaLogs"
    );
}
