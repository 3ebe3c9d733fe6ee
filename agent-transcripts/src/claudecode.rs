//! The Claude Code adapter: where its transcripts live and what their lines mean.
//!
//! One job: [`ClaudeCodeParser`] turns one line of a Claude Code session transcript into
//! [`ContentEvent`]s and, once per billed API request, a [`Usage`]; [`claude_project_dir`] and
//! [`claude_config_dir`] say where the transcripts are. It must not open, list or follow files
//! (gt-cli does), and must not allocate a `serde_json::Value` for a line.
//!
//! # Where transcripts live
//! `<config dir>/projects/<encoded work dir>/<session-uuid>.jsonl`, with sub-agent (sidechain)
//! transcripts possibly in further `.jsonl` files below the project directory
//! (`<session-uuid>/subagents/…`). The config dir is `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
//! The work dir is encoded by replacing **every** character that is not an ASCII letter or
//! digit with `-`, one `-` per character (`/srv/town_1/a.b` → `-srv-town-1-a-b`).
//! Public reports agree with this rule: anthropics/claude-code issues #24067 and #39528
//! (underscores become `-`), #45718 (each non-ASCII character becomes one `-`), #9221 (spaces),
//! #35162 (the encoding is lossy: `spec-rl` and `spec/rl` collide), and the fixes in
//! omnara-ai/omnara#106 and mrocklin/claudechic#20 (dots, so `~/.local` → `--local`). One report
//! (mcpware/claude-code-organizer#17) says some very old directories kept underscores; we
//! follow the current behaviour.
//!
//! # Line format
//! One JSON object per line with `type`, `timestamp` (RFC 3339), `sessionId`, `uuid`,
//! `isSidechain`, `requestId` and `message` {`id`, `role`, `model`, `content`, `usage`}.
//! `user` and `assistant` lines are read; `summary`, `system`, `file-history-snapshot`,
//! `queue-operation` and `progress` are [`SkipReason::IgnoredType`]; any other type is
//! [`SkipReason::UnknownShape`]. Unknown fields are ignored; a field of the wrong type makes
//! the line [`SkipReason::UnknownShape`].
//!
//! Each content block becomes one [`ContentEvent`] (a string `content` is one text block):
//! `text` → Text, `thinking` → Thinking, `redacted_thinking` → Thinking `[redacted thinking]`,
//! `tool_use`/`server_tool_use` → ToolUse `<name>: <input JSON as written>`, `tool_result` →
//! ToolResult (a string, or an array whose `text` blocks are joined with `\n` and whose other
//! blocks become placeholders such as `[image]`; `is_error: true` prefixes `[error] `),
//! `image` → Text `[image]`, any other block → Text `[<type>]`. Roles come from the line type.
//!
//! # Usage: once per request, the ccusage way
//! Claude Code writes one line per content block of an API response, each repeating the
//! response's usage, and lines written while the reply streams can carry a smaller
//! `output_tokens` than the last. Following ccusage (checked in its Rust loader,
//! `rust/adapters/claude/src/lib.rs`, and PRs #775/#985), a request is identified by
//! `message.id` + `requestId`, or by `message.id` + `sessionId` when `requestId` is absent; a
//! line without `message.id` is counted on its own. Among the lines of one request the winner
//! is chosen by ccusage's `should_replace_deduped_entry`: a non-sidechain line beats a
//! sidechain one, then the larger `input + output + cache writes + cache reads`, then a line
//! with `usage.speed`. (ccusage's older "first line wins" rule under-counted output: ccusage
//! issues #938, #797.) A sidechain line whose `message.id` was already counted is a `/btw`
//! replay of the parent and is not counted again (ccusage #913).
//!
//! To apply "largest wins" while streaming, the usage of the current request is **held back**
//! until a line of another request arrives or [`TranscriptParser::flush`] is called; the
//! winner's timestamp is used. Once emitted, a request is remembered: a later line of an
//! already-emitted request (a resumed session's copy, a replay) is dropped even if larger — a
//! stream cannot take back what it emitted. ccusage, which sees all files at once, would take
//! the larger one there; on real transcripts the lines of one request are contiguous, so the
//! totals agree. Usage whose token counts are all zero is not emitted.
//!
//! The memory of emitted requests is global to the parser (ccusage dedups across all files
//! too). [`ClaudeCodeParser::exact`] forgets nothing (a 128-bit hash per key): use it for a
//! report over a whole history, where a bounded memory once counted 1,757 requests of a
//! 1.1 GB history twice. [`ClaudeCodeParser::with_dedup_capacity`] (and [`new`](ClaudeCodeParser::new),
//! 100 000 keys) forgets the oldest keys first, for followers whose checkpoints carry them.
//!
//! # Request times and tool call ids
//! A usage's [`Usage::started`] is the time of the line read before the request's first line
//! in the same session and sidechain (the prompt or tool result the model answered: the
//! request went out then), else the first line's own time (the first line read by this parser,
//! e.g. after a restart, which does not keep that time); [`Usage::ended`] is the time of the
//! request's latest line. A `tool_use` block's `id` and a `tool_result` block's `tool_use_id`
//! become [`ContentEvent::tool_use_id`].
//!
//! Token fields: `input_tokens`, `output_tokens`, `cache_read_input_tokens`; cache writes are
//! `cache_creation.ephemeral_5m_input_tokens + ephemeral_1h_input_tokens` when that split is
//! present (as ccusage counts them), else `cache_creation_input_tokens`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::dedup::KeySet;
use crate::model::{AgentKind, ContentEvent, Event, EventType, Role, Usage};
use crate::parser::{
    DedupState, LineOutcome, SkipReason, StateError, TranscriptParser, classify_json_error,
    line_str,
};
use crate::time::parse_rfc3339;

