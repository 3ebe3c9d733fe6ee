//! The providers against a real OTLP/HTTP receiver on loopback: paths, resource, headers,
//! delivery at shutdown, the shutdown bound with a refusing, failing or hanging backend, and
//! https: an export to a TLS receiver whose test CA is given by `OTEL_EXPORTER_OTLP_CERTIFICATE`
//! arrives; without that CA it fails verification (the bundled public roots do not trust it);
//! a bad certificate file is a clear init error.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use otlp_capture::{Mode, Receiver, TestCa, Value};
use telemetry_core::{Config, InitError, Profile, Provider, Service};

const SERVICE: Service<'static> = Service {
    name: "gastown-test",
    version: "9.9.9",
};
const WAIT: Duration = Duration::from_secs(10);

fn config(vars: &[(&str, String)]) -> Config {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    Config::from_lookup(|k| map.get(k).cloned()).expect("valid test config")
}

fn provider_for(receiver: &Receiver, extra: &[(&str, String)]) -> Provider {
    let mut vars = vec![
        ("GT_OTEL_METRICS_URL", receiver.url("/custom/metrics/push")),
        ("GT_OTEL_LOGS_URL", receiver.url("/custom/insert/logs")),
    ];
    vars.extend(extra.iter().cloned());
    telemetry_otlp::build(&config(&vars), SERVICE, Profile::OneShot).expect("provider builds")
}

/// A configuration for `receiver` (http or https), trusting `certificate` when given.
fn tls_config(receiver: &Receiver, certificate: Option<&std::path::Path>) -> Config {
    let mut vars = vec![
        ("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics")),
        ("GT_OTEL_LOGS_URL", receiver.url("/v1/logs")),
        // Generous: the first TLS handshake builds the client configuration.
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000".to_owned()),
    ];
    if let Some(path) = certificate {
        vars.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", path.display().to_string()));
    }
    config(&vars)
}

fn emit(provider: &Provider, body: &'static str) {
    provider
        .meter()
        .u64_counter("test.events.total")
        .build()
        .add(1, &[]);
    let logger = provider.logger();
    let mut record = logger.create_log_record();
    record.set_body(AnyValue::from(body));
    record.set_severity_number(Severity::Info);
    logger.emit(record);
}

#[test]
fn log_record_and_counter_arrive_at_the_exact_paths_after_shutdown() {
    let receiver = Receiver::start().unwrap();
    let provider = provider_for(&receiver, &[]);
    emit(&provider, "hello");
    provider
        .shutdown(Duration::from_secs(5))
        .expect("clean shutdown");

    let logs = receiver.wait_for_logs(1, WAIT);
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].body_str(), Some("hello"));
    assert_eq!(logs[0].path, "/custom/insert/logs");
    let points = receiver.wait_for_metric("test.events.total", WAIT);
    assert_eq!(points.last().and_then(|p| p.as_f64()), Some(1.0));
    assert_eq!(points[0].path, "/custom/metrics/push");
    let paths: Vec<String> = receiver.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths
            .iter()
            .all(|p| p == "/custom/metrics/push" || p == "/custom/insert/logs"),
        "{paths:?}"
    );
}

#[test]
fn resource_carries_service_host_os_and_decoded_operator_attributes() {
    let receiver = Receiver::start().unwrap();
    let provider = provider_for(
        &receiver,
        &[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "gt.role=gastown%2Fpolecats%2FToast,team=a%2Cb%3Dc%20d".into(),
        )],
    );
    emit(&provider, "resource");
    provider.shutdown(Duration::from_secs(5)).unwrap();
    let logs = receiver.wait_for_logs(1, WAIT);
    let record = &logs[0];
    let str_of = |k: &str| match record.resource_attr(k) {
        Some(Value::Str(s)) => s.clone(),
        other => panic!("resource attribute {k}: {other:?}"),
    };
    assert_eq!(str_of("service.name"), "gastown-test");
    assert_eq!(str_of("service.version"), "9.9.9");
    for key in [
        "host.name",
        "host.arch",
        "os.type",
        "os.version",
        "os.description",
    ] {
        assert!(!str_of(key).is_empty(), "{key} is empty");
    }
    assert_eq!(str_of("gt.role"), "gastown/polecats/Toast");
    assert_eq!(str_of("team"), "a,b=c d");
    assert_eq!(str_of("service.instance.id"), provider.instance_id());
    assert!(record.resource_attr("process.command_line").is_none());
    let metric = &receiver.wait_for_metric("test.events.total", WAIT)[0];
    assert_eq!(
        metric.resource_attr("service.instance.id"),
        Some(&Value::Str(provider.instance_id().into()))
    );
}

