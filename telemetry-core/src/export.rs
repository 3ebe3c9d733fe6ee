//! Exporter wrappers that turn export failures into at most one stderr line per signal.
//!
//! The SDK's own diagnostics (its `internal-logs` feature) are compiled out of this workspace,
//! so they can neither flood stderr nor loop back into the exported logs; these wrappers are
//! the one place a dead backend becomes visible to the operator. They also note every export
//! result in the process's [`crate::health`] tally (and the state directory's health file).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, LogProcessor, SdkLogRecord};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter, SpanProcessor};

use crate::health::HealthFile;

/// Prints the first failure of one signal's exports and stays silent afterwards.
#[derive(Debug)]
pub(crate) struct WarnOnce {
    signal: &'static str,
    url: String,
    /// The URL as configured, replaced by `url` in persisted errors (it may hold credentials).
    raw_url: String,
    warned: Arc<AtomicBool>,
    health: Option<HealthFile>,
}

impl WarnOnce {
    pub(crate) fn new(signal: &'static str, url: &str, state_dir: Option<&Path>) -> Self {
        Self {
            signal,
            url: crate::config::redact_url(url),
            raw_url: url.to_owned(),
            warned: Arc::new(AtomicBool::new(false)),
            health: state_dir.map(HealthFile::in_state_dir),
        }
    }

    fn check<E: fmt::Display>(&self, result: Result<(), E>) -> Result<(), E> {
        let error = result
            .as_ref()
            .err()
            .map(|e| e.to_string().replace(&self.raw_url, &self.url));
        crate::health::export_result(self.signal, error.as_deref(), self.health.as_ref());
        if let Err(err) = &result
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            eprintln!(
                "gt: warning: telemetry {} export to {} failed: {err} (telemetry is best-effort; \
                     further {} export failures in this process are not reported)",
                self.signal, self.url, self.signal
            );
        }
        result
    }
}

/// A metrics exporter that reports its first failure once on stderr.
pub(crate) struct WarningMetricExporter<E> {
    pub(crate) inner: E,
    pub(crate) warn: WarnOnce,
}

impl<E: PushMetricExporter> PushMetricExporter for WarningMetricExporter<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.warn.check(self.inner.export(metrics).await)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// A logs exporter that reports its first failure once on stderr.
#[derive(Debug)]
pub(crate) struct WarningLogExporter<E> {
    pub(crate) inner: E,
    pub(crate) warn: WarnOnce,
}

impl<E: LogExporter> LogExporter for WarningLogExporter<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        crate::health::dequeued("logs", batch.iter().count() as u64);
        self.warn.check(self.inner.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A span exporter that reports its first failure once on stderr.
#[derive(Debug)]
pub(crate) struct WarningSpanExporter<E> {
    pub(crate) inner: E,
    pub(crate) warn: WarnOnce,
}

impl<E: SpanExporter> SpanExporter for WarningSpanExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        crate::health::dequeued("traces", batch.len() as u64);
        self.warn.check(self.inner.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The span exporter of a provider without a traces URL: never built into a pipeline, it only
/// names the type of `None`.
#[derive(Debug)]
pub struct NoSpans;

impl SpanExporter for NoSpans {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

/// A log processor that counts what enters it ([`crate::health::queued`]) before handing it on
/// to the batch processor.
#[derive(Debug)]
pub(crate) struct CountingLogProcessor<P>(pub(crate) P);

impl<P: LogProcessor> LogProcessor for CountingLogProcessor<P> {
    fn emit(&self, data: &mut SdkLogRecord, instrumentation: &InstrumentationScope) {
        crate::health::queued("logs");
        self.0.emit(data, instrumentation);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// A span processor that counts the ended spans it hands on to the batch processor.
#[derive(Debug)]
pub(crate) struct CountingSpanProcessor<P>(pub(crate) P);

impl<P: SpanProcessor> SpanProcessor for CountingSpanProcessor<P> {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        crate::health::queued("traces");
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}
