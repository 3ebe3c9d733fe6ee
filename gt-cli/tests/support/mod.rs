//! Shared test fixtures: a `gt` command with a clean environment, a fake `bd` script, a
//! private tmux server, and real backends ([`backends`]).

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the fixtures"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use otlp_capture::Value;
use telemetry_recorder::catalog::{AttrKind, catalog};

pub(crate) mod backends;
pub(crate) mod promql;

/// A `gt` command with a clean telemetry and identity environment, and a state directory of
/// its own (a fresh temporary one: the durable counter store never leaks between tests; a test
/// that runs gt several times against one store sets `GT_STATE_DIR` itself).
pub(crate) fn gt() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gt"));
    for (var, _) in std::env::vars() {
        if var.starts_with("GT_") || var.starts_with("OTEL_") || var.starts_with("BD_") {
            cmd.env_remove(&var);
        }
    }
    for var in ["TMUX", "TMUX_PANE", "XDG_STATE_HOME"] {
        cmd.env_remove(var);
    }
    cmd.env("GT_STATE_DIR", state_dir());
    cmd
}

/// A fresh temporary state directory, removed when the test process exits (the OS cleans
/// the temp dir; these are a few KiB each).
pub(crate) fn state_dir() -> PathBuf {
    tempfile::Builder::new()
        .prefix("gt-state-")
        .tempdir()
        .expect("temp state dir")
        .keep()
}

/// Runs and asserts success.
pub(crate) fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("gt runs");
    assert!(
        out.status.success(),
        "gt failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fake `bd` on disk whose answers a test controls, and that logs its arguments.
pub(crate) struct FakeBd {
    pub(crate) dir: tempfile::TempDir,
}

impl FakeBd {
    /// `script` is the body of a POSIX shell script; `$LOG` is the invocation log, `$N` the
    /// number of this invocation (1-based).
    pub(crate) fn new(script: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls.log");
        let body = format!(
            "LOG='{}'\nprintf '%s\\n' \"$*\" >> \"$LOG\"\nN=$(wc -l < \"$LOG\")\n{script}",
            log.display()
        );
        // Not fs::write + chmod: a concurrent spawn in another test thread could inherit the
        // write descriptor and make exec fail with ETXTBSY (see test_fixtures' docs).
        test_fixtures::fake_script(dir.path(), "bd", &body).unwrap();
        Self { dir }
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join("bd")
    }

    /// The argument lines bd was called with.
    pub(crate) fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// A JSON answer of `bd list --json` with one issue.
pub(crate) fn one_issue(id: &str, title: &str, description: &str) -> String {
    serde_json::json!([{
        "id": id, "title": title, "status": "hooked",
        "assignee": "gastown/polecats/Toast", "description": description, "priority": 2
    }])
    .to_string()
}

/// A private tmux server (`tmux -L NAME`) with one detached session, killed on drop.
pub(crate) struct TmuxServer {
    pub(crate) name: String,
    pub(crate) session: String,
    pub(crate) socket: PathBuf,
}

static SERVERS: AtomicUsize = AtomicUsize::new(0);

impl TmuxServer {
    pub(crate) fn start(session: &str) -> Self {
        let name = format!(
            "gt-test-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &name,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                "80",
                "-y",
                "24",
            ])
            .env_remove("TMUX")
            .status()
            .expect("tmux is installed");
        assert!(status.success(), "tmux new-session failed");
        let socket = Self::tmux_out(
            &name,
            &["display-message", "-p", "-t", session, "#{socket_path}"],
        );
        Self {
            name,
            session: session.to_owned(),
            socket: PathBuf::from(socket),
        }
    }

    fn tmux_out(name: &str, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(name)
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim_end_matches('\n')
            .to_owned()
    }

    /// `$TMUX` as a process inside this server's session would see it.
    pub(crate) fn tmux_env(&self) -> String {
        format!("{},{},0", self.socket.display(), std::process::id())
    }

    /// The session's value of `key` (None when unset).
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        let line = Self::tmux_out(&self.name, &["show-environment", "-t", &self.session, key]);
        line.strip_prefix(&format!("{key}=")).map(str::to_owned)
    }

    pub(crate) fn set(&self, key: &str, value: &str) {
        Self::tmux_out(
            &self.name,
            &["set-environment", "-t", &self.session, key, value],
        );
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.name, "kill-server"])
            .status();
    }
}

/// The path of a file inside `dir`.
pub(crate) fn file_in(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// A representative `key=value` for each attribute an operator can set, and the value expected
/// back (None: derived by the recorder, not checked here).
pub(crate) fn sample(event: &str, attr: &str, kind: AttrKind) -> (String, Option<Value>) {
    let s = |v: &str| (v.to_owned(), Some(Value::Str(v.to_owned())));
    match (event, attr, kind) {
        ("bd.call", "args", _) => s("list --json"),
        ("bd.call", "subcommand", _) => s("list"),
        ("agent.instantiate", "instance", _) | ("prompt.send", "keys_len", _) => {
            (String::new(), None)
        }
        ("done", "exit_type", _) => s("ESCALATED"),
        ("agent.event", "event_type", _) => s("tool_use"),
        ("agent.event", "role", _) => s("user"),
        ("mail", "msg.to", _) => s("a,b"),
        ("crew.cycle", "phase", _) => s("push"),
        ("agent.quota_threshold", "window", _) => s("seven_day"),
        ("agent.quota_threshold", "threshold", _) => s("80"),
        ("scheduler.dispatch_cycle", "capacity_usage", _) => {
            ("0.5".to_owned(), Some(Value::Double(0.5)))
        }
        (_, _, AttrKind::Int) => ("7".to_owned(), Some(Value::Int(7))),
        (_, _, AttrKind::Double) => ("1.5".to_owned(), Some(Value::Double(1.5))),
        (_, _, AttrKind::Bool) => ("true".to_owned(), Some(Value::Bool(true))),
        (_, name, AttrKind::Str) => s(&format!("v-{name}")),
    }
}

/// `gt otel emit` for `event` with every settable attribute, gates open, and a failure
/// (`--error boom`) when the event has an outcome.
pub(crate) fn emit_all_attributes(cmd: &mut Command, event: &str) {
    let spec = catalog().event(event).unwrap();
    cmd.args(["otel", "emit", event]);
    if spec.has_outcome() {
        cmd.args(["--status", "error", "--error", "boom"]);
    }
    for attr in spec
        .attributes
        .iter()
        .filter(|a| a.name != "status" && a.name != "error")
    {
        let (value, _) = sample(event, attr.name, attr.kind);
        if !value.is_empty() {
            cmd.arg("--attr").arg(format!("{}={value}", attr.name));
        }
    }
    for gate in [
        "GT_LOG_BD_OUTPUT",
        "GT_LOG_PROMPT_KEYS",
        "GT_LOG_MAIL_BODY",
        "GT_LOG_PRIME_CONTEXT",
        "GT_LOG_AGENT_OUTPUT",
        "GT_LOG_PANE_OUTPUT",
    ] {
        cmd.env(gate, "true");
    }
}
