//! Process-wide init is idempotent, and a malformed URL is a typed error, not a panic.
//! (Its own test binary: the global provider is set once per process.)

use std::time::Duration;

use otlp_capture::Receiver;
use telemetry_core::{Config, InitError, Profile, Service};

const SERVICE: Service<'static> = Service {
    name: "gastown",
    version: "0",
};

#[test]
fn malformed_url_is_an_init_error() {
    let err =
        Config::from_lookup(|k| (k == "GT_OTEL_METRICS_URL").then(|| "localhost:8428".into()))
            .unwrap_err();
    assert!(matches!(err, InitError::InvalidUrl { .. }));
    assert!(
        err.to_string()
            .starts_with("GT_OTEL_METRICS_URL=\"localhost:8428\" is not a valid"),
        "{err}"
    );
}

#[test]
fn first_init_wins_and_later_calls_return_the_same_provider() {
    let receiver = Receiver::start().unwrap();
    let (m, l) = (receiver.url("/m"), receiver.url("/l"));
    let lookup = move |k: &str| match k {
        "GT_OTEL_METRICS_URL" => Some(m.clone()),
        "GT_OTEL_LOGS_URL" => Some(l.clone()),
        _ => None,
    };
    let first =
        telemetry_otlp::init_with(|| Config::from_lookup(lookup), SERVICE, Profile::OneShot)
            .unwrap()
            .expect("enabled");
    let second = telemetry_otlp::init("other", "1")
        .unwrap()
        .expect("same provider");
    assert_eq!(first.instance_id(), second.instance_id());
    assert!(telemetry_core::is_active());
    assert!(telemetry_core::meter().is_some() && telemetry_core::logger().is_some());
    telemetry_core::meter()
        .unwrap()
        .u64_counter("global.total")
        .build()
        .add(1, &[]);
    second.shutdown(Duration::from_secs(5)).unwrap();
    first.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(
        receiver
            .wait_for_metric("global.total", Duration::from_secs(10))
            .iter()
            .filter(|p| !p.is_start_point())
            .count(),
        1
    );
}
