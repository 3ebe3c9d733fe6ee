//! Content gates, truncation and correlation, end to end through a loopback receiver.

mod common;

use std::time::{Duration, SystemTime};

use common::{Harness, bodies, count_key, points, record_with, s};
use telemetry_recorder::{
    AgentEvent, AgentEventType, AgentInstance, ContentSettings, MailMessage, MessageRole,
    WorkContext, with_run_id, with_work_context,
};

fn message(body: &str) -> MailMessage<'_> {
    MailMessage {
        id: "m-1",
        from: "mayor",
        to: &["Toast"],
        subject: "s",
        thread_id: "t",
        priority: "normal",
        kind: "task",
        body,
    }
}

fn agent_event(content: &str) -> AgentEvent<'_> {
    AgentEvent {
        session: "gt-gastown-Toast",
        native_session_id: "n-1",
        agent_type: "claudecode",
        event_type: AgentEventType::Text,
        role: MessageRole::Assistant,
        content,
        record_id: "r-1",
        timestamp: SystemTime::now(),
    }
}

#[test]
fn closed_gates_hide_content_and_gated_events() {
    let h = Harness::start();
    let r = h.recorder(ContentSettings::default());
    r.bd_call(
        &["show"],
        Duration::from_millis(1),
        Ok(()),
        b"secret out",
        b"secret err",
    );
    r.prompt_send("sess", "secret keys", Duration::ZERO, Ok(()));
    r.mail("send", Some(&message("secret body")), Ok(()));
    r.prime_context("mayor", false, "secret formula");
    r.pane_output("sess", "secret pane");
    r.agent_event(&agent_event("secret thought"));
    let (logs, metrics) = h.finish();

    let bd = &bodies(&logs, "bd.call")[0];
    assert!(bd.attr("stdout").is_none() && bd.attr("stderr").is_none());
    let prompt = &bodies(&logs, "prompt.send")[0];
    assert!(prompt.attr("keys").is_none());
    assert_eq!(
        prompt.attr("keys_len"),
        Some(&otlp_capture::Value::Int(11)),
        "length is not content"
    );
    let mail = &bodies(&logs, "mail")[0];
    assert!(mail.attr("msg.body").is_none());
    assert_eq!(
        mail.str_attr("msg.id"),
        Some("m-1"),
        "the message itself is recorded"
    );
    for gated in ["prime.context", "pane.output", "agent.event"] {
        assert!(
            bodies(&logs, gated).is_empty(),
            "{gated} emitted with its gate closed"
        );
    }
    assert!(
        metrics
            .iter()
            .all(|p| p.name != "gastown.pane.output.total")
    );
    assert!(
        metrics
            .iter()
            .all(|p| p.name != "gastown.agent.events.total")
    );
    let everything = format!("{logs:?}");
    assert!(
        !everything.contains("secret"),
        "gated content leaked: {everything}"
    );
}

#[test]
fn open_gates_include_content_truncated_to_the_limits() {
    let h = Harness::start();
    let r = h.recorder(ContentSettings {
        bd_content_limit: 10,
        agent_content_limit: 0,
        pane_content_limit: 8,
        ..ContentSettings::all_enabled()
    });
    // Invalid UTF-8 in bd output is replaced, never dropped or split.
    r.bd_call(
        &["show"],
        Duration::ZERO,
        Ok(()),
        b"abc\xffdefghijklmnop",
        b"short",
    );
    r.prompt_send("sess", &"k".repeat(300), Duration::ZERO, Ok(()));
    r.mail("send", Some(&message(&"b".repeat(300))), Ok(()));
    // "é" is 2 bytes: 8 - 3 (ellipsis) = 5 bytes room holds two of them, not a half.
    r.pane_output("sess", "ééééé");
    let long = "x".repeat(5000);
    r.agent_event(&agent_event(&long));
    r.prime_context("mayor", false, "");
    r.prime_context("mayor", false, &long);
    let (logs, _) = h.finish();

    let bd = &bodies(&logs, "bd.call")[0];
    assert_eq!(
        bd.str_attr("stdout"),
        Some("abc\u{fffd}d…"),
        "10 bytes: abc, U+FFFD (3 bytes), d, …"
    );
    assert_eq!(bd.str_attr("stderr"), Some("short"));
    let keys = bodies(&logs, "prompt.send")[0]
        .str_attr("keys")
        .unwrap()
        .to_owned();
    assert_eq!(keys, format!("{}…", "k".repeat(253)));
    assert_eq!(keys.len(), 256);
    let body = bodies(&logs, "mail")[0]
        .str_attr("msg.body")
        .unwrap()
        .to_owned();
    assert_eq!(body.len(), 256);
    assert!(body.ends_with('…'));
    assert_eq!(
        bodies(&logs, "pane.output")[0].str_attr("content"),
        Some("éé…")
    );
    assert_eq!(
        bodies(&logs, "agent.event")[0].str_attr("content"),
        Some(long.as_str()),
        "0 = no limit"
    );
    let contexts = bodies(&logs, "prime.context");
    assert_eq!(contexts.len(), 1, "an empty formula is not emitted");
    assert_eq!(
        contexts[0].str_attr("formula"),
        Some(long.as_str()),
        "never truncated"
    );
}

