//! The catalogue: every event and instrument this crate records, as static data.
//!
//! It is the single source the recorder builds its instruments and record bodies from, the
//! record functions' tests are driven by, and the docs audit compares `docs/data-model.md`
//! against. [`catalog()`] serialises to JSON with `serde`. This module describes; it must not
//! record anything or read the environment.

use serde::Serialize;

use telemetry_core::env::{
    GT_LOG_AGENT_OUTPUT, GT_LOG_BD_OUTPUT, GT_LOG_MAIL_BODY, GT_LOG_PANE_OUTPUT,
    GT_LOG_PRIME_CONTEXT, GT_LOG_PROMPT_KEYS,
};

/// The OTLP type of a log attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttrKind {
    /// `stringValue`.
    Str,
    /// `intValue` (64-bit signed; counts saturate at `i64::MAX`).
    Int,
    /// `doubleValue`.
    Double,
    /// `boolValue`.
    Bool,
}

/// When an attribute is on a record (its gate, if any, applies as well).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// On every record of the event, empty strings included.
    Always,
    /// Only when the caller supplied it (a mail message, an optional token count).
    WhenGiven,
    /// Omitted when its value is empty (correlation attributes).
    OmittedWhenEmpty,
    /// Never on the log record: an input that only labels the event's metric series (so that
    /// `gt otel emit` can set it and no series gets an empty label for want of a way in).
    MetricOnly,
}

/// One log attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AttrSpec {
    /// Attribute key, exactly as exported.
    pub name: &'static str,
    /// Value type.
    pub kind: AttrKind,
    /// Environment variable that must be `true` for the attribute to be recorded.
    pub gate: Option<&'static str>,
    /// When the attribute is present.
    pub presence: Presence,
    /// Whether `gt otel emit` refuses the event without a non-empty value for it (it names
    /// or labels what happened; the recorder itself takes whatever it is given).
    pub required: bool,
}

impl AttrSpec {
    /// Whether the attribute is on the log record (every presence but [`Presence::MetricOnly`]).
    #[must_use]
    pub fn on_record(&self) -> bool {
        self.presence != Presence::MetricOnly
    }

    /// The same attribute, required by `gt otel emit`.
    #[must_use]
    pub const fn required(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }
}

/// How an event's severity is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityRule {
    /// INFO when the outcome is `Ok`, ERROR when it is `Err`.
    ByOutcome,
    /// Always INFO.
    Info,
}

/// One log event: body, severity, attributes and the instruments it records into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventSpec {
    /// The record body (a string).
    pub name: &'static str,
    /// How the severity is chosen.
    pub severity: SeverityRule,
    /// Environment variable that must be `true` for the event to be recorded at all (no
    /// record, no counter increment otherwise).
    pub gate: Option<&'static str>,
    /// The event's own attributes in emission order; [`Catalog::correlation`] comes on top.
    pub attributes: &'static [AttrSpec],
    /// The counter incremented by one per event, if any.
    pub counter: Option<&'static str>,
    /// Every instrument the event records into (the counter first).
    pub instruments: &'static [&'static str],
}

impl EventSpec {
    /// The attribute `name` (on the record or [`Presence::MetricOnly`]).
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&'static AttrSpec> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Whether the event has an outcome (`status`/`error`, severity by outcome).
    #[must_use]
    pub fn has_outcome(&self) -> bool {
        self.severity == SeverityRule::ByOutcome
    }
}

/// The kind of a metric instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentKind {
    /// A monotonic sum.
    Counter,
    /// An explicit-bucket histogram.
    Histogram,
    /// An observable gauge: the latest value set for each attribute set, reported at every
    /// export (so a one-shot command's last value and a long-running probe's both reach the
    /// backend).
    Gauge,
}

/// The number type an instrument records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Unsigned integers (exported as `asInt`).
    U64,
    /// Floating point (exported as `asDouble`).
    F64,
}

/// One metric instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InstrumentSpec {
    /// Instrument name, exactly as exported.
    pub name: &'static str,
    /// Counter or histogram.
    pub kind: InstrumentKind,
    /// Number type.
    pub value_type: ValueType,
    /// UCUM unit.
    pub unit: &'static str,
    /// Description exported with the metric.
    pub description: &'static str,
    /// Attribute keys of every data point, in recording order (all strings unless
    /// [`InstrumentSpec::bool_attributes`] names them).
    pub attributes: &'static [&'static str],
    /// The keys of [`InstrumentSpec::attributes`] recorded as booleans.
    pub bool_attributes: &'static [&'static str],
    /// The events that record into it.
    pub recorded_by: &'static [&'static str],
}

impl InstrumentSpec {
    /// The series names this instrument gets in a Prometheus-style backend (VictoriaMetrics
    /// with `-opentelemetry.usePrometheusNaming`), see [`crate::prometheus`].
    #[must_use]
    pub fn prometheus_names(&self) -> Vec<String> {
        let kind = match self.kind {
            InstrumentKind::Counter => crate::prometheus::SeriesKind::Counter,
            InstrumentKind::Histogram => crate::prometheus::SeriesKind::Histogram,
            InstrumentKind::Gauge => crate::prometheus::SeriesKind::Gauge,
        };
        crate::prometheus::series_names(self.name, self.unit, kind)
    }
}

/// Everything this crate records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// Attributes added to every record on top of the event's own (`run.id`, `work_*`), each
    /// omitted when empty and never duplicated.
    pub correlation: &'static [AttrSpec],
    /// Every log event.
    pub events: &'static [EventSpec],
    /// Every metric instrument.
    pub instruments: &'static [InstrumentSpec],
}

impl Catalog {
    /// The event `name`.
    #[must_use]
    pub fn event(&self, name: &str) -> Option<&'static EventSpec> {
        self.events.iter().find(|e| e.name == name)
    }

    /// The instrument `name`.
    #[must_use]
    pub fn instrument(&self, name: &str) -> Option<&'static InstrumentSpec> {
        self.instruments.iter().find(|i| i.name == name)
    }
}

/// The catalogue of every event and instrument.
#[must_use]
pub fn catalog() -> &'static Catalog {
    &CATALOG
}

/// Declares [`EventKind`] and the catalogue's event list from one list, so they cannot drift.
macro_rules! event_kinds {
    ($($kind:ident => $spec:ident,)*) => {
        /// A catalogued event, one variant each: `match` on it to handle every event, and adding
        /// an event fails to compile until every such `match` handles it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $(
                #[doc = concat!("[`event::", stringify!($spec), "`].")]
                $kind,
            )*
        }

        impl EventKind {
            /// Every kind, in catalogue order.
            pub const ALL: &'static [Self] = &[$(Self::$kind,)*];
        }

        const EVENTS: &[EventSpec] = &[$(event::$spec,)*];
    };
}

