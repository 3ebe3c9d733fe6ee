//! The process metrics as OpenTelemetry observable instruments.
//!
//! One job: register the instruments on a meter and answer their callbacks from one shared,
//! briefly cached [`ProcessSnapshot`]. It must not read anything outside a callback (no thread,
//! no timer), nor read the process statistics itself (that is [`crate::sampler`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::metrics::{
    AsyncInstrument, Meter, MeterProvider as _, ObservableCounter, ObservableGauge,
    ObservableUpDownCounter,
};
use opentelemetry::{InstrumentationScope, KeyValue};

use crate::error::RuntimeError;
use crate::sampler::{CpuTimes, ProcessSampler, ProcessSnapshot};

/// Instrumentation scope (meter name) of the process metrics.
pub const SCOPE_NAME: &str = "gastown.runtime";

/// How long a snapshot answers callbacks before the next callback refreshes it.
///
/// The SDK runs every callback of one collection back to back (well under a millisecond), so
/// they all see one snapshot, while two collections (export intervals are seconds) never share
/// one.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(100);

/// `process.cpu.time`: counter, seconds, `cpu.mode` = `user` | `system` where available.
pub const PROCESS_CPU_TIME: &str = "process.cpu.time";
/// `process.cpu.utilization`: gauge, ratio of the available CPUs, `cpu.mode` as above.
pub const PROCESS_CPU_UTILIZATION: &str = "process.cpu.utilization";
/// `process.memory.usage`: up-down counter, bytes of resident memory.
pub const PROCESS_MEMORY_USAGE: &str = "process.memory.usage";
/// `process.memory.virtual`: up-down counter, bytes of virtual memory.
pub const PROCESS_MEMORY_VIRTUAL: &str = "process.memory.virtual";
/// `process.thread.count`: up-down counter, threads.
pub const PROCESS_THREAD_COUNT: &str = "process.thread.count";
/// `process.open_file_descriptor.count`: up-down counter, open file descriptors. (Semantic
/// conventions 1.3x renamed it `process.unix.file_descriptor.count`; this is the older name.)
pub const PROCESS_OPEN_FILE_DESCRIPTOR_COUNT: &str = "process.open_file_descriptor.count";
/// `process.uptime`: gauge, seconds since the process started.
pub const PROCESS_UPTIME: &str = "process.uptime";

/// The attribute splitting CPU figures by mode.
const CPU_MODE: &str = "cpu.mode";

/// The sampler and its last snapshot, shared by every callback.
struct SharedSnapshot {
    state: Mutex<(ProcessSampler, Option<ProcessSnapshot>)>,
}

impl SharedSnapshot {
    /// The last snapshot if younger than [`SNAPSHOT_MAX_AGE`], a fresh one otherwise.
    fn current(&self) -> ProcessSnapshot {
        // A panic elsewhere while locked leaves a usable sampler: take it back.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (sampler, last) = &mut *state;
        match last {
            Some(snapshot) if snapshot.taken_at.elapsed() < SNAPSHOT_MAX_AGE => *snapshot,
            _ => *last.insert(sampler.sample()),
        }
    }
}

/// The registered process metrics.
///
/// The SDK owns the callbacks once registered: they keep observing for as long as the meter
/// provider lives, whether or not this value is kept (the OpenTelemetry API has no way to
/// unregister them). Keep it to read [`RuntimeMetrics::snapshot`], or drop it.
pub struct RuntimeMetrics {
    shared: Arc<SharedSnapshot>,
    _cpu_time: ObservableCounter<f64>,
    _cpu_utilization: ObservableGauge<f64>,
    _memory_usage: ObservableUpDownCounter<i64>,
    _memory_virtual: ObservableUpDownCounter<i64>,
    _thread_count: ObservableUpDownCounter<i64>,
    _open_fds: ObservableUpDownCounter<i64>,
    _uptime: ObservableGauge<f64>,
}

impl std::fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeMetrics").finish_non_exhaustive()
    }
}

impl RuntimeMetrics {
    /// The snapshot the callbacks would observe now (cached for [`SNAPSHOT_MAX_AGE`]).
    #[must_use]
    pub fn snapshot(&self) -> ProcessSnapshot {
        self.shared.current()
    }
}

