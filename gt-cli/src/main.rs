//! `gt`: Gas Town's command-line entry points for telemetry.
//!
//! A thin binary: argument definitions ([`args`]), settings resolved once (in each command), and
//! the commands that use them ([`commands`]). Logic that can be tested without a process lives
//! in the library crates. Telemetry is best-effort: no telemetry failure changes an exit code.

mod args;
mod commands;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    // Before any thread exists (the exporters start in `init`): children that gt spawns by any
    // route inherit the telemetry environment. A bad configuration is reported once, by init.
    let _ = telemetry_subprocess::set_process_otel_attrs();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("gt: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
