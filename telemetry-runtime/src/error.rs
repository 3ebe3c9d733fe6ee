//! Why the process metrics could not be installed.
//!
//! One job: this crate's error enum, each variant a sentence a user can act on.

/// The process metrics were not registered; telemetry goes on without them.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// `sysinfo` cannot read process statistics on this platform or in this sandbox.
    #[error("process metrics are unavailable: cannot read this process's statistics: {0}")]
    Unavailable(#[from] sysinfo::Error),
}
