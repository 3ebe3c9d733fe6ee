//! The whole work-attribution flow of issue 10, as an agent lives it: a tmux session (the agent)
//! and `gt agent-log` following its Claude Code transcripts start before any work is primed;
//! `gt prime` then hooks bead A, the agent calls `gt bd` and writes usage, `gt prime` hooks
//! bead B, more calls and usage. At the OTLP receiver every record made after prime A carries A
//! and every one after prime B carries B: `bd.call` records, and the transcript records whose
//! own timestamps decide, also when read after a restart of agent-log and by `replay`.

mod agent_log_common;
mod support;

use std::process::Command;
use std::time::{Duration, SystemTime};

use agent_log_common::{Running, Town, WAIT, append, assistant, poll_until, records, usage_attr};
use otlp_capture::{Receiver, Value};
use serde_json::json;
use support::{FakeBd, TmuxServer, one_issue, run_ok};

const TOAST: &str = "gastown/polecats/Toast";

/// A fake bd answering `list --status=hooked` with the file `hooked` next to it.
fn hooking_bd() -> FakeBd {
    FakeBd::new(
        "case \"$*\" in\n\
           list*status=hooked*) cat \"$(dirname \"$LOG\")/hooked\";;\n\
           list*) echo '[]';;\n\
           *) echo ok;;\n\
         esac",
    )
}

fn hook(bd: &FakeBd, bead: &str) {
    std::fs::write(
        bd.dir.path().join("hooked"),
        one_issue(bead, "Work", "attached_molecule: mol-x\n"),
    )
    .unwrap();
}

/// A usage line stamped a little after now (so after any prime that returned before).
fn usage_line(id: &str) -> String {
    let ts = agent_transcripts::time::to_rfc3339(SystemTime::now() + Duration::from_millis(2));
    assistant(
        &ts,
        id,
        &format!("req-{id}"),
        "claude-sonnet-4-5",
        json!([{"type": "text", "text": id}]),
        json!({"input_tokens": 10, "output_tokens": 20}),
    ) + "\n"
}

fn usage_beads(rx: &Receiver) -> Vec<(String, String)> {
    usage_attr(rx, "work_bead")
}

/// Every usage message `a-*` carries gt-A and every `b-*` gt-B; `ids` all arrived.
fn assert_attributed(rx: &Receiver, ids: &[&str], context: &dyn Fn() -> String) {
    assert!(
        poll_until(WAIT, || {
            let got = usage_beads(rx);
            ids.iter().all(|id| got.iter().any(|(m, _)| m == id))
        }),
        "missing usage records: {:?}\n{}",
        usage_beads(rx),
        context()
    );
    for (id, bead) in usage_beads(rx) {
        let want = if id.starts_with("a-") { "gt-A" } else { "gt-B" };
        assert_eq!(bead, want, "{id}: {:?}", usage_beads(rx));
    }
    for r in records(rx, "agent.event") {
        let id = r.str_attr("content").unwrap_or_default().to_owned();
        let want = if id.starts_with("a-") { "gt-A" } else { "gt-B" };
        assert_eq!(r.str_attr("work_bead"), Some(want), "agent.event {id}");
    }
}

