//! bounded-process: runs a child process so that the caller gets control back within a
//! documented bound, whatever the child (or anything it starts) does.
//!
//! One call, [`Bounded::run`], with these guarantees:
//!
//! - **Time.** With a timeout the child leads its own process group. At the deadline the group
//!   gets SIGTERM, then SIGKILL after a short grace ([`DEFAULT_KILL_GRACE`]); descendants that
//!   stayed in the group die with it. The call returns at most the timeout plus [`OVERRUN`]
//!   (0.5 s) after it started, even when a descendant that escaped the group (a `setsid`
//!   daemon) still holds the output pipes: their readers are then abandoned and what they read
//!   so far is returned.
//! - **Pipes held open.** When the child exits but a descendant keeps its stdout/stderr open,
//!   the readers are given [`LINGER`] (250 ms) more, then abandoned
//!   ([`Finished::pipes_held_open`]). A child that starts a daemon costs its caller 250 ms, not
//!   the daemon's lifetime.
//! - **Memory.** stdout and stderr are drained concurrently (one thread each, so a chatty child
//!   never blocks on a full pipe) and each keeps at most [`DEFAULT_OUTPUT_CAP`] (16 MiB, see
//!   [`Bounded::cap`]); the rest is read, counted in [`Captured::dropped`] and discarded.
//! - **stdin** is null, given bytes (written by a thread of their own, then closed), or the
//!   caller's own ([`Stdin`]).
//! - **Streaming** ([`Output::Stream`]): each chunk is copied to a writer (the caller's stdout
//!   and stderr for a transparent wrapper) as it arrives, and optionally captured as well; the
//!   same pump serves both modes.
//! - **Signals** ([`Bounded::forward_signals`]): SIGINT, SIGTERM, SIGHUP and SIGQUIT received by
//!   the caller while the child runs are passed on to it instead of killing the caller.
//!
//! Without a timeout the child stays in the caller's process group, so terminal job control
//! (Ctrl-C reaching it, reading a terminal) works as for any foreground command, and the call
//! lasts as long as the child (plus [`LINGER`]).
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! use bounded_process::{Bounded, RunError, Stdin};
//!
//! let mut cmd = Command::new("bd");
//! cmd.args(["list", "--json"]);
//! match Bounded::new(cmd).timeout(Duration::from_secs(5)).stdin(Stdin::Null).run() {
//!     Ok(done) if done.status.success() => println!("{} bytes", done.stdout.bytes.len()),
//!     Ok(done) => eprintln!("bd failed: {}", done.status),
//!     Err(RunError::TimedOut { stdout, .. }) => eprintln!("{} bytes before the deadline", stdout.bytes.len()),
//!     Err(err) => eprintln!("{err}"),
//! }
//! ```
//!
//! Unix only. It must not use an async runtime, touch the process environment, or know what
//! the child is: callers build the [`Command`] (arguments, environment) and interpret the
//! answer.

mod pump;
mod signals;

use std::io::{self, Write};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rustix::process::Signal;

pub use pump::Captured;
pub use signals::shell_exit_code;

/// The default cap on each captured stream: 16 MiB.
pub const DEFAULT_OUTPUT_CAP: usize = 16 * 1024 * 1024;
/// The default pause between SIGTERM and SIGKILL at the deadline.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_millis(100);
/// How long past its timeout [`Bounded::run`] may take: the kill grace, reaping the killed
/// child, and collecting what its pipes delivered all fit in it.
pub const OVERRUN: Duration = Duration::from_millis(500);
/// How long output is still awaited after the child exited, while a descendant holds its pipes.
pub const LINGER: Duration = Duration::from_millis(250);
/// After the deadline, the moment the runner stops waiting for the killed child and its pipes
/// (kept under [`OVERRUN`] so that thread scheduling cannot push the return past it).
const GIVE_UP_AFTER_DEADLINE: Duration = Duration::from_millis(400);

