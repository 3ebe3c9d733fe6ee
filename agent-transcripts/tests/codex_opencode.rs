//! Codex and OpenCode adapters on their fixtures.

mod common;

use agent_transcripts::opencode::{DocumentIds, OpenCodeParser};
use agent_transcripts::{
    CodexParser, Event, EventType, LineOutcome, Role, SkipReason, TranscriptParser,
};
use common::{codex_rollout, feed, fixture, parse_files, usages};

#[test]
fn codex_rollout_yields_conversation_and_dedupes_repeated_token_counts() {
    let mut parser = CodexParser::new();
    let (events, counts) = parse_files(&mut parser, &[codex_rollout()]);
    let c: Vec<(EventType, Role, String)> = events
        .iter()
        .filter_map(Event::as_content)
        .map(|c| (c.event_type, c.role, c.content.clone()))
        .collect();
    assert_eq!(
        c,
        vec![
            (
                EventType::Text,
                Role::User,
                "<environment_context>\n  <cwd>/srv/town</cwd>\n</environment_context>".into()
            ),
            (EventType::Text, Role::User, "List the files".into()),
            (
                EventType::Thinking,
                Role::Assistant,
                "**Listing files**".into()
            ),
            (
                EventType::ToolUse,
                Role::Assistant,
                r#"shell: {"command":["bash","-lc","ls"],"workdir":"/srv/town"}"#.into()
            ),
            (
                EventType::ToolResult,
                Role::User,
                r#"{"output":"a.txt\nb.txt\n","metadata":{"exit_code":0,"duration_seconds":0.1}}"#
                    .into()
            ),
            (
                EventType::ToolUse,
                Role::Assistant,
                "apply_patch: *** Begin Patch\n*** Add File: c.txt\n+hello\n*** End Patch\n".into()
            ),
            (
                EventType::ToolResult,
                Role::User,
                "Success. Updated the following files:\nA c.txt".into()
            ),
            (
                EventType::Text,
                Role::Assistant,
                "There are two files; I added c.txt.".into()
            ),
        ]
    );
    let sid = "0199a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b";
    assert!(
        events
            .iter()
            .filter_map(Event::as_content)
            .all(|c| c.native_session_id == sid)
    );
    // token_count #1 (first): last = 1000 in (200 cached), 50 out.
    // token_count #1 again, total unchanged: skipped.
    // token_count #2: total − previous total = 1500 in (1000 cached), 80 out.
    // token_count with info null: nothing. After compaction the total drops: last = 300 in, 10 out.
    let u = usages(&events);
    let got: Vec<(String, u64, u64, u64)> = u
        .iter()
        .map(|u| {
            (
                u.model.clone(),
                u.input_tokens,
                u.cache_read_tokens,
                u.output_tokens,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("gpt-5-codex".into(), 800, 200, 50),
            ("gpt-5-codex".into(), 500, 1000, 80),
            ("gpt-5.2-codex".into(), 300, 0, 10),
        ]
    );
    assert!(
        u.iter()
            .all(|u| u.native_session_id == sid && u.cache_creation_tokens == 0)
    );
    assert_eq!(parser.repeated_token_counts(), 1);
    // developer message, 3 event_msg echoes, compacted: ignored. Unknown type: unknown shape.
    assert_eq!(counts.ignored_type, 5);
    assert_eq!(counts.unknown_shape, 1);
    assert_eq!(counts.partial_lines, 1);
}

#[test]
fn codex_state_survives_a_restart_mid_file() {
    let bytes = std::fs::read(codex_rollout()).expect("fixture");
    let split = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(11)
        .map(|(i, _)| i + 1)
        .expect("12 lines");
    let (mut a, mut events, mut c) = (CodexParser::new(), Vec::new(), Default::default());
    feed(&mut a, &bytes[..split], 100, &mut events, &mut c);
    let state = a.dedup_state();
    let mut b = CodexParser::new();
    b.restore_dedup_state(state).expect("same agent");
    feed(&mut b, &bytes[split..], 100, &mut events, &mut c);
    assert_eq!(
        usages(&events).len(),
        3,
        "the repeated total after the split is still skipped"
    );
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("opencode/storage/{rel}"))).expect("fixture")
}

