//! Deterministic record ids: the same transcript record read twice gets the same id.
//!
//! One job: [`record_id`] names an [`Event`] by what identifies it in its transcript, so that a
//! record delivered twice (a retried export batch, a second `replay` of the same files) can be
//! recognised and removed at query time. It must not read files or know any telemetry backend.
//!
//! # What identifies an event
//! The id is a name-based UUID (v5, SHA-1, under [`RECORD_ID_NAMESPACE`]) of the agent, the kind
//! of record, the agent's own session id, and:
//!
//! | event | identity |
//! |---|---|
//! | usage with a message or request id (Claude Code `message.id` + `requestId`, OpenCode message id) | those ids |
//! | usage without (Codex `token_count` lines) | `source_id`: [`line_id`] of its line |
//! | content event | `source_id` (Claude Code line `uuid`, OpenCode part id, else [`line_id`] of its line) and `index`, its position among the blocks of that line |
//! | anything else (a Claude Code line without `uuid`, …) | the event's own fields (timestamp, tokens or content, index) |
//!
//! A Codex line carries no id, but its bytes are its identity: every line holds its own
//! millisecond timestamp and, for `token_count`, the session's running totals, so two distinct
//! lines with the same bytes do not occur, and the same line read again (by a follower or a
//! replay, from any offset) digests the same. A Claude Code usage keeps the id of its message
//! whichever of the message's lines won the deduplication.

use std::fmt::Write as _;
use std::time::UNIX_EPOCH;

use uuid::Uuid;

use crate::model::{AgentKind, ContentEvent, Event, Usage};

/// The namespace of every record id (a fixed random UUID: changing it changes every id).
pub const RECORD_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_0b9e_52d4_4c7b_9e0a_3f1d_8c2e_7b45);

/// The record id of `event` read from a transcript of `agent`: a lowercase hyphenated UUID,
/// identical for every reading of the same transcript record (see the [module docs](self)).
pub fn record_id(agent: AgentKind, event: &Event) -> String {
    let mut key = Key::default();
    key.field(agent.as_str());
    match event {
        Event::Usage(u) => usage_key(&mut key, u),
        Event::Content(c) => content_key(&mut key, c),
    }
    Uuid::new_v5(&RECORD_ID_NAMESPACE, key.0.as_bytes())
        .hyphenated()
        .to_string()
}

/// The identity of a transcript line that carries no id of its own: `line:` and the name-based
/// UUID of its bytes.
pub fn line_id(line: &str) -> String {
    let digest = Uuid::new_v5(&RECORD_ID_NAMESPACE, line.as_bytes());
    format!("line:{}", digest.simple())
}

fn usage_key(key: &mut Key, u: &Usage) {
    key.field("usage");
    key.field(&u.native_session_id);
    if !u.message_id.is_empty() || !u.request_id.is_empty() {
        key.field("message");
        key.field(&u.message_id);
        key.field(&u.request_id);
    } else if !u.source_id.is_empty() {
        key.field("line");
        key.field(&u.source_id);
    } else {
        key.field("fields");
        key.field(&nanos(u.timestamp));
        key.field(&u.model);
        for n in [
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_creation_tokens,
        ] {
            key.field(&n.to_string());
        }
    }
}

fn content_key(key: &mut Key, c: &ContentEvent) {
    key.field("event");
    key.field(&c.native_session_id);
    if c.source_id.is_empty() {
        key.field("fields");
        key.field(&nanos(c.timestamp));
        key.field(c.event_type.as_str());
        key.field(c.role.as_str());
        key.field(&c.content);
    } else {
        key.field("line");
        key.field(&c.source_id);
    }
    key.field(&c.index.to_string());
}

