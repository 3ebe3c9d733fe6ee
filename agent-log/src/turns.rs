//! Agent turns as spans: each billed model request a `chat` span, each tool call an
//! `execute_tool` span under it, with the transcript's own times.
//!
//! One job: [`Turns`] turns the events the sink records into spans (OpenTelemetry GenAI
//! semantic conventions), so an interactive agent session, which cannot join a trace itself,
//! shows as a waterfall of turns and tools under the trace `gt agent-log` was started in. It
//! is made only when a traces URL is configured: without one the sink holds no `Turns` and
//! computes nothing for spans. It must not read files, the environment or the clock.
//!
//! # Where the spans hang
//! A turn's parent is the process's parent (the `TRACEPARENT` `gt agent-log` was started
//! with: the session's root span); without one the turn is a root whose trace id is the run
//! id's UUID (`--run-id`/`GT_RUN`), else one derived from the agent's session id, so the turns
//! of a session share a trace. A tool span's parent is the turn of the message that asked for
//! it (by message id); a tool of a message without id (Codex) hangs under the turn's parent.
//!
//! # Times
//! A turn starts when its request went out, as near as the transcript tells
//! ([`Usage::started`]: Claude Code, the line before the message's first line, i.e. the prompt
//! or tool result it answers; OpenCode, the message's creation), else at the latest user input
//! (prompt or tool result) read since the session's previous usage, else the previous usage's
//! time, else the usage's own time; it ends with the reply's last line ([`Usage::ended`], else
//! the usage's time). A tool span runs from its `tool_use` to the matching `tool_result`
//! (matched by call id), so it may outlast its turn, whose reply ended when the tool was
//! asked for. A tool use whose result has not arrived waits in a map of at most
//! [`PENDING_TOOLS`] calls (the oldest dropped and counted, with a warning); the map is not
//! checkpointed, so a tool whose result arrives after a restart gets no span.
//!
//! # Duplicates
//! Spans go through the span exporter (its batch processor), not the logs confirmation: a batch
//! read again after a failed export makes its spans again. Every span id is derived from what
//! identifies it in the transcript (a turn: agent, session id and message id, else the usage's
//! `record.id`; a tool: its `tool_use`'s `record.id`), so a span made twice has the same trace
//! and span id, and a replay of the same files makes the same spans.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use agent_transcripts::identity::RECORD_ID_NAMESPACE;
use agent_transcripts::{AgentKind, ContentEvent, EventType, Role, Usage};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use telemetry_recorder::{Recorder, TimedSpan, WorkContext};

/// The most tool calls waiting for their result.
pub const PENDING_TOOLS: usize = 1024;
/// The most sessions whose clock is kept (all are forgotten when full).
const SESSIONS: usize = 1024;

/// Who a span is about, beside the event itself.
#[derive(Debug, Clone, Copy)]
pub struct SpanContextOf<'a> {
    /// The agent that wrote the transcript.
    pub agent: AgentKind,
    /// The Gas Town session (`session`).
    pub session: &'a str,
    /// `run.id`, if known.
    pub run_id: Option<&'a str>,
    /// The work current at the event's time.
    pub work: &'a WorkContext,
    /// The event's `record.id`.
    pub record_id: &'a str,
}

struct PendingTool {
    seq: u64,
    name: String,
    start: SystemTime,
    span_id: SpanId,
    parent: Context,
    attributes: Vec<KeyValue>,
}

#[derive(Default)]
struct Clock {
    last_input: Option<SystemTime>,
    last_usage: Option<SystemTime>,
}

/// See the [module docs](self).
pub struct Turns {
    parent: Context,
    tools: HashMap<String, PendingTool>,
    order: BTreeMap<u64, String>,
    next_seq: u64,
    dropped_tools: u64,
    clocks: HashMap<String, Clock>,
}

impl std::fmt::Debug for Turns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turns")
            .field("pending_tools", &self.tools.len())
            .field("dropped_tools", &self.dropped_tools)
            .finish_non_exhaustive()
    }
}

