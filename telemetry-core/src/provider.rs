//! The metrics and logs providers behind one handle, and their bounded shutdown.
//!
//! The providers take their exporters from the caller ([`Provider::from_exporters`]): the OTLP
//! transport lives in `telemetry-otlp`, so this crate pulls in no HTTP client, no TLS and no
//! async runtime. Exports run on the SDK's dedicated threads (one for the periodic metrics
//! reader, one for the batch log processor).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry::logs::LoggerProvider as _;
use opentelemetry::metrics::{Meter, MeterProvider as _, ObservableCounter};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{BatchLogProcessor, LogExporter, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{Instrument, PeriodicReader, SdkMeterProvider, Stream};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanExporter};

use crate::config::Config;
use crate::error::{InitError, ShutdownError};
use crate::export::{
    CountingLogProcessor, CountingSpanProcessor, NoSpans, WarnOnce, WarningLogExporter,
    WarningMetricExporter, WarningSpanExporter,
};
use crate::health::HealthFile;
use crate::published::{Published, PublishedPoint, TICK_SCOPE};
use crate::resource::build_resource;
use crate::trace::RunIdGenerator;

/// One signal's flush or shutdown, run on its own thread.
type Job = Box<dyn FnOnce(&Inner) -> OTelSdkResult + Send>;

/// Instrumentation scope name of the meter and logger handed out by [`Provider`].
pub const SCOPE_NAME: &str = "gastown";

/// Distinct attribute sets kept per instrument before new ones fold into the SDK's overflow
/// series (`otel.metric.overflow = true`). Bounds memory for unbounded attributes (`session`).
pub const CARDINALITY_LIMIT: usize = 2000;

/// How exports behave when the backend is slow or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Short-lived CLI commands: no retries, 1 s exporter timeout, so a dead backend costs at
    /// most about one timeout at exit (metrics and logs shut down in parallel).
    #[default]
    OneShot,
    /// Long-running commands: the SDK's recommended retries (3, exponential backoff) and a
    /// 10 s exporter timeout; data survives short backend outages.
    Daemon,
}

impl Profile {
    /// The exporter timeout per request when `OTEL_EXPORTER_OTLP_TIMEOUT` does not set one.
    #[must_use]
    pub fn default_timeout(self) -> Duration {
        match self {
            Self::OneShot => Duration::from_secs(1),
            Self::Daemon => Duration::from_secs(10),
        }
    }

    /// The exporter timeout `config` asks for, or this profile's default.
    #[must_use]
    pub fn timeout(self, config: &Config) -> Duration {
        config
            .export_timeout
            .unwrap_or_else(|| self.default_timeout())
    }
}

/// Who is sending: the resource's `service.name` and `service.version`.
#[derive(Debug, Clone, Copy)]
pub struct Service<'a> {
    /// `service.name` (`gastown` for `gt`).
    pub name: &'a str,
    /// `service.version`.
    pub version: &'a str,
}

/// Live metrics and logs providers exporting over OTLP/HTTP protobuf.
///
/// Cloning is cheap and clones share the providers. Dropping a `Provider` never blocks:
/// the SDK providers are only shut down by [`Provider::shutdown`], within its deadline.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    meter_provider: SdkMeterProvider,
    logger_provider: SdkLoggerProvider,
    /// Present when a traces URL is configured.
    tracer_provider: Option<SdkTracerProvider>,
    meter: Meter,
    logger: SdkLogger,
    tracer: Option<SdkTracer>,
    instance_id: String,
    /// Present when the metrics exporter reads published totals.
    published: Option<Arc<Published>>,
    tick: OnceLock<ObservableCounter<u64>>,
    shut_down: AtomicBool,
    /// Where counts no export reported are carried over at shutdown (see [`crate::health`]).
    health: Option<HealthFile>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The SDK providers shut down (and may export, up to the exporter timeout) when their
        // last reference drops. Leak them instead: their export threads end with the process.
        std::mem::forget(self.meter_provider.clone());
        std::mem::forget(self.logger_provider.clone());
        std::mem::forget(self.tracer_provider.clone());
    }
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("instance_id", &self.inner.instance_id)
            .finish()
    }
}

impl Provider {
    /// Builds providers for an enabled `config` that export through `metrics` and `logs`
    /// (`telemetry-otlp` builds the OTLP/HTTP ones). Not global: tests build one per receiver;
    /// applications use [`crate::install`] (through `telemetry_otlp::init`).
    ///
    /// # Errors
    /// [`InitError::InvalidUrl`] when `config` is disabled (it has no URL to send to).
    pub fn from_exporters(
        config: &Config,
        service: Service<'_>,
        metrics: impl PushMetricExporter,
        logs: impl LogExporter + 'static,
    ) -> Result<Self, InitError> {
        Self::from_exporters_sharing(config, service, metrics, logs, None::<NoSpans>, None)
    }

