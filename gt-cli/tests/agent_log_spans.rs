//! Agent turns as spans (issue 13): `gt agent-log` makes a `chat` span per model request and an
//! `execute_tool` span per tool call, with the transcript's times, under the `TRACEPARENT` it
//! was started with, attributed to the bead current at each turn, with ids that a second
//! reading of the same transcript repeats.

mod agent_log_common;
mod support;

use std::path::{Path, PathBuf};

use agent_log_common::{Running, Town, WAIT, append, assistant, user};
use otlp_capture::{Receiver, Span, Value};
use serde_json::json;
use work_ledger::{Change, Entry, Source};

const OUTER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const OUTER_SPAN: &str = "b7ad6b7169203331";
const SESSION: &str = "gt-turns";
const MODEL: &str = "claude-sonnet-4-5-20250929";
/// 2026-01-05T10:00:00Z.
const T0: u64 = 1_767_607_200;
const SECOND: u64 = 1_000_000_000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn usage(input: u64, output: u64, read: u64, write: u64) -> serde_json::Value {
    json!({"input_tokens": input, "output_tokens": output,
        "cache_read_input_tokens": read, "cache_creation_input_tokens": write})
}

/// Two turns: msg_1 (a text line, then its tool_use line; the larger usage wins) answered by
/// a tool_result 4.5 s after the tool_use, then msg_2.
fn lines() -> [String; 5] {
    [
        user("2026-01-05T10:00:00Z", json!("fix the build")),
        assistant(
            "2026-01-05T10:00:02Z",
            "msg_1",
            "req_1",
            MODEL,
            json!([{"type": "text", "text": "Looking."}]),
            usage(100, 5, 2000, 300),
        ),
        assistant(
            "2026-01-05T10:00:03Z",
            "msg_1",
            "req_1",
            MODEL,
            json!([{"type": "tool_use", "id": "toolu_1", "name": "Bash",
                "input": {"command": "cargo build"}}]),
            usage(100, 40, 2000, 300),
        ),
        user(
            "2026-01-05T10:00:07.500Z",
            json!([{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Finished"}]),
        ),
        assistant(
            "2026-01-05T10:00:09Z",
            "msg_2",
            "req_2",
            MODEL,
            json!([{"type": "text", "text": "Built."}]),
            usage(10, 20, 2300, 0),
        ),
    ]
}

/// [`lines`] as `sess-a.jsonl` in `dir`.
fn transcript(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("sess-a.jsonl");
    std::fs::write(&path, lines().join("\n") + "\n").unwrap();
    path
}

/// The session's ledger: bead gt-A from T0, gt-B from T0 + 5 s (between the two turns).
fn write_ledger(state: &Path) {
    let dir = state.join("ledger");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for (offset, bead) in [(0, "gt-A"), (5, "gt-B")] {
        let change = Change {
            rig: "r1".into(),
            bead: bead.into(),
            ..Change::default()
        };
        let entry = Entry::new((T0 + offset) * SECOND, SESSION, change, Source::Flags);
        text.push_str(&serde_json::to_string(&entry).unwrap());
        text.push('\n');
    }
    let stem = work_ledger::file_stem(SESSION).unwrap();
    std::fs::write(dir.join(format!("{stem}.jsonl")), text).unwrap();
}

/// `gt agent-log replay EXTRA… FILE` into `rx`, with traces when `traces` and the outer
/// `TRACEPARENT` when `parent`.
fn replay(town: &Town, rx: &Receiver, file: &Path, extra: &[&str], traces: bool, parent: bool) {
    let mut cmd = town.gt();
    cmd.args(["agent-log", "replay", "--session", SESSION])
        .args(extra)
        .arg(file)
        .env("GT_STATE_DIR", town.state())
        .env("GT_OTEL_LOGS_URL", rx.url("/v1/logs"))
        .env("GT_OTEL_METRICS_URL", rx.url("/v1/metrics"))
        .env_remove("TRACEPARENT")
        .env_remove("GT_RUN");
    if traces {
        cmd.env("GT_OTEL_TRACES_URL", rx.url("/v1/traces"));
    }
    if parent {
        cmd.env("TRACEPARENT", format!("00-{OUTER_TRACE}-{OUTER_SPAN}-01"));
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
}

fn wait_spans(rx: &Receiver, n: usize) -> Vec<Span> {
    rx.wait_until(WAIT, |rx| {
        let spans = rx.spans();
        (spans.len() >= n).then_some(spans)
    })
    .unwrap_or_else(|| panic!("{n} spans expected, got {:#?}", rx.spans()))
}

fn int(span: &Span, key: &str) -> i64 {
    match span.attr(key) {
        Some(Value::Int(i)) => *i,
        other => panic!("{key} of {}: {other:?}", span.name),
    }
}

fn string<'a>(span: &'a Span, key: &str) -> &'a str {
    match span.attr(key) {
        Some(Value::Str(s)) => s,
        other => panic!("{key} of {}: {other:?}", span.name),
    }
}

fn turn<'a>(spans: &'a [Span], message: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.attr("gen_ai.response.id") == Some(&Value::Str(message.into())))
        .unwrap_or_else(|| panic!("no turn of {message} in {spans:#?}"))
}

