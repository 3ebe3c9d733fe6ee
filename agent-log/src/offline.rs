//! Transcripts read once, whole: the files a `replay` or `report` names, and their usages.
//!
//! One job: expand paths (files, or directories searched recursively) into transcript files
//! with their agent, and read usages out of them for a report. Claude Code transcripts of one
//! report share one parser, so a request copied between files (a resumed session, a
//! sub-agent's replay) is counted once, as ccusage counts it; each Codex rollout gets its own
//! parser (running totals are per file); OpenCode documents are read message documents first.
//! It must not follow files, keep checkpoints or record telemetry.

use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use agent_transcripts::{
    AgentKind, ClaudeCodeParser, CodexParser, Event, LineReader, OpenCodeParser, SkipCounts,
    TranscriptParser, Usage,
};

use crate::discover::list_files;

/// The agent of a transcript file when `--agent` does not say: `.json` documents are
/// OpenCode's, `rollout-*.jsonl` files Codex's, other `.jsonl` files Claude Code's.
#[must_use]
pub fn detect_agent(path: &Path) -> AgentKind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if path.extension().is_some_and(|e| e == "json") {
        AgentKind::OpenCode
    } else if name.starts_with("rollout-") {
        AgentKind::Codex
    } else {
        AgentKind::ClaudeCode
    }
}

/// Expands `paths` into transcript files with their agent (`agent`, else detected). A
/// directory yields its `.jsonl` files, and its `.json` files when the agent is OpenCode or
/// not given. OpenCode message documents come before part documents.
///
/// # Errors
/// A path that does not exist.
pub fn expand(
    paths: &[PathBuf],
    agent: Option<AgentKind>,
) -> io::Result<Vec<(PathBuf, AgentKind)>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        let files = if meta.is_dir() {
            let mut files = list_files(p, "jsonl");
            if matches!(agent, None | Some(AgentKind::OpenCode)) {
                files.extend(list_files(p, "json"));
            }
            files
        } else {
            vec![p.clone()]
        };
        for f in files {
            let kind = agent.unwrap_or_else(|| detect_agent(&f));
            if kind != AgentKind::OpenCode && f.extension().is_some_and(|e| e == "json") {
                continue;
            }
            out.push((f, kind));
        }
    }
    // Stable: message documents before parts, otherwise in the order given.
    out.sort_by_key(|(p, kind)| {
        (*kind == AgentKind::OpenCode && p.components().any(|c| c.as_os_str() == "part"),)
    });
    Ok(out)
}

/// The usages of `files` and the lines that yielded nothing.
///
/// # Errors
/// A file that cannot be read.
pub fn read_usages(files: &[(PathBuf, AgentKind)]) -> io::Result<(Vec<Usage>, SkipCounts)> {
    let mut usages = Vec::new();
    let mut skipped = SkipCounts::default();
    let mut claude = ClaudeCodeParser::exact();
    let mut opencode = OpenCodeParser::exact();
    let mut events = Vec::new();
    for (path, agent) in files {
        let mut codex;
        let parser: &mut dyn TranscriptParser = match agent {
            AgentKind::ClaudeCode => &mut claude,
            AgentKind::OpenCode => &mut opencode,
            AgentKind::Codex => {
                codex = CodexParser::new();
                &mut codex
            }
        };
        let read = if *agent == AgentKind::OpenCode {
            read_document(path, parser, &mut events, &mut skipped)
        } else {
            read_lines(path, parser, &mut events, &mut skipped)
        };
        read.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        if *agent == AgentKind::Codex {
            parser.flush(&mut events);
        }
        usages.extend(events.drain(..).filter_map(|e| match e {
            Event::Usage(u) => Some(u),
            Event::Content(_) => None,
        }));
    }
    claude.flush(&mut events);
    opencode.flush(&mut events);
    usages.extend(events.drain(..).filter_map(|e| match e {
        Event::Usage(u) => Some(u),
        Event::Content(_) => None,
    }));
    Ok((usages, skipped))
}

fn read_lines(
    path: &Path,
    parser: &mut dyn TranscriptParser,
    events: &mut Vec<Event>,
    skipped: &mut SkipCounts,
) -> io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let mut reader = LineReader::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        reader.push(&buf[..n]);
        while let Some(line) = reader.next_line() {
            skipped.record(parser.parse_line(line, events));
        }
    }
    if let Some(outcome) = agent_transcripts::finish_input(&mut reader, parser, events) {
        skipped.record(outcome);
    }
    *skipped += reader.counts();
    Ok(())
}

fn read_document(
    path: &Path,
    parser: &mut dyn TranscriptParser,
    events: &mut Vec<Event>,
    skipped: &mut SkipCounts,
) -> io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.len() > agent_transcripts::DEFAULT_MAX_LINE_BYTES as u64 {
        skipped.oversized += 1;
        return Ok(());
    }
    let doc = std::fs::read(path)?;
    skipped.record(parser.parse_line(&doc, events));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_told_apart_by_file_name() {
        assert_eq!(detect_agent(Path::new("/a/b.jsonl")), AgentKind::ClaudeCode);
        assert_eq!(
            detect_agent(Path::new("/s/2025/09/10/rollout-2025-x.jsonl")),
            AgentKind::Codex
        );
        assert_eq!(
            detect_agent(Path::new("/s/msg_1.json")),
            AgentKind::OpenCode
        );
    }
}