event_kinds! {
    BdCall => BD_CALL,
    SessionStart => SESSION_START,
    SessionStop => SESSION_STOP,
    PromptSend => PROMPT_SEND,
    AgentInstantiate => AGENT_INSTANTIATE,
    Mail => MAIL,
    Prime => PRIME,
    PrimeContext => PRIME_CONTEXT,
    AgentStateChange => AGENT_STATE_CHANGE,
    PolecatSpawn => POLECAT_SPAWN,
    PolecatRemove => POLECAT_REMOVE,
    Sling => SLING,
    Nudge => NUDGE,
    Done => DONE,
    DaemonRestart => DAEMON_RESTART,
    FormulaInstantiate => FORMULA_INSTANTIATE,
    ConvoyCreate => CONVOY_CREATE,
    MolCook => MOL_COOK,
    MolWisp => MOL_WISP,
    MolSquash => MOL_SQUASH,
    MolBurn => MOL_BURN,
    BeadCreate => BEAD_CREATE,
    PaneOutput => PANE_OUTPUT,
    AgentEvent => AGENT_EVENT,
    AgentUsage => AGENT_USAGE,
    PaneRead => PANE_READ,
    RefineryDispatch => REFINERY_DISPATCH,
    RefineryQueue => REFINERY_QUEUE,
    SchedulerDispatchCycle => SCHEDULER_DISPATCH_CYCLE,
    WitnessPatrol => WITNESS_PATROL,
    DeaconTransition => DEACON_TRANSITION,
    CrewCycle => CREW_CYCLE,
    GitOperation => GIT_OPERATION,
    DoltHealth => DOLT_HEALTH,
    AgentStatus => AGENT_STATUS,
    AgentQuotaThreshold => AGENT_QUOTA_THRESHOLD,
}

impl EventKind {
    /// The event's catalogue entry.
    #[must_use]
    pub fn spec(self) -> &'static EventSpec {
        &EVENTS[self as usize]
    }

    /// The event name (the record body).
    #[must_use]
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The kind of the event called `name`, if it is catalogued.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }
}

static CATALOG: Catalog = Catalog {
    correlation: &[RUN_ID, WORK_RIG, WORK_BEAD, WORK_MOL],
    events: EVENTS,
    instruments: &[
        instrument::BD_CALLS_TOTAL,
        instrument::SESSION_STARTS_TOTAL,
        instrument::SESSION_STOPS_TOTAL,
        instrument::PROMPT_SENDS_TOTAL,
        instrument::PANE_OUTPUT_TOTAL,
        instrument::AGENT_EVENTS_TOTAL,
        instrument::AGENT_INSTANTIATIONS_TOTAL,
        instrument::PRIME_TOTAL,
        instrument::AGENT_STATE_CHANGES_TOTAL,
        instrument::POLECAT_SPAWNS_TOTAL,
        instrument::POLECAT_REMOVES_TOTAL,
        instrument::SLING_DISPATCHES_TOTAL,
        instrument::MAIL_OPERATIONS_TOTAL,
        instrument::NUDGE_TOTAL,
        instrument::DONE_TOTAL,
        instrument::DAEMON_AGENT_RESTARTS_TOTAL,
        instrument::FORMULA_INSTANTIATIONS_TOTAL,
        instrument::CONVOY_CREATES_TOTAL,
        instrument::MOL_COOKS_TOTAL,
        instrument::MOL_WISPS_TOTAL,
        instrument::MOL_SQUASHES_TOTAL,
        instrument::MOL_BURNS_TOTAL,
        instrument::BEAD_CREATES_TOTAL,
        instrument::BD_DURATION_MS,
        instrument::TOKEN_USAGE,
        instrument::TOKEN_COST_USD,
        instrument::PANE_READS_TOTAL,
        instrument::REFINERY_DISPATCHES_TOTAL,
        instrument::REFINERY_QUEUE_DEPTH,
        instrument::REFINERY_OLDEST_ITEM_AGE_MS,
        instrument::REFINERY_ITEM_AGE_MS,
        instrument::REFINERY_DISPATCH_LATENCY_MS,
        instrument::SCHEDULER_DISPATCHES_TOTAL,
        instrument::SCHEDULER_QUEUE_DEPTH,
        instrument::SCHEDULER_CAPACITY_USAGE,
        instrument::WITNESS_PATROLS_TOTAL,
        instrument::WITNESS_PATROL_DURATION_MS,
        instrument::DEACON_WATCHDOG_TRANSITIONS_TOTAL,
        instrument::CREW_CYCLES_TOTAL,
        instrument::GIT_DURATION_MS,
        instrument::DOLT_CONNECTIONS,
        instrument::DOLT_MAX_CONNECTIONS,
        instrument::DOLT_HEALTHY,
        instrument::DOLT_QUERY_LATENCY_MS,
        instrument::DOLT_QUERY_DURATION_MS,
        instrument::DOLT_REPLICATION_LAG_MS,
        instrument::AGENT_CONTEXT_USED_PERCENT,
        instrument::AGENT_QUOTA_USED_PERCENT,
        instrument::AGENT_QUOTA_THRESHOLD_CROSSINGS_TOTAL,
        instrument::TELEMETRY_EXPORT_FAILURES_TOTAL,
        instrument::TELEMETRY_DROPPED_RECORDS_TOTAL,
        instrument::TELEMETRY_SPOOL_BYTES,
        instrument::TELEMETRY_SPOOL_FILES,
        instrument::AGENT_LOG_LAG_SECONDS,
        instrument::AGENT_LOG_SKIPPED_LINES_TOTAL,
        instrument::AGENT_LOG_UNPRICED_USAGES_TOTAL,
        instrument::AGENT_LOG_UNPRICED_TOKENS_TOTAL,
    ],
};

const fn attr(name: &'static str, kind: AttrKind) -> AttrSpec {
    AttrSpec {
        name,
        kind,
        gate: None,
        presence: Presence::Always,
        required: false,
    }
}
const fn s(name: &'static str) -> AttrSpec {
    attr(name, AttrKind::Str)
}
const fn int(name: &'static str) -> AttrSpec {
    attr(name, AttrKind::Int)
}
const fn gated(name: &'static str, gate: &'static str) -> AttrSpec {
    AttrSpec {
        name,
        kind: AttrKind::Str,
        gate: Some(gate),
        presence: Presence::Always,
        required: false,
    }
}
const fn given(name: &'static str, kind: AttrKind) -> AttrSpec {
    AttrSpec {
        name,
        kind,
        gate: None,
        presence: Presence::WhenGiven,
        required: false,
    }
}
const fn unless_empty(name: &'static str) -> AttrSpec {
    AttrSpec {
        name,
        kind: AttrKind::Str,
        gate: None,
        presence: Presence::OmittedWhenEmpty,
        required: false,
    }
}
/// A required string attribute.
const fn req(name: &'static str) -> AttrSpec {
    s(name).required()
}
/// A required string input that only labels the event's metrics.
const fn label_only(name: &'static str) -> AttrSpec {
    AttrSpec {
        presence: Presence::MetricOnly,
        ..req(name)
    }
}

/// `run.id`: the context carrier's run id, else `GT_RUN`.
pub const RUN_ID: AttrSpec = unless_empty("run.id");
/// `work_rig` from the current work context.
pub const WORK_RIG: AttrSpec = unless_empty("work_rig");
/// `work_bead` from the current work context.
pub const WORK_BEAD: AttrSpec = unless_empty("work_bead");
/// `work_mol` from the current work context.
pub const WORK_MOL: AttrSpec = unless_empty("work_mol");

