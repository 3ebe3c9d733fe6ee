//! `gt otel emit`: any catalogued event from a shell script or hook, validated against the
//! recorder's catalogue before anything is recorded.
//!
//! Dispatch is a `match` on [`EventKind`], so an event added to the catalogue does not compile
//! here until it is handled. Every input the event's record or metrics take can be set with
//! `--attr` (metric-only labels included); required ones must be given, and an outcome is
//! accepted only by events that have one.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use telemetry_recorder::catalog::{AttrKind, EventKind};
use telemetry_recorder::{
    AgentEvent, AgentEventType, AgentInstance, AgentStatus, AgentUsage, CrewPhase, DoltHealth,
    ExitType, MailMessage, MessageRole, MolSquash, Outcome, QuotaThreshold, QuotaWindow,
    RefineryDispatch, SchedulerCycle, WitnessPatrol,
};

/// When `bead` last became the current work in `entries` (a session's ledger, oldest first):
/// the time of the first entry of the newest unbroken run of entries naming it; `None` when no
/// entry names it.
#[must_use]
pub fn bead_became_current(entries: &[work_ledger::Entry], bead: &str) -> Option<u64> {
    if bead.is_empty() {
        return None;
    }
    let last = entries.iter().rposition(|e| e.bead == bead)?;
    let first = entries[..last]
        .iter()
        .rposition(|e| e.bead != bead)
        .map_or(0, |i| i + 1);
    Some(entries[first].time_ns)
}

/// Milliseconds since `bead` became this session's current work, from the session's ledger
/// (`None` without a session, a ledger, or an entry for it).
fn time_on_bead(bead: &str) -> Option<u64> {
    let env = |k: &str| std::env::var(k).ok();
    let session = crate::work_source::session_key(&env, crate::work_source::current_tmux_session)
        .ok()
        .flatten()?;
    let ledger = crate::work_source::ledger_for(&env, &session).ok()?;
    let entries = ledger.entries().ok()?.value;
    let since = bead_became_current(&entries, bead)?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    u64::try_from(now.saturating_sub(u128::from(since)) / 1_000_000).ok()
}

/// Why an emit request was refused (the command exits 2).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmitError {
    /// The event is not in the catalogue.
    #[error("unknown event {0:?}; `cargo xtask catalog` or docs/data-model.md lists them")]
    UnknownEvent(String),
    /// `--attr` without `=`.
    #[error("--attr {0:?} is not key=value")]
    Malformed(String),
    /// The attribute is not one of the event's.
    #[error("event {event} has no attribute {key:?} (it has: {known})")]
    UnknownAttribute {
        /// The event.
        event: String,
        /// The attribute given.
        key: String,
        /// The attributes it has.
        known: String,
    },
    /// The value does not parse as the attribute's type.
    #[error("attribute {key:?} of {event} is {kind}, and {value:?} is not")]
    Mistyped {
        /// The event.
        event: String,
        /// The attribute.
        key: String,
        /// Its type.
        kind: &'static str,
        /// The value given.
        value: String,
    },
    /// `status`/`error` are set with `--status`/`--error`.
    #[error("set {0} with --status/--error, not --attr")]
    Reserved(String),
    /// A required attribute was not given, or given empty.
    #[error("event {event} needs --attr {key}=… (required: {required})")]
    Missing {
        /// The event.
        event: String,
        /// The first missing attribute.
        key: String,
        /// Every required attribute of the event.
        required: String,
    },
    /// `--error` or `--status error` on an event that records no outcome.
    #[error("event {0} has no status; drop --error/--status error")]
    NoOutcome(String),
    /// A value outside a closed vocabulary.
    #[error("{key}={value:?} must be one of {allowed}")]
    NotAllowed {
        /// The attribute.
        key: String,
        /// The value given.
        value: String,
        /// The allowed values.
        allowed: &'static str,
    },
}

/// A validated emit request.
#[derive(Debug)]
pub struct Emit {
    kind: EventKind,
    values: BTreeMap<String, String>,
    error: Option<String>,
}

