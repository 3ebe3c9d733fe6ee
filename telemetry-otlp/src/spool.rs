//! The spool: export requests that could not be delivered, kept on disk until a later process
//! (any `gt` command, the agent-log daemon, `gt otel spool flush`) ships them.
//!
//! It lives in `telemetry/spool/` under the state directory, as OTLP JSON Lines files
//! ([`crate::otlp_json`]: one request per file, written atomically), bounded in size: when a
//! new file takes the spool past its cap, the oldest files are removed and counted in
//! `.dropped.json` (per signal: files and records). Metrics are never spooled: the durable
//! counter store carries their totals forward and a later process sends them again.
//!
//! [`ship`] delivers the files of a directory oldest first, one at a time, and removes each
//! only after the backend acknowledged it (a 2xx answer): that removal is the acknowledgment,
//! so a file whose removal was done is never sent again, even if the shipper is killed. A file
//! whose request was in flight when the shipper died is sent again by the next one. Shippers
//! of one directory exclude each other per signal with an advisory lock (`.ship-logs.lock`,
//! …); a process that finds a signal's lock held ships none of that signal's files. With a deadline, a request is only started when its timeout
//! ends before the deadline, so shipping never runs past it.
//!
//! It must not decide when to ship (the exporters and `gt otel spool` do) or print anything.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http::Request;

use crate::Transport;
use crate::otlp_json::{self, JsonlDir, JsonlFile, Signal};

/// Name of the counts of dropped files inside the spool directory.
const DROPPED_FILE: &str = ".dropped.json";

/// Why the spool could not keep a request.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The request could not be written.
    #[error("could not write to the spool {dir}: {source}")]
    Write {
        /// The spool directory.
        dir: PathBuf,
        /// The file system's error.
        source: io::Error,
    },
    /// The spool is disabled (`GT_OTEL_SPOOL_MAX_MB=0`).
    #[error("the spool is disabled (GT_OTEL_SPOOL_MAX_MB=0)")]
    Disabled,
}

/// The spool of one state directory.
#[derive(Debug, Clone)]
pub struct Spool {
    files: JsonlDir,
    max_bytes: u64,
}

/// Counts of files (and the records in them) removed to keep the spool under its cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dropped {
    /// Files removed.
    pub files: u64,
    /// Records in them.
    pub records: u64,
}

/// What [`Spool::keep`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The new file.
    pub path: PathBuf,
    /// Older files removed to make room (the new one among them when it alone passes the cap).
    pub dropped: Dropped,
}

/// What the spool holds, per signal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The spool directory.
    pub dir: PathBuf,
    /// The size cap in bytes.
    pub max_bytes: u64,
    /// Per signal: files, records and bytes waiting.
    pub waiting: BTreeMap<Signal, Waiting>,
    /// Per signal: everything dropped at the cap so far.
    pub dropped: BTreeMap<Signal, Dropped>,
}

