//! The spool of failed log exports, end to end with real `gt` processes: records of one-shot
//! commands run while the backend is away arrive exactly once after it is back; a flush killed
//! with SIGKILL ships no acknowledged file twice; `file://` output is OTLP JSON that the
//! official protobuf JSON mapping (Python `opentelemetry-proto`) decodes, and ships later with
//! `gt otel spool flush --dir … --to …`.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use otlp_capture::{LogRecord, Mode, Receiver, Value};
use support::backends::{self, poll};
use support::{gt, run_ok, state_dir};
use telemetry_otlp::otlp_json::Signal;
use telemetry_otlp::spool::Spool;

/// A generous bound for anything that waits on gt processes (the CI machine is loaded).
const PATIENCE: Duration = Duration::from_secs(60);

/// `gt otel emit done` with resource attribute `test.seq=seq` (and `test.run=tag`).
fn emit(state: &Path, logs_url: &str, metrics_url: &str, tag: &str, seq: usize) -> Command {
    let mut cmd = gt();
    cmd.env("GT_STATE_DIR", state)
        .env("GT_OTEL_LOGS_URL", logs_url)
        .env("GT_OTEL_METRICS_URL", metrics_url)
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            format!("test.run={tag},test.seq={seq}"),
        )
        .args(["otel", "emit", "done", "--attr", "exit_type=COMPLETED"]);
    cmd
}

fn seq_of(record: &LogRecord) -> Option<usize> {
    record
        .resource
        .iter()
        .find(|(k, _)| k == "test.seq")
        .and_then(|(_, v)| match v {
            Value::Str(s) => s.parse().ok(),
            _ => None,
        })
}

/// How many times each `test.seq` arrived among `records`.
fn counts(records: &[LogRecord]) -> BTreeMap<usize, usize> {
    let mut counts = BTreeMap::new();
    for seq in records.iter().filter_map(seq_of) {
        *counts.entry(seq).or_default() += 1;
    }
    counts
}

fn waiting(spool: &Spool) -> u64 {
    spool
        .status()
        .unwrap()
        .waiting
        .get(&Signal::Logs)
        .map_or(0, |w| w.files)
}

#[test]
fn records_of_a_hundred_commands_run_during_an_outage_arrive_exactly_once_after_it() {
    let receiver = Receiver::start_with(Mode::Close).unwrap();
    let state = state_dir();
    let (logs, metrics) = (receiver.url("/v1/logs"), receiver.url("/v1/metrics"));
    for seq in 0..100 {
        run_ok(&mut emit(&state, &logs, &metrics, "outage", seq));
    }
    let spool = Spool::in_state_dir(&state, u64::MAX);
    assert_eq!(waiting(&spool), 100, "one spooled file per failed command");

    // The backend is back: everything it receives from now on is counted.
    let before = receiver.logs().len();
    receiver.set_mode(Mode::Accept);
    run_ok(&mut emit(&state, &logs, &metrics, "outage", 100));
    let arrived = receiver
        .wait_until(PATIENCE, |rx| {
            let after = rx.logs().split_off(before);
            (after.len() >= 101).then_some(after)
        })
        .unwrap_or_else(|| receiver.logs().split_off(before));
    let counts = counts(&arrived);
    let expected: BTreeMap<usize, usize> = (0..=100).map(|seq| (seq, 1)).collect();
    assert_eq!(counts, expected, "each of the 101 records exactly once");
    assert_eq!(arrived.len(), 101);
    assert_eq!(waiting(&spool), 0, "the spool is empty once shipped");
}

#[test]
fn a_flush_killed_mid_way_ships_no_acknowledged_file_twice() {
    let down = Receiver::start_with(Mode::Close).unwrap();
    let state = state_dir();
    let (logs, metrics) = (down.url("/v1/logs"), down.url("/v1/metrics"));
    for seq in 0..30 {
        run_ok(&mut emit(&state, &logs, &metrics, "kill", seq));
    }
    drop(down);
    let spool = Spool::in_state_dir(&state, u64::MAX);
    let spooled = spool_seqs(&spool);
    assert_eq!(spooled.len(), 30);

    // Accept 10 requests, then hang: the flush is stuck in a request when it is killed.
    let receiver = Receiver::start().unwrap();
    let flush = |receiver: &Receiver| {
        let mut cmd = gt();
        cmd.env("GT_STATE_DIR", &state)
            .env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
            .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics"))
            .args(["otel", "spool", "flush"]);
        cmd
    };
    let mut child = flush(&receiver)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let accepted = receiver.wait_until(PATIENCE, |rx| {
        (rx.requests().len() >= 10).then(|| rx.set_mode(Mode::Hang))
    });
    assert!(accepted.is_some(), "the flush sent 10 requests");
    // Stuck in a hung request, or past the first ones: either way killed mid-flush.
    receiver.wait_until(PATIENCE, |rx| (rx.requests().len() > 10).then_some(()));
    child.kill().unwrap();
    child.wait().unwrap();

    let left = spool_seqs(&spool);
    let acknowledged: Vec<usize> = spooled
        .keys()
        .filter(|s| !left.contains_key(s))
        .copied()
        .collect();
    assert!(
        !acknowledged.is_empty() && !left.is_empty(),
        "killed mid-flush"
    );

    let again = Receiver::start().unwrap();
    run_ok(&mut flush(&again));
    let mut all = receiver.logs();
    all.extend(again.logs());
    let counts = counts(&all);
    for seq in &acknowledged {
        assert_eq!(
            counts.get(seq),
            Some(&1),
            "acknowledged file {seq} shipped once"
        );
    }
    for seq in 0..30 {
        assert!(
            counts.get(&seq).is_some_and(|n| *n >= 1),
            "{seq} never arrived"
        );
    }
    assert!(spool_seqs(&spool).is_empty());
}

