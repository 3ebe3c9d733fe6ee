//! Every event of the catalogue, recorded through a real provider into a loopback receiver and
//! checked against the catalogue: body, every attribute's name, type and value, severity,
//! `run.id`, `work_*`, and the counter increment with its attributes. An event or attribute
//! missing from the recorder, or a case missing here, fails.

mod common;

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use common::{Harness, count_key, points, s};
use otlp_capture::{LogRecord, MetricKind, MetricPoint, PointValue, Value};
use telemetry_recorder::{
    AgentEvent, AgentEventType, AgentInstance, AgentStatus, AgentUsage, AttrKind, ContentSettings,
    CrewPhase, DoltHealth, Done, EventSpec, ExitType, InstrumentKind, MailMessage, MessageRole,
    MolSquash, Outcome, QuotaThreshold, QuotaWindow, Recorder, RefineryDispatch, SchedulerCycle,
    SeverityRule, WitnessPatrol, WorkContext, catalog, tool_use_content, with_run_id,
    with_work_context,
};

/// An error whose message the records must carry verbatim.
struct Failure;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bd exploded: exit status 1")
    }
}

const INFO: i32 = 9;
const ERROR: i32 = 17;

fn transcript_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)
}

fn usage_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(1_700_000_100, 42)
}

fn work() -> WorkContext {
    WorkContext {
        rig: "gastown".into(),
        bead: "gt-42".into(),
        mol: "gt-mol-1".into(),
    }
}