/// What the child reads on stdin.
#[derive(Debug, Clone, Default)]
pub enum Stdin {
    /// Nothing (`/dev/null`).
    #[default]
    Null,
    /// These bytes, then end of file.
    Bytes(Vec<u8>),
    /// The caller's own stdin.
    Inherit,
}

/// Where the child's stdout and stderr go.
pub enum Output {
    /// Into memory, capped ([`Finished::stdout`], [`Finished::stderr`]).
    Capture,
    /// Copied to these writers as it arrives; also captured (capped) when `capture` is set.
    Stream {
        /// Receives the child's stdout.
        stdout: Box<dyn Write + Send>,
        /// Receives the child's stderr.
        stderr: Box<dyn Write + Send>,
        /// Whether to capture as well.
        capture: bool,
    },
    /// The caller's own stdout and stderr, handed to the child (nothing captured; the child
    /// sees the caller's terminal, if any).
    Inherit,
}

impl Output {
    /// [`Output::Stream`] to this process's stdout and stderr.
    #[must_use]
    pub fn stream_to_parent(capture: bool) -> Self {
        Self::Stream {
            stdout: Box::new(io::stdout()),
            stderr: Box::new(io::stderr()),
            capture,
        }
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Capture => f.write_str("Capture"),
            Self::Stream { capture, .. } => write!(f, "Stream {{ capture: {capture} }}"),
            Self::Inherit => f.write_str("Inherit"),
        }
    }
}

/// A child process to run within bounds; see the crate documentation.
#[derive(Debug)]
pub struct Bounded {
    command: Command,
    timeout: Option<Duration>,
    stdin: Stdin,
    output: Output,
    cap: usize,
    kill_grace: Duration,
    forward_signals: bool,
}

/// A child that exited (on its own: a child stopped at the deadline is [`RunError::TimedOut`]).
#[derive(Debug)]
pub struct Finished {
    /// Its exit status (a code, or the signal that killed it).
    pub status: ExitStatus,
    /// Its stdout, capped (empty unless captured).
    pub stdout: Captured,
    /// Its stderr, capped (empty unless captured).
    pub stderr: Captured,
    /// From spawn to return.
    pub elapsed: Duration,
    /// A descendant still held stdout or stderr open [`LINGER`] after the child exited; what it
    /// wrote later is not in the capture.
    pub pipes_held_open: bool,
}

impl Finished {
    /// The exit code a shell would report ([`shell_exit_code`]).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        shell_exit_code(self.status)
    }
}

