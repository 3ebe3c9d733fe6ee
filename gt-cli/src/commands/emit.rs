//! `gt otel emit EVENT [--attr k=v]…`: validate, then record inside a telemetry session.

use std::process::ExitCode;

use gt_cli::emit::Emit;

use crate::args::{EmitArgs, EmitStatus};

/// Exit 2 on a request the catalogue refuses; 0 otherwise (telemetry stays best-effort).
pub(crate) fn run(args: &EmitArgs) -> anyhow::Result<ExitCode> {
    let emit = match Emit::parse(&args.event, &args.attrs) {
        Ok(emit) => emit,
        Err(err) => {
            eprintln!("gt otel emit: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let failed = args.status == EmitStatus::Error || args.error.is_some();
    let message = args.error.clone().unwrap_or_else(|| "error".to_owned());
    super::with_telemetry(|| {
        if !telemetry_core::is_active() {
            eprintln!(
                "gt otel emit: telemetry is off (set GT_OTEL_METRICS_URL or GT_OTEL_LOGS_URL); nothing sent"
            );
        }
        let outcome = if failed {
            Err(&message as &dyn std::fmt::Display)
        } else {
            Ok(())
        };
        emit.record(outcome);
        Ok(ExitCode::SUCCESS)
    })
}
