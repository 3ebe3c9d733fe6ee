//! `gt otel watch`: the town's health measured from outside the orchestrator, until stopped.
//!
//! Every interval: each Dolt sql-server (`--dsn`) is checked (`dolt.health`: healthy,
//! `SELECT 1` latency, connections, replication lag) and each rig's merge queue (`--rig`) is
//! sampled with bd (`refinery.queue`: depth, oldest item's age). Daemon export profile
//! (retries), process metrics on; SIGTERM, SIGINT or SIGHUP end the current round's wait and
//! the final export is flushed within the shutdown bound. Memory stays bounded: the probes
//! keep one connection each and the gauges one value per server or rig. A probe that fails
//! prints one warning when it starts failing and one line when it recovers; the command
//! never stops for it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use gt_cli::bd::Bd;
use telemetry_core::env::{
    GT_WATCH_DOLT_DSN, GT_WATCH_INTERVAL_MS, GT_WATCH_REFINERY_QUERY, GT_WATCH_RIGS,
};
use telemetry_core::{Config, Profile, Service};
use town_probes::dolt::{Dsn, Probe};
use town_probes::refinery;

use super::SHUTDOWN_DEADLINE;
use crate::args::WatchArgs;

/// The default time between two rounds.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// The most one Dolt check may take (connect, each query).
const MAX_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A rig whose merge queue is sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rig {
    name: String,
    path: PathBuf,
}

impl Rig {
    fn parse(spec: &str) -> Option<Self> {
        let spec = spec.trim();
        if spec.is_empty() {
            return None;
        }
        let (name, path) = match spec.split_once('=') {
            Some((name, path)) => (name.trim().to_owned(), PathBuf::from(path.trim())),
            None => {
                let path = PathBuf::from(spec);
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (name, path)
            }
        };
        (!name.is_empty()).then_some(Self { name, path })
    }
}

/// Flags, then `GT_WATCH_*`, then defaults; resolved once.
#[derive(Debug)]
struct Settings {
    interval: Duration,
    dsns: Vec<String>,
    rigs: Vec<Rig>,
    query: Vec<String>,
    once: bool,
}

fn list(flags: &[String], env: Option<String>) -> Vec<String> {
    if flags.is_empty() {
        env.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        flags.to_vec()
    }
}

