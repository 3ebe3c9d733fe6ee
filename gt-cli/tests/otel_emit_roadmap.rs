//! The roadmap instruments (refinery, scheduler, witness, deacon, crew, git, Dolt, pane reads)
//! reach a real OTLP receiver from a one-shot `gt otel emit`: every instrument each event names
//! arrives with its catalogued kind, and a gauge carries the value the process set last.

mod support;

use std::time::Duration;

use otlp_capture::{MetricKind, Receiver};
use support::{emit_all_attributes, gt, run_ok};
use telemetry_recorder::catalog::{InstrumentKind, catalog};

const ROADMAP: &[&str] = &[
    "pane.read",
    "refinery.dispatch",
    "refinery.queue",
    "scheduler.dispatch_cycle",
    "witness.patrol",
    "deacon.transition",
    "crew.cycle",
    "git.operation",
    "dolt.health",
];

fn emitting(receiver: &Receiver) -> std::process::Command {
    let mut cmd = gt();
    cmd.env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
        .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics"));
    cmd
}

#[test]
fn every_roadmap_instrument_arrives_from_gt_otel_emit_with_its_kind() {
    let receiver = Receiver::start().unwrap();
    for event in ROADMAP {
        let mut cmd = emitting(&receiver);
        emit_all_attributes(&mut cmd, event);
        run_ok(&mut cmd);
    }
    for event in ROADMAP {
        let spec = catalog().event(event).expect("catalogued");
        for name in spec.instruments {
            let inst = catalog().instrument(name).unwrap();
            let points = receiver.wait_for_metric(name, Duration::from_secs(20));
            assert!(!points.is_empty(), "{event}: nothing on {name}");
            let kind = match inst.kind {
                InstrumentKind::Counter => MetricKind::Sum,
                InstrumentKind::Histogram => MetricKind::Histogram,
                InstrumentKind::Gauge => MetricKind::Gauge,
            };
            assert!(
                points.iter().all(|p| p.kind == kind && p.unit == inst.unit),
                "{name}: {points:?}"
            );
        }
    }
}

#[test]
fn a_gauge_from_a_one_shot_emit_carries_the_value_set_and_failure_means_unhealthy() {
    let receiver = Receiver::start().unwrap();
    run_ok(emitting(&receiver).args([
        "otel",
        "emit",
        "refinery.queue",
        "--attr",
        "rig=gastown",
        "--attr",
        "queue_depth=12",
        "--attr",
        "oldest_age_ms=90000",
    ]));
    run_ok(emitting(&receiver).args([
        "otel",
        "emit",
        "dolt.health",
        "--attr",
        "server=db:3306",
        "--error",
        "connection refused",
    ]));
    let depth = receiver.wait_for_metric("gastown.refinery.queue_depth", Duration::from_secs(20));
    assert!(
        depth.iter().any(|p| p.as_f64() == Some(12.0)
            && p.attr("rig").and_then(|v| v.as_str()) == Some("gastown")),
        "{depth:?}"
    );
    let age = receiver.wait_for_metric(
        "gastown.refinery.oldest_item_age_ms",
        Duration::from_secs(20),
    );
    assert!(age.iter().any(|p| p.as_f64() == Some(90_000.0)), "{age:?}");
    let healthy = receiver.wait_for_metric("gastown.dolt.healthy", Duration::from_secs(20));
    assert!(
        healthy.iter().any(|p| p.as_f64() == Some(0.0)
            && p.attr("server").and_then(|v| v.as_str()) == Some("db:3306")),
        "{healthy:?}"
    );
    // Nothing measured, nothing reported: no connection gauge for a server never reached.
    assert!(
        receiver
            .metrics()
            .iter()
            .all(|p| p.name != "gastown.dolt.connections")
    );
}

#[test]
fn crew_cycle_refuses_an_unknown_phase() {
    let out = gt()
        .args([
            "otel",
            "emit",
            "crew.cycle",
            "--attr",
            "crew=max",
            "--attr",
            "phase=lunch",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("start, push, done, idle"));
}