#[test]
fn otlp_headers_reach_the_receiver() {
    let receiver = Receiver::start().unwrap();
    let provider = provider_for(
        &receiver,
        &[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "Authorization=Bearer%20s3cret,x-tenant=gastown".into(),
        )],
    );
    emit(&provider, "auth");
    provider.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(receiver.wait_for_logs(1, WAIT).len(), 1);
    assert!(
        !receiver
            .wait_for_metric("test.events.total", WAIT)
            .is_empty()
    );
    let requests = receiver.requests();
    assert!(requests.len() >= 2);
    for request in requests {
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header("authorization").as_deref(),
            Some("Bearer s3cret"),
            "{}",
            request.path
        );
        assert_eq!(header("x-tenant").as_deref(), Some("gastown"));
        assert_eq!(request.content_type, "application/x-protobuf");
    }
}

#[test]
fn shutdown_and_flush_are_idempotent() {
    let receiver = Receiver::start().unwrap();
    let provider = provider_for(&receiver, &[]);
    emit(&provider, "once");
    provider.force_flush(Duration::from_secs(5)).unwrap();
    assert_eq!(receiver.wait_for_logs(1, WAIT).len(), 1);
    provider.shutdown(Duration::from_secs(5)).unwrap();
    assert!(provider.is_shut_down());
    let again = Instant::now();
    provider.shutdown(Duration::from_secs(5)).unwrap();
    assert!(again.elapsed() < Duration::from_millis(100));
    assert_eq!(receiver.logs().len(), 1, "no record is sent twice");
}

/// Shuts a provider with pending data down against `receiver` and returns how long it took.
fn shutdown_time(receiver: &Receiver, deadline: Duration) -> Duration {
    let provider = provider_for(receiver, &[]);
    emit(&provider, "doomed");
    let started = Instant::now();
    let _ = provider.shutdown(deadline);
    started.elapsed()
}

#[test]
fn shutdown_returns_within_deadline_when_backend_answers_500() {
    let receiver = Receiver::start_with(Mode::Status(500)).unwrap();
    let took = shutdown_time(&receiver, Duration::from_secs(3));
    assert!(
        took < Duration::from_secs(3) + Duration::from_millis(250),
        "took {took:?}"
    );
    assert!(
        receiver
            .wait_until(WAIT, |r| (r.requests().len() >= 2).then_some(()))
            .is_some()
    );
}

#[test]
fn shutdown_returns_within_deadline_when_backend_closes_connections() {
    let receiver = Receiver::start_with(Mode::Close).unwrap();
    let took = shutdown_time(&receiver, Duration::from_secs(3));
    assert!(
        took < Duration::from_secs(3) + Duration::from_millis(250),
        "took {took:?}"
    );
}

#[test]
fn shutdown_returns_within_deadline_when_port_refuses() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let vars = [
        (
            "GT_OTEL_METRICS_URL",
            format!("http://127.0.0.1:{port}/v1/metrics"),
        ),
        (
            "GT_OTEL_LOGS_URL",
            format!("http://127.0.0.1:{port}/v1/logs"),
        ),
    ];
    let provider = telemetry_otlp::build(&config(&vars), SERVICE, Profile::OneShot).unwrap();
    emit(&provider, "refused");
    let started = Instant::now();
    let result = provider.shutdown(Duration::from_secs(3));
    let took = started.elapsed();
    assert!(
        result.is_err(),
        "a refused export is reported to the caller"
    );
    assert!(
        took < Duration::from_secs(3) + Duration::from_millis(250),
        "took {took:?}"
    );
}

