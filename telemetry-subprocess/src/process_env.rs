//! Writing gt's telemetry variables into this process's own environment, so that every child
//! it spawns from then on inherits them.
//!
//! One job: the workspace's only call to `std::env::set_var`. It must not run once other
//! threads exist, and nothing else in the workspace may write the environment.

use crate::child_env::{Work, try_otel_env};
use crate::error::SubprocessError;
use telemetry_core::env::GT_RUN;

/// Sets `OTEL_RESOURCE_ATTRIBUTES`, `BD_OTEL_METRICS_URL` and `BD_OTEL_LOGS_URL` in this
/// process's environment (values as [`crate::otel_env_for_subprocess`] computes them from the
/// current environment), so that every child spawned afterwards inherits them.
///
/// The work context is left out: `OTEL_RESOURCE_ATTRIBUTES` gets no `gt.work_*` (a parent's
/// are dropped), because gt reads that variable for its own resource and the work context
/// changes while gt lives. Children get the freshly resolved work context from
/// [`crate::otel_env_for_subprocess_from_lookup`] when they are started.
///
/// It acts when either `GT_OTEL_METRICS_URL` or `GT_OTEL_LOGS_URL` is set (a logs-only set-up
/// gets the default metrics URL, as gt itself does), and does nothing when telemetry is off.
/// `GT_RUN` is not written: a child inherits it already. Calling it again recomputes the same
/// values (the `gt.*` attributes it wrote are replaced, foreign ones kept).
///
/// Returns the variables written, in order; empty when telemetry is off.
///
/// # Safety contract (checked where possible)
///
/// Call it at start-up, first thing in `main`, before any thread exists: before
/// `telemetry_core::init` (whose exporters run on threads) and before any library that spawns
/// one. `std::env::set_var` is `unsafe` in edition 2024 because another thread may be reading
/// the environment at the same moment through libc's `getenv` (DNS resolution, time zones,
/// locale), which is undefined behaviour on most platforms. On Linux the function counts the
/// threads in `/proc/self/task` and refuses to write anything when there is more than one; on
/// other platforms the caller's word is all there is.
///
/// # Errors
///
/// [`SubprocessError::OtherThreadsRunning`] when other threads exist (Linux only), and
/// [`SubprocessError::Config`] when the telemetry configuration is invalid. In both cases the
/// environment is left unchanged.
#[allow(
    unsafe_code,
    reason = "the one place that writes the process environment; sound under the single-thread \
              contract documented above and checked on Linux"
)]
pub fn set_process_otel_attrs() -> Result<Vec<(String, String)>, SubprocessError> {
    if let Some(threads) = thread_count().filter(|&n| n > 1) {
        return Err(SubprocessError::OtherThreadsRunning { threads });
    }
    let mut env = try_otel_env(|key| std::env::var(key).ok(), Work::Exclude)?;
    env.retain(|(name, _)| name != GT_RUN);
    for (name, value) in &env {
        // SAFETY: the process has a single thread (checked above on Linux, the documented
        // contract elsewhere), so no other thread can read the environment concurrently, and
        // only this thread could start one, which it does not do until this loop ends.
        unsafe { std::env::set_var(name, value) };
    }
    Ok(env)
}

/// The number of threads in this process, when the platform says.
fn thread_count() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_dir("/proc/self/task")
            .ok()
            .map(Iterator::count)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
