//! `gt otel emit EVENT [--attr k=v]…`: validate, then record inside a telemetry session.

use std::process::ExitCode;

use gt_cli::emit::Emit;

use crate::args::{EmitArgs, EmitStatus};

/// Exit 2 on a request the catalogue refuses; 0 otherwise (telemetry stays best-effort).
pub(crate) fn run(args: &EmitArgs) -> anyhow::Result<ExitCode> {
    let error = args
        .error
        .clone()
        .or_else(|| (args.status == EmitStatus::Error).then(|| "error".to_owned()));
    let emit = match Emit::parse(&args.event, &args.attrs, error) {
        Ok(emit) => emit,
        Err(err) => {
            eprintln!("gt otel emit: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    super::with_telemetry(|| {
        if !telemetry_core::is_active() {
            eprintln!(
                "gt otel emit: telemetry is off (set GT_OTEL_METRICS_URL or GT_OTEL_LOGS_URL); nothing sent"
            );
        }
        emit.record();
        Ok(ExitCode::SUCCESS)
    })
}
