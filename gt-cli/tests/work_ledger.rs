//! Work attribution that follows the agent (issue 10): `gt prime` writes the session's work
//! ledger, and every later gt process of that session reads it at start, whatever its own
//! (fixed, possibly stale) environment says. Real processes, a real OTLP receiver, a private
//! tmux server, a fake `bd` whose answer the test changes between primes.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use otlp_capture::{LogRecord, Receiver, Value};
use support::{FakeBd, TmuxServer, gt, one_issue, run_ok, state_dir};
use work_ledger::{Ledger, Source};

const WAIT: Duration = Duration::from_secs(20);
const TOAST: &str = "gastown/polecats/Toast";

/// A fake bd whose `list --status=hooked` answer is the file `answer` in its directory, and
/// that logs the work context its environment carries for every other call.
fn switchable_bd() -> FakeBd {
    FakeBd::new(
        "DIR=$(dirname \"$LOG\")\n\
         case \"$*\" in\n\
           list*status=hooked*) cat \"$DIR/answer\";;\n\
           list*) echo '[]';;\n\
           *) printf '%s|%s|%s\\n' \"$*\" \"$GT_WORK_BEAD\" \"$OTEL_RESOURCE_ATTRIBUTES\" >> \"$DIR/work.log\"; echo ok;;\n\
         esac",
    )
}

fn answer(bd: &FakeBd, bead: &str) {
    let issue = one_issue(bead, "Work", &format!("attached_molecule: mol-{bead}\n"));
    std::fs::write(bd.dir.path().join("answer"), issue).unwrap();
}

/// The agent's environment, fixed before the first prime and shared by every command (as a
/// long-lived agent's children all inherit the same one).
fn agent(state: &Path, receiver: &Receiver, bd: &FakeBd, session: &str) -> Command {
    let mut cmd = gt();
    cmd.env("GT_STATE_DIR", state)
        .env("GT_SESSION", session)
        .env("GT_ROLE", TOAST)
        .env("GT_BD_BIN", bd.path())
        .env("GT_WORK_BEAD", "stale-at-agent-start")
        .env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
        .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics"));
    cmd
}

fn bd_calls(logs: &[LogRecord], subcommand: &str) -> Vec<LogRecord> {
    let mut calls: Vec<LogRecord> = logs
        .iter()
        .filter(|r| r.body_str() == Some("bd.call") && r.str_attr("subcommand") == Some(subcommand))
        .cloned()
        .collect();
    calls.sort_by_key(|r| r.time_unix_nano);
    calls
}

#[test]
fn records_after_each_prime_carry_that_primes_bead_though_the_agent_env_is_stale() {
    let state = state_dir();
    let receiver = Receiver::start().unwrap();
    let bd = switchable_bd();
    let session = "gt-gastown-Toast";

    answer(&bd, "gt-A");
    run_ok(agent(&state, &receiver, &bd, session).args(["prime", "--no-retry"]));
    run_ok(agent(&state, &receiver, &bd, session).args(["bd", "--", "ready", "first"]));
    answer(&bd, "gt-B");
    run_ok(agent(&state, &receiver, &bd, session).args(["prime", "--no-retry"]));
    run_ok(agent(&state, &receiver, &bd, session).args(["bd", "--", "ready", "second"]));

    // At the receiver: each gt bd call carries the bead of the prime before it.
    let logs = receiver.wait_until(WAIT, |r| {
        let logs = r.logs();
        (bd_calls(&logs, "ready").len() >= 2).then_some(logs)
    });
    let logs = logs.expect("two bd.call ready records");
    let ready = bd_calls(&logs, "ready");
    assert_eq!(ready.len(), 2);
    assert_eq!(ready[0].str_attr("work_bead"), Some("gt-A"));
    assert_eq!(ready[0].str_attr("work_mol"), Some("mol-gt-A"));
    assert_eq!(ready[0].str_attr("work_rig"), Some("gastown"));
    assert_eq!(ready[1].str_attr("work_bead"), Some("gt-B"));
    assert_eq!(ready[1].str_attr("work_mol"), Some("mol-gt-B"));
    // Every record made after prime A (prime B's own bd list included) carries A until
    // prime B set B; every record from prime B on carries B.
    let primes: Vec<&LogRecord> = {
        let mut p: Vec<&LogRecord> = logs
            .iter()
            .filter(|r| r.body_str() == Some("prime"))
            .collect();
        p.sort_by_key(|r| r.time_unix_nano);
        p
    };
    assert_eq!(primes.len(), 2);
    assert_eq!(primes[0].str_attr("work_bead"), Some("gt-A"));
    assert_eq!(primes[1].str_attr("work_bead"), Some("gt-B"));
    for record in logs
        .iter()
        .filter(|r| r.time_unix_nano > primes[0].time_unix_nano)
    {
        let expected = if record.time_unix_nano >= primes[1].time_unix_nano {
            "gt-B"
        } else {
            "gt-A"
        };
        assert_eq!(
            record.str_attr("work_bead"),
            Some(expected),
            "{:?} at {}",
            record.body_str(),
            record.time_unix_nano
        );
    }
    // The stale start-up value reaches nothing after the first prime, and no resource carries
    // a work attribute.
    for record in &logs {
        assert!(
            record.resource_attr("gt.work_bead").is_none(),
            "resource of {:?}",
            record.body_str()
        );
    }
    // The children got the freshly resolved context in their environment.
    let seen = std::fs::read_to_string(bd.dir.path().join("work.log")).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines.len(), 2, "{seen}");
    assert!(lines[0].starts_with("ready first|gt-A|"), "{seen}");
    assert!(lines[0].contains("gt.work_bead=gt-A"), "{seen}");
    assert!(lines[1].starts_with("ready second|gt-B|"), "{seen}");
    assert!(lines[1].contains("gt.work_bead=gt-B"), "{seen}");

    // The ledger holds both, in order, with their sources.
    let entries = Ledger::new(&state, session).unwrap().entries().unwrap();
    assert_eq!(entries.corrupt_lines, 0);
    let beads: Vec<(&str, Source)> = entries
        .value
        .iter()
        .map(|e| (e.bead.as_str(), e.source))
        .collect();
    assert_eq!(
        beads,
        vec![("gt-A", Source::PrimeHook), ("gt-B", Source::PrimeHook)]
    );
    assert_eq!(entries.value[1].role, TOAST);
}

