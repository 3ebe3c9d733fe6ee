//! [`Recorder`]: every instrument, created once, and one typed method per event.
//!
//! Each method adds to the event's instruments with exactly the catalogued metric attributes
//! and emits one log record through the OpenTelemetry Logs API: body = event name, typed
//! attributes, severity from the outcome, then the correlation attributes (`run.id` once,
//! `work_*` when set). Instrument names, units and bodies come from [`crate::catalog`].
//! A `Recorder` never checks whether telemetry is on (it has a provider, so it is); the free
//! `record_*` functions do. It must not read the environment per call, nor touch HTTP.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use opentelemetry::metrics::{Counter, Histogram, Meter, ObservableGauge};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger};
use opentelemetry_sdk::trace::SdkTracer;
use telemetry_core::Provider;

use crate::agent_totals::{AgentCounter, AgentTotals, usage_series};
use crate::catalog::{EventSpec, InstrumentSpec, event, instrument};
use crate::correlation::{current_work, process_run_id, scoped_run_id};
use crate::events::{
    AgentEvent, AgentInstance, AgentStatus, AgentUsage, CrewPhase, DoltHealth, Done, MailMessage,
    MolSquash, Outcome, QuotaThreshold, QuotaWindow, RefineryDispatch, SchedulerCycle,
    WitnessPatrol, instance_name,
};
use crate::settings::{ContentSettings, MAIL_BODY_LIMIT, PROMPT_KEYS_LIMIT};
use crate::spans::{self, ActiveSpan, TimedSpan};
use crate::truncate::{truncate, truncate_lossy};

/// Every Gas Town instrument plus the logger, bound to one [`Provider`].
///
/// Build it once ([`Recorder::new`]) and keep it: creating instruments takes locks in the SDK.
/// Methods never block on export and never fail; data goes to the provider's batch processor
/// and periodic reader.
#[derive(Debug)]
pub struct Recorder {
    provider: Provider,
    logger: SdkLogger,
    settings: ContentSettings,
    fallback_run_id: Option<Arc<str>>,
    hostname: Option<Arc<str>>,
    inst: Instruments,
    roadmap: RoadmapInstruments,
    agent_log_lag: Lazy<Histogram<f64>>,
}

#[derive(Debug)]
struct Instruments {
    bd_calls: Lazy<Counter<u64>>,
    bd_duration: Lazy<Histogram<f64>>,
    session_starts: Lazy<Counter<u64>>,
    session_stops: Lazy<Counter<u64>>,
    prompt_sends: Lazy<Counter<u64>>,
    pane_output: Lazy<Counter<u64>>,
    agent_events: Lazy<Counter<u64>>,
    agent_instantiations: Lazy<Counter<u64>>,
    prime: Lazy<Counter<u64>>,
    agent_state_changes: Lazy<Counter<u64>>,
    polecat_spawns: Lazy<Counter<u64>>,
    polecat_removes: Lazy<Counter<u64>>,
    sling: Lazy<Counter<u64>>,
    mail: Lazy<Counter<u64>>,
    nudge: Lazy<Counter<u64>>,
    done: Lazy<Counter<u64>>,
    daemon_restarts: Lazy<Counter<u64>>,
    formula_instantiations: Lazy<Counter<u64>>,
    convoy_creates: Lazy<Counter<u64>>,
    mol_cooks: Lazy<Counter<u64>>,
    mol_wisps: Lazy<Counter<u64>>,
    mol_squashes: Lazy<Counter<u64>>,
    mol_burns: Lazy<Counter<u64>>,
    bead_creates: Lazy<Counter<u64>>,
    token_usage: Lazy<Counter<u64>>,
    token_cost: Lazy<Counter<f64>>,
}

/// An instrument built on first use: a command registers only the instruments it records
/// (building all 26 up front was a fifth of a one-shot `gt prime`'s instructions).
type Lazy<T> = LazyLock<T, Box<dyn FnOnce() -> T + Send>>;

/// The instrument of `spec`, built by `build` on `meter` the first time it is used.
fn lazy<T: 'static>(
    meter: &Meter,
    spec: &'static InstrumentSpec,
    build: fn(&Meter, &'static InstrumentSpec) -> T,
) -> Lazy<T> {
    let meter = meter.clone();
    LazyLock::new(Box::new(move || build(&meter, spec)))
}

fn u64_counter(meter: &Meter, spec: &'static InstrumentSpec) -> Counter<u64> {
    meter
        .u64_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

fn f64_histogram(meter: &Meter, spec: &'static InstrumentSpec) -> Histogram<f64> {
    meter
        .f64_histogram(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        let c = |spec| lazy(meter, spec, u64_counter);
        let histogram = lazy(meter, &instrument::BD_DURATION_MS, f64_histogram);
        let cost = lazy(meter, &instrument::TOKEN_COST_USD, |m, s| {
            m.f64_counter(s.name)
                .with_unit(s.unit)
                .with_description(s.description)
                .build()
        });
        Self {
            bd_calls: c(&instrument::BD_CALLS_TOTAL),
            bd_duration: histogram,
            session_starts: c(&instrument::SESSION_STARTS_TOTAL),
            session_stops: c(&instrument::SESSION_STOPS_TOTAL),
            prompt_sends: c(&instrument::PROMPT_SENDS_TOTAL),
            pane_output: c(&instrument::PANE_OUTPUT_TOTAL),
            agent_events: c(&instrument::AGENT_EVENTS_TOTAL),
            agent_instantiations: c(&instrument::AGENT_INSTANTIATIONS_TOTAL),
            prime: c(&instrument::PRIME_TOTAL),
            agent_state_changes: c(&instrument::AGENT_STATE_CHANGES_TOTAL),
            polecat_spawns: c(&instrument::POLECAT_SPAWNS_TOTAL),
            polecat_removes: c(&instrument::POLECAT_REMOVES_TOTAL),
            sling: c(&instrument::SLING_DISPATCHES_TOTAL),
            mail: c(&instrument::MAIL_OPERATIONS_TOTAL),
            nudge: c(&instrument::NUDGE_TOTAL),
            done: c(&instrument::DONE_TOTAL),
            daemon_restarts: c(&instrument::DAEMON_AGENT_RESTARTS_TOTAL),
            formula_instantiations: c(&instrument::FORMULA_INSTANTIATIONS_TOTAL),
            convoy_creates: c(&instrument::CONVOY_CREATES_TOTAL),
            mol_cooks: c(&instrument::MOL_COOKS_TOTAL),
            mol_wisps: c(&instrument::MOL_WISPS_TOTAL),
            mol_squashes: c(&instrument::MOL_SQUASHES_TOTAL),
            mol_burns: c(&instrument::MOL_BURNS_TOTAL),
            bead_creates: c(&instrument::BEAD_CREATES_TOTAL),
            token_usage: c(&instrument::TOKEN_USAGE),
            token_cost: cost,
        }
    }
}

/// Whose run id a record carries.
#[derive(Clone, Copy)]
enum RunId<'a> {
    /// The [`crate::with_run_id`] scope, else the recorder's fallback (`GT_RUN`).
    Ambient,
    /// This one (the spawned agent's), or none when empty.
    Explicit(&'a str),
}

/// `status`, `error` and severity of an outcome, always in agreement.
struct Status {
    ok: bool,
    error: StringValue,
}

impl Status {
    fn of(outcome: Outcome<'_>) -> Self {
        match outcome {
            Ok(()) => Self {
                ok: true,
                error: StringValue::from(""),
            },
            Err(err) => Self {
                ok: false,
                error: StringValue::from(err.to_string()),
            },
        }
    }

    fn status(&self) -> &'static str {
        if self.ok { "ok" } else { "error" }
    }

    fn severity(&self) -> Severity {
        if self.ok {
            Severity::Info
        } else {
            Severity::Error
        }
    }

    fn kv(&self) -> KeyValue {
        KeyValue::new("status", self.status())
    }
}

