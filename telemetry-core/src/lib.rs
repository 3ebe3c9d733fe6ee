//! telemetry-core: the switch and the vocabulary of Gas Town telemetry.
//!
//! It decides whether telemetry is on (`GT_OTEL_METRICS_URL` / `GT_OTEL_LOGS_URL`, or
//! `OTEL_SDK_DISABLED=true` to force it off), builds the resource, and holds the process-wide
//! [`Provider`]: one metrics and one logs provider with their bounded shutdown. It knows no
//! Gas Town event (the recorder crate names instruments and events; this crate hands it a
//! [`meter()`] and a [`logger()`]) and no transport: the OTLP/HTTP exporters, the HTTP client
//! and TLS live in `telemetry-otlp`, which builds the provider and [`install`]s it. A crate that
//! only records therefore depends on this one and never on an HTTP stack.
//!
//! When telemetry is off, nothing is built: no exporter, thread or allocation, and
//! [`meter()`], [`logger()`] and [`is_active()`] cost one atomic load.
//! It is best-effort by contract: a dead backend costs a bounded time at [`Provider::shutdown`]
//! and at most one warning line per signal on stderr, never a panic or an error exit.
//!
//! It must not start an async runtime, read the environment after start-up, or export
//! anything of its own.

pub mod config;
pub mod env;
pub mod error;
mod export;
pub mod health;
pub use export::NoSpans;
pub mod provider;
pub mod published;
pub mod resource;
pub mod trace;

use std::sync::OnceLock;

pub use config::Config;
pub use error::{InitError, ShutdownError};
use opentelemetry::metrics::Meter;
use opentelemetry_sdk::logs::SdkLogger;
pub use provider::{CARDINALITY_LIMIT, Profile, Provider, SCOPE_NAME, Service};
pub use published::{Published, PublishedPoint, PublishedValue};

/// The process-wide provider: set once by the first [`init`] call, `None` when disabled.
static GLOBAL: OnceLock<Option<Provider>> = OnceLock::new();

/// Installs the process-wide provider that `build` returns (`Ok(None)` when telemetry is off).
///
/// Idempotent: the first call decides and runs `build`; later calls return the same provider
/// (or `Ok(None)`) without running theirs. `telemetry_otlp::init` is the usual caller.
///
/// # Errors
/// The [`InitError`] of `build`; telemetry then stays off for the whole process and later
/// calls return `Ok(None)`.
pub fn install(
    build: impl FnOnce() -> Result<Option<Provider>, InitError>,
) -> Result<Option<Provider>, InitError> {
    let mut failure = None;
    let provider = GLOBAL.get_or_init(|| {
        build().unwrap_or_else(|err| {
            failure = Some(err);
            None
        })
    });
    match failure {
        Some(err) => Err(err),
        None => Ok(provider.clone()),
    }
}

/// The process-wide provider, if [`install`] enabled one.
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
