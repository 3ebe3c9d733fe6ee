//! The durable counter store's cost per `gt` invocation: lock, read, merge, atomic write, for
//! stores of 10, 100 and 1,000 series (one increment each time, as a one-shot command makes).
//!
//! `cargo bench -p telemetry-otlp --bench store`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use telemetry_otlp::counter_store::{AttrValue, Increment, SeriesId, Store, Value};

fn increment(i: usize) -> Increment {
    Increment {
        id: SeriesId {
            resource: vec![
                (
                    "host.name".to_owned(),
                    AttrValue::S("bench-host".to_owned()),
                ),
                (
                    "service.name".to_owned(),
                    AttrValue::S("gastown".to_owned()),
                ),
            ],
            scope: "gastown".to_owned(),
            name: "gastown.bd.calls.total".to_owned(),
            unit: "{call}".to_owned(),
            description: "bd invocations".to_owned(),
            attrs: vec![
                ("status".to_owned(), AttrValue::S("ok".to_owned())),
                ("subcommand".to_owned(), AttrValue::S(format!("sub{i}"))),
            ],
        },
        delta: Value::IntSum { total: 1 },
    }
}

fn advance(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_advance");
    for series in [10usize, 100, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let all: Vec<Increment> = (0..series).map(increment).collect();
        store.advance(&all).unwrap();
        let one = [increment(0)];
        group.bench_with_input(BenchmarkId::from_parameter(series), &one, |b, one| {
            b.iter(|| black_box(store.advance(one).unwrap()));
        });
    }
    group.finish();
}

criterion_group!(benches, advance);
criterion_main!(benches);