/// The environment variable that moves Claude Code's config (and transcript) directory.
pub const CLAUDE_CONFIG_DIR_ENV: &str = "CLAUDE_CONFIG_DIR";

/// Default number of request keys remembered for dedup.
pub const DEFAULT_DEDUP_CAPACITY: usize = 100_000;

/// Claude Code's config directory: `$CLAUDE_CONFIG_DIR` when set and non-empty (used verbatim),
/// else `<home>/.claude`; `None` when neither is known.
///
/// `lookup` reads the environment (pass `|k| std::env::var(k).ok()`), so tests never touch the
/// process environment.
pub fn claude_config_dir(
    lookup: impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    match lookup(CLAUDE_CONFIG_DIR_ENV) {
        Some(dir) if !dir.trim().is_empty() => Some(PathBuf::from(dir)),
        _ => home.map(|h| h.join(".claude")),
    }
}

/// The directory name Claude Code uses for a work directory: every character other than an
/// ASCII letter or digit becomes `-` (one per character, so the mapping is lossy).
pub fn encode_project_dir_name(work_dir: &Path) -> String {
    work_dir
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// `<config_dir>/projects/<encoded work_dir>`: where the session transcripts of `work_dir` are.
pub fn claude_project_dir(config_dir: &Path, work_dir: &Path) -> PathBuf {
    config_dir
        .join("projects")
        .join(encode_project_dir_name(work_dir))
}

/// `<project_dir>/<session_id>.jsonl`: the main transcript of one session.
pub fn claude_session_file(project_dir: &Path, session_id: &str) -> PathBuf {
    project_dir.join(format!("{session_id}.jsonl"))
}

// ---------------------------------------------------------------------------------------------
// Wire shapes (borrowed, lenient).

#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    timestamp: Option<&'a str>,
    #[serde(rename = "sessionId", borrow, default)]
    session_id: Option<&'a str>,
    #[serde(rename = "isSidechain", default)]
    is_sidechain: Option<bool>,
    #[serde(rename = "requestId", borrow, default)]
    request_id: Option<&'a str>,
    #[serde(borrow, default)]
    uuid: Option<&'a str>,
    #[serde(borrow, default)]
    message: Option<RawMessage<'a>>,
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow, default)]
    id: Option<&'a str>,
    #[serde(borrow, default)]
    model: Option<&'a str>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct RawUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation: Option<RawCacheCreation>,
    #[serde(default)]
    speed: Option<IgnoredAny>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct RawCacheCreation {
    #[serde(default)]
    ephemeral_5m_input_tokens: Option<u64>,
    #[serde(default)]
    ephemeral_1h_input_tokens: Option<u64>,
}

