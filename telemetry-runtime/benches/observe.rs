//! Cost of one observation of the process metrics.
//!
//! `sample_current_process` is a forced `ProcessSampler::sample()`: the `sysinfo` refresh of
//! this process plus (Linux) `/proc/self/stat`, `/proc/uptime` and a listing of
//! `/proc/self/fd`. One collection of all seven instruments costs one such sample (the
//! callbacks share it), plus the SDK's own aggregation. `sysinfo_refresh_only` is the
//! `sysinfo` part alone, with the same refresh kind.
//!
//! Run: `cargo bench -p telemetry-runtime --bench observe -- --quick`
//!
//! Measured (criterion `--quick`, release, Linux 6.18, 2 vCPU Intel Xeon VM):
//! `sample_current_process` ≈ 23.5 µs, `sysinfo_refresh_only` ≈ 14.2 µs.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use telemetry_runtime::ProcessSampler;

fn observe(c: &mut Criterion) {
    let mut sampler = ProcessSampler::new().expect("process statistics on this platform");
    c.bench_function("sample_current_process", |b| {
        b.iter(|| black_box(sampler.sample()))
    });

    let mut system = System::new().expect("sysinfo on this platform");
    let pid = Pid::from_u32(std::process::id());
    let kind = ProcessRefreshKind::nothing().with_memory();
    c.bench_function("sysinfo_refresh_only", |b| {
        b.iter(|| {
            system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), false, kind);
            black_box(system.process(pid).map(sysinfo::Process::memory))
        });
    });
}

criterion_group!(benches, observe);
criterion_main!(benches);
