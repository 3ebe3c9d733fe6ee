//! The spool on its own: the size cap drops the oldest files and counts them, shipping stops
//! before a request could end past its deadline, shippers exclude each other, and a file that
//! holds no request is removed rather than retried forever; providers spool (one-shot) and
//! ship (both profiles) through it.

use std::fs;
use std::time::{Duration, Instant};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _};
use otlp_capture::{Mode, Receiver};
use telemetry_core::{Config, Profile, Provider, Service};
use telemetry_otlp::Transport;
use telemetry_otlp::otlp_json::Signal;
use telemetry_otlp::spool::{Dropped, Spool, Target};

/// A logs request of `records` records whose bodies start with `marker`, padded to ~1 KB.
fn line(marker: &str, records: usize) -> String {
    let record = format!(
        r#"{{"timeUnixNano":"1","body":{{"stringValue":"{marker} {}"}}}}"#,
        "x".repeat(400)
    );
    let records = vec![record; records].join(",");
    format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{records}]}}]}}]}}"#)
}

fn target(receiver: &Receiver, timeout: Duration) -> Target {
    let url = receiver.url("/v1/logs");
    let config = Config::from_lookup(|k| (k == "GT_OTEL_LOGS_URL").then(|| url.clone())).unwrap();
    Target::for_url(&url, &Transport::new(&config, timeout).unwrap(), &[])
}

