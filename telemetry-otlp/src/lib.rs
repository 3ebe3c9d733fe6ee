//! telemetry-otlp: the transport of Gas Town telemetry.
//!
//! `telemetry-core` decides whether telemetry is on and holds the providers; this crate builds
//! the OTLP/HTTP protobuf exporters they send through, all over one blocking HTTP client
//! ([`Transport`]: ureq with rustls, no async runtime, no TLS work for `http://` endpoints), and
//! installs the process-wide provider. Only binaries (and tests) depend on it: a library that
//! records events depends on `telemetry-core` and `telemetry-recorder`, never on an HTTP stack.
//!
//! ```no_run
//! let provider = match telemetry_otlp::init("gastown", env!("CARGO_PKG_VERSION")) {
//!     Ok(p) => p,
//!     Err(err) => { eprintln!("gt: warning: telemetry disabled: {err}"); None }
//! };
//! // ... record events through telemetry-recorder ...
//! if let Some(p) = provider {
//!     let _ = p.shutdown(std::time::Duration::from_secs(5));
//! }
//! ```
//!
//! URLs are used verbatim (no `/v1/…` appended). Exporter timeouts and retries follow the
//! [`Profile`]; a failing export is reported once per signal on stderr by the core's wrappers.
//! What only the transport knows about export health (records dropped without a spool or at
//! its cap, the spool's depth) goes to `telemetry_core::health`, whose tally the recorder
//! reports as `gastown.telemetry.*`.
//! It must not record events of its own or read the environment outside [`init`].

pub mod counter_store;
mod durable;
mod file_export;
pub mod otlp_json;
pub mod spool;
mod spooling;
mod transport;

use opentelemetry_otlp::{Protocol, RetryPolicy, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use telemetry_core::config::TemporalityPreference;
use telemetry_core::{Config, InitError, Profile, Provider, Service};

pub use spooling::{DAEMON_SHIP_WINDOW, ONE_SHIP_WINDOW};
pub use transport::{Probe, Transport};

use durable::DurableMetricExporter;
use otlp_json::Signal;
use spooling::{LogsExporter, Spooler, TracesExporter};

/// The metrics exporter of a provider: the durable store's (cumulative, the default) or the
/// plain OTLP exporter (delta and low-memory temporality, for backends that convert them).
#[derive(Debug)]
enum MetricsExporter {
    Durable(DurableMetricExporter),
    Otlp(opentelemetry_otlp::MetricExporter),
    File(file_export::FileMetricExporter),
}

impl PushMetricExporter for MetricsExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        match self {
            Self::Durable(e) => e.export(metrics).await,
            Self::Otlp(e) => e.export(metrics).await,
            Self::File(e) => e.export(metrics).await,
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self {
            Self::Durable(e) => e.force_flush(),
            Self::Otlp(e) => e.force_flush(),
            Self::File(e) => e.force_flush(),
        }
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        match self {
            Self::Durable(e) => e.shutdown_with_timeout(timeout),
            Self::Otlp(e) => e.shutdown_with_timeout(timeout),
            Self::File(e) => e.shutdown_with_timeout(timeout),
        }
    }

    fn temporality(&self) -> Temporality {
        match self {
            Self::Durable(e) => e.temporality(),
            Self::Otlp(e) => e.temporality(),
            Self::File(e) => e.temporality(),
        }
    }
}

/// Starts process-wide telemetry from the environment with the [`Profile::OneShot`] profile.
///
/// Idempotent: the first call decides; later calls return the same provider (or `Ok(None)`).
///
/// # Errors
/// An [`InitError`] for bad configuration; telemetry then stays off for the whole process and
/// later calls return `Ok(None)`.
pub fn init(service_name: &str, service_version: &str) -> Result<Option<Provider>, InitError> {
    init_with(
        Config::from_env,
        Service {
            name: service_name,
            version: service_version,
        },
        Profile::OneShot,
    )
}

/// Like [`init`], with the configuration source and the export profile chosen by the caller.
///
/// `config` runs only on the first call. Its warnings (values ignored in favour of defaults)
/// are printed once, one `gt: warning:` line each.
///
/// # Errors
/// As [`init`].
pub fn init_with(
    config: impl FnOnce() -> Result<Config, InitError>,
    service: Service<'_>,
    profile: Profile,
) -> Result<Option<Provider>, InitError> {
    telemetry_core::install(|| {
        let config = config()?;
        for warning in &config.warnings {
            eprintln!("gt: warning: telemetry: {warning}");
        }
        if config.is_enabled() {
            build(&config, service, profile).map(Some)
        } else {
            Ok(None)
        }
    })
}

