//! The commands, and the telemetry session the recording ones run inside.

mod agent_log;
mod bd;
mod completions;
mod doctor;
mod emit;
mod git;
mod otel_env;
mod otel_spool;
mod prime;
mod session;
mod statusline;
mod watch;
mod work;

use std::process::ExitCode;
use std::time::Duration;

use crate::args::{Cli, Command, OtelCommand, SessionCommand};

/// The shutdown bound for one-shot commands (the data model's recommended caller bound). With
/// the one-shot export profile a dead or hanging backend costs about one exporter timeout (1 s).
pub(crate) const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Runs one command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Prime(args) => {
            with_telemetry(|| telemetry_recorder::in_span("prime", || prime::run(&args)))
        }
        Command::Bd(args) => with_telemetry(|| bd::run(&args)),
        Command::Git(args) => with_telemetry(|| git::run(&args)),
        Command::Otel(OtelCommand::Doctor(args)) => doctor::run(&args),
        Command::Otel(OtelCommand::Emit(args)) => emit::run(&args),
        Command::Completions(args) => Ok(completions::run(&args)),
        Command::Work(args) => work::run(&args),
        Command::Otel(OtelCommand::Env(args)) => Ok(otel_env::run(&args)),
        Command::Otel(OtelCommand::Spool(command)) => otel_spool::run(&command),
        Command::Otel(OtelCommand::Watch(args)) => watch::run(&args),
        Command::AgentLog(args) => agent_log::run(&args),
        Command::Session(SessionCommand::Start(args)) => session::start(&args),
        Command::Session(SessionCommand::Stop(args)) => session::stop(&args),
        Command::Statusline => Ok(statusline::run()),
    }
}

/// Makes the trace this process was started in (a `TRACEPARENT` in its environment) the
/// parent of its spans; a malformed carrier is one warning line.
pub(crate) fn continue_carried_trace() {
    let carried = telemetry_subprocess::carrier::extract_from_lookup(|k| std::env::var(k).ok());
    if let Some(warning) = &carried.warning {
        eprintln!("gt: warning: telemetry: {warning}");
    }
    telemetry_core::trace::set_process_parent(carried.context);
}

/// Runs `command` inside a telemetry session: init before, bounded shutdown after. Telemetry
/// problems are one warning line each and never change the exit code.
///
/// With telemetry on, the work context is resolved here, once, before the command runs
/// (`gt_cli::work_source`: the session's ledger, else `GT_WORK_*`), and handed to the
/// recorder; off, nothing is read.
fn with_telemetry(command: impl FnOnce() -> anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    let provider =
        telemetry_otlp::init("gastown", env!("CARGO_PKG_VERSION")).unwrap_or_else(|err| {
            eprintln!("gt: warning: telemetry disabled: {err}");
            None
        });
    if provider.is_some() {
        continue_carried_trace();
        telemetry_recorder::install_health();
        let resolved = gt_cli::work_source::resolve_for_process();
        for warning in &resolved.warnings {
            eprintln!("gt: warning: {warning}");
        }
        telemetry_recorder::set_work_context(resolved.ctx);
    }
    let result = command();
    if let Some(provider) = provider
        && let Err(err) = provider.shutdown(SHUTDOWN_DEADLINE)
    {
        // The exporters already printed one warning line per signal; say nothing twice.
        if matches!(err, telemetry_core::ShutdownError::DeadlineExceeded(_)) {
            eprintln!("gt: warning: {err}");
        }
    }
    result
}
