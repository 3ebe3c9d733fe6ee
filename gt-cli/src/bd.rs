//! Running the beads CLI (`bd`) as a real subprocess, recorded as `bd.call`.
//!
//! Two ways, both through the one bounded runner (`bounded-process`):
//! - [`Bd::invoke`] / [`Bd::run`] capture bd's answer for gt to read (`gt prime`): stdin null,
//!   output capped at 16 MiB per stream, the whole call bounded by `GT_BD_TIMEOUT_MS` (default
//!   30 s) + 0.5 s even when bd leaves a daemon holding its output pipes.
//! - [`Bd::passthrough`] is `gt bd -- ARGS` (transparent): stdin, stdout and stderr are the
//!   caller's, signals gt receives are forwarded to bd, and no timeout applies unless
//!   `GT_BD_TIMEOUT_MS` is set.
//!
//! Every invocation records `bd.call` once, with its real duration and secret flag values
//! redacted from `args` (and from the error messages, which quote the command line).

use std::ffi::OsString;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use bounded_process::{Bounded, Captured, Output, RunError, Stdin};
use telemetry_core::env::{GT_BD_BIN, GT_BD_TIMEOUT_MS};
use telemetry_recorder::redact_args;
use telemetry_subprocess::CommandTelemetryExt as _;