#[test]
fn an_empty_hook_clears_the_context_for_later_records() {
    let state = state_dir();
    let receiver = Receiver::start().unwrap();
    let bd = switchable_bd();
    answer(&bd, "gt-A");
    run_ok(agent(&state, &receiver, &bd, "s").args(["prime", "--no-retry"]));
    std::fs::write(bd.dir.path().join("answer"), "No issues found.\n").unwrap();
    run_ok(agent(&state, &receiver, &bd, "s").args(["prime", "--no-retry"]));
    run_ok(agent(&state, &receiver, &bd, "s").args(["bd", "--", "ready"]));
    let logs = receiver
        .wait_until(WAIT, |r| {
            let logs = r.logs();
            (!bd_calls(&logs, "ready").is_empty()).then_some(logs)
        })
        .expect("bd.call ready");
    let ready = &bd_calls(&logs, "ready")[0];
    assert_eq!(ready.str_attr("work_bead"), None, "cleared, not stale");
    let current = Ledger::new(&state, "s")
        .unwrap()
        .current()
        .unwrap()
        .value
        .unwrap();
    assert_eq!(
        (current.bead.as_str(), current.source),
        ("", Source::EmptyHook)
    );
}

#[test]
fn prime_with_a_new_bead_exports_nothing_carrying_the_stale_one() {
    const OLD: &str = "stale-bead-0ld";
    let receiver = Receiver::start().unwrap();
    let out = run_ok(
        gt().args(["prime", "--bead", "new-bead", "--json"])
            .env("GT_ROLE", TOAST)
            .env("GT_SESSION", "s")
            .env("GT_WORK_BEAD", OLD)
            .env("GT_WORK_MOL", OLD)
            .env(
                "OTEL_RESOURCE_ATTRIBUTES",
                format!("team=ops,gt.work_bead={OLD}"),
            )
            .env("GT_OTEL_LOGS_URL", receiver.url("/v1/logs"))
            .env("GT_OTEL_METRICS_URL", receiver.url("/v1/metrics")),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["work_bead"], "new-bead");
    let (logs, metrics) = receiver
        .wait_until(WAIT, |r| {
            let (logs, metrics) = (r.logs(), r.metrics());
            let prime = logs.iter().any(|l| l.body_str() == Some("prime"));
            (prime && !metrics.is_empty()).then_some((logs, metrics))
        })
        .expect("prime's record and metrics");
    let carries_old = |pairs: &[(String, Value)]| {
        pairs
            .iter()
            .any(|(k, v)| format!("{k}={v:?}").contains(OLD))
    };
    for record in &logs {
        assert!(
            !carries_old(&record.resource),
            "resource {:?}",
            record.resource
        );
        assert!(!carries_old(&record.attributes), "{:?}", record.attributes);
    }
    for point in &metrics {
        assert!(
            !carries_old(&point.resource),
            "resource {:?}",
            point.resource
        );
        assert!(
            !carries_old(&point.attributes),
            "{} {:?}",
            point.name,
            point.attributes
        );
    }
    let prime = logs.iter().find(|l| l.body_str() == Some("prime")).unwrap();
    assert_eq!(prime.str_attr("work_bead"), Some("new-bead"));
    assert_eq!(
        prime.str_attr("work_mol"),
        None,
        "--bead alone clears the molecule"
    );
    assert_eq!(
        prime.resource_attr("team").and_then(Value::as_str),
        Some("ops"),
        "foreign resource attributes stay"
    );
}

