//! Once the process-wide provider is on, the free `record_*` functions record through it.
//! (Its own test binary: the global provider is set once per process.)

mod common;

use std::time::Duration;

use common::WAIT;
use otlp_capture::Receiver;
use telemetry_core::{Config, Profile, Service};
use telemetry_recorder::{WorkContext, set_work_context, with_run_id, work_context};

#[test]
fn free_functions_record_through_the_global_provider_with_the_work_context() {
    let rx = Receiver::start().unwrap();
    let (metrics, logs) = (rx.url("/v1/metrics"), rx.url("/v1/logs"));
    let provider = telemetry_otlp::init_with(
        || {
            Config::from_lookup(|k| match k {
                "GT_OTEL_METRICS_URL" => Some(metrics.clone()),
                "GT_OTEL_LOGS_URL" => Some(logs.clone()),
                _ => None,
            })
        },
        Service {
            name: "gastown-test",
            version: "0",
        },
        Profile::OneShot,
    )
    .expect("init")
    .expect("enabled");

    let ctx = WorkContext {
        rig: "gastown".into(),
        bead: "gt-7".into(),
        mol: "gt-mol-7".into(),
    };
    set_work_context(ctx.clone());
    assert_eq!(work_context(), ctx);
    with_run_id("run-global", || {
        telemetry_recorder::record_prime("mayor", false, Ok(()));
        telemetry_recorder::record_bd_call(&["ready"], Duration::from_millis(5), Ok(()), b"", b"");
    });
    provider
        .shutdown(Duration::from_secs(5))
        .expect("clean shutdown");

    let records = rx.wait_for_logs(2, WAIT);
    let prime = records
        .iter()
        .find(|r| r.body_str() == Some("prime"))
        .expect("prime arrived");
    assert_eq!(prime.str_attr("run.id"), Some("run-global"));
    assert_eq!(prime.str_attr("work_rig"), Some("gastown"));
    assert_eq!(prime.str_attr("work_bead"), Some("gt-7"));
    assert_eq!(prime.str_attr("work_mol"), Some("gt-mol-7"));
    assert!(records.iter().any(|r| r.body_str() == Some("bd.call")));
    assert!(!rx.wait_for_metric("gastown.prime.total", WAIT).is_empty());
}
