//! The `tracing` bridge: application `tracing` events exported as OpenTelemetry log records.
//!
//! Built on `opentelemetry-appender-tracing`, filtered so the exporter's own stack
//! (`opentelemetry*`, `reqwest`, `hyper*`, `h2`, `tower`, `rustls`) never feeds its events back
//! into the exporter it is running. Like the recorder's events, its records carry a severity
//! number and no severity text (the bridge's `INFO` is dropped). It must not install a global
//! subscriber; the binary composes it.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::{InstrumentationScope, Key, SpanId, TraceFlags, TraceId};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger, SdkLoggerProvider};
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
    OpenTelemetryTracingBridge::new(&NumberOnly(provider.logger_provider().clone()))
        .with_filter(filter_fn(|meta| !is_excluded_target(meta.target())))
}

/// The SDK's logger provider, handing out loggers whose records ignore a severity text: the
/// bridge sets `tracing`'s level name (`INFO`), the Go original and the recorder set none, and a
/// backend given both splits one level between two names.
struct NumberOnly<P>(P);

impl LoggerProvider for NumberOnly<SdkLoggerProvider> {
    type Logger = NumberOnly<SdkLogger>;

    fn logger_with_scope(&self, scope: InstrumentationScope) -> Self::Logger {
        NumberOnly(self.0.logger_with_scope(scope))
    }
}

impl Logger for NumberOnly<SdkLogger> {
    type LogRecord = NumberOnly<SdkLogRecord>;

    fn create_log_record(&self) -> Self::LogRecord {
        NumberOnly(self.0.create_log_record())
    }

    fn emit(&self, record: Self::LogRecord) {
        self.0.emit(record.0);
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.0.event_enabled(level, target, name)
    }
}

impl LogRecord for NumberOnly<SdkLogRecord> {
    fn set_event_name(&mut self, name: &'static str) {
        self.0.set_event_name(name);
    }

    fn set_target<T>(&mut self, target: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.0.set_target(target);
    }

    fn set_timestamp(&mut self, timestamp: SystemTime) {
        self.0.set_timestamp(timestamp);
    }

    fn set_observed_timestamp(&mut self, timestamp: SystemTime) {
        self.0.set_observed_timestamp(timestamp);
    }

    /// Ignored: see [`NumberOnly`].
    fn set_severity_text(&mut self, _text: &'static str) {}

    fn set_severity_number(&mut self, number: Severity) {
        self.0.set_severity_number(number);
    }

    fn set_body(&mut self, body: AnyValue) {
        self.0.set_body(body);
    }

    fn add_attributes<I, K, V>(&mut self, attributes: I)
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Key>,
        V: Into<AnyValue>,
    {
        self.0.add_attributes(attributes);
    }

    fn add_attribute<K, V>(&mut self, key: K, value: V)
    where
        K: Into<Key>,
        V: Into<AnyValue>,
    {
        self.0.add_attribute(key, value);
    }

    fn set_trace_context(
        &mut self,
        trace_id: TraceId,
        span_id: SpanId,
        trace_flags: Option<TraceFlags>,
    ) {
        self.0.set_trace_context(trace_id, span_id, trace_flags);
    }
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
