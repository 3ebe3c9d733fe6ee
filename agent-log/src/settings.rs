//! `gt agent-log` settings: flags first, then the environment, then defaults, resolved once.
//!
//! One job: turn what the user gave (flags) and an injectable environment lookup into typed
//! values — which agent, which Gas Town session, where the state lives, how often to poll. It
//! must not read the process environment itself (callers pass `|k| std::env::var(k).ok()`),
//! touch files, or start anything.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use agent_transcripts::AgentKind;

use telemetry_core::env::{
    GT_AGENT, GT_AGENT_LOG_IDLE_FLUSH_MS, GT_AGENT_LOG_POLL_MS, GT_AGENT_LOG_STATE_DIR, GT_RIG,
    GT_ROLE, GT_RUN, GT_SESSION, XDG_STATE_HOME,
};

/// Default of [`GT_AGENT_LOG_IDLE_FLUSH_MS`]: Claude Code writes one line per content block
/// and a long tool call can take this long to stream, so shorter would release a request's
/// usage before its largest line arrived.
pub const DEFAULT_IDLE_FLUSH: Duration = Duration::from_secs(30);
/// Default of [`GT_AGENT_LOG_POLL_MS`].
pub const DEFAULT_POLL: Duration = Duration::from_secs(2);
/// Records recorded before an export must be confirmed. Below the SDK's export batch (512)
/// so that no size-triggered export happens behind the confirming flush, and far below its
/// queue (2048) so that nothing is dropped.
pub const BATCH_RECORDS: usize = 256;
/// Message ids remembered across the files of a session (and in its checkpoint), so a
/// request copied into another transcript is not counted twice.
pub const MESSAGE_MEMORY: usize = 8192;

/// A setting that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `GT_AGENT` names no known agent.
    #[error(
        "{variable}={value:?} is not a known agent; use claudecode, codex or opencode (or pass --agent)"
    )]
    UnknownAgent {
        /// Where the value came from.
        variable: &'static str,
        /// The value.
        value: String,
    },
    /// A duration variable is not a number of milliseconds.
    #[error("{variable}={value:?} is not a number of milliseconds")]
    InvalidMillis {
        /// The variable.
        variable: &'static str,
        /// The value.
        value: String,
    },
    /// No state directory can be derived.
    #[error("no state directory: set {GT_AGENT_LOG_STATE_DIR}, XDG_STATE_HOME or HOME")]
    NoStateDir,
    /// No session name.
    #[error("no session: pass --session or set {GT_SESSION}")]
    NoSession,
    /// `--since` is not RFC 3339.
    #[error("--since {0:?} is not an RFC 3339 time (e.g. 2026-01-31T12:00:00Z)")]
    InvalidSince(String),
}

/// Parses an agent name as `--agent` and `GT_AGENT` spell it.
#[must_use]
pub fn parse_agent(name: &str) -> Option<AgentKind> {
    match name.trim().to_ascii_lowercase().as_str() {
        "claudecode" | "claude-code" | "claude_code" | "claude" => Some(AgentKind::ClaudeCode),
        "codex" => Some(AgentKind::Codex),
        "opencode" => Some(AgentKind::OpenCode),
        _ => None,
    }
}

