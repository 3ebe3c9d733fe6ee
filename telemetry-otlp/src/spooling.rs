//! The logs and traces exporters of a provider: OTLP/HTTP with the spool behind it, or OTLP
//! JSON Lines files for a `file://` endpoint.
//!
//! Each spooling exporter sends a batch through the OTLP exporter; when that fails (refused,
//! 5xx, timeout) in a one-shot process, its [`Spooler`] encodes the batch as one OTLP/JSON
//! request and keeps it in the [`Spool`], and the failure is still reported (the core's one
//! warning line names the spool). Long-running processes ([`Profile::Daemon`]) do not spool:
//! their caller confirms each export and sends a failed batch again itself (agent-log re-reads
//! it from its checkpoint), so a spooled copy would be delivered twice.
//!
//! When an export succeeds, the spool's files of that signal are shipped within the caller's
//! shutdown bound:
//! - one-shot commands ship once, after their final export (the exporter's shutdown), for
//!   at most [`ONE_SHIP_WINDOW`] from the start of the provider's shutdown: gt's bound is
//!   5 s, the final export takes at most one exporter timeout;
//! - long-running processes ship after each successful export, starting deliveries during
//!   [`DAEMON_SHIP_WINDOW`] after it (each bounded by the exporter timeout).
//!
//! Deliveries are only started when their timeout ends inside the window (see
//! [`crate::spool::ship`]), so what does not fit waits for the next process.
//!
//! A one-shot batch that is lost (no spool, or dropped at the spool's cap) is counted in
//! `telemetry_core::health` (`no_spool`, `spool_full`; the records the cap dropped are counted
//! under the signal whose batch pushed the spool past it).
//!
//! It must not retry by itself: the OTLP exporter's retry policy does.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use telemetry_core::Profile;

use crate::otlp_json::{self, JsonlDir, Signal};
use crate::spool::{Spool, Target};

/// How long a one-shot process ships the spool after its final export, from the start of
/// its shutdown (gt's shutdown bound is 5 s).
pub const ONE_SHIP_WINDOW: Duration = Duration::from_secs(3);
/// How long a long-running process starts deliveries from the spool after each successful
/// export.
pub const DAEMON_SHIP_WINDOW: Duration = Duration::from_secs(1);

/// One signal's spool handling: keeps failed batches (one-shot) and ships after successes.
#[derive(Debug)]
pub(crate) struct Spooler {
    signal: Signal,
    /// `None` without a state directory, or with `GT_OTEL_SPOOL_MAX_MB=0`.
    spool: Option<Spool>,
    target: Target,
    profile: Profile,
    timeout: Duration,
    /// The start of the last export, and whether it succeeded.
    last_export: Mutex<Option<(Instant, bool)>>,
}

impl Spooler {
    pub(crate) fn new(
        signal: Signal,
        spool: Option<Spool>,
        target: Target,
        profile: Profile,
        timeout: Duration,
    ) -> Self {
        Self {
            signal,
            spool,
            target,
            profile,
            timeout,
            last_export: Mutex::new(None),
        }
    }

    /// Whether a failed batch would be kept (so the caller keeps a copy of it).
    fn keeps(&self) -> bool {
        self.spool.is_some() && self.profile == Profile::OneShot
    }

    fn ship(&self, deadline: Instant) {
        if let Some(spool) = &self.spool {
            let target = &self.target;
            let _ = spool.ship(
                &|signal| (signal == self.signal).then(|| target.clone()),
                Some(deadline),
            );
        }
    }

    /// Notes an export that started at `started`; a long-running process ships after a
    /// success.
    fn exported(&self, started: Instant, ok: bool) {
        *self
            .last_export
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((started, ok));
        if ok && self.profile == Profile::Daemon {
            self.ship(Instant::now() + DAEMON_SHIP_WINDOW + self.timeout);
        }
    }