fn kind_word(kind: AttrKind) -> &'static str {
    match kind {
        AttrKind::Str => "a string",
        AttrKind::Int => "an int",
        AttrKind::Double => "a double",
        AttrKind::Bool => "a bool",
    }
}

impl Emit {
    /// Validates `event`, its `key=value` attributes and its outcome (`error`: the failure
    /// message, `None` for success) against the catalogue.
    ///
    /// # Errors
    /// [`EmitError`] for an unknown event; an unknown, reserved, mistyped or missing attribute;
    /// a value outside its vocabulary; a failure on an event without an outcome.
    pub fn parse(event: &str, attrs: &[String], error: Option<String>) -> Result<Self, EmitError> {
        let kind =
            EventKind::from_name(event).ok_or_else(|| EmitError::UnknownEvent(event.to_owned()))?;
        let spec = kind.spec();
        let mut values = BTreeMap::new();
        for attr in attrs {
            let (key, value) = attr
                .split_once('=')
                .ok_or_else(|| EmitError::Malformed(attr.clone()))?;
            if key == "status" || key == "error" {
                return Err(EmitError::Reserved(key.to_owned()));
            }
            let Some(attr_spec) = spec.attribute(key) else {
                let known: Vec<&str> = spec
                    .attributes
                    .iter()
                    .map(|a| a.name)
                    .filter(|n| *n != "status" && *n != "error")
                    .collect();
                return Err(EmitError::UnknownAttribute {
                    event: event.to_owned(),
                    key: key.to_owned(),
                    known: known.join(", "),
                });
            };
            let ok = match attr_spec.kind {
                AttrKind::Str => true,
                AttrKind::Int => value.parse::<u64>().is_ok(),
                AttrKind::Double => value.parse::<f64>().is_ok_and(f64::is_finite),
                AttrKind::Bool => matches!(value, "true" | "false"),
            };
            if !ok {
                return Err(EmitError::Mistyped {
                    event: event.to_owned(),
                    key: key.to_owned(),
                    kind: kind_word(attr_spec.kind),
                    value: value.to_owned(),
                });
            }
            values.insert(key.to_owned(), value.to_owned());
        }
        let required = || spec.attributes.iter().filter(|a| a.required);
        if let Some(missing) = required().find(|a| values.get(a.name).is_none_or(String::is_empty))
        {
            return Err(EmitError::Missing {
                event: event.to_owned(),
                key: missing.name.to_owned(),
                required: required().map(|a| a.name).collect::<Vec<_>>().join(", "),
            });
        }
        if error.is_some() && !spec.has_outcome() {
            return Err(EmitError::NoOutcome(event.to_owned()));
        }
        let emit = Self {
            kind,
            values,
            error,
        };
        emit.check_vocabularies()?;
        Ok(emit)
    }

    fn s(&self, key: &str) -> &str {
        self.values.get(key).map_or("", String::as_str)
    }

