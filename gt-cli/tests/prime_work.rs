//! `gt prime` resolving work through a fake `bd` and injecting it into a real tmux server on a
//! private socket; telemetry checked at a real OTLP receiver.

mod support;

use std::time::Duration;

use otlp_capture::{LogRecord, Receiver, Value};
use support::{FakeBd, TmuxServer, gt, one_issue, run_ok};

const WAIT: Duration = Duration::from_secs(10);
const TOAST: &str = "gastown/polecats/Toast";

fn prime_json(cmd: &mut std::process::Command) -> (serde_json::Value, String) {
    let out = run_ok(cmd.arg("--json"));
    let json = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    (json, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn hooked_bead_and_molecule_are_injected_into_tmux_and_recorded() {
    let issue = one_issue(
        "gt-42",
        "Fix the rig",
        "priority: 1\nattached_molecule: mol-7\n",
    );
    let bd = FakeBd::new(&format!(
        "case \"$*\" in *status=hooked*) printf '%s' '{issue}';; *) echo '[]';; esac"
    ));
    let tmux = TmuxServer::start("toast");
    let receiver = Receiver::start().unwrap();
    let (json, stderr) = prime_json(
        gt().args(["prime", "--tmux-session", &tmux.session])
            .env("GT_ROLE", TOAST)
            .env("GT_BD_BIN", bd.path())
            .env("TMUX", tmux.tmux_env())
            .env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
            .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics")),
    );
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(json["work_bead"], "gt-42");
    assert_eq!(json["work_mol"], "mol-7");
    assert_eq!(json["work_rig"], "gastown");
    assert_eq!(tmux.get("GT_WORK_BEAD").as_deref(), Some("gt-42"));
    assert_eq!(tmux.get("GT_WORK_MOL").as_deref(), Some("mol-7"));
    assert_eq!(tmux.get("GT_WORK_RIG").as_deref(), Some("gastown"));
    assert_eq!(
        bd.calls(),
        vec![format!(
            "list --json --flat --status=hooked --assignee={TOAST} --limit=0"
        )]
    );

    let logs = receiver.wait_for_logs(2, WAIT);
    let bd_call = logs
        .iter()
        .find(|r| r.body_str() == Some("bd.call"))
        .expect("bd.call");
    assert_eq!(bd_call.str_attr("subcommand"), Some("list"));
    assert_eq!(bd_call.str_attr("status"), Some("ok"));
    assert!(matches!(bd_call.attr("duration_ms"), Some(Value::Double(d)) if *d > 0.0));
    let prime = logs
        .iter()
        .find(|r| r.body_str() == Some("prime"))
        .expect("prime");
    assert_eq!(prime.str_attr("work_bead"), Some("gt-42"));
    assert_eq!(prime.str_attr("work_mol"), Some("mol-7"));
    assert_eq!(prime.str_attr("work_rig"), Some("gastown"));
    assert_eq!(prime.str_attr("status"), Some("ok"));
}

#[test]
fn in_progress_is_asked_when_nothing_is_hooked_and_tmux_is_found_through_its_env() {
    let issue = one_issue("gt-9", "Later", "attached-molecule: mol-9");
    let bd = FakeBd::new(&format!(
        "case \"$*\" in *status=in_progress*) printf '%s' '{issue}';; *) echo 'No issues found.';; esac"
    ));
    let tmux = TmuxServer::start("auto");
    let (json, _) = prime_json(
        gt().args(["prime", "--role", "mayor"])
            .env("GT_BD_BIN", bd.path())
            .env("TMUX", tmux.tmux_env()),
    );
    assert_eq!(json["work_bead"], "gt-9");
    assert_eq!(json["work_mol"], "mol-9");
    assert_eq!(bd.calls().len(), 2);
    assert_eq!(tmux.get("GT_WORK_BEAD").as_deref(), Some("gt-9"));
}

#[test]
fn an_empty_answer_clears_stale_context_in_tmux_and_a_new_prime_overwrites_it() {
    let tmux = TmuxServer::start("stale");
    tmux.set("GT_WORK_BEAD", "old-bead");
    tmux.set("GT_WORK_MOL", "old-mol");
    let empty = FakeBd::new("echo 'No issues found.'");
    let (json, _) = prime_json(
        gt().args(["prime", "--no-retry", "--tmux-session", "stale"])
            .env("GT_ROLE", TOAST)
            .env("GT_WORK_BEAD", "old-bead")
            .env("GT_BD_BIN", empty.path())
            .env("TMUX", tmux.tmux_env()),
    );
    assert_eq!(json["work_bead"], "");
    assert_eq!(json["status"], "ok");
    assert_eq!(tmux.get("GT_WORK_BEAD"), None);
    assert_eq!(tmux.get("GT_WORK_MOL"), None);
    assert_eq!(empty.calls().len(), 2, "--no-retry: one try of each query");

    run_ok(
        gt().args([
            "prime",
            "--bead",
            "gt-1",
            "--mol",
            "m-1",
            "--tmux-session",
            "stale",
        ])
        .env("GT_ROLE", TOAST)
        .env("TMUX", tmux.tmux_env()),
    );
    assert_eq!(tmux.get("GT_WORK_BEAD").as_deref(), Some("gt-1"));
    run_ok(
        gt().args(["prime", "--bead", "gt-2", "--tmux-session", "stale"])
            .env("GT_ROLE", TOAST)
            .env("TMUX", tmux.tmux_env()),
    );
    assert_eq!(tmux.get("GT_WORK_BEAD").as_deref(), Some("gt-2"));
    assert_eq!(
        tmux.get("GT_WORK_MOL"),
        None,
        "the molecule of the previous bead does not leak"
    );
}

#[test]
fn hostile_values_reach_tmux_verbatim_and_nothing_is_executed() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let hostile = format!(
        "a b \"q\" 'x'; touch {} $(touch {}) `id` ünï 🚀",
        marker.display(),
        marker.display()
    );
    let tmux = TmuxServer::start("hostile");
    run_ok(
        gt().args([
            "prime",
            "--bead",
            &hostile,
            "--mol=--flag-like",
            "--work-rig",
            "r;ig",
            "--tmux-session",
            "hostile",
        ])
        .env("TMUX", tmux.tmux_env()),
    );
    assert_eq!(tmux.get("GT_WORK_BEAD").as_deref(), Some(hostile.as_str()));
    assert_eq!(tmux.get("GT_WORK_MOL").as_deref(), Some("--flag-like"));
    assert_eq!(tmux.get("GT_WORK_RIG").as_deref(), Some("r;ig"));
    assert!(!marker.exists(), "a value was executed by a shell");
}

#[test]
fn dry_run_changes_nothing() {
    let tmux = TmuxServer::start("dry");
    tmux.set("GT_WORK_BEAD", "keep");
    let (json, _) = prime_json(
        gt().args([
            "prime",
            "--bead",
            "new",
            "--dry-run",
            "--tmux-session",
            "dry",
        ])
        .env("TMUX", tmux.tmux_env()),
    );
    assert_eq!(json["work_bead"], "new");
    assert_eq!(json["dry_run"], true);
    assert_eq!(tmux.get("GT_WORK_BEAD").as_deref(), Some("keep"));
}

/// A failed query keeps the previous context, warns loudly, and records `prime` as an error.
fn assert_failed_query_keeps_context(
    script: &str,
    extra_env: &[(&str, &str)],
    expect_in_warning: &str,
    bd_call_status: &str,
) -> Vec<LogRecord> {
    let bd = FakeBd::new(script);
    let receiver = Receiver::start().unwrap();
    let mut cmd = gt();
    cmd.args(["prime"])
        .env("GT_ROLE", TOAST)
        .env("GT_WORK_RIG", "gastown")
        .env("GT_WORK_BEAD", "gt-prev")
        .env("GT_BD_BIN", bd.path())
        .env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
        .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics"));
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let (json, stderr) = prime_json(&mut cmd);
    assert!(
        stderr.contains("WARNING") && stderr.contains("work may still be assigned"),
        "{stderr}"
    );
    assert!(stderr.contains(expect_in_warning), "{stderr}");
    assert_eq!(json["work_bead"], "gt-prev", "the previous context is kept");
    assert_eq!(json["status"], "error");
    assert_eq!(bd.calls().len(), 1, "a failure is not retried");
    let logs = receiver.wait_for_logs(2, WAIT);
    let prime = logs
        .iter()
        .find(|r| r.body_str() == Some("prime"))
        .expect("prime");
    assert_eq!(prime.str_attr("status"), Some("error"));
    assert!(!prime.str_attr("error").unwrap_or_default().is_empty());
    assert_eq!(prime.str_attr("work_bead"), Some("gt-prev"));
    assert_eq!(
        (prime.severity_number, prime.severity_text.as_str()),
        (17, ""),
        "ERROR by number, severity text unset"
    );
    let call = logs
        .iter()
        .find(|r| r.body_str() == Some("bd.call"))
        .expect("bd.call");
    assert_eq!(call.str_attr("status"), Some(bd_call_status));
    logs
}

#[test]
fn garbage_from_bd_is_not_no_work() {
    // bd itself succeeded (bd.call ok); its answer is what prime cannot use.
    assert_failed_query_keeps_context("echo '{oops'", &[], "unreadable", "ok");
}

#[test]
fn bd_exiting_nonzero_is_not_no_work() {
    assert_failed_query_keeps_context(
        "echo 'Error: database locked' >&2; exit 1",
        &[],
        "database locked",
        "error",
    );
}

#[test]
fn a_slow_bd_is_stopped_at_its_bound() {
    assert_failed_query_keeps_context(
        "exec sleep 20",
        &[("GT_BD_TIMEOUT_MS", "300")],
        "did not answer",
        "error",
    );
}

#[test]
fn a_missing_bd_is_not_no_work() {
    let out = run_ok(
        gt().args(["prime", "--json"])
            .env("GT_ROLE", TOAST)
            .env("GT_BD_BIN", "/nonexistent/bd"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("work may still be assigned") && stderr.contains("/nonexistent/bd"),
        "{stderr}"
    );
}

#[test]
fn bd_runs_with_the_telemetry_environment() {
    let bd = FakeBd::new(
        "printf '%s\\n%s\\n%s\\n' \"$BD_OTEL_LOGS_URL\" \"$BD_OTEL_METRICS_URL\" \"$OTEL_RESOURCE_ATTRIBUTES\" > \"$LOG.env\"; echo '[]'",
    );
    let receiver = Receiver::start().unwrap();
    run_ok(
        gt().args(["prime", "--no-retry"])
            .env("GT_ROLE", TOAST)
            .env("GT_RUN", "run-7")
            .env("GT_BD_BIN", bd.path())
            .env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs")),
    );
    let seen = std::fs::read_to_string(bd.dir.path().join("calls.log.env")).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], receiver.url("/v1/logs"));
    assert_eq!(
        lines[1], "http://localhost:8428/opentelemetry/api/v1/push",
        "logs-only: the default metrics URL"
    );
    assert!(
        lines[2].contains("gt.role=gastown/polecats/Toast") && lines[2].contains("gt.run_id=run-7"),
        "{}",
        lines[2]
    );
}