#[test]
fn turns_and_tools_are_spans_under_the_traceparent_with_transcript_times() {
    let town = Town::new();
    write_ledger(&town.state());
    let file = transcript(&town.project());
    let rx = Receiver::start().unwrap();
    replay(&town, &rx, &file, &[], true, true);
    let spans = wait_spans(&rx, 3);
    assert_eq!(spans.len(), 3, "{spans:#?}");

    let first = turn(&spans, "msg_1");
    let second = turn(&spans, "msg_2");
    for t in [first, second] {
        assert_eq!(t.name, format!("chat {MODEL}"));
        assert_eq!(hex(&t.trace_id), OUTER_TRACE);
        assert_eq!(hex(&t.parent_span_id), OUTER_SPAN);
        assert_eq!(string(t, "gen_ai.operation.name"), "chat");
        assert_eq!(string(t, "gen_ai.provider.name"), "anthropic");
        assert_eq!(string(t, "gen_ai.request.model"), MODEL);
        assert_eq!(string(t, "session"), SESSION);
        assert_eq!(string(t, "work_rig"), "r1");
        assert!(t.attr("cost_usd").and_then(Value::as_f64).is_some());
    }
    // msg_1: its largest line wins; input tokens include the cached ones (100 + 2000 + 300).
    assert_eq!(int(first, "gen_ai.usage.input_tokens"), 2400);
    assert_eq!(int(first, "gen_ai.usage.output_tokens"), 40);
    assert_eq!(int(first, "gen_ai.usage.cache_read.input_tokens"), 2000);
    assert_eq!(int(first, "gen_ai.usage.cache_creation.input_tokens"), 300);
    assert_eq!(int(second, "gen_ai.usage.input_tokens"), 2310);
    // The bead current at each turn.
    assert_eq!(string(first, "work_bead"), "gt-A");
    assert_eq!(string(second, "work_bead"), "gt-B");
    // A turn runs from the line it answers to its last line.
    assert_eq!(first.start_time_unix_nano, T0 * SECOND);
    assert_eq!(first.end_time_unix_nano, (T0 + 3) * SECOND);
    assert_eq!(second.start_time_unix_nano, (T0 + 7) * SECOND + SECOND / 2);
    assert_eq!(second.end_time_unix_nano, (T0 + 9) * SECOND);

    let tool = spans
        .iter()
        .find(|s| s.name == "execute_tool Bash")
        .unwrap_or_else(|| panic!("no tool span in {spans:#?}"));
    assert_eq!(tool.trace_id, first.trace_id);
    assert_eq!(
        tool.parent_span_id, first.span_id,
        "the tool is its turn's child"
    );
    assert_eq!(string(tool, "gen_ai.operation.name"), "execute_tool");
    assert_eq!(string(tool, "gen_ai.tool.name"), "Bash");
    assert_eq!(string(tool, "gen_ai.tool.call.id"), "toolu_1");
    assert_eq!(string(tool, "work_bead"), "gt-A");
    assert_eq!(tool.start_time_unix_nano, (T0 + 3) * SECOND);
    assert_eq!(
        tool.end_time_unix_nano - tool.start_time_unix_nano,
        4 * SECOND + SECOND / 2,
        "from tool_use to tool_result"
    );
}

