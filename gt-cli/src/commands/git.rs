//! `gt git -- ARGS…`: git, transparently (stdin, output, exit code, signals), with the
//! telemetry environment, recorded as `git.operation`.

use std::process::ExitCode;

use crate::args::GitArgs;

/// Runs git and exits as it did: its exit code, or 128 + N when signal N killed it.
pub(crate) fn run(args: &GitArgs) -> anyhow::Result<ExitCode> {
    let code = gt_cli::git::passthrough(&args.args)?;
    Ok(ExitCode::from(code))
}
