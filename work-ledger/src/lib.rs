//! work-ledger: which work an agent session had in hand, and since when.
//!
//! Gas Town's agents are long-lived processes whose environment is fixed at start, so the work
//! context (rig, bead, molecule) cannot travel in environment variables alone: `gt prime`
//! changes it while the agent lives. The ledger is the live source. Every change of context
//! appends one [`Entry`] to the session's file, `$STATE/ledger/<session>.jsonl` (JSON Lines,
//! append-only, one file per session), and any process that records something reads the
//! session's [`Ledger::current`] entry at that moment; a reader of timestamped records (agent
//! transcripts) asks [`Ledger::at`] for the entry current at the record's own time.
//!
//! ```
//! use work_ledger::{Change, Ledger, Source};
//!
//! let state = tempfile::tempdir()?;
//! let ledger = Ledger::new(state.path(), "gt-gastown-Toast")?;
//! let change = Change { rig: "gastown".into(), bead: "gt-42".into(), ..Change::default() };
//! let entry = ledger.append(change, Source::PrimeHook)?;
//! assert_eq!(ledger.current()?.value, Some(entry.clone()));
//! assert_eq!(ledger.at(entry.time_ns - 1)?.value, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Guarantees (see [`ledger`] for the file protocol): concurrent appends never interleave or
//! tear (one `O_APPEND` write under an advisory lock); entry times strictly increase in file
//! order; the file is bounded (compaction keeps the newest entries, the current one always);
//! a missing ledger reads as empty and is created on first append; a corrupt line is skipped
//! and counted, never fatal.
//!
//! What it must not do: print (callers warn, once, from [`Read::corrupt_lines`] and errors),
//! know where the state directory is (callers pass it; gt resolves `GT_STATE_DIR`), know about
//! telemetry, tmux or beads, or start threads.

pub mod entry;
pub mod error;
pub mod ledger;

pub use entry::{Change, Entry, Source};
pub use error::LedgerError;
pub use ledger::{Ledger, Read, file_stem};