fn nanos(t: std::time::SystemTime) -> String {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

/// Length-prefixed fields, so that no two field lists give the same bytes.
#[derive(Default)]
struct Key(String);

impl Key {
    fn field(&mut self, s: &str) {
        let _ = write!(self.0, "{}:{s};", s.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventType, Role};

    fn usage(message_id: &str, request_id: &str, source_id: &str) -> Event {
        Event::Usage(Usage {
            native_session_id: "s1".into(),
            message_id: message_id.into(),
            request_id: request_id.into(),
            source_id: source_id.into(),
            output_tokens: 5,
            ..Usage::default()
        })
    }

    fn content(source_id: &str, index: u32, text: &str) -> Event {
        Event::Content(ContentEvent {
            native_session_id: "s1".into(),
            event_type: EventType::Text,
            role: Role::Assistant,
            content: text.into(),
            source_id: source_id.into(),
            index,
            ..ContentEvent::default()
        })
    }

    #[test]
    fn the_same_record_gets_the_same_id_and_different_records_different_ids() {
        let a = record_id(AgentKind::ClaudeCode, &usage("msg_1", "req_1", ""));
        assert_eq!(
            a,
            record_id(AgentKind::ClaudeCode, &usage("msg_1", "req_1", ""))
        );
        assert_eq!(a.len(), 36);
        let others = [
            record_id(AgentKind::ClaudeCode, &usage("msg_1", "req_2", "")),
            record_id(AgentKind::ClaudeCode, &usage("msg_2", "req_1", "")),
            record_id(AgentKind::OpenCode, &usage("msg_1", "req_1", "")),
            record_id(AgentKind::Codex, &usage("", "", "line:a")),
            record_id(AgentKind::Codex, &usage("", "", "line:b")),
            record_id(AgentKind::ClaudeCode, &content("u1", 0, "x")),
            record_id(AgentKind::ClaudeCode, &content("u1", 1, "x")),
            record_id(AgentKind::ClaudeCode, &content("u2", 0, "x")),
            record_id(AgentKind::ClaudeCode, &content("", 0, "x")),
            record_id(AgentKind::ClaudeCode, &content("", 0, "y")),
        ];
        let mut all: Vec<&String> = others.iter().chain([&a]).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), others.len() + 1, "{all:?}");
    }

    #[test]
    fn the_id_of_a_line_identified_event_ignores_its_text() {
        // A content event with an identity is the same record whatever truncation or
        // rendering changes later.
        assert_eq!(
            record_id(AgentKind::Codex, &content("line:c", 2, "x")),
            record_id(AgentKind::Codex, &content("line:c", 2, "longer x"))
        );
    }

    #[test]
    fn the_id_is_pinned() {
        // Changing the key layout changes every id already stored: that must be deliberate.
        assert_eq!(
            record_id(AgentKind::ClaudeCode, &usage("msg_1", "req_1", "")),
            "9a3b59e7-751d-5a56-9e31-43b1e4007d2b"
        );
    }

    fn ids_of(parser: &mut dyn crate::TranscriptParser, text: &str) -> Vec<String> {
        let mut events = Vec::new();
        for line in text.lines() {
            parser.parse_line(line.as_bytes(), &mut events);
        }
        parser.flush(&mut events);
        events
            .iter()
            .map(|e| record_id(parser.agent(), e))
            .collect()
    }

    #[test]
    fn every_record_of_a_transcript_read_twice_gets_the_same_distinct_id() {
        let claude = concat!(
            r#"{"type":"assistant","uuid":"u1","timestamp":"2025-06-18T10:00:00Z","sessionId":"s1","requestId":"req_1","message":{"id":"msg_1","model":"m","content":[{"type":"text","text":"Hi"},{"type":"text","text":"Hi"}],"usage":{"input_tokens":3,"output_tokens":5}}}"#,
            "\n",
            r#"{"type":"user","uuid":"u2","timestamp":"2025-06-18T10:00:01Z","sessionId":"s1","message":{"content":"Hi"}}"#,
            "\n"
        );
        let codex = concat!(
            r#"{"timestamp":"2025-06-18T10:00:00.000Z","type":"session_meta","payload":{"id":"c1"}}"#,
            "\n",
            r#"{"timestamp":"2025-06-18T10:00:01.000Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"a"},{"type":"output_text","text":"a"}]}}"#,
            "\n",
            r#"{"timestamp":"2025-06-18T10:00:02.000Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"a"}]}}"#,
            "\n",
            r#"{"timestamp":"2025-06-18T10:00:03.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":2,"reasoning_output_tokens":0,"total_tokens":12},"last_token_usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":2,"reasoning_output_tokens":0,"total_tokens":12}}}}"#,
            "\n"
        );
        for (make, text, expected) in [
            (
                (|| Box::new(crate::ClaudeCodeParser::new()) as Box<dyn crate::TranscriptParser>)
                    as fn() -> Box<dyn crate::TranscriptParser>,
                claude,
                4,
            ),
            (|| Box::new(crate::CodexParser::new()), codex, 4),
        ] {
            let first = ids_of(&mut *make(), text);
            assert_eq!(first.len(), expected, "{first:?}");
            assert_eq!(first, ids_of(&mut *make(), text), "a second reading");
            let mut distinct = first.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(
                distinct.len(),
                first.len(),
                "identical blocks keep distinct ids"
            );
        }
    }

    #[test]
    fn an_opencode_tool_part_gives_two_records_named_by_its_part_id() {
        let part = br#"{"id":"prt_1","sessionID":"ses_1","messageID":"msg_1","type":"tool","tool":"bash","state":{"status":"completed","input":{"command":"ls"},"output":"a","time":{"start":1767607200000,"end":1767607201000}}}"#;
        let ids = |p: &mut crate::OpenCodeParser| {
            let mut events = Vec::new();
            p.parse_document(part, crate::DocumentIds::default(), &mut events);
            events
                .iter()
                .map(|e| record_id(AgentKind::OpenCode, e))
                .collect::<Vec<_>>()
        };
        let first = ids(&mut crate::OpenCodeParser::new());
        assert_eq!(first.len(), 2, "tool use and tool result");
        assert_ne!(first[0], first[1]);
        assert_eq!(first, ids(&mut crate::OpenCodeParser::new()));
    }
}