/// Builds a provider exporting OTLP/HTTP protobuf to the URLs of an enabled `config`, through
/// one shared [`Transport`]. Not global: tests build one per receiver.
///
/// # Errors
/// [`InitError::InvalidUrl`] for a disabled `config`, [`InitError::Certificate`] for an
/// unusable `OTEL_EXPORTER_OTLP_CERTIFICATE`, [`InitError::Exporter`] when an exporter refuses
/// its configuration.
pub fn build(
    config: &Config,
    service: Service<'_>,
    profile: Profile,
) -> Result<Provider, InitError> {
    let (metrics_url, logs_url) = config.endpoints()?;
    let timeout = profile.timeout(config);
    let transport = Transport::new(config, timeout)?;
    let headers: std::collections::HashMap<String, String> =
        config.headers.iter().cloned().collect();
    let exporter_error = |signal: &'static str| {
        move |e: opentelemetry_otlp::ExporterBuildError| InitError::Exporter {
            signal,
            message: e.to_string(),
        }
    };
    let temporality = match config.temporality {
        // The default: host-level series through the durable counter store.
        TemporalityPreference::Cumulative => None,
        TemporalityPreference::Delta => Some(Temporality::Delta),
        TemporalityPreference::LowMemory => Some(Temporality::LowMemory),
    };
    let published = std::sync::Arc::new(telemetry_core::Published::default());
    let metrics_file = telemetry_core::config::file_url_dir(metrics_url);
    let metrics = match temporality {
        _ if metrics_file.is_some() => MetricsExporter::File(file_export::FileMetricExporter {
            dir: otlp_json::JsonlDir::new(metrics_file.unwrap_or_default()),
        }),
        None => MetricsExporter::Durable(DurableMetricExporter {
            transport: transport.clone(),
            url: metrics_url.to_owned(),
            headers: config.headers.clone(),
            store: config
                .state_dir
                .as_ref()
                .map(|dir| counter_store::Store::new(dir.join("telemetry"))),
            durable_scope: telemetry_core::SCOPE_NAME,
            process_totals: std::sync::Mutex::new(counter_store::Totals::new()),
            warned: std::sync::atomic::AtomicBool::new(false),
            published: published.clone(),
            sent: std::sync::Mutex::default(),
        }),
        Some(temporality) => MetricsExporter::Otlp(
            opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_http_client(transport.clone())
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(metrics_url)
                .with_timeout(timeout)
                .with_headers(headers.clone())
                .with_retry_policy(retry_policy(profile))
                .with_temporality(temporality)
                .build()
                .map_err(exporter_error("metrics"))?,
        ),
    };
    // Logs and traces: a file:// URL writes OTLP JSON Lines; HTTP keeps failed batches in the
    // spool and ships it after a success (see `spooling`).
    let spooler = |signal, url| {
        let target = spool::Target::for_url(url, &transport, &config.headers);
        Spooler::new(signal, spool_of(config), target, profile, timeout)
    };
    let file_dir = |url| telemetry_core::config::file_url_dir(url).map(otlp_json::JsonlDir::new);
    let logs = match file_dir(logs_url) {
        Some(dir) => LogsExporter::file(dir),
        None => LogsExporter::spooling(
            opentelemetry_otlp::LogExporter::builder()
                .with_http()
                .with_http_client(transport.clone())
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(logs_url)
                .with_timeout(timeout)
                .with_headers(headers.clone())
                .with_retry_policy(retry_policy(profile))
                .build()
                .map_err(exporter_error("logs"))?,
            spooler(Signal::Logs, logs_url),
        ),
    };
    let spans = match &config.traces_url {
        Some(url) => Some(match file_dir(url) {
            Some(dir) => TracesExporter::file(dir),
            None => TracesExporter::spooling(
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_http_client(transport.clone())
                    .with_protocol(Protocol::HttpBinary)
                    .with_endpoint(url)
                    .with_timeout(timeout)
                    .with_headers(headers.clone())
                    .with_retry_policy(retry_policy(profile))
                    .build()
                    .map_err(exporter_error("traces"))?,
                spooler(Signal::Traces, url),
            ),
        }),
        None => None,
    };
    if let Some(spool) = spool_of(config) {
        telemetry_core::health::set_spool_probe(std::sync::Arc::new(move || {
            let status = spool.status().ok()?;
            Some(
                // Metrics are never spooled (see `spool`).
                [Signal::Logs, Signal::Traces]
                    .iter()
                    .map(|signal| {
                        let w = status.waiting.get(signal).copied().unwrap_or_default();
                        let depth = telemetry_core::health::SpoolDepth {
                            files: w.files,
                            bytes: w.bytes,
                        };
                        (signal.as_str(), depth)
                    })
                    .collect(),
            )
        }));
    }
    let published = matches!(metrics, MetricsExporter::Durable(_)).then_some(published);
    Provider::from_exporters_sharing(config, service, metrics, logs, spans, published)
}

/// The spool of `config`'s state directory; `None` without one or with a cap of 0.
#[must_use]
pub fn spool_of(config: &Config) -> Option<spool::Spool> {
    let dir = config.state_dir.as_ref()?;
    (config.spool_max_bytes > 0).then(|| spool::Spool::in_state_dir(dir, config.spool_max_bytes))
}

/// One-shot commands never retry (a dead backend costs one timeout at exit); long-running ones
/// use the SDK's recommended policy (3 retries, exponential backoff) to ride out short outages.
fn retry_policy(profile: Profile) -> RetryPolicy {
    match profile {
        Profile::OneShot => RetryPolicy::disabled(),
        Profile::Daemon => RetryPolicy::recommended(),
    }
}
