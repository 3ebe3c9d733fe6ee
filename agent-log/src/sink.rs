//! Where transcript events go: telemetry records, and the confirmation that they left.
//!
//! One job: [`TelemetrySink`] maps each [`Event`] to `agent.event` / `agent.usage` through
//! telemetry-recorder (priced with the [`Pricing`] table, `run.id` from `--run-id`, `record.id`
//! from [`agent_transcripts::record_id`], so every delivery of a record has the same id), confirms
//! an export by flushing the logs provider, and probes the logs endpoint before a retry. The
//! [`Sink`] trait lets the follower be tested without a backend. It must not read files or
//! decide what to read next.
//!
//! # What a confirmation means
//! The SDK's batch processor also exports on its own timer (1 s) and when 512 records are
//! queued, and a flush reports only the export it ran. The follower therefore records fewer
//! than 512 records ([`crate::settings::BATCH_RECORDS`]) and flushes at once, so the
//! flush is the export of that batch. A flush that does not answer within
//! [`CONFIRM_WAIT`] counts as failed although its export may still succeed later: a backend
//! slower than that can receive a batch twice, and so can one that stores a batch and answers
//! an error (at least once). Every record carries `record.id`, the same for every delivery,
//! so queries remove the duplicates (docs/operations.md, "Duplicate agent records").
//!
//! # Work attribution
//! With an [`Attribution`] ([`TelemetrySink::attribute_by`]), each record carries the
//! `work_rig`/`work_bead`/`work_mol` of the session's ledger entry current at the record's own
//! timestamp (see [`crate::attribution`]); the token metrics keep `rig`/`role` only (a bead
//! label would be unbounded).
//!
//! # Spans
//! With a traces URL configured, the sink also makes a span of each model request and tool
//! call ([`crate::turns`]), attributed like the records; spans are exported by their own
//! processor and are not part of a confirmation (their ids are deterministic, so a batch read
//! again makes the same spans). Without one it holds no [`Turns`] and computes nothing for
//! spans.
//!
//! # Counters
//! The counters (`gastown.agent.events.total`, `gastown.token.usage`,
//! `gastown.token.cost_usd`) are not added to as records are made: a batch that fails and is
//! read again would count twice, and a `kill -9` would lose what the SDK held in memory. The
//! sink adds each record to pending [`AgentTotals`], moves them into its confirmed totals when
//! the batch's export is confirmed (and drops them when it is not), and the follower keeps the
//! confirmed totals in its checkpoint and [`Sink::publish`]es them after each saved
//! checkpoint: the host's counter store then grows each series by exactly what the checkpoint
//! grew by (`telemetry_core::published`). The same totals carry agent-log's own health: usages
//! without a price and their tokens (counted like tokens), and the lines skipped by reason
//! (the checkpoint's counts, [`Sink::set_skipped_lines`]). The lag from a record's timestamp
//! to its confirmed export (`gastown.agent_log.lag_seconds`) is recorded at confirmation.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use agent_transcripts::{AgentKind, ContentEvent, Event, EventType, Pricing, Role, Usage};
use telemetry_recorder::{
    AgentEvent, AgentEventType, AgentTotals, AgentUsage, COST_SOURCE_LOCAL, COST_SOURCE_UNPRICED,
    MessageRole, Recorder, WorkContext,
};

use crate::attribution::Attribution;
use crate::turns::{SpanContextOf, Turns};

/// The longest a confirming flush is waited for (the SDK gives up on a flush after 5 s).
pub const CONFIRM_WAIT: Duration = Duration::from_secs(5);
/// Once a stop was requested, how much longer a confirmation in progress is waited for.
pub const CONFIRM_WAIT_WHEN_STOPPING: Duration = Duration::from_millis(1500);

/// What recording one event produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Telemetry records made (0 for a gated `agent.event`).
    pub records: usize,
    /// An `agent.usage` was made.
    pub usage: bool,
    /// An `agent.event` was made.
    pub event: bool,
    /// The usage's model has no price.
    pub unpriced: bool,
    /// The record's time, when it is older than the retention the sink was told to assume
    /// ([`TelemetrySink::assume_retention`]): a backend keeping that long accepts the record
    /// and drops it.
    pub stale: Option<SystemTime>,
}

