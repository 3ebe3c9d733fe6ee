//! The contract every agent adapter keeps: one transcript record in, events out, an outcome back.
//!
//! One job: define [`TranscriptParser`], what a line's [`LineOutcome`] can be, how outcomes are
//! counted ([`SkipCounts`]) and the checkpointable [`DedupState`]. It must not read files, split
//! lines or know any agent's format.

use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

use crate::model::{AgentKind, Event};

/// Why a well-formed line produced nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Valid JSON of a record type the adapter knows and deliberately ignores (Claude Code
    /// `summary`, `system`, `file-history-snapshot`; Codex `event_msg` echoes; …).
    IgnoredType,
    /// Valid JSON whose type is unknown or whose fields have unexpected types or are missing
    /// (format drift: worth a warning).
    UnknownShape,
}

/// Why a line could not be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    /// Not JSON (broken, truncated, or trailing garbage).
    Json,
    /// Not UTF-8.
    Utf8,
    /// Longer than the reader's `max_line_bytes`; never buffered whole.
    Oversized,
    /// The last line of an input that ended without a newline, cut before its record was
    /// complete (a transcript read while its writer was mid-line): see [`finish_input`].
    Truncated,
}

/// What became of one line given to [`TranscriptParser::parse_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineOutcome {
    /// Understood. It may have produced zero or more events (a usage can be held back until the
    /// message it belongs to is complete: see the adapter's docs).
    Parsed,
    /// Well-formed but carrying nothing for us.
    Skipped(SkipReason),
    /// Unreadable.
    Invalid(InvalidReason),
}

/// Counts of the lines that produced nothing, by reason. Adding never overflows (saturates).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipCounts {
    /// Record types deliberately ignored (summary, system, …).
    pub ignored_type: u64,
    /// Unknown record types or unexpected field types.
    pub unknown_shape: u64,
    /// Lines that are not JSON.
    pub invalid_json: u64,
    /// Lines that are not UTF-8.
    pub invalid_utf8: u64,
    /// Lines longer than the reader's limit, skipped unread.
    pub oversized: u64,
    /// Last lines cut before their record was complete ([`InvalidReason::Truncated`], see
    /// [`finish_input`]), or dropped unread by [`crate::LineReader::finish`].
    pub partial_lines: u64,
}

impl SkipCounts {
    /// Counts one outcome (a [`LineOutcome::Parsed`] counts nothing).
    pub fn record(&mut self, outcome: LineOutcome) {
        let slot = match outcome {
            LineOutcome::Parsed => return,
            LineOutcome::Skipped(SkipReason::IgnoredType) => &mut self.ignored_type,
            LineOutcome::Skipped(SkipReason::UnknownShape) => &mut self.unknown_shape,
            LineOutcome::Invalid(InvalidReason::Json) => &mut self.invalid_json,
            LineOutcome::Invalid(InvalidReason::Utf8) => &mut self.invalid_utf8,
            LineOutcome::Invalid(InvalidReason::Oversized) => &mut self.oversized,
            LineOutcome::Invalid(InvalidReason::Truncated) => &mut self.partial_lines,
        };
        *slot = slot.saturating_add(1);
    }

    /// Lines that went wrong (everything but `ignored_type`): what a caller may warn about.
    pub fn problems(&self) -> u64 {
        self.unknown_shape
            .saturating_add(self.invalid_json)
            .saturating_add(self.invalid_utf8)
            .saturating_add(self.oversized)
            .saturating_add(self.partial_lines)
    }

    /// All counted lines.
    pub fn total(&self) -> u64 {
        self.problems().saturating_add(self.ignored_type)
    }
}

impl AddAssign for SkipCounts {
    fn add_assign(&mut self, rhs: Self) {
        self.ignored_type = self.ignored_type.saturating_add(rhs.ignored_type);
        self.unknown_shape = self.unknown_shape.saturating_add(rhs.unknown_shape);
        self.invalid_json = self.invalid_json.saturating_add(rhs.invalid_json);
        self.invalid_utf8 = self.invalid_utf8.saturating_add(rhs.invalid_utf8);
        self.oversized = self.oversized.saturating_add(rhs.oversized);
        self.partial_lines = self.partial_lines.saturating_add(rhs.partial_lines);
    }
}

/// The state a parser needs to continue a transcript where an earlier process stopped: dedup
/// keys still needed, usage held back, and per-session context (Codex's model and running
/// totals). Serialize it next to the file offset; restore it into a fresh parser of the same
/// agent before feeding the lines after that offset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "agent", rename_all = "snake_case")]
pub enum DedupState {
    /// See [`crate::claudecode::ClaudeCodeState`].
    ClaudeCode(crate::claudecode::ClaudeCodeState),
    /// See [`crate::codex::CodexState`].
    Codex(crate::codex::CodexState),
    /// See [`crate::opencode::OpenCodeState`].
    OpenCode(crate::opencode::OpenCodeState),
}

