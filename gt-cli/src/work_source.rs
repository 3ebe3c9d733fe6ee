//! The one owner of a gt process's work context: where it comes from, and how it reaches
//! records and children.
//!
//! At start (telemetry on only; off, nothing is read) a gt process resolves it once as:
//! explicit flags (`gt prime --bead/--mol`, applied by prime itself) > the current entry of
//! this session's work ledger > `GT_WORK_*` from the environment > none, and hands it to the
//! recorder (`telemetry_recorder::set_work_context`). The session is `GT_SESSION`, else the
//! tmux session of `$TMUX` (asked once per process, bounded), else none: then only the
//! environment applies. Children started later get the recorder's value in their environment
//! ([`child_lookup`]), never a stale inherited one.
//!
//! It must not print (warnings are returned) nor write the ledger (that is `gt prime`'s).

use std::path::PathBuf;
use std::sync::OnceLock;

use telemetry_core::env::{GT_SESSION, GT_WORK_BEAD, GT_WORK_MOL, GT_WORK_RIG};
use telemetry_recorder::WorkContext;
use work_ledger::{Entry, Ledger};

use crate::tmux::Tmux;

/// Where a resolved work context came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The session's work ledger.
    Ledger,
    /// `GT_WORK_*` in the environment (no session, or its ledger has no entry).
    Environment,
    /// Nothing set anywhere.
    None,
}

/// A resolved work context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The context.
    pub ctx: WorkContext,
    /// Where it came from.
    pub origin: Origin,
    /// The session whose ledger was consulted, if any.
    pub session: Option<String>,
    /// One line per problem met on the way (the caller prints them).
    pub warnings: Vec<String>,
}

/// The tmux session this process runs in (`None` outside tmux), asked once per process
/// through the bounded tmux client; a failure is the error's text.
///
/// # Errors
/// tmux could not say (server gone, wedged past its bound).
pub fn current_tmux_session() -> Result<Option<String>, String> {
    static SESSION: OnceLock<Result<Option<String>, String>> = OnceLock::new();
    SESSION
        .get_or_init(|| {
            if std::env::var_os("TMUX").is_none() {
                return Ok(None);
            }
            Tmux::default()
                .current_session()
                .map(Some)
                .map_err(|e| e.to_string())
        })
        .clone()
}

/// The session key: `GT_SESSION` (non-empty) through `lookup`, else `tmux_session()`.
///
/// # Errors
/// `tmux_session`'s.
pub fn session_key(
    lookup: &impl Fn(&str) -> Option<String>,
    tmux_session: impl FnOnce() -> Result<Option<String>, String>,
) -> Result<Option<String>, String> {
    match lookup(GT_SESSION).map(|s| s.trim().to_owned()) {
        Some(session) if !session.is_empty() => Ok(Some(session)),
        _ => tmux_session(),
    }
}

/// The ledger of `session` in the state directory `lookup` names (`GT_STATE_DIR`, else
/// `$XDG_STATE_HOME/gastown`, else `~/.local/state/gastown`).
///
/// # Errors
/// No state directory can be named, or the session cannot name a file.
pub fn ledger_for(
    lookup: &impl Fn(&str) -> Option<String>,
    session: &str,
) -> Result<Ledger, String> {
    let dir: PathBuf = telemetry_core::config::state_dir_from_lookup(lookup).ok_or_else(|| {
        "work ledger: no state directory (set GT_STATE_DIR, XDG_STATE_HOME or HOME)".to_owned()
    })?;
    Ledger::new(&dir, session).map_err(|e| e.to_string())
}

/// The work context an entry describes.
#[must_use]
pub fn context_of(entry: &Entry) -> WorkContext {
    WorkContext {
        rig: entry.rig.clone(),
        bead: entry.bead.clone(),
        mol: entry.mol.clone(),
    }
}

