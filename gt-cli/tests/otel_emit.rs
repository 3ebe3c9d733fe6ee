//! `gt otel emit` round-trips every catalogued event to a real OTLP receiver, and refuses what
//! the catalogue does not allow with exit code 2.

mod support;

use std::time::Duration;

use otlp_capture::{Receiver, Value};
use support::{emit_all_attributes, gt, run_ok, sample};
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
        // Only the severity number, as the Go original: no `INFO` beside a backend's `Info`.
        let severity = if event.has_outcome() { 17 } else { 9 };
        assert_eq!(
            (record.severity_number, record.severity_text.as_str()),
            (severity, ""),
            "{}",
            event.name
        );
        for attr in event.attributes.iter().filter(|a| !a.on_record()) {
            let (_, expected) = sample(event.name, attr.name, attr.kind);
            let labelled = event.instruments.iter().any(|inst| {
                receiver
                    .wait_for_metric(inst, Duration::from_secs(5))
                    .iter()
                    .any(|p| p.attr(attr.name) == expected.as_ref())
            });
            assert!(labelled, "{}: no metric labelled {}", event.name, attr.name);
            assert!(
                record.attr(attr.name).is_none(),
                "{}.{}",
                event.name,
                attr.name
            );
        }
        for attr in event.attributes.iter().filter(|a| a.on_record()) {
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
        (vec!["sling", "--attr", "bead=gt-1"], "needs --attr target="),
        (
            vec![
                "agent.usage",
                "--attr",
                "session=s",
                "--attr",
                "model=m",
                "--attr",
                "role=polecat",
            ],
            "needs --attr agent_type=",
        ),
        (
            vec!["bead.create", "--attr", "bead_id=gt-1", "--error", "boom"],
            "has no status",
        ),
        (
            vec![
                "daemon.restart",
                "--attr",
                "agent_type=claude",
                "--status",
                "error",
            ],
            "has no status",
        ),
    ] {
        let out = gt().args(["otel", "emit"]).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn agent_usage_labels_its_token_metrics_with_rig_role_and_agent_type() {
    let receiver = Receiver::start().unwrap();
    run_ok(
        gt().args(["otel", "emit", "agent.usage"])
            .args(["--attr", "session=gt-gastown-Toast", "--attr", "model=opus"])
            .args(["--attr", "agent_type=claudecode", "--attr", "role=polecat"])
            .args(["--attr", "rig=gastown", "--attr", "input_tokens=120"])
            .args(["--attr", "output_tokens=30", "--attr", "cost_usd=0.25"])
            .env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
            .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics")),
    );
    let labels = [
        ("rig", "gastown"),
        ("role", "polecat"),
        ("agent_type", "claudecode"),
        ("model", "opus"),
    ];
    let has_labels = |p: &otlp_capture::MetricPoint| {
        labels
            .iter()
            .all(|(k, v)| p.attr(k) == Some(&Value::Str((*v).into())))
    };
    let tokens = receiver.wait_for_metric("gastown.token.usage", Duration::from_secs(20));
    for (kind, count) in [("input", 120.0), ("output", 30.0)] {
        let point = tokens
            .iter()
            .find(|p| p.attr("type") == Some(&Value::Str(kind.into())) && !p.is_start_point())
            .unwrap_or_else(|| panic!("no {kind} point: {tokens:#?}"));
        assert!(has_labels(point), "{kind}: {point:#?}");
        assert_eq!(point.as_f64(), Some(count), "{kind}");
    }
    let cost = receiver.wait_for_metric("gastown.token.cost_usd", Duration::from_secs(20));
    assert!(cost.iter().any(has_labels), "{cost:#?}");
    let events = receiver.wait_for_metric("gastown.agent.events.total", Duration::from_secs(20));
    assert!(
        events
            .iter()
            .any(|p| p.attr("role") == Some(&Value::Str("polecat".into()))),
        "{events:#?}"
    );
    // Labels only: the record keeps its catalogued shape.
    let logs = receiver.wait_for_logs(1, Duration::from_secs(20));
    let record = logs
        .iter()
        .find(|r| r.body_str() == Some("agent.usage"))
        .expect("agent.usage record");
    assert!(record.attr("rig").is_none() && record.attr("role").is_none());
}
