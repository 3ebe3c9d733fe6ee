//! The logs exporter of a provider: OTLP/HTTP with the spool behind it, or OTLP JSON Lines
//! files for a `file://` endpoint.
//!
//! [`SpoolingLogExporter`] sends each batch through the OTLP exporter; when that fails
//! (refused, 5xx, timeout) in a one-shot process it encodes the batch as one OTLP/JSON request
//! and keeps it in the [`Spool`], and still reports the failure (the core's one warning line
//! names the spool). Long-running processes ([`Profile::Daemon`]) do not spool: their caller
//! confirms each export and sends a failed batch again itself (agent-log re-reads it from its
//! checkpoint), so a spooled copy would be delivered twice.
//! When an export succeeds, the spool is shipped within the caller's shutdown bound:
//! - one-shot commands ship once, after their final export (the exporter's shutdown), for
//!   at most [`ONE_SHIP_WINDOW`] from the start of the provider's shutdown: gt's bound is
//!   5 s, the final export takes at most one exporter timeout;
//! - long-running processes ship after each successful export, starting deliveries during
//!   [`DAEMON_SHIP_WINDOW`] after it (each bounded by the exporter timeout).
//!
//! Deliveries are only started when their timeout ends inside the window (see
//! [`crate::spool::ship`]), so what does not fit waits for the next process.
//!
//! It must not retry by itself: the OTLP exporter's retry policy does.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord};
use telemetry_core::Profile;

use crate::otlp_json::{self, JsonlDir, Signal};
use crate::spool::{Spool, Target};

/// How long a one-shot process ships the spool after its final export, from the start of
/// its shutdown (gt's shutdown bound is 5 s).
pub const ONE_SHIP_WINDOW: Duration = Duration::from_secs(3);
/// How long a long-running process starts deliveries from the spool after each successful
/// export.
pub const DAEMON_SHIP_WINDOW: Duration = Duration::from_secs(1);

/// The logs exporter of [`crate::build`].
#[derive(Debug)]
pub(crate) enum LogsExporter {
    /// OTLP/HTTP, with the spool.
    Spooling(Box<SpoolingLogExporter>),
    /// OTLP JSON Lines files (a `file://` endpoint).
    File(FileLogExporter),
}

impl LogExporter for LogsExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        match self {
            Self::Spooling(e) => e.export(batch).await,
            Self::File(e) => e.export(&batch),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self {
            Self::Spooling(e) => e.shutdown_with_timeout(timeout),
            Self::File(_) => Ok(()),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            Self::Spooling(e) => e.set_resource(resource),
            Self::File(e) => e.resource = Some(resource.clone()),
        }
    }
}

/// The request for `records` under `resource`.
fn logs_request(
    records: &[(&SdkLogRecord, &InstrumentationScope)],
    resource: Option<&Resource>,
) -> ExportLogsServiceRequest {
    let resource = resource
        .map(ResourceAttributesWithSchema::from)
        .unwrap_or_default();
    ExportLogsServiceRequest {
        resource_logs: group_logs_by_resource_and_scope(&LogBatch::new(records), &resource),
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct SpoolingLogExporter {
    inner: opentelemetry_otlp::LogExporter,
    resource: Option<Resource>,
    /// `None` without a state directory, or with `GT_OTEL_SPOOL_MAX_MB=0`.
    spool: Option<Spool>,
    target: Target,
    profile: Profile,
    timeout: Duration,
    /// The start of the last export, and whether it succeeded.
    last_export: Mutex<Option<(Instant, bool)>>,
}

impl SpoolingLogExporter {
    pub(crate) fn new(
        inner: opentelemetry_otlp::LogExporter,
        spool: Option<Spool>,
        target: Target,
        profile: Profile,
        timeout: Duration,
    ) -> Self {
        Self {
            inner,
            resource: None,
            spool,
            target,
            profile,
            timeout,
            last_export: Mutex::new(None),
        }
    }

    fn ship(&self, deadline: Instant) {
        if let Some(spool) = &self.spool {
            let target = &self.target;
            let _ = spool.ship(
                &|signal| (signal == Signal::Logs).then(|| target.clone()),
                Some(deadline),
            );
        }
    }

    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let started = Instant::now();
        let records: Vec<(&SdkLogRecord, &InstrumentationScope)> = batch.iter().collect();
        let result = self.inner.export(LogBatch::new(&records)).await;
        *self
            .last_export
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((started, result.is_ok()));
        match result {
            Ok(()) => {
                if self.profile == Profile::Daemon {
                    self.ship(Instant::now() + DAEMON_SHIP_WINDOW + self.timeout);
                }
                Ok(())
            }
            Err(err) => {
                let Some(spool) = self
                    .spool
                    .as_ref()
                    .filter(|_| self.profile == Profile::OneShot)
                else {
                    return Err(err);
                };
                let request = logs_request(&records, self.resource.as_ref());
                let kept = serde_json::to_string(&request)
                    .map_err(|e| e.to_string())
                    .and_then(|line| {
                        spool
                            .keep(Signal::Logs, &line, records.len())
                            .map_err(|e| e.to_string())
                    });
                let err = match err {
                    OTelSdkError::InternalFailure(message) => message,
                    other => other.to_string(),
                };
                Err(OTelSdkError::InternalFailure(match kept {
                    Ok(kept) if kept.dropped.files > 0 => format!(
                        "{err}; the batch was kept in the spool {} for a later gt process to \
                         ship, and its {} oldest files ({} records) were dropped at its size cap",
                        spool.dir().display(),
                        kept.dropped.files,
                        kept.dropped.records
                    ),
                    Ok(_) => format!(
                        "{err}; the batch was kept in the spool {} for a later gt process to \
                         ship",
                        spool.dir().display()
                    ),
                    Err(why) => format!("{err}; the batch is lost ({why})"),
                }))
            }
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.profile == Profile::OneShot {
            let last = *self
                .last_export
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((started, true)) = last {
                // The shutdown began at the final export's start, or (no final batch) about
                // now; an earlier export of this process is no later than one timeout ago.
                let now = Instant::now();
                let began = now
                    .checked_sub(self.timeout)
                    .map_or(started, |t| t.max(started));
                self.ship(began + ONE_SHIP_WINDOW);
            }
        }
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = Some(resource.clone());
        self.inner.set_resource(resource);
    }
}

/// Writes each batch as one OTLP JSON Lines file into a directory (offline mode).
#[derive(Debug)]
pub(crate) struct FileLogExporter {
    dir: JsonlDir,
    resource: Option<Resource>,
}

impl FileLogExporter {
    pub(crate) fn new(dir: JsonlDir) -> Self {
        Self {
            dir,
            resource: None,
        }
    }

    fn export(&self, batch: &LogBatch<'_>) -> OTelSdkResult {
        let records: Vec<(&SdkLogRecord, &InstrumentationScope)> = batch.iter().collect();
        let request = logs_request(&records, self.resource.as_ref());
        write_line(
            &self.dir,
            Signal::Logs,
            &request,
            otlp_json::logs_records(&request),
        )
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