#[test]
fn opencode_documents_yield_finished_parts_and_one_usage_per_completed_message() {
    let mut p = OpenCodeParser::new();
    let mut events = Vec::new();
    let docs = [
        "message/ses_1/msg_u1.json",
        "message/ses_1/msg_a1.json",
        "part/msg_u1/prt_1.json",
        "part/msg_a1/prt_2.json",
        "part/msg_a1/prt_3.json",
        "part/msg_a1/prt_4.json",
        "part/msg_a1/prt_5.json",
        "part/msg_a1/prt_6.json",
        "part/msg_a1/prt_7.json",
    ];
    let outcomes: Vec<LineOutcome> = docs
        .iter()
        .map(|d| p.parse_line(&read(d), &mut events))
        .collect();
    assert_eq!(outcomes[3], LineOutcome::Skipped(SkipReason::IgnoredType)); // step-start
    assert_eq!(outcomes[8], LineOutcome::Skipped(SkipReason::IgnoredType)); // step-finish
    let c: Vec<(EventType, Role, String)> = events
        .iter()
        .filter_map(Event::as_content)
        .map(|c| (c.event_type, c.role, c.content.clone()))
        .collect();
    assert_eq!(
        c,
        vec![
            (EventType::Text, Role::User, "List the files".into()),
            (
                EventType::Thinking,
                Role::Assistant,
                "I should run ls.".into()
            ),
            (
                EventType::ToolUse,
                Role::Assistant,
                r#"bash: {"command":"ls","description":"List files"}"#.into()
            ),
            (EventType::ToolResult, Role::User, "a.txt\nb.txt\n".into()),
            (EventType::Text, Role::Assistant, "Two files.".into()),
        ]
    );
    let u = usages(&events);
    assert_eq!(u.len(), 1);
    // output 40 + reasoning 10.
    assert_eq!(
        (
            u[0].input_tokens,
            u[0].output_tokens,
            u[0].cache_read_tokens,
            u[0].cache_creation_tokens
        ),
        (100, 50, 1000, 50)
    );
    assert_eq!(u[0].model, "claude-sonnet-4-5");
    assert_eq!(u[0].native_session_id, "ses_1");

    // The same documents again (files are rewritten while streaming): nothing new.
    let before = events.len();
    for d in docs {
        p.parse_line(&read(d), &mut events);
    }
    assert_eq!(events.len(), before);
}

#[test]
fn opencode_database_rows_take_their_ids_from_columns() {
    let mut p = OpenCodeParser::new();
    let mut events = Vec::new();
    let in_progress = br#"{"role":"assistant","time":{"created":1757505601000},"modelID":"gpt-5","tokens":{"input":5,"output":1,"reasoning":0,"cache":{"read":0,"write":0}}}"#;
    let ids = DocumentIds {
        id: Some("msg_9"),
        session_id: Some("ses_9"),
        message_id: None,
    };
    assert_eq!(
        p.parse_document(in_progress, ids, &mut events),
        LineOutcome::Parsed
    );
    assert!(events.is_empty(), "not completed yet");
    let done = br#"{"role":"assistant","time":{"created":1757505601000,"completed":1757505602000},"modelID":"gpt-5","tokens":{"input":"7","output":3,"reasoning":1,"cache":0}}"#;
    p.parse_document(done, ids, &mut events);
    let u = usages(&events);
    assert_eq!(u.len(), 1);
    assert_eq!((u[0].input_tokens, u[0].output_tokens), (7, 4));
    assert_eq!(
        (u[0].message_id.as_str(), u[0].native_session_id.as_str()),
        ("msg_9", "ses_9")
    );
}

#[test]
fn opencode_aborted_and_unfinished_messages_count_once_with_their_last_tokens() {
    let ids = |id| DocumentIds {
        id: Some(id),
        session_id: Some("ses_1"),
        message_id: None,
    };
    let doc = |extra: &str, output: u64| {
        format!(
            r#"{{"role":"assistant","time":{{"created":1757505601000{extra}}},"modelID":"gpt-5","tokens":{{"input":1,"output":{output}}}{err}}}"#,
            extra = if extra == "completed" {
                r#","completed":1757505602000"#
            } else {
                ""
            },
            err = if extra == "error" {
                r#","error":{"name":"MessageAbortedError","data":{}}"#
            } else {
                ""
            },
        )
    };
    let mut p = OpenCodeParser::exact();
    let mut events = Vec::new();
    // Aborted with an error recorded: final, counted at once.
    p.parse_document(doc("error", 20).as_bytes(), ids("msg_a"), &mut events);
    assert_eq!(usages(&events).len(), 1);
    // Unfinished: held, its latest version replacing the earlier ones.
    p.parse_document(doc("", 3).as_bytes(), ids("msg_b"), &mut events);
    p.parse_document(doc("", 7).as_bytes(), ids("msg_b"), &mut events);
    // Unfinished, then completed: counted once, completed.
    p.parse_document(doc("", 1).as_bytes(), ids("msg_c"), &mut events);
    p.parse_document(doc("completed", 9).as_bytes(), ids("msg_c"), &mut events);
    p.parse_document(doc("completed", 9).as_bytes(), ids("msg_c"), &mut events);
    assert_eq!(usages(&events).len(), 2, "msg_b waits");
    // A checkpoint carries the held message.
    let mut resumed = OpenCodeParser::new();
    resumed.restore_dedup_state(p.dedup_state()).unwrap();
    for parser in [&mut p, &mut resumed] {
        let mut tail = Vec::new();
        parser.flush(&mut tail);
        let u = usages(&tail);
        assert_eq!(u.len(), 1);
        assert_eq!((u[0].message_id.as_str(), u[0].output_tokens), ("msg_b", 7));
        parser.flush(&mut tail);
        assert_eq!(usages(&tail).len(), 1, "flushed once");
    }
    let outputs: Vec<u64> = usages(&events).iter().map(|u| u.output_tokens).collect();
    assert_eq!(outputs, [20, 9]);
}
