//! The arguments of the record functions: outcomes, closed vocabularies and the small structs
//! of the events that carry many values.
//!
//! Plain borrowed data, so building one costs nothing when telemetry is off. This module must
//! not record or read the environment; [`instance_name`] is a pure function.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How an operation ended: `Ok(())`, or `Err` with the error to report.
///
/// Records derive `status` (`"ok"`/`"error"`), `error` (`""` or the error's `Display`) and the
/// severity (INFO/ERROR) from it, so the three always agree.
pub type Outcome<'a> = Result<(), &'a dyn fmt::Display>;

/// How `gt done` ended (`exit_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitType {
    /// `COMPLETED`.
    Completed,
    /// `ESCALATED`.
    Escalated,
    /// `DEFERRED`.
    Deferred,
}

impl ExitType {
    /// The recorded value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "COMPLETED",
            Self::Escalated => "ESCALATED",
            Self::Deferred => "DEFERRED",
        }
    }
}

/// What an agent conversation event is (`event_type` of `agent.event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentEventType {
    /// `text`.
    Text,
    /// `tool_use`; content is `<tool name>: <json input>` (see [`tool_use_content`]).
    ToolUse,
    /// `tool_result`.
    ToolResult,
    /// `thinking`.
    Thinking,
}

impl AgentEventType {
    /// The recorded value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::ToolUse => "tool_use",
            Self::ToolResult => "tool_result",
            Self::Thinking => "thinking",
        }
    }
}

/// Who spoke in the conversation (`role` of `agent.event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageRole {
    /// `assistant`.
    Assistant,
    /// `user`.
    User,
}

impl MessageRole {
    /// The recorded value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assistant => "assistant",
            Self::User => "user",
        }
    }
}

/// The `content` of a `tool_use` event: `<tool name>: <json input>`.
#[must_use]
pub fn tool_use_content(tool_name: &str, json_input: &str) -> String {
    format!("{tool_name}: {json_input}")
}

/// The message a `mail` operation handled (its `msg.*` attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailMessage<'a> {
    /// `msg.id`.
    pub id: &'a str,
    /// `msg.from`.
    pub from: &'a str,
    /// `msg.to`, recorded comma-separated.
    pub to: &'a [&'a str],
    /// `msg.subject`.
    pub subject: &'a str,
    /// `msg.thread_id`.
    pub thread_id: &'a str,
    /// `msg.priority`.
    pub priority: &'a str,
    /// `msg.type`.
    pub kind: &'a str,
    /// `msg.body`, recorded only with `GT_LOG_MAIL_BODY=true`, truncated to 256 bytes.
    pub body: &'a str,
}

/// A spawned agent (`agent.instantiate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentInstance<'a> {
    /// The spawned agent's own run id (its `GT_RUN`), recorded as `run.id` in place of the
    /// spawner's; empty omits `run.id`.
    pub run_id: &'a str,
    /// Town root path; its basename goes into `instance`.
    pub town_root: &'a str,
    /// `agent_type` (`claudecode`, `codex`, …).
    pub agent_type: &'a str,
    /// `role`.
    pub role: &'a str,
    /// `agent_name`.
    pub agent_name: &'a str,
    /// `session_id`.
    pub session_id: &'a str,
    /// `rig`.
    pub rig: &'a str,
    /// `issue_id`.
    pub issue_id: &'a str,
    /// `git_branch`.
    pub git_branch: &'a str,
    /// `git_commit`.
    pub git_commit: &'a str,
}

/// How `gt done` ended and for which work (`done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done<'a> {
    /// `exit_type`.
    pub exit_type: ExitType,
    /// `rig` (omitted when empty).
    pub rig: &'a str,
    /// `bead_id` (omitted when empty).
    pub bead_id: &'a str,
    /// `time_to_complete_ms`: how long the bead had been the session's current work (omitted
    /// when unknown).
    pub time_to_complete_ms: Option<u64>,
}

/// A molecule squash (`mol.squash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MolSquash<'a> {
    /// `mol_id`.
    pub mol_id: &'a str,
    /// `done_steps`.
    pub done_steps: u64,
    /// `total_steps`.
    pub total_steps: u64,
    /// `digest_created`.
    pub digest_created: bool,
}

