//! `gt otel doctor`, `gt bd` and `gt completions` as real processes.

mod support;

use std::time::{Duration, Instant};

use otlp_capture::{Mode, Receiver};
use support::{FakeBd, gt, run_ok};

fn doctor(url: &str) -> (bool, String, Duration) {
    let started = Instant::now();
    let out = gt()
        .args(["otel", "doctor", "--timeout-ms", "300"])
        .env("GT_OTEL_METRICS_URL", url)
        .env("GT_OTEL_LOGS_URL", url)
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20secret",
        )
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn doctor_reports_a_live_receiver_with_a_real_otlp_request() {
    let receiver = Receiver::start().unwrap();
    let (ok, stdout, _) = doctor(&receiver.url("/v1/probe"));
    assert!(ok, "{stdout}");
    assert_eq!(stdout.matches("reachable, HTTP 200").count(), 2, "{stdout}");
    assert!(
        stdout.contains("authorization (values hidden)") && !stdout.contains("secret"),
        "{stdout}"
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/v1/probe" && r.content_type == "application/x-protobuf")
    );
    assert_eq!(requests[0].header("authorization"), Some("Bearer secret"));
}

#[test]
fn doctor_fails_on_a_refused_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (ok, stdout, _) = doctor(&format!("http://127.0.0.1:{port}/v1/logs"));
    assert!(!ok);
    assert_eq!(stdout.matches("UNREACHABLE").count(), 2, "{stdout}");
}

#[test]
fn doctor_is_bounded_on_a_hanging_endpoint() {
    let receiver = Receiver::start_with(Mode::Hang).unwrap();
    let (ok, stdout, took) = doctor(&receiver.url("/v1/hang"));
    assert!(!ok);
    assert!(stdout.contains("no answer within 300 ms"), "{stdout}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn doctor_reports_500_as_unhealthy_and_off_as_off() {
    let receiver = Receiver::start_with(Mode::Status(500)).unwrap();
    let (ok, stdout, _) = doctor(&receiver.url("/v1/x"));
    assert!(!ok && stdout.contains("UNHEALTHY, HTTP 500"), "{stdout}");
    let out = run_ok(gt().args(["otel", "doctor"]));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("telemetry: off"));
}

#[test]
fn gt_bd_forwards_output_and_exit_code_and_records_the_call() {
    let bd = FakeBd::new("echo \"out:$*\"; echo 'err line' >&2; exit 3");
    let receiver = Receiver::start().unwrap();
    let out = gt()
        .args(["bd", "--", "show", "gt-1", "--json"])
        .env("GT_BD_BIN", bd.path())
        .env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
        .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "out:show gt-1 --json\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("err line"));
    let logs = receiver.wait_for_logs(1, Duration::from_secs(10));
    let call = logs
        .iter()
        .find(|r| r.body_str() == Some("bd.call"))
        .expect("bd.call");
    assert_eq!(call.str_attr("subcommand"), Some("show"));
    assert_eq!(call.str_attr("args"), Some("show gt-1 --json"));
    assert_eq!(call.str_attr("status"), Some("error"));
    assert!(
        call.attr("stdout").is_none(),
        "bd output is gated by GT_LOG_BD_OUTPUT"
    );
}

#[test]
fn completions_are_generated() {
    let out = run_ok(gt().args(["completions", "bash"]));
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("prime") && script.contains("doctor"));
}

#[test]
fn credentials_in_urls_are_redacted_in_doctor_and_in_export_warnings() {
    let receiver = Receiver::start_with(Mode::Status(500)).unwrap();
    // Credentials as user-info and as a query value, on a live (500) and a refused endpoint.
    let with_secrets =
        |url: String| url.replacen("http://", "http://agent:hunter2@", 1) + "?token=s3cr3t-token";
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = with_secrets(format!("http://127.0.0.1:{port}/v1/logs"));
    let live = with_secrets(receiver.url("/v1/metrics"));
    let doctor = gt()
        .args(["otel", "doctor", "--timeout-ms", "500"])
        .env("GT_OTEL_METRICS_URL", &live)
        .env("GT_OTEL_LOGS_URL", &refused)
        .output()
        .unwrap();
    let prime = gt()
        .args(["prime", "--no-bd"])
        .env("GT_ROLE", "mayor")
        .env("GT_OTEL_METRICS_URL", &live)
        .env("GT_OTEL_LOGS_URL", &refused)
        .output()
        .unwrap();
    for (what, out) in [("doctor", &doctor), ("prime", &prime)] {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains("hunter2") && !text.contains("s3cr3t-token"),
            "{what} printed a credential: {text}"
        );
        assert!(text.contains("REDACTED@127.0.0.1"), "{what}: {text}");
    }
    // The malformed-URL warning redacts too.
    let bad = gt()
        .args(["prime", "--no-bd"])
        .env(
            "GT_OTEL_LOGS_URL",
            "http://agent:hunter2@:99999/x?token=s3cr3t-token",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("REDACTED"), "{stderr}");
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("s3cr3t"),
        "{stderr}"
    );
}

#[test]
fn doctor_names_the_directory_of_a_file_url_and_whether_it_is_writable() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/", dir.path().display());
    let (ok, stdout, _) = doctor(&url);
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "logs: {url} (from GT_OTEL_LOGS_URL): writes OTLP JSON Lines files to {}",
            dir.path().display()
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("UNREACHABLE"), "{stdout}");
    let (ok, stdout, _) = doctor("file:///proc/no-such-dir/");
    assert!(!ok, "an unwritable directory is unhealthy: {stdout}");
    assert!(stdout.contains("NOT WRITABLE"), "{stdout}");
}
