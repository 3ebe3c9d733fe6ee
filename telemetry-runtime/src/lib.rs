//! telemetry-runtime: this process's own health as OpenTelemetry metrics.
//!
//! Its one job is the semantic-convention process metrics — `process.cpu.time`,
//! `process.cpu.utilization`, `process.memory.usage`, `process.memory.virtual`,
//! `process.thread.count`, `process.open_file_descriptor.count` and `process.uptime` —
//! registered as observable instruments on a [`telemetry_core::Provider`] by [`install`].
//!
//! Nothing is measured between exports: the values are read in the instruments' callbacks,
//! when the SDK collects, from one snapshot of this process shared by all callbacks of that
//! collection ([`SNAPSHOT_MAX_AGE`]). A snapshot refreshes only this process through `sysinfo`
//! (plus, on Linux, `/proc/self/stat`, `/proc/uptime` and `/proc/self/fd`): about 24 µs per
//! collection on a 2-vCPU Linux VM (`benches/observe.rs`).
//!
//! ```no_run
//! # fn run(provider: &telemetry_core::Provider) -> Result<(), telemetry_runtime::RuntimeError> {
//! let _runtime = telemetry_runtime::install(provider)?;
//! // ... the provider's exports now carry the process metrics ...
//! # Ok(()) }
//! ```
//!
//! It must not scan other processes or the system tables, start threads or timers of its
//! own, or know any Gas Town event.

pub mod error;
pub mod instruments;
#[cfg(target_os = "linux")]
mod procfs;
pub mod sampler;

pub use error::RuntimeError;
pub use instruments::{RuntimeMetrics, SCOPE_NAME, SNAPSHOT_MAX_AGE, install};
pub use sampler::{CpuTimes, ProcessSampler, ProcessSnapshot};