/// The `test.seq` of each waiting spool file's record, with the file's path.
fn spool_seqs(spool: &Spool) -> BTreeMap<usize, std::path::PathBuf> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(spool.dir()) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("logs-") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let json: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        let seq = json["resourceLogs"][0]["resource"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|kv| kv["key"] == "test.seq")
            .and_then(|kv| kv["value"]["stringValue"].as_str())
            .and_then(|s| s.parse().ok())
            .unwrap();
        out.insert(seq, entry.path());
    }
    out
}

/// Decodes every file of `dir` with the official OTLP protobuf JSON mapping (Python
/// `opentelemetry-proto`, unknown fields refused) and prints what it found, one JSON object.
const PY_DECODE: &str = r#"
import json, os, sys
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
out = {"logs": [], "metrics": [], "spans": []}
for name in sorted(os.listdir(sys.argv[1])):
    kind = name.split("-")[0]
    message = {"logs": ExportLogsServiceRequest, "metrics": ExportMetricsServiceRequest,
               "traces": ExportTraceServiceRequest}[kind]
    for line in open(os.path.join(sys.argv[1], name)):
        request = json_format.Parse(line, message())
        if kind == "logs":
            for rl in request.resource_logs:
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        out["logs"].append({
                            "body": r.body.string_value,
                            "severity": r.severity_number,
                            "time": r.time_unix_nano,
                            "attributes": {kv.key: kv.value.string_value for kv in r.attributes},
                            "resource": {kv.key: kv.value.string_value for kv in rl.resource.attributes},
                        })
        elif kind == "traces":
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    out["spans"].extend(sp.name for sp in ss.spans)
        else:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    out["metrics"].extend(m.name for m in sm.metrics)
print(json.dumps(out))
"#;

fn python_has_opentelemetry_proto() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import opentelemetry.proto, google.protobuf"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "skipped: python3 with the opentelemetry-proto package is needed \
             (pip install opentelemetry-proto; .ci/run installs it)"
        );
    }
    ok
}