#[test]
fn a_spool_at_its_cap_drops_the_oldest_files_and_counts_them() {
    let state = tempfile::tempdir().unwrap();
    let one = line("m0", 2).len() as u64 + 1;
    let spool = Spool::in_state_dir(state.path(), 2 * one + one / 2);
    let mut dropped = Dropped::default();
    for i in 0..10 {
        let kept = spool
            .keep(Signal::Logs, &line(&format!("m{i}"), 2), 2)
            .unwrap();
        dropped.files += kept.dropped.files;
        dropped.records += kept.dropped.records;
    }
    assert_eq!(
        dropped,
        Dropped {
            files: 8,
            records: 16
        }
    );
    let status = spool.status().unwrap();
    assert_eq!(status.waiting[&Signal::Logs].files, 2);
    assert_eq!(
        status.dropped[&Signal::Logs],
        Dropped {
            files: 8,
            records: 16
        }
    );
    let mut left: Vec<String> = fs::read_dir(spool.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    left.sort();
    assert!(
        left[0].contains("\"m8 ") && left[1].contains("\"m9 "),
        "the newest stay"
    );
}

#[test]
fn shipping_starts_no_request_that_could_end_past_the_deadline() {
    let state = tempfile::tempdir().unwrap();
    let spool = Spool::in_state_dir(state.path(), u64::MAX);
    spool.keep(Signal::Logs, &line("a", 1), 1).unwrap();
    let receiver = Receiver::start_with(Mode::Hang).unwrap();
    let target = target(&receiver, Duration::from_secs(30));
    let report = spool.ship(
        &|_| Some(target.clone()),
        Some(Instant::now() + Duration::from_secs(5)),
    );
    assert_eq!((report.files, report.left), (0, 1), "{report:?}");
    assert!(receiver.requests().is_empty(), "no request was started");
}

#[test]
fn a_failed_delivery_stops_shipping_and_keeps_the_file() {
    let state = tempfile::tempdir().unwrap();
    let spool = Spool::in_state_dir(state.path(), u64::MAX);
    for i in 0..3 {
        spool
            .keep(Signal::Logs, &line(&format!("f{i}"), 1), 1)
            .unwrap();
    }
    let receiver = Receiver::start_with(Mode::Status(503)).unwrap();
    let target = target(&receiver, Duration::from_secs(5));
    let report = spool.ship(&|_| Some(target.clone()), None);
    assert_eq!((report.files, report.left), (0, 3), "{report:?}");
    assert!(report.error.unwrap().contains("503"));
    assert_eq!(receiver.requests().len(), 1, "stopped at the first failure");
    receiver.set_mode(Mode::Accept);
    let report = spool.ship(&|_| Some(target.clone()), None);
    assert_eq!((report.files, report.records, report.left), (3, 3, 0));
    assert_eq!(receiver.logs().len(), 1 + 3);
}

#[test]
fn a_second_shipper_finds_the_lock_held_and_ships_nothing() {
    let state = tempfile::tempdir().unwrap();
    let spool = Spool::in_state_dir(state.path(), u64::MAX);
    spool.keep(Signal::Logs, &line("b", 1), 1).unwrap();
    let held = fs::File::create(spool.dir().join(".ship-logs.lock")).unwrap();
    held.lock().unwrap();
    let receiver = Receiver::start().unwrap();
    let target = target(&receiver, Duration::from_secs(5));
    let report = spool.ship(&|_| Some(target.clone()), None);
    assert!(report.busy, "{report:?}");
    assert!(receiver.requests().is_empty());
    held.unlock().unwrap();
    assert_eq!(spool.ship(&|_| Some(target.clone()), None).files, 1);
}

#[test]
fn a_file_that_holds_no_request_is_removed_not_retried() {
    let state = tempfile::tempdir().unwrap();
    let spool = Spool::in_state_dir(state.path(), u64::MAX);
    spool.keep(Signal::Logs, &line("c", 1), 1).unwrap();
    fs::write(
        spool.dir().join("logs-1-1-1-n1.jsonl"),
        "{\"resourceLogs\": [tor",
    )
    .unwrap();
    let receiver = Receiver::start().unwrap();
    let target = target(&receiver, Duration::from_secs(5));
    let report = spool.ship(&|_| Some(target.clone()), None);
    assert_eq!(
        (report.files, report.unreadable, report.left),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(spool.status().unwrap().waiting.get(&Signal::Logs), None);
}

fn provider(receiver: &Receiver, state: &std::path::Path, profile: Profile) -> Provider {
    let (logs, metrics) = (receiver.url("/v1/logs"), receiver.url("/v1/metrics"));
    let state = state.to_string_lossy().into_owned();
    let config = Config::from_lookup(|k| match k {
        "GT_OTEL_LOGS_URL" => Some(logs.clone()),
        "GT_OTEL_METRICS_URL" => Some(metrics.clone()),
        "GT_STATE_DIR" => Some(state.clone()),
        _ => None,
    })
    .unwrap();
    let service = Service {
        name: "gastown-test",
        version: "9.9.9",
    };
    telemetry_otlp::build(&config, service, profile).unwrap()
}

fn emit(provider: &Provider, body: &'static str) {
    let logger = provider.logger();
    let mut record = logger.create_log_record();
    record.set_body(AnyValue::from(body));
    logger.emit(record);
}

#[test]
fn a_one_shot_provider_spools_a_failed_batch_and_the_next_one_ships_it() {
    let state = tempfile::tempdir().unwrap();
    let receiver = Receiver::start_with(Mode::Status(500)).unwrap();
    let first = provider(&receiver, state.path(), Profile::OneShot);
    emit(&first, "during the outage");
    let _ = first.shutdown(Duration::from_secs(5));
    let spool = Spool::in_state_dir(state.path(), u64::MAX);
    assert_eq!(spool.status().unwrap().waiting[&Signal::Logs].records, 1);

    receiver.set_mode(Mode::Accept);
    let before = receiver.logs().len();
    let second = provider(&receiver, state.path(), Profile::OneShot);
    emit(&second, "after it");
    second.shutdown(Duration::from_secs(5)).unwrap();
    let mut bodies: Vec<String> = receiver.logs()[before..]
        .iter()
        .filter_map(|r| r.body_str().map(str::to_owned))
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["after it", "during the outage"]);
    assert_eq!(spool.status().unwrap().waiting.get(&Signal::Logs), None);
}

#[test]
fn a_long_running_provider_ships_after_a_successful_export_and_spools_nothing_itself() {
    let state = tempfile::tempdir().unwrap();
    let spool = Spool::in_state_dir(state.path(), u64::MAX);
    for i in 0..3 {
        spool
            .keep(Signal::Logs, &line(&format!("d{i}"), 1), 1)
            .unwrap();
    }
    let receiver = Receiver::start_with(Mode::Status(500)).unwrap();
    let daemon = provider(&receiver, state.path(), Profile::Daemon);
    emit(&daemon, "refused");
    let _ = daemon.force_flush(Duration::from_secs(30));
    assert_eq!(
        spool.status().unwrap().waiting[&Signal::Logs].files,
        3,
        "a daemon's failed batch is its caller's to send again"
    );
    receiver.set_mode(Mode::Accept);
    let before = receiver.logs().len();
    emit(&daemon, "accepted");
    daemon.force_flush(Duration::from_secs(30)).unwrap();
    let arrived = receiver
        .wait_until(Duration::from_secs(30), |rx| {
            Some(rx.logs().split_off(before)).filter(|l| l.len() >= 4)
        })
        .unwrap_or_default();
    assert_eq!(arrived.len(), 4, "its own record and the 3 spooled ones");
    assert_eq!(spool.status().unwrap().waiting.get(&Signal::Logs), None);
    let _ = daemon.shutdown(Duration::from_secs(5));
}
