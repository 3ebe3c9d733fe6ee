//! `gt session start|stop` on a private tmux server, read back at the capture receiver: one
//! trace per session, rooted at `gt.session` (trace id = the run id), with the agent's own gt
//! calls (started in tmux, possibly long after `start` exited) as its children.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use otlp_capture::{Receiver, Span};
use support::{FakeBd, TmuxServer, gt, run_ok};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn wait_for_file(path: &Path) -> bool {
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[test]
fn a_session_is_one_trace_from_start_to_stop_with_the_agents_calls_under_its_root() {
    let rx = Receiver::start().unwrap();
    let tmux = TmuxServer::start("base");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let bd = FakeBd::new("echo '[]'");
    let done = dir.path().join("agent.done");
    // The agent: primes, asks bd through gt, then says it is done. Its environment is the one
    // `gt session start` gave it (identity, TRACEPARENT, endpoints, GT_BD_BIN inherited).
    let agent = dir.path().join("agent.sh");
    std::fs::write(
        &agent,
        format!(
            "env > '{env}'\n'{gt}' prime\n'{gt}' bd list\ntouch '{done}'\nsleep 600\n",
            env = dir.path().join("agent.env").display(),
            gt = env!("CARGO_BIN_EXE_gt"),
            done = done.display()
        ),
    )
    .unwrap();
    let session = "gt-test-Toast";
    let with_env = |cmd: &mut std::process::Command| {
        cmd.env("TMUX", tmux.tmux_env())
            .env("GT_STATE_DIR", &state)
            .env("GT_BD_BIN", bd.path())
            .env("GT_OTEL_METRICS_URL", rx.url("/v1/metrics"))
            .env("GT_OTEL_LOGS_URL", rx.url("/v1/logs"))
            .env("GT_OTEL_TRACES_URL", rx.url("/v1/traces"));
    };
    let mut start = gt();
    with_env(&mut start);
    start
        .args(["session", "start", "--role", "gastown/polecats/Toast"])
        .args(["--session", session, "--work-dir"])
        .arg(&work)
        .args(["--", "sh"])
        .arg(&agent);
    let out = run_ok(&mut start);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let run_id = stdout
        .split("(run ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no run id in {stdout}"))
        .to_owned();
    assert!(wait_for_file(&done), "the agent did not finish");
    let agent_env = std::fs::read_to_string(dir.path().join("agent.env")).unwrap();
    assert!(agent_env.contains(&format!("GT_RUN={run_id}")), "{agent_env}");
    assert!(agent_env.contains(&format!("GT_SESSION={session}")));
    assert!(agent_env.contains("CLAUDE_CODE_ENABLE_TELEMETRY=1"));
    assert!(agent_env.contains("OTEL_LOG_USER_PROMPTS=0"));

    let mut stop = gt();
    with_env(&mut stop);
    stop.args(["session", "stop", "--session", session]);
    run_ok(&mut stop);
    assert!(!tmux_has(&tmux, session), "stop closes the tmux session");

    let spans = rx
        .wait_until(Duration::from_secs(30), |rx| {
            let spans = rx.spans();
            spans.iter().any(|s| s.name == "gt.session").then_some(spans)
        })
        .unwrap_or_else(|| panic!("no gt.session span in {:#?}", rx.spans()));
    let root = named(&spans, "gt.session")[0];
    let trace = run_id.replace('-', "");
    assert_eq!(hex(&root.trace_id), trace);
    assert!(root.parent_span_id.is_empty(), "{root:#?}");
    for name in ["session.start", "agent.instantiate", "prime", "session.stop"] {
        let found = named(&spans, name);
        assert_eq!(found.len(), 1, "{name} in {spans:#?}");
        assert_eq!(found[0].parent_span_id, root.span_id, "{name}'s parent is the root");
        assert_eq!(hex(&found[0].trace_id), trace, "{name}");
    }
    let prime = named(&spans, "prime")[0];
    let calls = named(&spans, "bd.call");
    assert!(calls.len() >= 2, "{spans:#?}");
    assert!(
        calls.iter().any(|c| c.parent_span_id == prime.span_id),
        "prime's bd calls are its children"
    );
    assert!(
        calls.iter().any(|c| c.parent_span_id == root.span_id),
        "the agent's own gt bd is the root's child"
    );
    assert!(calls.iter().all(|c| hex(&c.trace_id) == trace));
}

fn tmux_has(tmux: &TmuxServer, session: &str) -> bool {
    std::process::Command::new("tmux")
        .args(["-L", &tmux.name, "has-session", "-t", &format!("={session}")])
        .env_remove("TMUX")
        .status()
        .is_ok_and(|s| s.success())
}
