//! Why a ledger operation failed. Each variant is a sentence naming the file involved.

use std::path::PathBuf;
use std::time::Duration;

/// A ledger operation failed; nothing was appended.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A file or directory of the ledger could not be created, read or written.
    #[error("work ledger: cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done (`open`, `append to`, `create`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another writer held the lock for longer than the wait allowed.
    #[error("work ledger: {} stayed locked for {waited:?}; entry not written", .path.display())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long this writer waited.
        waited: Duration,
    },
    /// The session name cannot name a ledger file.
    #[error("work ledger: session name {session:?} is unusable: {reason}")]
    Session {
        /// The session name (its first 40 characters when too long).
        session: String,
        /// Why.
        reason: &'static str,
    },
}