    /// The error of a failed export, after keeping the batch (`request`, of `records`
    /// records) in the spool when this process keeps failed batches; records it loses are
    /// counted in [`telemetry_core::health`].
    fn failed(
        &self,
        err: OTelSdkError,
        records: usize,
        request: impl FnOnce() -> Option<String>,
    ) -> OTelSdkError {
        let Some(spool) = self.spool.as_ref().filter(|_| self.keeps()) else {
            if self.profile == Profile::OneShot {
                // No spool to keep it in: the batch is lost (a long-running caller sends it
                // again itself).
                telemetry_core::health::dropped(self.signal.as_str(), "no_spool", records as u64);
            }
            return err;
        };
        let err = match err {
            OTelSdkError::InternalFailure(message) => message,
            other => other.to_string(),
        };
        let signal = self.signal.as_str();
        let kept = request()
            .ok_or_else(|| "it could not be encoded".to_owned())
            .and_then(|line| {
                spool.keep(self.signal, &line, records).map_err(|e| {
                    telemetry_core::health::dropped(signal, "spool_error", records as u64);
                    e.to_string()
                })
            });
        if let Ok(kept) = &kept {
            telemetry_core::health::dropped(signal, "spool_full", kept.dropped.records);
        }
        let dir = spool.dir().display();
        OTelSdkError::InternalFailure(match kept {
            Ok(kept) if kept.dropped.files > 0 => format!(
                "{err}; the batch was kept in the spool {dir} for a later gt process to ship, \
                 and its {} oldest files ({} records) were dropped at its size cap",
                kept.dropped.files, kept.dropped.records
            ),
            Ok(_) => format!(
                "{err}; the batch was kept in the spool {dir} for a later gt process to ship"
            ),
            Err(why) => format!("{err}; the batch is lost ({why})"),
        })
    }

    /// A one-shot process ships after its final export, if that (or the last) succeeded.
    fn shutdown(&self) {
        if self.profile != Profile::OneShot {
            return;
        }
        let last = *self
            .last_export
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((started, true)) = last {
            // The shutdown began at the final export's start, or (no final batch) about now;
            // an earlier export of this process is no later than one timeout ago.
            let now = Instant::now();
            let began = now
                .checked_sub(self.timeout)
                .map_or(started, |t| t.max(started));
            self.ship(began + ONE_SHIP_WINDOW);
        }
    }
}

fn resource_of(resource: Option<&Resource>) -> ResourceAttributesWithSchema {
    resource
        .map(ResourceAttributesWithSchema::from)
        .unwrap_or_default()
}

/// The request for `records` under `resource`.
fn logs_request(
    records: &[(&SdkLogRecord, &InstrumentationScope)],
    resource: Option<&Resource>,
) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: group_logs_by_resource_and_scope(
            &LogBatch::new(records),
            &resource_of(resource),
        ),
    }
}

/// The request for `spans` under `resource`.
fn traces_request(spans: Vec<SpanData>, resource: Option<&Resource>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans, &resource_of(resource)),
    }
}

/// The logs or span exporter of [`crate::build`], over the OTLP exporter `E` of its signal.
#[derive(Debug)]
pub(crate) enum SignalExporter<E> {
    /// OTLP/HTTP, with the spool.
    Spooling {
        /// The OTLP exporter.
        inner: Box<E>,
        /// The spool of this signal.
        spooler: Spooler,
        /// The resource the SDK set.
        resource: Option<Resource>,
    },
    /// OTLP JSON Lines files (a `file://` endpoint).
    File {
        /// The directory.
        dir: JsonlDir,
        /// The resource the SDK set.
        resource: Option<Resource>,
    },
}

/// The logs exporter of [`crate::build`].
pub(crate) type LogsExporter = SignalExporter<opentelemetry_otlp::LogExporter>;
/// The span exporter of [`crate::build`].
pub(crate) type TracesExporter = SignalExporter<opentelemetry_otlp::SpanExporter>;

impl<E> SignalExporter<E> {
    /// The OTLP exporter `inner`, spooling through `spooler`.
    pub(crate) fn spooling(inner: E, spooler: Spooler) -> Self {
        Self::Spooling {
            inner: Box::new(inner),
            spooler,
            resource: None,
        }
    }

    /// Files in `dir`.
    pub(crate) fn file(dir: JsonlDir) -> Self {
        Self::File {
            dir,
            resource: None,
        }
    }

    /// Ships the spool (one-shot), then shuts the OTLP exporter down with `shutdown`.
    fn shutdown_then(&self, shutdown: impl FnOnce(&E) -> OTelSdkResult) -> OTelSdkResult {
        match self {
            Self::Spooling { inner, spooler, .. } => {
                spooler.shutdown();
                shutdown(inner)
            }
            Self::File { .. } => Ok(()),
        }
    }

