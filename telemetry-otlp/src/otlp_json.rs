//! OTLP JSON Lines: the format of the OpenTelemetry Collector's file exporter (and of its
//! `otlpjsonfile` receiver), used for the spool of failed exports and for `file://` endpoints.
//!
//! One signal per file, one `Export*ServiceRequest` per line, in the OTLP/JSON encoding
//! (camelCase field names, trace and span ids in hex, 64-bit integers as strings): the
//! `with-serde` mapping of `opentelemetry-proto`. A [`JsonlDir`] writes one file per request,
//! atomically (a hidden temporary file renamed into place), so a reader never sees half a
//! file: a process killed mid-write leaves only a hidden `.….tmp` that no reader lists.
//!
//! It must not send anything or decide what to keep: the spool and the exporters do.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// The OTLP signal of a file or a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// `ExportMetricsServiceRequest` (`resourceMetrics`).
    Metrics,
    /// `ExportLogsServiceRequest` (`resourceLogs`).
    Logs,
    /// `ExportTraceServiceRequest` (`resourceSpans`).
    Traces,
}

impl Signal {
    /// Every signal.
    pub const ALL: [Signal; 3] = [Signal::Metrics, Signal::Logs, Signal::Traces];

    /// `metrics`, `logs` or `traces`: the prefix of the files this module writes.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Logs => "logs",
            Self::Traces => "traces",
        }
    }

    fn from_prefix(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| {
            name.strip_prefix(s.as_str())
                .is_some_and(|r| r.starts_with('-'))
        })
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A line that is not an OTLP/JSON export request.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Not JSON, or JSON that does not decode as the request its top-level key names.
    #[error("not an OTLP/JSON export request: {0}")]
    Json(#[from] serde_json::Error),
    /// A JSON object with none of `resourceMetrics`, `resourceLogs`, `resourceSpans`.
    #[error("not an OTLP/JSON export request: no resourceMetrics, resourceLogs or resourceSpans")]
    UnknownSignal,
}

/// One line decoded: its signal, the request in the OTLP protobuf encoding, and how many
/// records (log records, spans, metric data points) it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedLine {
    /// The request's signal.
    pub signal: Signal,
    /// The same request, protobuf-encoded (what OTLP/HTTP backends take).
    pub protobuf: Vec<u8>,
    /// Records in the request.
    pub records: usize,
}

/// Decodes one OTLP/JSON line (the signal is told by its top-level key).
///
/// # Errors
/// [`LineError`] when the line is not an export request.
pub fn decode_line(line: &str) -> Result<DecodedLine, LineError> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    if value.get("resourceLogs").is_some() {
        decode_as(value, Signal::Logs, logs_records)
    } else if value.get("resourceSpans").is_some() {
        decode_as(value, Signal::Traces, |r: &ExportTraceServiceRequest| {
            r.resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum()
        })
    } else if value.get("resourceMetrics").is_some() {
        decode_as(value, Signal::Metrics, metrics_records)
    } else {
        Err(LineError::UnknownSignal)
    }
}

fn decode_as<T: serde::de::DeserializeOwned + prost::Message>(
    value: serde_json::Value,
    signal: Signal,
    count: impl Fn(&T) -> usize,
) -> Result<DecodedLine, LineError> {
    let request: T = serde_json::from_value(value)?;
    Ok(DecodedLine {
        signal,
        records: count(&request),
        protobuf: request.encode_to_vec(),
    })
}

/// The metrics of a metrics request.
#[must_use]
pub fn metrics_records(request: &ExportMetricsServiceRequest) -> usize {
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .map(|s| s.metrics.len())
        .sum()
}

/// The log records of a logs request.
#[must_use]
pub fn logs_records(request: &ExportLogsServiceRequest) -> usize {
    request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum()
}

/// A directory of OTLP JSON Lines files (`<signal>-<unix ns>-<pid>-<seq>-n<records>.jsonl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlDir {
    dir: PathBuf,
}

