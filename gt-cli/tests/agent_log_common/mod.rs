//! Fixtures for the `gt agent-log` tests: a private home with a Claude Code config directory
//! and a state directory, transcript line builders, a running `gt agent-log` process, and a
//! TCP gate between the exporter and the receiver that can drop traffic like a dead backend.

#![allow(
    dead_code,
    reason = "each agent_log test binary uses a different part of the fixtures"
)]

use std::fs::OpenOptions;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use otlp_capture::{LogRecord, Receiver};
use serde_json::{Value, json};

use crate::support::gt;

/// A private machine: HOME, CLAUDE_CONFIG_DIR, the state dir and a work dir, all temporary.
pub(crate) struct Town {
    pub(crate) dir: tempfile::TempDir,
}

impl Town {
    pub(crate) fn new() -> Self {
        let town = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in [town.home(), town.claude(), town.state(), town.work_dir()] {
            std::fs::create_dir_all(d).unwrap();
        }
        town
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub(crate) fn claude(&self) -> PathBuf {
        self.dir.path().join("claude")
    }

    pub(crate) fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub(crate) fn work_dir(&self) -> PathBuf {
        self.dir.path().join("srv/town_1")
    }

    /// Where Claude Code writes the work dir's transcripts.
    pub(crate) fn project(&self) -> PathBuf {
        let encoded: String = self
            .work_dir()
            .to_string_lossy()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.claude().join("projects").join(encoded)
    }

    /// `gt` with this town's environment and no telemetry yet.
    pub(crate) fn gt(&self) -> Command {
        let mut cmd = gt();
        cmd.env("HOME", self.home())
            .env("CLAUDE_CONFIG_DIR", self.claude())
            .env("GT_AGENT_LOG_STATE_DIR", self.state())
            .env_remove("XDG_STATE_HOME")
            .env_remove("CODEX_HOME");
        cmd
    }

    /// `gt agent-log` following the work dir for `session`, exporting logs to `logs_url` and
    /// metrics to `rx`, with short poll, idle-flush, export-timeout and metric intervals.
    pub(crate) fn follow(&self, session: &str, logs_url: &str, rx: &Receiver) -> Command {
        let mut cmd = self.gt();
        cmd.args(["agent-log", "--session", session, "--work-dir"])
            .arg(self.work_dir())
            .env("GT_OTEL_LOGS_URL", logs_url)
            .env("GT_OTEL_METRICS_URL", rx.url("/v1/metrics"))
            .env("GT_LOG_AGENT_OUTPUT", "true")
            .env("GT_AGENT_LOG_POLL_MS", "200")
            .env("GT_AGENT_LOG_IDLE_FLUSH_MS", "300")
            .env("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "500");
        cmd
    }

    pub(crate) fn checkpoint(&self, session: &str) -> PathBuf {
        self.state().join(format!("{session}.checkpoint.json"))
    }

    /// The checkpoint's JSON, once it exists.
    /// The session's checkpoint as `gt agent-log` resolves it (its base and its journal).
    pub(crate) fn read_checkpoint(&self, session: &str) -> Option<Value> {
        let cp = agent_log::state::Checkpoint::load(&self.checkpoint(session)).ok()??;
        serde_json::to_value(cp).ok()
    }
}

/// One Claude Code assistant line.
pub(crate) fn assistant(
    ts: &str,
    msg: &str,
    req: &str,
    model: &str,
    blocks: Value,
    usage: Value,
) -> String {
    json!({
        "type": "assistant", "timestamp": ts, "sessionId": "sess-a", "isSidechain": false,
        "requestId": req,
        "message": {"id": msg, "role": "assistant", "model": model, "content": blocks, "usage": usage}
    })
    .to_string()
}

/// One Claude Code user line.
pub(crate) fn user(ts: &str, content: Value) -> String {
    json!({
        "type": "user", "timestamp": ts, "sessionId": "sess-a", "isSidechain": false,
        "message": {"role": "user", "content": content}
    })
    .to_string()
}

/// A one-block assistant message with its own id: one `agent.event` and one `agent.usage`.
pub(crate) fn message(i: usize) -> String {
    assistant(
        "2026-01-05T10:00:00.000Z",
        &format!("msg_{i}"),
        &format!("req_{i}"),
        "claude-sonnet-4-5",
        json!([{"type": "text", "text": format!("answer {i}")}]),
        json!({"input_tokens": 1, "output_tokens": i + 1}),
    )
}

/// Appends `text` to `path` (created when missing).
pub(crate) fn append(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// How long a test waits for something that must happen. Generous on purpose: a poll returns
/// as soon as its condition holds, so the deadline only bounds how long a failing test takes,
/// and a loaded machine (CI, `cargo xtask flake-hunt`) can take far longer than a quiet one to
/// export a backlog of thousands of records.
pub(crate) const WAIT: Duration = Duration::from_secs(120);

/// The records with body `body`.
pub(crate) fn records(rx: &Receiver, body: &str) -> Vec<LogRecord> {
    rx.logs()
        .into_iter()
        .filter(|r| r.body_str() == Some(body))
        .collect()
}

/// `message_id` of every agent.usage received, with its attribute `key` (`""` when absent).
pub(crate) fn usage_attr(rx: &Receiver, key: &str) -> Vec<(String, String)> {
    records(rx, "agent.usage")
        .iter()
        .map(|r| {
            (
                r.str_attr("message_id").unwrap_or_default().to_owned(),
                r.str_attr(key).unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Waits until the receiver holds at least `usages` agent.usage and `events` agent.event
/// records; panics with what arrived (and `context`) at the deadline.
pub(crate) fn wait_counts(
    rx: &Receiver,
    usages: usize,
    events: usize,
    context: &dyn Fn() -> String,
) {
    let got = rx.wait_until(WAIT, |rx| {
        // One copy of the records per check: with a backlog of thousands, each copy holds the
        // receiver's lock while it is made.
        let logs = rx.logs();
        let count = |body| logs.iter().filter(|r| r.body_str() == Some(body)).count();
        (count("agent.usage") >= usages && count("agent.event") >= events).then_some(())
    });
    if got.is_none() {
        panic!(
            "expected {usages} agent.usage and {events} agent.event, got {} and {}\n{}",
            records(rx, "agent.usage").len(),
            records(rx, "agent.event").len(),
            context()
        );
    }
}

/// A `gt agent-log` process whose stderr goes to a file; killed on drop.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) stderr: PathBuf,
}

impl Running {
    pub(crate) fn start(cmd: &mut Command, stderr: PathBuf) -> Self {
        let err = std::fs::File::create(&stderr).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        Self { child, stderr }
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub(crate) fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
    }

    /// Sends SIGTERM and waits (up to 10 s) for the exit; returns the status and how long
    /// the exit took.
    pub(crate) fn terminate(&mut self) -> (ExitStatus, Duration) {
        let sent = Instant::now();
        self.signal(rustix::process::Signal::TERM);
        let end = sent + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, sent.elapsed());
            }
            assert!(
                Instant::now() < end,
                "no exit after SIGTERM:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// kill -9, reaped.
    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A TCP gate in front of a receiver: open, it forwards both ways; closed, it drops any
/// connection the moment the client sends (a request then never reaches the receiver, as if
/// the backend were down), while answers to requests already forwarded still come back.
pub(crate) struct Gate {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Gate {
    pub(crate) fn start(upstream: SocketAddr, open: bool) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let gate = Self {
            addr,
            open: Arc::new(AtomicBool::new(open)),
            dropped: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (open, dropped, stop) = (
            Arc::clone(&gate.open),
            Arc::clone(&gate.dropped),
            Arc::clone(&gate.stop),
        );
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let (open, dropped) = (Arc::clone(&open), Arc::clone(&dropped));
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (client2, server2) = (client, server);
                std::thread::spawn(move || {
                    let mut buf = vec![0; 64 * 1024];
                    loop {
                        let n = match c_read.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if !open.load(Ordering::SeqCst) {
                            dropped.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c_read.shutdown(Shutdown::Both);
                    let _ = s_write.shutdown(Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let (mut s_read, mut c_write) = (server2, client2);
                    let mut buf = vec![0; 64 * 1024];
                    loop {
                        let n = match s_read.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if c_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c_write.shutdown(Shutdown::Both);
                });
            }
        });
        gate
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
    }

    /// Connections dropped while closed.
    pub(crate) fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Polls `f` every 20 ms until it is true or `deadline` passes; returns whether it became true.
pub(crate) fn poll_until(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lets some batches of a backlog of `backlog` usages through, cuts the backend, checks that
/// the checkpoint holds exactly what the receiver got, then kills the follower with SIGKILL.
/// Returns how many usages arrived before the kill.
pub(crate) fn kill_mid_backlog(
    first: &mut Running,
    rx: &Receiver,
    gate: &Gate,
    town: &Town,
    session: &str,
    backlog: usize,
) -> usize {
    assert!(
        poll_until(WAIT, || records(rx, "agent.usage").len() >= 200),
        "{}",
        first.stderr()
    );
    gate.set_open(false);
    // Once a request was dropped, every batch sent before it has been confirmed and
    // checkpointed (the follower sends the next batch only after saving the last).
    assert!(poll_until(WAIT, || gate.dropped() > 0));
    let at_kill = records(rx, "agent.usage").len();
    assert!(at_kill < backlog, "the kill must land mid-backlog");
    let cp = town.read_checkpoint(session).unwrap();
    assert_eq!(cp["totals"]["usage_records"], at_kill as u64);
    first.kill9();
    at_kill
}