/// Registers the process metrics on `provider`'s meter provider, under the scope
/// [`SCOPE_NAME`]. Nothing is read until the first collection.
///
/// Call it once per provider: a second call registers a second set of callbacks.
///
/// # Errors
/// [`RuntimeError::Unavailable`] when this platform does not give process statistics.
pub fn install(provider: &telemetry_core::Provider) -> Result<RuntimeMetrics, RuntimeError> {
    let scope = InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let meter = provider.meter_provider().meter_with_scope(scope);
    let shared = Arc::new(SharedSnapshot {
        state: Mutex::new((ProcessSampler::new()?, None)),
    });
    Ok(register(&meter, shared))
}

/// Observes each CPU figure, with its `cpu.mode` when split.
fn observe_cpu(observer: &dyn AsyncInstrument<f64>, times: Option<CpuTimes>) {
    for (mode, value) in times.iter().flat_map(CpuTimes::by_mode) {
        match mode {
            Some(mode) => observer.observe(value, &[KeyValue::new(CPU_MODE, mode)]),
            None => observer.observe(value, &[]),
        }
    }
}

/// Observes a count as the `i64` the up-down counters carry (saturating, never wrapping).
fn observe_count(observer: &dyn AsyncInstrument<i64>, count: Option<u64>) {
    if let Some(count) = count {
        observer.observe(i64::try_from(count).unwrap_or(i64::MAX), &[]);
    }
}

fn register(meter: &Meter, shared: Arc<SharedSnapshot>) -> RuntimeMetrics {
    let source = |field: fn(&ProcessSnapshot) -> Option<u64>| {
        let shared = Arc::clone(&shared);
        move |observer: &dyn AsyncInstrument<i64>| observe_count(observer, field(&shared.current()))
    };
    let cpu_time = {
        let shared = Arc::clone(&shared);
        meter
            .f64_observable_counter(PROCESS_CPU_TIME)
            .with_unit("s")
            .with_description("Total CPU seconds broken down by different CPU modes")
            .with_callback(move |observer| observe_cpu(observer, shared.current().cpu_time))
            .build()
    };
    let cpu_utilization = {
        let shared = Arc::clone(&shared);
        meter
            .f64_observable_gauge(PROCESS_CPU_UTILIZATION)
            .with_unit("1")
            .with_description(
                "Difference in process.cpu.time since the last measurement, divided by the \
                 elapsed time and number of CPUs available to the process",
            )
            .with_callback(move |observer| observe_cpu(observer, shared.current().cpu_utilization))
            .build()
    };
    let memory_usage = meter
        .i64_observable_up_down_counter(PROCESS_MEMORY_USAGE)
        .with_unit("By")
        .with_description("The amount of physical memory in use")
        .with_callback(source(|s| s.memory_usage))
        .build();
    let memory_virtual = meter
        .i64_observable_up_down_counter(PROCESS_MEMORY_VIRTUAL)
        .with_unit("By")
        .with_description("The amount of committed virtual memory")
        .with_callback(source(|s| s.memory_virtual))
        .build();
    let thread_count = meter
        .i64_observable_up_down_counter(PROCESS_THREAD_COUNT)
        .with_unit("{thread}")
        .with_description("Process threads count")
        .with_callback(source(|s| s.thread_count))
        .build();
    let open_fds = meter
        .i64_observable_up_down_counter(PROCESS_OPEN_FILE_DESCRIPTOR_COUNT)
        .with_unit("{file_descriptor}")
        .with_description("Number of file descriptors in use by the process")
        .with_callback(source(|s| s.open_file_descriptors))
        .build();
    let uptime = {
        let shared = Arc::clone(&shared);
        meter
            .f64_observable_gauge(PROCESS_UPTIME)
            .with_unit("s")
            .with_description("The time the process has been running")
            .with_callback(move |observer| {
                if let Some(seconds) = shared.current().uptime_seconds {
                    observer.observe(seconds, &[]);
                }
            })
            .build()
    };
    RuntimeMetrics {
        shared,
        _cpu_time: cpu_time,
        _cpu_utilization: cpu_utilization,
        _memory_usage: memory_usage,
        _memory_virtual: memory_virtual,
        _thread_count: thread_count,
        _open_fds: open_fds,
        _uptime: uptime,
    }
}
