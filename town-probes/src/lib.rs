//! town-probes: measurements of a Gas Town taken from outside the orchestrator, for
//! `gt otel watch`.
//!
//! - [`dolt`]: one health check of a Dolt sql-server (or any MySQL-protocol server) per call:
//!   `SELECT 1` latency, `Threads_connected`, `max_connections`, replication lag.
//! - [`refinery`]: a rig's merge queue (depth, oldest item's age) from `bd list --json`'s
//!   answer.
//!
//! Probes only measure and return values: recording them is the caller's job
//! (`telemetry-recorder`), and so is running `bd` (gt's bounded bd runner). Nothing here
//! spawns threads, reads the environment or prints; a failed measurement is a value
//! ([`dolt::Check`]'s error), never a panic.

pub mod dolt;
pub mod refinery;