fn get(lookup: &impl Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    lookup(key)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The agent: `--agent`, else `GT_AGENT`, else Claude Code.
///
/// # Errors
/// [`SettingsError::UnknownAgent`] when `GT_AGENT` names no known agent.
pub fn resolve_agent(
    flag: Option<AgentKind>,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<AgentKind, SettingsError> {
    if let Some(agent) = flag {
        return Ok(agent);
    }
    match get(lookup, GT_AGENT) {
        None => Ok(AgentKind::ClaudeCode),
        Some(value) => parse_agent(&value).ok_or(SettingsError::UnknownAgent {
            variable: GT_AGENT,
            value,
        }),
    }
}

/// The state directory: `GT_AGENT_LOG_STATE_DIR`, else `$XDG_STATE_HOME/gt/agent-log`, else
/// `$HOME/.local/state/gt/agent-log`.
///
/// # Errors
/// [`SettingsError::NoStateDir`] when none of the three is set.
pub fn state_dir(lookup: &impl Fn(&str) -> Option<String>) -> Result<PathBuf, SettingsError> {
    if let Some(dir) = get(lookup, GT_AGENT_LOG_STATE_DIR) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(xdg) = get(lookup, XDG_STATE_HOME).filter(|d| Path::new(d).is_absolute()) {
        return Ok(Path::new(&xdg).join("gt").join("agent-log"));
    }
    get(lookup, "HOME")
        .map(|home| Path::new(&home).join(".local/state/gt/agent-log"))
        .ok_or(SettingsError::NoStateDir)
}

/// The home directory (`HOME`), for the agents' default transcript locations.
#[must_use]
pub fn home_dir(lookup: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    get(lookup, "HOME").map(PathBuf::from)
}

fn millis(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: Duration,
) -> Result<Duration, SettingsError> {
    match get(lookup, variable) {
        None => Ok(default),
        Some(value) => value
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| SettingsError::InvalidMillis { variable, value }),
    }
}

/// Everything the follow mode needs, resolved once.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowSettings {
    /// Whose transcripts.
    pub agent: AgentKind,
    /// The Gas Town session (`session` on every record; names the checkpoint and the lock).
    pub session: String,
    /// The agent's work directory, absolute.
    pub work_dir: PathBuf,
    /// Files last changed before this are followed from their end, not read from the start.
    pub since: Option<SystemTime>,
    /// `run.id` on every record; empty for none.
    pub run_id: String,
    /// `rig` on the token metrics.
    pub rig: String,
    /// `role` on the token metrics.
    pub role: String,
    /// Checkpoints, lock and pid files.
    pub state_dir: PathBuf,
    /// Gas Town's state directory, where the session's work ledger is (`GT_STATE_DIR`, else
    /// `$XDG_STATE_HOME/gastown`, else `~/.local/state/gastown`); `None` when none is set.
    pub work_state_dir: Option<PathBuf>,
    /// See [`GT_AGENT_LOG_IDLE_FLUSH_MS`].
    pub idle_flush: Duration,
    /// See [`GT_AGENT_LOG_POLL_MS`].
    pub poll: Duration,
}

/// What the user passed on the command line for the follow mode.
#[derive(Debug, Clone)]
pub struct FollowFlags<'a> {
    /// `--agent`.
    pub agent: Option<AgentKind>,
    /// `--session`.
    pub session: Option<&'a str>,
    /// `--work-dir`.
    pub work_dir: &'a Path,
    /// `--since`.
    pub since: Option<&'a str>,
    /// `--run-id`.
    pub run_id: Option<&'a str>,
}

impl Default for FollowFlags<'_> {
    fn default() -> Self {
        Self {
            agent: None,
            session: None,
            work_dir: Path::new(""),
            since: None,
            run_id: None,
        }
    }
}