/// `content`: a string, or an array of blocks.
enum Content<'a> {
    Text(String),
    Blocks(Vec<Block<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of content blocks")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Content::Text(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Content::Text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(64));
                while let Some(b) = seq.next_element::<Block<'a>>()? {
                    blocks.push(b);
                }
                Ok(Content::Blocks(blocks))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
    #[serde(default)]
    is_error: Option<bool>,
    /// A `tool_use` block's call id.
    #[serde(default)]
    id: Option<String>,
    /// A `tool_result` block's answered call id.
    #[serde(default)]
    tool_use_id: Option<String>,
}

const IGNORED_TYPES: &[&str] = &[
    "summary",
    "system",
    "file-history-snapshot",
    "queue-operation",
    "progress",
];

// ---------------------------------------------------------------------------------------------
// Dedup state.

/// One request's usage held back until the request is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingUsage {
    /// Exact dedup keys of every line merged into this request so far.
    pub keys: Vec<String>,
    /// The request's `message.id`.
    pub message_id: String,
    /// Whether the winning line is a sidechain line.
    pub is_sidechain: bool,
    /// Whether the winning line carried `usage.speed`.
    pub has_speed: bool,
    /// The winning line's usage.
    pub usage: Usage,
}

/// What a [`ClaudeCodeParser`] must carry across a restart.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClaudeCodeState {
    /// Keys of requests already emitted: oldest first, bounded by the dedup capacity; for an
    /// [exact](ClaudeCodeParser::exact) parser, every key's hash as `#<32 hex digits>`.
    pub seen_keys: Vec<String>,
    /// The request whose usage is held back, if any (boxed: it is most of the state's size;
    /// the JSON is the same).
    pub pending: Option<Box<PendingUsage>>,
}

/// Parses Claude Code transcript lines. See the [module docs](self) for the rules.
///
/// One parser may read several files (a session and its sub-agent transcripts, or a whole
/// projects tree for a report): requests copied between files are then counted once.
#[derive(Debug, Clone)]
pub struct ClaudeCodeParser {
    seen: KeySet,
    pending: Option<PendingUsage>,
    duplicate_usage_lines: u64,
    /// The last user or assistant line read: its session id, sidechain flag and time (what a
    /// new message's [`Usage::started`] is taken from).
    last_line: Option<(String, bool, SystemTime)>,
}

impl Default for ClaudeCodeParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ClaudeCodeParser {
    /// A parser remembering up to [`DEFAULT_DEDUP_CAPACITY`] request keys.
    pub fn new() -> Self {
        Self::with_dedup_capacity(DEFAULT_DEDUP_CAPACITY)
    }

    /// A parser remembering up to `capacity` keys (three per request at most), oldest
    /// forgotten first: for a long-lived follower, whose checkpoints carry the keys.
    pub fn with_dedup_capacity(capacity: usize) -> Self {
        Self {
            seen: KeySet::new(capacity),
            pending: None,
            duplicate_usage_lines: 0,
            last_line: None,
        }
    }

    /// A parser that remembers every request it counted, however many (a 128-bit hash per
    /// key, about 16 bytes plus table overhead): for a report over a whole history, where a
    /// bounded memory would count a request copied far away twice.
    pub fn exact() -> Self {
        Self {
            seen: KeySet::exact(),
            pending: None,
            duplicate_usage_lines: 0,
            last_line: None,
        }
    }

    /// Lines whose usage was not emitted because their request was already counted or a
    /// better line of the same request was kept.
    pub fn duplicate_usage_lines(&self) -> u64 {
        self.duplicate_usage_lines
    }

    fn offer_usage(&mut self, cand: PendingUsage, out: &mut Vec<Event>) {
        if cand.message_id.is_empty() {
            // No id: nothing to dedup against; keep stream order.
            self.flush_pending(out);
            if cand.usage.total_tokens() > 0 {
                out.push(Event::Usage(cand.usage));
            }
            return;
        }
        let key = &cand.keys[0];
        if let Some(p) = self.pending.as_mut() {
            let same_request = p.keys.iter().any(|k| k == key)
                || (p.message_id == cand.message_id && (cand.is_sidechain || p.is_sidechain));
            if same_request {
                self.duplicate_usage_lines += 1;
                if !p.keys.iter().any(|k| k == key) {
                    p.keys.push(key.clone());
                }
                // The request started with its first line, whichever line wins.
                let started = p.usage.started;
                let ended = p.usage.ended.max(cand.usage.ended);
                if should_replace(&cand, p) {
                    p.is_sidechain = cand.is_sidechain;
                    p.has_speed = cand.has_speed;
                    p.usage = cand.usage;
                }
                p.usage.started = started;
                p.usage.ended = ended;
                return;
            }
        }
        let mid = &cand.message_id;
        let duplicate = self.seen.contains(key)
            || (cand.is_sidechain && self.seen.contains(&message_key(mid)))
            || (!cand.is_sidechain && self.seen.contains(&sidechain_message_key(mid)));
        if duplicate {
            self.duplicate_usage_lines += 1;
            return;
        }
        self.flush_pending(out);
        self.pending = Some(cand);
    }