const STATUS: AttrSpec = s("status");
const ERROR: AttrSpec = s("error");

/// The metric instruments, one constant each.
pub mod instrument {
    use super::{InstrumentKind, InstrumentSpec, ValueType};

    const fn counter(
        name: &'static str,
        description: &'static str,
        attributes: &'static [&'static str],
        recorded_by: &'static [&'static str],
    ) -> InstrumentSpec {
        InstrumentSpec {
            name,
            kind: InstrumentKind::Counter,
            value_type: ValueType::U64,
            unit: "1",
            description,
            attributes,
            bool_attributes: &[],
            recorded_by,
        }
    }

    /// `gastown.bd.calls.total`.
    pub const BD_CALLS_TOTAL: InstrumentSpec = counter(
        "gastown.bd.calls.total",
        "bd invocations",
        &["status", "subcommand"],
        &["bd.call"],
    );
    /// `gastown.session.starts.total`.
    pub const SESSION_STARTS_TOTAL: InstrumentSpec = counter(
        "gastown.session.starts.total",
        "Agent sessions started",
        &["status", "role"],
        &["session.start"],
    );
    /// `gastown.session.stops.total`.
    pub const SESSION_STOPS_TOTAL: InstrumentSpec = counter(
        "gastown.session.stops.total",
        "Agent sessions stopped",
        &["status"],
        &["session.stop"],
    );
    /// `gastown.prompt.sends.total`.
    pub const PROMPT_SENDS_TOTAL: InstrumentSpec = counter(
        "gastown.prompt.sends.total",
        "Prompts sent to agent panes",
        &["status"],
        &["prompt.send"],
    );
    /// `gastown.pane.output.total`.
    pub const PANE_OUTPUT_TOTAL: InstrumentSpec = counter(
        "gastown.pane.output.total",
        "Pane output chunks streamed",
        &["session"],
        &["pane.output"],
    );
    /// `gastown.agent.events.total`.
    pub const AGENT_EVENTS_TOTAL: InstrumentSpec = counter(
        "gastown.agent.events.total",
        "Agent conversation events (event_type usage for token usage reports)",
        &["session", "event_type", "role"],
        &["agent.event", "agent.usage"],
    );
    /// `gastown.agent.instantiations.total`.
    pub const AGENT_INSTANTIATIONS_TOTAL: InstrumentSpec = counter(
        "gastown.agent.instantiations.total",
        "Agents instantiated",
        &["agent_type", "role", "rig"],
        &["agent.instantiate"],
    );
    /// `gastown.prime.total`.
    pub const PRIME_TOTAL: InstrumentSpec = InstrumentSpec {
        bool_attributes: &["hook_mode"],
        ..counter(
            "gastown.prime.total",
            "gt prime invocations",
            &["status", "role", "hook_mode"],
            &["prime"],
        )
    };
    /// `gastown.agent.state_changes.total`.
    pub const AGENT_STATE_CHANGES_TOTAL: InstrumentSpec = counter(
        "gastown.agent.state_changes.total",
        "Agent state transitions",
        &["status", "new_state"],
        &["agent.state_change"],
    );
    /// `gastown.polecat.spawns.total`.
    pub const POLECAT_SPAWNS_TOTAL: InstrumentSpec = counter(
        "gastown.polecat.spawns.total",
        "Polecats spawned",
        &["status"],
        &["polecat.spawn"],
    );
    /// `gastown.polecat.removes.total`.
    pub const POLECAT_REMOVES_TOTAL: InstrumentSpec = counter(
        "gastown.polecat.removes.total",
        "Polecats removed",
        &["status"],
        &["polecat.remove"],
    );
    /// `gastown.sling.dispatches.total`.
    pub const SLING_DISPATCHES_TOTAL: InstrumentSpec = counter(
        "gastown.sling.dispatches.total",
        "Beads slung to agents",
        &["status"],
        &["sling"],
    );
    /// `gastown.mail.operations.total`.
    pub const MAIL_OPERATIONS_TOTAL: InstrumentSpec = counter(
        "gastown.mail.operations.total",
        "Mail operations",
        &["status", "operation"],
        &["mail"],
    );
    /// `gastown.nudge.total`.
    pub const NUDGE_TOTAL: InstrumentSpec = counter(
        "gastown.nudge.total",
        "Nudges sent",
        &["status"],
        &["nudge"],
    );
    /// `gastown.done.total`.
    pub const DONE_TOTAL: InstrumentSpec = counter(
        "gastown.done.total",
        "gt done invocations",
        &["status", "exit_type"],
        &["done"],
    );
    /// `gastown.daemon.agent_restarts.total`.
    pub const DAEMON_AGENT_RESTARTS_TOTAL: InstrumentSpec = counter(
        "gastown.daemon.agent_restarts.total",
        "Agents restarted by the daemon",
        &["agent_type"],
        &["daemon.restart"],
    );
    /// `gastown.formula.instantiations.total`.
    pub const FORMULA_INSTANTIATIONS_TOTAL: InstrumentSpec = counter(
        "gastown.formula.instantiations.total",
        "Formulas instantiated",
        &["status", "formula"],
        &["formula.instantiate"],
    );
    /// `gastown.convoy.creates.total`.
    pub const CONVOY_CREATES_TOTAL: InstrumentSpec = counter(
        "gastown.convoy.creates.total",
        "Convoys created",
        &["status"],
        &["convoy.create"],
    );
    /// `gastown.mol.cooks.total`.
    pub const MOL_COOKS_TOTAL: InstrumentSpec = counter(
        "gastown.mol.cooks.total",
        "Molecules cooked",
        &["status", "formula"],
        &["mol.cook"],
    );
    /// `gastown.mol.wisps.total`.
    pub const MOL_WISPS_TOTAL: InstrumentSpec = counter(
        "gastown.mol.wisps.total",
        "Wisps created",
        &["status", "formula"],
        &["mol.wisp"],
    );
    /// `gastown.mol.squashes.total`.
    pub const MOL_SQUASHES_TOTAL: InstrumentSpec = counter(
        "gastown.mol.squashes.total",
        "Molecules squashed",
        &["status"],
        &["mol.squash"],
    );
    /// `gastown.mol.burns.total`.
    pub const MOL_BURNS_TOTAL: InstrumentSpec = counter(
        "gastown.mol.burns.total",
        "Molecules burned",
        &["status"],
        &["mol.burn"],
    );
    /// `gastown.bead.creates.total`.
    pub const BEAD_CREATES_TOTAL: InstrumentSpec = counter(
        "gastown.bead.creates.total",
        "Beads created",
        &["mol_source"],
        &["bead.create"],
    );
    /// `gastown.bd.duration_ms`: bd call latency.
    pub const BD_DURATION_MS: InstrumentSpec = InstrumentSpec {
        name: "gastown.bd.duration_ms",
        kind: InstrumentKind::Histogram,
        value_type: ValueType::F64,
        unit: "ms",
        description: "bd call duration",
        attributes: &["status", "subcommand"],
        bool_attributes: &[],
        recorded_by: &["bd.call"],
    };
    /// `gastown.token.usage`: tokens per type (`input`, `output`, `cache_read`,
    /// `cache_creation`).
    pub const TOKEN_USAGE: InstrumentSpec = InstrumentSpec {
        unit: "{token}",
        ..counter(
            "gastown.token.usage",
            "Agent tokens used, by type",
            &["type", "model", "agent_type", "rig", "role"],
            &["agent.usage"],
        )
    };
    /// `gastown.token.cost_usd`: accumulated agent cost (a monotonic sum).
    pub const TOKEN_COST_USD: InstrumentSpec = InstrumentSpec {
        value_type: ValueType::F64,
        unit: "{USD}",
        ..counter(
            "gastown.token.cost_usd",
            "Agent cost in US dollars",
            &["rig", "role", "agent_type", "model"],
            &["agent.usage"],
        )
    };

    const fn histogram(
        name: &'static str,
        unit: &'static str,
        description: &'static str,
        attributes: &'static [&'static str],
        recorded_by: &'static [&'static str],
    ) -> InstrumentSpec {
        InstrumentSpec {
            name,
            kind: InstrumentKind::Histogram,
            value_type: ValueType::F64,
            unit,
            description,
            attributes,
            bool_attributes: &[],
            recorded_by,
        }
    }

    const fn gauge(
        name: &'static str,
        unit: &'static str,
        description: &'static str,
        attributes: &'static [&'static str],
        recorded_by: &'static [&'static str],
    ) -> InstrumentSpec {
        InstrumentSpec {
            kind: InstrumentKind::Gauge,
            ..histogram(name, unit, description, attributes, recorded_by)
        }
    }

    /// `gastown.pane.reads.total`.
    pub const PANE_READS_TOTAL: InstrumentSpec = counter(
        "gastown.pane.reads.total",
        "tmux capture-pane calls",
        &["status"],
        &["pane.read"],
    );
    /// `gastown.refinery.dispatches.total`.
    pub const REFINERY_DISPATCHES_TOTAL: InstrumentSpec = counter(
        "gastown.refinery.dispatches.total",
        "Merge-queue items dispatched by the refinery",
        &["status", "rig"],
        &["refinery.dispatch"],
    );
    /// `gastown.refinery.queue_depth`: items waiting in a rig's merge queue.
    pub const REFINERY_QUEUE_DEPTH: InstrumentSpec = gauge(
        "gastown.refinery.queue_depth",
        "{item}",
        "Items waiting in the refinery's merge queue",
        &["rig"],
        &["refinery.dispatch", "refinery.queue"],
    );
    /// `gastown.refinery.oldest_item_age_ms`: age of the oldest waiting item.
    pub const REFINERY_OLDEST_ITEM_AGE_MS: InstrumentSpec = gauge(
        "gastown.refinery.oldest_item_age_ms",
        "ms",
        "Age of the oldest item in the refinery's merge queue (0 when empty)",
        &["rig"],
        &["refinery.queue"],
    );
    /// `gastown.refinery.item_age_ms`: how long an item waited before its dispatch.
    pub const REFINERY_ITEM_AGE_MS: InstrumentSpec = histogram(
        "gastown.refinery.item_age_ms",
        "ms",
        "Time a merge-queue item waited before it was dispatched",
        &["rig"],
        &["refinery.dispatch"],
    );
    /// `gastown.refinery.dispatch_latency_ms`: how long a dispatch took.
    pub const REFINERY_DISPATCH_LATENCY_MS: InstrumentSpec = histogram(
        "gastown.refinery.dispatch_latency_ms",
        "ms",
        "Duration of a refinery dispatch",
        &["status", "rig"],
        &["refinery.dispatch"],
    );
    /// `gastown.scheduler.dispatches.total`: beads per dispatch-cycle outcome.
    pub const SCHEDULER_DISPATCHES_TOTAL: InstrumentSpec = counter(
        "gastown.scheduler.dispatches.total",
        "Beads handled by scheduler dispatch cycles, by outcome (dispatched, failed, skipped)",
        &["outcome"],
        &["scheduler.dispatch_cycle"],
    );
    /// `gastown.scheduler.queue_depth`: queue depth seen by each dispatch cycle.
    pub const SCHEDULER_QUEUE_DEPTH: InstrumentSpec = histogram(
        "gastown.scheduler.queue_depth",
        "{item}",
        "Scheduler queue depth at each dispatch cycle",
        &[],
        &["scheduler.dispatch_cycle"],
    );
    /// `gastown.scheduler.capacity_usage`: share of dispatch capacity in use (0..1).
    pub const SCHEDULER_CAPACITY_USAGE: InstrumentSpec = gauge(
        "gastown.scheduler.capacity_usage",
        "1",
        "Share of the scheduler's dispatch capacity in use after its last cycle",
        &[],
        &["scheduler.dispatch_cycle"],
    );
    /// `gastown.witness.patrols.total`.
    pub const WITNESS_PATROLS_TOTAL: InstrumentSpec = counter(
        "gastown.witness.patrols.total",
        "Witness patrols",
        &["status", "rig"],
        &["witness.patrol"],
    );
    /// `gastown.witness.patrol_duration_ms`.
    pub const WITNESS_PATROL_DURATION_MS: InstrumentSpec = histogram(
        "gastown.witness.patrol_duration_ms",
        "ms",
        "Witness patrol duration",
        &["status", "rig"],
        &["witness.patrol"],
    );
    /// `gastown.deacon.watchdog_transitions.total`.
    pub const DEACON_WATCHDOG_TRANSITIONS_TOTAL: InstrumentSpec = counter(
        "gastown.deacon.watchdog_transitions.total",
        "Deacon watchdog state transitions",
        &["from_state", "to_state"],
        &["deacon.transition"],
    );
    /// `gastown.crew.cycles.total`.
    pub const CREW_CYCLES_TOTAL: InstrumentSpec = counter(
        "gastown.crew.cycles.total",
        "Crew session cycle phases (start, push, done, idle)",
        &["phase", "status"],
        &["crew.cycle"],
    );
    /// `gastown.git.duration_ms`: git operation latency (its `_count` counts operations).
    pub const GIT_DURATION_MS: InstrumentSpec = histogram(
        "gastown.git.duration_ms",
        "ms",
        "git operation duration",
        &["op", "status"],
        &["git.operation"],
    );
    /// `gastown.dolt.connections`: `Threads_connected` of a Dolt (MySQL-protocol) server.
    pub const DOLT_CONNECTIONS: InstrumentSpec = gauge(
        "gastown.dolt.connections",
        "{connection}",
        "Open connections on the Dolt sql-server",
        &["server"],
        &["dolt.health"],
    );
    /// `gastown.dolt.max_connections`.
    pub const DOLT_MAX_CONNECTIONS: InstrumentSpec = gauge(
        "gastown.dolt.max_connections",
        "{connection}",
        "The Dolt sql-server's max_connections",
        &["server"],
        &["dolt.health"],
    );
    /// `gastown.dolt.healthy`: 1 when the last check succeeded, else 0.
    pub const DOLT_HEALTHY: InstrumentSpec = gauge(
        "gastown.dolt.healthy",
        "",
        "1 when the last health check of the Dolt sql-server succeeded, 0 otherwise",
        &["server"],
        &["dolt.health"],
    );
    /// `gastown.dolt.query_latency_ms`: the last check's `SELECT 1` latency.
    pub const DOLT_QUERY_LATENCY_MS: InstrumentSpec = gauge(
        "gastown.dolt.query_latency_ms",
        "ms",
        "Latency of the last health-check query",
        &["server"],
        &["dolt.health"],
    );
    /// `gastown.dolt.query_duration_ms`: every check's `SELECT 1` latency.
    pub const DOLT_QUERY_DURATION_MS: InstrumentSpec = histogram(
        "gastown.dolt.query_duration_ms",
        "ms",
        "Health-check query duration",
        &["server", "status"],
        &["dolt.health"],
    );
    /// `gastown.dolt.replication_lag_ms`.
    pub const DOLT_REPLICATION_LAG_MS: InstrumentSpec = gauge(
        "gastown.dolt.replication_lag_ms",
        "ms",
        "Replication lag of the Dolt sql-server (when it replicates)",
        &["server"],
        &["dolt.health"],
    );
    /// `gastown.agent.context_used_percent`: how full an agent session's context window is.
    pub const AGENT_CONTEXT_USED_PERCENT: InstrumentSpec = gauge(
        "gastown.agent.context_used_percent",
        "%",
        "Context window used by an agent session, in percent",
        &["session", "model"],
        &["agent.status"],
    );
    /// `gastown.agent.quota_used_percent`: how much of a plan's rate-limit window is used.
    pub const AGENT_QUOTA_USED_PERCENT: InstrumentSpec = gauge(
        "gastown.agent.quota_used_percent",
        "%",
        "Plan quota used in a rate-limit window (five_hour, seven_day), in percent",
        &["session", "model", "window"],
        &["agent.status"],
    );
    /// `gastown.agent.quota_threshold_crossings.total`.
    pub const AGENT_QUOTA_THRESHOLD_CROSSINGS_TOTAL: InstrumentSpec = counter(
        "gastown.agent.quota_threshold_crossings.total",
        "Quota thresholds crossed upwards, by window and threshold",
        &["window", "threshold"],
        &["agent.quota_threshold"],
    );
    /// `gastown.telemetry.export_failures.total`: failed exports of telemetry itself, observed
    /// from [`telemetry_core::health`] (no event records into it).
    pub const TELEMETRY_EXPORT_FAILURES_TOTAL: InstrumentSpec = counter(
        "gastown.telemetry.export_failures.total",
        "Failed telemetry exports, by signal and reason",
        &["signal", "reason"],
        &[],
    );
    /// `gastown.telemetry.dropped_records.total`: telemetry records lost before reaching the
    /// backend (spool full, no spool, spool unwritable).
    pub const TELEMETRY_DROPPED_RECORDS_TOTAL: InstrumentSpec = counter(
        "gastown.telemetry.dropped_records.total",
        "Telemetry records dropped before export, by signal and reason",
        &["signal", "reason"],
        &[],
    );
    /// `gastown.telemetry.spool_bytes`: bytes waiting in the host's spool.
    pub const TELEMETRY_SPOOL_BYTES: InstrumentSpec = gauge(
        "gastown.telemetry.spool_bytes",
        "By",
        "Bytes of failed telemetry batches waiting in the spool, by signal",
        &["signal"],
        &[],
    );
    /// `gastown.telemetry.spool_files`: files waiting in the host's spool.
    pub const TELEMETRY_SPOOL_FILES: InstrumentSpec = gauge(
        "gastown.telemetry.spool_files",
        "{file}",
        "Failed telemetry batches (files) waiting in the spool, by signal",
        &["signal"],
        &[],
    );
    /// `gastown.agent_log.lag_seconds`: from a transcript record's own time to its confirmed
    /// export by `gt agent-log`.
    pub const AGENT_LOG_LAG_SECONDS: InstrumentSpec = histogram(
        "gastown.agent_log.lag_seconds",
        "s",
        "Seconds from a transcript record's timestamp to its confirmed export",
        &["agent_type"],
        &[],
    );
    /// `gastown.agent_log.skipped_lines.total`: transcript lines that produced no record.
    pub const AGENT_LOG_SKIPPED_LINES_TOTAL: InstrumentSpec = counter(
        "gastown.agent_log.skipped_lines.total",
        "Transcript lines that produced no record, by reason",
        &["reason"],
        &[],
    );
    /// `gastown.agent_log.unpriced_usages.total`: usages recorded without a cost.
    pub const AGENT_LOG_UNPRICED_USAGES_TOTAL: InstrumentSpec = counter(
        "gastown.agent_log.unpriced_usages.total",
        "Agent usages whose model has no price (recorded without a cost)",
        &["agent_type", "model"],
        &[],
    );
    /// `gastown.agent_log.unpriced_tokens.total`: the tokens of those usages (all four types).
    pub const AGENT_LOG_UNPRICED_TOKENS_TOTAL: InstrumentSpec = InstrumentSpec {
        unit: "{token}",
        ..counter(
            "gastown.agent_log.unpriced_tokens.total",
            "Tokens of agent usages whose model has no price",
            &["agent_type", "model"],
            &[],
        )
    };
}

