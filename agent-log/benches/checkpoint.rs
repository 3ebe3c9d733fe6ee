//! The cost of one commit's checkpoint write with 10, 100 and 1,000 followed files when the
//! batch touched one file (one Claude Code transcript's state and a few message ids changed):
//! `journal` is [`CheckpointStore::commit`] (a synced journal line, and now and then a new
//! base, amortized over the commits in between), `whole` is what every commit cost before
//! (the whole checkpoint through a synced temporary file and a rename). Each file carries a
//! parser state of 40 requests; the session remembers 8,192 message ids.
//!
//! `cargo bench -p agent-log --bench checkpoint`

use std::hint::black_box;

use agent_log::settings::MESSAGE_MEMORY;
use agent_log::state::{
    CHECKPOINT_VERSION, Checkpoint, CheckpointDelta, CheckpointStore, FileCheckpoint, Totals,
};
use agent_transcripts::{AgentKind, ClaudeCodeParser, DedupState, TranscriptParser as _};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// The parser state after 40 requests of file `file` (`round` moves it on).
fn parser_state(file: usize, round: usize) -> DedupState {
    let mut parser = ClaudeCodeParser::new();
    let mut events = Vec::new();
    for r in 0..40 {
        let line = format!(
            r#"{{"type":"assistant","timestamp":"2025-06-18T10:00:00.000Z","sessionId":"s{file}","requestId":"req_{file}_{round}_{r}","message":{{"id":"msg_{file}_{round}_{r}","model":"claude-sonnet-4-5","content":[{{"type":"text","text":"t"}}],"usage":{{"input_tokens":1,"output_tokens":{r}}}}}}}"#
        );
        parser.parse_line(line.as_bytes(), &mut events);
        events.clear();
    }
    parser.dedup_state()
}

fn file(i: usize, round: usize) -> FileCheckpoint {
    FileCheckpoint {
        path: format!("/home/u/.claude/projects/-srv-town/{i:08x}-session.jsonl").into(),
        dev: 64768,
        ino: 1_000_000 + i as u64,
        size: 1 << 20,
        offset: (1 << 19) + round as u64,
        parser: Some(parser_state(i, round)),
        consumed: agent_log::tail::Consumed::default(),
    }
}

fn checkpoint(files: usize) -> Checkpoint {
    Checkpoint {
        version: CHECKPOINT_VERSION,
        session: "gt-gastown-Toast".into(),
        agent: AgentKind::ClaudeCode,
        work_dir: "/srv/town".into(),
        files: (0..files).map(|i| file(i, 0)).collect(),
        emitted_messages: (0..MESSAGE_MEMORY)
            .map(|m| format!("msg_01{m:022}"))
            .collect(),
        totals: Totals::default(),
        opencode_db: None,
        id: "3f2a9c1e-0000-4000-8000-000000000000".into(),
    }
}

fn commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("checkpoint_commit");
    group.sample_size(20);
    for files in [10usize, 100, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let whole = checkpoint(files);
        let delta = CheckpointDelta {
            files: vec![file(files / 2, 1)],
            messages: (0..4).map(|m| format!("msg_02{m:022}")).collect(),
            ..CheckpointDelta::default()
        };
        let mut store = CheckpointStore::new(dir.path().join("journal.checkpoint.json"));
        let mut totals = Totals::default();
        group.bench_with_input(BenchmarkId::new("journal", files), &delta, |b, delta| {
            b.iter(|| {
                totals.usage_records += 1;
                store
                    .commit(black_box(delta), &totals, || whole.clone())
                    .unwrap();
            });
        });
        let path = dir.path().join("whole.checkpoint.json");
        group.bench_with_input(BenchmarkId::new("whole", files), &whole, |b, whole| {
            b.iter(|| black_box(whole).save(&path).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, commit);
criterion_main!(benches);
