//! Errors of telemetry set-up and shutdown: each variant is a sentence an operator can act on.

use std::time::Duration;

/// Telemetry could not be started; the caller logs one line and goes on without it.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A configured endpoint is not a usable URL.
    #[error("{variable}={url:?} is not a valid OTLP/HTTP URL: {reason}")]
    InvalidUrl {
        /// The variable that holds the URL.
        variable: &'static str,
        /// The URL as configured, credentials redacted.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The temporality preference is not one of the three known values.
    #[error(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE={value:?} is not cumulative, delta or lowmemory"
    )]
    InvalidTemporality {
        /// The value found.
        value: String,
    },
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` names no readable PEM file with a certificate.
    #[error("OTEL_EXPORTER_OTLP_CERTIFICATE={path:?}: {reason}")]
    Certificate {
        /// The configured path.
        path: std::path::PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// The OTLP exporter refused its configuration.
    #[error("could not build the OTLP {signal} exporter: {message}")]
    Exporter {
        /// `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's own message.
        message: String,
    },
}

/// Flushing or shutting down did not fully succeed; telemetry may have been lost.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    /// The deadline passed before the exporters finished; pending data was abandoned.
    #[error("telemetry shutdown gave up after {0:?}; unsent data was dropped")]
    DeadlineExceeded(Duration),
    /// An exporter reported a failure (backend down, refused, or answered an error).
    #[error("telemetry {signal} flush failed: {message}")]
    Export {
        /// `metrics` or `logs`.
        signal: &'static str,
        /// The SDK's message.
        message: String,
    },
}