/// Why [`Bounded::run`] gave no exit status.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program could not be started (`source` is NotFound for a missing binary).
    #[error("could not start {program:?}: {source}")]
    Spawn {
        /// The program, as given.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// The child ran past its timeout; its process group was killed.
    #[error("{program:?} did not finish within {timeout:?} and was killed")]
    TimedOut {
        /// The program, as given.
        program: String,
        /// The timeout it exceeded.
        timeout: Duration,
        /// Its stdout until then, capped.
        stdout: Captured,
        /// Its stderr until then, capped.
        stderr: Captured,
    },
    /// Waiting for the child failed (the OS lost it; not expected in practice).
    #[error("could not wait for {program:?}: {source}")]
    Wait {
        /// The program, as given.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// Signals could not be hooked for forwarding ([`Bounded::forward_signals`]).
    #[error("could not forward signals to {program:?}: {source}")]
    Signals {
        /// The program, as given.
        program: String,
        /// The OS error.
        source: io::Error,
    },
}

impl Bounded {
    /// Runs `command` (its program, arguments, environment and directory are kept; stdin,
    /// stdout, stderr and the process group are set by the runner). Defaults: no timeout,
    /// stdin null, output captured and capped at [`DEFAULT_OUTPUT_CAP`], no signal forwarding.
    #[must_use]
    pub fn new(command: Command) -> Self {
        Self {
            command,
            timeout: None,
            stdin: Stdin::Null,
            output: Output::Capture,
            cap: DEFAULT_OUTPUT_CAP,
            kill_grace: DEFAULT_KILL_GRACE,
            forward_signals: false,
        }
    }

    /// Stops the child (and its process group) `timeout` after spawning it.
    #[must_use]
    pub fn timeout(self, timeout: Duration) -> Self {
        self.timeout_opt(Some(timeout))
    }

    /// [`Bounded::timeout`] when `Some`; `None` lets the child run as long as it likes.
    #[must_use]
    pub fn timeout_opt(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// What the child reads on stdin.
    #[must_use]
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = stdin;
        self
    }

    /// Where the child's output goes.
    #[must_use]
    pub fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// The most bytes kept of each captured stream.
    #[must_use]
    pub fn cap(mut self, bytes: usize) -> Self {
        self.cap = bytes;
        self
    }

    /// The pause between SIGTERM and SIGKILL at the deadline (clamped to 200 ms so that the
    /// [`OVERRUN`] bound holds; zero sends SIGKILL at once).
    #[must_use]
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace.min(Duration::from_millis(200));
        self
    }

    /// Passes SIGINT, SIGTERM, SIGHUP and SIGQUIT received by this process on to the child
    /// while it runs (to its process group when it has one), instead of dying of them.
    ///
    /// Without a timeout the child shares the caller's process group, so a terminal's Ctrl-C
    /// reaches it directly and once more forwarded (the kernel merges the two while the first
    /// is pending; a child that counts SIGINTs may see two).
    #[must_use]
    pub fn forward_signals(mut self, forward: bool) -> Self {
        self.forward_signals = forward;
        self
    }

    /// Runs the child to completion or to its deadline.
    ///
    /// # Errors
    /// [`RunError::Spawn`] when it cannot start, [`RunError::TimedOut`] (with what it wrote)
    /// when it ran past the timeout, [`RunError::Wait`] / [`RunError::Signals`] on OS failures.
    pub fn run(self) -> Result<Finished, RunError> {
        let Self {
            mut command,
            timeout,
            stdin,
            output,
            cap,
            kill_grace,
            forward_signals,
        } = self;
        let program = command.get_program().to_string_lossy().into_owned();
        let own_group = timeout.is_some();
        if own_group {
            command.process_group(0);
        }
        command.stdin(match &stdin {
            Stdin::Null => Stdio::null(),
            Stdin::Bytes(_) => Stdio::piped(),
            Stdin::Inherit => Stdio::inherit(),
        });
        let piped = !matches!(output, Output::Inherit);
        let (echo_out, echo_err, cap) = match output {
            Output::Capture => (None, None, cap),
            Output::Stream {
                stdout,
                stderr,
                capture,
            } => (Some(stdout), Some(stderr), if capture { cap } else { 0 }),
            Output::Inherit => (None, None, 0),
        };
        command
            .stdout(if piped {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .stderr(if piped {
                Stdio::piped()
            } else {
                Stdio::inherit()
            });

        let forwarder = if forward_signals {
            Some(
                signals::Forwarder::install().map_err(|source| RunError::Signals {
                    program: program.clone(),
                    source,
                })?,
            )
        } else {
            None
        };
        let started = Instant::now();
        let mut child = command.spawn().map_err(|source| RunError::Spawn {
            program: program.clone(),
            source,
        })?;
        let target = signals::Target::new(child.id(), own_group);
        if let Some(forwarder) = &forwarder {
            forwarder.aim(target);
        }

        if let (Stdin::Bytes(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A child that never reads its stdin makes this fail with EPIPE once it exits.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let (tx, rx) = mpsc::channel();
        let mut open = 0;
        let mut pump = |pipe: Option<Box<dyn io::Read + Send>>, echo| {
            pipe.map(|pipe| {
                open += 1;
                let tx = tx.clone();
                pump::start(pipe, echo, cap, move || {
                    let _ = tx.send(Event::Eof);
                })
            })
        };
        let stdout = pump(child.stdout.take().map(|p| Box::new(p) as _), echo_out);
        let stderr = pump(child.stderr.take().map(|p| Box::new(p) as _), echo_err);
        std::thread::spawn(move || {
            let _ = tx.send(Event::Exited(child.wait()));
        });

        let deadline = timeout.map(|t| started + t);
        let waited = wait(&rx, deadline, open, target, kill_grace);
        drop(forwarder);
        let [stdout, stderr] = [stdout, stderr].map(|s| s.map(|s| s.take()).unwrap_or_default());
        let elapsed = started.elapsed();
        match waited {
            Waited { killed: true, .. } => Err(RunError::TimedOut {
                program,
                timeout: timeout.unwrap_or_default(),
                stdout,
                stderr,
            }),
            Waited {
                status: Some(Ok(status)),
                open,
                ..
            } => Ok(Finished {
                status,
                stdout,
                stderr,
                elapsed,
                pipes_held_open: open > 0,
            }),
            Waited {
                status: Some(Err(source)),
                ..
            } => Err(RunError::Wait { program, source }),
            Waited { status: None, .. } => Err(RunError::Wait {
                program,
                source: io::Error::other("the child's waiter thread vanished"),
            }),
        }
    }
}

/// What the runner's threads report.
enum Event {
    /// The child exited (or waiting failed).
    Exited(io::Result<ExitStatus>),
    /// One of its pipes reached end of file.
    Eof,
}

/// How the wait ended.
struct Waited {
    status: Option<io::Result<ExitStatus>>,
    /// The deadline passed and the child was signalled.
    killed: bool,
    /// Pipes not at end of file when the runner stopped waiting.
    open: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Until the deadline (or forever without one).
    Running,
    /// The child exited on its own; its pipes get until `give_up`.
    Draining { give_up: Instant },
    /// SIGTERM sent; SIGKILL at `kill_at`.
    Terminating { kill_at: Instant },
    /// SIGKILL sent; the child and its pipes get until `give_up`.
    Killed { give_up: Instant },
}

/// Waits for the child's exit and its pipes' end of file, enforcing the deadline.
fn wait(
    rx: &Receiver<Event>,
    deadline: Option<Instant>,
    mut open: usize,
    target: Option<signals::Target>,
    kill_grace: Duration,
) -> Waited {
    let signal = |sig| {
        if let Some(target) = target {
            target.signal(sig);
        }
    };
    let mut status = None;
    let mut phase = Phase::Running;
    loop {
        if status.is_some() && open == 0 {
            break;
        }
        let until = match phase {
            Phase::Running => deadline,
            Phase::Terminating { kill_at } => Some(kill_at),
            Phase::Draining { give_up } | Phase::Killed { give_up } => Some(give_up),
        };
        let event = match until {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(t) => rx.recv_timeout(t.saturating_duration_since(Instant::now())),
        };
        match event {
            Ok(Event::Exited(exited)) => {
                status = Some(exited);
                if phase == Phase::Running {
                    phase = Phase::Draining {
                        give_up: Instant::now() + LINGER,
                    };
                }
            }
            Ok(Event::Eof) => open -= 1,
            Err(RecvTimeoutError::Timeout) => match phase {
                Phase::Running => {
                    let now = Instant::now();
                    if kill_grace.is_zero() {
                        signal(Signal::KILL);
                        phase = Phase::Killed {
                            give_up: now + GIVE_UP_AFTER_DEADLINE,
                        };
                    } else {
                        signal(Signal::TERM);
                        phase = Phase::Terminating {
                            kill_at: now + kill_grace,
                        };
                    }
                }
                Phase::Terminating { .. } => {
                    signal(Signal::KILL);
                    let base = deadline.unwrap_or_else(Instant::now);
                    phase = Phase::Killed {
                        give_up: base + GIVE_UP_AFTER_DEADLINE,
                    };
                }
                Phase::Draining { .. } | Phase::Killed { .. } => break,
            },
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    Waited {
        status,
        killed: matches!(phase, Phase::Terminating { .. } | Phase::Killed { .. }),
        open,
    }
}
