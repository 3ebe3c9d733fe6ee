//! `gt session start|stop`: the session lifecycle (wiring over `gt_cli::session` and tmux).
//!
//! `start` mints the run id and the root span's id, saves them in the session state, records
//! `session.start` and `agent.instantiate` as children of the root span, starts the agent in
//! tmux with its identity and telemetry environment, and a detached agent-log when
//! `GT_LOG_AGENT_OUTPUT=true`. `stop`, possibly from another process, records `session.stop`,
//! stops agent-log with a flush, exports the root span `gt.session` (its id and start time from
//! the state: the children made in between already name it as their parent) and closes the tmux
//! session. Both work with telemetry off: the session still starts and stops.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gt_cli::session::{
    Agent, Identity, SessionState, agent_environment, inherited_settings, root_context,
};
use gt_cli::tmux::Tmux;
use opentelemetry::trace::{
    Span as _, SpanId, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use telemetry_core::env::{GT_LOG_AGENT_OUTPUT, GT_SESSION};
use telemetry_recorder::AgentInstance;

use crate::args::{AgentArg, SessionStartArgs, SessionStopArgs};

/// How long `stop` waits for agent-log to flush and exit after SIGTERM.
const AGENT_LOG_STOP_WAIT: Duration = Duration::from_secs(5);

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn state_dir() -> Option<PathBuf> {
    telemetry_core::config::state_dir_from_lookup(env)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Makes the root span the parent of what this process records (before telemetry starts:
/// the first parent set wins over an inherited `TRACEPARENT`).
fn adopt_root(run_id: &str, span_id: Option<SpanId>) {
    if let Some(sc) = span_id.and_then(|id| root_context(run_id, id)) {
        telemetry_core::trace::set_process_parent(Context::new().with_remote_span_context(sc));
    }
}

pub(crate) fn start(args: &SessionStartArgs) -> anyhow::Result<ExitCode> {
    let agent = match args.agent {
        AgentArg::Claudecode => Agent::ClaudeCode,
        AgentArg::Codex => Agent::Codex,
        AgentArg::Opencode => Agent::OpenCode,
    };
    let identity = Identity {
        session: args
            .session
            .clone()
            .unwrap_or_else(|| Identity::default_session(&args.role)),
        role: args.role.clone(),
        rig: args
            .rig
            .clone()
            .unwrap_or_else(|| Identity::rig_of(&args.role)),
        agent,
        run_id: telemetry_subprocess::new_run_id(),
    };
    let work_dir = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()?,
    };
    let span_id = RandomIdGenerator::default().new_span_id();
    let state = SessionState {
        session: identity.session.clone(),
        role: identity.role.clone(),
        rig: identity.rig.clone(),
        agent,
        run_id: identity.run_id.clone(),
        span_id: span_id.to_string(),
        started_ns: now_ns(),
        work_dir: work_dir.clone(),
    };
    match state_dir().map(|d| SessionState::path(&d, &identity.session)) {
        Some(Ok(path)) => {
            if let Err(err) = state.save(&path) {
                eprintln!(
                    "gt session: warning: cannot save {}: {err}; `gt session stop` will not end \
                     the root span",
                    path.display()
                );
            }
        }
        Some(Err(err)) => eprintln!("gt session: warning: {err}"),
        None => eprintln!("gt session: warning: no state directory (set GT_STATE_DIR or HOME)"),
    }
    let root = root_context(&identity.run_id, span_id);
    let inherited = inherited_settings(std::env::vars());
    let launch = agent_environment(&env, &inherited, &identity, root.as_ref());
    let mut argv = if args.command.is_empty() {
        vec![
            match agent {
                Agent::ClaudeCode => "claude",
                Agent::Codex => "codex",
                Agent::OpenCode => "opencode",
            }
            .to_owned(),
        ]
    } else {
        args.command.clone()
    };
    argv.splice(1..1, launch.extra_args.iter().cloned());

    adopt_root(&identity.run_id, Some(span_id));
    super::with_telemetry(|| {
        let started =
            Tmux::default().start_in_session(&identity.session, &work_dir, &launch.env, &argv);
        telemetry_recorder::with_run_id(&identity.run_id, || {
            let outcome = match &started {
                Ok(()) => Ok(()),
                Err(err) => Err(err as &dyn std::fmt::Display),
            };
            telemetry_recorder::record_session_start(&identity.session, &identity.role, outcome);
            if started.is_ok() {
                telemetry_recorder::record_agent_instantiate(&AgentInstance {
                    run_id: &identity.run_id,
                    town_root: "",
                    agent_type: agent.as_str(),
                    role: &identity.role,
                    agent_name: identity.role.rsplit('/').next().unwrap_or_default(),
                    session_id: &identity.session,
                    rig: &identity.rig,
                    issue_id: "",
                    git_branch: "",
                    git_commit: "",
                });
            }
        });
        if let Err(err) = started {
            eprintln!("gt session: {err}");
            return Ok(ExitCode::from(1));
        }
        let agent_log = telemetry_core::is_active()
            && env(GT_LOG_AGENT_OUTPUT).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if agent_log {
            start_agent_log(&identity, &work_dir, &launch.env);
        }
        println!(
            "gt session: {} started (run {}, agent {}{})",
            identity.session,
            identity.run_id,
            agent.as_str(),
            if agent_log {
                ", agent-log detached"
            } else {
                ""
            }
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// `gt agent-log --detach` for the session, in the agent's environment (its parent is the
/// root span); a failure is one warning.
fn start_agent_log(identity: &Identity, work_dir: &std::path::Path, vars: &[(String, String)]) {
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("gt session: warning: cannot find the gt binary; agent-log not started");
        return;
    };
    let status = std::process::Command::new(exe)
        .args(["agent-log", "--detach", "--session", &identity.session])
        .args([
            "--agent",
            identity.agent.as_str(),
            "--run-id",
            &identity.run_id,
        ])
        .arg("--work-dir")
        .arg(work_dir)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .status();
    if !status.as_ref().is_ok_and(|s| s.success()) {
        eprintln!("gt session: warning: agent-log did not start ({status:?})");
    }
}

pub(crate) fn stop(args: &SessionStopArgs) -> anyhow::Result<ExitCode> {
    let session = match args.session.clone().or_else(|| env(GT_SESSION)) {
        Some(s) => s,
        None => match gt_cli::work_source::current_tmux_session() {
            Ok(Some(s)) => s,
            _ => anyhow::bail!("which session? give --session (or set GT_SESSION)"),
        },
    };
    let path = state_dir().and_then(|d| SessionState::path(&d, &session).ok());
    let state = match path.as_ref().map(|p| SessionState::load(p)) {
        Some(Ok(state)) => state,
        Some(Err(err)) => {
            eprintln!("gt session: warning: unreadable session state: {err}");
            None
        }
        None => None,
    };
    if state.is_none() {
        eprintln!(
            "gt session: warning: no state for {session} (not started by `gt session start`?); \
             no root span to end"
        );
    }
    if let Some(s) = &state {
        adopt_root(&s.run_id, s.root_span_id());
    }
    let run_id = state.as_ref().map(|s| s.run_id.clone()).unwrap_or_default();
    let code = super::with_telemetry(|| {
        stop_agent_log(&session);
        telemetry_recorder::with_run_id(&run_id, || {
            telemetry_recorder::record_session_stop(&session, Ok(()));
        });
        if let Some(s) = &state {
            end_root_span(s);
        }
        Ok(ExitCode::SUCCESS)
    })?;
    if !args.keep_tmux
        && let Err(err) = Tmux::default().kill_session(&session)
    {
        eprintln!("gt session: warning: {err}");
    }
    if let Some(path) = path {
        let _ = std::fs::remove_file(path);
    }
    println!("gt session: {session} stopped");
    Ok(code)
}

/// SIGTERM to the session's agent-log (it flushes and exits), waited for up to
/// [`AGENT_LOG_STOP_WAIT`].
fn stop_agent_log(session: &str) {
    let Ok(dir) = agent_log::settings::state_dir(&env) else {
        return;
    };
    let files = agent_log::state::SessionFiles::new(&dir, session);
    let Some(pid) = agent_log::state::read_pid(&files.pid)
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    if rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_err() {
        return;
    }
    let until = Instant::now() + AGENT_LOG_STOP_WAIT;
    while Instant::now() < until {
        if rustix::process::test_kill_process(pid).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "gt session: warning: agent-log (pid {}) still running after {AGENT_LOG_STOP_WAIT:?}",
        pid.as_raw_nonzero()
    );
}

/// Exports `gt.session` with the trace id, span id and start time `start` chose.
fn end_root_span(state: &SessionState) {
    let Some(provider) = telemetry_core::global() else {
        return;
    };
    let (Some(tracer_provider), Some(trace_id), Some(span_id)) = (
        provider.tracer_provider(),
        telemetry_core::trace::trace_id_of_run(&state.run_id),
        state.root_span_id(),
    ) else {
        return;
    };
    let tracer = tracer_provider.tracer(telemetry_core::SCOPE_NAME);
    let start = UNIX_EPOCH + Duration::from_nanos(state.started_ns);
    let mut span = telemetry_core::trace::with_preset_ids(Some(trace_id), Some(span_id), || {
        tracer
            .span_builder("gt.session")
            .with_start_time(start)
            .with_attributes([
                KeyValue::new("session", state.session.clone()),
                KeyValue::new("role", state.role.clone()),
                KeyValue::new("rig", state.rig.clone()),
                KeyValue::new("agent_type", state.agent.as_str()),
                KeyValue::new("run.id", state.run_id.clone()),
            ])
            .start_with_context(&tracer, &Context::new())
    });
    span.end();
}
