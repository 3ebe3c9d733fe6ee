//! Traces at the capture receiver: spans, their parent links across processes through the
//! `TRACEPARENT` carrier, the run id as the trace id, and log records inside spans.

mod support;

use std::time::Duration;

use otlp_capture::{Receiver, Span};
use support::{FakeBd, gt, run_ok};

const OUTER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const OUTER_SPAN: &str = "b7ad6b7169203331";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn span<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no {name} span in {spans:#?}"))
}

fn telemetry(cmd: &mut std::process::Command, rx: &Receiver) {
    cmd.env("GT_OTEL_METRICS_URL", rx.url("/v1/metrics"))
        .env("GT_OTEL_LOGS_URL", rx.url("/v1/logs"))
        .env("GT_OTEL_TRACES_URL", rx.url("/v1/traces"));
}

#[test]
fn gt_bd_then_a_bd_that_runs_gt_otel_emit_is_one_trace_under_the_outer_traceparent() {
    let rx = Receiver::start().unwrap();
    // bd itself runs `gt otel emit`: the third process of the chain.
    let bd = FakeBd::new(&format!(
        "'{}' otel emit sling --attr bead=gt-1 --attr target=gastown/polecats/Toast\necho '[]'",
        env!("CARGO_BIN_EXE_gt")
    ));
    let mut cmd = gt();
    telemetry(&mut cmd, &rx);
    cmd.args(["bd", "list"])
        .env("GT_BD_BIN", bd.path())
        .env("TRACEPARENT", format!("00-{OUTER_TRACE}-{OUTER_SPAN}-01"));
    run_ok(&mut cmd);

    let spans = rx
        .wait_until(Duration::from_secs(30), |rx| {
            let spans = rx.spans();
            (spans.len() >= 2).then_some(spans)
        })
        .unwrap_or_else(|| panic!("two spans expected, got {:#?}", rx.spans()));
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let bd_call = span(&spans, "bd.call");
    let sling = span(&spans, "sling");
    assert_eq!(hex(&bd_call.trace_id), OUTER_TRACE);
    assert_eq!(hex(&bd_call.parent_span_id), OUTER_SPAN);
    assert_eq!(hex(&sling.trace_id), OUTER_TRACE);
    assert_eq!(
        sling.parent_span_id, bd_call.span_id,
        "sling is bd.call's child"
    );
    assert_eq!(sling.attr("bead").and_then(|v| v.as_str()), Some("gt-1"));
    assert_eq!(
        bd_call.attr("subcommand").and_then(|v| v.as_str()),
        Some("list")
    );

    // Each log record carries the ids of the span it was made in.
    let logs = rx.wait_for_logs(2, Duration::from_secs(30));
    for (body, owner) in [("bd.call", bd_call), ("sling", sling)] {
        let record = logs
            .iter()
            .find(|r| r.body_str() == Some(body))
            .unwrap_or_else(|| panic!("no {body} record in {logs:#?}"));
        assert_eq!(record.trace_id, owner.trace_id, "{body}");
        assert_eq!(record.span_id, owner.span_id, "{body}");
    }
}

#[test]
fn without_a_carrier_the_run_id_is_the_trace_id_and_prime_parents_its_bd_calls() {
    let rx = Receiver::start().unwrap();
    let bd = FakeBd::new("echo '[]'");
    let run = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    let mut cmd = gt();
    telemetry(&mut cmd, &rx);
    cmd.args(["prime"])
        .env("GT_BD_BIN", bd.path())
        .env("GT_RUN", run)
        .env("GT_ROLE", "gastown/polecats/Toast")
        .env_remove("TMUX");
    run_ok(&mut cmd);
    let spans = rx
        .wait_until(Duration::from_secs(30), |rx| {
            let spans = rx.spans();
            spans.iter().any(|s| s.name == "prime").then_some(spans)
        })
        .unwrap_or_else(|| panic!("a prime span expected, got {:#?}", rx.spans()));
    let prime = span(&spans, "prime");
    assert_eq!(hex(&prime.trace_id), run.replace('-', ""));
    assert!(
        prime.parent_span_id.is_empty(),
        "prime is the root: {prime:#?}"
    );
    let calls: Vec<&Span> = spans.iter().filter(|s| s.name == "bd.call").collect();
    assert!(!calls.is_empty(), "prime asks bd: {spans:#?}");
    for call in calls {
        assert_eq!(call.parent_span_id, prime.span_id);
        assert_eq!(call.trace_id, prime.trace_id);
    }
}

#[test]
fn an_invalid_traceparent_is_one_warning_and_a_new_trace() {
    let rx = Receiver::start().unwrap();
    let mut cmd = gt();
    telemetry(&mut cmd, &rx);
    cmd.args(["otel", "emit", "nudge", "--attr", "target=gastown/witness"])
        .env("TRACEPARENT", "00-not-a-trace-01");
    let out = run_ok(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("TRACEPARENT").count(), 1, "{stderr}");
    let spans = rx
        .wait_until(Duration::from_secs(30), |rx| {
            let spans = rx.spans();
            (!spans.is_empty()).then_some(spans)
        })
        .expect("a nudge span");
    assert_eq!(spans[0].name, "nudge");
    assert!(spans[0].parent_span_id.is_empty());
}