/// The exported `prime` record's `error`, after checking that no exported attribute quotes
/// `secret` unless `bd_output` is on.
fn exported_prime_error(logs: &[LogRecord], secret: &str, bd_output: bool) -> String {
    if !bd_output {
        for record in logs {
            for (key, value) in &record.attributes {
                assert!(
                    !format!("{value:?}").contains(secret),
                    "{:?}.{key} exports bd's stdout: {value:?}",
                    record.body_str()
                );
            }
        }
    }
    let prime = logs.iter().find(|r| r.body_str() == Some("prime"));
    prime
        .and_then(|r| r.str_attr("error"))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn prime_error_does_not_export_bd_stdout_unless_bd_output_is_on() {
    let secret = "sk-live-hunter2";
    let error_of = |script: &str, warning: &str, bd_status: &str, bd_output: bool| {
        let env: &[(&str, &str)] = if bd_output {
            &[("GT_LOG_BD_OUTPUT", "true")]
        } else {
            &[]
        };
        let logs = assert_failed_query_keeps_context(script, env, warning, bd_status);
        exported_prime_error(&logs, secret, bd_output)
    };
    // bd "succeeds" with garbage on stdout: prime cannot read it.
    let garbage = format!("echo 'API_KEY={secret}'");
    let error = error_of(&garbage, "unreadable", "ok", false);
    assert!(
        error.contains("unreadable") && !error.contains(secret),
        "{error}"
    );
    // A JSON value of the wrong shape: serde's own message would quote it.
    let wrong_shape = format!("echo '\"{secret}\"'");
    let error = error_of(&wrong_shape, "unreadable", "ok", false);
    assert!(!error.contains(secret), "{error}");
    // bd prints to stdout, then fails.
    let failing = format!("echo '{secret}'; echo 'Error: database locked' >&2; exit 1");
    let error = error_of(&failing, "database locked", "error", false);
    assert!(
        error.contains("database locked") && !error.contains(secret),
        "{error}"
    );
    // The operator's switch lets the output through, as it does for bd.call's stdout.
    let error = error_of(&garbage, secret, "ok", true);
    assert!(error.contains(secret), "{error}");
}