impl DedupState {
    /// The agent whose parser wrote this state.
    pub fn agent(&self) -> AgentKind {
        match self {
            Self::ClaudeCode(_) => AgentKind::ClaudeCode,
            Self::Codex(_) => AgentKind::Codex,
            Self::OpenCode(_) => AgentKind::OpenCode,
        }
    }
}

/// Restoring a [`DedupState`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The state came from another agent's parser.
    #[error(
        "the saved transcript state belongs to the {found} parser, not {expected}: discard the checkpoint or restore it into a {found} parser"
    )]
    WrongAgent {
        /// The parser the state was given to.
        expected: AgentKind,
        /// The parser that wrote the state.
        found: AgentKind,
    },
}

/// One adapter per agent: turns one transcript record (a JSONL line, or one JSON document for
/// OpenCode) into events.
///
/// Guarantees every implementation keeps:
/// - never panics, whatever the bytes (property-tested);
/// - a usage is emitted at most once per billed request, under the adapter's documented dedup
///   rule; the dedup memory is bounded, except in the `exact()` constructors meant for
///   reading a whole history once;
/// - events come out in input order, except that a usage may be held back until the request is
///   known to be complete; [`flush`](Self::flush) releases it.
pub trait TranscriptParser {
    /// Which agent this parser reads.
    fn agent(&self) -> AgentKind;

    /// Parses one line (without its trailing newline; a trailing `\r` is tolerated) and appends
    /// the events it yields to `out`.
    fn parse_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> LineOutcome;

    /// Emits anything held back (call at end of input, or when the transcript has been idle
    /// long enough that the held request is surely complete).
    fn flush(&mut self, out: &mut Vec<Event>);

    /// A snapshot of what must survive a restart (see [`DedupState`]).
    fn dedup_state(&self) -> DedupState;

    /// Replaces this parser's state with a snapshot taken by [`dedup_state`](Self::dedup_state).
    ///
    /// # Errors
    /// [`StateError::WrongAgent`] when the snapshot came from another agent's parser; the
    /// parser is left unchanged.
    fn restore_dedup_state(&mut self, state: DedupState) -> Result<(), StateError>;
}

/// The end of a whole input (a file read to its end by `report` or `replay`): the one policy
/// for the bytes after its last newline, so every reader of whole files counts alike.
///
/// Call it once `reader.next_line()` returned `None`, before [`TranscriptParser::flush`]. A
/// last line without its newline that holds a complete record counts like any other line (the
/// writer finished the record but not the line). One that is not complete JSON was cut short:
/// it yields nothing and is [`InvalidReason::Truncated`] (counted in
/// [`SkipCounts::partial_lines`], warned about once). Returns the line's outcome, `None` when
/// the input ended with a newline. A follower must not call this on a file that may still
/// grow: there the unfinished line waits for its newline.
pub fn finish_input(
    reader: &mut crate::LineReader,
    parser: &mut (impl TranscriptParser + ?Sized),
    out: &mut Vec<Event>,
) -> Option<LineOutcome> {
    let line = reader.finish_last_line()?;
    Some(match parser.parse_line(line, out) {
        LineOutcome::Invalid(InvalidReason::Json) => LineOutcome::Invalid(InvalidReason::Truncated),
        other => other,
    })
}

/// Makes a fresh parser for `agent` with default settings.
pub fn parser_for(agent: AgentKind) -> Box<dyn TranscriptParser + Send> {
    match agent {
        AgentKind::ClaudeCode => Box::new(crate::claudecode::ClaudeCodeParser::new()),
        AgentKind::Codex => Box::new(crate::codex::CodexParser::new()),
        AgentKind::OpenCode => Box::new(crate::opencode::OpenCodeParser::new()),
    }
}

/// Classifies a failed JSON parse: syntax and end-of-input errors are invalid JSON, data errors
/// (wrong type, missing field) are an unknown shape. UTF-8 must have been checked before.
pub(crate) fn classify_json_error(err: &serde_json::Error) -> LineOutcome {
    use serde_json::error::Category;
    match err.classify() {
        Category::Data => LineOutcome::Skipped(SkipReason::UnknownShape),
        Category::Syntax | Category::Eof | Category::Io => {
            LineOutcome::Invalid(InvalidReason::Json)
        }
    }
}

/// Strips one trailing `\r`, then checks UTF-8.
pub(crate) fn line_str(line: &[u8]) -> Result<&str, LineOutcome> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line).map_err(|_| LineOutcome::Invalid(InvalidReason::Utf8))
}
