//! The self-health instruments (`gastown.telemetry.*`): observable instruments whose
//! callbacks read the process's [`telemetry_core::health`] tally and measure the spool at each
//! metrics collection.
//!
//! Export failures and dropped records are counters of scope `gastown`: with the default
//! (cumulative) temporality they go through the host's counter store, so what one process
//! counted and could not export itself (its final metrics export failed, or it was the
//! metrics export that failed) is carried by the next export, or the next process. The spool
//! gauges pass through per process. Nothing here records an event.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge};
use telemetry_core::Provider;
use telemetry_core::health::{self, SpoolDepth, Tallied};

use crate::catalog::{InstrumentSpec, instrument};

/// The registered instruments; dropping them does not unregister them (the SDK keeps the
/// callbacks for the provider's life).
#[derive(Debug)]
pub struct HealthInstruments {
    _failures: ObservableCounter<u64>,
    _dropped: ObservableCounter<u64>,
    _spool_bytes: ObservableGauge<f64>,
    _spool_files: ObservableGauge<f64>,
}

fn tallied(
    meter: &Meter,
    spec: &'static InstrumentSpec,
    read: fn() -> Tallied,
) -> ObservableCounter<u64> {
    meter
        .u64_observable_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_callback(move |observer| {
            for ((signal, reason), n) in read() {
                observer.observe(
                    n,
                    &[
                        KeyValue::new("signal", signal),
                        KeyValue::new("reason", reason),
                    ],
                );
            }
        })
        .build()
}

fn spool(
    meter: &Meter,
    spec: &'static InstrumentSpec,
    value: fn(&SpoolDepth) -> u64,
) -> ObservableGauge<f64> {
    meter
        .f64_observable_gauge(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_callback(move |observer| {
            for (signal, depth) in health::spool_depth().unwrap_or_default() {
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "a spool is far below 2^53 bytes"
                )]
                observer.observe(value(&depth) as f64, &[KeyValue::new("signal", signal)]);
            }
        })
        .build()
}

impl HealthInstruments {
    /// Registers the self-health instruments on `provider`'s meter. Register them once per
    /// provider: [`install_health`] does, for the process-wide one.
    #[must_use]
    pub fn register(provider: &Provider) -> Self {
        let meter = provider.meter();
        Self {
            _failures: tallied(
                meter,
                &instrument::TELEMETRY_EXPORT_FAILURES_TOTAL,
                health::observe_failures,
            ),
            _dropped: tallied(
                meter,
                &instrument::TELEMETRY_DROPPED_RECORDS_TOTAL,
                health::observe_dropped,
            ),
            _spool_bytes: spool(meter, &instrument::TELEMETRY_SPOOL_BYTES, |d| d.bytes),
            _spool_files: spool(meter, &instrument::TELEMETRY_SPOOL_FILES, |d| d.files),
        }
    }
}

/// Registers the self-health instruments on the process-wide provider, once; a no-op (one
/// atomic load) when telemetry is off.
pub fn install_health() {
    static INSTALLED: OnceLock<HealthInstruments> = OnceLock::new();
    if let Some(provider) = telemetry_core::global() {
        INSTALLED.get_or_init(|| HealthInstruments::register(provider));
    }
}
