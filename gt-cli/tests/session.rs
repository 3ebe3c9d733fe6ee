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

/// What one session run left.
struct Ran {
    run_id: String,
}

/// A Claude Code transcript of two turns written now: msg_1 asks for a tool (`toolu_1`,
/// answered 2 s later), msg_2 answers.
fn claude_turns() -> String {
    let at = |s: u64| {
        agent_transcripts::time::to_rfc3339(std::time::SystemTime::now() + Duration::from_secs(s))
    };
    let usage = |i: u64, o: u64| serde_json::json!({"input_tokens": i, "output_tokens": o});
    let lines = [
        serde_json::json!({"type": "user", "timestamp": at(0), "sessionId": "sess-a",
            "message": {"role": "user", "content": "fix the build"}}),
        serde_json::json!({"type": "assistant", "timestamp": at(1), "sessionId": "sess-a",
            "requestId": "req_1", "message": {"id": "msg_1", "role": "assistant",
            "model": "claude-sonnet-4-5", "usage": usage(120, 40),
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash",
                "input": {"command": "cargo build"}}]}}),
        serde_json::json!({"type": "user", "timestamp": at(3), "sessionId": "sess-a",
            "message": {"role": "user", "content": [{"type": "tool_result",
                "tool_use_id": "toolu_1", "content": "Finished"}]}}),
        serde_json::json!({"type": "assistant", "timestamp": at(4), "sessionId": "sess-a",
            "requestId": "req_2", "message": {"id": "msg_2", "role": "assistant",
            "model": "claude-sonnet-4-5", "usage": usage(30, 20),
            "content": [{"type": "text", "text": "Built."}]}}),
    ];
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// `gt session start` of a fake agent on a private tmux server (it primes, asks bd through gt,
/// writes its Claude Code transcript, then waits) with agent-log on, then `gt session stop`;
/// metrics and logs to `rx`, traces to `traces_url`.
fn run_session(rx: &Receiver, traces_url: &str, session: &str) -> Ran {
    let tmux = TmuxServer::start("base");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let work = dir.path().join("work");
    let claude = dir.path().join("claude");
    std::fs::create_dir_all(&work).unwrap();
    let project = claude.join("projects").join(
        work.to_string_lossy()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>(),
    );
    let staged = dir.path().join("turns.jsonl");
    std::fs::write(&staged, claude_turns()).unwrap();
    let bd = FakeBd::new("echo '[]'");
    let done = dir.path().join("agent.done");
    // The agent: primes, asks bd through gt, writes its transcript, then says it is done. Its
    // environment is the one `gt session start` gave it (identity, TRACEPARENT, endpoints,
    // GT_BD_BIN inherited).
    let agent = dir.path().join("agent.sh");
    std::fs::write(
        &agent,
        format!(
            "env > '{env}'\n'{gt}' prime\n'{gt}' bd list\nmkdir -p '{project}'\n\
             cat '{staged}' >> '{project}/sess-a.jsonl'\ntouch '{done}'\nsleep 600\n",
            env = dir.path().join("agent.env").display(),
            gt = env!("CARGO_BIN_EXE_gt"),
            project = project.display(),
            staged = staged.display(),
            done = done.display()
        ),
    )
    .unwrap();
    let with_env = |cmd: &mut std::process::Command| {
        cmd.env("TMUX", tmux.tmux_env())
            .env("HOME", dir.path())
            .env("CLAUDE_CONFIG_DIR", &claude)
            .env("GT_STATE_DIR", &state)
            .env("GT_AGENT_LOG_STATE_DIR", dir.path().join("agent-log"))
            .env("GT_AGENT_LOG_POLL_MS", "200")
            .env("GT_LOG_AGENT_OUTPUT", "true")
            .env("GT_BD_BIN", bd.path())
            .env("GT_OTEL_METRICS_URL", rx.url("/v1/metrics"))
            .env("GT_OTEL_LOGS_URL", rx.url("/v1/logs"))
            .env("GT_OTEL_TRACES_URL", traces_url);
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
    assert!(
        agent_env.contains(&format!("GT_RUN={run_id}")),
        "{agent_env}"
    );
    assert!(agent_env.contains(&format!("GT_SESSION={session}")));
    assert!(agent_env.contains("CLAUDE_CODE_ENABLE_TELEMETRY=1"));
    assert!(agent_env.contains("OTEL_LOG_USER_PROMPTS=0"));
    // agent-log (started detached by `start`) exports both turns before the session stops.
    let usages = rx.wait_until(Duration::from_secs(60), |rx| {
        let n = rx
            .logs()
            .iter()
            .filter(|r| r.body_str() == Some("agent.usage"))
            .count();
        (n >= 2).then_some(n)
    });
    assert!(
        usages.is_some(),
        "agent-log exported no usage: {:#?}",
        rx.logs()
    );

    let mut stop = gt();
    with_env(&mut stop);
    stop.args(["session", "stop", "--session", session]);
    run_ok(&mut stop);
    assert!(!tmux_has(&tmux, session), "stop closes the tmux session");
    Ran { run_id }
}

#[test]
fn a_session_is_one_trace_from_start_to_stop_with_the_agents_calls_under_its_root() {
    let rx = Receiver::start().unwrap();
    let Ran { run_id } = run_session(&rx, &rx.url("/v1/traces"), "gt-test-Toast");
    let spans = rx
        .wait_until(Duration::from_secs(30), |rx| {
            let spans = rx.spans();
            spans
                .iter()
                .any(|s| s.name == "gt.session")
                .then_some(spans)
        })
        .unwrap_or_else(|| panic!("no gt.session span in {:#?}", rx.spans()));
    let root = named(&spans, "gt.session")[0];
    let trace = run_id.replace('-', "");
    assert_eq!(hex(&root.trace_id), trace);
    assert!(root.parent_span_id.is_empty(), "{root:#?}");
    for name in [
        "session.start",
        "agent.instantiate",
        "prime",
        "session.stop",
    ] {
        let found = named(&spans, name);
        assert_eq!(found.len(), 1, "{name} in {spans:#?}");
        assert_eq!(
            found[0].parent_span_id, root.span_id,
            "{name}'s parent is the root"
        );
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
    // agent-log's turns are the root's children, the tool its turn's.
    let spans = rx
        .wait_until(Duration::from_secs(30), |rx| {
            let spans = rx.spans();
            spans
                .iter()
                .any(|s| s.name.starts_with("execute_tool"))
                .then_some(spans)
        })
        .unwrap_or_else(|| panic!("no tool span in {:#?}", rx.spans()));
    let turns: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name.starts_with("chat"))
        .collect();
    assert_eq!(turns.len(), 2, "{spans:#?}");
    for turn in &turns {
        assert_eq!(turn.parent_span_id, root.span_id);
        assert_eq!(hex(&turn.trace_id), trace);
    }
    let tool = spans
        .iter()
        .find(|s| s.name.starts_with("execute_tool"))
        .unwrap();
    assert!(turns.iter().any(|t| t.span_id == tool.parent_span_id));
}

fn tmux_has(tmux: &TmuxServer, session: &str) -> bool {
    std::process::Command::new("tmux")
        .args([
            "-L",
            &tmux.name,
            "has-session",
            "-t",
            &format!("={session}"),
        ])
        .env_remove("TMUX")
        .status()
        .is_ok_and(|s| s.success())
}

/// One span as Arize Phoenix gives it back (`/v1/projects/default/spans`).
#[derive(Debug)]
struct Stored {
    name: String,
    span_id: String,
    parent_id: Option<String>,
    input_tokens: Option<i64>,
}

#[test]
fn phoenix_stores_the_session_as_one_trace_rooted_at_gt_session() {
    let Ok(base) = std::env::var("TRACES_BASE_URL") else {
        eprintln!(
            "skipped: set TRACES_BASE_URL (CI starts Arize Phoenix with .ci/traces-setup.sh)"
        );
        return;
    };
    let rx = Receiver::start().unwrap();
    let Ran { run_id } = run_session(&rx, &format!("{base}/v1/traces"), "gt-phoenix-Toast");
    let trace = run_id.replace('-', "");
    let url = format!("{base}/v1/projects/default/spans?trace_id={trace}&limit=1000");
    let spans = support::backends::poll(Duration::from_secs(60), || {
        let body = support::backends::curl(&url, &[]);
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let spans: Vec<Stored> = json["data"]
            .as_array()?
            .iter()
            .filter(|s| s["context"]["trace_id"] == trace.as_str())
            .map(|s| Stored {
                name: s["name"].as_str().unwrap_or_default().to_owned(),
                span_id: s["context"]["span_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                parent_id: s["parent_id"].as_str().map(str::to_owned),
                input_tokens: s["attributes"]["gen_ai.usage.input_tokens"].as_i64(),
            })
            .collect();
        let complete = ["gt.session", "prime", "bd.call", "session.stop"]
            .iter()
            .all(|n| spans.iter().any(|s| s.name == *n))
            && spans.iter().any(|s| s.name.starts_with("execute_tool"))
            && spans.iter().filter(|s| s.name.starts_with("chat")).count() == 2;
        complete.then_some(spans)
    })
    .unwrap_or_else(|| panic!("the session's trace did not reach Phoenix ({url})"));
    let root = spans.iter().find(|s| s.name == "gt.session").unwrap();
    assert_eq!(root.parent_id, None, "{spans:#?}");
    let prime = spans.iter().find(|s| s.name == "prime").unwrap();
    assert_eq!(prime.parent_id.as_deref(), Some(root.span_id.as_str()));
    for name in ["session.start", "agent.instantiate", "session.stop"] {
        let span = spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            span.parent_id.as_deref(),
            Some(root.span_id.as_str()),
            "{name}"
        );
    }
    let calls: Vec<&Stored> = spans.iter().filter(|s| s.name == "bd.call").collect();
    assert!(
        calls
            .iter()
            .any(|c| c.parent_id.as_deref() == Some(prime.span_id.as_str()))
    );
    assert!(
        calls
            .iter()
            .any(|c| c.parent_id.as_deref() == Some(root.span_id.as_str()))
    );
    // agent-log's turns (with their tokens) under the root, the tool under its turn.
    let turns: Vec<&Stored> = spans
        .iter()
        .filter(|s| s.name.starts_with("chat"))
        .collect();
    assert_eq!(turns.len(), 2, "{spans:#?}");
    for turn in &turns {
        assert_eq!(turn.parent_id.as_deref(), Some(root.span_id.as_str()));
        assert!(turn.input_tokens.is_some_and(|t| t > 0), "{turn:#?}");
    }
    let tool = spans
        .iter()
        .find(|s| s.name.starts_with("execute_tool"))
        .unwrap();
    assert!(
        turns
            .iter()
            .any(|t| Some(t.span_id.as_str()) == tool.parent_id.as_deref())
    );
}

#[test]
fn a_session_starts_and_stops_with_telemetry_off() {
    let tmux = TmuxServer::start("base");
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("agent.env");
    let agent = dir.path().join("agent.sh");
    std::fs::write(
        &agent,
        format!("env > '{}'\nsleep 600\n", env_file.display()),
    )
    .unwrap();
    let session = "gt-offline-Toast";
    let with_env = |cmd: &mut std::process::Command| {
        cmd.env("TMUX", tmux.tmux_env())
            .env("HOME", dir.path())
            .env("GT_STATE_DIR", dir.path().join("state"));
    };
    let mut start = gt();
    with_env(&mut start);
    start
        .args(["session", "start", "--role", "gastown/crew/max"])
        .args(["--session", session, "--work-dir"])
        .arg(dir.path())
        .args(["--", "sh"])
        .arg(&agent);
    let out = run_ok(&mut start);
    assert!(String::from_utf8_lossy(&out.stdout).contains(session));
    assert!(wait_for_file(&env_file), "the agent did not start");
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.contains("GT_ROLE=gastown/crew/max"), "{env}");
    assert!(env.contains("GT_CREW=max"), "{env}");
    assert!(env.contains("GT_RUN="), "{env}");
    assert!(
        !env.contains("CLAUDE_CODE_ENABLE_TELEMETRY"),
        "telemetry is off: {env}"
    );
    let mut stop = gt();
    with_env(&mut stop);
    stop.args(["session", "stop", "--session", session]);
    run_ok(&mut stop);
    assert!(!tmux_has(&tmux, session));
}
