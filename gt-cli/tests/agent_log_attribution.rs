//! Work attribution of agent records (issue 10): every `agent.usage`/`agent.event` carries the
//! session's work-ledger entry current at the record's own timestamp, whichever way it was read
//! (`replay`, the follower, `report`), and the documented LogsQL sums cost per bead and rig.
//!
//! The ledger is written as its JSON lines with chosen times, so the expected attribution of
//! each transcript line is known by construction; totals are computed by hand below.

mod agent_log_common;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_log_common::{Running, Town, WAIT, assistant, records, usage_attr, wait_counts};
use otlp_capture::Receiver;
use serde_json::json;
use support::backends::{enabled as backends_enabled, logsql, number, poll, run_tag};
use support::run_ok;
use work_ledger::{Change, Entry, Source};

const MODEL: &str = "claude-sonnet-4-5";
const MINUTE: u64 = 60;

/// The documented queries (docs/operations.md, "Cost and tokens per bead and per rig").
const PER_BEAD: &str = "_msg:\"agent.usage\" | stats by (record.id, work_bead) max(input_tokens) input, max(output_tokens) output, max(cache_read_tokens) cache_read, max(cache_creation_tokens) cache_creation, max(cost_usd) usd | stats by (work_bead) count() requests, sum(input) input, sum(output) output, sum(cache_read) cache_read, sum(cache_creation) cache_creation, sum(usd) usd";
const PER_RIG: &str = "_msg:\"agent.usage\" | stats by (record.id, work_rig) max(input_tokens) input, max(output_tokens) output, max(cache_read_tokens) cache_read, max(cache_creation_tokens) cache_creation, max(cost_usd) usd | stats by (work_rig) count() requests, sum(input) input, sum(output) output, sum(cache_read) cache_read, sum(cache_creation) cache_creation, sum(usd) usd";

/// Three hours ago, on a whole second: the ledger's first entry. Recent enough for any
/// backend's retention.
fn base() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 180 * MINUTE
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The ledger of `session` under `state`: bead gt-A (rig r1, mol m-A) at `base`, gt-B (rig r1)
/// an hour later, gt-C (rig r2) two hours later.
fn write_ledger(state: &Path, session: &str, base: u64) {
    let dir = state.join("ledger");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for (offset, rig, bead, mol) in [
        (0, "r1", "gt-A", "m-A"),
        (60 * MINUTE, "r1", "gt-B", ""),
        (120 * MINUTE, "r2", "gt-C", ""),
    ] {
        let change = Change {
            rig: rig.into(),
            bead: bead.into(),
            mol: mol.into(),
            ..Change::default()
        };
        let ns = (base + offset) * 1_000_000_000;
        let entry = Entry::new(ns, session, change, Source::Flags);
        text.push_str(&serde_json::to_string(&entry).unwrap());
        text.push('\n');
    }
    let file = dir.join(format!(
        "{}.jsonl",
        work_ledger::file_stem(session).unwrap()
    ));
    std::fs::write(file, text).unwrap();
}

/// One usage line per request: (minutes after base, input, output, expected bead). Sonnet 4.5
/// costs 3 $/M input and 15 $/M output:
///   (none): 1000*3                  = 3000 -> 0.003000
///   gt-A:   (100+10)*3 + (50+200)*15 = 4080 -> 0.004080   (mol m-A)
///   gt-B:   20*3 + 30*15             =  510 -> 0.000510   (at B's time exactly: B)
///   gt-C:   7*3 + 3*15               =   66 -> 0.000066
/// rig r1 = A + B = 0.004590, rig r2 = 0.000066.
const LINES: [(i64, u64, u64, &str); 5] = [
    (-1, 1000, 0, ""),
    (30, 100, 50, "gt-A"),
    (45, 10, 200, "gt-A"),
    (60, 20, 30, "gt-B"),
    (150, 7, 3, "gt-C"),
];

