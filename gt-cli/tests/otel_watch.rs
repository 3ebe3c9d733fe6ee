//! `gt otel watch` end to end: refinery queues sampled with a fake bd (the input under test),
//! and a real MariaDB (Debian's `mariadb-server`, private data dir on 127.0.0.1) checked until
//! it stops and comes back, with everything read back at a real OTLP receiver.

mod support;

#[path = "../../town-probes/tests/support/mariadb.rs"]
mod mariadb;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use otlp_capture::{LogRecord, Receiver, Value};
use support::gt;

const DEADLINE: Duration = Duration::from_secs(60);
const PASSWORD: &str = "watch-s3cret";

fn watch(receiver: &Receiver) -> Command {
    let mut cmd = gt();
    cmd.env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
        .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics"))
        .args(["otel", "watch"]);
    cmd
}

fn int(record: &LogRecord, key: &str) -> Option<i64> {
    match record.attr(key) {
        Some(Value::Int(v)) => Some(*v),
        _ => None,
    }
}

/// A fake bd: logs its directory and arguments, answers per rig directory.
fn fake_bd(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("bd");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
echo "$(basename "$PWD") $*" >> {log}
case "$(basename "$PWD")" in
  gastown) echo '[{{"id":"gt-1","status":"open","created_at":"2020-01-01T00:00:00Z"}},{{"id":"gt-2","status":"open","created_at":"2026-01-01T00:00:00Z"}},{{"id":"gt-3","status":"closed","created_at":"2019-01-01T00:00:00Z"}}]' ;;
  beads) echo '[]' ;;
  *) echo "Error: no beads database here" >&2; exit 1 ;;
esac
"#,
            log = dir.join("calls.log").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn refinery_queues_are_sampled_per_rig_with_the_go_refinery_query() {
    let tmp = tempfile::tempdir().unwrap();
    for rig in ["gastown", "beads", "broken"] {
        std::fs::create_dir(tmp.path().join(rig)).unwrap();
    }
    let bd = fake_bd(tmp.path());
    let receiver = Receiver::start().unwrap();
    let out = watch(&receiver)
        .env("GT_BD_BIN", &bd)
        .arg("--once")
        .arg("--rig")
        .arg(format!("gastown={}", tmp.path().join("gastown").display()))
        .arg("--rig")
        .arg(tmp.path().join("beads"))
        .env("GT_WATCH_RIGS", "ignored=/nowhere")
        .arg("--rig")
        .arg(tmp.path().join("broken"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: refinery queue of rig broken"),
        "{stderr}"
    );

    let calls = std::fs::read_to_string(tmp.path().join("calls.log")).unwrap();
    assert!(
        calls.contains("gastown list --json --status open --label gt:merge-request"),
        "{calls}"
    );
    assert!(!calls.contains("ignored"), "flags win over GT_WATCH_RIGS");

    let logs = receiver.wait_for_logs(2, DEADLINE);
    let sample = |rig: &str| {
        logs.iter()
            .find(|r| r.body_str() == Some("refinery.queue") && r.str_attr("rig") == Some(rig))
            .unwrap_or_else(|| panic!("no refinery.queue for {rig}: {logs:#?}"))
    };
    assert_eq!(int(sample("gastown"), "queue_depth"), Some(2));
    let six_years_ms = 6 * 365 * 24 * 3600 * 1000;
    assert!(int(sample("gastown"), "oldest_age_ms").unwrap() > six_years_ms);
    assert_eq!(int(sample("beads"), "queue_depth"), Some(0));
    assert_eq!(int(sample("beads"), "oldest_age_ms"), Some(0));
    let depth = receiver.wait_for_metric("gastown.refinery.queue_depth", DEADLINE);
    assert!(
        depth
            .iter()
            .any(|p| p.as_f64() == Some(2.0)
                && p.attr("rig").and_then(Value::as_str) == Some("gastown")),
        "{depth:?}"
    );
}

#[test]
fn nothing_to_watch_is_refused_with_a_clear_message() {
    let out = gt().args(["otel", "watch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to watch"));
}

fn poll<T>(what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn health(receiver: &Receiver, status: &str, after_ns: u64) -> Vec<LogRecord> {
    receiver
        .logs()
        .into_iter()
        .filter(|r| {
            r.body_str() == Some("dolt.health")
                && r.str_attr("status") == Some(status)
                && r.time_unix_nano > after_ns
        })
        .collect()
}

fn stop(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "gt otel watch ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn watch_reports_a_real_mariadb_and_survives_it_stopping_and_coming_back() {
    let Some(mut db) = mariadb::MariaDb::start() else {
        return;
    };
    let dsn = db.dsn_with_password(PASSWORD);
    let server = format!("127.0.0.1:{}", db.port());
    let receiver = Receiver::start().unwrap();
    let stderr_path = tempfile::NamedTempFile::new().unwrap();
    let mut child = watch(&receiver)
        .env("GT_WATCH_DOLT_DSN", &dsn)
        .env("GT_WATCH_INTERVAL_MS", "300")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr_path.path()).unwrap())
        .spawn()
        .unwrap();

    let first = poll("a healthy check", || {
        health(&receiver, "ok", 0).into_iter().next()
    });
    assert_eq!(first.str_attr("server"), Some(server.as_str()));
    assert!(matches!(first.attr("latency_ms"), Some(Value::Double(ms)) if *ms >= 0.0));
    let base = int(&first, "connections").expect("connections");
    assert!(int(&first, "max_connections").unwrap() > 0);

    let held: Vec<_> = (0..3).map(|_| db.root().unwrap()).collect();
    poll("connections to rise by 3", || {
        health(&receiver, "ok", first.time_unix_nano)
            .into_iter()
            .find(|r| int(r, "connections").unwrap_or(0) >= base + 3)
    });
    drop(held);

    db.stop();
    let down = poll("an unhealthy check", || {
        health(&receiver, "error", 0).into_iter().next()
    });
    assert!(!down.str_attr("error").unwrap().is_empty());
    assert!(
        child.try_wait().unwrap().is_none(),
        "watch survives the server stopping"
    );

    db.restart();
    poll("a healthy check after the restart", || {
        health(&receiver, "ok", down.time_unix_nano)
            .into_iter()
            .next()
    });

    let status = stop(&mut child);
    assert!(status.success(), "{status}");
    let stderr = std::fs::read_to_string(stderr_path.path()).unwrap();
    assert!(
        stderr.contains(&format!("warning: dolt {server} unhealthy")),
        "{stderr}"
    );
    assert!(stderr.contains("recovered"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    for record in receiver.logs() {
        assert!(!format!("{record:?}").contains(PASSWORD));
    }

    // The final flush after SIGTERM carries the gauges; the periodic exports before it
    // carried the unhealthy period.
    let healthy = receiver.wait_for_metric("gastown.dolt.healthy", DEADLINE);
    for value in [0.0, 1.0] {
        assert!(
            healthy.iter().any(|p| p.as_f64() == Some(value)),
            "healthy={value}: {healthy:?}"
        );
    }
    for name in [
        "gastown.dolt.connections",
        "gastown.dolt.max_connections",
        "gastown.dolt.query_latency_ms",
        "gastown.dolt.query_duration_ms",
        "process.memory.usage",
    ] {
        assert!(
            !receiver.wait_for_metric(name, DEADLINE).is_empty(),
            "{name}"
        );
    }
}
