//! Running the beads CLI (`bd`) as a real subprocess, bounded in time, recorded as `bd.call`.

use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use telemetry_subprocess::CommandTelemetryExt as _;
use wait_timeout::ChildExt as _;

/// Variable naming the bd binary (default `bd` on PATH).
pub const GT_BD_BIN: &str = "GT_BD_BIN";

/// Variable bounding one bd invocation, in milliseconds (default 30000).
pub const GT_BD_TIMEOUT_MS: &str = "GT_BD_TIMEOUT_MS";
/// The default bound on one bd invocation.
pub const DEFAULT_BD_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a bd invocation gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum BdError {
    /// The binary could not be started (not installed, not executable).
    #[error("could not run {bin:?}: {source} (is beads installed? GT_BD_BIN overrides the path)")]
    Spawn {
        /// The binary.
        bin: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// bd ran and exited unsuccessfully.
    #[error("`{bin} {args}` exited with {status}: {stderr}")]
    Failed {
        /// The binary.
        bin: String,
        /// The arguments, space-joined.
        args: String,
        /// Exit status as text.
        status: String,
        /// The first line of its stderr.
        stderr: String,
    },
    /// bd did not finish in time and was killed.
    #[error("`{bin} {args}` did not answer within {timeout:?} and was stopped")]
    TimedOut {
        /// The binary.
        bin: String,
        /// The arguments, space-joined.
        args: String,
        /// The bound.
        timeout: Duration,
    },
}

/// A configured bd binary.
#[derive(Debug, Clone)]
pub struct Bd {
    bin: OsString,
    timeout: Duration,
}

impl Bd {
    /// `GT_BD_BIN` or `bd`, bounded by `GT_BD_TIMEOUT_MS` or [`DEFAULT_BD_TIMEOUT`] per call.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let bin = lookup(GT_BD_BIN)
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "bd".to_owned());
        let timeout = lookup(GT_BD_TIMEOUT_MS)
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .map_or(DEFAULT_BD_TIMEOUT, Duration::from_millis);
        Self {
            bin: bin.into(),
            timeout,
        }
    }

    /// The binary's name or path.
    pub fn bin(&self) -> String {
        self.bin.to_string_lossy().into_owned()
    }

    /// Runs `bd args…` with the telemetry environment applied and returns its stdout.
    /// Every invocation, successful or not, is recorded as `bd.call` with its duration.
    ///
    /// # Errors
    /// [`BdError`] when bd cannot start, exits unsuccessfully, or exceeds the timeout.
    pub fn run(&self, args: &[&str]) -> Result<Vec<u8>, BdError> {
        let run = self.invoke(args)?;
        match run.failure {
            None => Ok(run.stdout),
            Some(err) => Err(err),
        }
    }

    /// Runs `bd args…` with the telemetry environment applied, records `bd.call`, and returns
    /// everything bd produced, whatever its exit status.
    ///
    /// # Errors
    /// [`BdError`] only when bd cannot start or exceeds the timeout.
    pub fn invoke(&self, args: &[&str]) -> Result<BdRun, BdError> {
        let started = Instant::now();
        let result = self.spawn_and_wait(args);
        let duration = started.elapsed();
        match &result {
            Ok(run) => {
                let outcome = match &run.failure {
                    Some(err) => Err(err as &dyn std::fmt::Display),
                    None => Ok(()),
                };
                telemetry_recorder::record_bd_call(
                    args,
                    duration,
                    outcome,
                    &run.stdout,
                    &run.stderr,
                );
            }
            Err(err) => telemetry_recorder::record_bd_call(args, duration, Err(err), &[], &[]),
        }
        result
    }

    fn spawn_and_wait(&self, args: &[&str]) -> Result<BdRun, BdError> {
        let mut child = Command::new(&self.bin)
            .args(args)
            .with_gt_telemetry()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BdError::Spawn {
                bin: self.bin(),
                source,
            })?;
        // Read both pipes on their own threads so a chatty bd cannot block on a full pipe.
        let readers = [
            child.stdout.take().map(drain),
            child.stderr.take().map(drain),
        ];
        let waited = child.wait_timeout(self.timeout);
        if !matches!(waited, Ok(Some(_))) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let [stdout, stderr] = readers.map(|r| r.and_then(|h| h.join().ok()).unwrap_or_default());
        let status = match waited {
            Ok(Some(status)) => status,
            Ok(None) | Err(_) => {
                return Err(BdError::TimedOut {
                    bin: self.bin(),
                    args: args.join(" "),
                    timeout: self.timeout,
                });
            }
        };
        let failure = (!status.success()).then(|| BdError::Failed {
            bin: self.bin(),
            args: args.join(" "),
            status: status.to_string(),
            stderr: String::from_utf8_lossy(&stderr)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("(no stderr)")
                .to_owned(),
        });
        Ok(BdRun {
            status,
            stdout,
            stderr,
            failure,
        })
    }
}

/// What one bd invocation produced.
#[derive(Debug)]
pub struct BdRun {
    /// Its exit status.
    pub status: std::process::ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
    /// The failure, when it exited unsuccessfully.
    pub failure: Option<BdError>,
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}