    /// [`Provider::from_exporters`] with a span exporter (batched, ids from
    /// [`RunIdGenerator`]) when `config` has a traces URL, and the [`Published`] totals that
    /// `metrics` reads when it reads any (the durable exporter of `telemetry-otlp` holds the
    /// same handle; `None`: publishing is a no-op).
    ///
    /// # Errors
    /// As [`Provider::from_exporters`].
    pub fn from_exporters_sharing<S: SpanExporter + 'static>(
        config: &Config,
        service: Service<'_>,
        metrics: impl PushMetricExporter,
        logs: impl LogExporter + 'static,
        spans: Option<S>,
        published: Option<Arc<Published>>,
    ) -> Result<Self, InitError> {
        let (metrics_url, logs_url) = config.endpoints()?;
        let health = config.state_dir.as_deref().map(HealthFile::in_state_dir);
        if let Some(file) = &health {
            crate::health::adopt(file);
        }
        let instance_id = uuid::Uuid::new_v4().to_string();
        let resource = build_resource(
            service.name,
            service.version,
            &instance_id,
            &config.resource_attributes,
        );
        let reader = PeriodicReader::builder(WarningMetricExporter {
            inner: metrics,
            warn: WarnOnce::new("metrics", metrics_url, config.state_dir.as_deref()),
        })
        .with_interval(config.export_interval)
        .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_reader(reader)
            .with_view(|_: &Instrument| {
                Stream::builder()
                    .with_cardinality_limit(CARDINALITY_LIMIT)
                    .build()
                    .ok()
            })
            .build();
        let logger_provider = SdkLoggerProvider::builder()
            .with_resource(resource.clone())
            .with_log_processor(CountingLogProcessor(
                BatchLogProcessor::builder(WarningLogExporter {
                    inner: logs,
                    warn: WarnOnce::new("logs", logs_url, config.state_dir.as_deref()),
                })
                .build(),
            ))
            .build();
        let tracer_provider = match (spans, &config.traces_url) {
            (Some(spans), Some(url)) => Some(
                SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .with_id_generator(RunIdGenerator::default())
                    .with_span_processor(CountingSpanProcessor(
                        BatchSpanProcessor::builder(WarningSpanExporter {
                            inner: spans,
                            warn: WarnOnce::new("traces", url, config.state_dir.as_deref()),
                        })
                        .build(),
                    ))
                    .build(),
            ),
            _ => None,
        };
        let meter = meter_provider.meter(SCOPE_NAME);
        let logger = logger_provider.logger(SCOPE_NAME);
        let tracer = tracer_provider.as_ref().map(|p| p.tracer(SCOPE_NAME));
        Ok(Self {
            inner: Arc::new(Inner {
                meter_provider,
                logger_provider,
                tracer_provider,
                meter,
                logger,
                tracer,
                instance_id,
                published,
                tick: OnceLock::new(),
                shut_down: AtomicBool::new(false),
                health,
            }),
        })
    }

    /// The meter (scope [`SCOPE_NAME`]) for instruments.
    #[must_use]
    pub fn meter(&self) -> &Meter {
        &self.inner.meter
    }

    /// The logger (scope [`SCOPE_NAME`]) for log records.
    #[must_use]
    pub fn logger(&self) -> &SdkLogger {
        &self.inner.logger
    }

    /// The tracer (scope [`SCOPE_NAME`]) when a traces URL is configured.
    #[must_use]
    pub fn tracer(&self) -> Option<&SdkTracer> {
        self.inner.tracer.as_ref()
    }

    /// The SDK tracer provider when a traces URL is configured, for spans built by hand (a
    /// root span ended by another process than the one that started it).
    #[must_use]
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.inner.tracer_provider.as_ref()
    }

    /// The SDK meter provider, for callers that need their own scope (runtime metrics).
    #[must_use]
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.inner.meter_provider
    }

    /// The SDK logger provider, for bridges (the `tracing` layer in the recorder).
    #[must_use]
    pub fn logger_provider(&self) -> &SdkLoggerProvider {
        &self.inner.logger_provider
    }

    /// Replaces `contributor`'s published counter totals (see [`crate::published`]); they go
    /// out with the next metrics export, through the host's counter store.
    pub fn publish(&self, contributor: &str, points: Vec<PublishedPoint>) {
        let Some(published) = &self.inner.published else {
            return;
        };
        published.publish(contributor, points);
        self.inner.tick.get_or_init(|| {
            self.inner
                .meter_provider
                .meter(TICK_SCOPE)
                .u64_observable_counter("tick")
                .with_callback(|observer| observer.observe(0, &[]))
                .build()
        });
    }

    /// This process's `service.instance.id` (a UUID v4 on the resource of every export).
    #[must_use]
    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    /// Exports pending logs and the current metrics now, returning within `deadline`.
    ///
    /// # Errors
    /// [`ShutdownError::DeadlineExceeded`] if the exporters were still busy at the deadline
    /// (they go on in the background), [`ShutdownError::Export`] if one reported a failure.
    pub fn force_flush(&self, deadline: Duration) -> Result<(), ShutdownError> {
        self.in_parallel(
            deadline,
            |i| i.meter_provider.force_flush(),
            |i| i.logger_provider.force_flush(),
            |t| t.force_flush(),
            false,
        )
    }

    /// Flushes logs, makes a final metrics export and stops both providers, returning within
    /// `deadline` whatever the backend does (refuses, answers 500, or never answers). Then
    /// carries the self-health counts no export reported over to the next process
    /// ([`crate::health::carry_over`]).
    /// Idempotent: calls after the first return `Ok(())` at once.
    ///
    /// # Errors
    /// As [`Provider::force_flush`]. Metrics abandoned here are carried forward by the host's
    /// counter store; logs and spans whose export failed are spooled by `telemetry-otlp` (the
    /// spool) and shipped by a later process; without a spool they are lost.
    pub fn shutdown(&self, deadline: Duration) -> Result<(), ShutdownError> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let result = self.in_parallel(
            deadline,
            |i| i.meter_provider.shutdown(),
            move |i| i.logger_provider.shutdown_with_timeout(deadline),
            move |t| t.shutdown_with_timeout(deadline),
            true,
        );
        // What the batch queues dropped (full) or still held at the bound: known only now.
        crate::health::settle_queues();
        if let Some(file) = &self.inner.health {
            crate::health::carry_over(file);
        }
        result
    }

    /// Whether [`Provider::shutdown`] has been called.
    #[must_use]
    pub fn is_shut_down(&self) -> bool {
        self.inner.shut_down.load(Ordering::Acquire)
    }

    /// Runs the metrics, logs and (when configured) traces operations in parallel and waits
    /// for all, up to `deadline`. Traces get a thread of their own, like metrics.
    /// Metrics always get a thread of their own (the SDK's metrics shutdown ignores its
    /// timeout). Logs run on the calling thread when `logs_within_deadline` says their job
    /// returns by the deadline on its own (shutdown with a timeout), and on a second thread
    /// otherwise: one thread less at the exit of every one-shot command.
    fn in_parallel(
        &self,
        deadline: Duration,
        metrics: impl FnOnce(&Inner) -> OTelSdkResult + Send + 'static,
        logs: impl FnOnce(&Inner) -> OTelSdkResult + Send + 'static,
        traces: impl FnOnce(&SdkTracerProvider) -> OTelSdkResult + Send + 'static,
        logs_within_deadline: bool,
    ) -> Result<(), ShutdownError> {
        let started = Instant::now();
        let (tx, rx) = mpsc::channel();
        let mut jobs: Vec<(&'static str, Job)> = vec![("metrics", Box::new(metrics))];
        if self.inner.tracer_provider.is_some() {
            jobs.push((
                "traces",
                Box::new(move |i: &Inner| i.tracer_provider.as_ref().map_or(Ok(()), traces)),
            ));
        }
        let expected = jobs.len() + 1;
        let inline: Option<Job> = if logs_within_deadline {
            Some(Box::new(logs))
        } else {
            jobs.push(("logs", Box::new(logs)));
            None
        };
        for (signal, job) in jobs {
            let (inner, tx) = (Arc::clone(&self.inner), tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("gt-otel-{signal}-flush"))
                .spawn(move || {
                    let result = job(&inner);
                    let _ = tx.send((signal, result));
                });
            if let Err(err) = spawned {
                return Err(ShutdownError::Export {
                    signal,
                    message: err.to_string(),
                });
            }
        }
        if let Some(job) = inline {
            let _ = tx.send(("logs", job(&self.inner)));
        }
        drop(tx);
        let mut first_error = None;
        for _ in 0..expected {
            let left = deadline.saturating_sub(started.elapsed());
            match rx.recv_timeout(left) {
                Ok((_, Ok(()))) => {}
                Ok((signal, Err(err))) => {
                    first_error.get_or_insert(ShutdownError::Export {
                        signal,
                        message: err.to_string(),
                    });
                }
                Err(_) => return Err(ShutdownError::DeadlineExceeded(deadline)),
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