/// One file of a [`JsonlDir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlFile {
    /// Its path.
    pub path: PathBuf,
    /// The signal its name says (`None` for a file named by another writer: its lines say).
    pub signal: Option<Signal>,
    /// The record count its name says (`None` for a file named by another writer).
    pub records: Option<usize>,
    /// Its size.
    pub bytes: u64,
    /// Its modification time (files are listed oldest first).
    pub modified: SystemTime,
}

/// Hidden temporaries older than this are left-overs of a killed writer and are removed.
const STALE_TEMPORARY: Duration = Duration::from_secs(600);

impl JsonlDir {
    /// The directory `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `line` (one OTLP/JSON request carrying `records` records) as a new file, atomically.
    ///
    /// # Errors
    /// When the directory or the file cannot be created or written.
    pub fn write(&self, signal: Signal, line: &str, records: usize) -> io::Result<PathBuf> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        fs::create_dir_all(&self.dir)?;
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!(
            "{signal}-{nanos:020}-{}-{:06}-n{records}.jsonl",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = self.dir.join(&name);
        let temporary = self.dir.join(format!(".{name}.tmp"));
        let written = (|| {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(line.trim_end().as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&temporary, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written.map(|()| path)
    }

    /// The request files (`*.jsonl`, `*.json`; hidden ones skipped), oldest first. A missing
    /// directory has none. Removes temporaries that a killed writer left behind.
    ///
    /// # Errors
    /// When the directory cannot be read.
    pub fn files(&self) -> io::Result<Vec<JsonlFile>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        let mut files = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if name.starts_with('.') {
                let stale = name.ends_with(".tmp")
                    && modified.elapsed().is_ok_and(|age| age > STALE_TEMPORARY);
                if stale {
                    let _ = fs::remove_file(entry.path());
                }
                continue;
            }
            let Some(stem) = name
                .strip_suffix(".jsonl")
                .or_else(|| name.strip_suffix(".json"))
            else {
                continue;
            };
            let signal = Signal::from_prefix(stem);
            let records = signal.and_then(|_| {
                stem.rsplit('-')
                    .next()
                    .and_then(|n| n.strip_prefix('n'))
                    .and_then(|n| n.parse().ok())
            });
            files.push(JsonlFile {
                path: entry.path(),
                signal,
                records,
                bytes: meta.len(),
                modified,
            });
        }
        files.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.path.cmp(&b.path)));
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn a_written_line_lists_with_its_signal_and_count_and_decodes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = JsonlDir::new(tmp.path().join("out"));
        let line = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"5","body":{"stringValue":"x"}},{"body":{"intValue":"7"}}]}]}]}"#;
        dir.write(Signal::Logs, line, 2).unwrap();
        let files = dir.files().unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].signal, Some(Signal::Logs));
        assert_eq!(files[0].records, Some(2));
        let text = fs::read_to_string(&files[0].path).unwrap();
        assert!(text.ends_with("}\n"), "{text}");
        let decoded = decode_line(text.trim()).unwrap();
        assert_eq!((decoded.signal, decoded.records), (Signal::Logs, 2));
        let request = ExportLogsServiceRequest::decode(decoded.protobuf.as_slice()).unwrap();
        assert_eq!(
            request.resource_logs[0].scope_logs[0].log_records[0].time_unix_nano,
            5
        );
    }

    #[test]
    fn hidden_temporaries_and_other_files_are_not_listed() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(".logs-1-1-1-n1.jsonl.tmp"), "{\"resourceLo").unwrap();
        fs::write(tmp.path().join("notes.txt"), "x").unwrap();
        assert!(JsonlDir::new(tmp.path()).files().unwrap().is_empty());
    }

    #[test]
    fn lines_that_are_not_requests_are_refused() {
        assert!(matches!(decode_line("{}"), Err(LineError::UnknownSignal)));
        assert!(matches!(
            decode_line("{\"resourceLo"),
            Err(LineError::Json(_))
        ));
    }
}