fn string(value: &str) -> AnyValue {
    AnyValue::String(StringValue::from(value.to_owned()))
}

/// Counts above `i64::MAX` (never seen in practice) saturate rather than wrap.
fn int(value: u64) -> AnyValue {
    AnyValue::Int(i64::try_from(value).unwrap_or(i64::MAX))
}

fn label(key: &'static str, value: &str) -> KeyValue {
    KeyValue::new(key, value.to_owned())
}

/// Adds `status` and `error`.
fn put_status(rec: &mut SdkLogRecord, status: &Status) {
    rec.add_attribute(
        "status",
        AnyValue::String(StringValue::from(status.status())),
    );
    rec.add_attribute("error", AnyValue::String(status.error.clone()));
}

impl Recorder {
    /// Creates every instrument on `provider`'s meter, with the process's content settings
    /// (read from the environment once per process), `GT_RUN` and host name.
    #[must_use]
    pub fn new(provider: &Provider) -> Self {
        Self::with_settings(provider, ContentSettings::process())
    }

    /// Like [`Recorder::new`] with explicit content settings (tests, or a caller that parsed
    /// them itself with [`ContentSettings::try_from_lookup`]).
    #[must_use]
    pub fn with_settings(provider: &Provider, settings: ContentSettings) -> Self {
        Self {
            provider: provider.clone(),
            logger: provider.logger().clone(),
            settings,
            fallback_run_id: process_run_id().clone(),
            hostname: process_hostname().clone(),
            inst: Instruments::new(provider.meter()),
            roadmap: RoadmapInstruments::new(provider.meter()),
            agent_log_lag: lazy(
                provider.meter(),
                &instrument::AGENT_LOG_LAG_SECONDS,
                f64_histogram,
            ),
        }
    }

    /// Replaces the run id used outside any [`crate::with_run_id`] scope (by default
    /// `GT_RUN`, read once per process); `None` or `""` means records outside a scope carry
    /// no `run.id`.
    #[must_use]
    pub fn with_fallback_run_id(mut self, run_id: Option<&str>) -> Self {
        self.fallback_run_id = run_id.filter(|r| !r.is_empty()).map(Arc::from);
        self
    }

    /// Replaces the host name used in `agent.instantiate`'s `instance` (by default this
    /// machine's, looked up once per process).
    #[must_use]
    pub fn with_hostname(mut self, hostname: Option<&str>) -> Self {
        self.hostname = hostname.filter(|h| !h.is_empty()).map(Arc::from);
        self
    }

    /// The content settings in force.
    #[must_use]
    pub fn settings(&self) -> &ContentSettings {
        &self.settings
    }

    /// A log record for `spec`: body, event name, severity number and timestamp set.
    ///
    /// The severity text stays unset, as the Go original leaves it: a backend then derives one
    /// name from the number (VictoriaLogs: `Info`, `Error`) instead of splitting one level
    /// between our `INFO` and its own `Info`.
    fn start(&self, spec: &EventSpec, severity: Severity, at: SystemTime) -> SdkLogRecord {
        let mut rec = self.logger.create_log_record();
        rec.set_event_name(spec.name);
        rec.set_body(AnyValue::String(StringValue::from(spec.name)));
        rec.set_severity_number(severity);
        rec.set_timestamp(at);
        rec
    }

    /// Adds the correlation attributes (`run.id` exactly once, `work_*` when set) and emits.
    fn emit(&self, mut rec: SdkLogRecord, run: RunId<'_>) {
        let run_id = match run {
            RunId::Ambient => scoped_run_id().or_else(|| self.fallback_run_id.clone()),
            RunId::Explicit(id) if !id.is_empty() => Some(Arc::from(id)),
            RunId::Explicit(_) => None,
        };
        if let Some(id) = &run_id {
            rec.add_attribute(
                "run.id",
                AnyValue::String(StringValue::from(Arc::clone(id))),
            );
        }
        let work = current_work();
        for (key, value) in [
            ("work_rig", &work.rig),
            ("work_bead", &work.bead),
            ("work_mol", &work.mol),
        ] {
            if let Some(value) = value {
                rec.add_attribute(key, AnyValue::String(StringValue::from(Arc::clone(value))));
            }
        }
        match self.provider.tracer() {
            Some(tracer) if !is_transcript_event(&rec) => {
                self.emit_in_span(tracer, rec, run_id.as_deref());
            }
            _ => self.logger.emit(rec),
        }
    }

    /// Emits `rec` inside the current span (which takes its attributes and status), or inside
    /// an instantaneous span of its own (see [`crate::spans`]).
    fn emit_in_span(&self, tracer: &SdkTracer, rec: SdkLogRecord, run_id: Option<&str>) {
        let attributes: Vec<KeyValue> = rec
            .attributes_iter()
            .filter_map(|(k, v)| Some(KeyValue::new(k.clone(), spans::span_value(v)?)))
            .collect();
        let error = rec
            .severity_number()
            .filter(|s| *s >= Severity::Error)
            .map(|_| {
                rec.attributes_iter()
                    .find(|(k, _)| k.as_str() == "error")
                    .map_or_else(String::new, |(_, v)| match v {
                        AnyValue::String(s) => s.to_string(),
                        _ => String::new(),
                    })
            });
        let current = opentelemetry::Context::current();
        if current.has_active_span() {
            spans::annotate(&current, attributes, error);
            self.logger.emit(rec);
            return;
        }
        let name = rec.event_name().unwrap_or(telemetry_core::SCOPE_NAME);
        let span = ActiveSpan::start(tracer, name, run_id);
        spans::annotate(span.context(), attributes, error);
        {
            let _inside = span.attach();
            self.logger.emit(rec);
        }
        span.end();
    }