    fn flush_pending(&mut self, out: &mut Vec<Event>) {
        let Some(p) = self.pending.take() else {
            return;
        };
        for k in p.keys {
            self.seen.insert(k);
        }
        self.seen.insert(message_key(&p.message_id));
        if p.is_sidechain {
            self.seen.insert(sidechain_message_key(&p.message_id));
        }
        if p.usage.total_tokens() > 0 {
            out.push(Event::Usage(p.usage));
        }
    }
}

fn exact_key(message_id: &str, request_id: Option<&str>, session_id: &str) -> String {
    match request_id {
        Some(rid) if !rid.is_empty() => format!("r\u{1f}{message_id}\u{1f}{rid}"),
        _ => format!("s\u{1f}{message_id}\u{1f}{session_id}"),
    }
}

fn message_key(message_id: &str) -> String {
    format!("m\u{1f}{message_id}")
}

fn sidechain_message_key(message_id: &str) -> String {
    format!("c\u{1f}{message_id}")
}

/// ccusage's `should_replace_deduped_entry`.
fn should_replace(cand: &PendingUsage, existing: &PendingUsage) -> bool {
    if cand.is_sidechain != existing.is_sidechain {
        return existing.is_sidechain;
    }
    let (c, e) = (cand.usage.total_tokens(), existing.usage.total_tokens());
    if c != e {
        return c > e;
    }
    cand.has_speed && !existing.has_speed
}

fn push_content(
    out: &mut Vec<Event>,
    base: &mut ContentEvent,
    event_type: EventType,
    content: String,
    role: Role,
) {
    out.push(Event::Content(ContentEvent {
        timestamp: base.timestamp,
        native_session_id: base.native_session_id.clone(),
        event_type,
        role,
        content,
        is_sidechain: base.is_sidechain,
        source_id: base.source_id.clone(),
        index: base.index,
        tool_use_id: String::new(),
        message_id: base.message_id.clone(),
    }));
    // The blocks of one line are numbered from 0 in the order they are emitted.
    base.index = base.index.saturating_add(1);
}

/// Gives the event just pushed the call id of its tool use or result.
fn set_tool_use_id(out: &mut [Event], id: Option<String>) {
    if let (Some(Event::Content(c)), Some(id)) = (out.last_mut(), id) {
        c.tool_use_id = id;
    }
}

/// Joins a tool result's content: text blocks joined with `\n`, other blocks as placeholders.
fn tool_result_text(content: Option<Content<'_>>) -> String {
    match content {
        None => String::new(),
        Some(Content::Text(s)) => s,
        Some(Content::Blocks(blocks)) => {
            let mut s = String::new();
            for (i, b) in blocks.into_iter().enumerate() {
                if i > 0 {
                    s.push('\n');
                }
                match (b.kind, b.text) {
                    (Some("text"), Some(t)) => s.push_str(&t),
                    (Some(kind), _) => {
                        s.push('[');
                        s.push_str(kind);
                        s.push(']');
                    }
                    (None, Some(t)) => s.push_str(&t),
                    (None, None) => s.push_str("[unknown]"),
                }
            }
            s
        }
    }
}

