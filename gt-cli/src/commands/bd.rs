//! `gt bd -- ARGS…`: bd, transparently (stdin, output, exit code, signals), with the telemetry
//! environment, recorded as `bd.call`.

use std::process::ExitCode;

use gt_cli::bd::Bd;

use crate::args::BdArgs;

/// Runs bd and exits as it did: its exit code, or 128 + N when signal N killed it.
pub(crate) fn run(args: &BdArgs) -> anyhow::Result<ExitCode> {
    let bd = Bd::from_lookup(|k| std::env::var(k).ok());
    let argv: Vec<&str> = args.args.iter().map(String::as_str).collect();
    let run = bd.passthrough(&argv)?;
    Ok(ExitCode::from(run.exit_code()))
}
