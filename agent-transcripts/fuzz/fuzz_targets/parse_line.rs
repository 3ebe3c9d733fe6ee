//! Fuzz target: every transcript parser and the line reader take arbitrary bytes without
//! panicking. Run with `cargo +nightly fuzz run parse_line` from agent-transcripts/.
#![no_main]

use agent_transcripts::parser::parser_for;
use agent_transcripts::{AgentKind, LineReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for kind in [AgentKind::ClaudeCode, AgentKind::Codex, AgentKind::OpenCode] {
        let mut parser = parser_for(kind);
        let mut out = Vec::new();
        let _ = parser.parse_line(data, &mut out);
        let mut reader = LineReader::with_max_line_bytes(4096);
        for chunk in data.chunks(7) {
            reader.push(chunk);
            while let Some(line) = reader.next_line() {
                let _ = parser.parse_line(line, &mut out);
            }
        }
        let _ = reader.finish();
    }
});
