//! The Codex CLI adapter: rollout files and what their lines mean.
//!
//! One job: [`CodexParser`] turns one line of a Codex rollout file
//! (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl`, `CODEX_HOME` defaulting to
//! `~/.codex`) into events. It must not open or follow files.
//!
//! # Line format (checked against public parsers and fixtures, Nov 2026)
//! `{"timestamp": RFC 3339, "type": …, "payload": {…}}` with `type`:
//! - `session_meta`: `payload.id` is the session id (kept as `native_session_id`);
//! - `turn_context`: `payload.model` is the model of the following turns;
//! - `response_item`: the conversation. `payload.type` `message` (role `user`/`assistant`,
//!   `content` items `input_text`/`output_text` → Text, others → `[<type>]`; role `developer`
//!   and `system` are [`SkipReason::IgnoredType`]), `reasoning` (each `summary` item and each
//!   `content` text → Thinking; encrypted reasoning yields nothing), `function_call`
//!   (`<name>: <arguments>`), `custom_tool_call` (`<name>: <input>`), `local_shell_call` /
//!   `web_search_call` (`local_shell: <action JSON>`), `function_call_output` /
//!   `custom_tool_call_output` → ToolResult (a string, or an array whose text items are
//!   joined). Other item types are ignored;
//! - `event_msg`: `payload.type == "token_count"` carries usage; every other event message
//!   repeats a `response_item` for the UI and is ignored;
//! - `compacted` is ignored; any other `type` is [`SkipReason::UnknownShape`].
//!
//! # Usage rule
//! A `token_count` carries `info.total_token_usage` (running total of the session) and
//! `info.last_token_usage` (the last request). Codex re-emits `token_count` with an unchanged
//! total (rate-limit refreshes, UI updates): summing `last_token_usage` double counts
//! (ccusage issues #876, #884, #1288; ccusage PR #824). So the usage of a `token_count` is the
//! **difference of running totals** from the previous one; an unchanged total emits nothing;
//! the first total of a file, or a total that went down (a new or compacted context), uses
//! `last_token_usage` (or the total if that is missing); with no total at all,
//! `last_token_usage` is used as is. OpenAI counts cached input inside `input_tokens` and
//! reasoning inside `output_tokens`: the usage gets `input = input - cached`,
//! `cache_read = cached`, `output = output_tokens`, no cache writes. The model is the last
//! `turn_context.model` (or a `model` on the `token_count` payload); unknown stays empty and
//! is reported unpriced (ccusage instead assumes `gpt-5`). Codex has no message or request ids:
//! those fields are empty.
//!
//! Known gap: a forked or sub-agent rollout that replays its parent's `token_count` history at
//! start is counted again (ccusage detects the replay burst; this parser does not).

use std::path::{Path, PathBuf};

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::model::{AgentKind, ContentEvent, Event, EventType, Role, Usage};
use crate::parser::{
    DedupState, LineOutcome, SkipReason, StateError, TranscriptParser, classify_json_error,
    line_str,
};
use crate::time::parse_rfc3339;

/// The environment variable that moves Codex's home directory.
pub const CODEX_HOME_ENV: &str = "CODEX_HOME";

/// `$CODEX_HOME/sessions`, else `<home>/.codex/sessions`; `None` when neither is known.
pub fn codex_sessions_dir(
    lookup: impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    let base = match lookup(CODEX_HOME_ENV) {
        Some(dir) if !dir.trim().is_empty() => PathBuf::from(dir),
        _ => home?.join(".codex"),
    };
    Some(base.join("sessions"))
}

/// The session UUID at the end of a rollout file name
/// (`rollout-2025-09-10T12-00-00-0199…-….jsonl` → the trailing 36-character UUID).
pub fn codex_session_id_from_path(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let tail = stem.get(stem.len().checked_sub(36)?..)?;
    let is_uuid = tail.char_indices().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => c == '-',
        _ => c.is_ascii_hexdigit(),
    });
    is_uuid.then(|| tail.to_string())
}

// ---------------------------------------------------------------------------------------------
// Wire shapes.

#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(borrow, default)]
    timestamp: Option<&'a str>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    payload: Option<Payload<'a>>,
}

