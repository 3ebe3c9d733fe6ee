//! `cargo xtask`: repository automation in plain Rust (no shell scripts to rot).
//!
//! Subcommands grow with the issues: `audit` (docs and code agree) and `bench` come later.

use std::process::ExitCode;

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "help" | "" => {
            println!("cargo xtask <task>\n\ntasks:\n  help    this text");
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("xtask: unknown task {other:?}; try `cargo xtask help`");
            ExitCode::from(2)
        }
    }
}
