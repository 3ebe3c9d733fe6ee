//! `gt agent-log replay` and `gt agent-log report` on a small fixture whose totals were
//! computed by hand (see the comments).

mod agent_log_common;
mod support;

use std::path::PathBuf;

use agent_log_common::{Town, records};
use otlp_capture::{Receiver, Value};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agent_log/claude")
}

// The fixture: sess-1.jsonl holds msg_1 (two lines; the larger wins: input 100, output 50,
// cache writes 1000, cache reads 2000, claude-sonnet-4-5), msg_2 (input 10, output 200, cache
// reads 3000, claude-sonnet-4-5), a broken line, and msg_3 (input 7, output 3, an unknown
// model) on the next day; sess-1/subagents/agent-a.jsonl holds msg_4 (input 20, output 30,
// claude-haiku-4-5). Rates per million: sonnet-4-5 3 / 15 / 3.75 (5-minute writes) / 0.3,
// haiku-4-5 1 / 5.
//   msg_1: 100*3 + 50*15 + 1000*3.75 + 2000*0.3 = 5400   -> 0.005400
//   msg_2:  10*3 + 200*15 + 3000*0.3             = 3930   -> 0.003930
//   msg_4:  20*1 + 30*5                          =  170   -> 0.000170
//   total cost 0.0095; input 137, output 283, cache reads 5000, cache writes 1000.
const TOTAL_COST: f64 = 0.0095;

