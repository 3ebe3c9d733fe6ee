//! `gt bd -- ARGS…`: bd with the telemetry environment, recorded as `bd.call`.

use std::io::Write as _;
use std::process::ExitCode;

use gt_cli::bd::Bd;

use crate::args::BdArgs;

/// Runs bd, forwards its output, and exits with its exit code.
pub(crate) fn run(args: &BdArgs) -> anyhow::Result<ExitCode> {
    let bd = Bd::from_lookup(|k| std::env::var(k).ok());
    let argv: Vec<&str> = args.args.iter().map(String::as_str).collect();
    let run = bd.invoke(&argv)?;
    std::io::stdout().write_all(&run.stdout)?;
    std::io::stderr().write_all(&run.stderr)?;
    let code = run.status.code().unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