/// The transcript of [`LINES`] in `dir`; returns its path.
fn transcript(dir: &Path, base: u64) -> PathBuf {
    let mut text = String::new();
    for (i, (minutes, input, output, _)) in LINES.iter().enumerate() {
        let secs = base.checked_add_signed(minutes * 60).unwrap();
        let ts = agent_transcripts::time::to_rfc3339(at(secs));
        text.push_str(&assistant(
            &ts,
            &format!("msg_{i}"),
            &format!("req_{i}"),
            MODEL,
            json!([{"type": "text", "text": format!("answer {i}")}]),
            json!({"input_tokens": input, "output_tokens": output}),
        ));
        text.push('\n');
    }
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("sess-a.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

/// A town whose session `session` has the ledger of [`write_ledger`] and the transcript of
/// [`transcript`] in its project directory.
fn town_with_history(session: &str) -> (Town, PathBuf) {
    let town = Town::new();
    let base = base();
    write_ledger(&town.state(), session, base);
    let file = transcript(&town.project(), base);
    (town, file)
}

/// `gt` for `town` with the work ledger's state directory set.
fn gt(town: &Town) -> Command {
    let mut cmd = town.gt();
    cmd.env("GT_STATE_DIR", town.state());
    cmd
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// `message_id` -> `work_bead` of the agent.usage records received (`""` when absent).
fn beads_by_message(rx: &Receiver) -> BTreeMap<String, String> {
    usage_attr(rx, "work_bead").into_iter().collect()
}

fn expected_beads() -> BTreeMap<String, String> {
    LINES
        .iter()
        .enumerate()
        .map(|(i, (_, _, _, bead))| (format!("msg_{i}"), (*bead).to_owned()))
        .collect()
}

#[test]
fn report_by_bead_rig_and_mol_match_a_hand_computation() {
    let session = "gt-attr-report";
    let (town, file) = town_with_history(session);
    let report = |by: &str| -> BTreeMap<String, (u64, f64)> {
        let out = run_ok(
            gt(&town)
                .args([
                    "agent-log",
                    "report",
                    "--json",
                    "--session",
                    session,
                    "--by",
                    by,
                ])
                .arg(&file),
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap().to_owned(),
                    (
                        r["total_tokens"].as_u64().unwrap(),
                        r["cost_usd"].as_f64().unwrap(),
                    ),
                )
            })
            .collect()
    };
    let beads = report("bead");
    assert_eq!(
        beads.keys().map(String::as_str).collect::<Vec<_>>(),
        ["(none)", "gt-A", "gt-B", "gt-C"]
    );
    for (bead, tokens, usd) in [
        ("(none)", 1000, 0.003),
        ("gt-A", 360, 0.00408),
        ("gt-B", 50, 0.00051),
        ("gt-C", 10, 0.000066),
    ] {
        let (t, c) = beads[bead];
        assert_eq!(t, tokens, "{bead}");
        assert!(close(c, usd), "{bead}: {c} vs {usd}");
    }
    let rigs = report("rig");
    assert_eq!(rigs.len(), 3, "{rigs:?}");
    assert!(close(rigs["r1"].1, 0.00459), "{rigs:?}");
    assert!(close(rigs["r2"].1, 0.000066), "{rigs:?}");
    assert_eq!(rigs["r1"].0, 410);
    let mols = report("mol");
    assert_eq!(mols["m-A"].0, 360, "{mols:?}");
    assert_eq!(mols["(none)"].0, 1060, "{mols:?}");

    // Without a session, a per-bead report is refused with what to pass.
    let out = gt(&town)
        .args(["agent-log", "report", "--by", "bead"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--session"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn replay_and_follow_attribute_each_record_by_its_own_time() {
    let session = "gt-attr-replay";
    let (town, file) = town_with_history(session);

    let replayed = Receiver::start().unwrap();
    run_ok(
        gt(&town)
            .args(["agent-log", "replay", "--session", session])
            .arg(&file)
            .env("GT_OTEL_LOGS_URL", replayed.url("/v1/logs"))
            .env("GT_OTEL_METRICS_URL", replayed.url("/v1/metrics"))
            .env("GT_LOG_AGENT_OUTPUT", "true")
            .env("GT_WORK_BEAD", "stale-env"),
    );
    wait_counts(&replayed, LINES.len(), LINES.len(), &|| String::new());
    assert_eq!(beads_by_message(&replayed), expected_beads());
    // The conversation events of a line carry the same bead as its usage.
    for r in records(&replayed, "agent.event") {
        let text = r.str_attr("content").unwrap_or_default().to_owned();
        let i: usize = text.trim_start_matches("answer ").parse().unwrap();
        assert_eq!(r.str_attr("work_bead").unwrap_or_default(), LINES[i].3);
    }
    // Mol and rig come from the same entry.
    let msg1 = records(&replayed, "agent.usage")
        .into_iter()
        .find(|r| r.str_attr("message_id") == Some("msg_1"))
        .unwrap();
    assert_eq!(
        (msg1.str_attr("work_rig"), msg1.str_attr("work_mol")),
        (Some("r1"), Some("m-A"))
    );
    // The follower, started long after the records were written, attributes them alike.
    let followed = Receiver::start().unwrap();
    let mut cmd = town.follow(session, &followed.url("/v1/logs"), &followed);
    cmd.env("GT_STATE_DIR", town.state())
        .env("GT_WORK_BEAD", "stale-env")
        .args(["--since", "2000-01-01T00:00:00Z"]);
    let running = Running::start(&mut cmd, town.dir.path().join("follow.err"));
    wait_counts(&followed, LINES.len(), LINES.len(), &|| running.stderr());
    assert_eq!(beads_by_message(&followed), expected_beads());
    // The token metrics carry no work labels (a bead is unbounded).
    let points = followed.wait_for_metric("gastown.token.usage", WAIT);
    assert!(!points.is_empty());
    for p in &points {
        assert!(
            p.attributes.iter().all(|(k, _)| !k.starts_with("work_")),
            "{:?}",
            p.attributes
        );
    }
}

#[test]
fn the_tested_queries_are_the_documented_ones() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md"),
    )
    .unwrap();
    for query in [PER_BEAD, PER_RIG] {
        assert!(doc.contains(query), "docs/operations.md lacks {query}");
    }
}

#[test]
fn per_bead_and_per_rig_cost_from_the_documented_logsql() {
    if !backends_enabled() {
        return;
    }
    const VL: &str = "http://127.0.0.1:9428";
    let tag = run_tag("agent-log-attr");
    let session = format!("gt-attr-{}", std::process::id());
    let (town, file) = town_with_history(&session);
    let metrics = Receiver::start().unwrap();
    // Twice: the documented queries count each request once.
    for _ in 0..2 {
        run_ok(
            gt(&town)
                .args(["agent-log", "replay", "--session", &session])
                .arg(&file)
                .env(
                    "GT_OTEL_LOGS_URL",
                    format!("{VL}/insert/opentelemetry/v1/logs"),
                )
                .env("GT_OTEL_METRICS_URL", metrics.url("/v1/metrics"))
                .env("OTEL_RESOURCE_ATTRIBUTES", format!("test.run={tag}")),
        );
    }
    let ours = format!("test.run:\"{tag}\" ");
    let rows = |query: &str, key: &str| -> Option<BTreeMap<String, (f64, f64, f64)>> {
        let rows = logsql(VL, &format!("{ours}{query}"));
        let map: BTreeMap<String, (f64, f64, f64)> = rows
            .iter()
            .map(|r| {
                (
                    r[key].as_str().unwrap_or_default().to_owned(),
                    (
                        number(r, "requests"),
                        number(r, "input") + number(r, "output"),
                        number(r, "usd"),
                    ),
                )
            })
            .collect();
        let requests: f64 = map.values().map(|v| v.0).sum();
        (requests >= LINES.len() as f64).then_some(map)
    };
    let beads = poll(Duration::from_secs(60), || rows(PER_BEAD, "work_bead"))
        .expect("the replayed records in VictoriaLogs");
    for (bead, requests, tokens, usd) in [
        ("", 1.0, 1000.0, 0.003),
        ("gt-A", 2.0, 360.0, 0.00408),
        ("gt-B", 1.0, 50.0, 0.00051),
        ("gt-C", 1.0, 10.0, 0.000066),
    ] {
        let got = beads.get(bead).copied().unwrap_or_default();
        assert_eq!((got.0, got.1), (requests, tokens), "{bead}: {beads:?}");
        assert!((got.2 - usd).abs() < 1e-9, "{bead}: {beads:?}");
    }
    assert_eq!(beads.len(), 4, "{beads:?}");
    let rigs = rows(PER_RIG, "work_rig").expect("rows per rig");
    assert_eq!(rigs.len(), 3, "{rigs:?}");
    assert_eq!((rigs["r1"].0, rigs["r1"].1), (3.0, 410.0), "{rigs:?}");
    assert!((rigs["r1"].2 - 0.00459).abs() < 1e-9, "{rigs:?}");
    assert!((rigs["r2"].2 - 0.000066).abs() < 1e-9, "{rigs:?}");
}
