//! The `tracing` bridge: application `tracing` events exported as OpenTelemetry log records.
//!
//! Built on `opentelemetry-appender-tracing`, filtered so the exporter's own stack
//! (`opentelemetry*`, `reqwest`, `hyper*`, `h2`, `tower`, `rustls`) never feeds its events back
//! into the exporter it is running. It must not install a global subscriber; the binary
//! composes it.

use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use telemetry_core::Provider;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

/// Crate names whose events never reach the exporter, with `*` for "and its siblings"
/// (`hyper*` covers `hyper_util`).
pub const EXCLUDED_TARGETS: &[&str] = &[
    "opentelemetry*",
    "reqwest",
    "hyper*",
    "h2",
    "tower",
    "rustls",
];

/// Whether events of `target` are kept out of the exporter (see [`EXCLUDED_TARGETS`]).
///
/// A name matches itself and its modules (`h2`, `h2::codec`); a `*` name also matches crates
/// that extend it with `_` or `-` (`opentelemetry_sdk`, `hyper-util`), never an unrelated
/// crate that merely shares the prefix (`h2o`, `hyperlocal`).
#[must_use]
pub fn is_excluded_target(target: &str) -> bool {
    EXCLUDED_TARGETS.iter().any(|pattern| {
        let (name, family) = match pattern.strip_suffix('*') {
            Some(name) => (name, true),
            None => (*pattern, false),
        };
        let Some(rest) = target.strip_prefix(name) else {
            return false;
        };
        rest.is_empty()
            || rest.starts_with("::")
            || (family && (rest.starts_with('_') || rest.starts_with('-')))
    })
}

/// A layer exporting `tracing` events through `provider`'s logger provider, minus the
/// [`EXCLUDED_TARGETS`]. Compose it into the binary's subscriber:
///
/// ```no_run
/// # fn demo(provider: &telemetry_core::Provider) {
/// use tracing_subscriber::prelude::*;
/// tracing_subscriber::registry()
///     .with(telemetry_recorder::tracing_layer(provider))
///     .init();
/// # }
/// ```
pub fn tracing_layer<S>(provider: &Provider) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    OpenTelemetryTracingBridge::new(provider.logger_provider())
        .with_filter(filter_fn(|meta| !is_excluded_target(meta.target())))
}

#[cfg(test)]
mod tests {
    use super::is_excluded_target;

    #[test]
    fn exporter_stack_targets_are_excluded() {
        for t in [
            "opentelemetry",
            "opentelemetry_sdk",
            "opentelemetry_sdk::logs",
            "opentelemetry-otlp",
            "reqwest::connect",
            "hyper",
            "hyper_util::client",
            "h2",
            "h2::codec",
            "tower",
            "rustls::client",
        ] {
            assert!(is_excluded_target(t), "{t}");
        }
    }

    #[test]
    fn application_targets_pass() {
        for t in [
            "gt",
            "gt_cli::commands",
            "h2o",
            "hyperlocal",
            "towering",
            "reqwesty",
            "telemetry",
        ] {
            assert!(!is_excluded_target(t), "{t}");
        }
    }
}