/// Every field but `type` is kept raw and decoded only when the item type needs it, so an
/// event message that uses a field name differently cannot make the line unreadable.
#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    role: Option<&'a RawValue>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    summary: Option<&'a RawValue>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    action: Option<&'a RawValue>,
    #[serde(borrow, default)]
    output: Option<&'a RawValue>,
    #[serde(borrow, default)]
    info: Option<&'a RawValue>,
    #[serde(borrow, default)]
    call_id: Option<&'a RawValue>,
}

/// Decodes a raw field leniently: a missing field or a field of another type is `None`.
fn de<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
}

#[derive(Deserialize, Default)]
struct Info {
    #[serde(default)]
    total_token_usage: Option<CodexTokenTotals>,
    #[serde(default)]
    last_token_usage: Option<CodexTokenTotals>,
    #[serde(default)]
    model: Option<String>,
}

/// Codex's token counters (OpenAI convention: cached inside input, reasoning inside output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodexTokenTotals {
    /// Input tokens, cached ones included.
    #[serde(default)]
    pub input_tokens: u64,
    /// Input tokens read from the cache.
    #[serde(default)]
    pub cached_input_tokens: u64,
    /// Output tokens, reasoning included.
    #[serde(default)]
    pub output_tokens: u64,
    /// Reasoning output tokens.
    #[serde(default)]
    pub reasoning_output_tokens: u64,
    /// Codex's own total.
    #[serde(default)]
    pub total_tokens: u64,
}

impl CodexTokenTotals {
    fn all_ge(&self, o: &Self) -> bool {
        self.input_tokens >= o.input_tokens
            && self.cached_input_tokens >= o.cached_input_tokens
            && self.output_tokens >= o.output_tokens
            && self.reasoning_output_tokens >= o.reasoning_output_tokens
            && self.total_tokens >= o.total_tokens
    }

    fn minus(&self, o: &Self) -> Self {
        Self {
            input_tokens: self.input_tokens - o.input_tokens,
            cached_input_tokens: self.cached_input_tokens - o.cached_input_tokens,
            output_tokens: self.output_tokens - o.output_tokens,
            reasoning_output_tokens: self.reasoning_output_tokens - o.reasoning_output_tokens,
            total_tokens: self.total_tokens - o.total_tokens,
        }
    }
}