    /// Keeps `new` for encoding, and hands it to the OTLP exporter with `set`.
    fn set_resource_with(&mut self, new: &Resource, set: impl FnOnce(&mut E, &Resource)) {
        match self {
            Self::Spooling {
                inner, resource, ..
            } => {
                *resource = Some(new.clone());
                set(inner, new);
            }
            Self::File { resource, .. } => *resource = Some(new.clone()),
        }
    }
}

impl LogExporter for LogsExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let records: Vec<(&SdkLogRecord, &InstrumentationScope)> = batch.iter().collect();
        match self {
            Self::Spooling {
                inner,
                spooler,
                resource,
            } => {
                let started = Instant::now();
                let result = inner.export(LogBatch::new(&records)).await;
                spooler.exported(started, result.is_ok());
                result.map_err(|err| {
                    spooler.failed(err, records.len(), || {
                        let request = logs_request(&records, resource.as_ref());
                        serde_json::to_string(&request).ok()
                    })
                })
            }
            Self::File { dir, resource } => {
                let request = logs_request(&records, resource.as_ref());
                write_line(
                    dir,
                    Signal::Logs,
                    &request,
                    otlp_json::logs_records(&request),
                )
            }
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shutdown_then(|inner| inner.shutdown_with_timeout(timeout))
    }

    fn set_resource(&mut self, new: &Resource) {
        self.set_resource_with(new, LogExporter::set_resource);
    }
}

impl SpanExporter for TracesExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self {
            Self::Spooling {
                inner,
                spooler,
                resource,
            } => {
                // A copy to keep if the export fails: a one-shot command makes a few spans.
                let copy = spooler.keeps().then(|| batch.clone());
                let records = batch.len();
                let started = Instant::now();
                let result = inner.export(batch).await;
                spooler.exported(started, result.is_ok());
                result.map_err(|err| {
                    spooler.failed(err, records, || {
                        let request = traces_request(copy?, resource.as_ref());
                        serde_json::to_string(&request).ok()
                    })
                })
            }
            Self::File { dir, resource } => {
                let records = batch.len();
                let request = traces_request(batch, resource.as_ref());
                write_line(dir, Signal::Traces, &request, records)
            }
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shutdown_then(|inner| inner.shutdown_with_timeout(timeout))
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self {
            Self::Spooling { inner, .. } => inner.force_flush(),
            Self::File { .. } => Ok(()),
        }
    }

    fn set_resource(&mut self, new: &Resource) {
        self.set_resource_with(new, SpanExporter::set_resource);
    }
}

/// Writes `request` as one line of a new file of `dir`.
pub(crate) fn write_line(
    dir: &JsonlDir,
    signal: Signal,
    request: &impl serde::Serialize,
    records: usize,
) -> OTelSdkResult {
    let line =
        serde_json::to_string(request).map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?;
    dir.write(signal, &line, records).map(|_| ()).map_err(|e| {
        OTelSdkError::InternalFailure(format!("could not write to {}: {e}", dir.path().display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dropped(reason: &str) -> u64 {
        telemetry_core::health::observe_dropped()
            .into_iter()
            .filter(|((signal, r), _)| *signal == "traces" && *r == reason)
            .map(|(_, n)| n)
            .sum()
    }

    #[test]
    fn a_batch_past_the_spool_cap_or_without_a_spool_is_counted_as_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::Dir(JsonlDir::new(dir.path().join("out")));
        let timeout = Duration::from_secs(1);
        let failure = || OTelSdkError::InternalFailure("status code: 500".to_owned());
        // A cap of one byte: the new file alone passes it and is dropped at once.
        let tiny = Spool::in_state_dir(dir.path(), 1);
        let capped = Spooler::new(
            Signal::Traces,
            Some(tiny),
            target.clone(),
            Profile::OneShot,
            timeout,
        );
        let before = dropped("spool_full");
        let _ = capped.failed(failure(), 3, || Some("{}".to_owned()));
        assert_eq!(dropped("spool_full"), before + 3);

        let none = Spooler::new(
            Signal::Traces,
            None,
            target.clone(),
            Profile::OneShot,
            timeout,
        );
        let before = dropped("no_spool");
        let _ = none.failed(failure(), 2, || None);
        assert_eq!(dropped("no_spool"), before + 2);

        // A long-running caller sends a failed batch again itself: nothing is lost.
        let daemon = Spooler::new(Signal::Traces, None, target, Profile::Daemon, timeout);
        let _ = daemon.failed(failure(), 5, || None);
        assert_eq!(dropped("no_spool"), before + 2);
    }
}
