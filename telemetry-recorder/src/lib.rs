//! telemetry-recorder: every Gas Town telemetry event and instrument.
//!
//! It names what `telemetry-core` only plumbs: one typed function per event of the data model
//! (`docs/data-model.md`, "Log events"), each adding to the event's instruments ("Metric
//! instruments") and emitting one OpenTelemetry log record whose body is the event name.
//! [`catalog()`] describes all of it as static data (JSON via `serde`); the recorder builds its
//! instruments from it and the tests and the docs audit are driven by it.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let provider = telemetry_otlp::init("gastown", "1.0.0").ok().flatten();
//! // One atomic load and nothing else when telemetry is off:
//! telemetry_recorder::record_bd_call(&["show", "gt-42"], Duration::from_millis(12), Ok(()), b"", b"");
//! let err = std::io::Error::other("no such bead");
//! telemetry_recorder::record_sling("gt-42", "gastown/polecats/Toast", Err(&err));
//! if let Some(p) = provider {
//!     let _ = p.shutdown(Duration::from_secs(5));
//! }
//! ```
//!
//! # Two ways in
//! - The free `record_*` functions use a process-wide [`Recorder`] built lazily from
//!   [`telemetry_core::global()`]. They check it first and return before building any
//!   attribute or allocating when telemetry is off.
//! - [`Recorder::new`] / [`Recorder::with_settings`] bind a recorder to any
//!   [`telemetry_core::Provider`] (tests, benchmarks, a second pipeline).
//!
//! # Outcomes, severity, correlation
//! Outcomes are [`Outcome`]s (`Result<(), &dyn Display>`), so `status` (`ok`/`error`), `error`
//! (`""` or the message) and severity (INFO/ERROR) always agree; events the contract marks
//! INFO are always INFO. Every record carries `run.id` exactly once when known (the
//! [`with_run_id`] scope, else `GT_RUN` read once per process; `agent.instantiate` carries the
//! spawned agent's own) and `work_rig`/`work_bead`/`work_mol` from the current
//! [`WorkContext`], each omitted when empty.
//!
//! # Content gates
//! Bulky or sensitive content is off by default and switched on per variable
//! ([`ContentSettings`], read once per process): `GT_LOG_BD_OUTPUT`, `GT_LOG_PROMPT_KEYS`,
//! `GT_LOG_MAIL_BODY`, `GT_LOG_PRIME_CONTEXT`, `GT_LOG_AGENT_OUTPUT`, `GT_LOG_PANE_OUTPUT`.
//! `pane.output`, `agent.event` and `prime.context` are not recorded at all (no counter
//! either) while their gate is closed. Truncation ([`truncate()`]) never splits a UTF-8
//! character; the limit counts the trailing `…`, so a truncated value is at most `limit` bytes.
//! Secrets passed to bd (`--token`, `--password`, …) never reach `bd.call`'s `args`:
//! [`redact_args`] replaces their values with `[REDACTED]`.
//!
//! # Cardinality
//! Every instrument keeps at most [`telemetry_core::CARDINALITY_LIMIT`] (2000) distinct
//! attribute sets per collection cycle (a view set by `telemetry-core`). Past the limit the
//! SDK does not drop measurements: it folds every new attribute set into one overflow series
//! whose only attribute is `otel.metric.overflow = true`, so totals stay right while the
//! per-series breakdown of the newcomers is lost. Only `session` (`pane.output`,
//! `agent.events`) is unbounded in practice; a dashboard that sees an overflow series should
//! aggregate rather than break down by session. With cumulative temporality (the default) the
//! limit applies over the whole process lifetime.
//!
//! # What lives elsewhere
//! Whether telemetry is on, the resource and the exporters belong to `telemetry-core`; the
//! environment of child processes to `telemetry-subprocess`. This crate never touches HTTP,
//! never writes the environment and never starts threads of its own.

pub mod agent_totals;
pub mod catalog;
mod correlation;
mod events;
mod global;
pub mod health;
mod layer;
pub mod prometheus;
mod recorder;
pub mod redact;
pub mod settings;
pub mod spans;
pub mod truncate;

pub use agent_totals::{AgentCounter, AgentTotals};
pub use catalog::{
    AttrKind, AttrSpec, Catalog, EventSpec, InstrumentKind, InstrumentSpec, Presence, SeverityRule,
    ValueType, catalog, event, instrument,
};
pub use correlation::{
    WorkContext, current_run_id, set_work_context, with_run_id, with_work_context, work_context,
};
pub use events::{
    AgentEvent, AgentEventType, AgentInstance, AgentStatus, AgentUsage, COST_SOURCE_LOCAL,
    COST_SOURCE_UNPRICED, CrewPhase, DoltHealth, Done, ExitType, MailMessage, MessageRole,
    MolSquash, Outcome, QuotaThreshold, QuotaWindow, RefineryDispatch, SchedulerCycle,
    WitnessPatrol, instance_name, tool_use_content,
};
pub use global::{
    global_recorder, in_span, record_agent_event, record_agent_instantiate,
    record_agent_state_change, record_agent_usage, record_bd_call, record_bead_create,
    record_convoy_create, record_daemon_restart, record_done, record_formula_instantiate,
    record_mail, record_mol_burn, record_mol_cook, record_mol_squash, record_mol_wisp,
    record_nudge, record_pane_output, record_polecat_remove, record_polecat_spawn, record_prime,
    record_prime_context, record_prompt_send, record_session_start, record_session_stop,
    record_sling, start_span,
};
pub use global::{record_agent_quota_threshold, record_agent_status, record_agent_status_gauges};
pub use global::{
    record_crew_cycle, record_deacon_transition, record_dolt_health, record_git_operation,
    record_pane_read, record_refinery_dispatch, record_refinery_queue,
    record_scheduler_dispatch_cycle, record_witness_patrol,
};
pub use health::{HealthInstruments, install_health};
pub use layer::{EXCLUDED_TARGETS, is_excluded_target, tracing_layer};
pub use recorder::Recorder;
pub use redact::redact_args;
pub use settings::{ContentSettings, SettingsError};
pub use spans::{ActiveSpan, TimedSpan};
pub use truncate::truncate;
