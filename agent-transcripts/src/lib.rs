//! agent-transcripts: AI coding agents' transcript files, read into one agent-agnostic model.
//!
//! Claude Code, Codex and OpenCode each keep a record of every session on disk, in their own
//! format. This crate parses those records into [`ContentEvent`]s (what was said, thought,
//! called and answered) and [`Usage`]s (the tokens of each billed request, counted once), prices
//! usages ([`Pricing`]) and folds them into reports ([`report()`]). The Go original was called
//! `agentlog`.
//!
//! ```
//! use agent_transcripts::{
//!     ClaudeCodeParser, Event, LineReader, SkipCounts, TranscriptParser, finish_input,
//! };
//!
//! let bytes = br#"{"type":"assistant","timestamp":"2025-06-18T10:00:00.000Z","sessionId":"s1","requestId":"req_1","message":{"id":"msg_1","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi"}],"usage":{"input_tokens":3,"output_tokens":5}}}
//! "#;
//! let mut reader = LineReader::new();
//! let mut parser = ClaudeCodeParser::new();
//! let (mut events, mut skipped) = (Vec::new(), SkipCounts::default());
//! reader.push(bytes);
//! while let Some(line) = reader.next_line() {
//!     skipped.record(parser.parse_line(line, &mut events));
//! }
//! // End of a whole file: its last line, if it has no newline (see below).
//! if let Some(outcome) = finish_input(&mut reader, &mut parser, &mut events) {
//!     skipped.record(outcome);
//! }
//! parser.flush(&mut events); // end of input: release the usage held for "largest line wins"
//! assert!(matches!(&events[0], Event::Content(c) if c.content == "Hi"));
//! assert!(matches!(&events[1], Event::Usage(u) if u.output_tokens == 5));
//! ```
//!
//! # The end of a file
//! A transcript's last line may lack its newline: the agent was writing it, or died doing so.
//! A follower waits for the newline. A reader of whole files (`gt agent-log report` and
//! `replay`) applies one policy, [`finish_input`]: a last line holding a complete JSON record
//! counts like any other line; one cut short (not complete JSON) yields nothing and is counted
//! in [`SkipCounts::partial_lines`] (one warning). Both commands thus give the same totals on
//! the same files.
//!
//! Layout: [`model`] (the event vocabulary), [`parser`] (the adapter contract and skip
//! accounting), [`lines`] (splitting a growing file), one module per agent ([`claudecode`],
//! [`codex`], [`opencode`]), [`paths`] (where each agent keeps its transcripts), [`identity`]
//! (deterministic record ids), [`pricing`] and [`mod@report`].
//!
//! What lives elsewhere: following files, checkpointing offsets, and mapping events to
//! telemetry records are gt-cli's. This crate opens no file, reads no environment variable
//! (functions that need one take a lookup closure), starts no thread and never panics on input
//! (property-tested on arbitrary bytes).

pub mod claudecode;
pub mod codex;
mod dedup;
pub mod identity;
pub mod lines;
pub mod model;
pub mod opencode;
pub mod parser;
pub mod paths;
pub mod pricing;
pub mod report;
pub mod time;

pub use claudecode::{ClaudeCodeParser, claude_config_dir, claude_project_dir};
pub use codex::CodexParser;
pub use identity::record_id;
pub use lines::{DEFAULT_MAX_LINE_BYTES, LineReader};
pub use model::{AgentKind, ContentEvent, Event, EventType, Role, Usage};
pub use opencode::{DocumentIds, OpenCodeParser};
pub use parser::{
    DedupState, InvalidReason, LineOutcome, SkipCounts, SkipReason, StateError, TranscriptParser,
    finish_input, parser_for,
};
pub use pricing::{Pricing, PricingError};
pub use report::{GroupBy, Report, ReportRow, Work, report, report_attributed};
