//! `gt otel emit` round-trips every catalogued event to a real OTLP receiver, and refuses what
//! the catalogue does not allow with exit code 2.

mod support;

use std::time::Duration;

use otlp_capture::{Receiver, Value};
use support::{emit_all_attributes, gt, sample};
use telemetry_recorder::catalog::catalog;

#[test]
fn every_catalogued_event_round_trips_through_gt_otel_emit() {
    let receiver = Receiver::start().unwrap();
    for event in catalog().events {
        let mut cmd = gt();
        cmd.env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
            .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics"));
        emit_all_attributes(&mut cmd, event.name);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            event.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let logs = receiver.wait_for_logs(catalog().events.len(), Duration::from_secs(20));
    for event in catalog().events {
        let record = logs
            .iter()
            .find(|r| r.body_str() == Some(event.name))
            .unwrap_or_else(|| panic!("no {} record", event.name));
        for attr in event.attributes {
            let got = record.attr(attr.name);
            match attr.name {
                "status" => assert_eq!(got, Some(&Value::Str("error".into())), "{}", event.name),
                "error" => assert_eq!(got, Some(&Value::Str("boom".into())), "{}", event.name),
                _ => {
                    let (_, expected) = sample(event.name, attr.name, attr.kind);
                    if let Some(expected) = expected {
                        assert_eq!(got, Some(&expected), "{}.{}", event.name, attr.name);
                    } else {
                        assert!(got.is_some(), "{}.{} missing", event.name, attr.name);
                    }
                }
            }
        }
        if let Some(counter) = event.counter {
            assert!(
                !receiver
                    .wait_for_metric(counter, Duration::from_secs(5))
                    .is_empty(),
                "{counter}"
            );
        }
    }
}

#[test]
fn refused_requests_exit_2_with_a_clear_message() {
    for (args, needle) in [
        (vec!["no.such.event"], "unknown event"),
        (
            vec!["sling", "--attr", "colour=red"],
            "has no attribute \"colour\"",
        ),
        (
            vec!["mol.burn", "--attr", "children_closed=lots"],
            "is an int",
        ),
        (vec!["prime", "--attr", "hook_mode=maybe"], "is a bool"),
        (
            vec!["done", "--attr", "exit_type=WHENEVER"],
            "must be one of",
        ),
    ] {
        let out = gt().args(["otel", "emit"]).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}
