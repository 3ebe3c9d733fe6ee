//! With both URLs unset, process-wide init is inert: no provider, no exporter thread.
//! (Its own test binary: the global provider is set once per process.)

use telemetry_core::{Config, Profile, Service};

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}

#[test]
fn disabled_when_both_urls_unset_and_no_thread_is_started() {
    let before = thread_count();
    let result = telemetry_otlp::init_with(
        || Config::from_lookup(|_| None),
        Service {
            name: "gastown",
            version: "0",
        },
        Profile::OneShot,
    );
    assert!(matches!(result, Ok(None)));
    assert!(!telemetry_core::is_active());
    assert!(telemetry_core::meter().is_none() && telemetry_core::logger().is_none());
    // A later call with URLs does not change the first decision.
    let later = telemetry_otlp::init_with(
        || {
            Config::from_lookup(|k| {
                (k == "GT_OTEL_LOGS_URL").then(|| "http://127.0.0.1:9/l".into())
            })
        },
        Service {
            name: "gastown",
            version: "0",
        },
        Profile::OneShot,
    );
    assert!(matches!(later, Ok(None)));
    assert_eq!(thread_count(), before, "no exporter thread");
}
