//! Where each agent keeps its transcripts: Claude Code's project directories, Codex's
//! sessions directory, OpenCode's database.
//!
//! One job: map (agent, work directory, environment, home) to a path. Pure functions: the
//! environment comes through a lookup closure (pass `|k| std::env::var(k).ok()`) and the home
//! directory as an argument, so tests never touch the process environment. The names of the
//! variables read are declared here ([`CLAUDE_CONFIG_DIR_ENV`], [`CODEX_HOME_ENV`],
//! [`XDG_DATA_HOME_ENV`]): this crate depends on no telemetry crate. It must not open, list or
//! create anything.

use std::path::{Path, PathBuf};

pub use crate::claudecode::{
    CLAUDE_CONFIG_DIR_ENV, claude_config_dir, claude_project_dir, claude_session_file,
};
pub use crate::codex::{CODEX_HOME_ENV, codex_sessions_dir};
use crate::model::AgentKind;

/// The XDG base directory for user data, where OpenCode keeps its data directory.
pub const XDG_DATA_HOME_ENV: &str = "XDG_DATA_HOME";

/// OpenCode's database file name in its data directory (OpenCode ≥ 1.2).
pub const OPENCODE_DATABASE_FILE: &str = "opencode.db";

/// OpenCode's database: `$XDG_DATA_HOME/opencode/opencode.db` when `XDG_DATA_HOME` is set
/// and absolute, else `<home>/.local/share/opencode/opencode.db`; `None` without either.
pub fn opencode_database(
    lookup: impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    let data = lookup(XDG_DATA_HOME_ENV)
        .map(|d| PathBuf::from(d.trim()))
        .filter(|d| d.is_absolute())
        .or_else(|| home.map(|h| h.join(".local/share")))?;
    Some(data.join("opencode").join(OPENCODE_DATABASE_FILE))
}

/// Where `agent`'s transcripts are: the project directory of `work_dir` (Claude Code), the
/// sessions directory of every work directory (Codex), or the database of every work
/// directory's sessions (OpenCode). `None` when no home directory is known and the
/// environment does not say.
pub fn transcript_root(
    agent: AgentKind,
    work_dir: &Path,
    lookup: impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    match agent {
        AgentKind::ClaudeCode => {
            claude_config_dir(lookup, home).map(|config| claude_project_dir(&config, work_dir))
        }
        AgentKind::Codex => codex_sessions_dir(lookup, home),
        AgentKind::OpenCode => opencode_database(lookup, home),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opencode_database_follows_an_absolute_xdg_data_home() {
        let env = |k: &str| (k == "XDG_DATA_HOME").then(|| "/x".to_owned());
        assert_eq!(
            opencode_database(env, Some(Path::new("/h"))),
            Some(PathBuf::from("/x/opencode/opencode.db"))
        );
        let relative = |k: &str| (k == "XDG_DATA_HOME").then(|| "x".to_owned());
        assert_eq!(
            opencode_database(relative, Some(Path::new("/h"))),
            Some(PathBuf::from("/h/.local/share/opencode/opencode.db"))
        );
        assert_eq!(
            opencode_database(|_| None, Some(Path::new("/h"))),
            Some(PathBuf::from("/h/.local/share/opencode/opencode.db"))
        );
        assert_eq!(opencode_database(|_| None, None), None);
    }

    #[test]
    fn each_agent_has_its_root() {
        let home = Some(Path::new("/home/u"));
        assert_eq!(
            transcript_root(
                AgentKind::ClaudeCode,
                Path::new("/srv/town_1"),
                |_| None,
                home
            ),
            Some(PathBuf::from("/home/u/.claude/projects/-srv-town-1"))
        );
        let codex = |k: &str| (k == "CODEX_HOME").then(|| "/c".to_owned());
        assert_eq!(
            transcript_root(AgentKind::Codex, Path::new("/w"), codex, home),
            Some(PathBuf::from("/c/sessions"))
        );
        assert_eq!(
            transcript_root(AgentKind::OpenCode, Path::new("/w"), |_| None, home),
            Some(PathBuf::from("/home/u/.local/share/opencode/opencode.db"))
        );
        assert_eq!(
            transcript_root(AgentKind::OpenCode, Path::new("/w"), |_| None, None),
            None
        );
    }
}