fn emit_block(out: &mut Vec<Event>, base: &mut ContentEvent, role: Role, b: Block<'_>) {
    let kind = b.kind.unwrap_or("");
    match kind {
        "text" => push_content(out, base, EventType::Text, b.text.unwrap_or_default(), role),
        "thinking" => push_content(
            out,
            base,
            EventType::Thinking,
            b.thinking.unwrap_or_default(),
            role,
        ),
        "redacted_thinking" => push_content(
            out,
            base,
            EventType::Thinking,
            "[redacted thinking]".to_string(),
            role,
        ),
        "tool_use" | "server_tool_use" => {
            let name = b.name.unwrap_or_default();
            let input = b.input.map_or("null", RawValue::get);
            let mut s = String::with_capacity(name.len() + 2 + input.len());
            s.push_str(&name);
            s.push_str(": ");
            s.push_str(input);
            push_content(out, base, EventType::ToolUse, s, role);
            set_tool_use_id(out, b.id);
        }
        "tool_result" => {
            let mut text = tool_result_text(b.content);
            if b.is_error == Some(true) {
                text.insert_str(0, "[error] ");
            }
            push_content(out, base, EventType::ToolResult, text, role);
            set_tool_use_id(out, b.tool_use_id);
        }
        "image" => push_content(out, base, EventType::Text, "[image]".to_string(), role),
        other => {
            let s = match b.text {
                Some(t) => t,
                None => format!("[{}]", if other.is_empty() { "unknown" } else { other }),
            };
            push_content(out, base, EventType::Text, s, role);
        }
    }
}

impl TranscriptParser for ClaudeCodeParser {
    fn agent(&self) -> AgentKind {
        AgentKind::ClaudeCode
    }