/// The default bound on one bd invocation whose answer gt reads.
pub const DEFAULT_BD_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a bd invocation gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum BdError {
    /// The binary could not be started (not installed, not executable).
    #[error("could not run {bin:?}: {source} (is beads installed? GT_BD_BIN overrides the path)")]
    Spawn {
        /// The binary.
        bin: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// bd ran and exited unsuccessfully.
    #[error("`{bin} {args}` exited with {status}: {stderr}")]
    Failed {
        /// The binary.
        bin: String,
        /// The arguments, space-joined, secrets redacted.
        args: String,
        /// Exit status as text.
        status: String,
        /// The first line of its stderr.
        stderr: String,
    },
    /// bd did not finish in time and was killed (with its process group).
    #[error("`{bin} {args}` did not answer within {timeout:?} and was stopped")]
    TimedOut {
        /// The binary.
        bin: String,
        /// The arguments, space-joined, secrets redacted.
        args: String,
        /// The bound.
        timeout: Duration,
    },
    /// The OS failed us while bd ran (waiting for it, hooking signals).
    #[error(transparent)]
    Supervise(RunError),
}

/// A configured bd binary.
#[derive(Debug, Clone)]
pub struct Bd {
    bin: OsString,
    /// `GT_BD_TIMEOUT_MS`, when set.
    configured_timeout: Option<Duration>,
    /// The directory bd runs in (this process's when `None`).
    dir: Option<std::path::PathBuf>,
}

impl Bd {
    /// `GT_BD_BIN` or `bd`, bounded by `GT_BD_TIMEOUT_MS` when set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let bin = lookup(GT_BD_BIN)
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "bd".to_owned());
        let configured_timeout = lookup(GT_BD_TIMEOUT_MS)
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        Self {
            bin: bin.into(),
            configured_timeout,
            dir: None,
        }
    }

    /// The same bd, run in `dir` (a rig, whose beads it then reads).
    #[must_use]
    pub fn in_dir(&self, dir: &std::path::Path) -> Self {
        Self {
            dir: Some(dir.to_owned()),
            ..self.clone()
        }
    }

    /// The binary's name or path.
    pub fn bin(&self) -> String {
        self.bin.to_string_lossy().into_owned()
    }

    /// The bound on a call whose answer gt reads: `GT_BD_TIMEOUT_MS`, else
    /// [`DEFAULT_BD_TIMEOUT`].
    pub fn timeout(&self) -> Duration {
        self.configured_timeout.unwrap_or(DEFAULT_BD_TIMEOUT)
    }

    /// The bound on [`Bd::passthrough`]: `GT_BD_TIMEOUT_MS` when set, else none.
    pub fn passthrough_timeout(&self) -> Option<Duration> {
        self.configured_timeout
    }

    /// Runs `bd args…` with the telemetry environment applied and returns its stdout.
    /// Every invocation, successful or not, is recorded as `bd.call` with its duration.
    ///
    /// # Errors
    /// [`BdError`] when bd cannot start, exits unsuccessfully, or exceeds the timeout.
    pub fn run(&self, args: &[&str]) -> Result<Vec<u8>, BdError> {
        let run = self.invoke(args)?;
        match run.failure {
            None => Ok(run.stdout),
            Some(err) => Err(err),
        }
    }

    /// Runs `bd args…` (stdin null, output captured) with the telemetry environment applied,
    /// records `bd.call`, and returns everything bd produced, whatever its exit status. Output
    /// past 16 MiB per stream is dropped with one warning on stderr.
    ///
    /// # Errors
    /// [`BdError`] only when bd cannot start or exceeds the timeout.
    pub fn invoke(&self, args: &[&str]) -> Result<BdRun, BdError> {
        let run = self.call(args, || {
            Bounded::new(self.command(args))
                .timeout(self.timeout())
                .stdin(Stdin::Null)
                .output(Output::Capture)
        })?;
        for (stream, captured) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            warn_dropped(&self.bin(), stream, captured);
        }
        Ok(run.into())
    }

    /// `gt bd -- args…`: runs bd transparently (stdin, stdout and stderr are this process's;
    /// SIGINT/SIGTERM/SIGHUP/SIGQUIT received meanwhile are forwarded to bd), bounded only by a
    /// configured `GT_BD_TIMEOUT_MS`, and records `bd.call`. bd's output is captured for the
    /// record (capped at `GT_LOG_BD_CONTENT_LIMIT`) only when `GT_LOG_BD_OUTPUT` is on; it is
    /// then copied to this process's stdout/stderr as it arrives, else bd writes to them
    /// directly.
    ///
    /// # Errors
    /// [`BdError`] only when bd cannot start or exceeds a configured timeout.
    pub fn passthrough(&self, args: &[&str]) -> Result<BdRun, BdError> {
        let record_cap = telemetry_recorder::global_recorder()
            .map(telemetry_recorder::Recorder::settings)
            .filter(|s| s.bd_output)
            .map(|s| s.bd_content_limit);
        let output = match record_cap {
            Some(_) => Output::stream_to_parent(true),
            None => Output::Inherit,
        };
        let bounded = || {
            let bounded = Bounded::new(self.command(args))
                .timeout_opt(self.passthrough_timeout())
                .stdin(Stdin::Inherit)
                .output(output)
                .forward_signals(true);
            // A few bytes over the limit, so the recorder still sees (and marks) a truncation.
            match record_cap {
                Some(limit) => bounded.cap(limit.saturating_add(4)),
                None => bounded,
            }
        };
        Ok(self.call(args, bounded)?.into())
    }

    /// `bd args…` with the telemetry environment, carrying the work context current now.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .with_gt_telemetry_from(crate::work_source::child_lookup());
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Runs the invocation `bounded` builds inside a `bd.call` span (with traces on: bd's
    /// `TRACEPARENT` names it), records `bd.call` with the real duration, and names failures.
    fn call(&self, args: &[&str], bounded: impl FnOnce() -> Bounded) -> Result<Ran, BdError> {
        telemetry_recorder::in_span("bd.call", || self.call_in_span(args, bounded))
    }

    fn call_in_span(
        &self,
        args: &[&str],
        bounded: impl FnOnce() -> Bounded,
    ) -> Result<Ran, BdError> {
        let bounded = bounded();
        let started = Instant::now();
        let result = bounded.run();
        let duration = started.elapsed();
        let ran = match result {
            Ok(done) => Ok(Ran {
                failure: (!done.status.success())
                    .then(|| self.failed(args, done.status, &done.stderr.bytes)),
                status: done.status,
                stdout: done.stdout,
                stderr: done.stderr,
            }),
            Err(RunError::Spawn { source, .. }) => Err(BdError::Spawn {
                bin: self.bin(),
                source,
            }),
            Err(RunError::TimedOut { timeout, .. }) => Err(BdError::TimedOut {
                bin: self.bin(),
                args: redact_args(args),
                timeout,
            }),
            Err(err) => Err(BdError::Supervise(err)),
        };
        match &ran {
            Ok(ran) => {
                let outcome = match &ran.failure {
                    Some(err) => Err(err as &dyn std::fmt::Display),
                    None => Ok(()),
                };
                telemetry_recorder::record_bd_call(
                    args,
                    duration,
                    outcome,
                    &ran.stdout.bytes,
                    &ran.stderr.bytes,
                );
            }
            Err(err) => telemetry_recorder::record_bd_call(args, duration, Err(err), &[], &[]),
        }
        ran
    }

    fn failed(&self, args: &[&str], status: ExitStatus, stderr: &[u8]) -> BdError {
        BdError::Failed {
            bin: self.bin(),
            args: redact_args(args),
            status: status.to_string(),
            stderr: String::from_utf8_lossy(stderr)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("(no stderr)")
                .to_owned(),
        }
    }
}

