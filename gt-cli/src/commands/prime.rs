//! `gt prime`: resolve the work context and emit `prime`.

use std::process::ExitCode;

use crate::args::PrimeArgs;
use crate::settings::resolve_role;

/// Runs `gt prime`.
pub(crate) fn run(args: &PrimeArgs) -> anyhow::Result<ExitCode> {
    let role = resolve_role(args.role.as_deref(), |k| std::env::var(k).ok());
    telemetry_recorder::record_prime(&role, args.hook, Ok(()));
    let work = telemetry_recorder::work_context();
    if args.json {
        let doc = serde_json::json!({
            "role": role,
            "hook_mode": args.hook,
            "work_rig": work.rig,
            "work_bead": work.bead,
            "work_mol": work.mol,
            "telemetry": telemetry_core::is_active(),
        });
        println!("{doc}");
    } else {
        println!(
            "gt prime: role={} rig={} bead={} mol={} telemetry={}",
            or_dash(&role),
            or_dash(&work.rig),
            or_dash(&work.bead),
            or_dash(&work.mol),
            if telemetry_core::is_active() { "on" } else { "off" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn or_dash(value: &str) -> &str {
    if value.is_empty() { "-" } else { value }
}
