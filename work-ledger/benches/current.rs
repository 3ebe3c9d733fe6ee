//! The read cost of the work context at record time: [`Ledger::current`] on a ledger of
//! realistic size, one just below its compaction bound (about 1000 entries, 256 KiB), the
//! largest a ledger gets. Also the full read [`Ledger::at`] does, and one append.
//! Run: `cargo bench -p work-ledger --bench current`.
//!
//! Figures: see docs/performance.md ("Work ledger").

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use work_ledger::{Change, Ledger, Source};

fn change(i: usize) -> Change {
    Change {
        role: "gastown/polecats/Toast".into(),
        run_id: "6f1c2b3a-9d7e-4c1b-8a55-2f0e9c7d1a44".into(),
        rig: "gastown".into(),
        bead: format!("gt-{i:05}"),
        mol: format!("mol-{i:05}"),
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    // Never compacted while filling, so the file is as large as a ledger gets.
    let ledger = Ledger::new(dir.path(), "gt-gastown-Toast")
        .expect("ledger")
        .bounds(usize::MAX, u64::MAX);
    let mut i = 0;
    while std::fs::metadata(ledger.path()).map_or(0, |m| m.len())
        < work_ledger::ledger::DEFAULT_COMPACT_BYTES
    {
        ledger.append(change(i), Source::PrimeHook).expect("append");
        i += 1;
    }
    eprintln!("ledger: {i} entries");
    c.bench_function("ledger/current_full_ledger", |b| {
        b.iter(|| black_box(ledger.current().expect("read")));
    });
    c.bench_function("ledger/at_full_ledger", |b| {
        b.iter(|| black_box(ledger.at(black_box(0)).expect("read")));
    });
    let small = Ledger::new(dir.path(), "small").expect("ledger");
    c.bench_function("ledger/append", |b| {
        b.iter(|| black_box(small.append(change(1), Source::Flags).expect("append")));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