/// Resolves the work context: the current entry of `session`'s ledger, else `GT_WORK_*`
/// through `lookup`, else none. Reads one small file (its tail) at most.
pub fn resolve(lookup: &impl Fn(&str) -> Option<String>, session: Option<String>) -> Resolved {
    let mut warnings = Vec::new();
    if let Some(name) = &session {
        let current = ledger_for(lookup, name).and_then(|ledger| {
            let read = ledger.current().map_err(|e| e.to_string())?;
            if read.corrupt_lines > 0 {
                warnings.push(format!(
                    "work ledger {}: skipped {} corrupt line(s)",
                    ledger.path().display(),
                    read.corrupt_lines
                ));
            }
            Ok(read.value)
        });
        match current {
            Ok(Some(entry)) => {
                return Resolved {
                    ctx: context_of(&entry),
                    origin: Origin::Ledger,
                    session,
                    warnings,
                };
            }
            Ok(None) => {}
            Err(err) => warnings.push(format!("{err}; using GT_WORK_* from the environment")),
        }
    }
    let ctx = WorkContext::from_lookup(lookup);
    let origin = if ctx.is_empty() {
        Origin::None
    } else {
        Origin::Environment
    };
    Resolved {
        ctx,
        origin,
        session,
        warnings,
    }
}

/// Resolves this process's work context from its environment (the session from `GT_SESSION`,
/// else tmux). Only for telemetry on: off, nothing is to be read.
#[must_use]
pub fn resolve_for_process() -> Resolved {
    let env = |k: &str| std::env::var(k).ok();
    match session_key(&env, current_tmux_session) {
        Ok(session) => resolve(&env, session),
        Err(err) => {
            let mut resolved = resolve(&env, None);
            resolved
                .warnings
                .insert(0, format!("could not find the tmux session: {err}"));
            resolved
        }
    }
}

/// The environment lookup for a child started now: this process's environment with
/// `GT_WORK_*` replaced by the recorder's current work context (empty values included, so a
/// cleared context replaces a stale inherited one).
pub fn child_lookup() -> impl Fn(&str) -> Option<String> {
    move |key| {
        let part = |f: fn(WorkContext) -> String| Some(f(telemetry_recorder::work_context()));
        match key {
            GT_WORK_RIG => part(|c| c.rig),
            GT_WORK_BEAD => part(|c| c.bead),
            GT_WORK_MOL => part(|c| c.mol),
            _ => std::env::var(key).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry_core::env::GT_STATE_DIR;
    use work_ledger::{Change, Source};

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn session_is_gt_session_else_tmux() {
        let with = env(&[(GT_SESSION, "s1")]);
        assert_eq!(
            session_key(&with, || panic!("tmux asked")),
            Ok(Some("s1".into()))
        );
        let without = env(&[(GT_SESSION, " ")]);
        assert_eq!(
            session_key(&without, || Ok(Some("t".into()))),
            Ok(Some("t".into()))
        );
        assert_eq!(session_key(&without, || Ok(None)), Ok(None));
    }

    #[test]
    fn ledger_wins_over_a_stale_environment_and_a_cleared_entry_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().to_str().unwrap();
        let vars = [(GT_STATE_DIR, state), (GT_WORK_BEAD, "old")];
        let lookup = env(&vars);
        let resolved = resolve(&lookup, Some("s".into()));
        assert_eq!(
            (resolved.origin, resolved.ctx.bead.as_str()),
            (Origin::Environment, "old")
        );
        let ledger = ledger_for(&lookup, "s").unwrap();
        let change = Change {
            rig: "r".into(),
            bead: "new".into(),
            ..Change::default()
        };
        ledger.append(change, Source::PrimeHook).unwrap();
        let resolved = resolve(&lookup, Some("s".into()));
        assert_eq!(
            (
                resolved.origin,
                resolved.ctx.bead.as_str(),
                resolved.ctx.rig.as_str()
            ),
            (Origin::Ledger, "new", "r")
        );
        ledger.append(Change::default(), Source::EmptyHook).unwrap();
        let resolved = resolve(&lookup, Some("s".into()));
        assert_eq!(
            (resolved.origin, resolved.ctx.is_empty()),
            (Origin::Ledger, true)
        );
        // Without a session, only the environment applies.
        assert_eq!(resolve(&lookup, None).ctx.bead, "old");
        assert_eq!(resolve(&env(&[]), None).origin, Origin::None);
    }

    #[test]
    fn an_unreadable_ledger_is_one_warning_and_the_environment_applies() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().to_str().unwrap();
        std::fs::create_dir_all(dir.path().join("ledger/s.jsonl")).unwrap();
        let vars = [(GT_STATE_DIR, state), (GT_WORK_BEAD, "env")];
        let resolved = resolve(&env(&vars), Some("s".into()));
        assert_eq!(resolved.ctx.bead, "env");
        assert_eq!(resolved.warnings.len(), 1, "{:?}", resolved.warnings);
    }
}
