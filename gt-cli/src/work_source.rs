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
use work_ledger::Ledger;

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

/// The name of the tmux session this process runs in (`$TMUX` set), found once per process:
/// in the cache the last `gt prime` of that session wrote (one small file read, see
/// [`tmux_session_via_cache`]), else by asking tmux (a process spawn, bounded), which fills
/// the cache for the next process. `Ok(None)` outside tmux.
///
/// # Errors
/// When tmux had to be asked and failed.
pub fn current_tmux_session() -> Result<Option<String>, String> {
    static SESSION: OnceLock<Result<Option<String>, String>> = OnceLock::new();
    SESSION
        .get_or_init(|| {
            tmux_session_via_cache(&|k: &str| std::env::var(k).ok(), false, || {
                Tmux::default().current_session().map_err(|e| e.to_string())
            })
        })
        .clone()
}

/// [`current_tmux_session`] asked of tmux itself (once per process), refreshing the cache
/// (`gt prime`: a session renamed since the cache was written is seen under its new name from
/// then on).
///
/// # Errors
/// When tmux fails.
pub fn fresh_tmux_session() -> Result<Option<String>, String> {
    static SESSION: OnceLock<Result<Option<String>, String>> = OnceLock::new();
    SESSION
        .get_or_init(|| {
            tmux_session_via_cache(&|k: &str| std::env::var(k).ok(), true, || {
                Tmux::default().current_session().map_err(|e| e.to_string())
            })
        })
        .clone()
}

/// The tmux session name for the `$TMUX` that `lookup` returns: from the cache file
/// `<state dir>/tmux-sessions/<$TMUX, encoded>` unless `fresh`, else from `ask`, then written
/// to the cache (best effort). `$TMUX` names the server's socket, its pid and the session's
/// id, so a restarted server or another session never reads this one's name.
///
/// # Errors
/// `ask`'s.
pub fn tmux_session_via_cache(
    lookup: &impl Fn(&str) -> Option<String>,
    fresh: bool,
    ask: impl FnOnce() -> Result<String, String>,
) -> Result<Option<String>, String> {
    let Some(tmux) = lookup("TMUX").filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let cache = telemetry_core::config::state_dir_from_lookup(lookup).and_then(|dir| {
        let stem = work_ledger::file_stem(&tmux).ok()?;
        Some(dir.join("tmux-sessions").join(stem))
    });
    if !fresh
        && let Some(name) = cache
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .map(|text| text.trim().to_owned())
            .filter(|name| !name.is_empty())
    {
        return Ok(Some(name));
    }
    let name = ask()?;
    if let Some(path) = cache {
        // Best effort: without it the next process asks tmux again.
        let _ = write_replacing(&path, format!("{name}\n").as_bytes());
    }
    Ok(Some(name))
}

/// Writes `bytes` to `path` (creating its directory) through a temporary file renamed over it:
/// a reader sees the old or the new contents, never a torn file.
pub(crate) fn write_replacing(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
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

/// The work context an entry describes (one definition, agent-log's).
pub use agent_log::attribution::context_of;

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
    fn the_tmux_session_name_is_read_from_the_cache_prime_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().to_str().unwrap().to_owned();
        let lookup = |k: &str| match k {
            "TMUX" => Some("/tmp/tmux-1000/default,4242,3".to_owned()),
            GT_STATE_DIR => Some(state.clone()),
            _ => None,
        };
        // First: tmux is asked and the cache written; then the cache answers.
        let asked = tmux_session_via_cache(&lookup, false, || Ok("gt-gastown-Toast".into()));
        assert_eq!(asked, Ok(Some("gt-gastown-Toast".into())));
        let cached = tmux_session_via_cache(&lookup, false, || panic!("tmux asked again"));
        assert_eq!(cached, Ok(Some("gt-gastown-Toast".into())));
        // Prime asks afresh and refreshes it (a renamed session).
        let fresh = tmux_session_via_cache(&lookup, true, || Ok("renamed".into()));
        assert_eq!(fresh, Ok(Some("renamed".into())));
        assert_eq!(
            tmux_session_via_cache(&lookup, false, || panic!("tmux asked again")),
            Ok(Some("renamed".into()))
        );
        // Another session of the same server has its own entry; outside tmux, none.
        let other = |k: &str| match k {
            "TMUX" => Some("/tmp/tmux-1000/default,4242,4".to_owned()),
            GT_STATE_DIR => Some(state.clone()),
            _ => None,
        };
        assert_eq!(
            tmux_session_via_cache(&other, false, || Ok("other".into())),
            Ok(Some("other".into()))
        );
        assert_eq!(
            tmux_session_via_cache(&|_| None, false, || panic!()),
            Ok(None)
        );
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