#[test]
fn utf8_truncation_never_exceeds_the_limit_at_any_boundary() {
    let h = Harness::start();
    let text = "a€😀b€😀c";
    for limit in 1..=text.len() + 1 {
        let r = h.recorder(ContentSettings {
            pane_content_limit: limit,
            ..ContentSettings::all_enabled()
        });
        r.pane_output(&format!("limit-{limit}"), text);
    }
    let (logs, _) = h.finish();
    for limit in 1..=text.len() + 1 {
        let content = record_with(&logs, "pane.output", "session", &format!("limit-{limit}"))
            .str_attr("content")
            .unwrap()
            .to_owned();
        assert!(
            content.len() <= limit.max(3),
            "limit {limit}: {content:?} ({} bytes)",
            content.len()
        );
        assert!(
            content.len() <= limit + 3,
            "never more than limit + 3 bytes"
        );
        match content.strip_suffix('…') {
            Some(kept) if content.as_str() != text => {
                assert!(text.starts_with(kept), "limit {limit}")
            }
            _ => assert_eq!(content, text, "limit {limit}"),
        }
    }
}

#[test]
fn run_id_comes_from_the_scope_else_the_fallback_exactly_once() {
    let h = Harness::start();
    let r = h
        .recorder(ContentSettings::default())
        .with_fallback_run_id(Some("run-env"));
    let bare = h
        .recorder(ContentSettings::default())
        .with_fallback_run_id(None);
    r.nudge("fallback", Ok(()));
    with_run_id("run-scope", || {
        r.nudge("scoped", Ok(()));
        with_run_id("run-inner", || r.nudge("inner", Ok(())));
        r.nudge("restored", Ok(()));
    });
    bare.nudge("none", Ok(()));
    let (logs, _) = h.finish();

    for (target, run) in [
        ("fallback", Some("run-env")),
        ("scoped", Some("run-scope")),
        ("inner", Some("run-inner")),
        ("restored", Some("run-scope")),
        ("none", None),
    ] {
        let rec = record_with(&logs, "nudge", "target", target);
        assert_eq!(rec.str_attr("run.id"), run, "{target}");
        assert_eq!(
            count_key(rec, "run.id"),
            usize::from(run.is_some()),
            "{target}: exactly once"
        );
    }
}

#[test]
fn agent_instantiate_carries_the_spawned_run_id_never_the_spawners() {
    let h = Harness::start();
    let r = h
        .recorder(ContentSettings::default())
        .with_fallback_run_id(Some("run-env"));
    let agent = AgentInstance {
        run_id: "run-child",
        town_root: "/srv/town",
        agent_type: "claudecode",
        role: "mayor",
        agent_name: "mayor",
        session_id: "hq-mayor",
        rig: "",
        issue_id: "",
        git_branch: "",
        git_commit: "",
    };
    with_run_id("run-spawner", || {
        r.agent_instantiate(&agent);
        r.agent_instantiate(&AgentInstance {
            run_id: "",
            session_id: "no-run",
            ..agent
        });
    });
    let (logs, _) = h.finish();

    let child = record_with(&logs, "agent.instantiate", "session_id", "hq-mayor");
    assert_eq!(child.str_attr("run.id"), Some("run-child"));
    assert_eq!(count_key(child, "run.id"), 1);
    assert_eq!(child.str_attr("instance"), Some("testhost:town"));
    let unknown = record_with(&logs, "agent.instantiate", "session_id", "no-run");
    assert_eq!(
        count_key(unknown, "run.id"),
        0,
        "no spawned run id: none, not the spawner's"
    );
    assert_eq!(
        unknown.str_attr("rig"),
        Some(""),
        "event attributes stay even when empty"
    );
}

#[test]
fn work_context_is_on_every_record_and_omitted_when_empty() {
    let h = Harness::start();
    let r = h.recorder(ContentSettings::default());
    let partial = WorkContext {
        rig: "gastown".into(),
        bead: String::new(),
        mol: String::new(),
    };
    with_work_context(&partial, || {
        r.prime("mayor", false, Ok(()));
        r.sling("gt-1", "Toast", Ok(()));
    });
    with_work_context(&WorkContext::default(), || r.nudge("nobody", Ok(())));
    let (logs, _) = h.finish();

    for event in ["prime", "sling"] {
        let rec = &bodies(&logs, event)[0];
        assert_eq!(rec.str_attr("work_rig"), Some("gastown"), "{event}");
        assert_eq!(count_key(rec, "work_rig"), 1, "{event}: not duplicated");
        assert!(
            rec.attr("work_bead").is_none() && rec.attr("work_mol").is_none(),
            "{event}"
        );
    }
    let nudge = &bodies(&logs, "nudge")[0];
    assert!(
        nudge
            .attributes
            .iter()
            .all(|(k, _)| !k.starts_with("work_"))
    );
}

#[test]
fn failed_outcomes_are_error_severity_with_consistent_status() {
    let h = Harness::start();
    let r = h.recorder(ContentSettings::default());
    let err = std::io::Error::other("tmux: no server running");
    r.session_start("s-1", "mayor", Err(&err));
    r.session_start("s-2", "mayor", Ok(()));
    let (logs, metrics) = h.finish();

    let failed = record_with(&logs, "session.start", "session_id", "s-1");
    assert_eq!(
        (failed.severity_number, failed.severity_text.as_str()),
        (17, "")
    );
    assert_eq!(failed.str_attr("status"), Some("error"));
    assert_eq!(failed.str_attr("error"), Some("tmux: no server running"));
    let ok = record_with(&logs, "session.start", "session_id", "s-2");
    assert_eq!((ok.severity_number, ok.severity_text.as_str()), (9, ""));
    assert_eq!(
        (ok.str_attr("status"), ok.str_attr("error")),
        (Some("ok"), Some(""))
    );
    for status in ["ok", "error"] {
        let found = points(
            &metrics,
            "gastown.session.starts.total",
            &[("status", s(status)), ("role", s("mayor"))],
        );
        assert_eq!(found.len(), 1, "{status}");
    }
}
