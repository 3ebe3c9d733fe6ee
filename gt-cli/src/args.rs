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
    /// Run bd with the telemetry environment and record the call as `bd.call`.
    Bd(BdArgs),
    /// Telemetry tools: check the configuration, emit an event by hand.
    #[command(subcommand)]
    Otel(OtelCommand),
    /// Print shell completions.
    Completions(CompletionsArgs),
}

/// Options of `gt bd`.
#[derive(Debug, Args)]
pub(crate) struct BdArgs {
    /// Arguments passed to bd verbatim (put them after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub(crate) args: Vec<String>,
}

/// `gt otel` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum OtelCommand {
    /// Show the effective telemetry configuration and reach each endpoint with a real OTLP request.
    Doctor(DoctorArgs),
    /// Emit one catalogued event (record and counter), validated against the catalogue.
    Emit(EmitArgs),
}

/// Options of `gt otel emit`.
#[derive(Debug, Args)]
pub(crate) struct EmitArgs {
    /// The event name, e.g. `sling` or `bd.call`.
    pub(crate) event: String,
    /// An attribute, `key=value` (repeatable); types are checked against the catalogue.
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub(crate) attrs: Vec<String>,
    /// The outcome.
    #[arg(long, value_enum, default_value_t = EmitStatus::Ok)]
    pub(crate) status: EmitStatus,
    /// The error message (implies --status error).
    #[arg(long)]
    pub(crate) error: Option<String>,
}

/// `--status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EmitStatus {
    /// Success.
    Ok,
    /// Failure.
    Error,
}

/// Options of `gt otel doctor`.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Per-endpoint bound on the probe, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub(crate) timeout_ms: u64,
}

/// Options of `gt completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    pub(crate) shell: clap_complete::Shell,
}

/// Options of `gt prime`.
#[derive(Debug, Args)]
pub(crate) struct PrimeArgs {
    /// Agent identity (e.g. `gastown/polecats/Toast`); defaults to GT_ROLE, then BD_ACTOR.
    #[arg(long)]
    pub(crate) role: Option<String>,
    /// The agent's rig; defaults to GT_RIG, then the role's first segment.
    #[arg(long)]
    pub(crate) rig: Option<String>,
    /// Prime was invoked from a session hook (recorded as `hook_mode`).
    #[arg(long)]
    pub(crate) hook: bool,
    /// Use this bead instead of asking bd.
    #[arg(long)]
    pub(crate) bead: Option<String>,
    /// Use this molecule instead of the bead's `attached_molecule`.
    #[arg(long)]
    pub(crate) mol: Option<String>,
    /// The rig the work belongs to (defaults to the agent's rig).
    #[arg(long)]
    pub(crate) work_rig: Option<String>,
    /// Do not ask beads (`bd`) for hooked work; keep the current context.
    #[arg(long)]
    pub(crate) no_bd: bool,
    /// Ask bd once, even for roles whose hook can lag.
    #[arg(long)]
    pub(crate) no_retry: bool,
    /// The tmux session to inject into (default: the current one, when inside tmux).
    #[arg(long)]
    pub(crate) tmux_session: Option<String>,
    /// Report what would change; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Print the work context as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}