/// `gt agent-log report --json ARGS… PATH`, which must succeed: the report and its stderr.
fn report_json(town: &Town, args: &[&str], path: &std::path::Path) -> (serde_json::Value, String) {
    let out = town
        .gt()
        .args(["agent-log", "report", "--json"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

#[test]
fn report_totals_match_the_hand_computed_ones() {
    let town = Town::new();
    let (report, stderr) = report_json(&town, &["--by", "model"], &fixture());
    let total = &report["total"];
    assert_eq!(total["usages"], 4);
    assert_eq!(total["input_tokens"], 137);
    assert_eq!(total["output_tokens"], 283);
    assert_eq!(total["cache_read_tokens"], 5000);
    assert_eq!(total["cache_creation_tokens"], 1000);
    assert_eq!(total["total_tokens"], 137 + 283 + 5000 + 1000);
    assert_eq!(total["unpriced_usages"], 1);
    assert!(
        (total["cost_usd"].as_f64().unwrap() - TOTAL_COST).abs() < 1e-12,
        "{total}"
    );
    let keys: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "claude-haiku-4-5-20251001",
            "claude-sonnet-4-5-20250929",
            "mystery-model-1"
        ]
    );
    assert!(stderr.contains("1 not JSON"), "{stderr}");
}

#[test]
fn report_of_a_work_dir_reads_its_project_directory_as_a_table() {
    let town = Town::new();
    let project = town.project();
    std::fs::create_dir_all(project.parent().unwrap()).unwrap();
    copy_dir(&fixture(), &project);
    let out = town
        .gt()
        .args(["agent-log", "report", "--by", "day", "--work-dir"])
        .arg(town.work_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("2026-01-05"), "{table}");
    assert!(table.contains("2026-01-06"), "{table}");
    let total = table.lines().last().unwrap();
    assert!(total.starts_with("Total"), "{table}");
    assert!(total.contains("+1 unpriced"), "{table}");
    assert!(total.contains("6,420"), "{table}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn replay_exports_every_record_once_with_transcript_times() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let stderr = replay_into(&town, &rx, &["--run-id", "run-7"]);
    let usages = records(&rx, "agent.usage");
    let events = records(&rx, "agent.event");
    // sess-1: user text, thinking, tool_use, tool_result, "Fixed.", "Hm."; agent-a: user
    // text, "Nothing found.".
    assert_eq!((usages.len(), events.len()), (4, 8));
    let msg1 = usages
        .iter()
        .find(|r| r.attr("output_tokens") == Some(&Value::Int(50)))
        .expect("msg_1 with its largest line");
    // 2026-01-05T10:00:02Z, the winning line's time.
    assert_eq!(msg1.time_unix_nano, 1_767_607_202_000_000_000);
    assert!(
        usages
            .iter()
            .all(|r| r.str_attr("session") == Some("gt-replay"))
    );
    assert!(usages.iter().all(|r| r.str_attr("run.id") == Some("run-7")));
    let cost: f64 = usages
        .iter()
        .filter_map(|r| r.attr("cost_usd").and_then(Value::as_f64))
        .filter(|c| c.is_finite())
        .sum();
    assert!((cost - TOTAL_COST).abs() < 1e-12, "{cost}");
    assert!(
        stderr.contains("4 agent.usage and 8 agent.event records exported"),
        "{stderr}"
    );
}

#[test]
fn replay_without_a_backend_configured_fails_saying_why() {
    let town = Town::new();
    let out = town
        .gt()
        .args(["agent-log", "replay"])
        .arg(fixture())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("telemetry is off"));
}

/// Runs `report --json` and `replay` on `dir`; returns each one's (usages, output tokens) and
/// their stderr.
fn report_and_replay_totals(
    town: &Town,
    dir: &std::path::Path,
) -> ((u64, u64), (u64, u64), String, String) {
    let (report, stderr) = report_json(town, &[], dir);
    let reported = (
        report["total"]["usages"].as_u64().unwrap(),
        report["total"]["output_tokens"].as_u64().unwrap(),
    );
    let rx = Receiver::start().unwrap();
    let replay = town
        .gt()
        .args(["agent-log", "replay", "--session", "gt-replay"])
        .arg(dir)
        .env("GT_OTEL_LOGS_URL", rx.url("/v1/logs"))
        .env("GT_OTEL_METRICS_URL", rx.url("/v1/metrics"))
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let usages = records(&rx, "agent.usage");
    let output: i64 = usages
        .iter()
        .filter_map(|r| match r.attr("output_tokens") {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        })
        .sum();
    let replayed = (usages.len() as u64, output as u64);
    (
        reported,
        replayed,
        stderr,
        String::from_utf8_lossy(&replay.stderr).into_owned(),
    )
}

#[test]
fn report_and_replay_agree_on_a_half_written_last_line() {
    use agent_log_common::message;
    let town = Town::new();
    let dir = town.dir.path().join("transcripts");
    std::fs::create_dir_all(&dir).unwrap();
    // a.jsonl ends in a complete record without its newline: it counts.
    std::fs::write(
        dir.join("a.jsonl"),
        format!("{}\n{}", message(1), message(2)),
    )
    .unwrap();
    // b.jsonl ends in a record cut in the middle: skipped, with a warning.
    let cut = message(4);
    std::fs::write(
        dir.join("b.jsonl"),
        format!("{}\n{}", message(3), &cut[..cut.len() / 2]),
    )
    .unwrap();
    let (reported, replayed, stderr, replay_stderr) = report_and_replay_totals(&town, &dir);
    // message(i) has output i + 1: 2 + 3 + 4.
    assert_eq!(reported, (3, 9), "{stderr}");
    assert_eq!(replayed, reported, "replay and report disagree");
    assert!(stderr.contains("1 unfinished"), "{stderr}");
    assert!(replay_stderr.contains("1 unfinished"), "{replay_stderr}");
}

/// A request with its own id and `output_tokens: i + 1`; every 100th is streamed in two lines
/// (the second, larger one wins).
fn streamed_request(i: usize) -> String {
    let line = |out: usize| {
        format!(
            r#"{{"type":"assistant","timestamp":"2026-01-05T10:00:00.000Z","sessionId":"s","requestId":"req_{i}","message":{{"id":"msg_{i}","model":"claude-sonnet-4-5","usage":{{"input_tokens":1,"output_tokens":{out}}}}}}}"#
        )
    };
    if i.is_multiple_of(100) {
        format!("{}\n{}\n", line(1), line(i + 1))
    } else {
        format!("{}\n", line(i + 1))
    }
}

#[test]
fn report_dedup_is_exact_past_a_hundred_thousand_requests() {
    const N: usize = 110_000;
    let town = Town::new();
    let dir = town.dir.path().join("projects");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, range: &mut dyn Iterator<Item = usize>| {
        let text: String = range.map(streamed_request).collect();
        std::fs::write(dir.join(name), text).unwrap();
    };
    write("a.jsonl", &mut (0..N / 2));
    write("b.jsonl", &mut (N / 2..N));
    // A resumed session copies requests from both ends of the history, long after the
    // oldest were counted (a bounded memory had forgotten them by then).
    write(
        "c.jsonl",
        &mut (0..1000).chain(N - 1000..N).chain(N / 2..N / 2 + 10),
    );
    let (report, _) = report_json(&town, &[], &dir);
    let total = &report["total"];
    assert_eq!(total["usages"], N);
    assert_eq!(total["input_tokens"], N);
    // Each request's larger line: output i + 1.
    assert_eq!(total["output_tokens"], N * (N + 1) / 2);
}

#[test]
fn report_and_replay_of_an_opencode_database_count_aborted_messages_alike() {
    let town = Town::new();
    let path = town.dir.path().join("opencode.db");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE session (id TEXT PRIMARY KEY, directory TEXT NOT NULL);
         CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL,
             time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL);
         CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT NOT NULL,
             session_id TEXT NOT NULL, time_created INTEGER NOT NULL,
             time_updated INTEGER NOT NULL, data TEXT NOT NULL);
         INSERT INTO session VALUES ('ses_1', '/w');",
    )
    .unwrap();
    let t0: i64 = 1_767_600_000_000;
    let message = |id: &str, updated: i64, extra: serde_json::Value, output: u64| {
        let mut data = serde_json::json!({
            "role": "assistant", "time": {"created": t0}, "modelID": "claude-sonnet-4-5",
            "tokens": {"input": output.min(1), "output": output}
        });
        for (k, v) in extra.as_object().unwrap() {
            data[k] = v.clone();
        }
        db.execute(
            "INSERT INTO message VALUES (?1, 'ses_1', ?2, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET data = excluded.data, time_updated = ?2",
            rusqlite::params![id, t0 + updated, data.to_string()],
        )
        .unwrap();
    };
    message(
        "msg_1",
        1,
        serde_json::json!({"time": {"created": t0, "completed": t0 + 1}}),
        10,
    );
    // Aborted by the user: an error recorded, never completed; its tokens were billed.
    message(
        "msg_2",
        2,
        serde_json::json!({"error": {"name": "MessageAbortedError", "data": {}}}),
        20,
    );
    // OpenCode died mid-reply: neither completed nor an error, but tokens.
    message("msg_3", 3, serde_json::json!({}), 30);
    // Nothing billed yet.
    message("msg_4", 4, serde_json::json!({}), 0);
    // Streamed, then completed: counted once, with its final tokens (the row is rewritten).
    message("msg_5", 5, serde_json::json!({}), 5);
    message(
        "msg_5",
        6,
        serde_json::json!({"time": {"created": t0, "completed": t0 + 6}}),
        40,
    );
    drop(db);
    let (reported, replayed, stderr, replay_stderr) = report_and_replay_totals(&town, &path);
    assert_eq!(reported, (4, 100), "{stderr}");
    assert_eq!(replayed, reported, "{replay_stderr}");
}