#[test]
fn twenty_parallel_primes_leave_one_consistent_context_in_tmux_and_the_ledger() {
    let state = state_dir();
    let tmux = TmuxServer::start("busy");
    let children: Vec<_> = (0..20)
        .map(|i| {
            gt().args(["prime", "--role", "mayor"])
                .args(["--bead", &format!("b{i}"), "--mol", &format!("m{i}")])
                .args(["--work-rig", &format!("r{i}")])
                .env("GT_STATE_DIR", &state)
                .env("TMUX", tmux.tmux_env())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bead = tmux.get("GT_WORK_BEAD").expect("bead set");
    let i = bead.strip_prefix('b').expect("one of ours");
    assert_eq!(tmux.get("GT_WORK_MOL"), Some(format!("m{i}")));
    assert_eq!(tmux.get("GT_WORK_RIG"), Some(format!("r{i}")));
    // The session was found through $TMUX; the ledger agrees with tmux (same lock, same order).
    let ledger = Ledger::new(&state, "busy").unwrap();
    let entries = ledger.entries().unwrap();
    assert_eq!((entries.value.len(), entries.corrupt_lines), (20, 0));
    for entry in &entries.value {
        let j = entry.bead.strip_prefix('b').unwrap();
        assert_eq!(
            (entry.mol.as_str(), entry.rig.as_str()),
            (&*format!("m{j}"), &*format!("r{j}"))
        );
        assert_eq!(entry.source, Source::Flags);
    }
    let current = ledger.current().unwrap().value.unwrap();
    assert_eq!(
        current.bead, bead,
        "tmux and the ledger name the same prime"
    );
}

#[test]
fn an_unwritable_state_dir_is_one_warning_and_tmux_still_gets_the_context() {
    let tmux = TmuxServer::start("ro");
    let not_a_dir = tempfile::NamedTempFile::new().unwrap();
    let out = run_ok(
        gt().args(["prime", "--role", "mayor", "--bead", "gt-7"])
            .env("GT_STATE_DIR", not_a_dir.path())
            .env("GT_SESSION", "ro")
            .env("TMUX", tmux.tmux_env()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("work ledger"), "{stderr}");
    assert_eq!(tmux.get("GT_WORK_BEAD").as_deref(), Some("gt-7"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ledger: not recorded"));
}

#[test]
fn otel_env_survives_eval_in_sh_with_hostile_values_and_carries_the_ledger_context() {
    let state = state_dir();
    let hostile = "it's \"$(touch pwned)\" `id` $HOME \\ ;|& \n second line";
    run_ok(
        gt().args(["prime", "--role", "mayor", "--bead", hostile])
            .env("GT_STATE_DIR", &state)
            .env("GT_SESSION", "s"),
    );
    let work_dir = tempfile::tempdir().unwrap();
    let out = run_ok(
        gt().args(["otel", "env", "--shell", "sh"])
            .env("GT_STATE_DIR", &state)
            .env("GT_SESSION", "s")
            .env("GT_ROLE", hostile)
            .env("GT_WORK_BEAD", "stale")
            .env("GT_OTEL_LOGS_URL", "http://127.0.0.1:1/v1/logs"),
    );
    let script = String::from_utf8(out.stdout).unwrap();
    let shown = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{script}\nprintf '%s' \"$GT_WORK_BEAD\" > bead; printf '%s' \"$OTEL_RESOURCE_ATTRIBUTES\" > attrs"
        ))
        .current_dir(work_dir.path())
        .env_clear()
        .status()
        .unwrap();
    assert!(shown.success(), "{script}");
    assert!(!work_dir.path().join("pwned").exists(), "nothing executed");
    let bead = std::fs::read_to_string(work_dir.path().join("bead")).unwrap();
    assert_eq!(
        bead, hostile,
        "the ledger's bead, unchanged, not the stale env"
    );
    let attrs = std::fs::read_to_string(work_dir.path().join("attrs")).unwrap();
    let attrs = telemetry_core::resource::parse_resource_attributes(&attrs);
    assert!(
        attrs.contains(&("gt.role".to_owned(), hostile.to_owned())),
        "{attrs:?}"
    );
    assert!(
        attrs.contains(&("gt.work_bead".to_owned(), hostile.to_owned())),
        "{attrs:?}"
    );
    // Telemetry off: nothing to export, nothing printed.
    let off = run_ok(gt().args(["otel", "env"]).env("GT_SESSION", "s"));
    assert!(off.stdout.is_empty());
}

#[test]
fn gt_work_shows_the_current_context_and_history() {
    let state = state_dir();
    for bead in ["gt-1", "gt-2"] {
        run_ok(
            gt().args(["prime", "--role", "mayor", "--bead", bead])
                .env("GT_STATE_DIR", &state)
                .env("GT_SESSION", "w"),
        );
    }
    let out = run_ok(
        gt().args(["work", "--json"])
            .env("GT_STATE_DIR", &state)
            .env("GT_SESSION", "w"),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["session"], "w");
    assert_eq!(json["current"]["bead"], "gt-2");
    let history = json["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["bead"], "gt-1");
    assert_eq!(history[1]["source"], "flags");
    let text = run_ok(
        gt().arg("work")
            .env("GT_STATE_DIR", &state)
            .env("GT_SESSION", "w"),
    );
    assert!(String::from_utf8_lossy(&text.stdout).contains("bead=gt-2"));
    let none = gt().arg("work").output().unwrap();
    assert!(!none.status.success(), "no session is an error");
}