    fn parse_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> LineOutcome {
        let text = match line_str(line) {
            Ok(t) => t,
            Err(outcome) => return outcome,
        };
        if text.trim().is_empty() {
            return LineOutcome::Skipped(SkipReason::IgnoredType);
        }
        let raw: RawLine<'_> = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => return classify_json_error(&e),
        };
        let role = match raw.kind {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            Some(t) if IGNORED_TYPES.contains(&t) => {
                return LineOutcome::Skipped(SkipReason::IgnoredType);
            }
            _ => return LineOutcome::Skipped(SkipReason::UnknownShape),
        };
        let (Some(message), Some(timestamp)) = (raw.message, raw.timestamp.and_then(parse_rfc3339))
        else {
            return LineOutcome::Skipped(SkipReason::UnknownShape);
        };
        let session = raw.session_id.unwrap_or("");
        let is_sidechain = raw.is_sidechain.unwrap_or(false);
        let mut base = ContentEvent {
            timestamp,
            native_session_id: session.to_owned(),
            event_type: EventType::Text,
            role,
            content: String::new(),
            is_sidechain,
            source_id: raw.uuid.unwrap_or("").to_owned(),
            index: 0,
            tool_use_id: String::new(),
            message_id: message.id.unwrap_or("").to_owned(),
        };
        // The line before this one in the same session (the prompt or tool result a new
        // message answers); a line of another session or sidechain says nothing about it.
        let previous = self
            .last_line
            .replace((session.to_owned(), is_sidechain, timestamp))
            .filter(|(s, side, _)| s == session && *side == is_sidechain)
            .map(|(_, _, t)| t);
        match message.content {
            Some(Content::Text(s)) => push_content(out, &mut base, EventType::Text, s, role),
            Some(Content::Blocks(blocks)) => {
                for b in blocks {
                    emit_block(out, &mut base, role, b);
                }
            }
            None => {}
        }
        if role == Role::Assistant
            && let Some(u) = message.usage
        {
            let split = u.cache_creation.map(|c| {
                (
                    c.ephemeral_5m_input_tokens.unwrap_or(0),
                    c.ephemeral_1h_input_tokens.unwrap_or(0),
                )
            });
            let cache_creation = match split {
                Some((m5, h1)) => m5.saturating_add(h1),
                None => u.cache_creation_input_tokens.unwrap_or(0),
            };
            let message_id = message.id.unwrap_or("");
            let usage = Usage {
                timestamp,
                native_session_id: session.to_owned(),
                message_id: message_id.to_owned(),
                request_id: raw.request_id.unwrap_or("").to_owned(),
                source_id: String::new(),
                model: message.model.unwrap_or("").to_owned(),
                input_tokens: u.input_tokens.unwrap_or(0),
                output_tokens: u.output_tokens.unwrap_or(0),
                cache_read_tokens: u.cache_read_input_tokens.unwrap_or(0),
                cache_creation_tokens: cache_creation,
                cache_creation_5m_tokens: split.map(|s| s.0),
                cache_creation_1h_tokens: split.map(|s| s.1),
                // Kept only when this line starts its request (see `offer_usage`).
                started: Some(previous.unwrap_or(timestamp).min(timestamp)),
                ended: Some(timestamp),
            };
            let cand = PendingUsage {
                keys: vec![exact_key(message_id, raw.request_id, session)],
                message_id: message_id.to_owned(),
                is_sidechain,
                has_speed: u.speed.is_some(),
                usage,
            };
            self.offer_usage(cand, out);
        }
        LineOutcome::Parsed
    }

    fn flush(&mut self, out: &mut Vec<Event>) {
        self.flush_pending(out);
    }

    fn dedup_state(&self) -> DedupState {
        DedupState::ClaudeCode(ClaudeCodeState {
            seen_keys: self.seen.keys(),
            pending: self.pending.clone().map(Box::new),
        })
    }

    fn restore_dedup_state(&mut self, state: DedupState) -> Result<(), StateError> {
        match state {
            DedupState::ClaudeCode(s) => {
                self.seen.restore(s.seen_keys);
                self.pending = s.pending.map(|p| *p);
                Ok(())
            }
            other => Err(StateError::WrongAgent {
                expected: AgentKind::ClaudeCode,
                found: other.agent(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_spans_from_the_line_it_answers_to_its_last_line_and_tools_carry_call_ids() {
        let lines = [
            r#"{"type":"user","timestamp":"2025-06-18T10:00:00Z","sessionId":"s","uuid":"u0","message":{"role":"user","content":"go"}}"#,
            r#"{"type":"assistant","timestamp":"2025-06-18T10:00:02Z","sessionId":"s","uuid":"a1","requestId":"r1","message":{"id":"m1","model":"claude-sonnet-4-5","content":[{"type":"text","text":"ok"}],"usage":{"input_tokens":1,"output_tokens":1}}}"#,
            r#"{"type":"assistant","timestamp":"2025-06-18T10:00:03Z","sessionId":"s","uuid":"a2","requestId":"r1","message":{"id":"m1","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}],"usage":{"input_tokens":1,"output_tokens":9}}}"#,
            r#"{"type":"user","timestamp":"2025-06-18T10:00:07Z","sessionId":"s","uuid":"u1","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"done"}]}}"#,
        ];
        let mut parser = ClaudeCodeParser::new();
        let mut out = Vec::new();
        for line in lines {
            parser.parse_line(line.as_bytes(), &mut out);
        }
        parser.flush(&mut out);
        let at = |s: &str| parse_rfc3339(s);
        let usage = out.iter().find_map(Event::as_usage).expect("usage");
        assert_eq!(usage.started, at("2025-06-18T10:00:00Z"));
        assert_eq!(usage.ended, at("2025-06-18T10:00:03Z"));
        let ids: Vec<(EventType, &str)> = out
            .iter()
            .filter_map(Event::as_content)
            .map(|c| (c.event_type, c.tool_use_id.as_str()))
            .filter(|(_, id)| !id.is_empty())
            .collect();
        assert_eq!(
            ids,
            [
                (EventType::ToolUse, "toolu_1"),
                (EventType::ToolResult, "toolu_1")
            ]
        );
        let tool_use = out
            .iter()
            .filter_map(Event::as_content)
            .nth(1)
            .expect("tool use");
        assert_eq!(tool_use.message_id, "m1");
    }

    #[test]
    fn project_dir_replaces_every_non_alphanumeric_character() {
        let d = claude_project_dir(Path::new("/home/u/.claude"), Path::new("/srv/town_1/a.b"));
        assert_eq!(d, PathBuf::from("/home/u/.claude/projects/-srv-town-1-a-b"));
        assert_eq!(
            encode_project_dir_name(Path::new("/Users/x/Проект")),
            "-Users-x-------"
        );
        assert_eq!(encode_project_dir_name(Path::new("/a b/c-d")), "-a-b-c-d");
    }

    #[test]
    fn config_dir_prefers_the_environment_then_home() {
        let env = |k: &str| (k == CLAUDE_CONFIG_DIR_ENV).then(|| "/etc/claude".to_string());
        assert_eq!(
            claude_config_dir(env, Some(Path::new("/home/u"))),
            Some(PathBuf::from("/etc/claude"))
        );
        let none = |_: &str| None;
        assert_eq!(
            claude_config_dir(none, Some(Path::new("/home/u"))),
            Some(PathBuf::from("/home/u/.claude"))
        );
        let empty = |_: &str| Some(String::new());
        assert_eq!(
            claude_config_dir(empty, Some(Path::new("/h"))),
            Some(PathBuf::from("/h/.claude"))
        );
        assert_eq!(claude_config_dir(none, None), None);
    }
}
