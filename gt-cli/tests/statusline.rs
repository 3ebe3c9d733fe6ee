//! `gt statusline`: Claude Code's status-line command renders the documented status JSON and
//! hostile input as one non-empty line with exit code 0, shows the work bead from the ledger,
//! and (telemetry on) exports the context and quota gauges and one `agent.quota_threshold` per
//! crossing to a real OTLP receiver.

mod support;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use otlp_capture::{PointValue, Receiver, Value};
use support::gt;
use work_ledger::{Change, Ledger, Source};

const SAMPLE: &str = include_str!("fixtures/statusline/sample.json");

/// Runs `gt statusline` with `input` on stdin; returns (exit success, stdout, stderr).
fn statusline(mut cmd: Command, input: &[u8]) -> (bool, String, String) {
    cmd.arg("statusline")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("gt starts");
    let mut stdin = child.stdin.take().unwrap();
    // A write error (gt stopped reading at its bound) is not the test's concern.
    let _ = stdin.write_all(input);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_line(stdout: &str) -> &str {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stdout:?}");
    assert!(!lines[0].trim().is_empty(), "a blank line: {stdout:?}");
    lines[0]
}

#[test]
fn documented_sample_renders_model_context_quota_and_cost() {
    let (ok, stdout, stderr) = statusline(gt(), SAMPLE.as_bytes());
    assert!(ok, "{stderr}");
    let line = one_line(&stdout);
    assert_eq!(line, "Opus | ctx 43% | 5h 24% | 7d 41% | $1.23");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn quota_resets_show_as_a_countdown() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // A minute of slack either way: the countdown is computed when gt runs.
    let input = format!(
        r#"{{"model":{{"id":"m"}},"rate_limits":{{"five_hour":{{"used_percentage":80,"resets_at":{}}},
            "seven_day":{{"used_percentage":30,"resets_at":{}}}}}}}"#,
        now + 2 * 3600 + 10 * 60 + 30,
        now + 3 * 86400 + 4 * 3600 + 1800
    );
    let (ok, stdout, _) = statusline(gt(), input.as_bytes());
    assert!(ok);
    assert_eq!(one_line(&stdout), "m | 5h 80% (2h10m) | 7d 30% (3d4h)");
}

#[test]
fn context_is_computed_from_current_usage_when_no_percentage_is_given() {
    let input = br#"{"model":{"display_name":"Sonnet"},"context_window":{"context_window_size":200000,
        "current_usage":{"input_tokens":50000,"cache_creation_input_tokens":30000,"cache_read_input_tokens":20000}}}"#;
    let (ok, stdout, _) = statusline(gt(), input);
    assert!(ok);
    assert_eq!(one_line(&stdout), "Sonnet | ctx 50%");
}

#[test]
fn hostile_inputs_print_one_non_empty_line_and_exit_zero() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge = format!(
        r#"{{"model":{{"display_name":"Opus"}},"pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("empty", Vec::new(), Some("status unreadable")),
        ("truncated", br#"{"model":{"display_name":"Op"#.to_vec(), None),
        ("binary", vec![0xff, 0xfe, 0x00, 0x1b, b'\n'], None),
        ("array", b"[1,2,3]".to_vec(), None),
        ("null", b"null".to_vec(), None),
        ("deeply nested", deep.into_bytes(), None),
        ("over the input bound", huge.into_bytes(), None),
        (
            "wrong types keep the rest",
            br#"{"model":{"display_name":7},"cost":{"total_cost_usd":"0.5"},"context_window":{"used_percentage":"x"},
                "rate_limits":{"five_hour":{"used_percentage":-3},"seven_day":"full"}}"#
                .to_vec(),
            Some("$0.50"),
        ),
        (
            "control characters and newlines in names",
            "{\"model\":{\"display_name\":\"Op\\nus\\u001b[2J\\r\"}}".as_bytes().to_vec(),
            Some("Opus[2J"),
        ),
        (
            "absurd numbers",
            br#"{"model":{"id":"m"},"context_window":{"used_percentage":1e308},"cost":{"total_cost_usd":1e300},
                "rate_limits":{"five_hour":{"used_percentage":5,"resets_at":1e300}}}"#
                .to_vec(),
            Some("m | ctx 999% | 5h 5% | $1000000000.00"),
        ),
        ("no fields", b"{}".to_vec(), Some("gt: no status")),
    ];
    for (name, input, expected) in cases {
        let (ok, stdout, stderr) = statusline(gt(), &input);
        assert!(ok, "{name}: non-zero exit; {stderr}");
        let line = one_line(&stdout);
        assert!(
            !line.chars().any(char::is_control),
            "{name}: control character in {line:?}"
        );
        match expected {
            Some(expected) => assert!(line.contains(expected), "{name}: {line:?}"),
            None => assert_eq!(line, "status unreadable", "{name}"),
        }
    }
}