/// Where the follower sends events.
pub trait Sink {
    /// Records one event read from a transcript of `agent`.
    fn record(&mut self, agent: AgentKind, event: &Event) -> Recorded;
    /// Whether everything recorded since the last call was exported.
    fn confirm(&mut self) -> bool;
    /// Whether the backend looks ready for a retry.
    fn ready(&mut self) -> bool;
    /// The counter totals of every confirmed export (see the [module docs](self)).
    fn counters(&self) -> AgentTotals {
        AgentTotals::default()
    }
    /// Resumes the counter totals from a checkpoint.
    fn restore_counters(&mut self, _counters: AgentTotals) {}
    /// The lines skipped so far (the checkpoint's counts, from the same start as the counter
    /// totals), published with the next [`Sink::publish`].
    fn set_skipped_lines(&mut self, _skipped: &agent_transcripts::SkipCounts) {}
    /// Publishes the confirmed counter totals as `contributor`'s (called after each saved
    /// checkpoint, with the checkpoint's id).
    fn publish(&mut self, _contributor: &str) {}
}

/// Who the records are about.
#[derive(Debug, Clone, Default)]
pub struct RecordContext {
    /// `session`.
    pub session: String,
    /// `run.id` (empty: `GT_RUN` or none).
    pub run_id: String,
    /// `rig` on the token metrics.
    pub rig: String,
    /// `role` on the token metrics.
    pub role: String,
}

/// Records through its own [`Recorder`], confirms through `provider`.
pub struct TelemetrySink {
    provider: telemetry_core::Provider,
    recorder: Recorder,
    /// Counted by records not yet confirmed.
    pending: AgentTotals,
    /// Counted by confirmed records (from the checkpoint on).
    counters: AgentTotals,
    /// The lines skipped so far, by reason (from the checkpoint on).
    skipped: Vec<(&'static str, u64)>,
    /// The agent and time of each record not yet confirmed, for the lag at confirmation.
    pending_times: Vec<(AgentKind, SystemTime)>,
    pricing: Pricing,
    context: RecordContext,
    agent_output: bool,
    warned_models: HashSet<String>,
    stop: Arc<AtomicBool>,
    probe: Option<Probe>,
    retention_cutoff: Option<SystemTime>,
    attribution: Option<Attribution>,
    /// Present only with a traces URL.
    turns: Option<Turns>,
}

impl std::fmt::Debug for TelemetrySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetrySink")
            .field("session", &self.context.session)
            .finish_non_exhaustive()
    }
}

struct Probe {
    transport: telemetry_otlp::Transport,
    url: String,
    headers: Vec<(String, String)>,
}

impl TelemetrySink {
    /// A sink for the global provider `provider` (from `telemetry_core::init_with`), with the
    /// logs endpoint of `config` probed before retries. `stop` shortens the wait for a
    /// confirmation once set.
    #[must_use]
    pub fn new(
        provider: telemetry_core::Provider,
        config: &telemetry_core::Config,
        pricing: Pricing,
        context: RecordContext,
        stop: Arc<AtomicBool>,
    ) -> Self {
        let recorder = Recorder::new(&provider);
        let agent_output = recorder.settings().agent_output;
        if config.temporality != telemetry_core::config::TemporalityPreference::Cumulative {
            eprintln!(
                "gt agent-log: warning: the token and event counters need cumulative temporality \
                 (the host's counter store) and are not exported with {}={}; the agent.usage \
                 records carry the same numbers",
                telemetry_core::env::OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
                format!("{:?}", config.temporality).to_lowercase()
            );
        }
        let probe = config.logs_url.as_ref().and_then(|url| {
            let transport = telemetry_otlp::Transport::new(config, Duration::from_secs(2)).ok()?;
            Some(Probe {
                transport,
                url: url.clone(),
                headers: config.headers.clone(),
            })
        });
        let turns = provider
            .tracer()
            .is_some()
            .then(|| Turns::new(telemetry_core::trace::process_parent()));
        Self {
            provider,
            recorder,
            pending: AgentTotals::default(),
            counters: AgentTotals::default(),
            skipped: Vec::new(),
            pending_times: Vec::new(),
            pricing,
            context,
            agent_output,
            warned_models: HashSet::new(),
            stop,
            probe,
            retention_cutoff: None,
            attribution: None,
            turns,
        }
    }

    /// Stamps each record with the work context `attribution` gives for the record's time
    /// (without one, records carry the process's work context).
    #[must_use]
    pub fn attribute_by(mut self, attribution: Attribution) -> Self {
        self.attribution = Some(attribution);
        self
    }

    /// Marks records older than `retention` (counted from now) as [`Recorded::stale`]: the
    /// backend is assumed to drop them although it accepts them (VictoriaLogs and
    /// VictoriaMetrics answer 200 for samples outside `-retentionPeriod`).
    #[must_use]
    pub fn assume_retention(mut self, retention: Duration) -> Self {
        self.retention_cutoff = SystemTime::now().checked_sub(retention);
        self
    }

