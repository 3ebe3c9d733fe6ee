//! Resolving an agent's work context: identity, the hooked bead from `bd list`, its molecule.

use std::time::Duration;

use serde::Deserialize;
use telemetry_recorder::WorkContext;

use crate::bd::{Bd, BdError};

/// Who is priming: the agent id and its home rig.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// Agent id, e.g. `gastown/polecats/Toast`, `mayor`.
    pub agent_id: String,
    /// The rig: `--rig`, else `GT_RIG`, else the agent id's first segment when it has several.
    pub rig: String,
}

impl Identity {
    /// Resolves the identity: flags first, then `GT_ROLE` (`BD_ACTOR` as fallback) and `GT_RIG`.
    pub fn resolve(
        role_flag: Option<&str>,
        rig_flag: Option<&str>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let agent_id = non_empty(role_flag.map(str::to_owned))
            .or_else(|| non_empty(lookup("GT_ROLE")))
            .or_else(|| non_empty(lookup("BD_ACTOR")))
            .unwrap_or_default();
        let rig = non_empty(rig_flag.map(str::to_owned))
            .or_else(|| non_empty(lookup("GT_RIG")))
            .or_else(|| {
                agent_id
                    .split_once('/')
                    .map(|(first, _)| first.to_owned())
                    .filter(|r| !r.is_empty())
            })
            .unwrap_or_default();
        Self { agent_id, rig }
    }

    /// Polecats, crew and dogs get their hook written by someone else, possibly late: an empty
    /// answer is retried for them.
    pub fn hook_can_lag(&self) -> bool {
        self.agent_id
            .split('/')
            .any(|segment| matches!(segment, "polecats" | "polecat" | "crew" | "dogs" | "dog"))
    }
}

/// One issue of `bd list --json` (only what prime uses; other fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Issue {
    /// The bead id.
    pub id: String,
    /// Its title.
    #[serde(default)]
    pub title: String,
    /// Its status.
    #[serde(default)]
    pub status: String,
    /// Its assignee.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Its description, holding `key: value` lines such as `attached_molecule: mol-1`.
    #[serde(default)]
    pub description: Option<String>,
}

impl Issue {
    /// The molecule attached to this bead, from an `attached_molecule:` (or
    /// `attached-molecule:`, any case) line of its description.
    pub fn molecule(&self) -> Option<String> {
        self.description.as_deref().and_then(molecule_in)
    }
}

/// Finds the `attached_molecule: VALUE` line in a description.
pub fn molecule_in(description: &str) -> Option<String> {
    description.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let key = key.trim().to_ascii_lowercase().replace('-', "_");
        let value = value.trim();
        (key == "attached_molecule" && !value.is_empty()).then(|| value.to_owned())
    })
}

/// `bd list` gave an answer prime cannot read.
///
/// Its message is exported (the `prime` record's `error`), so it quotes bd's stdout only when
/// `GT_LOG_BD_OUTPUT=true`, the switch that lets `bd.call` carry stdout: bd may print anything
/// there, secrets included.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Neither a JSON array of issues nor the known "no issues" text.
    #[error("unreadable `bd list` output ({reason}){}", quoted(.start.as_deref()))]
    Unreadable {
        /// What was wrong (a position only, unless the output may be shown).
        reason: String,
        /// The first bytes of the output, when it may be shown.
        start: Option<String>,
    },
}

fn quoted(start: Option<&str>) -> String {
    start.map_or_else(
        || "; GT_LOG_BD_OUTPUT=true shows its start".to_owned(),
        |start| format!(": {start:?}"),
    )
}

/// Parses `bd list --json` output: a JSON array of issues (possibly empty), or plain text such
/// as "No issues found." meaning none.
///
/// # Errors
/// [`AnswerError::Unreadable`] for anything else (a failed query is not "no work"); it quotes
/// the output only when `show_output` is true.
pub fn parse_list(stdout: &[u8], show_output: bool) -> Result<Vec<Issue>, AnswerError> {
    let text = String::from_utf8_lossy(stdout);
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.to_ascii_lowercase().starts_with("no issues found") {
        return Ok(Vec::new());
    }
    serde_json::from_str::<Vec<Issue>>(trimmed).map_err(|err| {
        if show_output {
            AnswerError::Unreadable {
                reason: err.to_string(),
                start: Some(trimmed.chars().take(80).collect()),
            }
        } else {
            // serde_json's own message can quote the input (`invalid type: string "…"`).
            let what = match err.classify() {
                serde_json::error::Category::Io => "read error",
                serde_json::error::Category::Syntax => "not JSON",
                serde_json::error::Category::Data => "not a list of issues",
                serde_json::error::Category::Eof => "truncated JSON",
            };
            AnswerError::Unreadable {
                reason: format!("{what} at line {} column {}", err.line(), err.column()),
                start: None,
            }
        }
    })
}

