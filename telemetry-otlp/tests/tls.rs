//! https endpoints: an export to a local TLS receiver whose test CA is given by
//! `OTEL_EXPORTER_OTLP_CERTIFICATE` arrives; without that CA the same export is refused by
//! certificate verification (the bundled public roots do not trust it); a bad certificate file
//! is a clear init error.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use otlp_capture::{Receiver, TestCa};
use telemetry_core::{Config, InitError, Profile, Provider, Service};

const SERVICE: Service<'static> = Service {
    name: "gastown-tls-test",
    version: "0",
};

fn config(receiver: &Receiver, certificate: Option<&std::path::Path>) -> Config {
    let mut vars = HashMap::from([
        (
            "GT_OTEL_METRICS_URL".to_owned(),
            receiver.url("/v1/metrics"),
        ),
        ("GT_OTEL_LOGS_URL".to_owned(), receiver.url("/v1/logs")),
        // Generous: the first TLS handshake builds the client configuration.
        ("OTEL_EXPORTER_OTLP_TIMEOUT".to_owned(), "10000".to_owned()),
    ]);
    if let Some(path) = certificate {
        vars.insert(
            "OTEL_EXPORTER_OTLP_CERTIFICATE".to_owned(),
            path.display().to_string(),
        );
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid config")
}

fn emit(provider: &Provider, body: &'static str) {
    provider
        .meter()
        .u64_counter("tls.events.total")
        .build()
        .add(3, &[]);
    let logger = provider.logger();
    let mut record = logger.create_log_record();
    record.set_body(AnyValue::from(body));
    record.set_severity_number(Severity::Info);
    logger.emit(record);
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
        &config(&receiver, Some(&ca_file)),
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
    let points = receiver.wait_for_metric("tls.events.total", Duration::from_secs(10));
    assert_eq!(points.last().and_then(|p| p.as_f64()), Some(3.0));
}

#[test]
fn https_export_without_the_test_ca_fails_verification_and_delivers_nothing() {
    let ca = TestCa::new();
    let receiver = Receiver::start_tls(&ca).unwrap();
    let provider = telemetry_otlp::build(&config(&receiver, None), SERVICE, Profile::OneShot)
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
        let err = telemetry_otlp::build(&config(&receiver, Some(path)), SERVICE, Profile::OneShot)
            .expect_err("refused");
        assert!(matches!(err, InitError::Certificate { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("OTEL_EXPORTER_OTLP_CERTIFICATE="),
            "{err}"
        );
    }
}
