//! bd through the bounded runner: `gt prime` is bounded by `GT_BD_TIMEOUT_MS` whatever bd
//! does, and `gt bd -- ARGS` is transparent (stdin, streamed output, exit code, signals).
//!
//! Bounds are asserted with a generous margin (the documented figure is the timeout + 0.5 s
//! per bd call; the margin keeps a loaded CI machine from flaking).

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use otlp_capture::{Receiver, Value};
use support::{FakeBd, gt};

const TOAST: &str = "gastown/polecats/Toast";
const MARGIN: Duration = Duration::from_secs(3);
const WAIT: Duration = Duration::from_secs(20);

/// `gt prime --no-retry --json` against `bd` with a 1 s bd timeout: (elapsed, json, stderr).
fn prime_with_bd(bd: &FakeBd) -> (Duration, serde_json::Value, String) {
    let started = Instant::now();
    let out = gt()
        .args(["prime", "--no-retry", "--json"])
        .env("GT_ROLE", TOAST)
        .env("GT_BD_BIN", bd.path())
        .env("GT_BD_TIMEOUT_MS", "1000")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(out.status.success(), "{out:?}");
    let json = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    (
        took,
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prime_is_not_stalled_by_a_bd_whose_child_holds_its_output_pipe() {
    // bd answers at once but leaves a background child holding stdout (as a bd that starts a
    // daemon does): the answer is used, the child is not waited for.
    let bd = FakeBd::new("sleep 20 & echo '[]'");
    let (took, json, stderr) = prime_with_bd(&bd);
    eprintln!("pipe-holding bd: gt prime took {took:?}");
    assert_eq!(bd.calls().len(), 2, "hooked, then in_progress");
    assert_eq!(json["status"], "ok", "{stderr}");
    assert!(
        took < 2 * Duration::from_millis(1500) + MARGIN,
        "took {took:?}"
    );
}

#[test]
fn prime_is_bounded_by_the_timeout_with_a_hanging_bd_and_an_escaped_daemon() {
    // bd hangs and its daemon (own session, out of bd's process group) holds the pipes.
    let bd = FakeBd::new("setsid sleep 20 & echo partial; sleep 20");
    let (took, json, stderr) = prime_with_bd(&bd);
    eprintln!("hanging bd + daemon: gt prime took {took:?}");
    assert!(stderr.contains("did not answer within 1s"), "{stderr}");
    assert_eq!(json["status"], "error");
    assert_eq!(bd.calls().len(), 1, "a failure is not retried");
    assert!(took < Duration::from_millis(1500) + MARGIN, "took {took:?}");
}

#[test]
fn prime_is_bounded_by_the_timeout_with_a_hanging_bd() {
    let bd = FakeBd::new("sleep 20");
    let (took, json, stderr) = prime_with_bd(&bd);
    assert!(stderr.contains("did not answer"), "{stderr}");
    assert_eq!(json["status"], "error");
    assert!(took < Duration::from_millis(1500) + MARGIN, "took {took:?}");
}

/// Waits for `child` with a deadline (killing it past the deadline).
fn wait_with_deadline(child: &mut Child, deadline: Duration) -> ExitStatus {
    let until = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("gt did not exit within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lines of `child`'s stdout as they arrive.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn gt_bd_passes_stdin_through_and_propagates_the_exit_code() {
    let bd = FakeBd::new("cat; exit 3");
    let mut child = gt()
        .args(["bd", "--", "create", "--body-file", "-"])
        .env("GT_BD_BIN", bd.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"x\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.stdout, b"x\n");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn gt_bd_propagates_death_by_signal_as_128_plus_n() {
    let bd = FakeBd::new("kill -9 $$");
    let out = gt()
        .args(["bd", "--", "ready"])
        .env("GT_BD_BIN", bd.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137));
}

/// bd prints a line, then waits for the test to create `go`: the test can only create it
/// after it saw the line, so seeing it proves the output was streamed before bd exited.
fn assert_output_streams_before_bd_exits(receiver: Option<&Receiver>) {
    let bd = FakeBd::new(
        "echo first; while [ ! -e \"$LOG.go\" ]; do sleep 0.02; done; echo second; exit 4",
    );
    let go = bd.dir.path().join("calls.log.go");
    let mut cmd = gt();
    cmd.args(["bd", "--", "ready"])
        .env("GT_BD_BIN", bd.path())
        .stdout(Stdio::piped());
    if let Some(receiver) = receiver {
        cmd.env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
            .env("GT_LOG_BD_OUTPUT", "true");
    }
    let mut child = cmd.spawn().unwrap();
    let lines = stdout_lines(&mut child);
    assert_eq!(lines.recv_timeout(WAIT).expect("the first line"), "first");
    std::fs::write(&go, "").unwrap();
    assert_eq!(lines.recv_timeout(WAIT).expect("the second line"), "second");
    assert_eq!(wait_with_deadline(&mut child, WAIT).code(), Some(4));
    if let Some(receiver) = receiver {
        let logs = receiver.wait_for_logs(1, WAIT);
        let call = logs
            .iter()
            .find(|r| r.body_str() == Some("bd.call"))
            .expect("bd.call");
        assert_eq!(call.str_attr("stdout"), Some("first\nsecond\n"));
    }
}

#[test]
fn gt_bd_output_reaches_the_caller_before_bd_exits() {
    assert_output_streams_before_bd_exits(None);
}

#[test]
fn gt_bd_output_is_streamed_and_captured_when_bd_output_is_logged() {
    let receiver = Receiver::start().unwrap();
    assert_output_streams_before_bd_exits(Some(&receiver));
}

#[test]
fn gt_bd_forwards_sigterm_to_bd() {
    let bd = FakeBd::new(
        "trap 'echo got-term > \"$LOG.term\"; exit 7' TERM; echo ready; \
         while :; do sleep 0.02; done",
    );
    let mut child = gt()
        .args(["bd", "--", "sync"])
        .env("GT_BD_BIN", bd.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stdout_lines(&mut child);
    assert_eq!(lines.recv_timeout(WAIT).expect("bd started"), "ready");
    // Only gt's own pid: bd can learn of it through gt alone.
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(wait_with_deadline(&mut child, WAIT).code(), Some(7));
    let marker = std::fs::read_to_string(bd.dir.path().join("calls.log.term")).unwrap();
    assert_eq!(marker.trim(), "got-term");
}

#[test]
fn gt_bd_applies_no_timeout_unless_gt_bd_timeout_ms_is_set() {
    let bd = FakeBd::new("sleep 2; echo done");
    let out = gt()
        .args(["bd", "--", "sync"])
        .env("GT_BD_BIN", bd.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"done\n");

    let started = Instant::now();
    let out = gt()
        .args(["bd", "--", "sync"])
        .env("GT_BD_BIN", bd.path())
        .env("GT_BD_TIMEOUT_MS", "300")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did not answer within 300ms"),
        "{out:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(800) + MARGIN);
}

#[test]
fn gt_bd_records_the_real_duration_and_redacts_secrets() {
    let bd = FakeBd::new("sleep 1");
    let receiver = Receiver::start().unwrap();
    let out = gt()
        .args([
            "bd",
            "--",
            "sync",
            "--token",
            "s3cret",
            "--password=hunter2",
        ])
        .env("GT_BD_BIN", bd.path())
        .env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        bd.calls(),
        ["sync --token s3cret --password=hunter2"],
        "bd itself gets the real values"
    );
    let logs = receiver.wait_for_logs(1, WAIT);
    let call = logs
        .iter()
        .find(|r| r.body_str() == Some("bd.call"))
        .expect("bd.call");
    assert_eq!(
        call.str_attr("args"),
        Some("sync --token [REDACTED] --password=[REDACTED]")
    );
    match call.attr("duration_ms") {
        Some(Value::Double(ms)) => assert!(*ms >= 1000.0, "{ms}"),
        other => panic!("duration_ms: {other:?}"),
    }
}
