//! Git, timed and recorded as `git.operation`: `gt git -- ARGS` (transparent, through the one
//! bounded runner as `gt bd` uses it) and [`GitCommandExt`] for Rust callers that build their
//! own `git` [`Command`].
//!
//! Only the operation (git's subcommand), the repository's basename, the duration and the
//! outcome are recorded: never arguments (they may hold URLs with credentials) nor output.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use bounded_process::{Bounded, Output, RunError, Stdin};
use telemetry_subprocess::CommandTelemetryExt as _;

/// Git's global options that take their value as the next argument.
const OPTIONS_WITH_VALUE: &[&str] = &[
    "-C",
    "-c",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--super-prefix",
    "--config-env",
    "--exec-path",
    "--list-cmds",
];

/// What a git command line operates on: its subcommand and the directory it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitCall {
    /// The subcommand (`status`, `fetch`, …), or `none` when there is none (`git --version`).
    pub op: String,
    /// The `-C` directories joined onto `cwd` (git applies them in order).
    pub dir: PathBuf,
}

impl GitCall {
    /// Reads `args` (git's arguments, without `git`) run from `cwd`.
    pub fn parse<S: AsRef<OsStr>>(args: &[S], cwd: &Path) -> Self {
        let mut dir = cwd.to_path_buf();
        let mut iter = args.iter().map(AsRef::as_ref);
        let mut op = None;
        while let Some(arg) = iter.next() {
            let text = arg.to_string_lossy();
            if !text.starts_with('-') {
                op = Some(text.into_owned());
                break;
            }
            if text == "--" {
                break;
            }
            if OPTIONS_WITH_VALUE.contains(&text.as_ref()) {
                let value = iter.next();
                if text == "-C"
                    && let Some(value) = value
                {
                    dir = dir.join(value);
                }
            }
        }
        Self {
            op: op.unwrap_or_else(|| "none".to_owned()),
            dir,
        }
    }

    /// The repository name recorded: the directory's basename.
    #[must_use]
    pub fn repo(&self) -> String {
        let dir = self.dir.components().collect::<PathBuf>();
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Records `git.operation` for a call that took `duration` and ended as `status`/`error`.
    fn record(&self, duration: Duration, failure: Option<&str>) {
        let outcome = match &failure {
            Some(message) => Err(message as &dyn std::fmt::Display),
            None => Ok(()),
        };
        telemetry_recorder::record_git_operation(&self.op, &self.repo(), duration, outcome);
    }
}

fn exit_failure(op: &str, status: ExitStatus) -> Option<String> {
    (!status.success()).then(|| format!("git {op} exited with {status}"))
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_default()
}

/// `gt git -- args…`: git (`git` on `PATH`) with the caller's stdin, stdout and stderr,
/// signals forwarded, no timeout, the telemetry environment applied, recorded as
/// `git.operation`. Returns the exit code a shell would report (128 + N for signal N).
///
/// # Errors
/// [`RunError`] when git cannot be started or supervised (recorded as a failed operation too).
pub fn passthrough(args: &[String]) -> Result<u8, RunError> {
    // With traces on, the operation is a span for its real duration, and git's environment
    // names it (TRACEPARENT).
    telemetry_recorder::in_span("git.operation", || run_passthrough(args))
}

fn run_passthrough(args: &[String]) -> Result<u8, RunError> {
    let call = GitCall::parse(args, &current_dir());
    let mut cmd = Command::new("git");
    cmd.args(args)
        .with_gt_telemetry_from(crate::work_source::child_lookup());
    let started = Instant::now();
    let result = Bounded::new(cmd)
        .stdin(Stdin::Inherit)
        .output(Output::Inherit)
        .forward_signals(true)
        .run();
    let duration = started.elapsed();
    match result {
        Ok(done) => {
            call.record(duration, exit_failure(&call.op, done.status).as_deref());
            Ok(done.exit_code())
        }
        Err(err) => {
            call.record(duration, Some(&err.to_string()));
            Err(err)
        }
    }
}

/// Timing and recording for a `git` [`Command`] a Rust caller built itself: the same
/// `git.operation` as `gt git`, read from the command's arguments and directory.
pub trait GitCommandExt {
    /// [`Command::output`], recorded.
    ///
    /// # Errors
    /// The spawn error of [`Command::output`] (recorded as a failed operation).
    fn recorded_output(&mut self) -> std::io::Result<std::process::Output>;

    /// [`Command::status`], recorded.
    ///
    /// # Errors
    /// The spawn error of [`Command::status`] (recorded as a failed operation).
    fn recorded_status(&mut self) -> std::io::Result<ExitStatus>;
}

impl GitCommandExt for Command {
    fn recorded_output(&mut self) -> std::io::Result<std::process::Output> {
        timed(self, Command::output, |o| o.status)
    }

    fn recorded_status(&mut self) -> std::io::Result<ExitStatus> {
        timed(self, Command::status, |s| *s)
    }
}

fn timed<T>(
    cmd: &mut Command,
    run: fn(&mut Command) -> std::io::Result<T>,
    status: fn(&T) -> ExitStatus,
) -> std::io::Result<T> {
    let args: Vec<&OsStr> = cmd.get_args().collect();
    let cwd = match cmd.get_current_dir() {
        Some(dir) => current_dir().join(dir),
        None => current_dir(),
    };
    let call = GitCall::parse(&args, &cwd);
    let started = Instant::now();
    let result = run(cmd);
    let duration = started.elapsed();
    match &result {
        Ok(value) => call.record(duration, exit_failure(&call.op, status(value)).as_deref()),
        Err(err) => call.record(duration, Some(&format!("could not run git: {err}"))),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> GitCall {
        GitCall::parse(args, Path::new("/town"))
    }

    #[test]
    fn the_op_is_the_first_word_after_global_options() {
        assert_eq!(parse(&["status", "-s"]).op, "status");
        assert_eq!(parse(&["-c", "a.b=c", "--no-pager", "fetch"]).op, "fetch");
        assert_eq!(parse(&["--git-dir", "x", "log"]).op, "log");
        assert_eq!(parse(&["--version"]).op, "none");
        assert_eq!(parse(&[]).op, "none");
    }

    #[test]
    fn the_repo_is_the_basename_of_the_directory_after_dash_c() {
        assert_eq!(parse(&["status"]).repo(), "town");
        assert_eq!(parse(&["-C", "rigs/gastown", "status"]).repo(), "gastown");
        assert_eq!(
            parse(&["-C", "/abs/beads/", "-C", "sub", "pull"]).repo(),
            "sub"
        );
    }

    #[test]
    fn a_recorded_git_call_returns_what_git_returned() {
        let out = Command::new("git")
            .arg("--version")
            .recorded_output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("git version"));
        let status = Command::new("git")
            .args(["rev-parse", "--verify", "-q", "no-such-ref-anywhere"])
            .current_dir(std::env::temp_dir())
            .recorded_status()
            .unwrap();
        assert!(!status.success());
        assert!(Command::new("/nonexistent/git").recorded_status().is_err());
    }
}