/// Files waiting for one signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Files.
    pub files: u64,
    /// Records in them.
    pub records: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Spool {
    /// The spool of `state_dir` (`<state_dir>/telemetry/spool`), capped at `max_bytes`.
    #[must_use]
    pub fn in_state_dir(state_dir: &Path, max_bytes: u64) -> Self {
        Self {
            files: JsonlDir::new(state_dir.join("telemetry").join("spool")),
            max_bytes,
        }
    }

    /// The spool directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.files.path()
    }

    /// Keeps one OTLP/JSON request line of `signal` carrying `records` records, then removes
    /// the oldest files while the spool is past its cap, counting them.
    ///
    /// # Errors
    /// [`SpoolError`] when the spool is disabled or the file cannot be written.
    pub fn keep(&self, signal: Signal, line: &str, records: usize) -> Result<Kept, SpoolError> {
        if self.max_bytes == 0 {
            return Err(SpoolError::Disabled);
        }
        let path = self
            .files
            .write(signal, line, records)
            .map_err(|source| SpoolError::Write {
                dir: self.dir().to_owned(),
                source,
            })?;
        let dropped = self.enforce_cap();
        Ok(Kept { path, dropped })
    }

    /// Removes the oldest files while the spool is past its cap; returns what went.
    fn enforce_cap(&self) -> Dropped {
        let Ok(files) = self.files.files() else {
            return Dropped::default();
        };
        let mut total: u64 = files.iter().map(|f| f.bytes).sum();
        let mut dropped: BTreeMap<Signal, Dropped> = BTreeMap::new();
        for file in &files {
            if total <= self.max_bytes {
                break;
            }
            // Another process may have shipped or dropped it meanwhile: count only our removal.
            if fs::remove_file(&file.path).is_ok() {
                let entry = dropped
                    .entry(file.signal.unwrap_or(Signal::Logs))
                    .or_default();
                entry.files += 1;
                entry.records += file.records.unwrap_or(0) as u64;
            }
            total = total.saturating_sub(file.bytes);
        }
        let sum = dropped.values().fold(Dropped::default(), |a, d| Dropped {
            files: a.files + d.files,
            records: a.records + d.records,
        });
        if sum.files > 0 {
            let _ = self.add_dropped(&dropped);
        }
        sum
    }

    /// Adds to the counts in `.dropped.json`, under its advisory lock.
    fn add_dropped(&self, add: &BTreeMap<Signal, Dropped>) -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.dir().join(DROPPED_FILE))?;
        file.lock()?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let mut counts: BTreeMap<String, Dropped> = serde_json::from_str(&text).unwrap_or_default();
        for (signal, d) in add {
            let entry = counts.entry(signal.as_str().to_owned()).or_default();
            entry.files += d.files;
            entry.records += d.records;
        }
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(
            serde_json::to_string(&counts)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        Ok(())
    }

    /// The files waiting and the counts dropped so far.
    ///
    /// # Errors
    /// When the spool directory exists but cannot be read.
    pub fn status(&self) -> io::Result<Status> {
        let mut status = Status {
            dir: self.dir().to_owned(),
            max_bytes: self.max_bytes,
            ..Status::default()
        };
        for file in self.files.files()? {
            let entry = status
                .waiting
                .entry(file.signal.unwrap_or(Signal::Logs))
                .or_default();
            entry.files += 1;
            entry.records += file.records.unwrap_or(0) as u64;
            entry.bytes += file.bytes;
        }
        let text = fs::read_to_string(self.dir().join(DROPPED_FILE)).unwrap_or_default();
        let counts: BTreeMap<String, Dropped> = serde_json::from_str(&text).unwrap_or_default();
        for signal in Signal::ALL {
            if let Some(d) = counts.get(signal.as_str()) {
                status.dropped.insert(signal, *d);
            }
        }
        Ok(status)
    }

    /// Removes every waiting file (not the dropped counts); returns how many went.
    ///
    /// # Errors
    /// When the spool directory exists but cannot be read.
    pub fn clear(&self) -> io::Result<usize> {
        let files = self.files.files()?;
        Ok(files
            .iter()
            .filter(|f| fs::remove_file(&f.path).is_ok())
            .count())
    }

    /// Ships the spool's files to `targets` (see [`ship`]).
    #[must_use]
    pub fn ship(
        &self,
        targets: &dyn Fn(Signal) -> Option<Target>,
        deadline: Option<Instant>,
    ) -> ShipReport {
        ship(&self.files, targets, deadline)
    }
}

/// Where shipped requests go.
#[derive(Debug, Clone)]
pub enum Target {
    /// An OTLP/HTTP endpoint: each request is POSTed as protobuf.
    Http {
        /// The client (its timeout bounds each request).
        transport: Transport,
        /// The full URL.
        url: String,
        /// Headers sent with each request.
        headers: Vec<(String, String)>,
    },
    /// A directory of OTLP JSON Lines files (a `file://` endpoint).
    Dir(JsonlDir),
}

impl Target {
    /// The target of a configured endpoint: the directory of a `file:///dir/` URL, else HTTP.
    #[must_use]
    pub fn for_url(url: &str, transport: &Transport, headers: &[(String, String)]) -> Self {
        match telemetry_core::config::file_url_dir(url) {
            Some(dir) => Self::Dir(JsonlDir::new(dir)),
            None => Self::Http {
                transport: transport.clone(),
                url: url.to_owned(),
                headers: headers.to_vec(),
            },
        }
    }

    /// The bound on one delivery.
    fn timeout(&self) -> Duration {
        match self {
            Self::Http { transport, .. } => transport.timeout(),
            Self::Dir(_) => Duration::ZERO,
        }
    }

    fn deliver(&self, line: &str, decoded: &otlp_json::DecodedLine) -> Result<(), String> {
        match self {
            Self::Http {
                transport,
                url,
                headers,
            } => post_protobuf(transport, url, headers, &decoded.protobuf),
            Self::Dir(dir) => dir
                .write(decoded.signal, line, decoded.records)
                .map(|_| ())
                .map_err(|e| format!("could not write to {}: {e}", dir.path().display())),
        }
    }
}

/// POSTs an OTLP protobuf request body to `url`; `Ok` on a 2xx answer.
///
/// # Errors
/// One line saying what the backend answered, or why no answer came.
pub fn post_protobuf(
    transport: &Transport,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), String> {
    let mut builder = Request::post(url).header("content-type", "application/x-protobuf");
    for (key, value) in headers {
        builder = builder.header(key.as_str(), value.as_str());
    }
    let request = builder.body(body).map_err(|e| e.to_string())?;
    match transport.send(request) {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!(
            "HTTP export failed with status code: {}",
            response.status().as_u16()
        )),
        Err(err) => Err(format!("HTTP export failed: {err}")),
    }
}

