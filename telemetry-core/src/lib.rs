//! telemetry-core: the switch and the plumbing of Gas Town telemetry.
//!
//! It decides whether telemetry is on (`GT_OTEL_METRICS_URL` / `GT_OTEL_LOGS_URL`, or
//! `OTEL_SDK_DISABLED=true` to force it off), builds the resource, and owns one metrics provider
//! and one logs provider exporting OTLP/HTTP protobuf to the configured URLs, used verbatim.
//! It knows no Gas Town event: the recorder crate names instruments and events; this crate hands
//! it a [`meter()`] and a [`logger()`].
//!
//! When telemetry is off, [`init`] returns `Ok(None)` before creating any exporter, thread or
//! allocation, and [`meter()`], [`logger()`] and [`is_active()`] cost one atomic load.
//! It is best-effort by contract: a dead backend costs a bounded time at [`Provider::shutdown`]
//! and at most one warning line per signal on stderr, never a panic or an error exit.
//!
//! ```no_run
//! let provider = match telemetry_core::init("gastown", env!("CARGO_PKG_VERSION")) {
//!     Ok(p) => p,
//!     Err(err) => { eprintln!("gt: warning: telemetry disabled: {err}"); None }
//! };
//! // ... record events through telemetry-recorder ...
//! if let Some(p) = provider {
//!     let _ = p.shutdown(std::time::Duration::from_secs(5));
//! }
//! ```
//!
//! It must not start an async runtime, read the environment after [`init`], or export
//! anything of its own.

pub mod config;
pub mod error;
mod export;
pub mod provider;
pub mod resource;

use std::sync::OnceLock;

pub use config::Config;
pub use error::{InitError, ShutdownError};
use opentelemetry::metrics::Meter;
use opentelemetry_sdk::logs::SdkLogger;
pub use provider::{CARDINALITY_LIMIT, Profile, Provider, SCOPE_NAME, Service};

/// The process-wide provider: set once by the first [`init`] call, `None` when disabled.
static GLOBAL: OnceLock<Option<Provider>> = OnceLock::new();

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
/// `config` runs only on the first call.
///
/// # Errors
/// As [`init`].
pub fn init_with(
    config: impl FnOnce() -> Result<Config, InitError>,
    service: Service<'_>,
    profile: Profile,
) -> Result<Option<Provider>, InitError> {
    let mut failure = None;
    let provider = GLOBAL.get_or_init(|| {
        let built = config().and_then(|config| {
            if config.is_enabled() {
                Provider::build(&config, service, profile).map(Some)
            } else {
                Ok(None)
            }
        });
        built.unwrap_or_else(|err| {
            failure = Some(err);
            None
        })
    });
    match failure {
        Some(err) => Err(err),
        None => Ok(provider.clone()),
    }
}

/// The process-wide provider, if [`init`] enabled one.
#[inline]
#[must_use]
pub fn global() -> Option<&'static Provider> {
    GLOBAL.get().and_then(Option::as_ref)
}

/// Whether process-wide telemetry is on. One atomic load.
#[inline]
#[must_use]
pub fn is_active() -> bool {
    global().is_some()
}

/// The process-wide meter, or `None` when telemetry is off. One atomic load when off.
#[inline]
#[must_use]
pub fn meter() -> Option<&'static Meter> {
    global().map(Provider::meter)
}

/// The process-wide logger, or `None` when telemetry is off. One atomic load when off.
#[inline]
#[must_use]
pub fn logger() -> Option<&'static SdkLogger> {
    global().map(Provider::logger)
}