impl Turns {
    /// Turns under `parent` (the process's parent: `telemetry_core::trace::process_parent`).
    #[must_use]
    pub fn new(parent: Context) -> Self {
        Self {
            parent,
            tools: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            dropped_tools: 0,
            clocks: HashMap::new(),
        }
    }

    /// Tool uses dropped from the pending map, oldest first, because it was full.
    #[must_use]
    pub fn dropped_tools(&self) -> u64 {
        self.dropped_tools
    }

    /// Tool uses waiting for their result.
    #[must_use]
    pub fn pending_tools(&self) -> usize {
        self.tools.len()
    }

    /// Takes note of a content event: a tool use waits for its result, a tool result ends
    /// its tool's span, user input moves the session's clock.
    pub fn content(&mut self, recorder: &Recorder, c: &ContentEvent, of: SpanContextOf<'_>) {
        if c.role == Role::User {
            self.clock(&c.native_session_id).last_input = Some(c.timestamp);
        }
        match c.event_type {
            EventType::ToolUse if !c.tool_use_id.is_empty() => self.tool_use(c, of),
            EventType::ToolResult if !c.tool_use_id.is_empty() => {
                self.tool_result(recorder, c);
            }
            _ => {}
        }
    }

    /// Makes the turn span of `u` (its `cost`, when priced).
    pub fn usage(
        &mut self,
        recorder: &Recorder,
        u: &Usage,
        cost: Option<f64>,
        of: SpanContextOf<'_>,
    ) {
        let clock = self.clock(&u.native_session_id);
        let start = u
            .started
            .or(clock.last_input)
            .or(clock.last_usage)
            .unwrap_or(u.timestamp);
        let end = u.ended.unwrap_or(u.timestamp);
        clock.last_usage = Some(end);
        clock.last_input = None;
        let mut attributes = vec![
            KeyValue::new("gen_ai.operation.name", "chat"),
            // GenAI conventions: input tokens include the cached ones.
            KeyValue::new("gen_ai.usage.input_tokens", tokens(u.prompt_tokens())),
            KeyValue::new("gen_ai.usage.output_tokens", tokens(u.output_tokens)),
            KeyValue::new(
                "gen_ai.usage.cache_read.input_tokens",
                tokens(u.cache_read_tokens),
            ),
            KeyValue::new(
                "gen_ai.usage.cache_creation.input_tokens",
                tokens(u.cache_creation_tokens),
            ),
        ];
        if let Some(provider) = provider_name(of.agent, &u.model) {
            attributes.push(KeyValue::new("gen_ai.provider.name", provider));
        }
        for (key, value) in [
            ("gen_ai.request.model", &u.model),
            ("gen_ai.response.id", &u.message_id),
        ] {
            if !value.is_empty() {
                attributes.push(KeyValue::new(key, value.clone()));
            }
        }
        if let Some(cost) = cost.filter(|c| c.is_finite()) {
            attributes.push(KeyValue::new("cost_usd", cost));
        }
        common_attributes(&mut attributes, &u.native_session_id, of);
        let trace = self.trace_of_turns(of, &u.native_session_id);
        let span_id = turn_span_id(trace, of.agent, &u.native_session_id, &u.message_id)
            .unwrap_or_else(|| record_span_id(trace, of.record_id));
        let name = if u.model.is_empty() {
            "chat".to_owned()
        } else {
            format!("chat {}", u.model)
        };
        recorder.record_timed_span(
            &self.parent,
            TimedSpan {
                name: name.into(),
                kind: SpanKind::Client,
                start: start.min(end),
                end,
                attributes,
                span_id: Some(span_id),
                root_trace_id: Some(self.root_trace(of, &u.native_session_id)),
                error: None,
            },
        );
    }