    fn stale(&self, timestamp: SystemTime) -> Option<SystemTime> {
        self.retention_cutoff
            .filter(|cutoff| timestamp < *cutoff)
            .map(|_| timestamp)
    }

    fn record_content(&mut self, agent: AgentKind, c: &ContentEvent, record_id: &str) {
        let event = AgentEvent {
            session: &self.context.session,
            native_session_id: &c.native_session_id,
            agent_type: agent.as_str(),
            event_type: match c.event_type {
                EventType::Text => AgentEventType::Text,
                EventType::ToolUse => AgentEventType::ToolUse,
                EventType::ToolResult => AgentEventType::ToolResult,
                EventType::Thinking => AgentEventType::Thinking,
            },
            role: match c.role {
                Role::Assistant => MessageRole::Assistant,
                Role::User => MessageRole::User,
            },
            content: &c.content,
            record_id,
            timestamp: c.timestamp,
        };
        if self.recorder.agent_event_record(&event) {
            self.pending.add_event(&event);
        }
    }

    /// Records the usage; returns its cost (`None`: its model has no price).
    fn record_usage(&mut self, agent: AgentKind, u: &Usage, record_id: &str) -> Option<f64> {
        let cost = self.pricing.cost_usd(u);
        if cost.is_none() && self.warned_models.insert(u.model.clone()) {
            eprintln!(
                "gt agent-log: warning: no price for model {:?}; its usage is recorded without a \
                 cost (add it with GT_PRICING_FILE)",
                u.model
            );
        }
        let usage = AgentUsage {
            session: &self.context.session,
            native_session_id: &u.native_session_id,
            agent_type: agent.as_str(),
            model: &u.model,
            record_id,
            message_id: &u.message_id,
            request_id: &u.request_id,
            role: &self.context.role,
            rig: &self.context.rig,
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_tokens: u.cache_read_tokens,
            cache_creation_tokens: u.cache_creation_tokens,
            cache_creation_5m_tokens: u.cache_creation_5m_tokens,
            cache_creation_1h_tokens: u.cache_creation_1h_tokens,
            // A model without a price: no cost_usd at all, never a guessed one.
            cost_usd: cost,
            cost_source: if cost.is_some() {
                COST_SOURCE_LOCAL
            } else {
                COST_SOURCE_UNPRICED
            },
            pricing_version: self.pricing.version(),
            timestamp: u.timestamp,
        };
        self.recorder.agent_usage_record(&usage);
        self.pending.add_usage(&usage);
        if cost.is_none() {
            self.pending.add_unpriced(&usage);
        }
        cost
    }

    /// Hands `event` to the turns, with the record's id and work (traces on only).
    fn record_span(
        &mut self,
        agent: AgentKind,
        event: &Event,
        record_id: &str,
        cost: Option<f64>,
        work: Option<&WorkContext>,
    ) {
        let Some(turns) = self.turns.as_mut() else {
            return;
        };
        let process_work;
        let work = match work {
            Some(work) => work,
            None => {
                process_work = telemetry_recorder::work_context();
                &process_work
            }
        };
        let run_id = telemetry_recorder::current_run_id();
        let of = SpanContextOf {
            agent,
            session: &self.context.session,
            run_id: run_id.as_deref(),
            work,
            record_id,
        };
        match event {
            Event::Content(c) => turns.content(&self.recorder, c, of),
            Event::Usage(u) => turns.usage(&self.recorder, u, cost, of),
        }
    }
}

impl Sink for TelemetrySink {
    fn record(&mut self, agent: AgentKind, event: &Event) -> Recorded {
        let run_id = std::mem::take(&mut self.context.run_id);
        let timestamp = match event {
            Event::Content(c) => c.timestamp,
            Event::Usage(u) => u.timestamp,
        };
        let work = self.attribution.as_mut().map(|a| a.at(timestamp).clone());
        let mut record = || match event {
            Event::Content(c) => {
                if !self.agent_output && self.turns.is_none() {
                    return Recorded::default();
                }
                let record_id = agent_transcripts::record_id(agent, event);
                // A tool call's span needs no content: it is made whatever the content gate.
                self.record_span(agent, event, &record_id, None, work.as_ref());
                if !self.agent_output {
                    return Recorded::default();
                }
                self.record_content(agent, c, &record_id);
                Recorded {
                    records: 1,
                    event: true,
                    stale: self.stale(c.timestamp),
                    ..Recorded::default()
                }
            }
            Event::Usage(u) => {
                let record_id = agent_transcripts::record_id(agent, event);
                let cost = self.record_usage(agent, u, &record_id);
                self.record_span(agent, event, &record_id, cost, work.as_ref());
                Recorded {
                    records: 1,
                    usage: true,
                    unpriced: cost.is_none(),
                    stale: self.stale(u.timestamp),
                    ..Recorded::default()
                }
            }
        };
        let recorded = telemetry_recorder::with_run_id(&run_id, || match &work {
            Some(work) => telemetry_recorder::with_work_context(work, record),
            None => record(),
        });
        self.context.run_id = run_id;
        if recorded.records > 0 {
            self.pending_times.push((agent, timestamp));
        }
        recorded
    }