#[test]
fn file_output_decodes_with_the_official_otlp_json_mapping_and_ships_later() {
    let out = tempfile::tempdir().unwrap();
    let url = format!("file://{}/", out.path().display());
    let state = state_dir();
    run_ok(emit(&state, &url, &url, "offline", 7).env("GT_OTEL_TRACES_URL", &url));
    let names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("logs-")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("metrics-")), "{names:?}");
    // Trace and span ids are hex strings (the OTLP/JSON rule), not base64.
    let traces = names
        .iter()
        .find(|n| n.starts_with("traces-"))
        .expect("a traces file");
    let text = std::fs::read_to_string(out.path().join(traces)).unwrap();
    let json: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    let hex = |v: &serde_json::Value, n: usize| {
        v.as_str()
            .is_some_and(|s| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    assert!(
        hex(&span["traceId"], 32) && hex(&span["spanId"], 16),
        "{span}"
    );

    if python_has_opentelemetry_proto() {
        let decoded = Command::new("python3")
            .args(["-c", PY_DECODE])
            .arg(out.path())
            .output()
            .unwrap();
        assert!(
            decoded.status.success(),
            "{}",
            String::from_utf8_lossy(&decoded.stderr)
        );
        let found: serde_json::Value = serde_json::from_slice(&decoded.stdout).unwrap();
        let logs = found["logs"].as_array().unwrap();
        assert_eq!(logs.len(), 1, "{found}");
        assert_eq!(logs[0]["body"], "done");
        assert_eq!(logs[0]["severity"], 9);
        assert_eq!(logs[0]["attributes"]["exit_type"], "COMPLETED");
        assert_eq!(logs[0]["resource"]["test.seq"], "7");
        assert_eq!(logs[0]["resource"]["service.name"], "gastown");
        // int64 as a JSON string decodes to the same nanoseconds: a time after 2020.
        assert!(logs[0]["time"].as_u64().unwrap() > 1_577_836_800_000_000_000);
        let metrics = found["metrics"].as_array().unwrap();
        assert!(!metrics.is_empty(), "{found}");
        assert!(!found["spans"].as_array().unwrap().is_empty(), "{found}");
    }

    // The directory ships later to a real receiver; delivered files are removed.
    let receiver = Receiver::start().unwrap();
    let mut flush = gt();
    flush
        .env("GT_STATE_DIR", &state)
        .args(["otel", "spool", "flush", "--signal", "logs", "--dir"])
        .arg(out.path())
        .arg("--to")
        .arg(receiver.url("/v1/logs"));
    let stdout = String::from_utf8(run_ok(&mut flush).stdout).unwrap();
    assert!(stdout.contains("shipped 1 files (1 records)"), "{stdout}");
    let logs = receiver.wait_for_logs(1, PATIENCE);
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].body_str(), Some("done"));
    assert_eq!(seq_of(&logs[0]), Some(7));
    let left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("logs-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn spool_status_counts_what_waits_and_clear_empties_it() {
    let down = Receiver::start_with(Mode::Status(503)).unwrap();
    let state = state_dir();
    let (logs, metrics) = (down.url("/v1/logs"), down.url("/v1/metrics"));
    for seq in 0..3 {
        run_ok(&mut emit(&state, &logs, &metrics, "status", seq));
    }
    let status = |args: &[&str]| {
        let mut cmd = gt();
        cmd.env("GT_STATE_DIR", &state)
            .args(["otel", "spool"])
            .args(args);
        String::from_utf8(run_ok(&mut cmd).stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&status(&["status", "--json"])).unwrap();
    assert_eq!(json["logs"]["files"], 3, "{json}");
    assert_eq!(json["logs"]["records"], 3, "{json}");
    assert!(status(&["clear"]).contains("removed 3 files"));
    let json: serde_json::Value = serde_json::from_str(&status(&["status", "--json"])).unwrap();
    assert_eq!(json["logs"]["files"], 0, "{json}");
}

#[test]
fn records_of_an_outage_reach_real_victorialogs_exactly_once() {
    if !backends::enabled() {
        return;
    }
    const VL_LOGS: &str = "http://127.0.0.1:9428/insert/opentelemetry/v1/logs";
    const VM_METRICS: &str = "http://127.0.0.1:8428/opentelemetry/api/v1/push";
    let tag = backends::run_tag("spool");
    let down = Receiver::start_with(Mode::Close).unwrap();
    let state = state_dir();
    for seq in 0..100 {
        run_ok(&mut emit(
            &state,
            &down.url("/v1/logs"),
            VM_METRICS,
            &tag,
            seq,
        ));
    }
    run_ok(&mut emit(&state, VL_LOGS, VM_METRICS, &tag, 100));
    let query = format!("test.run:\"{tag}\"");
    let rows = poll(PATIENCE, || {
        let rows = backends::logsql("http://127.0.0.1:9428", &query);
        (rows.len() >= 101).then_some(rows)
    })
    .unwrap_or_else(|| backends::logsql("http://127.0.0.1:9428", &query));
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for row in &rows {
        if let Some(seq) = row["test.seq"].as_str().and_then(|s| s.parse().ok()) {
            *seen.entry(seq).or_default() += 1;
        }
    }
    let expected: BTreeMap<usize, usize> = (0..=100).map(|seq| (seq, 1)).collect();
    assert_eq!(
        seen, expected,
        "each of the 101 records once in VictoriaLogs"
    );
}

#[test]
fn spans_of_commands_run_during_an_outage_arrive_exactly_once_after_it() {
    let receiver = Receiver::start_with(Mode::Close).unwrap();
    let state = state_dir();
    let (logs, metrics, traces) = (
        receiver.url("/v1/logs"),
        receiver.url("/v1/metrics"),
        receiver.url("/v1/traces"),
    );
    let with_traces = |seq| {
        let mut cmd = emit(&state, &logs, &metrics, "spans", seq);
        cmd.env("GT_OTEL_TRACES_URL", &traces);
        cmd
    };
    for seq in 0..5 {
        run_ok(&mut with_traces(seq));
    }
    let spool = Spool::in_state_dir(&state, u64::MAX);
    let status = spool.status().unwrap();
    assert_eq!(
        status.waiting.get(&Signal::Traces).map(|w| w.files),
        Some(5)
    );

    let before = receiver.spans().len();
    receiver.set_mode(Mode::Accept);
    run_ok(&mut with_traces(5));
    let seqs = |spans: &[otlp_capture::Span]| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for span in spans {
            if let Some((_, Value::Str(seq))) = span.resource.iter().find(|(k, _)| k == "test.seq")
            {
                *counts.entry(seq.clone()).or_default() += 1;
            }
        }
        counts
    };
    let arrived = receiver
        .wait_until(PATIENCE, |rx| {
            let after = rx.spans().split_off(before);
            (seqs(&after).len() >= 6).then_some(after)
        })
        .unwrap_or_else(|| receiver.spans().split_off(before));
    let per_command = seqs(&arrived);
    assert_eq!(
        per_command.len(),
        6,
        "spans of all 6 commands: {per_command:?}"
    );
    let one = per_command["5"];
    assert!(
        per_command.values().all(|n| *n == one),
        "each command's spans exactly once: {per_command:?}"
    );
    assert_eq!(spool.status().unwrap().waiting.get(&Signal::Traces), None);
}
