//! Which transcript files belong to a work directory.
//!
//! One job: map (agent, work directory) to the directory to watch and the files in it that
//! belong to that work directory. Claude Code keeps one directory per work directory
//! (`<config>/projects/<encoded work dir>/**/*.jsonl`, sub-agents in subdirectories); Codex
//! keeps every session under `$CODEX_HOME/sessions/YYYY/MM/DD/` and names the work directory
//! in the first line (`session_meta.payload.cwd`); where those directories are is
//! [`agent_transcripts::paths`]'s. This module lists and classifies; it must
//! not read past a file's first line, keep offsets, or parse conversation.

use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Every file under `root` (recursively, symlinks not followed) whose name ends in `.ext`,
/// sorted. A missing or unreadable directory yields nothing.
#[must_use]
pub fn list_files(root: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Whether a Codex rollout belongs to a work directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Its `session_meta` names the work directory.
    Ours,
    /// It names another directory, or does not start with `session_meta`.
    Other,
    /// Its first line is not complete yet: ask again later.
    Undecided,
}

/// The first line of a Codex rollout may carry the whole instructions file; past this it is
/// not a rollout we can classify.
const FIRST_LINE_LIMIT: u64 = 4 * 1024 * 1024;

#[derive(Deserialize)]
struct MetaLine {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    payload: Option<MetaPayload>,
}

#[derive(Deserialize)]
struct MetaPayload {
    #[serde(default)]
    cwd: Option<String>,
}

/// Reads the first line of the rollout at `path` and compares its `session_meta` cwd with
/// `work_dir` (as given, and both canonicalized).
///
/// # Errors
/// When the file cannot be opened or read.
pub fn codex_ownership(path: &Path, work_dir: &Path) -> io::Result<Ownership> {
    let mut first = Vec::new();
    File::open(path)?
        .take(FIRST_LINE_LIMIT)
        .read_to_end(&mut first)?;
    let Some(end) = memchr_newline(&first) else {
        return Ok(if first.len() as u64 >= FIRST_LINE_LIMIT {
            Ownership::Other
        } else {
            Ownership::Undecided
        });
    };
    let Ok(meta) = serde_json::from_slice::<MetaLine>(&first[..end]) else {
        return Ok(Ownership::Other);
    };
    let cwd = match (meta.kind.as_str(), meta.payload.and_then(|p| p.cwd)) {
        ("session_meta", Some(cwd)) => PathBuf::from(cwd),
        _ => return Ok(Ownership::Other),
    };
    let same = cwd == work_dir
        || matches!(
            (cwd.canonicalize(), work_dir.canonicalize()),
            (Ok(a), Ok(b)) if a == b
        );
    Ok(if same {
        Ownership::Ours
    } else {
        Ownership::Other
    })
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_in_subdirectories_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("s1/subagents")).unwrap();
        for f in ["b.jsonl", "a.jsonl", "s1/subagents/x.jsonl", "notes.txt"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let found = list_files(dir.path(), "jsonl");
        let names: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            vec![
                PathBuf::from("a.jsonl"),
                PathBuf::from("b.jsonl"),
                PathBuf::from("s1/subagents/x.jsonl")
            ]
        );
        assert!(list_files(&dir.path().join("missing"), "jsonl").is_empty());
    }

    #[test]
    fn codex_rollouts_are_claimed_by_their_session_meta_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("rollout.jsonl");
        std::fs::write(
            &f,
            br#"{"type":"session_meta","payload":{"id":"x","cwd":"/srv/town"}"#,
        )
        .unwrap();
        assert_eq!(
            codex_ownership(&f, Path::new("/srv/town")).unwrap(),
            Ownership::Undecided
        );
        std::fs::write(
            &f,
            b"{\"type\":\"session_meta\",\"payload\":{\"id\":\"x\",\"cwd\":\"/srv/town\"}}\n{}",
        )
        .unwrap();
        assert_eq!(
            codex_ownership(&f, Path::new("/srv/town")).unwrap(),
            Ownership::Ours
        );
        assert_eq!(
            codex_ownership(&f, Path::new("/srv/other")).unwrap(),
            Ownership::Other
        );
    }
}
