//! `gt agent-log` following a work directory's Claude Code transcripts, as a real process
//! against a real OTLP receiver: exact record counts, partial lines, duplicated usage lines,
//! new session files, SIGTERM, kill -9 and restart, truncation and rotation, backend outage.

mod agent_log_common;
mod support;

use std::time::Duration;

use agent_log_common::{
    Gate, Running, Town, WAIT, append, assistant, kill_mid_backlog, message, poll_until, records,
    user, wait_counts,
};
use otlp_capture::{Receiver, Value};
use serde_json::json;

const RUN: &str = "5f0c1d2e-0000-4000-8000-000000000001";

fn int_attr(r: &otlp_capture::LogRecord, key: &str) -> i64 {
    match r.attr(key) {
        Some(Value::Int(i)) => *i,
        other => panic!("{key}: {other:?}"),
    }
}

#[test]
fn follow_exports_exact_counts_and_picks_up_new_sessions() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let main = town.project().join("sess-a.jsonl");
    append(
        &main,
        &format!(
            "{}\n",
            user("2026-01-05T10:00:00.000Z", json!("Fix the test"))
        ),
    );
    let mut cmd = town.follow("gt-follow", &rx.url("/v1/logs"), &rx);
    cmd.args(["--run-id", RUN]).env("GT_WORK_BEAD", "gt-42");
    let mut gt = Running::start(&mut cmd, town.dir.path().join("stderr"));
    let ctx = || gt_stderr(&town);

    // One request streamed over three lines (thinking, text, tool_use), each repeating a
    // growing usage: one agent.usage, with the largest line's tokens.
    let usage = |out: u64| json!({"input_tokens": 10, "output_tokens": out, "cache_read_input_tokens": 1000});
    let m1 = |ts: &str, block, out| {
        assistant(
            ts,
            "msg_1",
            "req_1",
            "claude-sonnet-4-5-20250929",
            json!([block]),
            usage(out),
        )
    };
    append(
        &main,
        &format!(
            "{}\n{}\n{}\n",
            m1(
                "2026-01-05T10:00:01.000Z",
                json!({"type": "thinking", "thinking": "hmm"}),
                3
            ),
            m1(
                "2026-01-05T10:00:02.000Z",
                json!({"type": "text", "text": "Running it"}),
                9
            ),
            m1(
                "2026-01-05T10:00:03.000Z",
                json!({"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}),
                25
            ),
        ),
    );
    // A tool result whose content is an array of blocks.
    append(
        &main,
        &format!(
            "{}\n",
            user(
                "2026-01-05T10:00:04.000Z",
                json!([{"type": "tool_result", "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "a.rs"}, {"type": "image"}]}])
            )
        ),
    );
    // Half a line: nothing of it until its newline arrives.
    let m2 = assistant(
        "2026-01-05T10:00:05.000Z",
        "msg_2",
        "req_2",
        "claude-sonnet-4-5-20250929",
        json!([{"type": "text", "text": "Done"}]),
        json!({"input_tokens": 5, "output_tokens": 7}),
    );
    let (head, tail) = m2.split_at(m2.len() / 2);
    append(&main, head);
    wait_counts(&rx, 1, 5, &ctx);
    let u = records(&rx, "agent.usage");
    assert_eq!(u.len(), 1, "one usage for the three lines of msg_1");
    assert_eq!(
        int_attr(&u[0], "output_tokens"),
        25,
        "the largest line wins"
    );
    assert_eq!(u[0].str_attr("session"), Some("gt-follow"));
    assert_eq!(u[0].str_attr("model"), Some("claude-sonnet-4-5-20250929"));
    assert_eq!(u[0].str_attr("run.id"), Some(RUN));
    assert_eq!(u[0].str_attr("work_bead"), Some("gt-42"));
    assert_eq!(
        u[0].time_unix_nano, 1_767_607_203_000_000_000,
        "the winning line's transcript time"
    );
    let cost = u[0].attr("cost_usd").and_then(Value::as_f64).unwrap();
    assert_eq!(u[0].str_attr("cost_source"), Some("local"));
    assert_eq!(
        u[0].str_attr("pricing_version"),
        Some(agent_transcripts::Pricing::embedded().version())
    );
    assert!(
        (cost - (10.0 * 3.0 + 25.0 * 15.0 + 1000.0 * 0.3) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    let events = records(&rx, "agent.event");
    let kinds: Vec<_> = events
        .iter()
        .map(|r| r.str_attr("event_type").unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["text", "thinking", "text", "tool_use", "tool_result"]
    );
    assert_eq!(events[4].str_attr("content"), Some("a.rs\n[image]"));

    append(&main, &format!("{tail}\n"));
    wait_counts(&rx, 2, 6, &ctx);

    // A new session, a sub-agent in a subdirectory, broken lines, and an unpriced model.
    let other = town.project().join("sess-b.jsonl");
    append(
        &other,
        &format!(
            "{}\n{{not json\n{}\n",
            user("2026-01-05T11:00:00.000Z", json!("Next task")),
            assistant(
                "2026-01-05T11:00:01.000Z",
                "msg_3",
                "req_3",
                "mystery-model-1",
                json!([{"type": "text", "text": "ok"}]),
                json!({"input_tokens": 1, "output_tokens": 1}),
            )
        ),
    );
    let sub = town.project().join("sess-b/subagents/agent-1.jsonl");
    let mut bad = b"\xff\xfe not utf-8\n".to_vec();
    bad.extend_from_slice(
        format!(
            "{}\n",
            assistant(
                "2026-01-05T11:00:02.000Z",
                "msg_4",
                "req_4",
                "mystery-model-1",
                json!([{"type": "text", "text": "sub"}]),
                json!({"input_tokens": 2, "output_tokens": 2}),
            )
        )
        .as_bytes(),
    );
    std::fs::create_dir_all(sub.parent().unwrap()).unwrap();
    std::fs::write(&sub, bad).unwrap();
    wait_counts(&rx, 4, 9, &ctx);

    let (status, took) = gt.terminate();
    assert!(status.success(), "{status}: {}", gt.stderr());
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    assert_eq!(records(&rx, "agent.usage").len(), 4, "{}", gt.stderr());
    assert_eq!(records(&rx, "agent.event").len(), 9);
    let unpriced = records(&rx, "agent.usage")
        .into_iter()
        .filter(|r| r.str_attr("model") == Some("mystery-model-1"))
        .collect::<Vec<_>>();
    assert_eq!(unpriced.len(), 2);
    assert!(
        unpriced.iter().all(|r| r.attr("cost_usd").is_none()),
        "an unknown model gets no cost_usd, never a guessed one"
    );
    assert!(
        unpriced
            .iter()
            .all(|r| r.str_attr("cost_source") == Some("unpriced")),
        "an unknown model is counted as unpriced"
    );
    let stderr = gt.stderr();
    assert_eq!(
        stderr
            .matches("no price for model \"mystery-model-1\"")
            .count(),
        1,
        "one warning per model: {stderr}"
    );
    let cp = town.read_checkpoint("gt-follow").expect("checkpoint saved");
    let totals = &cp["totals"];
    assert_eq!(totals["usage_records"], 4);
    assert_eq!(totals["event_records"], 9);
    assert_eq!(totals["unpriced_usages"], 2);
    assert_eq!(totals["skipped"]["invalid_json"], 1);
    assert_eq!(totals["skipped"]["invalid_utf8"], 1);
    for f in cp["files"].as_array().unwrap() {
        assert_eq!(f["offset"], f["size"], "{f}");
    }
    assert_eq!(cp["files"].as_array().unwrap().len(), 3);
}

fn gt_stderr(town: &Town) -> String {
    std::fs::read_to_string(town.dir.path().join("stderr")).unwrap_or_default()
}

/// The ids of the usages at the receiver, sorted, with duplicates kept.
fn usage_outputs(rx: &Receiver) -> Vec<i64> {
    let mut v: Vec<i64> = records(rx, "agent.usage")
        .iter()
        .map(|r| int_attr(r, "output_tokens"))
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn kill_9_and_restart_lose_nothing_and_duplicate_nothing() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let gate = Gate::start(rx.addr(), true);
    let file = town.project().join("sess-a.jsonl");
    let backlog: String = (0..10_000).map(|i| format!("{}\n", message(i))).collect();
    append(&file, &backlog);
    let mut first = Running::start(
        &mut town.follow("gt-kill", &gate.url("/v1/logs"), &rx),
        town.dir.path().join("stderr-1"),
    );
    // Some batches in, then the backend goes away in the middle of the backlog.
    kill_mid_backlog(&mut first, &rx, &gate, &town, "gt-kill", 10_000);

    let more: String = (10_000..10_100)
        .map(|i| format!("{}\n", message(i)))
        .collect();
    append(&file, &more);
    gate.set_open(true);
    let mut second = Running::start(
        &mut town.follow("gt-kill", &gate.url("/v1/logs"), &rx),
        town.dir.path().join("stderr-2"),
    );
    wait_counts(&rx, 10_100, 10_100, &|| second.stderr());
    let (status, _) = second.terminate();
    assert!(status.success());
    let expected: Vec<i64> = (1..=10_100).collect();
    assert_eq!(usage_outputs(&rx), expected, "every message exactly once");
    assert_eq!(records(&rx, "agent.event").len(), 10_100);
}

#[test]
fn backend_outage_holds_records_until_it_returns() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let gate = Gate::start(rx.addr(), false);
    let file = town.project().join("sess-a.jsonl");
    append(
        &file,
        &(0..600)
            .map(|i| format!("{}\n", message(i)))
            .collect::<String>(),
    );
    let mut gt = Running::start(
        &mut town.follow("gt-outage", &gate.url("/v1/logs"), &rx),
        town.dir.path().join("stderr"),
    );
    assert!(poll_until(WAIT, || gate.dropped() >= 2));
    assert!(records(&rx, "agent.usage").is_empty());
    let cp = town.read_checkpoint("gt-outage");
    assert!(
        cp.is_none_or(|cp| cp["totals"]["usage_records"] == 0),
        "nothing may be checkpointed while the backend is down"
    );
    gate.set_open(true);
    wait_counts(&rx, 600, 600, &|| gt.stderr());
    let (status, _) = gt.terminate();
    assert!(status.success());
    let expected: Vec<i64> = (1..=600).collect();
    assert_eq!(usage_outputs(&rx), expected, "{}", gt.stderr());
}

#[test]
fn truncated_and_rotated_transcripts_are_read_from_their_start() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let file = town.project().join("sess-a.jsonl");
    append(&file, &format!("{}\n{}\n", message(0), message(1)));
    let mut gt = Running::start(
        &mut town.follow("gt-rotate", &rx.url("/v1/logs"), &rx),
        town.dir.path().join("stderr"),
    );
    wait_counts(&rx, 2, 2, &|| gt.stderr());
    // Truncated in place and rewritten shorter.
    std::fs::write(&file, format!("{}\n", message(2))).unwrap();
    wait_counts(&rx, 3, 3, &|| gt.stderr());
    // Rotated: the old file keeps its content under another name, a new file takes its
    // name in one rename.
    std::fs::hard_link(&file, town.project().join("sess-a.jsonl.1")).unwrap();
    let fresh = town.project().join("fresh.tmp");
    append(&fresh, &format!("{}\n{}\n", message(3), message(4)));
    std::fs::rename(&fresh, &file).unwrap();
    wait_counts(&rx, 5, 5, &|| gt.stderr());
    let (status, _) = gt.terminate();
    assert!(status.success());
    assert_eq!(usage_outputs(&rx), vec![1, 2, 3, 4, 5]);
    let stderr = gt.stderr();
    assert!(stderr.contains("was truncated"), "{stderr}");
    assert!(stderr.contains("was replaced"), "{stderr}");
}

#[test]
fn process_metrics_are_exported_while_following() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let mut gt = Running::start(
        &mut town.follow("gt-metrics", &rx.url("/v1/logs"), &rx),
        town.dir.path().join("stderr"),
    );
    let points = rx.wait_for_metric("process.cpu.time", WAIT);
    assert!(!points.is_empty(), "{}", gt.stderr());
    let (status, _) = gt.terminate();
    assert!(status.success());
}

#[test]
fn telemetry_off_exits_zero_saying_so() {
    let town = Town::new();
    let out = town
        .gt()
        .args(["agent-log", "--session", "s", "--work-dir"])
        .arg(town.work_dir())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("telemetry is off"));
}

#[test]
fn sigterm_exits_within_the_bound_even_with_a_hanging_backend() {
    let town = Town::new();
    let rx = Receiver::start_with(otlp_capture::Mode::Hang).unwrap();
    append(
        &town.project().join("sess-a.jsonl"),
        &(0..50)
            .map(|i| format!("{}\n", message(i)))
            .collect::<String>(),
    );
    let mut cmd = town.follow("gt-hang", &rx.url("/v1/logs"), &rx);
    // The daemon profile's own exporter timeout (10 s), not the tests' short one.
    cmd.env_remove("OTEL_EXPORTER_OTLP_TIMEOUT");
    let mut gt = Running::start(&mut cmd, town.dir.path().join("stderr"));
    assert!(
        rx.wait_until(WAIT, |rx| (!records(rx, "agent.usage").is_empty())
            .then_some(()))
            .is_some(),
        "the export is under way (and hangs)"
    );
    let (status, took) = gt.terminate();
    assert!(status.success(), "{status}: {}", gt.stderr());
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    let cp = town.read_checkpoint("gt-hang");
    assert!(cp.is_none_or(|cp| cp["totals"]["usage_records"] == 0));
}

#[test]
fn since_reads_new_transcripts_whole_and_old_ones_from_their_end() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let old = town.project().join("old.jsonl");
    let new = town.project().join("new.jsonl");
    append(&old, &format!("{}\n{}\n", message(0), message(1)));
    append(&new, &format!("{}\n", message(2)));
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let since =
        agent_transcripts::time::to_rfc3339(std::time::SystemTime::now() - Duration::from_secs(60));
    let mut cmd = town.follow("gt-since", &rx.url("/v1/logs"), &rx);
    cmd.args(["--since", &since]);
    let mut gt = Running::start(&mut cmd, town.dir.path().join("stderr"));
    wait_counts(&rx, 1, 1, &|| gt.stderr());
    append(&old, &format!("{}\n", message(3)));
    wait_counts(&rx, 2, 2, &|| gt.stderr());
    let (status, _) = gt.terminate();
    assert!(status.success());
    assert_eq!(
        usage_outputs(&rx),
        vec![3, 4],
        "history before --since is not exported"
    );
}

#[test]
fn codex_rollouts_of_the_work_dir_are_followed_and_others_ignored() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let codex = town.dir.path().join("codex");
    let day = codex.join("sessions/2026/01/05");
    let rollout = |cwd: &std::path::Path, id: &str| {
        let meta = json!({"timestamp": "2026-01-05T10:00:00.000Z", "type": "session_meta",
            "payload": {"id": id, "cwd": cwd}});
        let turn = json!({"timestamp": "2026-01-05T10:00:01.000Z", "type": "turn_context",
            "payload": {"cwd": cwd, "model": "gpt-5-codex"}});
        let said = json!({"timestamp": "2026-01-05T10:00:02.000Z", "type": "response_item",
            "payload": {"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": "done"}]}});
        let tokens = json!({"timestamp": "2026-01-05T10:00:03.000Z", "type": "event_msg",
            "payload": {"type": "token_count", "info": {
                "total_token_usage": {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 50},
                "last_token_usage": {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 50}}}});
        format!("{meta}\n{turn}\n{said}\n{tokens}\n")
    };
    let ours = "0199a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b";
    let theirs = "0199a3b4-5c6d-7e8f-9a0b-000000000000";
    append(
        &day.join(format!("rollout-2026-01-05T10-00-00-{theirs}.jsonl")),
        &rollout(std::path::Path::new("/elsewhere"), theirs),
    );
    let mut cmd = town.follow("gt-codex", &rx.url("/v1/logs"), &rx);
    cmd.args(["--agent", "codex"]).env("CODEX_HOME", &codex);
    let mut gt = Running::start(&mut cmd, town.dir.path().join("stderr"));
    // Appears after the start.
    append(
        &day.join(format!("rollout-2026-01-05T10-00-00-{ours}.jsonl")),
        &rollout(&town.work_dir(), ours),
    );
    wait_counts(&rx, 1, 1, &|| gt.stderr());
    let (status, _) = gt.terminate();
    assert!(status.success());
    let usages = records(&rx, "agent.usage");
    assert_eq!(usages.len(), 1, "the other work dir's rollout is not ours");
    assert_eq!(usages[0].str_attr("native_session_id"), Some(ours));
    assert_eq!(usages[0].str_attr("model"), Some("gpt-5-codex"));
    assert_eq!(int_attr(&usages[0], "input_tokens"), 800);
    assert_eq!(int_attr(&usages[0], "cache_read_tokens"), 200);
    assert_eq!(records(&rx, "agent.event").len(), 1);
}

#[test]
fn appends_are_seen_through_inotify_long_before_the_poll() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let file = town.project().join("sess-a.jsonl");
    append(&file, &format!("{}\n", message(0)));
    let mut cmd = town.follow("gt-inotify", &rx.url("/v1/logs"), &rx);
    cmd.env("GT_AGENT_LOG_POLL_MS", "600000");
    let mut gt = Running::start(&mut cmd, town.dir.path().join("stderr"));
    wait_counts(&rx, 1, 1, &|| gt.stderr());
    let appended = std::time::Instant::now();
    append(&file, &format!("{}\n", message(1)));
    // A new session file in a new subdirectory, too.
    append(
        &town.project().join("sess-b/subagents/a.jsonl"),
        &format!("{}\n", message(2)),
    );
    wait_counts(&rx, 3, 3, &|| gt.stderr());
    assert!(appended.elapsed() < Duration::from_secs(10));
    let (status, _) = gt.terminate();
    assert!(status.success());
}