impl FollowSettings {
    /// Resolves flags, then `lookup`, then defaults. A relative work dir is taken relative to
    /// `cwd`.
    ///
    /// # Errors
    /// A [`SettingsError`] naming the flag or variable to fix.
    pub fn resolve(
        flags: &FollowFlags<'_>,
        cwd: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let agent = resolve_agent(flags.agent, &lookup)?;
        let session = flags
            .session
            .map(str::to_owned)
            .filter(|s| !s.trim().is_empty())
            .or_else(|| get(&lookup, GT_SESSION))
            .ok_or(SettingsError::NoSession)?;
        let since = flags
            .since
            .map(|s| {
                agent_transcripts::time::parse_rfc3339(s.trim())
                    .ok_or_else(|| SettingsError::InvalidSince(s.to_owned()))
            })
            .transpose()?;
        let run_id = flags
            .run_id
            .map(str::to_owned)
            .or_else(|| get(&lookup, GT_RUN))
            .unwrap_or_default();
        Ok(Self {
            agent,
            session,
            work_dir: cwd.join(flags.work_dir),
            since,
            run_id,
            rig: get(&lookup, GT_RIG).unwrap_or_default(),
            role: get(&lookup, GT_ROLE).unwrap_or_default(),
            state_dir: state_dir(&lookup)?,
            work_state_dir: telemetry_core::config::state_dir_from_lookup(&lookup),
            idle_flush: millis(&lookup, GT_AGENT_LOG_IDLE_FLUSH_MS, DEFAULT_IDLE_FLUSH)?,
            poll: millis(&lookup, GT_AGENT_LOG_POLL_MS, DEFAULT_POLL)?
                .max(Duration::from_millis(50)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn flags_win_over_the_environment_which_wins_over_defaults() {
        let lookup = env(&[
            (GT_AGENT, "codex"),
            (GT_SESSION, "gt-env"),
            (GT_RUN, "run-env"),
            (GT_AGENT_LOG_STATE_DIR, "/state"),
            (GT_AGENT_LOG_POLL_MS, "250"),
        ]);
        let flags = FollowFlags {
            work_dir: Path::new("wd"),
            ..FollowFlags::default()
        };
        let s = FollowSettings::resolve(&flags, Path::new("/cwd"), &lookup).unwrap();
        assert_eq!(s.agent, AgentKind::Codex);
        assert_eq!(s.session, "gt-env");
        assert_eq!(s.run_id, "run-env");
        assert_eq!(s.work_dir, PathBuf::from("/cwd/wd"));
        assert_eq!(s.state_dir, PathBuf::from("/state"));
        assert_eq!(s.poll, Duration::from_millis(250));
        assert_eq!(s.idle_flush, DEFAULT_IDLE_FLUSH);
        let flags = FollowFlags {
            agent: Some(AgentKind::ClaudeCode),
            session: Some("gt-flag"),
            work_dir: Path::new("/abs"),
            run_id: Some("run-flag"),
            since: Some("2026-01-02T03:04:05Z"),
        };
        let s = FollowSettings::resolve(&flags, Path::new("/cwd"), &lookup).unwrap();
        assert_eq!(
            (s.agent, s.session.as_str(), s.run_id.as_str()),
            (AgentKind::ClaudeCode, "gt-flag", "run-flag")
        );
        assert_eq!(s.work_dir, PathBuf::from("/abs"));
        assert!(s.since.is_some());
    }

    #[test]
    fn state_dir_falls_back_to_xdg_then_home() {
        assert_eq!(
            state_dir(&env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")])).unwrap(),
            PathBuf::from("/x/gt/agent-log")
        );
        assert_eq!(
            state_dir(&env(&[("HOME", "/h")])).unwrap(),
            PathBuf::from("/h/.local/state/gt/agent-log")
        );
        assert_eq!(state_dir(&env(&[])), Err(SettingsError::NoStateDir));
    }

    #[test]
    fn bad_values_name_what_to_fix() {
        let flags = FollowFlags {
            work_dir: Path::new("/w"),
            ..FollowFlags::default()
        };
        let err = FollowSettings::resolve(&flags, Path::new("/"), env(&[(GT_AGENT, "emacs")]))
            .unwrap_err();
        assert!(err.to_string().contains("GT_AGENT"), "{err}");
        let err =
            FollowSettings::resolve(&flags, Path::new("/"), env(&[("HOME", "/h")])).unwrap_err();
        assert_eq!(err, SettingsError::NoSession);
        let err = FollowSettings::resolve(
            &flags,
            Path::new("/"),
            env(&[
                ("HOME", "/h"),
                (GT_SESSION, "s"),
                (GT_AGENT_LOG_IDLE_FLUSH_MS, "5s"),
            ]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains(GT_AGENT_LOG_IDLE_FLUSH_MS),
            "{err}"
        );
    }
}
