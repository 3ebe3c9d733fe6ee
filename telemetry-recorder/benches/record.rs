//! Cost of a record call: disabled (free functions, no global provider) and enabled (a
//! `Recorder` exporting to a loopback `otlp_capture::Receiver`).
//!
//! Run: `cargo bench -p telemetry-recorder --bench record -- --warm-up-time 1 --measurement-time 3`
//!
//! Figures (2-core container, `bench` profile, criterion 0.8, `--warm-up-time 1
//! --measurement-time 3`, median of the confidence interval):
//! - disabled `record_bd_call`: 0.68 ns; disabled `record_prime`: 0.43 ns (one atomic load,
//!   no allocation; `tests/disabled.rs` asserts the latter).
//! - enabled `bd_call` (counter + histogram + one log record): 0.80 µs.
//! - enabled `prime` (counter + one log record carrying the three `work_*`): 0.56 µs.
//! - enabled `pane_output` (counter + one log record, 1 KiB content): 0.48 µs.
//!
//! Enabled figures are the caller's cost: building the record and handing it to the batch log
//! processor. At this rate the processor's queue (2048 records) can fill up and shed records,
//! and its export thread and the receiver compete for the same two cores; the export itself
//! is not in the figure.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use otlp_capture::Receiver;
use telemetry_core::{Config, Profile, Service};
use telemetry_recorder::{ContentSettings, Recorder, WorkContext, with_work_context};

fn disabled(c: &mut Criterion) {
    assert!(
        telemetry_core::global().is_none(),
        "the disabled benchmarks need no provider"
    );
    let mut group = c.benchmark_group("disabled");
    // Arguments are built outside the loop and passed through one `black_box`: black-boxing
    // each of the five separately costs ~5 ns of stack traffic, more than the call itself.
    group.bench_function("record_bd_call", |b| {
        let args: &[&str] = &["show", "gt-42"];
        let stdout: &[u8] = b"stdout";
        b.iter(|| {
            let (args, stdout) = black_box((args, stdout));
            telemetry_recorder::record_bd_call(
                args,
                Duration::from_millis(12),
                Ok(()),
                stdout,
                b"",
            );
        });
    });
    group.bench_function("record_prime", |b| {
        b.iter(|| telemetry_recorder::record_prime(black_box("mayor"), black_box(true), Ok(())));
    });
    group.finish();
}

fn enabled(c: &mut Criterion) {
    let rx = Receiver::start().expect("receiver");
    let (metrics, logs) = (rx.url("/v1/metrics"), rx.url("/v1/logs"));
    let config = Config::from_lookup(|k| match k {
        "GT_OTEL_METRICS_URL" => Some(metrics.clone()),
        "GT_OTEL_LOGS_URL" => Some(logs.clone()),
        _ => None,
    })
    .expect("config");
    let provider = telemetry_otlp::build(
        &config,
        Service {
            name: "bench",
            version: "0",
        },
        Profile::OneShot,
    )
    .expect("provider");
    let recorder = Recorder::with_settings(&provider, ContentSettings::all_enabled());
    let work = WorkContext {
        rig: "gastown".into(),
        bead: "gt-42".into(),
        mol: "gt-mol-1".into(),
    };
    let pane = "x".repeat(1024);

    let mut group = c.benchmark_group("enabled");
    with_work_context(&work, || {
        group.bench_function("bd_call", |b| {
            b.iter(|| {
                recorder.bd_call(
                    black_box(&["show", "gt-42"]),
                    black_box(Duration::from_millis(12)),
                    Ok(()),
                    black_box(b"stdout"),
                    black_box(b""),
                );
            });
        });
        group.bench_function("prime", |b| {
            b.iter(|| recorder.prime(black_box("mayor"), black_box(true), Ok(())));
        });
        group.bench_function("pane_output", |b| {
            b.iter(|| recorder.pane_output(black_box("gt-gastown-Toast"), black_box(&pane)));
        });
    });
    group.finish();
    let _ = provider.shutdown(Duration::from_secs(5));
}

criterion_group!(benches, disabled, enabled);
criterion_main!(benches);