/// `replay` of the fixture into `rx` (agent output on).
fn replay_into(town: &Town, rx: &Receiver, extra: &[&str]) -> String {
    replay_into_with(town, rx, extra, &[])
}

/// [`replay_into`] with more environment variables.
fn replay_into_with(
    town: &Town,
    rx: &Receiver,
    extra: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> String {
    let out = town
        .gt()
        .args(["agent-log", "replay", "--session", "gt-replay"])
        .args(extra)
        .arg(fixture())
        .env("GT_OTEL_LOGS_URL", rx.url("/v1/logs"))
        .env("GT_OTEL_METRICS_URL", rx.url("/v1/metrics"))
        .env("GT_LOG_AGENT_OUTPUT", "true")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[test]
fn a_replayed_record_carries_the_same_record_id_and_usages_their_message_ids() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    replay_into(&town, &rx, &[]);
    replay_into(&town, &rx, &[]);
    let mut all = records(&rx, "agent.usage");
    all.extend(records(&rx, "agent.event"));
    assert_eq!(all.len(), 2 * (4 + 8));
    let mut ids: Vec<&str> = all
        .iter()
        .map(|r| {
            r.str_attr("record.id")
                .expect("every record has a record.id")
        })
        .collect();
    ids.sort_unstable();
    let delivered = ids.len();
    ids.dedup();
    // Each of the 12 records twice, under one id; no two records share one.
    assert_eq!((delivered, ids.len()), (24, 12), "{ids:?}");
    let usages = records(&rx, "agent.usage");
    let msg1 = usages
        .iter()
        .find(|r| r.attr("output_tokens") == Some(&Value::Int(50)))
        .expect("msg_1");
    assert_eq!(msg1.str_attr("message_id"), Some("msg_1"));
    assert!(
        msg1.str_attr("request_id")
            .is_some_and(|r| r.starts_with("req_")),
        "{msg1:?}"
    );
}

/// The lines of `stderr` that warn about retention.
fn retention_warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("older than the assumed retention"))
        .collect()
}

