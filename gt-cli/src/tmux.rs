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
use telemetry_recorder::WorkContext;

/// The bound on one tmux call (it answers in milliseconds; a server that does not is wedged).
pub const TMUX_TIMEOUT: Duration = Duration::from_secs(5);

/// The variables `gt prime` owns in the tmux session, with their values from `ctx`.
pub fn work_variables(ctx: &WorkContext) -> [(&'static str, &str); 3] {
    [
        ("GT_WORK_RIG", &ctx.rig),
        ("GT_WORK_BEAD", &ctx.bead),
        ("GT_WORK_MOL", &ctx.mol),
    ]
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

    /// The name of the session this process runs in.
    ///
    /// # Errors
    /// When tmux fails (not inside tmux, server gone).
    pub fn current_session(&self) -> Result<String, TmuxError> {
        self.run(&["display-message", "-p", "#{session_name}"])
    }

    /// Sets (or, for an empty value, unsets) each GT_WORK_* variable in `session`.
    ///
    /// # Errors
    /// The first tmux failure; variables before it were already set.
    pub fn inject(&self, session: &str, ctx: &WorkContext) -> Result<(), TmuxError> {
        for (key, value) in work_variables(ctx) {
            if value.is_empty() {
                match self.run(&["set-environment", "-t", session, "-u", key]) {
                    // Unsetting a variable the session never had is not an error for us.
                    Err(TmuxError::Failed { stderr, .. })
                        if stderr.contains("unknown variable") => {}
                    other => other.map(drop)?,
                }
            } else {
                self.run(&["set-environment", "-t", session, key, value])?;
            }
        }
        Ok(())
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
