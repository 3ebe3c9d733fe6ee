//! Process-level benchmark: what one `gt` invocation costs in CPU, wall time and peak memory
//! with telemetry off and on, side by side in the same run.
//!
//! Each case runs in a runner process of its own (this binary re-executed with
//! `bench-process-runner`), which starts the command `runs` times one after another and reads
//! its children's CPU time and peak RSS from `getrusage(RUSAGE_CHILDREN)`: the figures cover the
//! `gt` processes only, never this harness. Cases alternate round by round so that a change in
//! machine load hits both sides alike. The "on" case exports to a live OTLP/HTTP receiver on
//! loopback (otlp-capture, plain http), which answers at once.
//!
//! It measures; it never asserts. The comparison with the target is printed for the reader.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};
use nix::sys::resource::{UsageWho, getrusage};

/// What the runner measured over its runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Runs made.
    pub runs: u32,
    /// User + system CPU of all runs, in microseconds.
    pub cpu_us: u64,
    /// Wall time of all runs, in microseconds.
    pub wall_us: u64,
    /// The largest peak RSS of one run, in KiB.
    pub max_rss_kib: u64,
}

impl Sample {
    fn add(&mut self, other: Sample) {
        self.runs += other.runs;
        self.cpu_us += other.cpu_us;
        self.wall_us += other.wall_us;
        self.max_rss_kib = self.max_rss_kib.max(other.max_rss_kib);
    }

    /// Mean CPU per run, in milliseconds.
    #[must_use]
    pub fn cpu_ms(&self) -> f64 {
        self.cpu_us as f64 / 1000.0 / f64::from(self.runs.max(1))
    }

    /// Mean wall time per run, in milliseconds.
    #[must_use]
    pub fn wall_ms(&self) -> f64 {
        self.wall_us as f64 / 1000.0 / f64::from(self.runs.max(1))
    }
}

/// One measured configuration of the command.
#[derive(Debug, Clone)]
pub struct Case {
    /// Its name in the table.
    pub name: String,
    /// Environment variables on top of a clean `PATH` + `HOME`.
    pub env: Vec<(String, String)>,
}

/// Runs `program args` in every case, `rounds` × `runs_per_round` times each, alternating.
///
/// # Errors
/// When the runner cannot be started or a run of the command fails.
pub fn measure(
    program: &Path,
    args: &[&str],
    cases: &[Case],
    rounds: u32,
    runs_per_round: u32,
) -> anyhow::Result<BTreeMap<String, Sample>> {
    let me = std::env::current_exe().context("locating the xtask binary")?;
    let home = std::env::temp_dir().join(format!("gt-bench-home-{}", std::process::id()));
    std::fs::create_dir_all(&home)?;
    let mut totals: BTreeMap<String, Sample> = BTreeMap::new();
    for round in 0..=rounds {
        for (i, case) in cases.iter().enumerate() {
            // A home (and so a state directory: counter store, spool, ledger) per case: what
            // one case leaves (a refused port's spooled logs) must not be shipped by another.
            let home = home.join(format!("case-{i}"));
            std::fs::create_dir_all(&home)?;
            let mut cmd = Command::new(&me);
            cmd.arg("bench-process-runner")
                .arg(runs_per_round.to_string())
                .arg(program)
                .args(args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", &home)
                .envs(case.env.iter().map(|(k, v)| (k, v)))
                .stderr(Stdio::inherit());
            let out = cmd.output().context("starting the bench runner")?;
            if !out.status.success() {
                bail!("case {:?}: the runner failed ({})", case.name, out.status);
            }
            let sample = parse_sample(&String::from_utf8_lossy(&out.stdout))
                .with_context(|| format!("case {:?}: unreadable runner output", case.name))?;
            // Round 0 warms caches (page cache, the receiver's threads) and is not counted.
            if round > 0 {
                totals.entry(case.name.clone()).or_default().add(sample);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&home);
    Ok(totals)
}

/// The runner: `bench-process-runner RUNS PROGRAM ARGS…` runs the command RUNS times with the
/// environment it was given and prints `runs cpu_us wall_us max_rss_kib`.
///
/// # Errors
/// When a run cannot be started or exits unsuccessfully.
pub fn runner(args: &[String]) -> anyhow::Result<()> {
    let [runs, program, rest @ ..] = args else {
        bail!("usage: bench-process-runner RUNS PROGRAM [ARGS…]");
    };
    let runs: u32 = runs.parse().context("RUNS")?;
    let started = Instant::now();
    for _ in 0..runs {
        let status = Command::new(program)
            .args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("running {program}"))?;
        if !status.success() {
            bail!("{program} {rest:?} exited with {status}");
        }
    }
    let wall_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    let micros = |t: nix::sys::time::TimeVal| {
        u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec()).unwrap_or(0)
    };
    let cpu_us = micros(usage.user_time()) + micros(usage.system_time());
    println!("{runs} {cpu_us} {wall_us} {}", usage.max_rss());
    Ok(())
}

fn parse_sample(line: &str) -> Option<Sample> {
    let mut it = line.split_whitespace().map(str::parse::<u64>);
    Some(Sample {
        runs: u32::try_from(it.next()?.ok()?).ok()?,
        cpu_us: it.next()?.ok()?,
        wall_us: it.next()?.ok()?,
        max_rss_kib: it.next()?.ok()?,
    })
}

/// Builds the release `gt` and returns its path.
///
/// # Errors
/// When cargo fails.
pub fn build_release_gt(root: &Path) -> anyhow::Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "gt-cli",
            "--bin",
            "gt",
        ])
        .current_dir(root)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p gt-cli failed");
    }
    Ok(root.join("target/release/gt"))
}
