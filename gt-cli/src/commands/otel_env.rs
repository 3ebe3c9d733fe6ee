//! `gt otel env`: the telemetry environment a child process started now would get, for `eval`.
//! With telemetry on, the work context is resolved as for any gt process (ledger, then
//! `GT_WORK_*`); off, the output is empty and nothing is read.

use std::process::ExitCode;

use gt_cli::env_export::render;
use gt_cli::work_source;

use crate::args::OtelEnvArgs;

/// Prints the variables; always exit 0.
pub(crate) fn run(args: &OtelEnvArgs) -> ExitCode {
    let on = telemetry_core::Config::from_env().is_ok_and(|c| c.is_enabled());
    if on {
        let resolved = work_source::resolve_for_process();
        for warning in &resolved.warnings {
            eprintln!("gt: warning: {warning}");
        }
        telemetry_recorder::set_work_context(resolved.ctx);
    }
    let vars =
        telemetry_subprocess::otel_env_for_subprocess_from_lookup(work_source::child_lookup());
    print!("{}", render(&vars, args.shell));
    ExitCode::SUCCESS
}