#[test]
fn shutdown_returns_within_deadline_when_backend_hangs() {
    let receiver = Receiver::start_with(Mode::Hang).unwrap();
    // Even a deadline shorter than the exporter timeout (1 s) is honoured.
    let took = shutdown_time(&receiver, Duration::from_millis(400));
    assert!(
        took < Duration::from_millis(400) + Duration::from_millis(250),
        "took {took:?}"
    );
    let took = shutdown_time(&receiver, Duration::from_secs(5));
    assert!(
        took < Duration::from_secs(5),
        "one-shot exporter timeout bounds it: {took:?}"
    );
}

#[test]
fn dropping_a_provider_without_shutdown_does_not_block() {
    let receiver = Receiver::start_with(Mode::Hang).unwrap();
    let provider = provider_for(&receiver, &[]);
    emit(&provider, "dropped");
    let started = Instant::now();
    drop(provider);
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "drop took {:?}",
        started.elapsed()
    );
}

#[test]
fn https_export_with_the_test_ca_from_otel_exporter_otlp_certificate_arrives() {
    let ca = TestCa::new();
    let receiver = Receiver::start_tls(&ca).unwrap();
    assert!(receiver.url("/").starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.ca_pem()).unwrap();

    let provider = telemetry_otlp::build(
        &tls_config(&receiver, Some(&ca_file)),
        SERVICE,
        Profile::OneShot,
    )
    .expect("provider builds");
    emit(&provider, "over tls");
    provider
        .shutdown(Duration::from_secs(15))
        .expect("both signals delivered over https");

    let logs = receiver.wait_for_logs(1, Duration::from_secs(10));
    assert_eq!(logs[0].body_str(), Some("over tls"));
    let points = receiver.wait_for_metric("test.events.total", Duration::from_secs(10));
    assert_eq!(points.last().and_then(|p| p.as_f64()), Some(1.0));
}

#[test]
fn https_export_without_the_test_ca_fails_verification_and_delivers_nothing() {
    let ca = TestCa::new();
    let receiver = Receiver::start_tls(&ca).unwrap();
    let provider = telemetry_otlp::build(&tls_config(&receiver, None), SERVICE, Profile::OneShot)
        .expect("provider builds");
    emit(&provider, "must not arrive");
    let result = provider.shutdown(Duration::from_secs(15));
    assert!(result.is_err(), "an untrusted server must fail the export");
    assert!(receiver.logs().is_empty() && receiver.metrics().is_empty());
}

#[test]
fn an_unreadable_or_empty_certificate_file_is_an_init_error() {
    let receiver = Receiver::start_tls(&TestCa::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    for path in [&missing, &empty] {
        let err = telemetry_otlp::build(
            &tls_config(&receiver, Some(path)),
            SERVICE,
            Profile::OneShot,
        )
        .expect_err("refused");
        assert!(matches!(err, InitError::Certificate { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("OTEL_EXPORTER_OTLP_CERTIFICATE="),
            "{err}"
        );
    }
}

#[test]
fn log_records_the_batch_queue_drops_are_counted_as_dropped_for_reason_queue() {
    // The backend never answers: the first batch (512 records) blocks the exporter, the queue
    // (2,048) fills, the rest is dropped by the SDK, and what is queued at the shutdown bound
    // never leaves. No spool state directory: nothing else can take them.
    let receiver = Receiver::start_with(Mode::Hang).unwrap();
    let provider = provider_for(&receiver, &[]);
    let logger = provider.logger();
    for _ in 0..3_000 {
        let mut record = logger.create_log_record();
        record.set_body(AnyValue::from("burst"));
        logger.emit(record);
    }
    let _ = provider.shutdown(Duration::from_millis(500));
    let queue: u64 = telemetry_core::health::observe_dropped()
        .into_iter()
        .filter(|((signal, reason), _)| *signal == "logs" && *reason == "queue")
        .map(|(_, n)| n)
        .sum();
    // At least what could not even enter the queue; at most what was emitted (plus the record
    // another test of this binary may have left in a hanging queue).
    assert!((3_000 - 512 - 2_048..=3_010).contains(&queue), "{queue}");
}