/// The log events, one constant each.
pub mod event {
    use super::{
        AttrKind, AttrSpec, ERROR, EventSpec, GT_LOG_AGENT_OUTPUT, GT_LOG_BD_OUTPUT,
        GT_LOG_MAIL_BODY, GT_LOG_PANE_OUTPUT, GT_LOG_PRIME_CONTEXT, GT_LOG_PROMPT_KEYS, STATUS,
        SeverityRule, WORK_BEAD, WORK_MOL, WORK_RIG, attr, gated, given, instrument, int,
        label_only, req, s, unless_empty,
    };

    const fn ev(
        name: &'static str,
        attributes: &'static [AttrSpec],
        counter: &'static str,
    ) -> EventSpec {
        EventSpec {
            name,
            severity: SeverityRule::ByOutcome,
            gate: None,
            attributes,
            counter: Some(counter),
            instruments: &[],
        }
    }

    macro_rules! event {
        ($name:literal, [$($attr:expr),* $(,)?], $counter:expr) => {
            EventSpec {
                instruments: &[$counter.name],
                ..ev($name, &[$($attr),*], $counter.name)
            }
        };
    }

    /// `bd.call`.
    pub const BD_CALL: EventSpec = EventSpec {
        instruments: &[
            instrument::BD_CALLS_TOTAL.name,
            instrument::BD_DURATION_MS.name,
        ],
        ..ev(
            "bd.call",
            &[
                s("subcommand"),
                req("args"),
                attr("duration_ms", AttrKind::Double),
                STATUS,
                ERROR,
                gated("stdout", GT_LOG_BD_OUTPUT),
                gated("stderr", GT_LOG_BD_OUTPUT),
            ],
            instrument::BD_CALLS_TOTAL.name,
        )
    };
    /// `session.start`.
    pub const SESSION_START: EventSpec = event!(
        "session.start",
        [req("session_id"), req("role"), STATUS, ERROR],
        instrument::SESSION_STARTS_TOTAL
    );
    /// `session.stop`.
    pub const SESSION_STOP: EventSpec = event!(
        "session.stop",
        [req("session_id"), STATUS, ERROR],
        instrument::SESSION_STOPS_TOTAL
    );
    /// `prompt.send`.
    pub const PROMPT_SEND: EventSpec = event!(
        "prompt.send",
        [
            req("session"),
            int("keys_len"),
            int("debounce_ms"),
            STATUS,
            ERROR,
            gated("keys", GT_LOG_PROMPT_KEYS),
        ],
        instrument::PROMPT_SENDS_TOTAL
    );
    /// `agent.instantiate` (always INFO; `run.id` is the spawned agent's).
    pub const AGENT_INSTANTIATE: EventSpec = EventSpec {
        severity: SeverityRule::Info,
        ..event!(
            "agent.instantiate",
            [
                super::RUN_ID,
                s("instance"),
                s("town_root"),
                req("agent_type"),
                req("role"),
                s("agent_name"),
                s("session_id"),
                s("rig"),
                s("issue_id"),
                s("git_branch"),
                s("git_commit"),
            ],
            instrument::AGENT_INSTANTIATIONS_TOTAL
        )
    };
    /// `mail`.
    pub const MAIL: EventSpec = event!(
        "mail",
        [
            req("operation"),
            STATUS,
            ERROR,
            given("msg.id", AttrKind::Str),
            given("msg.from", AttrKind::Str),
            given("msg.to", AttrKind::Str),
            given("msg.subject", AttrKind::Str),
            given("msg.thread_id", AttrKind::Str),
            given("msg.priority", AttrKind::Str),
            given("msg.type", AttrKind::Str),
            AttrSpec {
                gate: Some(GT_LOG_MAIL_BODY),
                ..given("msg.body", AttrKind::Str)
            },
        ],
        instrument::MAIL_OPERATIONS_TOTAL
    );
    /// `prime` (its `work_*` are the correlation attributes, recorded once).
    pub const PRIME: EventSpec = event!(
        "prime",
        [
            req("role"),
            attr("hook_mode", AttrKind::Bool),
            STATUS,
            ERROR,
            WORK_RIG,
            WORK_BEAD,
            WORK_MOL,
        ],
        instrument::PRIME_TOTAL
    );
    /// `prime.context` (INFO; only with `GT_LOG_PRIME_CONTEXT=true` and a non-empty formula).
    pub const PRIME_CONTEXT: EventSpec = EventSpec {
        name: "prime.context",
        severity: SeverityRule::Info,
        gate: Some(GT_LOG_PRIME_CONTEXT),
        attributes: &[
            req("role"),
            attr("hook_mode", AttrKind::Bool),
            req("formula"),
        ],
        counter: None,
        instruments: &[],
    };
    /// `agent.state_change` (`hook_bead` is `""` when none).
    pub const AGENT_STATE_CHANGE: EventSpec = event!(
        "agent.state_change",
        [
            req("agent_id"),
            req("new_state"),
            s("hook_bead"),
            STATUS,
            ERROR
        ],
        instrument::AGENT_STATE_CHANGES_TOTAL
    );
    /// `polecat.spawn`.
    pub const POLECAT_SPAWN: EventSpec = event!(
        "polecat.spawn",
        [req("name"), STATUS, ERROR],
        instrument::POLECAT_SPAWNS_TOTAL
    );
    /// `polecat.remove`.
    pub const POLECAT_REMOVE: EventSpec = event!(
        "polecat.remove",
        [req("name"), STATUS, ERROR],
        instrument::POLECAT_REMOVES_TOTAL
    );
    /// `sling`.
    pub const SLING: EventSpec = event!(
        "sling",
        [req("bead"), req("target"), STATUS, ERROR],
        instrument::SLING_DISPATCHES_TOTAL
    );
    /// `nudge`.
    pub const NUDGE: EventSpec = event!(
        "nudge",
        [req("target"), STATUS, ERROR],
        instrument::NUDGE_TOTAL
    );
    /// `done` (`exit_type` is `COMPLETED`, `ESCALATED` or `DEFERRED`).
    pub const DONE: EventSpec = event!(
        "done",
        [
            req("exit_type"),
            unless_empty("rig"),
            unless_empty("bead_id"),
            given("time_to_complete_ms", AttrKind::Int),
            STATUS,
            ERROR
        ],
        instrument::DONE_TOTAL
    );
    /// `daemon.restart` (INFO).
    pub const DAEMON_RESTART: EventSpec = EventSpec {
        severity: SeverityRule::Info,
        ..event!(
            "daemon.restart",
            [req("agent_type")],
            instrument::DAEMON_AGENT_RESTARTS_TOTAL
        )
    };
    /// `formula.instantiate`.
    pub const FORMULA_INSTANTIATE: EventSpec = event!(
        "formula.instantiate",
        [req("formula_name"), req("bead_id"), STATUS, ERROR],
        instrument::FORMULA_INSTANTIATIONS_TOTAL
    );
    /// `convoy.create`.
    pub const CONVOY_CREATE: EventSpec = event!(
        "convoy.create",
        [req("bead_id"), STATUS, ERROR],
        instrument::CONVOY_CREATES_TOTAL
    );
    /// `mol.cook`.
    pub const MOL_COOK: EventSpec = event!(
        "mol.cook",
        [req("formula_name"), STATUS, ERROR],
        instrument::MOL_COOKS_TOTAL
    );
    /// `mol.wisp`.
    pub const MOL_WISP: EventSpec = event!(
        "mol.wisp",
        [
            req("formula_name"),
            req("wisp_root_id"),
            s("bead_id"),
            STATUS,
            ERROR
        ],
        instrument::MOL_WISPS_TOTAL
    );
    /// `mol.squash`.
    pub const MOL_SQUASH: EventSpec = event!(
        "mol.squash",
        [
            req("mol_id"),
            int("done_steps"),
            int("total_steps"),
            attr("digest_created", AttrKind::Bool),
            STATUS,
            ERROR,
        ],
        instrument::MOL_SQUASHES_TOTAL
    );
    /// `mol.burn`.
    pub const MOL_BURN: EventSpec = event!(
        "mol.burn",
        [req("mol_id"), int("children_closed"), STATUS, ERROR],
        instrument::MOL_BURNS_TOTAL
    );
    /// `bead.create` (INFO).
    pub const BEAD_CREATE: EventSpec = EventSpec {
        severity: SeverityRule::Info,
        ..event!(
            "bead.create",
            [req("bead_id"), s("parent_id"), s("mol_source")],
            instrument::BEAD_CREATES_TOTAL
        )
    };
    /// `pane.output` (INFO; only with `GT_LOG_PANE_OUTPUT=true`).
    pub const PANE_OUTPUT: EventSpec = EventSpec {
        severity: SeverityRule::Info,
        gate: Some(GT_LOG_PANE_OUTPUT),
        ..event!(
            "pane.output",
            [req("session"), s("content")],
            instrument::PANE_OUTPUT_TOTAL
        )
    };
    /// `agent.event` (INFO; only with `GT_LOG_AGENT_OUTPUT=true`; timestamped with the
    /// transcript's time).
    pub const AGENT_EVENT: EventSpec = EventSpec {
        severity: SeverityRule::Info,
        gate: Some(GT_LOG_AGENT_OUTPUT),
        ..event!(
            "agent.event",
            [
                req("session"),
                req("agent_type"),
                req("event_type"),
                s("role"),
                s("content"),
                s("native_session_id"),
                s("record.id"),
            ],
            instrument::AGENT_EVENTS_TOTAL
        )
    };
    /// `agent.usage` (INFO; timestamped with the transcript's time). `agent_type`, `role` and
    /// `rig` label its metrics only (`rig` is empty for town-level agents).
    pub const AGENT_USAGE: EventSpec = EventSpec {
        severity: SeverityRule::Info,
        instruments: &[
            instrument::AGENT_EVENTS_TOTAL.name,
            instrument::TOKEN_USAGE.name,
            instrument::TOKEN_COST_USD.name,
        ],
        ..ev(
            "agent.usage",
            &[
                req("session"),
                s("native_session_id"),
                s("record.id"),
                unless_empty("message_id"),
                unless_empty("request_id"),
                int("input_tokens"),
                int("output_tokens"),
                int("cache_read_tokens"),
                int("cache_creation_tokens"),
                req("model"),
                given("cost_usd", AttrKind::Double),
                given("cache_creation_5m_tokens", AttrKind::Int),
                given("cache_creation_1h_tokens", AttrKind::Int),
                unless_empty("cost_source"),
                unless_empty("pricing_version"),
                label_only("agent_type"),
                label_only("role"),
                AttrSpec {
                    required: false,
                    ..label_only("rig")
                },
            ],
            instrument::AGENT_EVENTS_TOTAL.name,
        )
    };
    /// `pane.read`: one tmux capture-pane call.
    pub const PANE_READ: EventSpec = event!(
        "pane.read",
        [
            req("session"),
            int("lines_requested"),
            int("content_len"),
            STATUS,
            ERROR
        ],
        instrument::PANE_READS_TOTAL
    );
    /// `refinery.dispatch`: the refinery dispatched a merge-queue item.
    pub const REFINERY_DISPATCH: EventSpec = EventSpec {
        instruments: &[
            instrument::REFINERY_DISPATCHES_TOTAL.name,
            instrument::REFINERY_QUEUE_DEPTH.name,
            instrument::REFINERY_ITEM_AGE_MS.name,
            instrument::REFINERY_DISPATCH_LATENCY_MS.name,
        ],
        ..ev(
            "refinery.dispatch",
            &[
                req("rig"),
                req("bead_id"),
                int("queue_depth"),
                int("wait_ms"),
                attr("duration_ms", AttrKind::Double),
                STATUS,
                ERROR,
            ],
            instrument::REFINERY_DISPATCHES_TOTAL.name,
        )
    };
    /// `refinery.queue` (INFO): one sample of a rig's merge queue.
    pub const REFINERY_QUEUE: EventSpec = EventSpec {
        name: "refinery.queue",
        severity: SeverityRule::Info,
        gate: None,
        attributes: &[req("rig"), int("queue_depth"), int("oldest_age_ms")],
        counter: None,
        instruments: &[
            instrument::REFINERY_QUEUE_DEPTH.name,
            instrument::REFINERY_OLDEST_ITEM_AGE_MS.name,
        ],
    };
    /// `scheduler.dispatch_cycle`: one scheduler cycle.
    pub const SCHEDULER_DISPATCH_CYCLE: EventSpec = EventSpec {
        name: "scheduler.dispatch_cycle",
        severity: SeverityRule::ByOutcome,
        gate: None,
        attributes: &[
            int("dispatched"),
            int("failed"),
            int("skipped"),
            int("queue_depth"),
            attr("capacity_usage", AttrKind::Double),
            attr("duration_ms", AttrKind::Double),
            STATUS,
            ERROR,
        ],
        counter: None,
        instruments: &[
            instrument::SCHEDULER_DISPATCHES_TOTAL.name,
            instrument::SCHEDULER_QUEUE_DEPTH.name,
            instrument::SCHEDULER_CAPACITY_USAGE.name,
        ],
    };
    /// `witness.patrol`: one witness patrol over a rig's agents.
    pub const WITNESS_PATROL: EventSpec = EventSpec {
        instruments: &[
            instrument::WITNESS_PATROLS_TOTAL.name,
            instrument::WITNESS_PATROL_DURATION_MS.name,
        ],
        ..ev(
            "witness.patrol",
            &[
                req("rig"),
                attr("duration_ms", AttrKind::Double),
                int("stale_count"),
                int("restart_count"),
                STATUS,
                ERROR,
            ],
            instrument::WITNESS_PATROLS_TOTAL.name,
        )
    };
    /// `deacon.transition` (INFO): the deacon's watchdog changed state.
    pub const DEACON_TRANSITION: EventSpec = EventSpec {
        severity: SeverityRule::Info,
        ..event!(
            "deacon.transition",
            [req("from_state"), req("to_state"), s("reason")],
            instrument::DEACON_WATCHDOG_TRANSITIONS_TOTAL
        )
    };
    /// `crew.cycle`: a crew member's session reached a phase (`start`, `push`, `done`,
    /// `idle`).
    pub const CREW_CYCLE: EventSpec = event!(
        "crew.cycle",
        [req("crew"), s("rig"), req("phase"), STATUS, ERROR],
        instrument::CREW_CYCLES_TOTAL
    );
    /// `git.operation`: one git invocation (`repo` is the repository's basename).
    pub const GIT_OPERATION: EventSpec = EventSpec {
        name: "git.operation",
        severity: SeverityRule::ByOutcome,
        gate: None,
        attributes: &[
            req("op"),
            s("repo"),
            attr("duration_ms", AttrKind::Double),
            STATUS,
            ERROR,
        ],
        counter: None,
        instruments: &[instrument::GIT_DURATION_MS.name],
    };
    /// `dolt.health`: one health check of a Dolt (MySQL-protocol) server; `server` is
    /// `host:port`, never credentials. Failure = unhealthy.
    pub const DOLT_HEALTH: EventSpec = EventSpec {
        name: "dolt.health",
        severity: SeverityRule::ByOutcome,
        gate: None,
        attributes: &[
            req("server"),
            given("latency_ms", AttrKind::Double),
            given("connections", AttrKind::Int),
            given("max_connections", AttrKind::Int),
            given("replication_lag_ms", AttrKind::Double),
            STATUS,
            ERROR,
        ],
        counter: None,
        instruments: &[
            instrument::DOLT_HEALTHY.name,
            instrument::DOLT_QUERY_DURATION_MS.name,
            instrument::DOLT_QUERY_LATENCY_MS.name,
            instrument::DOLT_CONNECTIONS.name,
            instrument::DOLT_MAX_CONNECTIONS.name,
            instrument::DOLT_REPLICATION_LAG_MS.name,
        ],
    };
    /// `agent.status` (INFO): one status-line update of an agent session (`gt statusline`):
    /// sets the context and quota gauges from each value given. `gt statusline` records the
    /// gauges only (a record per update would flood the log store); a crossing is
    /// [`AGENT_QUOTA_THRESHOLD`].
    pub const AGENT_STATUS: EventSpec = EventSpec {
        name: "agent.status",
        severity: SeverityRule::Info,
        gate: None,
        attributes: &[
            req("session"),
            req("model"),
            given("context_used_percent", AttrKind::Double),
            given("five_hour_used_percent", AttrKind::Double),
            given("seven_day_used_percent", AttrKind::Double),
            given("cost_usd", AttrKind::Double),
        ],
        counter: None,
        instruments: &[
            instrument::AGENT_CONTEXT_USED_PERCENT.name,
            instrument::AGENT_QUOTA_USED_PERCENT.name,
        ],
    };
    /// `agent.quota_threshold` (INFO): a rate-limit window's use went up across a threshold
    /// (50, 80 or 95 %) since the session's previous status update. `resets_at` is RFC 3339.
    pub const AGENT_QUOTA_THRESHOLD: EventSpec = EventSpec {
        severity: SeverityRule::Info,
        ..event!(
            "agent.quota_threshold",
            [
                req("session"),
                req("model"),
                req("window"),
                req("threshold"),
                attr("used_percent", AttrKind::Double),
                given("resets_at", AttrKind::Str),
            ],
            instrument::AGENT_QUOTA_THRESHOLD_CROSSINGS_TOTAL
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_cross_references_resolve() {
        let c = catalog();
        for (i, e) in c.events.iter().enumerate() {
            assert!(
                c.events[..i].iter().all(|o| o.name != e.name),
                "duplicate event {}",
                e.name
            );
            for (j, a) in e.attributes.iter().enumerate() {
                assert!(
                    e.attributes[..j].iter().all(|o| o.name != a.name),
                    "{}: duplicate {}",
                    e.name,
                    a.name
                );
            }
            if let Some(counter) = e.counter {
                assert_eq!(e.instruments.first(), Some(&counter), "{}", e.name);
            }
            for name in e.instruments {
                let inst = c
                    .instrument(name)
                    .unwrap_or_else(|| panic!("{}: {name}", e.name));
                assert!(
                    inst.recorded_by.contains(&e.name),
                    "{name} lacks {}",
                    e.name
                );
            }
        }
        for (i, inst) in c.instruments.iter().enumerate() {
            assert!(
                c.instruments[..i].iter().all(|o| o.name != inst.name),
                "{}",
                inst.name
            );
            for by in inst.recorded_by {
                let e = c.event(by).unwrap_or_else(|| panic!("{}: {by}", inst.name));
                assert!(
                    e.instruments.contains(&inst.name),
                    "{by} lacks {}",
                    inst.name
                );
            }
        }
    }

    #[test]
    fn every_event_of_the_contract_is_catalogued() {
        let expected = [
            "bd.call",
            "session.start",
            "session.stop",
            "prompt.send",
            "agent.instantiate",
            "mail",
            "prime",
            "prime.context",
            "agent.state_change",
            "polecat.spawn",
            "polecat.remove",
            "sling",
            "nudge",
            "done",
            "daemon.restart",
            "formula.instantiate",
            "convoy.create",
            "mol.cook",
            "mol.wisp",
            "mol.squash",
            "mol.burn",
            "bead.create",
            "pane.output",
            "agent.event",
            "agent.usage",
            "pane.read",
            "refinery.dispatch",
            "refinery.queue",
            "scheduler.dispatch_cycle",
            "witness.patrol",
            "deacon.transition",
            "crew.cycle",
            "git.operation",
            "dolt.health",
            "agent.status",
            "agent.quota_threshold",
        ];
        let names: Vec<_> = catalog().events.iter().map(|e| e.name).collect();
        assert_eq!(names, expected);
        assert_eq!(catalog().instruments.len(), 57);
    }

    #[test]
    fn outcome_events_carry_status_and_error() {
        for e in catalog().events {
            let has = |n| e.attribute(n).is_some();
            assert_eq!(
                e.severity == SeverityRule::ByOutcome,
                has("status") && has("error"),
                "{}",
                e.name
            );
        }
    }

    #[test]
    fn event_kinds_are_the_catalogue_in_order() {
        let names: Vec<_> = EventKind::ALL.iter().map(|k| k.name()).collect();
        let catalogued: Vec<_> = catalog().events.iter().map(|e| e.name).collect();
        assert_eq!(names, catalogued);
        for &kind in EventKind::ALL {
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
            assert!(std::ptr::eq(
                kind.spec(),
                catalog().event(kind.name()).unwrap()
            ));
        }
        assert_eq!(EventKind::from_name("no.such.event"), None);
    }

    /// Labels the recorder computes rather than takes: the outcome, one point per token type,
    /// the formula of a `formula_name`, and `agent.usage`'s fixed `event_type`.
    fn derived_label(event: &EventSpec, label: &str) -> bool {
        match label {
            "status" => event.has_outcome(),
            "type" => event.name == "agent.usage",
            "window" => event.name == "agent.status",
            "formula" => event.attribute("formula_name").is_some(),
            "event_type" => event.name == "agent.usage",
            "outcome" => event.name == "scheduler.dispatch_cycle",
            _ => false,
        }
    }

    #[test]
    fn every_metric_label_is_a_catalogued_input_of_its_event() {
        for e in catalog().events {
            for name in e.instruments {
                let inst = catalog().instrument(name).unwrap();
                for label in inst.attributes {
                    assert!(
                        e.attribute(label).is_some() || derived_label(e, label),
                        "{}: {name} is labelled by `{label}`, which the event cannot be given",
                        e.name
                    );
                }
            }
            for a in e.attributes.iter().filter(|a| !a.on_record()) {
                assert!(
                    e.instruments.iter().any(|i| catalog()
                        .instrument(i)
                        .unwrap()
                        .attributes
                        .contains(&a.name)),
                    "{}: metric-only `{}` labels no metric",
                    e.name,
                    a.name
                );
            }
        }
    }

    #[test]
    fn serialises_to_json() {
        let json = serde_json::to_value(catalog()).unwrap();
        let first = &json["events"][0];
        assert_eq!(first["name"], "bd.call");
        assert_eq!(first["severity"], "by_outcome");
        assert_eq!(first["attributes"][2]["kind"], "double");
        assert_eq!(first["attributes"][5]["gate"], "GT_LOG_BD_OUTPUT");
        let cost = json["instruments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == "gastown.token.cost_usd")
            .unwrap();
        assert_eq!(
            (cost["unit"].as_str(), cost["value_type"].as_str()),
            (Some("{USD}"), Some("f64"))
        );
    }
}