    fn n(&self, key: &str) -> u64 {
        self.values
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    fn opt_n(&self, key: &str) -> Option<u64> {
        self.values.get(key).and_then(|v| v.parse().ok())
    }

    fn f(&self, key: &str) -> f64 {
        self.values
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    fn opt_f(&self, key: &str) -> Option<f64> {
        self.values.get(key).and_then(|v| v.parse().ok())
    }

    fn ms(&self, key: &str) -> Duration {
        Duration::from_secs_f64(self.f(key).max(0.0) / 1000.0)
    }

    fn opt_ms(&self, key: &str) -> Option<Duration> {
        self.values.contains_key(key).then(|| self.ms(key))
    }

    fn b(&self, key: &str) -> bool {
        self.s(key) == "true"
    }

    fn exit_type(&self) -> Option<ExitType> {
        match self.s("exit_type") {
            "COMPLETED" => Some(ExitType::Completed),
            "ESCALATED" => Some(ExitType::Escalated),
            "DEFERRED" => Some(ExitType::Deferred),
            _ => None,
        }
    }

    fn event_type(&self) -> Option<AgentEventType> {
        match self.s("event_type") {
            "text" => Some(AgentEventType::Text),
            "tool_use" => Some(AgentEventType::ToolUse),
            "tool_result" => Some(AgentEventType::ToolResult),
            "thinking" => Some(AgentEventType::Thinking),
            _ => None,
        }
    }

    fn message_role(&self) -> Option<MessageRole> {
        match self.s("role") {
            "assistant" | "" => Some(MessageRole::Assistant),
            "user" => Some(MessageRole::User),
            _ => None,
        }
    }

    fn check_vocabularies(&self) -> Result<(), EmitError> {
        let refuse = |key: &str, allowed| {
            Err(EmitError::NotAllowed {
                key: key.to_owned(),
                value: self.s(key).to_owned(),
                allowed,
            })
        };
        match self.kind {
            EventKind::Done if self.exit_type().is_none() => {
                refuse("exit_type", "COMPLETED, ESCALATED, DEFERRED")
            }
            EventKind::AgentEvent if self.event_type().is_none() => {
                refuse("event_type", "text, tool_use, tool_result, thinking")
            }
            EventKind::AgentEvent if self.message_role().is_none() => {
                refuse("role", "assistant, user")
            }
            EventKind::CrewCycle if CrewPhase::from_name(self.s("phase")).is_none() => {
                refuse("phase", "start, push, done, idle")
            }
            EventKind::AgentQuotaThreshold
                if QuotaWindow::from_name(self.s("window")).is_none() =>
            {
                refuse("window", "five_hour, seven_day")
            }
            EventKind::AgentQuotaThreshold
                if self.s("threshold").parse::<u8>().map_or(true, |t| t > 100) =>
            {
                refuse("threshold", "a whole percentage, 0 to 100")
            }
            EventKind::BdCall
                if self.values.contains_key("subcommand")
                    && self.bd_args().first() != Some(&self.s("subcommand")) =>
            {
                refuse("subcommand", "the first word of args")
            }
            _ => Ok(()),
        }
    }

    fn bd_args(&self) -> Vec<&str> {
        self.s("args").split_whitespace().collect()
    }

    /// Records the event through its typed recorder function.
    pub fn record(&self) {
        use telemetry_recorder as r;
        let s = |k| self.s(k);
        // An emitted agent record is one delivery of its own unless the caller names it.
        let fresh_id;
        let record_id = if self.s("record.id").is_empty() {
            fresh_id = uuid::Uuid::new_v4().hyphenated().to_string();
            fresh_id.as_str()
        } else {
            self.s("record.id")
        };
        let outcome: Outcome<'_> = match &self.error {
            Some(message) => Err(message as &dyn std::fmt::Display),
            None => Ok(()),
        };
        // `prime` lists the work context among its own attributes: given ones replace it.
        if ["work_rig", "work_bead", "work_mol"]
            .iter()
            .any(|k| self.values.contains_key(*k))
        {
            let current = r::work_context();
            let pick = |key: &str, old: String| self.values.get(key).cloned().unwrap_or(old);
            r::set_work_context(r::WorkContext {
                rig: pick("work_rig", current.rig),
                bead: pick("work_bead", current.bead),
                mol: pick("work_mol", current.mol),
            });
        }
        match self.kind {
            EventKind::BdCall => {
                let duration = Duration::from_secs_f64(self.f("duration_ms").max(0.0) / 1000.0);
                r::record_bd_call(
                    &self.bd_args(),
                    duration,
                    outcome,
                    s("stdout").as_bytes(),
                    s("stderr").as_bytes(),
                );
            }
            EventKind::SessionStart => r::record_session_start(s("session_id"), s("role"), outcome),
            EventKind::SessionStop => r::record_session_stop(s("session_id"), outcome),
            EventKind::PromptSend => {
                r::record_prompt_send(
                    s("session"),
                    s("keys"),
                    Duration::from_millis(self.n("debounce_ms")),
                    outcome,
                );
            }
            EventKind::AgentInstantiate => r::record_agent_instantiate(&AgentInstance {
                run_id: s("run.id"),
                town_root: s("town_root"),
                agent_type: s("agent_type"),
                role: s("role"),
                agent_name: s("agent_name"),
                session_id: s("session_id"),
                rig: s("rig"),
                issue_id: s("issue_id"),
                git_branch: s("git_branch"),
                git_commit: s("git_commit"),
            }),
            EventKind::Mail => {
                let to: Vec<&str> = s("msg.to").split(',').filter(|t| !t.is_empty()).collect();
                let has_message = self.values.keys().any(|k| k.starts_with("msg."));
                let message = MailMessage {
                    id: s("msg.id"),
                    from: s("msg.from"),
                    to: &to,
                    subject: s("msg.subject"),
                    thread_id: s("msg.thread_id"),
                    priority: s("msg.priority"),
                    kind: s("msg.type"),
                    body: s("msg.body"),
                };
                r::record_mail(s("operation"), has_message.then_some(&message), outcome);
            }
            EventKind::Prime => r::record_prime(s("role"), self.b("hook_mode"), outcome),
            EventKind::PrimeContext => {
                r::record_prime_context(s("role"), self.b("hook_mode"), s("formula"))
            }
            EventKind::AgentStateChange => {
                let hook = Some(s("hook_bead")).filter(|h| !h.is_empty());
                r::record_agent_state_change(s("agent_id"), s("new_state"), hook, outcome);
            }
            EventKind::PolecatSpawn => r::record_polecat_spawn(s("name"), outcome),
            EventKind::PolecatRemove => r::record_polecat_remove(s("name"), outcome),
            EventKind::Sling => r::record_sling(s("bead"), s("target"), outcome),
            EventKind::Nudge => r::record_nudge(s("target"), outcome),
            EventKind::Done => {
                let work = r::work_context();
                let or_work = |key: &str, work: &str| match self.s(key) {
                    "" => work.to_owned(),
                    given => given.to_owned(),
                };
                let rig = or_work("rig", &work.rig);
                let bead_id = or_work("bead_id", &work.bead);
                let time_to_complete_ms = self
                    .opt_n("time_to_complete_ms")
                    .or_else(|| time_on_bead(&bead_id));
                r::record_done(
                    &r::Done {
                        exit_type: self.exit_type().unwrap_or(ExitType::Completed),
                        rig: &rig,
                        bead_id: &bead_id,
                        time_to_complete_ms,
                    },
                    outcome,
                );
            }
            EventKind::DaemonRestart => r::record_daemon_restart(s("agent_type")),
            EventKind::FormulaInstantiate => {
                r::record_formula_instantiate(s("formula_name"), s("bead_id"), outcome)
            }
            EventKind::ConvoyCreate => r::record_convoy_create(s("bead_id"), outcome),
            EventKind::MolCook => r::record_mol_cook(s("formula_name"), outcome),
            EventKind::MolWisp => {
                r::record_mol_wisp(s("formula_name"), s("wisp_root_id"), s("bead_id"), outcome)
            }
            EventKind::MolSquash => r::record_mol_squash(
                &MolSquash {
                    mol_id: s("mol_id"),
                    done_steps: self.n("done_steps"),
                    total_steps: self.n("total_steps"),
                    digest_created: self.b("digest_created"),
                },
                outcome,
            ),
            EventKind::MolBurn => {
                r::record_mol_burn(s("mol_id"), self.n("children_closed"), outcome)
            }
            EventKind::BeadCreate => {
                r::record_bead_create(s("bead_id"), s("parent_id"), s("mol_source"))
            }
            EventKind::PaneOutput => r::record_pane_output(s("session"), s("content")),
            EventKind::AgentEvent => r::record_agent_event(&AgentEvent {
                session: s("session"),
                native_session_id: s("native_session_id"),
                agent_type: s("agent_type"),
                event_type: self.event_type().unwrap_or(AgentEventType::Text),
                role: self.message_role().unwrap_or(MessageRole::Assistant),
                content: s("content"),
                record_id,
                timestamp: SystemTime::now(),
            }),
            EventKind::AgentUsage => r::record_agent_usage(&AgentUsage {
                session: s("session"),
                native_session_id: s("native_session_id"),
                agent_type: s("agent_type"),
                model: s("model"),
                record_id,
                message_id: s("message_id"),
                request_id: s("request_id"),
                role: s("role"),
                rig: s("rig"),
                input_tokens: self.n("input_tokens"),
                output_tokens: self.n("output_tokens"),
                cache_read_tokens: self.n("cache_read_tokens"),
                cache_creation_tokens: self.n("cache_creation_tokens"),
                cache_creation_5m_tokens: self.opt_n("cache_creation_5m_tokens"),
                cache_creation_1h_tokens: self.opt_n("cache_creation_1h_tokens"),
                cost_usd: self.values.get("cost_usd").and_then(|v| v.parse().ok()),
                cost_source: s("cost_source"),
                pricing_version: s("pricing_version"),
                timestamp: SystemTime::now(),
            }),
            EventKind::PaneRead => r::record_pane_read(
                s("session"),
                self.n("lines_requested"),
                self.n("content_len"),
                outcome,
            ),
            EventKind::RefineryDispatch => r::record_refinery_dispatch(
                &RefineryDispatch {
                    rig: s("rig"),
                    bead_id: s("bead_id"),
                    queue_depth: self.n("queue_depth"),
                    wait: self.ms("wait_ms"),
                    duration: self.ms("duration_ms"),
                },
                outcome,
            ),
            EventKind::RefineryQueue => r::record_refinery_queue(
                s("rig"),
                self.n("queue_depth"),
                self.opt_ms("oldest_age_ms"),
            ),
            EventKind::SchedulerDispatchCycle => r::record_scheduler_dispatch_cycle(
                &SchedulerCycle {
                    dispatched: self.n("dispatched"),
                    failed: self.n("failed"),
                    skipped: self.n("skipped"),
                    queue_depth: self.n("queue_depth"),
                    capacity_usage: self.f("capacity_usage"),
                    duration: self.ms("duration_ms"),
                },
                outcome,
            ),
            EventKind::WitnessPatrol => r::record_witness_patrol(
                &WitnessPatrol {
                    rig: s("rig"),
                    duration: self.ms("duration_ms"),
                    stale_count: self.n("stale_count"),
                    restart_count: self.n("restart_count"),
                },
                outcome,
            ),
            EventKind::DeaconTransition => {
                r::record_deacon_transition(s("from_state"), s("to_state"), s("reason"))
            }
            EventKind::CrewCycle => r::record_crew_cycle(
                s("crew"),
                s("rig"),
                CrewPhase::from_name(s("phase")).unwrap_or(CrewPhase::Start),
                outcome,
            ),
            EventKind::GitOperation => {
                r::record_git_operation(s("op"), s("repo"), self.ms("duration_ms"), outcome)
            }
            EventKind::DoltHealth => r::record_dolt_health(
                &DoltHealth {
                    server: s("server"),
                    latency: self.opt_ms("latency_ms"),
                    connections: self.opt_n("connections"),
                    max_connections: self.opt_n("max_connections"),
                    replication_lag: self.opt_ms("replication_lag_ms"),
                },
                outcome,
            ),
            EventKind::AgentStatus => r::record_agent_status(&AgentStatus {
                session: s("session"),
                model: s("model"),
                context_used_percent: self.opt_f("context_used_percent"),
                five_hour_used_percent: self.opt_f("five_hour_used_percent"),
                seven_day_used_percent: self.opt_f("seven_day_used_percent"),
                cost_usd: self.opt_f("cost_usd"),
            }),
            EventKind::AgentQuotaThreshold => r::record_agent_quota_threshold(&QuotaThreshold {
                session: s("session"),
                model: s("model"),
                window: QuotaWindow::from_name(s("window")).unwrap_or(QuotaWindow::FiveHour),
                threshold: s("threshold").parse().unwrap_or(0),
                used_percent: self.f("used_percent"),
                resets_at: s("resets_at"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(event: &str, attrs: &[&str]) -> Result<Emit, EmitError> {
        let attrs: Vec<String> = attrs.iter().map(|a| (*a).to_owned()).collect();
        Emit::parse(event, &attrs, None)
    }

    #[test]
    fn a_bead_became_current_at_the_start_of_its_newest_run() {
        let entry = |t: u64, bead: &str| {
            work_ledger::Entry::new(
                t,
                "s",
                work_ledger::Change {
                    bead: bead.into(),
                    ..work_ledger::Change::default()
                },
                work_ledger::Source::PrimeHook,
            )
        };
        let entries = [
            entry(1, "a"),
            entry(2, "b"),
            entry(3, "a"),
            entry(4, "a"),
            entry(5, ""),
        ];
        assert_eq!(bead_became_current(&entries, "a"), Some(3));
        assert_eq!(bead_became_current(&entries, "b"), Some(2));
        assert_eq!(bead_became_current(&entries[..1], "a"), Some(1));
        assert_eq!(bead_became_current(&entries, "c"), None);
        assert_eq!(bead_became_current(&entries, ""), None);
    }

    #[test]
    fn validation_errors() {
        assert_eq!(
            parse("nope", &[]).unwrap_err(),
            EmitError::UnknownEvent("nope".into())
        );
        assert!(matches!(
            parse("sling", &["bead"]),
            Err(EmitError::Malformed(_))
        ));
        assert!(matches!(
            parse("sling", &["color=red"]),
            Err(EmitError::UnknownAttribute { .. })
        ));
        assert!(matches!(
            parse("mol.burn", &["mol_id=m", "children_closed=many"]),
            Err(EmitError::Mistyped { .. })
        ));
        assert!(matches!(
            parse("prime", &["role=mayor", "hook_mode=yes"]),
            Err(EmitError::Mistyped { .. })
        ));
        assert!(matches!(
            parse("sling", &["status=ok"]),
            Err(EmitError::Reserved(_))
        ));
        assert!(matches!(
            parse("done", &["exit_type=MAYBE"]),
            Err(EmitError::NotAllowed { .. })
        ));
        assert!(matches!(
            parse("bd.call", &["args=list --json", "subcommand=show"]),
            Err(EmitError::NotAllowed { .. })
        ));
        assert!(parse("sling", &["bead=gt-1", "target=a=b"]).is_ok());
    }

    #[test]
    fn required_attributes_must_be_given_non_empty() {
        let err = parse("sling", &["bead=gt-1"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "event sling needs --attr target=… (required: bead, target)"
        );
        assert!(matches!(
            parse("sling", &["bead=gt-1", "target="]),
            Err(EmitError::Missing { .. })
        ));
        assert!(matches!(
            parse("agent.usage", &["session=s", "model=m", "agent_type=claude"]),
            Err(EmitError::Missing { key, .. }) if key == "role"
        ));
    }

    #[test]
    fn metric_only_labels_are_settable() {
        let usage = parse(
            "agent.usage",
            &[
                "session=s",
                "model=m",
                "agent_type=claude",
                "role=polecat",
                "rig=gastown",
            ],
        );
        assert!(usage.is_ok(), "{usage:?}");
    }

    #[test]
    fn a_failure_needs_an_event_with_an_outcome() {
        let attrs = ["bead_id=gt-1".to_owned()];
        assert_eq!(
            Emit::parse("bead.create", &attrs, Some("boom".into())).unwrap_err(),
            EmitError::NoOutcome("bead.create".into())
        );
        assert!(Emit::parse("convoy.create", &attrs, Some("boom".into())).is_ok());
        assert!(Emit::parse("bead.create", &attrs, None).is_ok());
    }
}