/// One agent conversation event read from a transcript (`agent.event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentEvent<'a> {
    /// Gas Town session (`session`).
    pub session: &'a str,
    /// The agent's own session id (`native_session_id`).
    pub native_session_id: &'a str,
    /// `agent_type`.
    pub agent_type: &'a str,
    /// `event_type`.
    pub event_type: AgentEventType,
    /// `role`.
    pub role: MessageRole,
    /// `content`, truncated to `GT_LOG_AGENT_CONTENT_LIMIT`.
    pub content: &'a str,
    /// `record.id`: the same for every delivery of the same transcript record, so duplicates
    /// can be removed at query time (`agent_transcripts::record_id`).
    pub record_id: &'a str,
    /// When the transcript says it happened: the record's timestamp.
    pub timestamp: SystemTime,
}

/// One token usage report read from a transcript (`agent.usage`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgentUsage<'a> {
    /// Gas Town session (`session`).
    pub session: &'a str,
    /// The agent's own session id (`native_session_id`).
    pub native_session_id: &'a str,
    /// `agent_type` on the token metrics.
    pub agent_type: &'a str,
    /// `model`.
    pub model: &'a str,
    /// `record.id`: the same for every delivery of the same transcript record, so duplicates
    /// can be removed at query time (`agent_transcripts::record_id`).
    pub record_id: &'a str,
    /// `message_id`: the provider's message id (Claude Code, OpenCode); omitted when empty.
    pub message_id: &'a str,
    /// `request_id`: the provider's request id (Claude Code); omitted when empty.
    pub request_id: &'a str,
    /// Gas Town role, on the metrics.
    pub role: &'a str,
    /// Rig, on the token metrics.
    pub rig: &'a str,
    /// `input_tokens`.
    pub input_tokens: u64,
    /// `output_tokens`.
    pub output_tokens: u64,
    /// `cache_read_tokens`.
    pub cache_read_tokens: u64,
    /// `cache_creation_tokens`.
    pub cache_creation_tokens: u64,
    /// `cache_creation_5m_tokens`, recorded when known.
    pub cache_creation_5m_tokens: Option<u64>,
    /// `cache_creation_1h_tokens`, recorded when known.
    pub cache_creation_1h_tokens: Option<u64>,
    /// `cost_usd` from the pricing table; `None` for a model without a price (the record then
    /// carries no `cost_usd`). Added to `gastown.token.cost_usd` when finite and positive.
    pub cost_usd: Option<f64>,
    /// `cost_source`: how the cost was found ([`COST_SOURCE_LOCAL`], [`COST_SOURCE_UNPRICED`]);
    /// omitted when empty.
    pub cost_source: &'a str,
    /// `pricing_version`: the version of the price table the cost was computed with
    /// (`agent_transcripts::Pricing::version`); omitted when empty.
    pub pricing_version: &'a str,
    /// When the transcript says it happened: the record's timestamp.
    pub timestamp: SystemTime,
}

/// `cost_source` of a cost computed here from the local price table (an estimate at list
/// prices of `pricing_version`).
pub const COST_SOURCE_LOCAL: &str = "local";
/// `cost_source` of a usage whose model has no price: no `cost_usd`, never a $0 one.
pub const COST_SOURCE_UNPRICED: &str = "unpriced";

/// A rate-limit window of a plan's quota (`window` on the quota metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaWindow {
    /// The rolling 5-hour window (`five_hour`).
    FiveHour,
    /// The rolling 7-day window (`seven_day`).
    SevenDay,
}

impl QuotaWindow {
    /// Both windows.
    pub const ALL: [Self; 2] = [Self::FiveHour, Self::SevenDay];

    /// The label value (`five_hour`, `seven_day`), as Claude Code names the window.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FiveHour => "five_hour",
            Self::SevenDay => "seven_day",
        }
    }

    /// The window named `name` ([`QuotaWindow::as_str`]).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == name)
    }
}

/// `agent.status`: one status-line update of an agent session. Each `None` is unknown (not set,
/// not on the record).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AgentStatus<'a> {
    /// Gas Town session, else the agent's own session id.
    pub session: &'a str,
    /// The model id.
    pub model: &'a str,
    /// Context window used, in percent.
    pub context_used_percent: Option<f64>,
    /// 5-hour quota used, in percent.
    pub five_hour_used_percent: Option<f64>,
    /// 7-day quota used, in percent.
    pub seven_day_used_percent: Option<f64>,
    /// The session's cost as the agent reports it, in USD.
    pub cost_usd: Option<f64>,
}

/// `agent.quota_threshold`: a quota window's use went up across `threshold` percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotaThreshold<'a> {
    /// Gas Town session, else the agent's own session id.
    pub session: &'a str,
    /// The model id.
    pub model: &'a str,
    /// The window.
    pub window: QuotaWindow,
    /// The threshold crossed, in percent.
    pub threshold: u8,
    /// The use now, in percent.
    pub used_percent: f64,
    /// When the window resets (RFC 3339); omitted when empty.
    pub resets_at: &'a str,
}