#[test]
fn a_second_replay_makes_the_same_span_ids() {
    let town = Town::new();
    let file = transcript(&town.project());
    let rx = Receiver::start().unwrap();
    replay(&town, &rx, &file, &[], true, true);
    let first = wait_spans(&rx, 3);
    replay(&town, &rx, &file, &[], true, true);
    let both = wait_spans(&rx, 6);
    assert_eq!(both.len(), 6, "{both:#?}");
    let ids = |spans: &[Span]| {
        let mut ids: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = spans
            .iter()
            .map(|s| {
                (
                    s.trace_id.clone(),
                    s.span_id.clone(),
                    s.parent_span_id.clone(),
                )
            })
            .collect();
        ids.sort();
        ids
    };
    let once = ids(&first);
    let mut twice = ids(&both);
    twice.dedup();
    assert_eq!(once, twice);
}

#[test]
fn without_a_traceparent_turns_are_roots_of_the_run_ids_trace() {
    let town = Town::new();
    let file = transcript(&town.project());
    let rx = Receiver::start().unwrap();
    let run = "5f0c3c1e-8d2a-4f7b-9c1d-2e3f4a5b6c7d";
    replay(&town, &rx, &file, &["--run-id", run], true, false);
    let spans = wait_spans(&rx, 3);
    let trace = run.replace('-', "");
    assert!(
        spans.iter().all(|s| hex(&s.trace_id) == trace),
        "{spans:#?}"
    );
    let first = turn(&spans, "msg_1");
    assert!(first.parent_span_id.is_empty(), "a root: {first:#?}");
    assert_eq!(string(first, "run.id"), run);
}

#[test]
fn without_a_traces_url_no_span_is_sent() {
    let town = Town::new();
    let file = transcript(&town.project());
    let rx = Receiver::start().unwrap();
    replay(&town, &rx, &file, &[], false, true);
    // The records arrived (the replay waits for their export); no span request did.
    assert!(!rx.logs().is_empty());
    assert!(rx.requests().iter().all(|r| r.path != "/v1/traces"));
}

#[test]
fn the_follower_ends_a_tool_span_when_its_result_arrives_in_a_later_batch() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let file = town.project().join("sess-a.jsonl");
    let lines = lines();
    // The prompt and msg_1 with its tool_use: the idle flush releases msg_1's usage.
    append(&file, &(lines[..3].join("\n") + "\n"));
    let mut cmd = town.follow(SESSION, &rx.url("/v1/logs"), &rx);
    cmd.env("GT_OTEL_TRACES_URL", rx.url("/v1/traces"))
        .env("TRACEPARENT", format!("00-{OUTER_TRACE}-{OUTER_SPAN}-01"));
    let mut gt = Running::start(&mut cmd, town.dir.path().join("stderr"));
    let spans = wait_spans(&rx, 1);
    let first = turn(&spans, "msg_1").clone();
    assert_eq!(hex(&first.parent_span_id), OUTER_SPAN, "{}", gt.stderr());
    assert!(spans.iter().all(|s| !s.name.starts_with("execute_tool")));

    // The result, in a later batch, ends the tool span that waited for it.
    append(&file, &(lines[3..].join("\n") + "\n"));
    let spans = rx
        .wait_until(WAIT, |rx| {
            let spans = rx.spans();
            spans
                .iter()
                .any(|s| s.name == "execute_tool Bash")
                .then_some(spans)
        })
        .unwrap_or_else(|| panic!("no tool span: {:#?}\n{}", rx.spans(), gt.stderr()));
    let tool = spans
        .iter()
        .find(|s| s.name == "execute_tool Bash")
        .unwrap();
    assert_eq!(tool.parent_span_id, first.span_id);
    assert_eq!(
        tool.end_time_unix_nano - tool.start_time_unix_nano,
        4 * SECOND + SECOND / 2
    );
    let (status, _) = gt.terminate();
    assert!(status.success(), "{}", gt.stderr());
}
