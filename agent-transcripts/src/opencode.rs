//! The OpenCode adapter: message and part documents.
//!
//! One job: [`OpenCodeParser`] turns one OpenCode storage document — a message or a part, as
//! JSON — into events. It must not open files or databases.
//!
//! # Where the documents are (checked Nov 2026)
//! OpenCode up to v1.1 stored one JSON file per document under
//! `$XDG_DATA_HOME/opencode/storage/` (default `~/.local/share/opencode/storage/`):
//! `session/<projectID>/<sessionID>.json`, `message/<sessionID>/<messageID>.json`,
//! `part/<messageID>/<partID>.json`. Since v1.2.0 (Feb 2026) the same JSON lives in the `data`
//! column of the `message` and `part` tables of `~/.local/share/opencode/opencode.db` (SQLite),
//! with `id`, `session_id` and `message_id` as separate columns (reported in
//! ccusage/ccusage#879, mag123c/toktrack#139, junhoyeo/tokscale#183). This crate reads no
//! SQLite: the caller passes each document's bytes, and, for database rows, the ids from the
//! columns through [`DocumentIds`]. Files are rewritten while a message streams, so the same
//! document arrives several times.
//!
//! # Documents
//! A **message** (has `role`): `{id, sessionID, role, time: {created, completed}, modelID,
//! providerID, tokens: {input, output, reasoning, cache: {read, write}}, cost, error}`. An
//! assistant message with non-zero tokens yields one [`Usage`], at most once per message id,
//! once it is finished: `time.completed` set, or an `error` recorded (an aborted reply,
//! `MessageAbortedError`, or an API error: the tokens it carries were billed all the same).
//! The usage of an unfinished message (still streaming, or never finished because OpenCode
//! was killed) is held, its latest version replacing the earlier ones, until a finished
//! version arrives or [`TranscriptParser::flush`] says the input has ended: then it is
//! counted with its last token counts. `report` and `replay` read to the end and flush, so
//! both count such messages; a follower keeps them held (in its checkpoint) until they
//! finish. Memory: [`OpenCodeParser::exact`] forgets nothing (for a report);
//! [`OpenCodeParser::with_dedup_capacity`] bounds the ids remembered and the messages held. OpenCode's `tokens.input` excludes
//! cache reads and writes and `tokens.output` excludes reasoning: the usage gets
//! `output = output + reasoning` (ccusage counts `output` alone). Numbers written as strings
//! are accepted; a malformed `cache` counts as zero. Messages yield no content events: the
//! text is in the parts.
//!
//! A **part** (has `type`): `text` → Text, `reasoning` → Thinking (both once finished, i.e.
//! `time.end` set, or when they carry no time at all); `tool` with `state.status` `completed`
//! → ToolUse `<tool>: <input JSON>` then ToolResult (its `output`), `error` → ToolUse then
//! ToolResult `[error] <error>`; pending and running tools yield nothing yet. Other part types
//! (`step-start`, `step-finish`, `patch`, `file`, `snapshot`, …) are ignored. A tool part's
//! `callID` is both events' [`ContentEvent::tool_use_id`]; a usage's [`Usage::started`] and
//! [`Usage::ended`] are its message's `time.created` and `time.completed`. Each part id is
//! emitted at most once. A part's role is its message's, when that message was seen before
//! (else assistant); its time is the part's end/start time, else its message's creation time.

use std::collections::HashMap;
use std::time::SystemTime;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::dedup::KeySet;
use crate::model::{AgentKind, ContentEvent, Event, EventType, Role, Usage};
use crate::parser::{
    DedupState, LineOutcome, SkipReason, StateError, TranscriptParser, classify_json_error,
    line_str,
};
use crate::time::from_epoch_millis;

/// Default number of message and part ids remembered.
pub const DEFAULT_DEDUP_CAPACITY: usize = 100_000;

/// Ids that a database row keeps outside its JSON `data` (any `None` falls back to the JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentIds<'a> {
    /// The document's own id (message id or part id).
    pub id: Option<&'a str>,
    /// The session id.
    pub session_id: Option<&'a str>,
    /// For a part, its message id.
    pub message_id: Option<&'a str>,
}