    /// Starts a span named `name` for work whose events and children belong to it (a bd call,
    /// a prime): attach it while the work runs, end it after. `None` without a traces URL.
    #[must_use]
    pub fn start_span(&self, name: &'static str) -> Option<ActiveSpan> {
        let tracer = self.provider.tracer()?;
        let run_id = scoped_run_id().or_else(|| self.fallback_run_id.clone());
        Some(ActiveSpan::start(tracer, name, run_id.as_deref()))
    }

    /// Makes `span` at once, with its own times, as a child of `parent` (a root when `parent`
    /// holds no span: its trace id is [`TimedSpan::root_trace_id`], else the run id's UUID);
    /// the context holding it, for children. `None` (and nothing made) without a traces URL.
    pub fn record_timed_span(
        &self,
        parent: &opentelemetry::Context,
        mut span: TimedSpan,
    ) -> Option<opentelemetry::Context> {
        let tracer = self.provider.tracer()?;
        if span.root_trace_id.is_none() {
            span.root_trace_id = scoped_run_id()
                .or_else(|| self.fallback_run_id.clone())
                .and_then(|run| telemetry_core::trace::trace_id_of_run(&run));
        }
        Some(span.record(tracer, parent))
    }

    /// The common shape: string `fields`, then `status`/`error`; counter +1 with `status`
    /// followed by `labels`.
    fn outcome_event(
        &self,
        spec: &EventSpec,
        counter: &Counter<u64>,
        fields: &[(&'static str, &str)],
        labels: &[(&'static str, &str)],
        outcome: Outcome<'_>,
    ) {
        let status = Status::of(outcome);
        let mut kv = Vec::with_capacity(1 + labels.len());
        kv.push(status.kv());
        kv.extend(labels.iter().map(|(k, v)| label(k, v)));
        counter.add(1, &kv);
        let mut rec = self.start(spec, status.severity(), SystemTime::now());
        for (key, value) in fields {
            rec.add_attribute(*key, string(value));
        }
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `bd.call`: one `bd` invocation. `args` with secret values redacted
    /// ([`crate::redact_args`]); `stdout`/`stderr` (lossy UTF-8, truncated to
    /// `GT_LOG_BD_CONTENT_LIMIT`) only with `GT_LOG_BD_OUTPUT=true`.
    pub fn bd_call(
        &self,
        args: &[&str],
        duration: Duration,
        outcome: Outcome<'_>,
        stdout: &[u8],
        stderr: &[u8],
    ) {
        let status = Status::of(outcome);
        let subcommand = args.first().copied().unwrap_or_default();
        let duration_ms = duration.as_secs_f64() * 1000.0;
        let kv = [status.kv(), label("subcommand", subcommand)];
        self.inst.bd_calls.add(1, &kv);
        self.inst.bd_duration.record(duration_ms, &kv);

        let mut rec = self.start(&event::BD_CALL, status.severity(), SystemTime::now());
        rec.add_attribute("subcommand", string(subcommand));
        rec.add_attribute(
            "args",
            AnyValue::String(StringValue::from(crate::redact::redact_args(args))),
        );
        rec.add_attribute("duration_ms", AnyValue::Double(duration_ms));
        put_status(&mut rec, &status);
        if self.settings.bd_output {
            let limit = self.settings.bd_content_limit;
            for (key, bytes) in [("stdout", stdout), ("stderr", stderr)] {
                let text = truncate_lossy(bytes, limit).into_owned();
                rec.add_attribute(key, AnyValue::String(StringValue::from(text)));
            }
        }
        self.emit(rec, RunId::Ambient);
    }

    /// `session.start`: an agent session was started (or failed to start).
    pub fn session_start(&self, session_id: &str, role: &str, outcome: Outcome<'_>) {
        self.outcome_event(
            &event::SESSION_START,
            &self.inst.session_starts,
            &[("session_id", session_id), ("role", role)],
            &[("role", role)],
            outcome,
        );
    }

    /// `session.stop`: an agent session was stopped.
    pub fn session_stop(&self, session_id: &str, outcome: Outcome<'_>) {
        self.outcome_event(
            &event::SESSION_STOP,
            &self.inst.session_stops,
            &[("session_id", session_id)],
            &[],
            outcome,
        );
    }

    /// `prompt.send`: keys sent to an agent pane. `keys_len` is always recorded; the keys
    /// themselves (truncated to 256 bytes) only with `GT_LOG_PROMPT_KEYS=true`.
    pub fn prompt_send(&self, session: &str, keys: &str, debounce: Duration, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        self.inst.prompt_sends.add(1, &[status.kv()]);
        let mut rec = self.start(&event::PROMPT_SEND, status.severity(), SystemTime::now());
        rec.add_attribute("session", string(session));
        rec.add_attribute("keys_len", int(keys.len() as u64));
        rec.add_attribute(
            "debounce_ms",
            int(u64::try_from(debounce.as_millis()).unwrap_or(u64::MAX)),
        );
        put_status(&mut rec, &status);
        if self.settings.prompt_keys {
            rec.add_attribute("keys", string(&truncate(keys, PROMPT_KEYS_LIMIT)));
        }
        self.emit(rec, RunId::Ambient);
    }

    /// `agent.instantiate` (INFO): an agent was spawned. Its `run.id` is `agent.run_id`, the
    /// spawned agent's, never the current scope's.
    pub fn agent_instantiate(&self, agent: &AgentInstance<'_>) {
        self.inst.agent_instantiations.add(
            1,
            &[
                label("agent_type", agent.agent_type),
                label("role", agent.role),
                label("rig", agent.rig),
            ],
        );
        let mut rec = self.start(&event::AGENT_INSTANTIATE, Severity::Info, SystemTime::now());
        let instance = instance_name(self.hostname.as_deref(), agent.town_root);
        rec.add_attribute("instance", AnyValue::String(StringValue::from(instance)));
        for (key, value) in [
            ("town_root", agent.town_root),
            ("agent_type", agent.agent_type),
            ("role", agent.role),
            ("agent_name", agent.agent_name),
            ("session_id", agent.session_id),
            ("rig", agent.rig),
            ("issue_id", agent.issue_id),
            ("git_branch", agent.git_branch),
            ("git_commit", agent.git_commit),
        ] {
            rec.add_attribute(key, string(value));
        }
        self.emit(rec, RunId::Explicit(agent.run_id));
    }

    /// `mail`: a mail operation (`send`, `read`, …), with the message it handled if any.
    /// `msg.body` (truncated to 256 bytes) only with `GT_LOG_MAIL_BODY=true`.
    pub fn mail(&self, operation: &str, message: Option<&MailMessage<'_>>, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        self.inst
            .mail
            .add(1, &[status.kv(), label("operation", operation)]);
        let mut rec = self.start(&event::MAIL, status.severity(), SystemTime::now());
        rec.add_attribute("operation", string(operation));
        put_status(&mut rec, &status);
        if let Some(msg) = message {
            rec.add_attribute("msg.id", string(msg.id));
            rec.add_attribute("msg.from", string(msg.from));
            rec.add_attribute(
                "msg.to",
                AnyValue::String(StringValue::from(msg.to.join(","))),
            );
            rec.add_attribute("msg.subject", string(msg.subject));
            rec.add_attribute("msg.thread_id", string(msg.thread_id));
            rec.add_attribute("msg.priority", string(msg.priority));
            rec.add_attribute("msg.type", string(msg.kind));
            if self.settings.mail_body {
                rec.add_attribute("msg.body", string(&truncate(msg.body, MAIL_BODY_LIMIT)));
            }
        }
        self.emit(rec, RunId::Ambient);
    }

    /// `prime`: `gt prime` ran. Its `work_rig`/`work_bead`/`work_mol` are the current work
    /// context's, recorded once each (omitted when empty).
    pub fn prime(&self, role: &str, hook_mode: bool, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        self.inst.prime.add(
            1,
            &[
                status.kv(),
                label("role", role),
                KeyValue::new("hook_mode", hook_mode),
            ],
        );
        let mut rec = self.start(&event::PRIME, status.severity(), SystemTime::now());
        rec.add_attribute("role", string(role));
        rec.add_attribute("hook_mode", AnyValue::Boolean(hook_mode));
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `prime.context` (INFO): the full rendered formula. Only with
    /// `GT_LOG_PRIME_CONTEXT=true` and a non-empty `formula`; otherwise nothing happens.
    pub fn prime_context(&self, role: &str, hook_mode: bool, formula: &str) {
        if !self.settings.prime_context || formula.is_empty() {
            return;
        }
        let mut rec = self.start(&event::PRIME_CONTEXT, Severity::Info, SystemTime::now());
        rec.add_attribute("role", string(role));
        rec.add_attribute("hook_mode", AnyValue::Boolean(hook_mode));
        rec.add_attribute("formula", string(formula));
        self.emit(rec, RunId::Ambient);
    }

    /// `agent.state_change`: an agent moved to `new_state`; `hook_bead` is recorded as `""`
    /// when `None`.
    pub fn agent_state_change(
        &self,
        agent_id: &str,
        new_state: &str,
        hook_bead: Option<&str>,
        outcome: Outcome<'_>,
    ) {
        self.outcome_event(
            &event::AGENT_STATE_CHANGE,
            &self.inst.agent_state_changes,
            &[
                ("agent_id", agent_id),
                ("new_state", new_state),
                ("hook_bead", hook_bead.unwrap_or_default()),
            ],
            &[("new_state", new_state)],
            outcome,
        );
    }

    /// `polecat.spawn`: a polecat named `name` was spawned.
    pub fn polecat_spawn(&self, name: &str, outcome: Outcome<'_>) {
        self.outcome_event(
            &event::POLECAT_SPAWN,
            &self.inst.polecat_spawns,
            &[("name", name)],
            &[],
            outcome,
        );
    }

    /// `polecat.remove`: a polecat named `name` was removed.
    pub fn polecat_remove(&self, name: &str, outcome: Outcome<'_>) {
        self.outcome_event(
            &event::POLECAT_REMOVE,
            &self.inst.polecat_removes,
            &[("name", name)],
            &[],
            outcome,
        );
    }

    /// `sling`: `bead` was slung to `target`.
    pub fn sling(&self, bead: &str, target: &str, outcome: Outcome<'_>) {
        self.outcome_event(
            &event::SLING,
            &self.inst.sling,
            &[("bead", bead), ("target", target)],
            &[],
            outcome,
        );
    }

    /// `nudge`: `target` was nudged.
    pub fn nudge(&self, target: &str, outcome: Outcome<'_>) {
        self.outcome_event(
            &event::NUDGE,
            &self.inst.nudge,
            &[("target", target)],
            &[],
            outcome,
        );
    }

    /// `done`: `gt done` finished with `done.exit_type`, for `done.rig`/`done.bead_id` (each
    /// omitted when empty), `done.time_to_complete_ms` after the bead became current (omitted
    /// when unknown). The counter is labelled with `exit_type` only (a bead is unbounded).
    pub fn done(&self, done: &Done<'_>, outcome: Outcome<'_>) {
        let exit = done.exit_type.as_str();
        let status = Status::of(outcome);
        self.inst
            .done
            .add(1, &[status.kv(), label("exit_type", exit)]);
        let mut rec = self.start(&event::DONE, status.severity(), SystemTime::now());
        rec.add_attribute("exit_type", string(exit));
        for (key, value) in [("rig", done.rig), ("bead_id", done.bead_id)] {
            if !value.is_empty() {
                rec.add_attribute(key, string(value));
            }
        }
        if let Some(ms) = done.time_to_complete_ms {
            rec.add_attribute("time_to_complete_ms", int(ms));
        }
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `daemon.restart` (INFO): the daemon restarted an agent of `agent_type`.
    pub fn daemon_restart(&self, agent_type: &str) {
        self.inst
            .daemon_restarts
            .add(1, &[label("agent_type", agent_type)]);
        let mut rec = self.start(&event::DAEMON_RESTART, Severity::Info, SystemTime::now());
        rec.add_attribute("agent_type", string(agent_type));
        self.emit(rec, RunId::Ambient);
    }

    /// `formula.instantiate`: formula `formula_name` was instantiated as `bead_id`.
    pub fn formula_instantiate(&self, formula_name: &str, bead_id: &str, outcome: Outcome<'_>) {
        self.outcome_event(
            &event::FORMULA_INSTANTIATE,
            &self.inst.formula_instantiations,
            &[("formula_name", formula_name), ("bead_id", bead_id)],
            &[("formula", formula_name)],
            outcome,
        );
    }

    /// `convoy.create`: convoy `bead_id` was created.
    pub fn convoy_create(&self, bead_id: &str, outcome: Outcome<'_>) {
        self.outcome_event(
            &event::CONVOY_CREATE,
            &self.inst.convoy_creates,
            &[("bead_id", bead_id)],
            &[],
            outcome,
        );
    }

    /// `mol.cook`: formula `formula_name` was cooked into a molecule.
    pub fn mol_cook(&self, formula_name: &str, outcome: Outcome<'_>) {
        self.outcome_event(
            &event::MOL_COOK,
            &self.inst.mol_cooks,
            &[("formula_name", formula_name)],
            &[("formula", formula_name)],
            outcome,
        );
    }

    /// `mol.wisp`: a wisp rooted at `wisp_root_id` was made from `formula_name` for `bead_id`.
    pub fn mol_wisp(
        &self,
        formula_name: &str,
        wisp_root_id: &str,
        bead_id: &str,
        outcome: Outcome<'_>,
    ) {
        self.outcome_event(
            &event::MOL_WISP,
            &self.inst.mol_wisps,
            &[
                ("formula_name", formula_name),
                ("wisp_root_id", wisp_root_id),
                ("bead_id", bead_id),
            ],
            &[("formula", formula_name)],
            outcome,
        );
    }

    /// `mol.squash`: a molecule was squashed.
    pub fn mol_squash(&self, squash: &MolSquash<'_>, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        self.inst.mol_squashes.add(1, &[status.kv()]);
        let mut rec = self.start(&event::MOL_SQUASH, status.severity(), SystemTime::now());
        rec.add_attribute("mol_id", string(squash.mol_id));
        rec.add_attribute("done_steps", int(squash.done_steps));
        rec.add_attribute("total_steps", int(squash.total_steps));
        rec.add_attribute("digest_created", AnyValue::Boolean(squash.digest_created));
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `mol.burn`: a molecule was burned, closing `children_closed` children.
    pub fn mol_burn(&self, mol_id: &str, children_closed: u64, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        self.inst.mol_burns.add(1, &[status.kv()]);
        let mut rec = self.start(&event::MOL_BURN, status.severity(), SystemTime::now());
        rec.add_attribute("mol_id", string(mol_id));
        rec.add_attribute("children_closed", int(children_closed));
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `bead.create` (INFO): bead `bead_id` was created under `parent_id` from `mol_source`.
    pub fn bead_create(&self, bead_id: &str, parent_id: &str, mol_source: &str) {
        self.inst
            .bead_creates
            .add(1, &[label("mol_source", mol_source)]);
        let mut rec = self.start(&event::BEAD_CREATE, Severity::Info, SystemTime::now());
        rec.add_attribute("bead_id", string(bead_id));
        rec.add_attribute("parent_id", string(parent_id));
        rec.add_attribute("mol_source", string(mol_source));
        self.emit(rec, RunId::Ambient);
    }

    /// `pane.output` (INFO): raw tmux pane output, truncated to `GT_LOG_PANE_CONTENT_LIMIT`.
    /// Only with `GT_LOG_PANE_OUTPUT=true`; otherwise nothing happens (no counter either).
    pub fn pane_output(&self, session: &str, content: &str) {
        if !self.settings.pane_output {
            return;
        }
        self.inst.pane_output.add(1, &[label("session", session)]);
        let mut rec = self.start(&event::PANE_OUTPUT, Severity::Info, SystemTime::now());
        rec.add_attribute("session", string(session));
        rec.add_attribute(
            "content",
            string(&truncate(content, self.settings.pane_content_limit)),
        );
        self.emit(rec, RunId::Ambient);
    }

    /// `agent.event` (INFO): one conversation event, timestamped with the transcript's time,
    /// content truncated to `GT_LOG_AGENT_CONTENT_LIMIT`, counted on
    /// `gastown.agent.events.total`. Only with `GT_LOG_AGENT_OUTPUT=true`; otherwise nothing
    /// happens (no counter either).
    pub fn agent_event(&self, ev: &AgentEvent<'_>) {
        if self.agent_event_record(ev) {
            self.inst.agent_events.add(
                1,
                &[
                    label("session", ev.session),
                    KeyValue::new("event_type", ev.event_type.as_str()),
                    KeyValue::new("role", ev.role.as_str()),
                ],
            );
        }
    }

    /// The log record of [`Recorder::agent_event`] without the counter, for a caller that
    /// keeps the counters in its own durable state ([`AgentTotals::add_event`], published with
    /// [`Recorder::publish_agent_totals`]). Returns whether a record was made (only with
    /// `GT_LOG_AGENT_OUTPUT=true`).
    pub fn agent_event_record(&self, ev: &AgentEvent<'_>) -> bool {
        if !self.settings.agent_output {
            return false;
        }
        let mut rec = self.start(&event::AGENT_EVENT, Severity::Info, ev.timestamp);
        rec.add_attribute("session", string(ev.session));
        rec.add_attribute("agent_type", string(ev.agent_type));
        rec.add_attribute(
            "event_type",
            AnyValue::String(StringValue::from(ev.event_type.as_str())),
        );
        rec.add_attribute(
            "role",
            AnyValue::String(StringValue::from(ev.role.as_str())),
        );
        rec.add_attribute(
            "content",
            string(&truncate(ev.content, self.settings.agent_content_limit)),
        );
        rec.add_attribute("native_session_id", string(ev.native_session_id));
        rec.add_attribute("record.id", string(ev.record_id));
        self.emit(rec, RunId::Ambient);
        true
    }

    /// `agent.usage` (INFO): one token usage report, timestamped with the transcript's time.
    /// Also counts `gastown.agent.events.total` (`event_type` `usage`), the four token types
    /// on `gastown.token.usage` and the cost on `gastown.token.cost_usd` (the label sets of
    /// [`AgentTotals::add_usage`]).
    pub fn agent_usage(&self, usage: &AgentUsage<'_>) {
        for (counter, labels, amount) in usage_series(usage) {
            let attrs: Vec<KeyValue> = labels
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v))
                .collect();
            match counter {
                AgentCounter::Events => self.inst.agent_events.add(amount.count, &attrs),
                AgentCounter::Tokens => self.inst.token_usage.add(amount.count, &attrs),
                AgentCounter::CostUsd => self.inst.token_cost.add(amount.usd, &attrs),
                // agent-log's own totals, never among a usage's series.
                AgentCounter::SkippedLines
                | AgentCounter::UnpricedUsages
                | AgentCounter::UnpricedTokens => {}
            }
        }
        self.agent_usage_record(usage);
    }

    /// The log record of [`Recorder::agent_usage`] without the counters, for a caller that
    /// keeps them in its own durable state ([`AgentTotals::add_usage`], published with
    /// [`Recorder::publish_agent_totals`]).
    pub fn agent_usage_record(&self, usage: &AgentUsage<'_>) {
        let cost = usage.cost_usd.filter(|c| c.is_finite());
        let mut rec = self.start(&event::AGENT_USAGE, Severity::Info, usage.timestamp);
        rec.add_attribute("session", string(usage.session));
        rec.add_attribute("native_session_id", string(usage.native_session_id));
        rec.add_attribute("record.id", string(usage.record_id));
        for (key, value) in [
            ("message_id", usage.message_id),
            ("request_id", usage.request_id),
        ] {
            if !value.is_empty() {
                rec.add_attribute(key, string(value));
            }
        }
        rec.add_attribute("input_tokens", int(usage.input_tokens));
        rec.add_attribute("output_tokens", int(usage.output_tokens));
        rec.add_attribute("cache_read_tokens", int(usage.cache_read_tokens));
        rec.add_attribute("cache_creation_tokens", int(usage.cache_creation_tokens));
        rec.add_attribute("model", string(usage.model));
        if let Some(cost) = cost {
            rec.add_attribute("cost_usd", AnyValue::Double(cost));
        }
        if let Some(tokens) = usage.cache_creation_5m_tokens {
            rec.add_attribute("cache_creation_5m_tokens", int(tokens));
        }
        if let Some(tokens) = usage.cache_creation_1h_tokens {
            rec.add_attribute("cache_creation_1h_tokens", int(tokens));
        }
        for (key, value) in [
            ("cost_source", usage.cost_source),
            ("pricing_version", usage.pricing_version),
        ] {
            if !value.is_empty() {
                rec.add_attribute(key, string(value));
            }
        }
        self.emit(rec, RunId::Ambient);
    }

    /// Publishes `totals` whole as `contributor`'s agent counters: the host's counter store adds
    /// what they grew by since `contributor` last published (see
    /// [`telemetry_core::published`]), so publishing again, or after a restart, counts nothing
    /// twice. `contributor` must stay the same for as long as `totals` keep growing from the
    /// same start (agent-log uses its checkpoint's id).
    pub fn publish_agent_totals(&self, contributor: &str, totals: &AgentTotals) {
        self.provider.publish(contributor, totals.points());
    }

    /// Records `seconds` from a transcript record's timestamp to its confirmed export by
    /// agent-log (`gastown.agent_log.lag_seconds`); a negative or non-finite lag (a clock
    /// ahead of this host's) is recorded as 0.
    pub fn agent_log_lag(&self, agent_type: &str, seconds: f64) {
        let seconds = if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            0.0
        };
        self.agent_log_lag.record(
            seconds,
            &[KeyValue::new("agent_type", agent_type.to_owned())],
        );
    }
}

/// The latest value per attribute set of one observable gauge, reported at every collection.
///
/// At most [`telemetry_core::CARDINALITY_LIMIT`] attribute sets are kept: a new set past the
/// limit is dropped (memory stays bounded in a long-running probe).
struct Gauge {
    values: Arc<Mutex<GaugeValues>>,
    _handle: ObservableGauge<f64>,
}

type GaugeValues = BTreeMap<Vec<(&'static str, String)>, f64>;

impl std::fmt::Debug for Gauge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gauge").finish_non_exhaustive()
    }
}

impl Gauge {
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self {
        let values: Arc<Mutex<GaugeValues>> = Arc::default();
        let observed = Arc::clone(&values);
        let handle = meter
            .f64_observable_gauge(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_callback(move |observer| {
                let values = observed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (labels, value) in values.iter() {
                    let kv: Vec<KeyValue> = labels
                        .iter()
                        .map(|(k, v)| KeyValue::new(*k, v.clone()))
                        .collect();
                    observer.observe(*value, &kv);
                }
            })
            .build();
        Self {
            values,
            _handle: handle,
        }
    }

    fn set(&self, value: f64, labels: &[(&'static str, &str)]) {
        let key: Vec<(&'static str, String)> =
            labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let mut values = self
            .values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if values.len() < telemetry_core::CARDINALITY_LIMIT || values.contains_key(&key) {
            values.insert(key, value);
        }
    }
}

/// The instruments of the roadmap events (refinery, scheduler, witness, deacon, crew, git,
/// Dolt, pane reads), built on first use like [`Instruments`].
#[derive(Debug)]
struct RoadmapInstruments {
    pane_reads: Lazy<Counter<u64>>,
    refinery_dispatches: Lazy<Counter<u64>>,
    refinery_queue_depth: Lazy<Gauge>,
    refinery_oldest_age: Lazy<Gauge>,
    refinery_item_age: Lazy<Histogram<f64>>,
    refinery_dispatch_latency: Lazy<Histogram<f64>>,
    scheduler_dispatches: Lazy<Counter<u64>>,
    scheduler_queue_depth: Lazy<Histogram<f64>>,
    scheduler_capacity: Lazy<Gauge>,
    witness_patrols: Lazy<Counter<u64>>,
    witness_duration: Lazy<Histogram<f64>>,
    deacon_transitions: Lazy<Counter<u64>>,
    crew_cycles: Lazy<Counter<u64>>,
    git_duration: Lazy<Histogram<f64>>,
    dolt_connections: Lazy<Gauge>,
    dolt_max_connections: Lazy<Gauge>,
    dolt_healthy: Lazy<Gauge>,
    dolt_latency: Lazy<Gauge>,
    dolt_query_duration: Lazy<Histogram<f64>>,
    dolt_replication_lag: Lazy<Gauge>,
    agent_context_used: Lazy<Gauge>,
    agent_quota_used: Lazy<Gauge>,
    agent_quota_crossings: Lazy<Counter<u64>>,
}

impl RoadmapInstruments {
    fn new(meter: &Meter) -> Self {
        let c = |spec| lazy(meter, spec, u64_counter);
        let h = |spec| lazy(meter, spec, f64_histogram);
        let g = |spec| lazy(meter, spec, Gauge::build);
        Self {
            pane_reads: c(&instrument::PANE_READS_TOTAL),
            refinery_dispatches: c(&instrument::REFINERY_DISPATCHES_TOTAL),
            refinery_queue_depth: g(&instrument::REFINERY_QUEUE_DEPTH),
            refinery_oldest_age: g(&instrument::REFINERY_OLDEST_ITEM_AGE_MS),
            refinery_item_age: h(&instrument::REFINERY_ITEM_AGE_MS),
            refinery_dispatch_latency: h(&instrument::REFINERY_DISPATCH_LATENCY_MS),
            scheduler_dispatches: c(&instrument::SCHEDULER_DISPATCHES_TOTAL),
            scheduler_queue_depth: h(&instrument::SCHEDULER_QUEUE_DEPTH),
            scheduler_capacity: g(&instrument::SCHEDULER_CAPACITY_USAGE),
            witness_patrols: c(&instrument::WITNESS_PATROLS_TOTAL),
            witness_duration: h(&instrument::WITNESS_PATROL_DURATION_MS),
            deacon_transitions: c(&instrument::DEACON_WATCHDOG_TRANSITIONS_TOTAL),
            crew_cycles: c(&instrument::CREW_CYCLES_TOTAL),
            git_duration: h(&instrument::GIT_DURATION_MS),
            dolt_connections: g(&instrument::DOLT_CONNECTIONS),
            dolt_max_connections: g(&instrument::DOLT_MAX_CONNECTIONS),
            dolt_healthy: g(&instrument::DOLT_HEALTHY),
            dolt_latency: g(&instrument::DOLT_QUERY_LATENCY_MS),
            dolt_query_duration: h(&instrument::DOLT_QUERY_DURATION_MS),
            dolt_replication_lag: g(&instrument::DOLT_REPLICATION_LAG_MS),
            agent_context_used: g(&instrument::AGENT_CONTEXT_USED_PERCENT),
            agent_quota_used: g(&instrument::AGENT_QUOTA_USED_PERCENT),
            agent_quota_crossings: c(&instrument::AGENT_QUOTA_THRESHOLD_CROSSINGS_TOTAL),
        }
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn whole_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The roadmap events.
impl Recorder {
    /// `pane.read`: one tmux capture-pane call on `session` asking for `lines_requested`
    /// lines, which returned `content_len` bytes.
    pub fn pane_read(
        &self,
        session: &str,
        lines_requested: u64,
        content_len: u64,
        outcome: Outcome<'_>,
    ) {
        let status = Status::of(outcome);
        self.roadmap.pane_reads.add(1, &[status.kv()]);
        let mut rec = self.start(&event::PANE_READ, status.severity(), SystemTime::now());
        rec.add_attribute("session", string(session));
        rec.add_attribute("lines_requested", int(lines_requested));
        rec.add_attribute("content_len", int(content_len));
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `refinery.dispatch`: counted by status and rig; the wait goes to
    /// `gastown.refinery.item_age_ms`, the dispatch's duration to
    /// `gastown.refinery.dispatch_latency_ms`, the remaining depth to the queue gauge.
    pub fn refinery_dispatch(&self, d: &RefineryDispatch<'_>, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        let kv = [status.kv(), label("rig", d.rig)];
        let r = &self.roadmap;
        r.refinery_dispatches.add(1, &kv);
        r.refinery_dispatch_latency.record(millis(d.duration), &kv);
        r.refinery_item_age
            .record(millis(d.wait), &[label("rig", d.rig)]);
        #[allow(clippy::cast_precision_loss)] // A queue depth is far below 2^52.
        r.refinery_queue_depth
            .set(d.queue_depth as f64, &[("rig", d.rig)]);
        let mut rec = self.start(
            &event::REFINERY_DISPATCH,
            status.severity(),
            SystemTime::now(),
        );
        rec.add_attribute("rig", string(d.rig));
        rec.add_attribute("bead_id", string(d.bead_id));
        rec.add_attribute("queue_depth", int(d.queue_depth));
        rec.add_attribute("wait_ms", int(whole_millis(d.wait)));
        rec.add_attribute("duration_ms", AnyValue::Double(millis(d.duration)));
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `refinery.queue` (INFO): one sample of `rig`'s merge queue: its depth and the age of its
    /// oldest item (`None`, recorded as 0, when the queue is empty). Sets both gauges.
    pub fn refinery_queue(&self, rig: &str, queue_depth: u64, oldest_age: Option<Duration>) {
        let oldest = oldest_age.unwrap_or_default();
        #[allow(clippy::cast_precision_loss)] // A queue depth is far below 2^52.
        self.roadmap
            .refinery_queue_depth
            .set(queue_depth as f64, &[("rig", rig)]);
        self.roadmap
            .refinery_oldest_age
            .set(millis(oldest), &[("rig", rig)]);
        let mut rec = self.start(&event::REFINERY_QUEUE, Severity::Info, SystemTime::now());
        rec.add_attribute("rig", string(rig));
        rec.add_attribute("queue_depth", int(queue_depth));
        rec.add_attribute("oldest_age_ms", int(whole_millis(oldest)));
        self.emit(rec, RunId::Ambient);
    }

    /// `scheduler.dispatch_cycle`: one cycle; adds its counts to
    /// `gastown.scheduler.dispatches.total` by `outcome`, its queue depth to the histogram and
    /// sets the capacity gauge.
    pub fn scheduler_dispatch_cycle(&self, cycle: &SchedulerCycle, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        let r = &self.roadmap;
        for (name, count) in [
            ("dispatched", cycle.dispatched),
            ("failed", cycle.failed),
            ("skipped", cycle.skipped),
        ] {
            r.scheduler_dispatches
                .add(count, &[KeyValue::new("outcome", name)]);
        }
        #[allow(clippy::cast_precision_loss)] // A queue depth is far below 2^52.
        r.scheduler_queue_depth
            .record(cycle.queue_depth as f64, &[]);
        let usage = if cycle.capacity_usage.is_nan() {
            0.0
        } else {
            cycle.capacity_usage.clamp(0.0, 1.0)
        };
        r.scheduler_capacity.set(usage, &[]);
        let mut rec = self.start(
            &event::SCHEDULER_DISPATCH_CYCLE,
            status.severity(),
            SystemTime::now(),
        );
        rec.add_attribute("dispatched", int(cycle.dispatched));
        rec.add_attribute("failed", int(cycle.failed));
        rec.add_attribute("skipped", int(cycle.skipped));
        rec.add_attribute("queue_depth", int(cycle.queue_depth));
        rec.add_attribute("capacity_usage", AnyValue::Double(usage));
        rec.add_attribute("duration_ms", AnyValue::Double(millis(cycle.duration)));
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `witness.patrol`: one patrol, counted and timed by status and rig.
    pub fn witness_patrol(&self, patrol: &WitnessPatrol<'_>, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        let kv = [status.kv(), label("rig", patrol.rig)];
        self.roadmap.witness_patrols.add(1, &kv);
        self.roadmap
            .witness_duration
            .record(millis(patrol.duration), &kv);
        let mut rec = self.start(&event::WITNESS_PATROL, status.severity(), SystemTime::now());
        rec.add_attribute("rig", string(patrol.rig));
        rec.add_attribute("duration_ms", AnyValue::Double(millis(patrol.duration)));
        rec.add_attribute("stale_count", int(patrol.stale_count));
        rec.add_attribute("restart_count", int(patrol.restart_count));
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `deacon.transition` (INFO): the deacon's watchdog went from `from_state` to
    /// `to_state` (`reason` may be empty).
    pub fn deacon_transition(&self, from_state: &str, to_state: &str, reason: &str) {
        self.roadmap.deacon_transitions.add(
            1,
            &[label("from_state", from_state), label("to_state", to_state)],
        );
        let mut rec = self.start(&event::DEACON_TRANSITION, Severity::Info, SystemTime::now());
        rec.add_attribute("from_state", string(from_state));
        rec.add_attribute("to_state", string(to_state));
        rec.add_attribute("reason", string(reason));
        self.emit(rec, RunId::Ambient);
    }

    /// `crew.cycle`: crew member `crew` (of `rig`, may be empty) reached `phase`.
    pub fn crew_cycle(&self, crew: &str, rig: &str, phase: CrewPhase, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        self.roadmap
            .crew_cycles
            .add(1, &[KeyValue::new("phase", phase.as_str()), status.kv()]);
        let mut rec = self.start(&event::CREW_CYCLE, status.severity(), SystemTime::now());
        rec.add_attribute("crew", string(crew));
        rec.add_attribute("rig", string(rig));
        rec.add_attribute("phase", AnyValue::String(StringValue::from(phase.as_str())));
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `git.operation`: git `op` (`clone`, `fetch`, …) ran in `repo` (a path or URL; only its
    /// basename is recorded) for `duration`, timed on `gastown.git.duration_ms` by op and
    /// status.
    pub fn git_operation(&self, op: &str, repo: &str, duration: Duration, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        let ms = millis(duration);
        self.roadmap
            .git_duration
            .record(ms, &[label("op", op), status.kv()]);
        let mut rec = self.start(&event::GIT_OPERATION, status.severity(), SystemTime::now());
        rec.add_attribute("op", string(op));
        rec.add_attribute("repo", string(repo_basename(repo)));
        rec.add_attribute("duration_ms", AnyValue::Double(ms));
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }

    /// `dolt.health`: one check of `health.server`. `Ok` sets `gastown.dolt.healthy` to 1,
    /// `Err` to 0; each measured value (those `Some`) sets its gauge and is on the record;
    /// the latency also goes to `gastown.dolt.query_duration_ms` by status.
    pub fn dolt_health(&self, health: &DoltHealth<'_>, outcome: Outcome<'_>) {
        let status = Status::of(outcome);
        let r = &self.roadmap;
        let server = [("server", health.server)];
        r.dolt_healthy
            .set(if status.ok { 1.0 } else { 0.0 }, &server);
        let mut rec = self.start(&event::DOLT_HEALTH, status.severity(), SystemTime::now());
        rec.add_attribute("server", string(health.server));
        if let Some(latency) = health.latency {
            let ms = millis(latency);
            r.dolt_latency.set(ms, &server);
            r.dolt_query_duration
                .record(ms, &[label("server", health.server), status.kv()]);
            rec.add_attribute("latency_ms", AnyValue::Double(ms));
        }
        for (key, value, gauge) in [
            ("connections", health.connections, &r.dolt_connections),
            (
                "max_connections",
                health.max_connections,
                &r.dolt_max_connections,
            ),
        ] {
            if let Some(value) = value {
                #[allow(clippy::cast_precision_loss)] // Connection counts are far below 2^52.
                gauge.set(value as f64, &server);
                rec.add_attribute(key, int(value));
            }
        }
        if let Some(lag) = health.replication_lag {
            r.dolt_replication_lag.set(millis(lag), &server);
            rec.add_attribute("replication_lag_ms", AnyValue::Double(millis(lag)));
        }
        put_status(&mut rec, &status);
        self.emit(rec, RunId::Ambient);
    }
}

/// The status line's events (`gt statusline`).
impl Recorder {
    /// `agent.status` (INFO): sets the gauges ([`Recorder::agent_status_gauges`]) and writes the
    /// record, with each value that is known.
    pub fn agent_status(&self, status: &AgentStatus<'_>) {
        self.agent_status_gauges(status);
        let mut rec = self.start(&event::AGENT_STATUS, Severity::Info, SystemTime::now());
        rec.add_attribute("session", string(status.session));
        rec.add_attribute("model", string(status.model));
        for (key, value) in [
            ("context_used_percent", status.context_used_percent),
            ("five_hour_used_percent", status.five_hour_used_percent),
            ("seven_day_used_percent", status.seven_day_used_percent),
            ("cost_usd", status.cost_usd),
        ] {
            if let Some(value) = value.filter(|v| v.is_finite()) {
                rec.add_attribute(key, AnyValue::Double(value));
            }
        }
        self.emit(rec, RunId::Ambient);
    }

    /// The gauges of `agent.status` without its record (what `gt statusline` records on every
    /// update): `gastown.agent.context_used_percent` by session and model, and
    /// `gastown.agent.quota_used_percent` by session, model and window, each from a known,
    /// finite value.
    pub fn agent_status_gauges(&self, status: &AgentStatus<'_>) {
        let r = &self.roadmap;
        let who = [("session", status.session), ("model", status.model)];
        if let Some(used) = status.context_used_percent.filter(|v| v.is_finite()) {
            r.agent_context_used.set(used, &who);
        }
        for (window, used) in [
            (QuotaWindow::FiveHour, status.five_hour_used_percent),
            (QuotaWindow::SevenDay, status.seven_day_used_percent),
        ] {
            if let Some(used) = used.filter(|v| v.is_finite()) {
                r.agent_quota_used
                    .set(used, &[who[0], who[1], ("window", window.as_str())]);
            }
        }
    }

    /// `agent.quota_threshold` (INFO): counted on
    /// `gastown.agent.quota_threshold_crossings.total` by window and threshold.
    pub fn agent_quota_threshold(&self, crossing: &QuotaThreshold<'_>) {
        let threshold = crossing.threshold.to_string();
        self.roadmap.agent_quota_crossings.add(
            1,
            &[
                KeyValue::new("window", crossing.window.as_str()),
                label("threshold", &threshold),
            ],
        );
        let mut rec = self.start(
            &event::AGENT_QUOTA_THRESHOLD,
            Severity::Info,
            SystemTime::now(),
        );
        rec.add_attribute("session", string(crossing.session));
        rec.add_attribute("model", string(crossing.model));
        rec.add_attribute(
            "window",
            AnyValue::String(StringValue::from(crossing.window.as_str())),
        );
        rec.add_attribute("threshold", string(&threshold));
        rec.add_attribute("used_percent", AnyValue::Double(crossing.used_percent));
        if !crossing.resets_at.is_empty() {
            rec.add_attribute("resets_at", string(crossing.resets_at));
        }
        self.emit(rec, RunId::Ambient);
    }
}

/// The last path component of a repository path or URL (`.git` kept off), or the input when
/// it has none.
fn repo_basename(repo: &str) -> &str {
    let trimmed = repo.trim_end_matches(['/', '\\']);
    let base = trimmed.rsplit(['/', '\\', ':']).next().unwrap_or(trimmed);
    base.strip_suffix(".git")
        .filter(|b| !b.is_empty())
        .unwrap_or(base)
}

/// `agent.event` and `agent.usage` carry the transcript's times: they get spans of their own
/// from agent-log, not an instantaneous one at the time they are read.
fn is_transcript_event(rec: &SdkLogRecord) -> bool {
    matches!(rec.event_name(), Some(name) if name == event::AGENT_EVENT.name || name == event::AGENT_USAGE.name)
}

/// This machine's host name, looked up once per process.
fn process_hostname() -> &'static Option<Arc<str>> {
    static HOST: OnceLock<Option<Arc<str>>> = OnceLock::new();
    HOST.get_or_init(|| {
        sysinfo::System::host_name()
            .ok()
            .filter(|h| !h.is_empty())
            .map(Arc::from)
    })
}