/// What one [`ship`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipReport {
    /// Files delivered and removed.
    pub files: u64,
    /// Records in them.
    pub records: u64,
    /// Files left for a later shipper (deadline reached, failure).
    pub left: u64,
    /// Files of a signal without a target, not touched.
    pub skipped: u64,
    /// Files removed because they hold no OTLP/JSON request (never deliverable).
    pub unreadable: u64,
    /// Another shipper held the lock of a signal: none of its files were shipped.
    pub busy: bool,
    /// The failure that stopped shipping, if one did.
    pub error: Option<String>,
}

/// Ships the request files of `dir`, oldest first, to the target of each line's signal
/// (`targets`; a signal without one is left), removing each file once all its lines were
/// acknowledged. Stops at the first failed delivery (the backend is away again), and with a
/// `deadline` before starting a delivery whose timeout would end past it.
///
/// A file of several lines whose delivery fails midway is sent whole again later (its first
/// lines twice); the files this crate writes hold one line each.
#[must_use]
pub fn ship(
    dir: &JsonlDir,
    targets: &dyn Fn(Signal) -> Option<Target>,
    deadline: Option<Instant>,
) -> ShipReport {
    let mut report = ShipReport::default();
    let files = match dir.files() {
        Ok(files) if files.is_empty() => return report,
        Ok(files) => files,
        Err(err) => {
            report.error = Some(format!("could not read {}: {err}", dir.path().display()));
            return report;
        }
    };
    // One lock per signal, so the logs and traces exporters of one process (which shut down
    // in parallel) ship their own files side by side.
    let mut held = Vec::new();
    for signal in Signal::ALL {
        if targets(signal).is_none() {
            continue;
        }
        let path = dir.path().join(format!(".ship-{signal}.lock"));
        match fs::File::create(&path) {
            Ok(lock) if lock.try_lock().is_ok() => held.push((signal, lock)),
            Ok(_) => report.busy = true,
            Err(err) => {
                report.error = Some(format!("could not lock {}: {err}", path.display()));
                return report;
            }
        }
    }
    let targets = |signal: Signal| {
        held.iter()
            .any(|(s, _)| *s == signal)
            .then(|| targets(signal))
            .flatten()
    };
    let targets: &dyn Fn(Signal) -> Option<Target> = &targets;
    for (index, file) in files.iter().enumerate() {
        match ship_file(file, targets, deadline) {
            Shipped::Delivered(records) => {
                report.files += 1;
                report.records += records;
            }
            Shipped::Gone => {}
            Shipped::Unreadable => report.unreadable += 1,
            Shipped::NoTarget => report.skipped += 1,
            Shipped::Stop(error) => {
                report.left = files[index..]
                    .iter()
                    .filter(|f| f.signal.is_none_or(|s| targets(s).is_some()))
                    .count() as u64;
                report.error = error;
                break;
            }
        }
    }
    report
}

enum Shipped {
    Delivered(u64),
    /// Removed by someone else since it was listed (dropped at the cap, cleared).
    Gone,
    Unreadable,
    NoTarget,
    /// Stop shipping: the deadline is near (`None`) or a delivery failed.
    Stop(Option<String>),
}

fn ship_file(
    file: &JsonlFile,
    targets: &dyn Fn(Signal) -> Option<Target>,
    deadline: Option<Instant>,
) -> Shipped {
    if file.signal.is_some_and(|s| targets(s).is_none()) {
        return Shipped::NoTarget;
    }
    let text = match fs::read_to_string(&file.path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Shipped::Gone,
        Err(err) => return Shipped::Stop(Some(format!("{}: {err}", file.path.display()))),
    };
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match otlp_json::decode_line(line) {
            Ok(decoded) => lines.push((line, decoded)),
            Err(_) => {
                let _ = fs::remove_file(&file.path);
                return Shipped::Unreadable;
            }
        }
    }
    let mut records = 0;
    for (line, decoded) in &lines {
        let Some(target) = targets(decoded.signal) else {
            return Shipped::NoTarget;
        };
        if deadline.is_some_and(|d| Instant::now() + target.timeout() > d) {
            return Shipped::Stop(None);
        }
        if let Err(err) = target.deliver(line, decoded) {
            return Shipped::Stop(Some(err));
        }
        records += decoded.records as u64;
    }
    // The acknowledgment: from here on this file is never sent again.
    match fs::remove_file(&file.path) {
        Ok(()) => Shipped::Delivered(records),
        Err(err) => Shipped::Stop(Some(format!(
            "delivered {} but could not remove it: {err}",
            file.path.display()
        ))),
    }
}
