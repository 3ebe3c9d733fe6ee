//! Test harness: one real OTLP/HTTP receiver on loopback and one non-global provider per test,
//! so tests run in parallel without sharing anything.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different subset.

use std::time::Duration;

use otlp_capture::{LogRecord, MetricPoint, Receiver, Value};
use telemetry_core::{Config, Profile, Provider, Service};
use telemetry_recorder::{ContentSettings, Recorder};

/// Upper bound for anything to arrive; loopback exports take milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// A receiver and a provider exporting both signals to it.
pub struct Harness {
    pub rx: Receiver,
    pub provider: Provider,
}

impl Harness {
    pub fn start() -> Self {
        let rx = Receiver::start().expect("receiver binds loopback");
        let (metrics, logs) = (rx.url("/v1/metrics"), rx.url("/v1/logs"));
        let config = Config::from_lookup(|k| match k {
            "GT_OTEL_METRICS_URL" => Some(metrics.clone()),
            "GT_OTEL_LOGS_URL" => Some(logs.clone()),
            _ => None,
        })
        .expect("valid config");
        let provider = telemetry_otlp::build(
            &config,
            Service {
                name: "gastown-test",
                version: "0.0.0",
            },
            Profile::OneShot,
        )
        .expect("provider builds");
        Self { rx, provider }
    }

    /// A recorder with `settings`, no `GT_RUN` fallback and host name `testhost`, so the
    /// test's results do not depend on the environment it runs in.
    pub fn recorder(&self, settings: ContentSettings) -> Recorder {
        Recorder::with_settings(&self.provider, settings)
            .with_fallback_run_id(None)
            .with_hostname(Some("testhost"))
    }

    /// Shuts the provider down (final metrics export, logs flushed) and returns what arrived.
    pub fn finish(&self) -> (Vec<LogRecord>, Vec<MetricPoint>) {
        self.provider
            .shutdown(Duration::from_secs(5))
            .expect("clean shutdown");
        (self.rx.logs(), self.rx.metrics())
    }
}

/// The records with body `event`.
pub fn bodies<'a>(logs: &'a [LogRecord], event: &str) -> Vec<&'a LogRecord> {
    logs.iter()
        .filter(|r| r.body_str() == Some(event))
        .collect()
}

/// The one record with body `event` and string attribute `key` = `value`.
pub fn record_with<'a>(
    logs: &'a [LogRecord],
    event: &str,
    key: &str,
    value: &str,
) -> &'a LogRecord {
    let found: Vec<_> = bodies(logs, event)
        .into_iter()
        .filter(|r| r.str_attr(key) == Some(value))
        .collect();
    assert_eq!(found.len(), 1, "{event} with {key}={value}: {found:#?}");
    found[0]
}

/// How often `key` occurs among the record's attributes.
pub fn count_key(record: &LogRecord, key: &str) -> usize {
    record.attributes.iter().filter(|(k, _)| k == key).count()
}

/// The points of `name` whose attributes are exactly `attrs` (in any order), without the
/// series' zero start points.
pub fn points<'a>(
    metrics: &'a [MetricPoint],
    name: &str,
    attrs: &[(&str, Value)],
) -> Vec<&'a MetricPoint> {
    metrics
        .iter()
        .filter(|p| p.name == name && !p.is_start_point())
        .filter(|p| {
            p.attributes.len() == attrs.len() && attrs.iter().all(|(k, v)| p.attr(k) == Some(v))
        })
        .collect()
}

pub fn s(v: &str) -> Value {
    Value::Str(v.to_owned())
}
