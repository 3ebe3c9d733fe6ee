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
    /// Run git transparently (stdin, output, exit code, signals), recorded as `git.operation`.
    Git(GitArgs),
    /// Telemetry tools: check the configuration, emit an event by hand.
    #[command(subcommand)]
    Otel(OtelCommand),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Print this session's current work context and its recent history (the work ledger).
    Work(WorkArgs),
    /// Follow an agent's transcripts and export token usage and conversation events; or
    /// replay or report on transcripts.
    AgentLog(AgentLogArgs),
    /// Start or stop an agent session: tmux, identity, run id, the session's root span, the
    /// agent's own telemetry, agent-log.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Claude Code's status line: read the status JSON on stdin, print one line (work bead,
    /// model, context, 5h/7d quota, cost) and record the quota and context gauges. Never fails.
    Statusline,
}

/// `gt session` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// Create (or join) the tmux session and start the agent in it: mints GT_RUN, sets the
    /// identity variables, records session.start and agent.instantiate, starts the session's
    /// root span (gt.session), wires the agent's own telemetry, and starts a detached
    /// agent-log when GT_LOG_AGENT_OUTPUT=true.
    Start(SessionStartArgs),
    /// Record session.stop, stop the session's agent-log (with a flush), end the root span and
    /// close the tmux session.
    Stop(SessionStopArgs),
}

/// Options of `gt session start`.
#[derive(Debug, Args)]
pub(crate) struct SessionStartArgs {
    /// The agent's role (GT_ROLE), e.g. `gastown/polecats/Toast`.
    #[arg(long)]
    pub(crate) role: String,
    /// The agent (default claudecode).
    #[arg(long, value_enum, default_value = "claudecode")]
    pub(crate) agent: AgentArg,
    /// The agent's work directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub(crate) work_dir: Option<std::path::PathBuf>,
    /// The tmux session (default: `gt-` and the role with `/` as `-`).
    #[arg(long)]
    pub(crate) session: Option<String>,
    /// The rig (default: the role's first component).
    #[arg(long)]
    pub(crate) rig: Option<String>,
    /// The agent's command (after `--`; default: `claude`, `codex` or `opencode`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub(crate) command: Vec<String>,
}

/// Options of `gt session stop`.
#[derive(Debug, Args)]
pub(crate) struct SessionStopArgs {
    /// The tmux session (default: GT_SESSION, else the tmux session gt runs in).
    #[arg(long)]
    pub(crate) session: Option<String>,
    /// Leave the tmux session running.
    #[arg(long)]
    pub(crate) keep_tmux: bool,
}

/// Options of `gt bd`.
#[derive(Debug, Args)]
pub(crate) struct BdArgs {
    /// Arguments passed to bd verbatim (put them after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub(crate) args: Vec<String>,
}

/// `gt git -- ARGS…`.
#[derive(Debug, Args)]
pub(crate) struct GitArgs {
    /// Arguments passed to git verbatim (put them after `--`).
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
    /// Print the telemetry environment a child process would get, for `eval`.
    Env(OtelEnvArgs),
    /// The spool of log batches whose export failed: show, ship now, or empty it.
    #[command(subcommand)]
    Spool(SpoolCommand),
    /// Probe the town from outside until stopped: Dolt health (MySQL protocol) and refinery
    /// queues (bd), exported as gauges and events.
    Watch(WatchArgs),
}

/// `gt otel spool` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SpoolCommand {
    /// What the spool holds, and what its size cap dropped so far.
    Status(SpoolStatusArgs),
    /// Ship the spool (or a directory of OTLP JSON Lines files) now; exit 1 if files are left.
    Flush(SpoolFlushArgs),
    /// Remove every waiting file (their records are lost).
    Clear,
}

/// Options of `gt otel spool status`.
#[derive(Debug, Args)]
pub(crate) struct SpoolStatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Options of `gt otel spool flush`.
#[derive(Debug, Args)]
pub(crate) struct SpoolFlushArgs {
    /// Ship the OTLP JSON Lines files of this directory (e.g. a `file://` endpoint's) instead
    /// of the spool, once no process writes to it any more. Each file is removed once
    /// delivered; a file that holds no OTLP/JSON request is removed too (and counted).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<std::path::PathBuf>,
    /// Send to this URL (OTLP/HTTP, or `file:///dir/` to copy) instead of the configured
    /// metrics, logs or traces URL of each file's signal.
    #[arg(long, value_name = "URL")]
    pub(crate) to: Option<String>,
    /// Ship only the files of this signal (`metrics`, `logs`, `traces`).
    #[arg(long)]
    pub(crate) signal: Option<String>,
    /// Bound on the whole flush, in milliseconds (what does not fit is left).
    #[arg(long, default_value_t = 60_000)]
    pub(crate) timeout_ms: u64,
}

/// Options of `gt otel watch` (each falls back to its `GT_WATCH_*` variable).
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// Milliseconds between two rounds of probes [env: GT_WATCH_INTERVAL_MS; default 30000].
    #[arg(long)]
    pub(crate) interval_ms: Option<u64>,
    /// A Dolt sql-server to check, `mysql://user:password@host:port/db` (repeatable)
    /// [env: GT_WATCH_DOLT_DSN, comma-separated].
    #[arg(long = "dsn")]
    pub(crate) dsns: Vec<String>,
    /// A rig whose merge queue to sample, `NAME=PATH` or `PATH` (repeatable)
    /// [env: GT_WATCH_RIGS, comma-separated].
    #[arg(long = "rig")]
    pub(crate) rigs: Vec<String>,
    /// bd arguments of the merge-queue query, space-separated
    /// [env: GT_WATCH_REFINERY_QUERY; default: list --json --status open --label gt:merge-request].
    #[arg(long)]
    pub(crate) refinery_query: Option<String>,
    /// Run one round and exit.
    #[arg(long)]
    pub(crate) once: bool,
}

