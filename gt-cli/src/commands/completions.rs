//! `gt completions SHELL`: shell completions generated from the clap definitions.

use std::process::ExitCode;

use clap::CommandFactory as _;

use crate::args::{Cli, CompletionsArgs};

/// Prints the completion script for the shell.
pub(crate) fn run(args: &CompletionsArgs) -> ExitCode {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "gt",
        &mut std::io::stdout(),
    );
    ExitCode::SUCCESS
}
