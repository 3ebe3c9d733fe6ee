//! `gt otel spool status|flush|clear`: the spool of log batches whose export failed
//! (`telemetry_otlp::spool`), by hand. Shipping itself happens in every gt process whose
//! export succeeds; `flush` also ships a directory that a `file://` endpoint filled.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use telemetry_core::config::{file_url_dir, redact_url};
use telemetry_core::{Config, Profile};
use telemetry_otlp::otlp_json::{JsonlDir, Signal};
use telemetry_otlp::spool::{self, Spool, Target};

use crate::args::{SpoolCommand, SpoolFlushArgs, SpoolStatusArgs};

/// Runs one `gt otel spool` subcommand.
pub(crate) fn run(command: &SpoolCommand) -> anyhow::Result<ExitCode> {
    let config = Config::from_env().unwrap_or_else(|err| {
        eprintln!("gt: warning: telemetry configuration: {err}");
        Config::disabled()
    });
    for warning in &config.warnings {
        eprintln!("gt: warning: telemetry: {warning}");
    }
    match command {
        SpoolCommand::Status(args) => status(&spool_of(&config)?, args),
        SpoolCommand::Flush(args) => flush(&config, args),
        SpoolCommand::Clear => {
            let spool = spool_of(&config)?;
            let removed = spool
                .clear()
                .with_context(|| format!("could not read {}", spool.dir().display()))?;
            println!("removed {removed} files from {}", spool.dir().display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The spool of the state directory, whether telemetry is on or off.
fn spool_of(config: &Config) -> anyhow::Result<Spool> {
    let state_dir = telemetry_core::config::state_dir_from_lookup(|k| std::env::var(k).ok())
        .context("no state directory: set GT_STATE_DIR (or XDG_STATE_HOME, or HOME)")?;
    Ok(Spool::in_state_dir(&state_dir, config.spool_max_bytes))
}

fn status(spool: &Spool, args: &SpoolStatusArgs) -> anyhow::Result<ExitCode> {
    let status = spool
        .status()
        .with_context(|| format!("could not read {}", spool.dir().display()))?;
    if args.json {
        let per_signal = |signal: Signal| {
            let w = status.waiting.get(&signal).copied().unwrap_or_default();
            let d = status.dropped.get(&signal).copied().unwrap_or_default();
            serde_json::json!({
                "files": w.files, "records": w.records, "bytes": w.bytes,
                "dropped_files": d.files, "dropped_records": d.records,
            })
        };
        let out = serde_json::json!({
            "dir": status.dir,
            "max_bytes": status.max_bytes,
            "logs": per_signal(Signal::Logs),
            "traces": per_signal(Signal::Traces),
            "metrics": per_signal(Signal::Metrics),
        });
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "spool: {} (cap {} MiB)",
        status.dir.display(),
        status.max_bytes / (1024 * 1024)
    );
    for signal in Signal::ALL {
        let w = status.waiting.get(&signal).copied().unwrap_or_default();
        let d = status.dropped.get(&signal).copied().unwrap_or_default();
        if w.files == 0 && d.files == 0 && signal != Signal::Logs {
            continue;
        }
        println!(
            "{signal}: {} files, {} records, {} bytes waiting; dropped at the cap so far: {} \
             files, {} records",
            w.files, w.records, w.bytes, d.files, d.records
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn flush(config: &Config, args: &SpoolFlushArgs) -> anyhow::Result<ExitCode> {
    let only = match args.signal.as_deref() {
        None => None,
        Some(name) => Some(
            Signal::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .with_context(|| format!("--signal {name:?} is not metrics, logs or traces"))?,
        ),
    };
    if let Some(to) = &args.to {
        let usable =
            file_url_dir(to).is_some() || to.starts_with("http://") || to.starts_with("https://");
        anyhow::ensure!(
            usable,
            "--to {:?} is not an http://, https:// or file:/// URL",
            redact_url(to)
        );
    }
    let transport = telemetry_otlp::Transport::new(config, Profile::Daemon.timeout(config))?;
    let target = |url: &str| Target::for_url(url, &transport, &config.headers);
    let targets = |signal: Signal| -> Option<Target> {
        if only.is_some_and(|s| s != signal) {
            return None;
        }
        match (&args.to, signal) {
            (Some(to), _) => Some(target(to)),
            (None, Signal::Logs) => config.logs_url.as_deref().map(target),
            (None, Signal::Metrics) => config.metrics_url.as_deref().map(target),
            (None, Signal::Traces) => config.traces_url.as_deref().map(target),
        }
    };
    let deadline = Some(Instant::now() + Duration::from_millis(args.timeout_ms));
    let (dir, report) = match &args.dir {
        Some(dir) => (
            dir.clone(),
            spool::ship(&JsonlDir::new(dir), &targets, deadline),
        ),
        None => {
            let spool = spool_of(config)?;
            (spool.dir().to_owned(), spool.ship(&targets, deadline))
        }
    };
    if report.busy {
        println!(
            "{}: another gt process is shipping some of its files; those were left to it",
            dir.display()
        );
    }
    println!(
        "{}: shipped {} files ({} records); {} files left",
        dir.display(),
        report.files,
        report.records,
        report.left
    );
    if report.skipped > 0 {
        println!(
            "{} files of other signals (or without a configured URL) were not touched",
            report.skipped
        );
    }
    if report.unreadable > 0 {
        eprintln!(
            "gt: warning: removed {} files that hold no OTLP/JSON request",
            report.unreadable
        );
    }
    if let Some(err) = &report.error {
        eprintln!("gt: warning: flush stopped: {err}");
    }
    Ok(if report.left == 0 && report.error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
