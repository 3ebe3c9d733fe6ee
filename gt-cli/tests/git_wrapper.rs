//! `gt git -- ARGS` is transparent (stdin, stdout, exit code) and records `git.operation` at a
//! real OTLP receiver; `GitCommandExt` records a Rust caller's git call the same way.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use otlp_capture::{PointValue, Receiver, Value};
use support::gt;

fn git_repo() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("gastown-rig")
        .tempdir()
        .unwrap();
    let ok = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::write(dir.path().join("new.txt"), "x").unwrap();
    dir
}

fn recorded(receiver: &Receiver, repo: &std::path::Path) -> Command {
    let mut cmd = gt();
    cmd.env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
        .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics"))
        .current_dir(repo);
    cmd
}

fn basename(dir: &std::path::Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn gt_git_status_is_transparent_and_recorded() {
    let repo = git_repo();
    let receiver = Receiver::start().unwrap();
    let direct = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    let wrapped = recorded(&receiver, repo.path())
        .args(["git", "--", "status", "--porcelain"])
        .output()
        .unwrap();
    assert_eq!(wrapped.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&wrapped.stdout),
        String::from_utf8_lossy(&direct.stdout)
    );
    assert!(String::from_utf8_lossy(&wrapped.stdout).contains("?? new.txt"));

    let logs = receiver.wait_for_logs(1, Duration::from_secs(20));
    let rec = logs
        .iter()
        .find(|r| r.body_str() == Some("git.operation"))
        .expect("git.operation record");
    assert_eq!(rec.str_attr("op"), Some("status"));
    assert_eq!(rec.str_attr("repo"), Some(basename(repo.path()).as_str()));
    assert_eq!(rec.str_attr("status"), Some("ok"));
    assert!(matches!(rec.attr("duration_ms"), Some(Value::Double(ms)) if *ms > 0.0));
    let hist = receiver.wait_for_metric("gastown.git.duration_ms", Duration::from_secs(20));
    assert!(
        hist.iter()
            .any(|p| p.attr("op").and_then(Value::as_str) == Some("status")
                && matches!(p.value, PointValue::Histogram { count: 1, .. })),
        "{hist:?}"
    );
}

#[test]
fn gt_git_passes_stdin_and_the_exit_code_through_and_records_failure() {
    let repo = git_repo();
    let receiver = Receiver::start().unwrap();
    let mut child = recorded(&receiver, repo.path())
        .args(["git", "--", "hash-object", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ce013625030ba8dba906f756967f9e9ca394464a"
    );

    let failed = recorded(&receiver, repo.path())
        .args(["git", "--", "rev-parse", "--verify", "-q", "no-such-ref"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let logs = receiver.wait_for_logs(2, Duration::from_secs(20));
    let failure = logs
        .iter()
        .find(|r| r.str_attr("op") == Some("rev-parse"))
        .expect("rev-parse recorded");
    assert_eq!(failure.str_attr("status"), Some("error"));
    assert!(
        failure
            .str_attr("error")
            .unwrap()
            .contains("exit status: 1"),
        "{failure:?}"
    );
}

#[test]
fn gt_git_without_telemetry_records_nothing_and_still_works() {
    let repo = git_repo();
    let out = gt()
        .current_dir(repo.path())
        .args(["git", "--", "-C", ".", "status", "--short"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("new.txt"));
}
