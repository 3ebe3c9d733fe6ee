//! Claude Code parse throughput on one core, over ≥ 100 MiB of realistic lines generated at
//! start (prompts, thinking with signatures, text, tool calls, and tool results that carry a
//! file's content twice — in `message.content` and in `toolUseResult` — as Claude Code writes
//! them). Run: `cargo bench -p agent-transcripts --bench parse`.
//!
//! Figures (this 2-core VM, one core, `bench` profile, 2026-11-26; corpus 104.9 MB in 27 325
//! lines, 3.8 kB/line): `parse_lines` ≈ 690 MiB/s, `read_and_parse_64k_chunks` ≈ 710 MiB/s.

use std::hint::black_box;

use agent_transcripts::{ClaudeCodeParser, LineReader, TranscriptParser};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A small deterministic generator (xorshift64*), so every run parses the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "the",
    "test",
    "file",
    "function",
    "returns",
    "error",
    "when",
    "config",
    "is",
    "missing",
    "let",
    "me",
    "check",
    "parser",
    "telemetry",
    "session",
    "a",
    "value",
    "with",
    "struct",
];

fn prose(rng: &mut Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(if rng.below(12) == 0 { '\n' } else { ' ' });
        }
        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    s
}

/// A source file as a tool result shows it: numbered lines, tabs and quotes to escape.
fn file_listing(rng: &mut Rng, lines: usize) -> String {
    let mut s = String::new();
    for n in 1..=lines {
        s.push_str(&format!(
            "{n:>6}\u{2192}    let value = \"{}\";\t// {}\n",
            prose(rng, 2),
            prose(rng, 4)
        ));
    }
    s
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

fn envelope(kind: &str, n: u64, ts: &str, extra: &str, message: &str) -> String {
    format!(
        r#"{{"parentUuid":"0b6f4a52-2c2a-4b8e-9d63-{n:012x}","isSidechain":false,"userType":"external","cwd":"/srv/town/rig_1","sessionId":"5f0c9a1e-8d3b-4a57-a1c2-7e6d5b4c3a21","version":"2.0.14","gitBranch":"main","type":"{kind}","uuid":"7c1e2d3f-4a5b-4c6d-8e9f-{n:012x}","timestamp":"{ts}"{extra},"message":{message}}}"#
    )
}

fn usage_json(rng: &mut Rng, out: u64) -> String {
    format!(
        r#"{{"input_tokens":{},"cache_creation_input_tokens":{},"cache_read_input_tokens":{},"cache_creation":{{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":{}}},"output_tokens":{out},"service_tier":"standard"}}"#,
        rng.below(20) + 1,
        rng.below(3000),
        20_000 + rng.below(80_000),
        rng.below(3000),
    )
}

/// Realistic Claude Code transcript bytes, at least `min_bytes` long.
fn corpus(min_bytes: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(min_bytes + (1 << 20));
    let mut n: u64 = 0;
    while out.len() < min_bytes {
        n += 1;
        let ts = format!(
            "2025-06-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            1 + n / 40_000 % 28,
            n / 3600 % 24,
            n / 60 % 60,
            n % 60,
            n % 1000
        );
        let mid = format!("msg_01{:022x}", n);
        let rid = format!("req_011C{:018x}", n);
        let ids = format!(r#","requestId":"{rid}""#);
        // One turn: prompt, thinking, text, tool use, tool result (file read).
        let prompt = json_str(&prose(&mut rng, 30));
        out.push_str(&envelope(
            "user",
            n,
            &ts,
            "",
            &format!(r#"{{"role":"user","content":{prompt}}}"#),
        ));
        out.push('\n');
        let signature: String = (0..400)
            .map(|_| {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [rng.below(64) as usize] as char
            })
            .collect();
        let blocks = [
            format!(
                r#"{{"type":"thinking","thinking":{},"signature":"{signature}"}}"#,
                json_str(&prose(&mut rng, 120))
            ),
            format!(
                r#"{{"type":"text","text":{}}}"#,
                json_str(&prose(&mut rng, 80))
            ),
            format!(
                r#"{{"type":"tool_use","id":"toolu_{n:020x}","name":"Read","input":{{"file_path":"/srv/town/rig_1/src/module_{}.rs","limit":400}}}}"#,
                rng.below(100)
            ),
        ];
        for (i, b) in blocks.iter().enumerate() {
            let output_tokens = if i == 0 { 3 } else { 400 + rng.below(600) };
            let usage = usage_json(&mut rng, output_tokens);
            out.push_str(&envelope(
                "assistant",
                n,
                &ts,
                &ids,
                &format!(
                    r#"{{"model":"claude-sonnet-4-5-20250929","id":"{mid}","type":"message","role":"assistant","content":[{b}],"stop_reason":null,"stop_sequence":null,"usage":{usage}}}"#
                ),
            ));
            out.push('\n');
        }
        let listing_lines = 40 + rng.below(120) as usize;
        let listing = file_listing(&mut rng, listing_lines);
        let listing_json = json_str(&listing);
        out.push_str(&envelope(
            "user",
            n,
            &ts,
            &format!(
                r#","toolUseResult":{{"type":"text","file":{{"filePath":"/srv/town/rig_1/src/m.rs","content":{listing_json},"numLines":160,"startLine":1,"totalLines":160}}}}"#
            ),
            &format!(
                r#"{{"role":"user","content":[{{"tool_use_id":"toolu_{n:020x}","type":"tool_result","content":{listing_json}}}]}}"#
            ),
        ));
        out.push('\n');
    }
    out.into_bytes()
}

fn bench(c: &mut Criterion) {
    let data = corpus(100 * 1024 * 1024);
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    eprintln!(
        "corpus: {} bytes, {} lines, {:.0} bytes/line",
        data.len(),
        lines.len(),
        data.len() as f64 / lines.len() as f64
    );
    let mut g = c.benchmark_group("claudecode");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(8));
    g.bench_function("parse_lines", |b| {
        b.iter(|| {
            let mut p = ClaudeCodeParser::new();
            let mut out = Vec::with_capacity(16);
            let mut n = 0usize;
            for l in &lines {
                p.parse_line(l, &mut out);
                n += out.len();
                out.clear();
            }
            p.flush(&mut out);
            black_box(n)
        });
    });
    g.bench_function("read_and_parse_64k_chunks", |b| {
        b.iter(|| {
            let mut r = LineReader::new();
            let mut p = ClaudeCodeParser::new();
            let mut out = Vec::with_capacity(16);
            let mut n = 0usize;
            for chunk in data.chunks(64 * 1024) {
                r.push(chunk);
                while let Some(l) = r.next_line() {
                    p.parse_line(l, &mut out);
                    n += out.len();
                    out.clear();
                }
            }
            black_box(n)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