/// One representative call of an event and what it must produce.
struct Case {
    event: &'static str,
    record: fn(&Recorder, Outcome<'_>),
    /// Expected values of the event's own attributes (status, error, run.id and work_* are
    /// checked generically unless listed here).
    attrs: Vec<(&'static str, Value)>,
    /// Expected counter attributes besides `status`.
    labels: Vec<(&'static str, Value)>,
}

fn case(
    event: &'static str,
    record: fn(&Recorder, Outcome<'_>),
    attrs: &[(&'static str, Value)],
    labels: &[(&'static str, Value)],
) -> Case {
    Case {
        event,
        record,
        attrs: attrs.to_vec(),
        labels: labels.to_vec(),
    }
}

#[allow(clippy::too_many_lines)] // One entry per event of the contract, in its order.
fn cases() -> Vec<Case> {
    let toast = "gastown/polecats/Toast";
    vec![
        case(
            "bd.call",
            |r, o| {
                r.bd_call(
                    &["show", "gt-42", "--json"],
                    Duration::from_micros(12_500),
                    o,
                    b"out",
                    b"err",
                )
            },
            &[
                ("subcommand", s("show")),
                ("args", s("show gt-42 --json")),
                ("duration_ms", Value::Double(12.5)),
                ("stdout", s("out")),
                ("stderr", s("err")),
            ],
            &[("subcommand", s("show"))],
        ),
        case(
            "session.start",
            |r, o| r.session_start("gt-gastown-Toast", "gastown/polecats/Toast", o),
            &[("session_id", s("gt-gastown-Toast")), ("role", s(toast))],
            &[("role", s(toast))],
        ),
        case(
            "session.stop",
            |r, o| r.session_stop("hq-mayor", o),
            &[("session_id", s("hq-mayor"))],
            &[],
        ),
        case(
            "prompt.send",
            |r, o| r.prompt_send("gt-gastown-Toast", "hello ⏎", Duration::from_millis(150), o),
            &[
                ("session", s("gt-gastown-Toast")),
                ("keys_len", Value::Int(9)),
                ("debounce_ms", Value::Int(150)),
                ("keys", s("hello ⏎")),
            ],
            &[],
        ),
        case(
            "agent.instantiate",
            |r, _| {
                r.agent_instantiate(&AgentInstance {
                    run_id: "run-child",
                    town_root: "/home/gt/town",
                    agent_type: "claudecode",
                    role: "gastown/polecats/Toast",
                    agent_name: "Toast",
                    session_id: "gt-gastown-Toast",
                    rig: "gastown",
                    issue_id: "gt-42",
                    git_branch: "polecat/Toast",
                    git_commit: "abc123",
                });
            },
            &[
                ("run.id", s("run-child")),
                ("instance", s("testhost:town")),
                ("town_root", s("/home/gt/town")),
                ("agent_type", s("claudecode")),
                ("role", s(toast)),
                ("agent_name", s("Toast")),
                ("session_id", s("gt-gastown-Toast")),
                ("rig", s("gastown")),
                ("issue_id", s("gt-42")),
                ("git_branch", s("polecat/Toast")),
                ("git_commit", s("abc123")),
            ],
            &[
                ("agent_type", s("claudecode")),
                ("role", s(toast)),
                ("rig", s("gastown")),
            ],
        ),
        case(
            "mail",
            |r, o| {
                let msg = MailMessage {
                    id: "m-1",
                    from: "mayor",
                    to: &["Toast", "max"],
                    subject: "hi",
                    thread_id: "t-1",
                    priority: "high",
                    kind: "task",
                    body: "body text",
                };
                r.mail("send", Some(&msg), o);
            },
            &[
                ("operation", s("send")),
                ("msg.id", s("m-1")),
                ("msg.from", s("mayor")),
                ("msg.to", s("Toast,max")),
                ("msg.subject", s("hi")),
                ("msg.thread_id", s("t-1")),
                ("msg.priority", s("high")),
                ("msg.type", s("task")),
                ("msg.body", s("body text")),
            ],
            &[("operation", s("send"))],
        ),
        case(
            "prime",
            |r, o| r.prime("mayor", true, o),
            &[("role", s("mayor")), ("hook_mode", Value::Bool(true))],
            &[("role", s("mayor")), ("hook_mode", Value::Bool(true))],
        ),
        case(
            "prime.context",
            |r, _| r.prime_context("mayor", true, "# Formula\nstep 1"),
            &[
                ("role", s("mayor")),
                ("hook_mode", Value::Bool(true)),
                ("formula", s("# Formula\nstep 1")),
            ],
            &[],
        ),
        case(
            "agent.state_change",
            |r, o| r.agent_state_change("gastown/polecats/Toast", "working", Some("gt-42"), o),
            &[
                ("agent_id", s(toast)),
                ("new_state", s("working")),
                ("hook_bead", s("gt-42")),
            ],
            &[("new_state", s("working"))],
        ),
        case(
            "polecat.spawn",
            |r, o| r.polecat_spawn("Toast", o),
            &[("name", s("Toast"))],
            &[],
        ),
        case(
            "polecat.remove",
            |r, o| r.polecat_remove("Nux", o),
            &[("name", s("Nux"))],
            &[],
        ),
        case(
            "sling",
            |r, o| r.sling("gt-42", "gastown/polecats/Toast", o),
            &[("bead", s("gt-42")), ("target", s(toast))],
            &[],
        ),
        case(
            "nudge",
            |r, o| r.nudge("gastown/witness", o),
            &[("target", s("gastown/witness"))],
            &[],
        ),
        case(
            "done",
            |r, o| {
                r.done(
                    &Done {
                        exit_type: ExitType::Escalated,
                        rig: "gastown",
                        bead_id: "gt-42",
                        time_to_complete_ms: Some(1500),
                    },
                    o,
                );
            },
            &[
                ("exit_type", s("ESCALATED")),
                ("rig", s("gastown")),
                ("bead_id", s("gt-42")),
                ("time_to_complete_ms", Value::Int(1500)),
            ],
            &[("exit_type", s("ESCALATED"))],
        ),
        case(
            "daemon.restart",
            |r, _| r.daemon_restart("claudecode"),
            &[("agent_type", s("claudecode"))],
            &[("agent_type", s("claudecode"))],
        ),
        case(
            "formula.instantiate",
            |r, o| r.formula_instantiate("mol-polecat-work", "gt-43", o),
            &[
                ("formula_name", s("mol-polecat-work")),
                ("bead_id", s("gt-43")),
            ],
            &[("formula", s("mol-polecat-work"))],
        ),
        case(
            "convoy.create",
            |r, o| r.convoy_create("hq-cv-1", o),
            &[("bead_id", s("hq-cv-1"))],
            &[],
        ),
        case(
            "mol.cook",
            |r, o| r.mol_cook("mol-release", o),
            &[("formula_name", s("mol-release"))],
            &[("formula", s("mol-release"))],
        ),
        case(
            "mol.wisp",
            |r, o| r.mol_wisp("mol-patrol", "gt-wisp-1", "gt-44", o),
            &[
                ("formula_name", s("mol-patrol")),
                ("wisp_root_id", s("gt-wisp-1")),
                ("bead_id", s("gt-44")),
            ],
            &[("formula", s("mol-patrol"))],
        ),
        case(
            "mol.squash",
            |r, o| {
                let squash = MolSquash {
                    mol_id: "gt-mol-1",
                    done_steps: 3,
                    total_steps: 5,
                    digest_created: true,
                };
                r.mol_squash(&squash, o);
            },
            &[
                ("mol_id", s("gt-mol-1")),
                ("done_steps", Value::Int(3)),
                ("total_steps", Value::Int(5)),
                ("digest_created", Value::Bool(true)),
            ],
            &[],
        ),
        case(
            "mol.burn",
            |r, o| r.mol_burn("gt-mol-2", 4, o),
            &[
                ("mol_id", s("gt-mol-2")),
                ("children_closed", Value::Int(4)),
            ],
            &[],
        ),
        case(
            "bead.create",
            |r, _| r.bead_create("gt-45", "gt-40", "mol-polecat-work"),
            &[
                ("bead_id", s("gt-45")),
                ("parent_id", s("gt-40")),
                ("mol_source", s("mol-polecat-work")),
            ],
            &[("mol_source", s("mol-polecat-work"))],
        ),
        case(
            "pane.output",
            |r, _| r.pane_output("gt-gastown-Toast", "$ ls\nsrc"),
            &[
                ("session", s("gt-gastown-Toast")),
                ("content", s("$ ls\nsrc")),
            ],
            &[("session", s("gt-gastown-Toast"))],
        ),
        case(
            "agent.event",
            |r, _| {
                let content = tool_use_content("Bash", r#"{"command":"ls"}"#);
                r.agent_event(&AgentEvent {
                    session: "gt-gastown-Toast",
                    native_session_id: "sess-1",
                    agent_type: "claudecode",
                    event_type: AgentEventType::ToolUse,
                    role: MessageRole::Assistant,
                    content: &content,
                    record_id: "9a3b59e7-751d-5a56-9e31-43b1e4007d2b",
                    timestamp: transcript_time(),
                });
            },
            &[
                ("session", s("gt-gastown-Toast")),
                ("agent_type", s("claudecode")),
                ("event_type", s("tool_use")),
                ("role", s("assistant")),
                ("content", s(r#"Bash: {"command":"ls"}"#)),
                ("native_session_id", s("sess-1")),
                ("record.id", s("9a3b59e7-751d-5a56-9e31-43b1e4007d2b")),
            ],
            &[
                ("session", s("gt-gastown-Toast")),
                ("event_type", s("tool_use")),
                ("role", s("assistant")),
            ],
        ),
        case(
            "agent.usage",
            |r, _| r.agent_usage(&usage()),
            &[
                ("session", s("gt-gastown-Toast")),
                ("native_session_id", s("sess-1")),
                ("record.id", s("0d6b3c1e-2f4a-5b8c-9d0e-1f2a3b4c5d6e")),
                ("message_id", s("msg_01")),
                ("request_id", s("req_01")),
                ("input_tokens", Value::Int(1200)),
                ("output_tokens", Value::Int(340)),
                ("cache_read_tokens", Value::Int(5000)),
                ("cache_creation_tokens", Value::Int(800)),
                ("model", s("claude-opus-4")),
                ("cost_usd", Value::Double(0.0425)),
                ("cache_creation_5m_tokens", Value::Int(300)),
                ("cache_creation_1h_tokens", Value::Int(500)),
                ("cost_source", s("local")),
                ("pricing_version", s("2026-11-26")),
            ],
            &[
                ("session", s("gt-gastown-Toast")),
                ("event_type", s("usage")),
                ("role", s(toast)),
            ],
        ),
        case(
            "pane.read",
            |r, o| r.pane_read("gt-gastown-Toast", 50, 1234, o),
            &[
                ("session", s("gt-gastown-Toast")),
                ("lines_requested", Value::Int(50)),
                ("content_len", Value::Int(1234)),
            ],
            &[],
        ),
        case(
            "refinery.dispatch",
            |r, o| {
                r.refinery_dispatch(
                    &RefineryDispatch {
                        rig: "gastown",
                        bead_id: "gt-7",
                        queue_depth: 3,
                        wait: Duration::from_millis(90_000),
                        duration: Duration::from_micros(1500),
                    },
                    o,
                );
            },
            &[
                ("rig", s("gastown")),
                ("bead_id", s("gt-7")),
                ("queue_depth", Value::Int(3)),
                ("wait_ms", Value::Int(90_000)),
                ("duration_ms", Value::Double(1.5)),
            ],
            &[("rig", s("gastown"))],
        ),
        case(
            "refinery.queue",
            |r, _| r.refinery_queue("gastown", 4, Some(Duration::from_secs(60))),
            &[
                ("rig", s("gastown")),
                ("queue_depth", Value::Int(4)),
                ("oldest_age_ms", Value::Int(60_000)),
            ],
            &[],
        ),
        case(
            "scheduler.dispatch_cycle",
            |r, o| {
                r.scheduler_dispatch_cycle(
                    &SchedulerCycle {
                        dispatched: 2,
                        failed: 1,
                        skipped: 3,
                        queue_depth: 6,
                        capacity_usage: 0.75,
                        duration: Duration::from_millis(20),
                    },
                    o,
                );
            },
            &[
                ("dispatched", Value::Int(2)),
                ("failed", Value::Int(1)),
                ("skipped", Value::Int(3)),
                ("queue_depth", Value::Int(6)),
                ("capacity_usage", Value::Double(0.75)),
                ("duration_ms", Value::Double(20.0)),
            ],
            &[],
        ),
        case(
            "witness.patrol",
            |r, o| {
                r.witness_patrol(
                    &WitnessPatrol {
                        rig: "gastown",
                        duration: Duration::from_millis(250),
                        stale_count: 2,
                        restart_count: 1,
                    },
                    o,
                );
            },
            &[
                ("rig", s("gastown")),
                ("duration_ms", Value::Double(250.0)),
                ("stale_count", Value::Int(2)),
                ("restart_count", Value::Int(1)),
            ],
            &[("rig", s("gastown"))],
        ),
        case(
            "deacon.transition",
            |r, _| r.deacon_transition("healthy", "degraded", "missed 3 heartbeats"),
            &[
                ("from_state", s("healthy")),
                ("to_state", s("degraded")),
                ("reason", s("missed 3 heartbeats")),
            ],
            &[("from_state", s("healthy")), ("to_state", s("degraded"))],
        ),
        case(
            "crew.cycle",
            |r, o| r.crew_cycle("max", "gastown", CrewPhase::Push, o),
            &[
                ("crew", s("max")),
                ("rig", s("gastown")),
                ("phase", s("push")),
            ],
            &[("phase", s("push"))],
        ),
        case(
            "git.operation",
            |r, o| {
                r.git_operation(
                    "fetch",
                    "/home/gt/town/gastown.git",
                    Duration::from_millis(8),
                    o,
                )
            },
            &[
                ("op", s("fetch")),
                ("repo", s("gastown")),
                ("duration_ms", Value::Double(8.0)),
            ],
            &[],
        ),
        case(
            "dolt.health",
            |r, o| {
                r.dolt_health(
                    &DoltHealth {
                        server: "127.0.0.1:3306",
                        latency: Some(Duration::from_micros(2500)),
                        connections: Some(7),
                        max_connections: Some(151),
                        replication_lag: Some(Duration::from_millis(40)),
                    },
                    o,
                );
            },
            &[
                ("server", s("127.0.0.1:3306")),
                ("latency_ms", Value::Double(2.5)),
                ("connections", Value::Int(7)),
                ("max_connections", Value::Int(151)),
                ("replication_lag_ms", Value::Double(40.0)),
            ],
            &[],
        ),
        case(
            "agent.status",
            |r, _| {
                r.agent_status(&AgentStatus {
                    session: "gt-gastown-Toast",
                    model: "claude-opus-4",
                    context_used_percent: Some(42.5),
                    five_hour_used_percent: Some(81.0),
                    seven_day_used_percent: Some(12.0),
                    cost_usd: Some(0.5),
                });
            },
            &[
                ("session", s("gt-gastown-Toast")),
                ("model", s("claude-opus-4")),
                ("context_used_percent", Value::Double(42.5)),
                ("five_hour_used_percent", Value::Double(81.0)),
                ("seven_day_used_percent", Value::Double(12.0)),
                ("cost_usd", Value::Double(0.5)),
            ],
            &[],
        ),
        case(
            "agent.quota_threshold",
            |r, _| {
                r.agent_quota_threshold(&QuotaThreshold {
                    session: "gt-gastown-Toast",
                    model: "claude-opus-4",
                    window: QuotaWindow::FiveHour,
                    threshold: 80,
                    used_percent: 81.0,
                    resets_at: "2026-11-30T12:00:00Z",
                });
            },
            &[
                ("session", s("gt-gastown-Toast")),
                ("model", s("claude-opus-4")),
                ("window", s("five_hour")),
                ("threshold", s("80")),
                ("used_percent", Value::Double(81.0)),
                ("resets_at", s("2026-11-30T12:00:00Z")),
            ],
            &[("window", s("five_hour")), ("threshold", s("80"))],
        ),
    ]
}

fn usage() -> AgentUsage<'static> {
    AgentUsage {
        session: "gt-gastown-Toast",
        native_session_id: "sess-1",
        agent_type: "claudecode",
        model: "claude-opus-4",
        record_id: "0d6b3c1e-2f4a-5b8c-9d0e-1f2a3b4c5d6e",
        message_id: "msg_01",
        request_id: "req_01",
        role: "gastown/polecats/Toast",
        rig: "gastown",
        input_tokens: 1200,
        output_tokens: 340,
        cache_read_tokens: 5000,
        cache_creation_tokens: 800,
        cache_creation_5m_tokens: Some(300),
        cache_creation_1h_tokens: Some(500),
        cost_usd: Some(0.0425),
        cost_source: "local",
        pricing_version: "2026-11-26",
        timestamp: usage_time(),
    }
}

fn kind_matches(kind: AttrKind, value: &Value) -> bool {
    matches!(
        (kind, value),
        (AttrKind::Str, Value::Str(_))
            | (AttrKind::Int, Value::Int(_))
            | (AttrKind::Double, Value::Double(_))
            | (AttrKind::Bool, Value::Bool(_))
    )
}

/// Checks one record against the catalogue and the case.
fn check_record(spec: &EventSpec, case: &Case, record: &LogRecord, run_id: &str, failed: bool) {
    let name = spec.name;
    assert_eq!(record.body, Some(s(name)), "{name}: body");
    let number = if failed && spec.severity == SeverityRule::ByOutcome {
        ERROR
    } else {
        INFO
    };
    // Only the number: the text stays unset, as the Go original leaves it.
    assert_eq!(
        (record.severity_number, record.severity_text.as_str()),
        (number, ""),
        "{name}"
    );

    let ctx = work();
    let generic = |key: &str| -> Option<Value> {
        match key {
            "status" => Some(s(if failed { "error" } else { "ok" })),
            "error" => Some(s(if failed {
                "bd exploded: exit status 1"
            } else {
                ""
            })),
            "run.id" => Some(s(run_id)),
            "work_rig" => Some(s(&ctx.rig)),
            "work_bead" => Some(s(&ctx.bead)),
            "work_mol" => Some(s(&ctx.mol)),
            _ => None,
        }
    };
    let correlation = catalog().correlation;
    // Metric-only inputs label the metrics (checked there), never the record.
    let on_record = || spec.attributes.iter().filter(|a| a.on_record());
    let expected_keys: HashSet<&str> = on_record().chain(correlation).map(|a| a.name).collect();
    for attr in on_record().chain(correlation) {
        let expected = case
            .attrs
            .iter()
            .find(|(k, _)| *k == attr.name)
            .map(|(_, v)| v.clone())
            .or_else(|| generic(attr.name))
            .unwrap_or_else(|| panic!("{name}: the case gives no value for `{}`", attr.name));
        assert_eq!(
            count_key(record, attr.name),
            1,
            "{name}: `{}` exactly once",
            attr.name
        );
        let got = record.attr(attr.name).unwrap();
        assert!(
            kind_matches(attr.kind, got),
            "{name}: `{}` is {got:?}, not {:?}",
            attr.name,
            attr.kind
        );
        assert_eq!(got, &expected, "{name}: `{}`", attr.name);
    }
    for (key, _) in &record.attributes {
        assert!(
            expected_keys.contains(key.as_str()),
            "{name}: uncatalogued attribute `{key}`"
        );
    }
    for (key, _) in &case.attrs {
        assert!(
            spec.attribute(key).is_some(),
            "{name}: case value for uncatalogued `{key}`"
        );
    }
}

/// Checks the event's counter got exactly one increment per outcome, with exactly the
/// catalogued attributes, and that every other instrument it names has its points.
fn check_metrics(spec: &EventSpec, case: &Case, metrics: &[MetricPoint], outcomes: &[bool]) {
    let name = spec.name;
    let cat = catalog();
    if let Some(counter) = spec.counter {
        let inst = cat.instrument(counter).unwrap();
        for &failed in outcomes {
            let mut labels = case.labels.clone();
            if inst.attributes.contains(&"status") {
                labels.push(("status", s(if failed { "error" } else { "ok" })));
            }
            let keys: HashSet<&str> = labels.iter().map(|(k, _)| *k).collect();
            let catalogued: HashSet<&str> = inst.attributes.iter().copied().collect();
            assert_eq!(keys, catalogued, "{name}: labels of {counter}");
            for key in inst.bool_attributes {
                assert!(matches!(
                    labels.iter().find(|(k, _)| k == key),
                    Some((_, Value::Bool(_)))
                ));
            }
            let found = points(metrics, counter, &labels);
            assert_eq!(
                found.len(),
                1,
                "{name}: one {counter} point with {labels:?}"
            );
            let p = found[0];
            assert_eq!(p.value, PointValue::Int(1), "{name}: {counter} +1");
            assert_eq!(
                (p.unit.as_str(), p.kind, p.is_monotonic),
                (inst.unit, MetricKind::Sum, Some(true))
            );
        }
    }
    for inst_name in spec.instruments {
        let inst = cat.instrument(inst_name).unwrap();
        let of_inst: Vec<_> = metrics.iter().filter(|p| p.name == *inst_name).collect();
        assert!(!of_inst.is_empty(), "{name}: nothing on {inst_name}");
        let catalogued: HashSet<&str> = inst.attributes.iter().copied().collect();
        for p in of_inst {
            let keys: HashSet<&str> = p.attributes.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, catalogued, "{inst_name}: attributes");
            assert_eq!(p.unit, inst.unit, "{inst_name}: unit");
            let kind = match inst.kind {
                InstrumentKind::Counter => MetricKind::Sum,
                InstrumentKind::Histogram => MetricKind::Histogram,
                InstrumentKind::Gauge => MetricKind::Gauge,
            };
            assert_eq!(p.kind, kind, "{inst_name}: kind");
            if inst.kind == InstrumentKind::Counter {
                assert_eq!(p.is_monotonic, Some(true), "{inst_name}: monotonic");
            }
        }
    }
}

#[test]
fn every_catalogued_event_records_its_catalogued_shape() {
    let h = Harness::start();
    let recorder = h.recorder(ContentSettings::all_enabled());
    let cases = cases();
    let cat = catalog();
    for spec in cat.events {
        assert!(
            cases.iter().any(|c| c.event == spec.name),
            "no test case for `{}`",
            spec.name
        );
    }
    with_work_context(&work(), || {
        for c in &cases {
            assert!(
                cat.event(c.event).is_some(),
                "case for uncatalogued `{}`",
                c.event
            );
            with_run_id(&format!("run-ok-{}", c.event), || {
                (c.record)(&recorder, Ok(()))
            });
            with_run_id(&format!("run-err-{}", c.event), || {
                (c.record)(&recorder, Err(&Failure))
            });
        }
    });
    let (logs, metrics) = h.finish();

    for c in &cases {
        let spec = cat.event(c.event).unwrap();
        let records: Vec<_> = logs
            .iter()
            .filter(|r| r.body_str() == Some(spec.name))
            .collect();
        assert_eq!(records.len(), 2, "{}: one record per call", spec.name);
        let by_outcome = spec.severity == SeverityRule::ByOutcome;
        for failed in [false, true] {
            let scope_run = format!("run-{}-{}", if failed { "err" } else { "ok" }, spec.name);
            let run_id = c
                .attrs
                .iter()
                .find(|(k, _)| *k == "run.id")
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
                .unwrap_or(scope_run);
            let status = if failed { "error" } else { "ok" };
            let record = records
                .iter()
                .find(|r| {
                    r.str_attr("run.id") == Some(run_id.as_str())
                        && (!by_outcome || r.str_attr("status") == Some(status))
                })
                .unwrap_or_else(|| {
                    panic!(
                        "{}: no record with run.id {run_id}: {records:#?}",
                        spec.name
                    )
                });
            check_record(spec, c, record, &run_id, failed);
        }
        let outcomes: &[bool] = if spec.severity == SeverityRule::ByOutcome {
            &[false, true]
        } else {
            &[]
        };
        if spec.severity == SeverityRule::ByOutcome {
            check_metrics(spec, c, &metrics, outcomes);
        } else if let Some(counter) = spec.counter {
            // Outcome-free events were recorded twice with the same attributes.
            let labels = c.labels.clone();
            let found = points(&metrics, counter, &labels);
            assert_eq!(found.len(), 1, "{}: {counter} with {labels:?}", spec.name);
            assert_eq!(
                found[0].value,
                PointValue::Int(2),
                "{}: {counter} +1 per call",
                spec.name
            );
            check_metrics(spec, c, &metrics, &[]);
        } else {
            check_metrics(spec, c, &metrics, &[]);
        }
    }
}

#[test]
fn agent_timestamps_are_the_transcript_times() {
    let h = Harness::start();
    let recorder = h.recorder(ContentSettings::all_enabled());
    let cases = cases();
    for c in cases
        .iter()
        .filter(|c| c.event.starts_with("agent.e") || c.event == "agent.usage")
    {
        (c.record)(&recorder, Ok(()));
    }
    let (logs, _) = h.finish();
    let nanos = |t: SystemTime| {
        u64::try_from(t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos()).unwrap()
    };
    let event = logs
        .iter()
        .find(|r| r.body_str() == Some("agent.event"))
        .expect("agent.event");
    assert_eq!(event.time_unix_nano, nanos(transcript_time()));
    let usage = logs
        .iter()
        .find(|r| r.body_str() == Some("agent.usage"))
        .expect("agent.usage");
    assert_eq!(usage.time_unix_nano, nanos(usage_time()));
}

#[test]
fn agent_usage_counts_tokens_by_type_and_accumulates_cost() {
    let h = Harness::start();
    let recorder = h.recorder(ContentSettings::default());
    recorder.agent_usage(&usage());
    recorder.agent_usage(&AgentUsage {
        cost_usd: Some(0.0075),
        cache_creation_5m_tokens: None,
        ..usage()
    });
    let (logs, metrics) = h.finish();

    let common = [
        ("model", s("claude-opus-4")),
        ("agent_type", s("claudecode")),
        ("rig", s("gastown")),
        ("role", s("gastown/polecats/Toast")),
    ];
    for (kind, per_report) in [
        ("input", 1200),
        ("output", 340),
        ("cache_read", 5000),
        ("cache_creation", 800),
    ] {
        let mut attrs = vec![("type", s(kind))];
        attrs.extend(common.iter().cloned());
        let found = points(&metrics, "gastown.token.usage", &attrs);
        assert_eq!(found.len(), 1, "{kind}");
        assert_eq!(found[0].value, PointValue::Int(2 * per_report), "{kind}");
        assert_eq!(found[0].unit, "{token}");
    }
    let cost = points(&metrics, "gastown.token.cost_usd", &common);
    assert_eq!(cost.len(), 1);
    assert_eq!(
        (cost[0].kind, cost[0].is_monotonic, cost[0].unit.as_str()),
        (MetricKind::Sum, Some(true), "{USD}")
    );
    let total = cost[0].as_f64().unwrap();
    assert!((total - 0.05).abs() < 1e-9, "{total}");

    // The optional cache split is recorded only when given.
    let usage_logs: Vec<_> = logs
        .iter()
        .filter(|r| r.body_str() == Some("agent.usage"))
        .collect();
    assert_eq!(usage_logs.len(), 2);
    let without = usage_logs
        .iter()
        .find(|r| r.attr("cost_usd") == Some(&Value::Double(0.0075)))
        .unwrap();
    assert!(without.attr("cache_creation_5m_tokens").is_none());
    assert_eq!(
        without.attr("cache_creation_1h_tokens"),
        Some(&Value::Int(500))
    );
}

#[test]
fn bd_duration_histogram_records_milliseconds() {
    let h = Harness::start();
    let recorder = h.recorder(ContentSettings::default());
    recorder.bd_call(&["list"], Duration::from_millis(40), Ok(()), b"", b"");
    recorder.bd_call(&["list"], Duration::from_micros(2_500), Ok(()), b"", b"");
    recorder.bd_call(&[], Duration::ZERO, Err(&Failure), b"", b"");
    let (logs, metrics) = h.finish();

    let hist = points(
        &metrics,
        "gastown.bd.duration_ms",
        &[("status", s("ok")), ("subcommand", s("list"))],
    );
    assert_eq!(hist.len(), 1);
    match &hist[0].value {
        PointValue::Histogram { count, sum, .. } => {
            assert_eq!(*count, 2);
            assert!((sum.unwrap() - 42.5).abs() < 1e-9);
        }
        other => panic!("not a histogram: {other:?}"),
    }
    assert_eq!(hist[0].unit, "ms");
    // No arguments: empty subcommand and args, still one consistent record.
    let empty = logs
        .iter()
        .find(|r| r.attr("status") == Some(&s("error")))
        .unwrap();
    assert_eq!(
        (empty.str_attr("subcommand"), empty.str_attr("args")),
        (Some(""), Some(""))
    );
}
