//! Claude Code adapter behaviour on the fixture transcripts and generated edge cases.

mod common;

use agent_transcripts::claudecode::ClaudeCodeParser;
use agent_transcripts::{
    AgentKind, CodexParser, Event, EventType, InvalidReason, LineOutcome, LineReader, Role,
    SkipReason, StateError, TranscriptParser,
};
use common::{claude_corpus, feed, parse_files, usages};

fn contents(events: &[Event]) -> Vec<(EventType, Role, String, bool)> {
    events
        .iter()
        .filter_map(Event::as_content)
        .map(|c| (c.event_type, c.role, c.content.clone(), c.is_sidechain))
        .collect()
}

#[test]
fn every_hard_line_of_the_fixture_gets_the_documented_outcome() {
    let bytes = std::fs::read(&claude_corpus()[0]).expect("fixture");
    let mut parser = ClaudeCodeParser::new();
    let (mut events, mut counts) = (Vec::new(), Default::default());
    let outcomes = feed(&mut parser, &bytes, 13, &mut events, &mut counts);
    use LineOutcome::*;
    assert_eq!(
        outcomes,
        vec![
            Skipped(SkipReason::IgnoredType),  // summary
            Parsed,                            // user prompt (string content)
            Parsed,                            // thinking
            Parsed,                            // text
            Parsed,                            // tool_use
            Parsed,                            // tool_result with an array of blocks
            Skipped(SkipReason::IgnoredType),  // system
            Parsed,                            // msg_B
            Invalid(InvalidReason::Json),      // broken JSON
            Invalid(InvalidReason::Utf8),      // invalid UTF-8
            Parsed,                            // tool_result string, is_error
            Parsed,                            // sidechain
            Parsed,                            // <synthetic>, zero usage
            Skipped(SkipReason::UnknownShape), // unknown type
            Skipped(SkipReason::UnknownShape), // isSidechain is a string
            Parsed,                            // msg_E line 1 (no requestId)
            Parsed,                            // msg_E line 2
        ]
    );
    assert_eq!(counts.ignored_type, 2);
    assert_eq!(counts.unknown_shape, 2);
    assert_eq!(counts.invalid_json, 1);
    assert_eq!(counts.invalid_utf8, 1);
    assert_eq!(counts.partial_lines, 1, "the last line has no newline");
    assert_eq!(counts.oversized, 0);
}

#[test]
fn each_content_block_becomes_one_event_with_its_role() {
    let mut parser = ClaudeCodeParser::new();
    let (events, _) = parse_files(&mut parser, &claude_corpus()[..1]);
    let c = contents(&events);
    use EventType::*;
    let expected = vec![
        (
            Text,
            Role::User,
            "Fix the flaky test in town_1".to_string(),
            false,
        ),
        (
            Thinking,
            Role::Assistant,
            "Let me look at the test first.".into(),
            false,
        ),
        (
            Text,
            Role::Assistant,
            "I'll list the files.\nThen run the test.".into(),
            false,
        ),
        (
            ToolUse,
            Role::Assistant,
            r#"Bash: {"command":"ls -la","description":"List files"}"#.into(),
            false,
        ),
        (
            ToolResult,
            Role::User,
            "a.txt\nb.txt\n[image]".into(),
            false,
        ),
        (Text, Role::Assistant, "Both files are there.".into(), false),
        (
            ToolResult,
            Role::User,
            "[error] Error: permission denied".into(),
            false,
        ),
        (Text, Role::Assistant, "Sub-agent: searching.".into(), true),
        (
            Text,
            Role::Assistant,
            "No response requested.".into(),
            false,
        ),
        (
            Text,
            Role::Assistant,
            "Proxy answer, part one.".into(),
            false,
        ),
        (Text, Role::Assistant, "Part two.".into(), false),
    ];
    assert_eq!(c, expected);
    let first = events[0].as_content().expect("content");
    assert_eq!(first.native_session_id, "sess-a");
    assert_eq!(
        agent_transcripts::time::to_rfc3339(first.timestamp),
        "2025-06-18T10:00:00.000Z"
    );
}

#[test]
fn usage_is_emitted_once_per_request_keeping_the_largest_line() {
    let mut parser = ClaudeCodeParser::new();
    let (events, _) = parse_files(&mut parser, &claude_corpus()[..1]);
    let u = usages(&events);
    let ids: Vec<&str> = u.iter().map(|u| u.message_id.as_str()).collect();
    // msg_A has 3 lines, msg_E 2 lines, msg_D is all zeros.
    assert_eq!(ids, vec!["msg_A", "msg_B", "msg_C", "msg_E"]);
    let a = &u[0];
    // The first line streamed output_tokens 3; the later lines carry the final 50.
    assert_eq!(
        (
            a.input_tokens,
            a.output_tokens,
            a.cache_creation_tokens,
            a.cache_read_tokens
        ),
        (10, 50, 100, 1000)
    );
    assert_eq!(a.cache_creation_5m_tokens, Some(100));
    assert_eq!(a.cache_creation_1h_tokens, Some(0));
    assert_eq!(a.request_id, "req_A");
    assert_eq!(a.model, "claude-sonnet-4-5-20250929");
    assert_eq!(
        agent_transcripts::time::to_rfc3339(a.timestamp),
        "2025-06-18T10:00:02.000Z",
        "the winning line's timestamp"
    );
    let b = &u[1];
    assert_eq!(
        (b.cache_creation_tokens, b.cache_creation_5m_tokens),
        (200, None)
    );
    assert_eq!(
        u[3].output_tokens, 12,
        "no requestId: deduped by message id + session"
    );
    // 3 lines of msg_A and 2 of msg_E collapse into one each.
    assert_eq!(parser.duplicate_usage_lines(), 3);
}