/// Makes `bead` the current work of `session` in the ledger under `state`.
fn append_bead(state: &Path, session: &str, bead: &str) {
    Ledger::new(state, session)
        .unwrap()
        .append(
            Change {
                role: "gastown/polecats/Toast".into(),
                run_id: String::new(),
                rig: "gastown".into(),
                bead: bead.into(),
                mol: String::new(),
            },
            Source::Flags,
        )
        .unwrap();
}

#[test]
fn work_bead_from_the_session_ledger_leads_the_line() {
    let state = support::state_dir();
    let session = "gt-gastown-Toast";
    append_bead(&state, session, "gt-42");
    let mut cmd = gt();
    cmd.env("GT_STATE_DIR", &state).env("GT_SESSION", session);
    let (ok, stdout, stderr) = statusline(cmd, SAMPLE.as_bytes());
    assert!(ok, "{stderr}");
    assert!(one_line(&stdout).starts_with("gt-42 | Opus | "), "{stdout}");
    // Malformed input still shows the work.
    let mut cmd = gt();
    cmd.env("GT_STATE_DIR", &state).env("GT_SESSION", session);
    let (_, stdout, _) = statusline(cmd, b"{oops");
    assert_eq!(one_line(&stdout), "gt-42 | status unreadable");
}

fn with_quota(five_hour: f64) -> Vec<u8> {
    format!(
        r#"{{"session_id":"cc-1","model":{{"id":"claude-opus-4-1","display_name":"Opus"}},
            "context_window":{{"used_percentage":12.5}},
            "rate_limits":{{"five_hour":{{"used_percentage":{five_hour},"resets_at":4102444800}},
                            "seven_day":{{"used_percentage":10}}}}}}"#
    )
    .into_bytes()
}

fn telemetry_on(receiver: &Receiver, state: &Path) -> Command {
    let mut cmd = gt();
    cmd.env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics"))
        .env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
        .env("GT_STATE_DIR", state)
        .env("GT_SESSION", "gt-gastown-Toast");
    cmd
}