/// Items with optional `type` and `text`; a bare string is one text item.
struct Items(Vec<(Option<String>, Option<String>)>);

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Item {
            #[serde(rename = "type", default)]
            kind: Option<String>,
            #[serde(default)]
            text: Option<String>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Items;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of items")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Items, E> {
                Ok(Items(vec![(None, Some(v.to_owned()))]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
                let mut v = Vec::new();
                while let Some(i) = seq.next_element::<Item>()? {
                    v.push((i.kind, i.text));
                }
                Ok(Items(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The text of one content item: its text, or a `[<type>]` placeholder.
fn item_text(kind: Option<String>, text: Option<String>) -> String {
    match (text, kind) {
        (Some(t), _) => t,
        (None, Some(k)) => format!("[{k}]"),
        (None, None) => "[unknown]".to_string(),
    }
}

/// A tool output: a JSON string, an array of content items, or anything else as raw JSON.
fn output_text(raw: Option<&RawValue>) -> String {
    let Some(raw) = raw else {
        return String::new();
    };
    let s = raw.get();
    if s.starts_with('"') {
        if let Ok(t) = serde_json::from_str::<String>(s) {
            return t;
        }
    } else if s.starts_with('[')
        && let Ok(Items(items)) = serde_json::from_str::<Items>(s)
    {
        return items
            .into_iter()
            .map(|(k, t)| item_text(k, t))
            .collect::<Vec<_>>()
            .join("\n");
    }
    s.to_string()
}

fn raw_text(raw: Option<&RawValue>) -> String {
    match raw {
        None => "null".to_string(),
        Some(r) => serde_json::from_str::<String>(r.get()).unwrap_or_else(|_| r.get().to_string()),
    }
}

// ---------------------------------------------------------------------------------------------

/// What a [`CodexParser`] must carry across a restart.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CodexState {
    /// The session id from `session_meta` (or given by the caller).
    pub session_id: String,
    /// The model of the current turn.
    pub model: String,
    /// The last running total seen.
    pub previous_totals: Option<CodexTokenTotals>,
}

/// Parses Codex rollout lines; use one parser per rollout file. See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct CodexParser {
    state: CodexState,
    repeated_token_counts: u64,
}

impl CodexParser {
    /// A parser for a rollout whose `session_meta` line will name the session.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser for a rollout read from the middle (no `session_meta` line ahead): the session
    /// id, e.g. from [`codex_session_id_from_path`].
    pub fn with_session_id(session_id: impl Into<String>) -> Self {
        Self {
            state: CodexState {
                session_id: session_id.into(),
                ..CodexState::default()
            },
            repeated_token_counts: 0,
        }
    }

    /// `token_count` lines skipped because the running total had not moved.
    pub fn repeated_token_counts(&self) -> u64 {
        self.repeated_token_counts
    }

    fn usage_delta(&mut self, info: &Info) -> Option<CodexTokenTotals> {
        let last = info.last_token_usage;
        match (info.total_token_usage, self.state.previous_totals) {
            (Some(t), Some(p)) if t == p => {
                self.repeated_token_counts += 1;
                None
            }
            (Some(t), Some(p)) if t.all_ge(&p) => {
                self.state.previous_totals = Some(t);
                Some(t.minus(&p))
            }
            (Some(t), _) => {
                self.state.previous_totals = Some(t);
                Some(last.unwrap_or(t))
            }
            (None, _) => last,
        }
    }

    /// A content event; `parse_line` numbers the events of a line and gives them the line's
    /// digest (Codex lines carry no id).
    fn content(&self, ts: std::time::SystemTime, t: EventType, role: Role, c: String) -> Event {
        Event::Content(ContentEvent {
            timestamp: ts,
            native_session_id: self.state.session_id.clone(),
            event_type: t,
            role,
            content: c,
            is_sidechain: false,
            source_id: String::new(),
            index: 0,
            tool_use_id: String::new(),
            message_id: String::new(),
        })
    }
}

impl TranscriptParser for CodexParser {
    fn agent(&self) -> AgentKind {
        AgentKind::Codex
    }

    fn parse_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> LineOutcome {
        let text = match line_str(line) {
            Ok(t) => t,
            Err(o) => return o,
        };
        if text.trim().is_empty() {
            return LineOutcome::Skipped(SkipReason::IgnoredType);
        }
        let raw: RawLine<'_> = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => return classify_json_error(&e),
        };
        let Some(p) = raw.payload else {
            return LineOutcome::Skipped(SkipReason::UnknownShape);
        };
        match raw.kind {
            Some("session_meta") => {
                if let Some(id) = de::<String>(p.id) {
                    self.state.session_id = id;
                }
                return LineOutcome::Parsed;
            }
            Some("turn_context") => {
                if let Some(m) = de::<String>(p.model).filter(|m| !m.trim().is_empty()) {
                    self.state.model = m;
                }
                return LineOutcome::Parsed;
            }
            Some("response_item" | "event_msg") => {}
            Some("compacted") => return LineOutcome::Skipped(SkipReason::IgnoredType),
            _ => return LineOutcome::Skipped(SkipReason::UnknownShape),
        }
        let Some(ts) = raw.timestamp.and_then(parse_rfc3339) else {
            return LineOutcome::Skipped(SkipReason::UnknownShape);
        };
        if raw.kind == Some("event_msg") {
            if p.kind != Some("token_count") {
                return LineOutcome::Skipped(SkipReason::IgnoredType);
            }
            let Some(info) = de::<Option<Info>>(p.info).flatten() else {
                return LineOutcome::Parsed; // rate-limit-only update
            };
            if let Some(m) = de::<String>(p.model).or_else(|| info.model.clone())
                && !m.trim().is_empty()
            {
                self.state.model = m;
            }
            if let Some(d) = self.usage_delta(&info) {
                let cached = d.cached_input_tokens.min(d.input_tokens);
                let usage = Usage {
                    timestamp: ts,
                    native_session_id: self.state.session_id.clone(),
                    message_id: String::new(),
                    request_id: String::new(),
                    source_id: String::new(),
                    model: self.state.model.clone(),
                    input_tokens: d.input_tokens - cached,
                    output_tokens: d.output_tokens,
                    cache_read_tokens: cached,
                    cache_creation_tokens: 0,
                    cache_creation_5m_tokens: None,
                    cache_creation_1h_tokens: None,
                    started: None,
                    ended: None,
                };
                if usage.total_tokens() > 0 {
                    out.push(Event::Usage(Usage {
                        source_id: crate::identity::line_id(text),
                        ..usage
                    }));
                }
            }
            return LineOutcome::Parsed;
        }
        let first = out.len();
        match p.kind {
            Some("message") => {
                let role = match de::<&str>(p.role) {
                    Some("user") => Role::User,
                    Some("assistant") => Role::Assistant,
                    _ => return LineOutcome::Skipped(SkipReason::IgnoredType),
                };
                for (k, t) in de::<Items>(p.content).map(|i| i.0).unwrap_or_default() {
                    out.push(self.content(ts, EventType::Text, role, item_text(k, t)));
                }
            }
            Some("reasoning") => {
                let summary = de::<Items>(p.summary).map(|i| i.0).unwrap_or_default();
                let content = de::<Items>(p.content).map(|i| i.0).unwrap_or_default();
                for (_, t) in summary.into_iter().chain(content) {
                    if let Some(t) = t {
                        out.push(self.content(ts, EventType::Thinking, Role::Assistant, t));
                    }
                }
            }
            Some("function_call") => {
                let c = format!(
                    "{}: {}",
                    de::<String>(p.name).unwrap_or_default(),
                    raw_text(p.arguments)
                );
                out.push(self.content(ts, EventType::ToolUse, Role::Assistant, c));
            }
            Some("custom_tool_call") => {
                let c = format!(
                    "{}: {}",
                    de::<String>(p.name).unwrap_or_default(),
                    raw_text(p.input)
                );
                out.push(self.content(ts, EventType::ToolUse, Role::Assistant, c));
            }
            Some(k @ ("local_shell_call" | "web_search_call")) => {
                let name = k.trim_end_matches("_call");
                let action = p.action.map_or("null", RawValue::get);
                let c = format!("{name}: {action}");
                out.push(self.content(ts, EventType::ToolUse, Role::Assistant, c));
            }
            Some("function_call_output" | "custom_tool_call_output") => {
                let c = output_text(p.output);
                out.push(self.content(ts, EventType::ToolResult, Role::User, c));
            }
            _ => return LineOutcome::Skipped(SkipReason::IgnoredType),
        }
        if out.len() > first {
            let line = crate::identity::line_id(text);
            let call_id = de::<String>(p.call_id).unwrap_or_default();
            for (i, e) in out[first..].iter_mut().enumerate() {
                if let Event::Content(c) = e {
                    c.index = u32::try_from(i).unwrap_or(u32::MAX);
                    c.source_id.clone_from(&line);
                    if matches!(c.event_type, EventType::ToolUse | EventType::ToolResult) {
                        c.tool_use_id.clone_from(&call_id);
                    }
                }
            }
        }
        LineOutcome::Parsed
    }

    fn flush(&mut self, _out: &mut Vec<Event>) {}

    fn dedup_state(&self) -> DedupState {
        DedupState::Codex(self.state.clone())
    }

    fn restore_dedup_state(&mut self, state: DedupState) -> Result<(), StateError> {
        match state {
            DedupState::Codex(s) => {
                self.state = s;
                Ok(())
            }
            other => Err(StateError::WrongAgent {
                expected: AgentKind::Codex,
                found: other.agent(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_comes_from_the_rollout_file_name() {
        let p = Path::new(
            "/h/.codex/sessions/2025/09/10/rollout-2025-09-10T12-00-00-0199a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b.jsonl",
        );
        assert_eq!(
            codex_session_id_from_path(p).as_deref(),
            Some("0199a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b")
        );
        assert_eq!(codex_session_id_from_path(Path::new("x.jsonl")), None);
        let env = |_: &str| None;
        assert_eq!(
            codex_sessions_dir(env, Some(Path::new("/h"))),
            Some(PathBuf::from("/h/.codex/sessions"))
        );
    }
}
