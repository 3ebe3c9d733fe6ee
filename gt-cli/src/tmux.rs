//! Injecting the work context into the agent's tmux session, so every process started later in
//! that session inherits it. tmux finds its server through `$TMUX`, as inside a real session.
//!
//! Every tmux call is bounded by [`TMUX_TIMEOUT`] (5 s; + 0.5 s to collect it) through the
//! workspace's one bounded runner (`bounded-process`): a wedged tmux server costs `gt prime`
//! at most that per call, then a [`TmuxError::Run`] warning.

use std::ffi::OsString;
use std::process::Command;
use std::time::Duration;

use bounded_process::{Bounded, RunError};
use telemetry_core::env::{GT_WORK_BEAD, GT_WORK_MOL, GT_WORK_RIG};
use telemetry_recorder::WorkContext;

/// The bound on one tmux call (it answers in milliseconds; a server that does not is wedged).
pub const TMUX_TIMEOUT: Duration = Duration::from_secs(5);

/// The variables `gt prime` owns in the tmux session, with their values from `ctx`.
pub fn work_variables(ctx: &WorkContext) -> [(&'static str, &str); 3] {
    [
        (GT_WORK_RIG, &ctx.rig),
        (GT_WORK_BEAD, &ctx.bead),
        (GT_WORK_MOL, &ctx.mol),
    ]
}

/// The arguments of the one tmux invocation that sets (or unsets) the three variables.
///
/// tmux splits an argument ending in `;` into a command separator; a value ending in `;` gets
/// a `\` before it, which tmux removes, so every value arrives as it was.
pub fn inject_args(session: &str, ctx: &WorkContext) -> Vec<String> {
    let mut args = Vec::new();
    for (key, value) in work_variables(ctx) {
        if !args.is_empty() {
            args.push(";".to_owned());
        }
        args.extend([
            "set-environment".to_owned(),
            "-t".to_owned(),
            literal(session),
        ]);
        if value.is_empty() {
            args.extend(["-u", key].map(str::to_owned));
        } else {
            args.extend([key.to_owned(), literal(value)]);
        }
    }
    args
}

/// `arg` as an argument of a tmux command sequence: a trailing `;` escaped.
fn literal(arg: &str) -> String {
    match arg.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => arg.to_owned(),
    }
}

/// A tmux command failed.
#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    /// tmux could not be started, or did not answer within [`TMUX_TIMEOUT`].
    #[error("tmux: {0}")]
    Run(#[from] RunError),
    /// tmux answered with an error.
    #[error("`tmux {args}` failed: {stderr}")]
    Failed {
        /// The arguments.
        args: String,
        /// Its stderr, trimmed.
        stderr: String,
    },
}

/// The tmux client.
#[derive(Debug, Clone)]
pub struct Tmux {
    bin: OsString,
}

impl Default for Tmux {
    fn default() -> Self {
        Self { bin: "tmux".into() }
    }
}

impl Tmux {
    /// Runs `tmux args…` (arguments passed separately: no shell ever sees a value), bounded by
    /// [`TMUX_TIMEOUT`].
    fn run(&self, args: &[&str]) -> Result<String, TmuxError> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args);
        let out = Bounded::new(cmd).timeout(TMUX_TIMEOUT).run()?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout.bytes)
                .trim_end_matches('\n')
                .to_owned())
        } else {
            Err(TmuxError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr.bytes).trim().to_owned(),
            })
        }
    }

    /// Whether `session` exists (matched exactly).
    #[must_use]
    pub fn has_session(&self, session: &str) -> bool {
        self.run(&["has-session", "-t", &format!("={session}")])
            .is_ok()
    }

    /// Starts `argv` in `session` with `env` set, in `dir`: a new detached session, or a new
    /// window of the existing one (whose environment then takes `env` too, for later panes).
    ///
    /// # Errors
    /// When tmux fails.
    pub fn start_in_session(
        &self,
        session: &str,
        dir: &std::path::Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<(), TmuxError> {
        let dir = dir.to_string_lossy().into_owned();
        let mut args: Vec<String> = if self.has_session(session) {
            for (k, v) in env {
                self.run(&["set-environment", "-t", session, k, v])?;
            }
            ["new-window", "-t", &format!("={session}:"), "-c", &dir]
                .map(str::to_owned)
                .to_vec()
        } else {
            ["new-session", "-d", "-s", session, "-c", &dir]
                .map(str::to_owned)
                .to_vec()
        };
        for (k, v) in env {
            args.push("-e".to_owned());
            args.push(format!("{k}={v}"));
        }
        args.push("--".to_owned());
        args.extend(argv.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args).map(drop)
    }

    /// Closes `session`.
    ///
    /// # Errors
    /// When tmux fails (the session is gone already, the server is not running).
    pub fn kill_session(&self, session: &str) -> Result<(), TmuxError> {
        self.run(&["kill-session", "-t", &format!("={session}")])
            .map(drop)
    }

    /// The name of the session this process runs in.
    ///
    /// # Errors
    /// When tmux fails (not inside tmux, server gone).
    pub fn current_session(&self) -> Result<String, TmuxError> {
        self.run(&["display-message", "-p", "#{session_name}"])
    }

    /// Sets (or, for an empty value, unsets) the three GT_WORK_* variables in `session`, in
    /// one tmux invocation: a command sequence (`set-environment … ; set-environment …`) that
    /// the server runs as one queue item, so parallel primes never leave a mix of two
    /// contexts.
    ///
    /// # Errors
    /// When tmux fails.
    pub fn inject(&self, session: &str, ctx: &WorkContext) -> Result<(), TmuxError> {
        let args = inject_args(session, ctx);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match self.run(&args) {
            // Unsetting a variable the session never had is not an error (older tmux).
            Err(TmuxError::Failed { stderr, .. }) if stderr.contains("unknown variable") => Ok(()),
            other => other.map(drop),
        }
    }

    /// The session's value of `key`, if set (for checks and tests).
    ///
    /// # Errors
    /// When tmux fails.
    pub fn show(&self, session: &str, key: &str) -> Result<Option<String>, TmuxError> {
        match self.run(&["show-environment", "-t", session, key]) {
            Ok(line) => Ok(line.strip_prefix(&format!("{key}=")).map(str::to_owned)),
            Err(TmuxError::Failed { stderr, .. }) if stderr.contains("unknown variable") => {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }
}