#[test]
fn quota_gauges_export_and_each_threshold_fires_once_per_crossing() {
    let receiver = Receiver::start().unwrap();
    let state = support::state_dir();
    // 40 → 60 crosses 50; 70 crosses nothing; 85 crosses 80; 20 (a reset) nothing; 55 crosses
    // 50 again.
    for used in [40.0, 60.0, 70.0, 85.0, 20.0, 55.0] {
        let (ok, stdout, stderr) = statusline(telemetry_on(&receiver, &state), &with_quota(used));
        assert!(ok, "{stderr}");
        assert!(
            one_line(&stdout).contains(&format!("5h {used:.0}%")),
            "{stdout}"
        );
    }
    let logs = receiver.wait_for_logs(3, Duration::from_secs(20));
    let crossings: Vec<(String, String)> = logs
        .iter()
        .filter(|r| r.body_str() == Some("agent.quota_threshold"))
        .map(|r| {
            let s = |k| match r.attr(k) {
                Some(Value::Str(s)) => s.clone(),
                other => panic!("{k}: {other:?}"),
            };
            assert_eq!(s("session"), "gt-gastown-Toast");
            assert_eq!(s("model"), "claude-opus-4-1");
            assert_eq!(s("resets_at"), "2100-01-01T00:00:00Z");
            (s("window"), s("threshold"))
        })
        .collect();
    let expected = |t: &str| ("five_hour".to_owned(), t.to_owned());
    assert_eq!(
        crossings,
        vec![expected("50"), expected("80"), expected("50")]
    );
    // No record per update: only the crossings are logs.
    assert_eq!(logs.len(), 3, "{logs:?}");

    let quota =
        receiver.wait_for_metric("gastown.agent.quota_used_percent", Duration::from_secs(10));
    let last_five_hour = quota
        .iter()
        .rfind(|p| p.attr("window") == Some(&Value::Str("five_hour".into())))
        .expect("a five_hour quota point");
    assert_eq!(last_five_hour.value, PointValue::Double(55.0));
    assert_eq!(
        last_five_hour.attr("session"),
        Some(&Value::Str("gt-gastown-Toast".into()))
    );
    assert!(quota.iter().any(
        |p| p.attr("window") == Some(&Value::Str("seven_day".into()))
            && p.value == PointValue::Double(10.0)
    ));
    let context = receiver.wait_for_metric(
        "gastown.agent.context_used_percent",
        Duration::from_secs(10),
    );
    assert!(
        context.iter().any(|p| p.value == PointValue::Double(12.5)
            && p.attr("model") == Some(&Value::Str("claude-opus-4-1".into()))),
        "{context:?}"
    );
    let counted = receiver.wait_for_metric(
        "gastown.agent.quota_threshold_crossings.total",
        Duration::from_secs(10),
    );
    assert!(!counted.is_empty());
}

#[test]
fn a_dead_backend_still_prints_the_line_and_exits_zero() {
    let state = support::state_dir();
    let mut cmd = gt();
    cmd.env("GT_OTEL_METRICS_URL", "http://127.0.0.1:1/v1/metrics")
        .env("GT_OTEL_LOGS_URL", "http://127.0.0.1:1/v1/logs")
        .env("GT_STATE_DIR", &state);
    let (ok, stdout, _) = statusline(cmd, &with_quota(90.0));
    assert!(ok);
    assert!(
        one_line(&stdout).starts_with("Opus | ctx 13% | 5h 90% | 7d 10%"),
        "{stdout}"
    );
}

/// The process-level figure for docs/performance.md (never asserted): the mean wall time of
/// `gt statusline` on the documented sample with telemetry off, without a session and with a
/// session whose work ledger names a bead.
/// `cargo test --release -p gt-cli --test statusline -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test: run by hand for docs/performance.md"]
fn statusline_wall_time_with_telemetry_off() {
    let state = support::state_dir();
    append_bead(&state, "gt-gastown-Toast", "gt-42");
    let with_ledger = || {
        let mut cmd = gt();
        cmd.env("GT_STATE_DIR", &state)
            .env("GT_SESSION", "gt-gastown-Toast");
        cmd
    };
    let runs = 200;
    for (name, make) in [
        ("no session", &gt as &dyn Fn() -> Command),
        ("session with a ledger", &with_ledger),
    ] {
        for _ in 0..10 {
            statusline(make(), SAMPLE.as_bytes());
        }
        let started = Instant::now();
        for _ in 0..runs {
            let (ok, _, _) = statusline(make(), SAMPLE.as_bytes());
            assert!(ok);
        }
        let per_run = started.elapsed() / runs;
        println!("gt statusline, telemetry off, {name}: {per_run:?} wall per run over {runs} runs");
    }
}