    fn confirm(&mut self) -> bool {
        let confirmed = self.flush_logs();
        let pending = std::mem::take(&mut self.pending);
        let times = std::mem::take(&mut self.pending_times);
        if confirmed {
            self.counters.add(&pending);
            let now = SystemTime::now();
            for (agent, at) in times {
                let lag = now.duration_since(at).map_or(0.0, |d| d.as_secs_f64());
                self.recorder.agent_log_lag(agent.as_str(), lag);
            }
        }
        confirmed
    }

    fn ready(&mut self) -> bool {
        let Some(probe) = &self.probe else {
            return true;
        };
        probe
            .transport
            .probe(&probe.url, &probe.headers)
            .is_ok_and(|seen| seen.accepted())
    }

    fn counters(&self) -> AgentTotals {
        self.counters.clone()
    }

    fn restore_counters(&mut self, counters: AgentTotals) {
        self.counters = counters;
    }

    fn set_skipped_lines(&mut self, skipped: &agent_transcripts::SkipCounts) {
        self.skipped = vec![
            ("ignored_type", skipped.ignored_type),
            ("unknown_shape", skipped.unknown_shape),
            ("invalid_json", skipped.invalid_json),
            ("invalid_utf8", skipped.invalid_utf8),
            ("oversized", skipped.oversized),
            ("partial_lines", skipped.partial_lines),
        ];
    }

    fn publish(&mut self, contributor: &str) {
        if self.skipped.iter().all(|(_, n)| *n == 0) {
            self.recorder
                .publish_agent_totals(contributor, &self.counters);
            return;
        }
        let mut totals = self.counters.clone();
        totals.set_skipped_lines(&self.skipped);
        self.recorder.publish_agent_totals(contributor, &totals);
    }
}

impl TelemetrySink {
    /// Flushes the logs provider: whether the batch recorded since the last flush was
    /// exported within [`CONFIRM_WAIT`] (shorter once a stop was requested).
    fn flush_logs(&mut self) -> bool {
        let (tx, rx) = mpsc::channel();
        let provider = self.provider.clone();
        let spawned = std::thread::Builder::new()
            .name("gt-agent-log-confirm".into())
            .spawn(move || {
                let _ = tx.send(provider.logger_provider().force_flush().is_ok());
            });
        if spawned.is_err() {
            return false;
        }
        let started = Instant::now();
        let mut stopping_since: Option<Instant> = None;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(ok) => return ok,
                Err(mpsc::RecvTimeoutError::Disconnected) => return false,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if started.elapsed() >= CONFIRM_WAIT {
                return false;
            }
            if self.stop.load(Ordering::Relaxed) {
                let since = *stopping_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= CONFIRM_WAIT_WHEN_STOPPING {
                    return false;
                }
            }
        }
    }
}

/// A [`Sink`] for unit tests: records events in memory; confirmations follow a script.
#[cfg(test)]
pub(crate) mod test_support {
    use agent_transcripts::{AgentKind, Event};

    use super::{Recorded, Sink};

    /// Keeps recorded events until confirmed; `fail_next` confirmations fail and drop them.
    #[derive(Default)]
    pub(crate) struct Memory {
        pub(crate) pending: Vec<Event>,
        pub(crate) exported: Vec<Event>,
        pub(crate) fail_next: usize,
    }

    impl Sink for Memory {
        fn record(&mut self, _agent: AgentKind, event: &Event) -> Recorded {
            self.pending.push(event.clone());
            Recorded {
                records: 1,
                usage: matches!(event, Event::Usage(_)),
                event: matches!(event, Event::Content(_)),
                unpriced: false,
                stale: None,
            }
        }
        fn confirm(&mut self) -> bool {
            if self.fail_next > 0 {
                self.fail_next -= 1;
                self.pending.clear();
                return false;
            }
            self.exported.append(&mut self.pending);
            true
        }
        fn ready(&mut self) -> bool {
            true
        }
    }
}
