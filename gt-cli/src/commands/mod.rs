//! The commands, and the telemetry session every command runs inside.

mod prime;

use std::process::ExitCode;
use std::time::Duration;

use crate::args::{Cli, Command};

/// The shutdown bound for one-shot commands (the data model's recommended caller bound). With
/// the one-shot export profile a dead or hanging backend costs about one exporter timeout (1 s).
pub(crate) const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Runs one command inside a telemetry session (init before, bounded shutdown after).
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let provider =
        telemetry_core::init("gastown", env!("CARGO_PKG_VERSION")).unwrap_or_else(|err| {
            eprintln!("gt: warning: telemetry disabled: {err}");
            None
        });
    let result = match cli.command {
        Command::Prime(args) => prime::run(&args),
    };
    if let Some(provider) = provider {
        if let Err(err) = provider.shutdown(SHUTDOWN_DEADLINE) {
            // The exporter already printed its one warning line per signal; say nothing twice.
            if matches!(err, telemetry_core::ShutdownError::DeadlineExceeded(_)) {
                eprintln!("gt: warning: {err}");
            }
        }
    }
    result
}