impl Settings {
    fn resolve(args: &WatchArgs, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let interval = args
            .interval_ms
            .or_else(|| {
                let raw = lookup(GT_WATCH_INTERVAL_MS)?;
                let parsed = raw.trim().parse().ok();
                if parsed.is_none() {
                    eprintln!(
                        "gt otel watch: warning: {GT_WATCH_INTERVAL_MS}={raw:?} is not a number \
                         of milliseconds; using {DEFAULT_INTERVAL:?}"
                    );
                }
                parsed
            })
            .filter(|ms| *ms > 0)
            .map_or(DEFAULT_INTERVAL, Duration::from_millis);
        let rigs = list(&args.rigs, lookup(GT_WATCH_RIGS))
            .iter()
            .filter_map(|spec| {
                let rig = Rig::parse(spec);
                if rig.is_none() {
                    eprintln!("gt otel watch: warning: rig {spec:?} has no name; skipped");
                }
                rig
            })
            .collect();
        let query = args
            .refinery_query
            .clone()
            .or_else(|| lookup(GT_WATCH_REFINERY_QUERY))
            .map(|q| q.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .filter(|q| !q.is_empty())
            .unwrap_or_else(|| {
                refinery::DEFAULT_QUERY
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect()
            });
        Self {
            interval,
            dsns: list(&args.dsns, lookup(GT_WATCH_DOLT_DSN)),
            rigs,
            query,
            once: args.once,
        }
    }
}

/// Prints a warning when a probe starts failing and a line when it recovers, not every round.
#[derive(Debug, Default)]
struct Warnings {
    failing: HashMap<String, bool>,
}

impl Warnings {
    fn report(&mut self, what: &str, error: Option<&str>) {
        let was = self.failing.insert(what.to_owned(), error.is_some());
        match (was.unwrap_or(false), error) {
            (false, Some(err)) => eprintln!("gt otel watch: warning: {what}: {err}"),
            (true, None) => eprintln!("gt otel watch: {what}: recovered"),
            _ => {}
        }
    }
}

/// Runs until a stop signal (or one round with `--once`).
pub(crate) fn run(args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::resolve(args, |k| std::env::var(k).ok());
    let mut probes = Vec::new();
    for (i, dsn) in settings.dsns.iter().enumerate() {
        match Dsn::parse(dsn) {
            Ok(dsn) => probes.push(Probe::new(dsn, settings.interval.min(MAX_CHECK_TIMEOUT))),
            Err(err) => eprintln!("gt otel watch: warning: DSN #{}: {err}; skipped", i + 1),
        }
    }
    if probes.is_empty() && settings.rigs.is_empty() {
        eprintln!(
            "gt otel watch: nothing to watch: give --dsn or --rig (or {GT_WATCH_DOLT_DSN} / \
             {GT_WATCH_RIGS})"
        );
        return Ok(ExitCode::from(2));
    }
    let config = Config::from_env().context("telemetry configuration")?;
    if !config.is_enabled() {
        eprintln!("gt otel watch: telemetry is off (no GT_OTEL_*_URL): nothing to export");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(provider) = telemetry_otlp::init_with(
        move || Ok(config),
        Service {
            name: "gastown",
            version: env!("CARGO_PKG_VERSION"),
        },
        Profile::Daemon,
    )
    .context("telemetry")?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    let _runtime = telemetry_runtime::install(&provider)
        .map_err(|err| eprintln!("gt otel watch: warning: no process metrics: {err}"))
        .ok();
    let (stop_tx, stop_rx) = sync_channel::<()>(1);
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])
    .context("signal handlers")?;
    std::thread::Builder::new()
        .name("gt-watch-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = stop_tx.try_send(());
            }
        })
        .context("signal thread")?;

    let bd = Bd::from_lookup(|k| std::env::var(k).ok());
    let query: Vec<&str> = settings.query.iter().map(String::as_str).collect();
    let mut warnings = Warnings::default();
    loop {
        for probe in &mut probes {
            check_dolt(probe, &mut warnings);
        }
        for rig in &settings.rigs {
            sample_queue(&bd, rig, &query, &mut warnings);
        }
        if settings.once {
            break;
        }
        match stop_rx.recv_timeout(settings.interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Err(err) = provider.shutdown(SHUTDOWN_DEADLINE) {
        eprintln!("gt otel watch: warning: {err}");
    }
    Ok(ExitCode::SUCCESS)
}

fn check_dolt(probe: &mut Probe, warnings: &mut Warnings) {
    let check = probe.check();
    let health = telemetry_recorder::DoltHealth {
        server: probe.server(),
        latency: check.latency,
        connections: check.connections,
        max_connections: check.max_connections,
        replication_lag: check.replication_lag,
    };
    let outcome = match &check.error {
        Some(err) => Err(err as &dyn std::fmt::Display),
        None => Ok(()),
    };
    telemetry_recorder::record_dolt_health(&health, outcome);
    let what = format!("dolt {} unhealthy", probe.server());
    warnings.report(&what, check.error.as_deref());
}

fn sample_queue(bd: &Bd, rig: &Rig, query: &[&str], warnings: &mut Warnings) {
    let what = format!("refinery queue of rig {}", rig.name);
    match queue(bd, &rig.path, query) {
        Ok(sample) => {
            telemetry_recorder::record_refinery_queue(&rig.name, sample.depth, sample.oldest_age);
            warnings.report(&what, None);
        }
        Err(err) => warnings.report(&what, Some(&err)),
    }
}

fn queue(bd: &Bd, dir: &Path, query: &[&str]) -> Result<refinery::QueueSample, String> {
    let answer = bd.in_dir(dir).run(query).map_err(|e| e.to_string())?;
    refinery::sample(&answer, SystemTime::now()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> WatchArgs {
        WatchArgs {
            interval_ms: None,
            dsns: Vec::new(),
            rigs: Vec::new(),
            refinery_query: None,
            once: false,
        }
    }

    #[test]
    fn flags_win_over_variables_and_defaults_fill_the_rest() {
        let env = |k: &str| match k {
            GT_WATCH_INTERVAL_MS => Some("1500".to_owned()),
            GT_WATCH_RIGS => Some("gastown=/town/gastown, /town/beads".to_owned()),
            GT_WATCH_DOLT_DSN => Some("mysql://a@h1/,mysql://b@h2/".to_owned()),
            _ => None,
        };
        let s = Settings::resolve(&args(), env);
        assert_eq!(s.interval, Duration::from_millis(1500));
        assert_eq!(s.dsns.len(), 2);
        assert_eq!(
            s.rigs,
            [
                Rig {
                    name: "gastown".into(),
                    path: "/town/gastown".into()
                },
                Rig {
                    name: "beads".into(),
                    path: "/town/beads".into()
                }
            ]
        );
        assert_eq!(s.query, refinery::DEFAULT_QUERY);
        let flags = WatchArgs {
            interval_ms: Some(200),
            dsns: vec!["mysql://c@h3/".into()],
            refinery_query: Some("list --json --label mq".into()),
            ..args()
        };
        let s = Settings::resolve(&flags, env);
        assert_eq!(s.interval, Duration::from_millis(200));
        assert_eq!(s.dsns, ["mysql://c@h3/"]);
        assert_eq!(s.query, ["list", "--json", "--label", "mq"]);
    }

    #[test]
    fn a_bad_interval_falls_back_to_the_default() {
        let s = Settings::resolve(&args(), |k| {
            (k == GT_WATCH_INTERVAL_MS).then(|| "soon".to_owned())
        });
        assert_eq!(s.interval, DEFAULT_INTERVAL);
    }
}