/// One warning when a stream went past the capture cap (gt reads a truncated answer).
fn warn_dropped(bin: &str, stream: &str, captured: &Captured) {
    if captured.dropped > 0 {
        eprintln!(
            "gt: WARNING: {bin}'s {stream} exceeded {} bytes; the {} bytes after that were dropped",
            captured.bytes.len(),
            captured.dropped
        );
    }
}

/// A bd that ran to its exit, before its captures are flattened into a [`BdRun`].
struct Ran {
    status: ExitStatus,
    stdout: Captured,
    stderr: Captured,
    failure: Option<BdError>,
}

impl From<Ran> for BdRun {
    fn from(ran: Ran) -> Self {
        Self {
            status: ran.status,
            stdout: ran.stdout.bytes,
            stderr: ran.stderr.bytes,
            failure: ran.failure,
        }
    }
}

/// What one bd invocation produced.
#[derive(Debug)]
pub struct BdRun {
    /// Its exit status.
    pub status: ExitStatus,
    /// What it wrote to stdout (capped; empty when not captured).
    pub stdout: Vec<u8>,
    /// What it wrote to stderr (capped; empty when not captured).
    pub stderr: Vec<u8>,
    /// The failure, when it exited unsuccessfully.
    pub failure: Option<BdError>,
}

impl BdRun {
    /// The exit code a shell would report: bd's own, or 128 + N when a signal N killed it.
    pub fn exit_code(&self) -> u8 {
        bounded_process::shell_exit_code(self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn gt_bd_has_no_timeout_unless_configured() {
        let bd = Bd::from_lookup(lookup(&[]));
        assert_eq!(bd.passthrough_timeout(), None);
        assert_eq!(bd.timeout(), DEFAULT_BD_TIMEOUT);
        let bd = Bd::from_lookup(lookup(&[(GT_BD_TIMEOUT_MS, "1500")]));
        assert_eq!(bd.passthrough_timeout(), Some(Duration::from_millis(1500)));
        assert_eq!(bd.timeout(), Duration::from_millis(1500));
    }

    #[test]
    fn an_unreadable_timeout_falls_back_to_the_default() {
        let bd = Bd::from_lookup(lookup(&[(GT_BD_TIMEOUT_MS, "soon")]));
        assert_eq!(bd.timeout(), DEFAULT_BD_TIMEOUT);
        assert_eq!(bd.passthrough_timeout(), None);
    }

    #[test]
    fn error_messages_redact_secrets() {
        let bd = Bd::from_lookup(lookup(&[]));
        let err = bd.failed(
            &["sync", "--token", "s3cret"],
            std::os::unix::process::ExitStatusExt::from_raw(1 << 8),
            b"",
        );
        let text = err.to_string();
        assert!(
            !text.contains("s3cret") && text.contains("[REDACTED]"),
            "{text}"
        );
    }
}
