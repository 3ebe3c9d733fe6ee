//! Argument definitions (clap only; no behaviour here).

use clap::{Args, Parser, Subcommand};

/// Gas Town telemetry: work attribution, agent transcripts and OpenTelemetry export.
#[derive(Debug, Parser)]
#[command(name = "gt", version, about, long_about = None)]
pub(crate) struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The `gt` commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Resolve this agent's work context, attribute later telemetry to it, and emit `prime`.
    Prime(PrimeArgs),
}

/// Options of `gt prime`.
#[derive(Debug, Args)]
pub(crate) struct PrimeArgs {
    /// Agent identity (e.g. `gastown/polecats/Toast`); defaults to GT_ROLE, then BD_ACTOR.
    #[arg(long)]
    pub(crate) role: Option<String>,
    /// Prime was invoked from a session hook (recorded as `hook_mode`).
    #[arg(long)]
    pub(crate) hook: bool,
    /// Do not ask beads (`bd`) for hooked work.
    #[arg(long)]
    pub(crate) no_bd: bool,
    /// Print the work context as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}
