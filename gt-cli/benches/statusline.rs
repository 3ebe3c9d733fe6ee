//! `gt statusline`'s own work per status update, without the process: parsing the documented
//! status JSON and rendering the line, and the quota-threshold check. The process-level figure
//! (start, stdin, ledger read, print) is `statusline_wall_time_with_telemetry_off` in
//! `tests/statusline.rs`. Run: `cargo bench -p gt-cli --bench statusline`.

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use gt_cli::statusline::{crossings, parse, render};

const SAMPLE: &str = include_str!("../tests/fixtures/statusline/sample.json");

fn bench(c: &mut Criterion) {
    let now = SystemTime::now();
    c.bench_function("statusline_parse_and_render_sample", |b| {
        b.iter(|| {
            let status = parse(black_box(SAMPLE.as_bytes()));
            render(&status, Some("gt-42"), now)
        });
    });
    c.bench_function("statusline_parse_and_render_malformed", |b| {
        b.iter(|| {
            let status = parse(black_box(&SAMPLE.as_bytes()[..SAMPLE.len() / 2]));
            render(&status, Some("gt-42"), now)
        });
    });
    c.bench_function("statusline_crossings", |b| {
        b.iter(|| crossings(black_box(Some(49.0)), black_box(96.0)).count());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
