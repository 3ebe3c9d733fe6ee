//! Putting gt's telemetry environment on one [`std::process::Command`].
//!
//! One job: an extension trait applying [`crate::otel_env_for_subprocess`] to a command. It
//! must not spawn the command nor write this process's environment.

use std::process::Command;

use crate::carrier::{baggage_from_lookup, inject};
use crate::child_env::otel_env_for_subprocess_from_lookup;

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::process::Command {}
}

/// Adds gt's telemetry variables to a [`Command`]'s environment.
///
/// Sealed: implemented for [`Command`] only.
pub trait CommandTelemetryExt: sealed::Sealed {
    /// Sets `OTEL_RESOURCE_ATTRIBUTES`, `BD_OTEL_METRICS_URL`, `BD_OTEL_LOGS_URL` and `GT_RUN`
    /// on the command, computed from this process's environment as
    /// [`crate::otel_env_for_subprocess`] does, and the W3C carrier ([`crate::carrier`]):
    /// `TRACEPARENT` naming the current span (or the process's own parent), `BAGGAGE` with
    /// `gt.run_id` and the work context. Other variables are left alone, so it also works after
    /// `env_clear()`. Sets nothing when telemetry is off.
    fn with_gt_telemetry(&mut self) -> &mut Command;

    /// As [`CommandTelemetryExt::with_gt_telemetry`], with the variables read through `lookup`
    /// instead of the process environment.
    fn with_gt_telemetry_from(&mut self, lookup: impl Fn(&str) -> Option<String>) -> &mut Command;
}

impl CommandTelemetryExt for Command {
    fn with_gt_telemetry(&mut self) -> &mut Command {
        self.with_gt_telemetry_from(|key| std::env::var(key).ok())
    }

    fn with_gt_telemetry_from(&mut self, lookup: impl Fn(&str) -> Option<String>) -> &mut Command {
        let env = otel_env_for_subprocess_from_lookup(&lookup);
        if env.is_empty() {
            return self;
        }
        let carrier = inject(
            &telemetry_core::trace::current_or_process_parent(),
            baggage_from_lookup(&lookup),
        );
        self.envs(env).envs(carrier)
    }
}