/// A number that may be written as a number, a numeric string, or be wrong (then 0).
#[derive(Default, Clone, Copy)]
struct Lenient(u64);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a token count")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Lenient, E> {
                Ok(Lenient(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Lenient, E> {
                Ok(Lenient(u64::try_from(v).unwrap_or(0)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Lenient, E> {
                Ok(Lenient(if v.is_finite() && v > 0.0 {
                    v as u64
                } else {
                    0
                }))
            }
            fn visit_str<E>(self, v: &str) -> Result<Lenient, E> {
                Ok(Lenient(v.trim().parse().unwrap_or(0)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Lenient, E> {
                Ok(Lenient(0))
            }
            fn visit_unit<E>(self) -> Result<Lenient, E> {
                Ok(Lenient(0))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Lenient, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient(0))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Lenient, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient(0))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
struct RawCache {
    #[serde(default)]
    read: Lenient,
    #[serde(default)]
    write: Lenient,
}

#[derive(Deserialize, Default)]
struct RawTokens<'a> {
    #[serde(default)]
    input: Lenient,
    #[serde(default)]
    output: Lenient,
    #[serde(default)]
    reasoning: Lenient,
    #[serde(borrow, default)]
    cache: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct RawTime {
    #[serde(default)]
    created: Option<f64>,
    #[serde(default)]
    completed: Option<f64>,
    #[serde(default)]
    start: Option<f64>,
    #[serde(default)]
    end: Option<f64>,
}

#[derive(Deserialize)]
struct RawToolState<'a> {
    #[serde(borrow, default)]
    status: Option<&'a str>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    time: Option<RawTime>,
}

#[derive(Deserialize)]
struct RawDoc<'a> {
    #[serde(borrow, default)]
    id: Option<&'a str>,
    #[serde(rename = "sessionID", borrow, default)]
    session_id: Option<&'a str>,
    #[serde(rename = "messageID", borrow, default)]
    message_id: Option<&'a str>,
    #[serde(borrow, default)]
    role: Option<&'a str>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(rename = "modelID", default)]
    model_id: Option<String>,
    #[serde(borrow, default)]
    time: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tokens: Option<&'a RawValue>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool: Option<String>,
    #[serde(rename = "callID", default)]
    call_id: Option<String>,
    #[serde(borrow, default)]
    state: Option<&'a RawValue>,
    /// Set on a message that ended in an error (`MessageAbortedError`, an API error, …).
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

fn ms(v: Option<f64>) -> Option<SystemTime> {
    let v = v?;
    if !v.is_finite() {
        return None;
    }
    from_epoch_millis(v as i64)
}

/// Valid JSON without the whitespace between tokens (storage files are pretty-printed).
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

fn de<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
}

/// What an [`OpenCodeParser`] must carry across a restart.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OpenCodeState {
    /// Message ids whose usage was emitted and part ids whose content was emitted, oldest
    /// first (`m:<id>` / `p:<id>`).
    pub seen_keys: Vec<String>,
    /// Usage of unfinished messages, held until they finish or the input ends (by time, then
    /// message id). Absent in checkpoints written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfinished: Vec<Usage>,
}

/// Parses OpenCode message and part documents. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct OpenCodeParser {
    seen: KeySet,
    /// message id → (role, created), bounded like `seen`.
    messages: HashMap<String, (Role, Option<SystemTime>)>,
    /// message id → the usage of its latest unfinished version, bounded by `held_capacity`.
    unfinished: HashMap<String, Usage>,
    capacity: usize,
    /// `None`: unbounded ([`OpenCodeParser::exact`]).
    held_capacity: Option<usize>,
}

impl Default for OpenCodeParser {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenCodeParser {
    /// A parser remembering up to [`DEFAULT_DEDUP_CAPACITY`] ids.
    pub fn new() -> Self {
        Self::with_dedup_capacity(DEFAULT_DEDUP_CAPACITY)
    }

    /// A parser remembering up to `capacity` ids.
    pub fn with_dedup_capacity(capacity: usize) -> Self {
        Self {
            seen: KeySet::new(capacity),
            messages: HashMap::new(),
            unfinished: HashMap::new(),
            capacity: capacity.max(1),
            held_capacity: Some(capacity.max(1)),
        }
    }

    /// A parser that remembers every message and part id it emitted, however many (a 128-bit
    /// hash each): for a report over a whole history.
    pub fn exact() -> Self {
        Self {
            seen: KeySet::exact(),
            messages: HashMap::new(),
            unfinished: HashMap::new(),
            capacity: DEFAULT_DEDUP_CAPACITY,
            held_capacity: None,
        }
    }

    /// Holds the usage of an unfinished message (its latest version wins); at capacity the
    /// oldest held message is forgotten.
    fn hold(&mut self, usage: Usage) {
        if let Some(cap) = self.held_capacity
            && self.unfinished.len() >= cap
            && !self.unfinished.contains_key(&usage.message_id)
            && let Some(oldest) = self
                .unfinished
                .values()
                .min_by(|a, b| (a.timestamp, &a.message_id).cmp(&(b.timestamp, &b.message_id)))
                .map(|u| u.message_id.clone())
        {
            self.unfinished.remove(&oldest);
        }
        self.unfinished.insert(usage.message_id.clone(), usage);
    }

    /// The held usages, by time then message id.
    fn unfinished_sorted(&self) -> Vec<Usage> {
        let mut v: Vec<Usage> = self.unfinished.values().cloned().collect();
        v.sort_by(|a, b| (a.timestamp, &a.message_id).cmp(&(b.timestamp, &b.message_id)));
        v
    }

    /// Parses one document, with ids a database row keeps outside the JSON.
    pub fn parse_document(
        &mut self,
        doc: &[u8],
        ids: DocumentIds<'_>,
        out: &mut Vec<Event>,
    ) -> LineOutcome {
        let text = match line_str(doc) {
            Ok(t) => t,
            Err(o) => return o,
        };
        if text.trim().is_empty() {
            return LineOutcome::Skipped(SkipReason::IgnoredType);
        }
        let raw: RawDoc<'_> = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => return classify_json_error(&e),
        };
        let id = ids.id.or(raw.id).unwrap_or("");
        let session = ids.session_id.or(raw.session_id).unwrap_or("");
        let time: RawTime = de(raw.time).unwrap_or_default();
        if let Some(role) = raw.role {
            let role = match role {
                "assistant" => Role::Assistant,
                "user" => Role::User,
                _ => return LineOutcome::Skipped(SkipReason::UnknownShape),
            };
            let created = ms(time.created);
            if !id.is_empty() {
                if self.messages.len() >= self.capacity {
                    self.messages.clear();
                }
                self.messages.insert(id.to_owned(), (role, created));
            }
            // Finished: completed, or ended in an error (aborted, API error). Either way the
            // tokens it carries were billed.
            let completed = ms(time.completed);
            let finished = completed.is_some() || raw.error.is_some();
            let counted = !id.is_empty() && self.seen.contains(&format!("m:{id}"));
            // An unfinished message without an id could not be matched with its later
            // versions: it waits for a finished one.
            if role == Role::Assistant && (finished || !id.is_empty()) && !counted {
                let tokens: RawTokens<'_> = raw
                    .tokens
                    .and_then(|r| serde_json::from_str(r.get()).ok())
                    .unwrap_or_default();
                let cache: RawCache = de(tokens.cache).unwrap_or_default();
                let Some(timestamp) = created.or(completed) else {
                    return LineOutcome::Parsed;
                };
                let usage = Usage {
                    timestamp,
                    native_session_id: session.to_owned(),
                    message_id: id.to_owned(),
                    request_id: String::new(),
                    source_id: String::new(),
                    model: raw.model_id.unwrap_or_default(),
                    input_tokens: tokens.input.0,
                    output_tokens: tokens.output.0.saturating_add(tokens.reasoning.0),
                    cache_read_tokens: cache.read.0,
                    cache_creation_tokens: cache.write.0,
                    cache_creation_5m_tokens: None,
                    cache_creation_1h_tokens: None,
                    started: created,
                    ended: completed,
                };
                if !finished {
                    if usage.total_tokens() > 0 {
                        self.hold(usage);
                    }
                } else {
                    self.unfinished.remove(id);
                    if usage.total_tokens() > 0
                        && (id.is_empty() || self.seen.insert(format!("m:{id}")))
                    {
                        out.push(Event::Usage(usage));
                    }
                }
            }
            return LineOutcome::Parsed;
        }
        let Some(kind) = raw.kind else {
            return LineOutcome::Skipped(SkipReason::UnknownShape);
        };
        let message_id = ids.message_id.or(raw.message_id).unwrap_or("");
        let (role, msg_created) = self
            .messages
            .get(message_id)
            .copied()
            .unwrap_or((Role::Assistant, None));
        let key = format!("p:{id}");
        if !id.is_empty() && self.seen.contains(&key) {
            return LineOutcome::Parsed;
        }
        let base_time = ms(time.end).or(ms(time.start)).or(msg_created);
        let mut emitted = Vec::new();
        let mut call_id = String::new();
        match kind {
            "text" | "reasoning" => {
                let finished = time.end.is_some() || raw.time.is_none();
                if !finished {
                    return LineOutcome::Parsed;
                }
                let t = if kind == "text" {
                    EventType::Text
                } else {
                    EventType::Thinking
                };
                emitted.push((t, role, raw.text.unwrap_or_default(), base_time));
            }
            "tool" => {
                let Some(state) = raw
                    .state
                    .and_then(|r| serde_json::from_str::<RawToolState<'_>>(r.get()).ok())
                else {
                    return LineOutcome::Skipped(SkipReason::UnknownShape);
                };
                let st = state.time.unwrap_or_default();
                let when = ms(st.end).or(ms(st.start)).or(base_time);
                let input = state
                    .input
                    .map_or_else(|| "null".to_string(), |r| compact(r.get()));
                let tool = raw.tool.unwrap_or_default();
                let result = match state.status {
                    Some("completed") => state.output.unwrap_or_default(),
                    Some("error") => format!("[error] {}", state.error.unwrap_or_default()),
                    _ => return LineOutcome::Parsed,
                };
                emitted.push((
                    EventType::ToolUse,
                    Role::Assistant,
                    format!("{tool}: {input}"),
                    when,
                ));
                emitted.push((EventType::ToolResult, Role::User, result, when));
                call_id = raw.call_id.unwrap_or_default();
            }
            _ => return LineOutcome::Skipped(SkipReason::IgnoredType),
        }
        if !id.is_empty() {
            self.seen.insert(key);
        }
        for (index, (event_type, role, content, when)) in (0..).zip(emitted) {
            out.push(Event::Content(ContentEvent {
                timestamp: when.unwrap_or(SystemTime::UNIX_EPOCH),
                native_session_id: session.to_owned(),
                event_type,
                role,
                content,
                is_sidechain: false,
                source_id: id.to_owned(),
                index,
                tool_use_id: if event_type == EventType::Text || event_type == EventType::Thinking {
                    String::new()
                } else {
                    call_id.clone()
                },
                message_id: message_id.to_owned(),
            }));
        }
        LineOutcome::Parsed
    }
}

impl TranscriptParser for OpenCodeParser {
    fn agent(&self) -> AgentKind {
        AgentKind::OpenCode
    }

    /// One whole document per "line" (a legacy storage file's content, or a `data` column
    /// that still carries its ids).
    fn parse_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> LineOutcome {
        self.parse_document(line, DocumentIds::default(), out)
    }

    /// Emits the usage of every message that never finished (aborted without an error
    /// recorded, or OpenCode died mid-reply): the end of input says it never will.
    fn flush(&mut self, out: &mut Vec<Event>) {
        for usage in self.unfinished_sorted() {
            if self.seen.insert(format!("m:{}", usage.message_id)) {
                out.push(Event::Usage(usage));
            }
        }
        self.unfinished.clear();
    }

    fn dedup_state(&self) -> DedupState {
        DedupState::OpenCode(OpenCodeState {
            seen_keys: self.seen.keys(),
            unfinished: self.unfinished_sorted(),
        })
    }

    fn restore_dedup_state(&mut self, state: DedupState) -> Result<(), StateError> {
        match state {
            DedupState::OpenCode(s) => {
                self.seen.restore(s.seen_keys);
                self.unfinished = s
                    .unfinished
                    .into_iter()
                    .map(|u| (u.message_id.clone(), u))
                    .collect();
                Ok(())
            }
            other => Err(StateError::WrongAgent {
                expected: AgentKind::OpenCode,
                found: other.agent(),
            }),
        }
    }
}
