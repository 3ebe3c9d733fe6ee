//! Why gt could not hand its telemetry environment to its children.
//!
//! One job: the error enum of this crate, each variant a sentence a user can act on.

/// The process environment was left unchanged, for the reason given.
#[derive(Debug, thiserror::Error)]
pub enum SubprocessError {
    /// The telemetry variables are invalid, so gt exports nothing and points no child anywhere.
    #[error("children get no telemetry environment because the configuration is invalid: {0}")]
    Config(#[from] telemetry_core::InitError),
    /// The environment may only be written while the process has a single thread.
    #[error(
        "set_process_otel_attrs must run before any thread is started, but {threads} threads are \
         running; call it first thing in main"
    )]
    OtherThreadsRunning {
        /// The number of threads found in the process.
        threads: usize,
    },
}
