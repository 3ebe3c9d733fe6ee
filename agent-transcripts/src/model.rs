//! The agent-agnostic event model every adapter produces.
//!
//! One job: name what a transcript line can mean once its agent's quirks are removed — a piece of
//! conversation ([`ContentEvent`]) or one billed model request ([`Usage`]). It must not know any
//! agent's file format, any telemetry record, or any price.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Which coding agent wrote a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    /// Anthropic's Claude Code (`~/.claude/projects/**.jsonl`).
    ClaudeCode,
    /// OpenAI's Codex CLI (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`).
    Codex,
    /// sst/OpenCode (message and part JSON documents).
    OpenCode,
}

impl AgentKind {
    /// The lowercase name used in telemetry attributes (`claudecode`, `codex`, `opencode`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClaudeCode => "claudecode",
            Self::Codex => "codex",
            Self::OpenCode => "opencode",
        }
    }
}

impl fmt::Display for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of conversation piece a [`ContentEvent`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// Prose written by the user or the model (also placeholders such as `[image]`).
    Text,
    /// The model asked for a tool; content is `<tool name>: <json input>`.
    ToolUse,
    /// A tool's answer, as the model will read it.
    ToolResult,
    /// The model's visible reasoning (thinking blocks, reasoning summaries).
    Thinking,
}

impl EventType {
    /// The lowercase name used by `agent.event` (`text`, `tool_use`, `tool_result`, `thinking`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::ToolUse => "tool_use",
            Self::ToolResult => "tool_result",
            Self::Thinking => "thinking",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who produced a [`ContentEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The model.
    Assistant,
    /// The human, or the harness speaking for tools (tool results are user turns).
    User,
}

impl Role {
    /// The lowercase name used by `agent.event` (`assistant`, `user`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Assistant => "assistant",
            Self::User => "user",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of conversation: one content block of one transcript message.
///
/// The content is complete (never truncated here); truncation is the telemetry mapper's job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentEvent {
    /// When the agent wrote the block (the transcript's own timestamp, UTC).
    pub timestamp: SystemTime,
    /// The agent's own session id (Claude Code `sessionId`, Codex `session_meta.id`, OpenCode
    /// `sessionID`); empty when the transcript never said.
    pub native_session_id: String,
    /// What the block is.
    pub event_type: EventType,
    /// Who wrote it.
    pub role: Role,
    /// The block's text; for [`EventType::ToolUse`], `<tool name>: <json input>`.
    pub content: String,
    /// True for Claude Code sidechain (sub-agent) messages; false for the other agents.
    pub is_sidechain: bool,
    /// What identifies the transcript line or document that carried the block: the agent's own
    /// id when it writes one (Claude Code line `uuid`, OpenCode part id), else a digest of the
    /// line's bytes (Codex, whose lines carry no id). Empty when the line had no id (then
    /// [`crate::record_id`] falls back to the event's fields).
    pub source_id: String,
    /// The block's position among the events its line or document produced (0, 1, …).
    pub index: u32,
    /// For [`EventType::ToolUse`], the agent's id of the call (Claude Code `tool_use.id`, Codex
    /// `call_id`, OpenCode `callID`); for [`EventType::ToolResult`], the id of the call it
    /// answers (Claude Code `tool_result.tool_use_id`, …). Empty for other events and when the
    /// transcript has none. Not part of [`crate::record_id`].
    #[serde(default)]
    pub tool_use_id: String,
    /// The provider's id of the message the block belongs to (Claude Code `message.id`,
    /// OpenCode part `messageID`), the same as its [`Usage::message_id`]; empty when the
    /// transcript has none (Codex, Claude Code user lines). Not part of [`crate::record_id`].
    #[serde(default)]
    pub message_id: String,
}

/// The tokens of one billed model request, counted once.
///
/// Token fields follow Anthropic's convention: `input_tokens` excludes cache reads and cache
/// writes (adapters for agents that report inclusive input subtract the cached part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// When the request's (winning) transcript line was written.
    pub timestamp: SystemTime,
    /// The agent's own session id; empty when the transcript never said.
    pub native_session_id: String,
    /// The provider's message id (Claude `msg_…`, OpenCode `msg_…`); empty when there is none
    /// (Codex).
    pub message_id: String,
    /// The provider's request id (Claude `req_…`); empty when there is none.
    pub request_id: String,
    /// A digest of the line that carried the usage when the agent writes no message or request
    /// id (Codex `token_count` lines); empty otherwise.
    pub source_id: String,
    /// The model id as the transcript wrote it (`claude-sonnet-4-5-20250929`, `gpt-5-codex`);
    /// empty when unknown.
    pub model: String,
    /// Input tokens that were neither read from nor written to the prompt cache.
    pub input_tokens: u64,
    /// Output tokens, reasoning included.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache (all lifetimes together).
    pub cache_creation_tokens: u64,
    /// Of the cache writes, those with the 5-minute lifetime, when the agent reported the split.
    pub cache_creation_5m_tokens: Option<u64>,
    /// Of the cache writes, those with the 1-hour lifetime, when the agent reported the split.
    pub cache_creation_1h_tokens: Option<u64>,
    /// When the request went out, as near as the transcript tells (see each adapter): Claude
    /// Code, the time of the session's line before the message's first line (the prompt or
    /// tool result it answers), else the first line's; OpenCode, the message's `time.created`;
    /// `None` when unknown (Codex).
    #[serde(default)]
    pub started: Option<SystemTime>,
    /// When the reply was complete: Claude Code, the latest line of the message; OpenCode,
    /// `time.completed`; `None` when unknown (then [`Usage::timestamp`] is the best end).
    #[serde(default)]
    pub ended: Option<SystemTime>,
}

impl Default for ContentEvent {
    fn default() -> Self {
        Self {
            timestamp: SystemTime::UNIX_EPOCH,
            native_session_id: String::new(),
            event_type: EventType::Text,
            role: Role::Assistant,
            content: String::new(),
            is_sidechain: false,
            source_id: String::new(),
            index: 0,
            tool_use_id: String::new(),
            message_id: String::new(),
        }
    }
}

impl Default for Usage {
    fn default() -> Self {
        Self {
            timestamp: SystemTime::UNIX_EPOCH,
            native_session_id: String::new(),
            message_id: String::new(),
            request_id: String::new(),
            source_id: String::new(),
            model: String::new(),
            input_tokens: 0,
            output_tokens: 0,
            cache_read_tokens: 0,
            cache_creation_tokens: 0,
            cache_creation_5m_tokens: None,
            cache_creation_1h_tokens: None,
            started: None,
            ended: None,
        }
    }
}

impl Usage {
    /// input + output + cache reads + cache writes (saturating).
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_creation_tokens)
    }

    /// The prompt size of the request: input + cache reads + cache writes (saturating).
    pub fn prompt_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_creation_tokens)
    }
}

/// Anything an adapter can emit for a transcript line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A piece of conversation.
    Content(ContentEvent),
    /// A billed request, emitted once per request.
    Usage(Usage),
}

impl Event {
    /// The usage, if this event is one.
    pub fn as_usage(&self) -> Option<&Usage> {
        match self {
            Self::Usage(u) => Some(u),
            Self::Content(_) => None,
        }
    }

    /// The content event, if this event is one.
    pub fn as_content(&self) -> Option<&ContentEvent> {
        match self {
            Self::Content(c) => Some(c),
            Self::Usage(_) => None,
        }
    }
}