#[test]
fn subagent_copies_and_btw_replays_are_not_counted_twice() {
    let mut parser = ClaudeCodeParser::new();
    let (events, _) = parse_files(&mut parser, &claude_corpus());
    let ids: Vec<String> = usages(&events).into_iter().map(|u| u.message_id).collect();
    assert_eq!(ids, vec!["msg_A", "msg_B", "msg_C", "msg_E", "msg_F"]);
}

#[test]
fn a_checkpointed_parser_continues_exactly_like_an_unbroken_one() {
    let bytes = std::fs::read(&claude_corpus()[0]).expect("fixture");
    let mut whole = ClaudeCodeParser::new();
    let (mut expected, mut c) = (Vec::new(), Default::default());
    feed(&mut whole, &bytes, 64, &mut expected, &mut c);
    whole.flush(&mut expected);

    // Stop after the 4th line (in the middle of msg_A), checkpoint, resume in a new parser.
    let split = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(3)
        .map(|(i, _)| i + 1)
        .expect("4 lines");
    let mut first = ClaudeCodeParser::new();
    let mut got = Vec::new();
    feed(&mut first, &bytes[..split], 64, &mut got, &mut c);
    let state = serde_json::to_string(&first.dedup_state()).expect("serializable");
    let mut second = ClaudeCodeParser::new();
    second
        .restore_dedup_state(serde_json::from_str(&state).expect("deserializable"))
        .expect("same agent");
    feed(&mut second, &bytes[split..], 64, &mut got, &mut c);
    second.flush(&mut got);
    assert_eq!(usages(&got), usages(&expected));
}

#[test]
fn restoring_another_agents_state_is_refused() {
    let codex_state = CodexParser::new().dedup_state();
    let mut p = ClaudeCodeParser::new();
    assert_eq!(
        p.restore_dedup_state(codex_state),
        Err(StateError::WrongAgent {
            expected: AgentKind::ClaudeCode,
            found: AgentKind::Codex
        })
    );
}

fn huge_line(mib: usize) -> Vec<u8> {
    let mut line = br#"{"type":"user","timestamp":"2025-06-18T11:00:00.000Z","sessionId":"s","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":""#.to_vec();
    line.extend(std::iter::repeat_n(b'x', mib * 1024 * 1024));
    line.extend_from_slice(b"\"}]}}\n");
    line
}

#[test]
fn a_50_mib_line_parses_under_the_default_limit() {
    let line = huge_line(50);
    let mut reader = LineReader::new();
    let mut parser = ClaudeCodeParser::new();
    let mut events = Vec::new();
    for chunk in line.chunks(1 << 20) {
        reader.push(chunk);
    }
    let l = reader.next_line().expect("complete line");
    assert_eq!(parser.parse_line(l, &mut events), LineOutcome::Parsed);
    let c = events[0].as_content().expect("tool result");
    assert_eq!(c.event_type, EventType::ToolResult);
    assert_eq!(c.content.len(), 50 * 1024 * 1024);
}

#[test]
fn a_50_mib_line_over_the_limit_is_skipped_without_buffering_it() {
    let mut input = huge_line(50);
    input.extend_from_slice(
        br#"{"type":"user","timestamp":"2025-06-18T11:00:01.000Z","message":{"role":"user","content":"after"}}"#,
    );
    input.push(b'\n');
    let limit = 1024 * 1024;
    let chunk = 64 * 1024;
    let mut reader = LineReader::with_max_line_bytes(limit);
    let mut parser = ClaudeCodeParser::new();
    let mut events = Vec::new();
    let mut peak = 0;
    for piece in input.chunks(chunk) {
        reader.push(piece);
        peak = peak.max(reader.buffered_bytes());
        while let Some(l) = reader.next_line() {
            parser.parse_line(l, &mut events);
        }
    }
    assert!(peak <= limit + chunk, "peak buffer {peak}");
    assert_eq!(reader.counts().oversized, 1);
    assert_eq!(reader.consumed_bytes(), input.len() as u64);
    let c: Vec<_> = events.iter().filter_map(Event::as_content).collect();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].content, "after");
}

#[test]
fn a_last_line_without_newline_counts_when_complete_and_is_partial_when_cut() {
    let line = r#"{"type":"assistant","timestamp":"2025-06-18T10:00:00.000Z","sessionId":"s","requestId":"r1","message":{"id":"m1","model":"claude-sonnet-4-5","usage":{"input_tokens":3,"output_tokens":5}}}"#;
    for (bytes, usages_expected, outcome) in [
        (line.to_string(), 1, Some(LineOutcome::Parsed)),
        (
            line[..line.len() - 1].to_string(),
            0,
            Some(LineOutcome::Invalid(InvalidReason::Truncated)),
        ),
        (format!("{line}\n"), 1, None),
    ] {
        let mut reader = LineReader::new();
        let mut parser = ClaudeCodeParser::new();
        let mut events = Vec::new();
        reader.push(bytes.as_bytes());
        assert!(reader.next_line().is_some() == bytes.ends_with('\n'));
        if let Some(l) = bytes.strip_suffix('\n') {
            parser.parse_line(l.as_bytes(), &mut events);
        }
        let got = agent_transcripts::finish_input(&mut reader, &mut parser, &mut events);
        assert_eq!(got, outcome, "{bytes}");
        parser.flush(&mut events);
        assert_eq!(usages(&events).len(), usages_expected, "{bytes}");
        assert_eq!(reader.consumed_bytes(), bytes.len() as u64);
        let mut counts = agent_transcripts::SkipCounts::default();
        counts.record(got.unwrap_or(LineOutcome::Parsed));
        assert_eq!(counts.partial_lines, 1 - usages_expected as u64);
    }
}
