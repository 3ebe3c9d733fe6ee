//! agent-log: follow an agent's transcripts and export what they say.
//!
//! The parsing lives in agent-transcripts; this module finds the files of a work directory
//! ([`discover`]), follows each one ([`tail`], [`follow`]; OpenCode's SQLite database in
//! [`opencode_db`]) in bounded batches whose export is confirmed before the position is
//! checkpointed (one protocol for both, [`pump`]; the files on disk, [`state`]), maps events
//! to telemetry records ([`sink`]) and, with traces on, spans ([`turns`]) attributed to the work current at each record's time
//! ([`attribution`]), wakes up on inotify events and signals ([`watch`]) and reads files once
//! for `replay` and `report` ([`offline`]). Settings are resolved once ([`settings`]).
//!
//! Guarantees, with the edges stated where they are enforced: a record is exported at least
//! once, exactly once across `kill -9` and restarts (the checkpoint never passes a confirmed
//! export and never lags one); memory is bounded by one batch of
//! [`settings::BATCH_RECORDS`] records plus one line, whatever the backlog and however long
//! the backend is down. Nothing here parses command-line arguments or prints results: the
//! `gt` binary does.

pub mod attribution;
pub mod discover;
pub mod follow;
pub mod offline;
pub mod opencode_db;
pub mod pump;
pub mod settings;
pub mod sink;
pub mod state;
pub mod tail;
pub mod turns;
pub mod watch;