    fn tool_use(&mut self, c: &ContentEvent, of: SpanContextOf<'_>) {
        let name = c
            .content
            .split_once(": ")
            .map_or(c.content.as_str(), |(name, _)| name)
            .to_owned();
        let mut attributes = vec![
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("gen_ai.tool.name", name.clone()),
            KeyValue::new("gen_ai.tool.call.id", c.tool_use_id.clone()),
        ];
        common_attributes(&mut attributes, &c.native_session_id, of);
        let trace = self.trace_of_turns(of, &c.native_session_id);
        let parent = match turn_span_id(trace, of.agent, &c.native_session_id, &c.message_id) {
            Some(turn) => {
                let flags = if self.parent.span().span_context().is_valid() {
                    self.parent.span().span_context().trace_flags()
                } else {
                    TraceFlags::SAMPLED
                };
                Context::new().with_remote_span_context(SpanContext::new(
                    trace,
                    turn,
                    flags,
                    false,
                    TraceState::default(),
                ))
            }
            None => self.parent.clone(),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let pending = PendingTool {
            seq,
            name,
            start: c.timestamp,
            span_id: record_span_id(trace, of.record_id),
            parent,
            attributes,
        };
        if let Some(old) = self.tools.insert(c.tool_use_id.clone(), pending) {
            self.order.remove(&old.seq);
        }
        self.order.insert(seq, c.tool_use_id.clone());
        while self.tools.len() > PENDING_TOOLS {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.tools.remove(&oldest);
            self.dropped_tools += 1;
            if self.dropped_tools == 1 || self.dropped_tools.is_multiple_of(1024) {
                eprintln!(
                    "gt agent-log: warning: {} tool calls waited too long for their result \
                     and get no span (at most {PENDING_TOOLS} wait)",
                    self.dropped_tools
                );
            }
        }
    }

    fn tool_result(&mut self, recorder: &Recorder, c: &ContentEvent) {
        let Some(tool) = self.tools.remove(&c.tool_use_id) else {
            return;
        };
        self.order.remove(&tool.seq);
        let error = c
            .content
            .starts_with("[error] ")
            .then(|| format!("{} failed", tool.name));
        let name = format!("execute_tool {}", tool.name);
        recorder.record_timed_span(
            &tool.parent,
            TimedSpan {
                name: name.into(),
                kind: SpanKind::Internal,
                start: tool.start,
                end: c.timestamp.max(tool.start),
                attributes: tool.attributes,
                span_id: Some(tool.span_id),
                root_trace_id: None,
                error,
            },
        );
    }

    fn clock(&mut self, native_session: &str) -> &mut Clock {
        if self.clocks.len() >= SESSIONS && !self.clocks.contains_key(native_session) {
            self.clocks.clear();
        }
        self.clocks.entry(native_session.to_owned()).or_default()
    }

    /// The trace id of a root turn: the run id's UUID, else one derived from the session.
    fn root_trace(&self, of: SpanContextOf<'_>, native_session: &str) -> TraceId {
        of.run_id
            .and_then(telemetry_core::trace::trace_id_of_run)
            .unwrap_or_else(|| {
                let id = uuid::Uuid::new_v5(
                    &RECORD_ID_NAMESPACE,
                    format!("trace\u{1f}{}\u{1f}{native_session}", of.agent.as_str()).as_bytes(),
                );
                TraceId::from_bytes(*id.as_bytes())
            })
    }

    /// The trace the turns are in.
    fn trace_of_turns(&self, of: SpanContextOf<'_>, native_session: &str) -> TraceId {
        let parent = self.parent.span().span_context().clone();
        if parent.is_valid() {
            parent.trace_id()
        } else {
            self.root_trace(of, native_session)
        }
    }
}

/// `session`, `agent_type`, `record.id`, `gen_ai.conversation.id`, `run.id` and the work.
fn common_attributes(attributes: &mut Vec<KeyValue>, native_session: &str, of: SpanContextOf<'_>) {
    attributes.push(KeyValue::new("agent_type", of.agent.as_str()));
    attributes.push(KeyValue::new("record.id", of.record_id.to_owned()));
    for (key, value) in [
        ("session", of.session),
        ("gen_ai.conversation.id", native_session),
        ("run.id", of.run_id.unwrap_or("")),
        ("work_rig", of.work.rig.as_str()),
        ("work_bead", of.work.bead.as_str()),
        ("work_mol", of.work.mol.as_str()),
    ] {
        if !value.is_empty() {
            attributes.push(KeyValue::new(key, value.to_owned()));
        }
    }
}

fn tokens(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The span id of the turn of message `message_id` in `trace` (`None` without one): the same
/// message read again in the same trace gets the same id, in another trace another one (a
/// trace store keeps span ids unique).
fn turn_span_id(
    trace: TraceId,
    agent: AgentKind,
    native_session: &str,
    message_id: &str,
) -> Option<SpanId> {
    (!message_id.is_empty()).then(|| {
        span_id_of(&[
            "turn",
            &trace.to_string(),
            agent.as_str(),
            native_session,
            message_id,
        ])
    })
}

/// The span id of the record `record_id` in `trace` (as [`turn_span_id`]).
fn record_span_id(trace: TraceId, record_id: &str) -> SpanId {
    span_id_of(&["record", &trace.to_string(), record_id])
}

/// A span id derived from `parts` (a name-based UUID folded to 8 bytes; never invalid).
fn span_id_of(parts: &[&str]) -> SpanId {
    let mut key = String::new();
    for part in parts {
        key.push_str(&part.len().to_string());
        key.push(':');
        key.push_str(part);
    }
    let id = uuid::Uuid::new_v5(&RECORD_ID_NAMESPACE, key.as_bytes()).as_u128();
    #[allow(clippy::cast_possible_truncation)] // folding 128 bits into 64 on purpose
    let folded = ((id >> 64) as u64) ^ (id as u64);
    SpanId::from_bytes(folded.max(1).to_be_bytes())
}

/// `gen_ai.provider.name`: the agent's provider, else guessed from the model name.
fn provider_name(agent: AgentKind, model: &str) -> Option<&'static str> {
    match agent {
        AgentKind::ClaudeCode => return Some("anthropic"),
        AgentKind::Codex => return Some("openai"),
        AgentKind::OpenCode => {}
    }
    let model = model.to_ascii_lowercase();
    let model = model.rsplit('/').next().unwrap_or("");
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| model.starts_with(p));
    if starts(&["claude"]) {
        Some("anthropic")
    } else if starts(&["gpt", "o1", "o3", "o4", "codex"]) {
        Some("openai")
    } else if starts(&["gemini"]) {
        Some("gcp.gemini")
    } else if starts(&["grok"]) {
        Some("x_ai")
    } else if starts(&["mistral", "codestral", "devstral"]) {
        Some("mistral_ai")
    } else if starts(&["deepseek"]) {
        Some("deepseek")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_ids_are_stable_and_distinct() {
        let (t1, t2) = (TraceId::from(1_u128), TraceId::from(2_u128));
        let a = record_span_id(t1, "r1");
        assert_eq!(a, record_span_id(t1, "r1"));
        assert_ne!(a, record_span_id(t1, "r2"));
        // The same record in another trace (another run reading the same transcript).
        assert_ne!(a, record_span_id(t2, "r1"));
        assert_ne!(a, SpanId::INVALID);
        assert_eq!(turn_span_id(t1, AgentKind::Codex, "s", ""), None);
        assert_ne!(
            turn_span_id(t1, AgentKind::ClaudeCode, "s", "msg_1"),
            turn_span_id(t2, AgentKind::ClaudeCode, "s", "msg_1")
        );
    }

    #[test]
    fn the_provider_comes_from_the_agent_else_the_model() {
        assert_eq!(provider_name(AgentKind::ClaudeCode, ""), Some("anthropic"));
        assert_eq!(
            provider_name(AgentKind::OpenCode, "openai/gpt-5"),
            Some("openai")
        );
        assert_eq!(
            provider_name(AgentKind::OpenCode, "claude-sonnet-4-5"),
            Some("anthropic")
        );
        assert_eq!(provider_name(AgentKind::OpenCode, "qwen3"), None);
    }
}