/// Options of `gt otel env`.
#[derive(Debug, Args)]
pub(crate) struct OtelEnvArgs {
    /// The output syntax.
    #[arg(long, value_enum, default_value_t = gt_cli::env_export::Syntax::Sh)]
    pub(crate) shell: gt_cli::env_export::Syntax,
}

/// Options of `gt work`.
#[derive(Debug, Args)]
pub(crate) struct WorkArgs {
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// How many history entries to show, newest last.
    #[arg(long, default_value_t = 10)]
    pub(crate) limit: usize,
}

/// Options of `gt otel emit`.
#[derive(Debug, Args)]
pub(crate) struct EmitArgs {
    /// The event name, e.g. `sling` or `bd.call`.
    pub(crate) event: String,
    /// An attribute, `key=value` (repeatable); types are checked against the catalogue.
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub(crate) attrs: Vec<String>,
    /// The outcome (`error` only for events that have a status).
    #[arg(long, value_enum, default_value_t = EmitStatus::Ok)]
    pub(crate) status: EmitStatus,
    /// The error message (implies --status error; only for events that have a status).
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

/// Options of `gt agent-log`: the follow mode's, unless a subcommand is given.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct AgentLogArgs {
    /// `replay` or `report`; without one, follow the work directory's transcripts.
    #[command(subcommand)]
    pub(crate) command: Option<AgentLogCommand>,
    /// Follow-mode options.
    #[command(flatten)]
    pub(crate) follow: FollowArgs,
}

/// `gt agent-log` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AgentLogCommand {
    /// Export historical transcripts once (original timestamps), then exit.
    Replay(ReplayArgs),
    /// Sum tokens and cost from transcripts, without any backend.
    Report(ReportArgs),
}

/// `--agent` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AgentArg {
    /// Claude Code.
    Claudecode,
    /// OpenAI Codex CLI.
    Codex,
    /// OpenCode.
    Opencode,
}

/// Options of the follow mode of `gt agent-log`.
#[derive(Debug, Args)]
pub(crate) struct FollowArgs {
    /// The Gas Town session the records belong to (default: GT_SESSION).
    #[arg(long)]
    pub(crate) session: Option<String>,
    /// The agent's work directory, whose transcripts are followed.
    #[arg(long, value_name = "DIR")]
    pub(crate) work_dir: Option<std::path::PathBuf>,
    /// The agent (default: GT_AGENT, else claudecode).
    #[arg(long, value_enum)]
    pub(crate) agent: Option<AgentArg>,
    /// Read transcripts changed at or after this time (RFC 3339) from their start, and
    /// follow older ones from their end.
    #[arg(long, value_name = "RFC3339")]
    pub(crate) since: Option<String>,
    /// The run id recorded as `run.id` (default: GT_RUN).
    #[arg(long)]
    pub(crate) run_id: Option<String>,
    /// Run in the background as its own session leader; exits 0 at once (also when an
    /// instance already follows this session).
    #[arg(long)]
    pub(crate) detach: bool,
    /// Internal: this process is the background instance started by --detach.
    #[arg(long, hide = true)]
    pub(crate) detached_child: bool,
}

/// Options of `gt agent-log replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// Transcript files, or directories searched for `.jsonl` files.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<std::path::PathBuf>,
    /// The Gas Town session the records belong to (default: GT_SESSION, else empty).
    #[arg(long)]
    pub(crate) session: Option<String>,
    /// The agent (default: from each file name: `rollout-*.jsonl` is Codex, else Claude Code).
    #[arg(long, value_enum)]
    pub(crate) agent: Option<AgentArg>,
    /// The run id recorded as `run.id` (default: GT_RUN).
    #[arg(long)]
    pub(crate) run_id: Option<String>,
    /// The backend's retention in days: records older than that are counted and reported in
    /// one warning, because VictoriaLogs and VictoriaMetrics accept them and drop them
    /// (default 7, VictoriaLogs' default `-retentionPeriod`; 0 turns the check off).
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub(crate) retention: u32,
}

/// `--by` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReportBy {
    /// One row per agent session.
    Session,
    /// One row per model.
    Model,
    /// One row per UTC day.
    Day,
    /// One row per bead, from the session's work ledger at each usage's time.
    Bead,
    /// One row per rig, from the session's work ledger at each usage's time.
    Rig,
    /// One row per molecule, from the session's work ledger at each usage's time.
    Mol,
}

/// Options of `gt agent-log report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Transcript files or directories (default: the transcripts of --work-dir).
    #[arg(value_name = "PATH", conflicts_with = "work_dir")]
    pub(crate) paths: Vec<std::path::PathBuf>,
    /// Report on this work directory's transcripts.
    #[arg(long, value_name = "DIR")]
    pub(crate) work_dir: Option<std::path::PathBuf>,
    /// The agent (default: GT_AGENT for --work-dir, else from each file name).
    #[arg(long, value_enum)]
    pub(crate) agent: Option<AgentArg>,
    /// How rows are grouped.
    #[arg(long, value_enum, default_value_t = ReportBy::Session)]
    pub(crate) by: ReportBy,
    /// The Gas Town session whose work ledger attributes usages to beads, rigs and molecules
    /// (default: GT_SESSION); needed for --by bead|rig|mol.
    #[arg(long)]
    pub(crate) session: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}
