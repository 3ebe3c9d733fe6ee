//! Helpers shared by the integration tests: feed files through a LineReader in small chunks.
#![allow(dead_code, unreachable_pub)] // each test binary uses a subset

use std::path::{Path, PathBuf};

use agent_transcripts::{Event, LineOutcome, LineReader, SkipCounts, TranscriptParser};

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Feeds `bytes` in `chunk`-byte pieces as a whole file; returns the outcomes of complete
/// lines. Does not flush.
pub fn feed(
    parser: &mut dyn TranscriptParser,
    bytes: &[u8],
    chunk: usize,
    events: &mut Vec<Event>,
    counts: &mut SkipCounts,
) -> Vec<LineOutcome> {
    let mut reader = LineReader::new();
    let mut outcomes = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        reader.push(piece);
        while let Some(line) = reader.next_line() {
            let o = parser.parse_line(line, events);
            counts.record(o);
            outcomes.push(o);
        }
    }
    // The last line without a newline, under the end-of-input policy (counted, not listed).
    if let Some(o) = agent_transcripts::finish_input(&mut reader, parser, events) {
        counts.record(o);
    }
    *counts += reader.counts();
    outcomes
}

/// Parses whole files with one parser, then flushes.
pub fn parse_files(
    parser: &mut dyn TranscriptParser,
    files: &[PathBuf],
) -> (Vec<Event>, SkipCounts) {
    let mut events = Vec::new();
    let mut counts = SkipCounts::default();
    for f in files {
        let bytes = std::fs::read(f).expect("fixture readable");
        feed(parser, &bytes, 7, &mut events, &mut counts);
    }
    parser.flush(&mut events);
    (events, counts)
}

pub fn usages(events: &[Event]) -> Vec<agent_transcripts::Usage> {
    events
        .iter()
        .filter_map(|e| e.as_usage().cloned())
        .collect()
}

pub fn claude_corpus() -> Vec<PathBuf> {
    let base = fixture("claudecode/projects/-srv-town");
    vec![
        base.join("sess-a.jsonl"),
        base.join("sess-a/subagents/agent-1.jsonl"),
        base.join("sess-b.jsonl"),
    ]
}

pub fn codex_rollout() -> PathBuf {
    fixture("codex/rollout-2025-09-10T12-00-00-0199a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b.jsonl")
}