#[test]
fn replay_warns_once_about_records_older_than_the_assumed_retention() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    // The fixture was written on 2026-01-05: older than 7 days (the default) by now.
    let stderr = replay_into(&town, &rx, &[]);
    let warnings = retention_warnings(&stderr);
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("warning: 12 records are older than the assumed retention of 7 days")
            && warnings[0].contains("oldest 2026-01-05T10:00:00")
            && warnings[0].contains("-retentionPeriod"),
        "{stderr}"
    );
    // A retention that reaches back far enough, or none at all: no warning.
    let days = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1_767_571_200)
        / 86_400
        + 2;
    for extra in [
        vec!["--retention".to_owned(), days.to_string()],
        vec!["--retention".to_owned(), "0".to_owned()],
    ] {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let stderr = replay_into(&town, &rx, &extra);
        assert!(
            retention_warnings(&stderr).is_empty(),
            "{extra:?}: {stderr}"
        );
    }
}

/// Replays the fixture with `GT_PRICING_FILE` set to a file holding `pricing`; returns the
/// `pricing_version` of every priced usage, that of the unpriced one, and the file's
/// modification time.
fn versions_with_pricing_file(pricing: &str) -> (Vec<String>, Vec<String>, std::time::SystemTime) {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    let file = town.home().join("prices.json");
    std::fs::write(&file, pricing).unwrap();
    replay_into_with(&town, &rx, &[], &[("GT_PRICING_FILE", file.as_os_str())]);
    let usages = records(&rx, "agent.usage");
    assert_eq!(usages.len(), 4);
    let by_source = |source: &str| -> Vec<String> {
        usages
            .iter()
            .filter(|r| r.str_attr("cost_source") == Some(source))
            .map(|r| r.str_attr("pricing_version").unwrap_or("").to_owned())
            .collect()
    };
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    (by_source("local"), by_source("unpriced"), modified)
}

#[test]
fn a_pricing_file_names_its_version_else_its_modification_date() {
    let row = r#"{"id":"claude-haiku-4-5","input":2,"output":10,"cache_write_5m":2.5,"cache_write_1h":4,"cache_read":0.2}"#;
    let (priced, unpriced, _) =
        versions_with_pricing_file(&format!(r#"{{"version":"acme-2027-01","models":[{row}]}}"#));
    assert_eq!(priced, vec!["acme-2027-01"; 3]);
    assert_eq!(unpriced, vec!["acme-2027-01"]);

    let (priced, _, modified) = versions_with_pricing_file(&format!(r#"{{"models":[{row}]}}"#));
    let day = jiff::Timestamp::try_from(modified)
        .unwrap()
        .strftime("%Y-%m-%d")
        .to_string();
    assert_eq!(priced, vec![format!("file:{day}"); 3]);
}