/// Why the hooked-work lookup failed (the work may still be assigned).
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// bd could not be run or failed.
    #[error(transparent)]
    Bd(#[from] BdError),
    /// bd answered something unreadable.
    #[error(transparent)]
    Answer(#[from] AnswerError),
}

/// How often an empty answer is asked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Total attempts (1 = no retry).
    pub attempts: u32,
    /// The first pause; it doubles after each attempt.
    pub first_pause: Duration,
}

impl Retry {
    /// One try only.
    pub const NONE: Self = Self {
        attempts: 1,
        first_pause: Duration::ZERO,
    };
    /// For agents whose hook can lag: 5 tries, 0.5 s doubling (7.5 s of pauses at most).
    pub const LAGGING_HOOK: Self = Self {
        attempts: 5,
        first_pause: Duration::from_millis(500),
    };
}

/// Asks bd for the agent's hooked bead, then its in-progress one; retries an empty answer as
/// `retry` says, pausing with `pause` (injected so tests need not wait).
///
/// Returns `Ok(None)` only after a successful empty answer.
///
/// # Errors
/// [`LookupError`] at the first failed query: failures are not retried and never mean "no work".
pub fn find_hooked_work(
    bd: &Bd,
    agent_id: &str,
    retry: Retry,
    mut pause: impl FnMut(Duration),
) -> Result<Option<Issue>, LookupError> {
    let assignee = format!("--assignee={agent_id}");
    let show_output = telemetry_recorder::settings::ContentSettings::process().bd_output;
    let mut wait = retry.first_pause;
    for attempt in 1..=retry.attempts.max(1) {
        for status in ["--status=hooked", "--status=in_progress"] {
            let stdout = bd.run(&["list", "--json", "--flat", status, &assignee, "--limit=0"])?;
            if let Some(issue) = parse_list(&stdout, show_output)?.into_iter().next() {
                return Ok(Some(issue));
            }
        }
        if attempt < retry.attempts {
            pause(wait);
            wait = wait.saturating_mul(2);
        }
    }
    Ok(None)
}

/// The work context for a found issue (or none): the bead, its molecule, and the rig.
pub fn context_for(issue: Option<&Issue>, rig: &str) -> WorkContext {
    match issue {
        Some(issue) => WorkContext {
            rig: rig.to_owned(),
            bead: issue.id.clone(),
            mol: issue.molecule().unwrap_or_default(),
        },
        None => WorkContext::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_from_flags_env_and_role_segments() {
        let env = |k: &str| (k == "GT_ROLE").then(|| "gastown/polecats/Toast".to_owned());
        let id = Identity::resolve(None, None, env);
        assert_eq!(id.agent_id, "gastown/polecats/Toast");
        assert_eq!(id.rig, "gastown");
        assert!(id.hook_can_lag());
        let id = Identity::resolve(Some("mayor"), None, |_| None);
        assert_eq!((id.agent_id.as_str(), id.rig.as_str()), ("mayor", ""));
        assert!(!id.hook_can_lag());
        let id = Identity::resolve(None, Some("beads"), |k| {
            (k == "BD_ACTOR").then(|| "x/crew/max".into())
        });
        assert_eq!(
            (id.agent_id.as_str(), id.rig.as_str()),
            ("x/crew/max", "beads")
        );
    }

    #[test]
    fn molecule_line_variants() {
        assert_eq!(
            molecule_in("a: b\nattached_molecule: mol-1\n"),
            Some("mol-1".into())
        );
        assert_eq!(
            molecule_in("Attached-Molecule:  mol-2 "),
            Some("mol-2".into())
        );
        assert_eq!(molecule_in("attached_molecule:"), None);
        assert_eq!(molecule_in("no molecule here"), None);
    }

    #[test]
    fn list_answers() {
        assert!(parse_list(b"No issues found.\n", false).unwrap().is_empty());
        assert!(parse_list(b"[]", false).unwrap().is_empty());
        let issues = parse_list(
            br#"[{"id":"gt-1","title":"T","status":"hooked","extra":1}]"#,
            false,
        )
        .unwrap();
        assert_eq!(issues[0].id, "gt-1");
        assert!(parse_list(b"{not json", false).is_err());
        assert!(parse_list(b"Error: database locked", false).is_err());
    }

    #[test]
    fn unreadable_output_is_quoted_only_when_bd_output_may_be_shown() {
        for secret in [
            &b"token=hunter2"[..],
            br#""hunter2""#,
            br#"{"id": "hunter2"}"#,
        ] {
            let hidden = parse_list(secret, false).unwrap_err().to_string();
            assert!(!hidden.contains("hunter2"), "{hidden}");
            assert!(hidden.contains("GT_LOG_BD_OUTPUT=true"), "{hidden}");
            let shown = parse_list(secret, true).unwrap_err().to_string();
            assert!(shown.contains("hunter2"), "{shown}");
        }
    }
}