#[test]
fn every_record_after_a_prime_carries_its_bead_live_after_a_restart_and_replayed() {
    let town = Town::new();
    let state = town.state();
    let session = format!("flow-{}", std::process::id());
    // The agent: a tmux session, alive before any prime, its environment fixed (and stale).
    let tmux = TmuxServer::start(&session);
    let bd = hooking_bd();
    let rx = Receiver::start().unwrap();
    let agent = |args: &[&str]| -> Command {
        let mut cmd = town.gt();
        cmd.args(args)
            .env("GT_STATE_DIR", &state)
            .env("TMUX", tmux.tmux_env())
            .env("GT_ROLE", TOAST)
            .env("GT_BD_BIN", bd.path())
            .env("GT_WORK_BEAD", "stale-at-agent-start")
            .env("GT_OTEL_LOGS_URL", rx.url("/v1/logs"))
            .env("GT_OTEL_METRICS_URL", rx.url("/v1/metrics"));
        cmd
    };
    let follow = |rx: &Receiver| -> Command {
        let mut cmd = town.follow(&session, &rx.url("/v1/logs"), rx);
        cmd.env("GT_STATE_DIR", &state)
            .env("GT_WORK_BEAD", "stale-at-agent-start");
        cmd
    };
    // agent-log follows before the first prime.
    let mut follower = Running::start(&mut follow(&rx), town.dir.path().join("follow1.err"));
    let transcript = town.project().join("sess-a.jsonl");

    hook(&bd, "gt-A");
    run_ok(&mut agent(&["prime", "--no-retry"]));
    run_ok(&mut agent(&["bd", "--", "ready", "call-a"]));
    append(&transcript, &(usage_line("a-1") + &usage_line("a-2")));

    hook(&bd, "gt-B");
    run_ok(&mut agent(&["prime", "--no-retry"]));
    run_ok(&mut agent(&["bd", "--", "ready", "call-b"]));
    append(&transcript, &(usage_line("b-1") + &usage_line("b-2")));

    assert_attributed(&rx, &["a-1", "a-2", "b-1", "b-2"], &|| follower.stderr());

    // `done` names the rig and bead of the session's current work, and how long the bead has
    // been current: from prime B's ledger entry to the record's own time (the ledger is
    // re-primed with B once more first: a repeated prime does not restart the clock).
    run_ok(&mut agent(&["prime", "--no-retry"]));
    run_ok(&mut agent(&[
        "otel",
        "emit",
        "done",
        "--attr",
        "exit_type=COMPLETED",
    ]));
    let entries = work_ledger::Ledger::new(&state, &session)
        .unwrap()
        .entries()
        .unwrap()
        .value;
    let beads: Vec<&str> = entries.iter().map(|e| e.bead.as_str()).collect();
    assert_eq!(beads, ["gt-A", "gt-B", "gt-B"]);
    let done = rx
        .wait_until(WAIT, |rx| records(rx, "done").into_iter().next())
        .expect("a done record");
    assert_eq!(done.str_attr("bead_id"), Some("gt-B"));
    assert_eq!(done.str_attr("rig"), Some(entries[1].rig.as_str()));
    assert!(!entries[1].rig.is_empty());
    let Some(Value::Int(ttc)) = done.attr("time_to_complete_ms").cloned() else {
        panic!("no time_to_complete_ms: {done:?}");
    };
    let since_b_ms = (done.time_unix_nano - entries[1].time_ns) / 1_000_000;
    let ttc = u64::try_from(ttc).unwrap();
    assert!(
        ttc <= since_b_ms && since_b_ms - ttc < 5_000,
        "time_to_complete_ms {ttc}, prime B to the record {since_b_ms} ms"
    );
    assert!(
        (done.time_unix_nano - entries[2].time_ns) / 1_000_000 < ttc,
        "counted from the first prime of B, not the repeated one"
    );

    // gt bd's own records carry the bead of the prime before them.
    let calls = records(&rx, "bd.call");
    for (arg, bead) in [("call-a", "gt-A"), ("call-b", "gt-B")] {
        let call = calls
            .iter()
            .find(|r| r.str_attr("args").is_some_and(|a| a.contains(arg)))
            .unwrap_or_else(|| panic!("no bd.call {arg}: {calls:?}"));
        assert_eq!(call.str_attr("work_bead"), Some(bead), "{arg}");
    }

    // Killed and started again: usage written meanwhile is read after the restart and still
    // carries the bead current at its own time.
    follower.kill9();
    append(&transcript, &usage_line("b-3"));
    let restarted = Running::start(&mut follow(&rx), town.dir.path().join("follow2.err"));
    assert_attributed(&rx, &["a-1", "a-2", "b-1", "b-2", "b-3"], &|| {
        restarted.stderr()
    });

    // replay of the same transcript attributes every record alike.
    let replayed = Receiver::start().unwrap();
    run_ok(
        town.gt()
            .args(["agent-log", "replay", "--session", &session])
            .arg(&transcript)
            .env("GT_STATE_DIR", &state)
            .env("GT_LOG_AGENT_OUTPUT", "true")
            .env("GT_OTEL_LOGS_URL", replayed.url("/v1/logs"))
            .env("GT_OTEL_METRICS_URL", replayed.url("/v1/metrics")),
    );
    assert_attributed(
        &replayed,
        &["a-1", "a-2", "b-1", "b-2", "b-3"],
        &String::new,
    );
    assert_eq!(records(&replayed, "agent.usage").len(), 5);
    drop(restarted);
}
