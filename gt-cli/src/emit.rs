//! `gt otel emit`: any catalogued event from a shell script or hook, validated against the
//! recorder's catalogue before anything is recorded.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use telemetry_recorder::catalog::{AttrKind, EventSpec};
use telemetry_recorder::{
    AgentEvent, AgentEventType, AgentInstance, AgentUsage, ExitType, MailMessage, MessageRole,
    MolSquash, Outcome,
};

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
    spec: &'static EventSpec,
    values: BTreeMap<String, String>,
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
    /// Validates `event` and its `key=value` attributes against the catalogue.
    ///
    /// # Errors
    /// [`EmitError`] for an unknown event, an unknown, reserved or mistyped attribute.
    pub fn parse(event: &str, attrs: &[String]) -> Result<Self, EmitError> {
        let spec = telemetry_recorder::catalog()
            .event(event)
            .ok_or_else(|| EmitError::UnknownEvent(event.to_owned()))?;
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
        let emit = Self { spec, values };
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

    fn b(&self, key: &str) -> bool {
        self.s(key) == "true"
    }

    fn exit_type(&self) -> Option<ExitType> {
        match self.s("exit_type") {
            "COMPLETED" | "" => Some(ExitType::Completed),
            "ESCALATED" => Some(ExitType::Escalated),
            "DEFERRED" => Some(ExitType::Deferred),
            _ => None,
        }
    }

    fn event_type(&self) -> Option<AgentEventType> {
        match self.s("event_type") {
            "text" | "" => Some(AgentEventType::Text),
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
        match self.spec.name {
            "done" if self.exit_type().is_none() => {
                refuse("exit_type", "COMPLETED, ESCALATED, DEFERRED")
            }
            "agent.event" if self.event_type().is_none() => {
                refuse("event_type", "text, tool_use, tool_result, thinking")
            }
            "agent.event" if self.message_role().is_none() => refuse("role", "assistant, user"),
            _ => Ok(()),
        }
    }

    /// Records the event through the typed recorder function, with `outcome`.
    pub fn record(&self, outcome: Outcome<'_>) {
        use telemetry_recorder as r;
        let s = |k| self.s(k);
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
        match self.spec.name {
            "bd.call" => {
                let args: Vec<&str> = s("args").split_whitespace().collect();
                let args = if args.is_empty() && !s("subcommand").is_empty() {
                    vec![s("subcommand")]
                } else {
                    args
                };
                let duration = Duration::from_secs_f64(self.f("duration_ms").max(0.0) / 1000.0);
                r::record_bd_call(
                    &args,
                    duration,
                    outcome,
                    s("stdout").as_bytes(),
                    s("stderr").as_bytes(),
                );
            }
            "session.start" => r::record_session_start(s("session_id"), s("role"), outcome),
            "session.stop" => r::record_session_stop(s("session_id"), outcome),
            "prompt.send" => {
                r::record_prompt_send(
                    s("session"),
                    s("keys"),
                    Duration::from_millis(self.n("debounce_ms")),
                    outcome,
                );
            }
            "agent.instantiate" => r::record_agent_instantiate(&AgentInstance {
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
            "mail" => {
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
            "prime" => r::record_prime(s("role"), self.b("hook_mode"), outcome),
            "prime.context" => {
                r::record_prime_context(s("role"), self.b("hook_mode"), s("formula"))
            }
            "agent.state_change" => {
                let hook = Some(s("hook_bead")).filter(|h| !h.is_empty());
                r::record_agent_state_change(s("agent_id"), s("new_state"), hook, outcome);
            }
            "polecat.spawn" => r::record_polecat_spawn(s("name"), outcome),
            "polecat.remove" => r::record_polecat_remove(s("name"), outcome),
            "sling" => r::record_sling(s("bead"), s("target"), outcome),
            "nudge" => r::record_nudge(s("target"), outcome),
            "done" => r::record_done(self.exit_type().unwrap_or(ExitType::Completed), outcome),
            "daemon.restart" => r::record_daemon_restart(s("agent_type")),
            "formula.instantiate" => {
                r::record_formula_instantiate(s("formula_name"), s("bead_id"), outcome)
            }
            "convoy.create" => r::record_convoy_create(s("bead_id"), outcome),
            "mol.cook" => r::record_mol_cook(s("formula_name"), outcome),
            "mol.wisp" => {
                r::record_mol_wisp(s("formula_name"), s("wisp_root_id"), s("bead_id"), outcome)
            }
            "mol.squash" => r::record_mol_squash(
                &MolSquash {
                    mol_id: s("mol_id"),
                    done_steps: self.n("done_steps"),
                    total_steps: self.n("total_steps"),
                    digest_created: self.b("digest_created"),
                },
                outcome,
            ),
            "mol.burn" => r::record_mol_burn(s("mol_id"), self.n("children_closed"), outcome),
            "bead.create" => r::record_bead_create(s("bead_id"), s("parent_id"), s("mol_source")),
            "pane.output" => r::record_pane_output(s("session"), s("content")),
            "agent.event" => r::record_agent_event(&AgentEvent {
                session: s("session"),
                native_session_id: s("native_session_id"),
                agent_type: s("agent_type"),
                event_type: self.event_type().unwrap_or(AgentEventType::Text),
                role: self.message_role().unwrap_or(MessageRole::Assistant),
                content: s("content"),
                timestamp: SystemTime::now(),
            }),
            "agent.usage" => r::record_agent_usage(&AgentUsage {
                session: s("session"),
                native_session_id: s("native_session_id"),
                agent_type: s("agent_type"),
                model: s("model"),
                role: s("role"),
                rig: s("rig"),
                input_tokens: self.n("input_tokens"),
                output_tokens: self.n("output_tokens"),
                cache_read_tokens: self.n("cache_read_tokens"),
                cache_creation_tokens: self.n("cache_creation_tokens"),
                cache_creation_5m_tokens: self.opt_n("cache_creation_5m_tokens"),
                cache_creation_1h_tokens: self.opt_n("cache_creation_1h_tokens"),
                cost_usd: self.values.get("cost_usd").and_then(|v| v.parse().ok()),
                timestamp: SystemTime::now(),
            }),
            other => eprintln!(
                "gt otel emit: {other} is catalogued but has no emitter; please report this"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors() {
        assert_eq!(
            Emit::parse("nope", &[]).unwrap_err(),
            EmitError::UnknownEvent("nope".into())
        );
        assert!(matches!(
            Emit::parse("sling", &["bead".into()]),
            Err(EmitError::Malformed(_))
        ));
        assert!(matches!(
            Emit::parse("sling", &["color=red".into()]),
            Err(EmitError::UnknownAttribute { .. })
        ));
        assert!(matches!(
            Emit::parse("mol.burn", &["children_closed=many".into()]),
            Err(EmitError::Mistyped { .. })
        ));
        assert!(matches!(
            Emit::parse("prime", &["hook_mode=yes".into()]),
            Err(EmitError::Mistyped { .. })
        ));
        assert!(matches!(
            Emit::parse("sling", &["status=ok".into()]),
            Err(EmitError::Reserved(_))
        ));
        assert!(matches!(
            Emit::parse("done", &["exit_type=MAYBE".into()]),
            Err(EmitError::NotAllowed { .. })
        ));
        assert!(Emit::parse("sling", &["bead=gt-1".into(), "target=a=b".into()]).is_ok());
    }

    #[test]
    fn every_catalogued_event_has_an_emitter() {
        let source = include_str!("emit.rs");
        for event in telemetry_recorder::catalog().events {
            assert!(
                source.contains(&format!("\"{}\" =>", event.name)),
                "{} has no arm",
                event.name
            );
        }
    }
}