/// The `instance` of `agent.instantiate`: `hostname:basename(town_root)`, the basename alone
/// without a hostname, the hostname alone when the town root has no basename (`""`, `/`).
/// An empty hostname counts as none.
#[must_use]
pub fn instance_name(hostname: Option<&str>, town_root: &str) -> String {
    let base = Path::new(town_root)
        .file_name()
        .map(|b| b.to_string_lossy())
        .unwrap_or_default();
    match hostname.filter(|h| !h.is_empty()) {
        Some(host) if !base.is_empty() => format!("{host}:{base}"),
        Some(host) => host.to_owned(),
        None => base.into_owned(),
    }
}

/// A crew session's phase (`phase` of `crew.cycle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrewPhase {
    /// `start`: the session started.
    Start,
    /// `push`: work was pushed.
    Push,
    /// `done`: the session finished its work.
    Done,
    /// `idle`: the session went idle.
    Idle,
}

impl CrewPhase {
    /// Every phase, in cycle order.
    pub const ALL: [Self; 4] = [Self::Start, Self::Push, Self::Done, Self::Idle];

    /// The recorded value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Push => "push",
            Self::Done => "done",
            Self::Idle => "idle",
        }
    }

    /// The phase called `name`, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// `refinery.dispatch`: one merge-queue item dispatched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineryDispatch<'a> {
    /// The rig whose refinery dispatched.
    pub rig: &'a str,
    /// The dispatched bead.
    pub bead_id: &'a str,
    /// Items left in the queue after the dispatch.
    pub queue_depth: u64,
    /// How long the item waited in the queue.
    pub wait: Duration,
    /// How long the dispatch itself took.
    pub duration: Duration,
}

/// `scheduler.dispatch_cycle`: one scheduler cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedulerCycle {
    /// Beads dispatched.
    pub dispatched: u64,
    /// Beads whose dispatch failed.
    pub failed: u64,
    /// Beads skipped (no capacity, blocked).
    pub skipped: u64,
    /// Queue depth at the start of the cycle.
    pub queue_depth: u64,
    /// Share of capacity in use after the cycle (0..1; clamped, NaN recorded as 0).
    pub capacity_usage: f64,
    /// How long the cycle took.
    pub duration: Duration,
}

/// `witness.patrol`: one patrol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessPatrol<'a> {
    /// The rig patrolled.
    pub rig: &'a str,
    /// How long the patrol took.
    pub duration: Duration,
    /// Stale agents found.
    pub stale_count: u64,
    /// Agents restarted.
    pub restart_count: u64,
}

/// `dolt.health`: what one health check measured (each `None` when it could not be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DoltHealth<'a> {
    /// `host:port` of the server (never credentials).
    pub server: &'a str,
    /// `SELECT 1` round trip.
    pub latency: Option<Duration>,
    /// `Threads_connected`.
    pub connections: Option<u64>,
    /// `max_connections`.
    pub max_connections: Option<u64>,
    /// Replication lag, when the server replicates.
    pub replication_lag: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_is_host_colon_town_basename() {
        assert_eq!(instance_name(Some("box"), "/home/me/gt"), "box:gt");
        assert_eq!(instance_name(Some("box"), "/home/me/gt/"), "box:gt");
        assert_eq!(instance_name(Some("box"), "relative/town"), "box:town");
    }

    #[test]
    fn instance_without_hostname_is_the_basename() {
        assert_eq!(instance_name(None, "/home/me/gt"), "gt");
        assert_eq!(instance_name(Some(""), "/home/me/gt"), "gt");
    }

    #[test]
    fn instance_without_basename_is_the_hostname() {
        assert_eq!(instance_name(Some("box"), "/"), "box");
        assert_eq!(instance_name(Some("box"), ""), "box");
        assert_eq!(instance_name(None, ""), "");
    }

    #[test]
    fn vocabularies_match_the_contract() {
        assert_eq!(
            [ExitType::Completed, ExitType::Escalated, ExitType::Deferred].map(ExitType::as_str),
            ["COMPLETED", "ESCALATED", "DEFERRED"]
        );
        assert_eq!(
            [
                AgentEventType::Text,
                AgentEventType::ToolUse,
                AgentEventType::ToolResult,
                AgentEventType::Thinking
            ]
            .map(AgentEventType::as_str),
            ["text", "tool_use", "tool_result", "thinking"]
        );
        assert_eq!(
            tool_use_content("Bash", r#"{"command":"ls"}"#),
            r#"Bash: {"command":"ls"}"#
        );
    }
}
