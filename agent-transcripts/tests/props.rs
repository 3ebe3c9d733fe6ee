//! Property tests: no input makes a parser or the line reader panic, and the reader's split
//! does not depend on how the bytes were chunked.

use agent_transcripts::{AgentKind, LineReader, parser_for};
use proptest::prelude::*;

const AGENTS: [AgentKind; 3] = [AgentKind::ClaudeCode, AgentKind::Codex, AgentKind::OpenCode];

/// JSON-ish text built from the tokens transcripts are made of.
fn jsonish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("18446744073709551616".to_string()),
        Just("\"\\ud800\"".to_string()),
        prop_oneof![
            Just("type"),
            Just("user"),
            Just("assistant"),
            Just("message"),
            Just("content"),
            Just("usage"),
            Just("text"),
            Just("tool_use"),
            Just("tool_result"),
            Just("input"),
            Just("id"),
            Just("requestId"),
            Just("isSidechain"),
            Just("timestamp"),
            Just("2025-06-18T10:00:00.000Z"),
            Just("input_tokens"),
            Just("output_tokens"),
            Just("cache_creation"),
            Just("payload"),
            Just("event_msg"),
            Just("token_count"),
            Just("info"),
            Just("total_token_usage"),
            Just("last_token_usage"),
            Just("response_item"),
            Just("role"),
            Just("tokens"),
            Just("time"),
            Just("completed"),
            Just("state"),
            Just("status"),
            Just("tool"),
            Just("output"),
            Just("cache"),
        ]
        .prop_map(|s| format!("\"{s}\"")),
        (0u64..u64::MAX).prop_map(|n| n.to_string()),
        "[a-z0-9 ]{0,5}".prop_map(|s| format!("\"{s}\"")),
    ];
    proptest::collection::vec(token, 0..60).prop_map(|v| v.concat())
}

/// Well-shaped Claude lines with random values in the usual places.
fn claude_like() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("user"), Just("assistant"), Just("summary"), Just("x")],
        jsonish(),
        jsonish(),
        any::<u32>(),
    )
        .prop_map(|(t, content, usage, n)| {
            format!(
                r#"{{"type":"{t}","timestamp":"2025-06-18T10:00:00.000Z","sessionId":"s","requestId":"r{n}","message":{{"id":"m{n}","content":{content},"usage":{usage}}}}}"#
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8)) {
        for agent in AGENTS {
            let mut p = parser_for(agent);
            let mut out = Vec::new();
            for l in &lines {
                let _ = p.parse_line(l, &mut out);
            }
            p.flush(&mut out);
            let _ = p.dedup_state();
        }
    }

    #[test]
    fn parsers_never_panic_on_jsonish_text(lines in proptest::collection::vec(prop_oneof![jsonish(), claude_like()], 1..8)) {
        for agent in AGENTS {
            let mut p = parser_for(agent);
            let mut out = Vec::new();
            for l in &lines {
                let _ = p.parse_line(l.as_bytes(), &mut out);
            }
            p.flush(&mut out);
        }
    }

    #[test]
    fn line_reader_output_does_not_depend_on_chunking(
        data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a'), any::<u8>()], 0..400),
        cuts in proptest::collection::vec(1usize..50, 1..20),
        max in 1usize..40,
    ) {
        // Reference: split on '\n', drop lines longer than max, drop the unterminated tail.
        let mut expected: Vec<Vec<u8>> = Vec::new();
        let mut oversized = 0;
        let mut parts: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
        parts.pop(); // the unterminated tail (empty when the data ends in '\n')
        for p in parts {
            if p.len() > max { oversized += 1 } else { expected.push(p.to_vec()) }
        }
        let mut r = LineReader::with_max_line_bytes(max);
        let mut got = Vec::new();
        let mut rest = &data[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            r.push(&rest[..n]);
            rest = &rest[n..];
            i += 1;
            prop_assert!(r.buffered_bytes() <= max + 50 + 1);
            while let Some(l) = r.next_line() { got.push(l.to_vec()); }
        }
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(r.counts().oversized, oversized);
        let consumed: u64 = data.iter().rposition(|b| *b == b'\n').map_or(0, |p| p as u64 + 1);
        prop_assert_eq!(r.consumed_bytes(), consumed);
    }
}
