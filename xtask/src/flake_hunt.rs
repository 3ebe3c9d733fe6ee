//! `cargo xtask flake-hunt N`: runs the README's test command N times on a loaded machine and
//! reports every test that failed at least once, so a test that needs a quiet machine is found
//! before CI finds it.
//!
//! What it does:
//! 1. builds the test binaries once (`cargo test --workspace --locked --no-run`), so the N runs
//!    are test runs, not builds;
//! 2. loads the machine: one busy-looping thread per core (in this process, at normal
//!    priority), so libtest's threads, the `gt` processes and the fake scripts tests start
//!    compete for every core the whole time, as on a shared CI runner. Busy threads rather than
//!    a parallel `cargo build` because their load is constant and needs no disk or second
//!    target dir (`--no-load` turns it off);
//! 3. runs `cargo test --workspace --locked --no-fail-fast` N times (`--no-fail-fast` so one
//!    failing test binary does not hide the others), with `GT_IT_BACKENDS=1` when it is set or
//!    when VictoriaMetrics and VictoriaLogs answer on 127.0.0.1:8428 and :9428;
//! 4. parses libtest's output (`test NAME ... FAILED` lines and the `---- NAME stdout ----`
//!    sections) and prints each failed test with its count and first message. Each run's full
//!    output is kept in `target/flake-hunt/run-I.log`.
//!
//! It never changes the workspace; it only reads cargo's output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The longest first message kept per failed test, in characters.
const MESSAGE_CHARS: usize = 300;

/// One test that failed in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `BINARY::TEST`, BINARY being the test binary (`work_lookup`, `telemetry_core`,
    /// `doctest otlp_capture`).
    pub test: String,
    /// The panic message (or the first line of the test's output), one line.
    pub message: String,
}

/// What one `cargo test` run's output says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutcome {
    /// The tests that failed, and test binaries that died without a verdict per test.
    pub failures: Vec<Failure>,
    /// Tests libtest reported as running for over 60 seconds.
    pub slow: Vec<String>,
}

/// Reads the merged stdout and stderr of `cargo test`.
pub fn parse_run(output: &str) -> RunOutcome {
    let mut outcome = RunOutcome::default();
    let mut binary = String::new();
    let mut failed: Vec<String> = Vec::new();
    let mut sections: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut section: Option<String> = None;
    let mut died = Vec::new();
    for line in output.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            binary = binary_name(rest);
            section = None;
            continue;
        }
        if let Some(krate) = trimmed.strip_prefix("Doc-tests ") {
            binary = format!("doctest {krate}");
            section = None;
            continue;
        }
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            let key = format!("{binary}::{name}");
            sections.entry(key.clone()).or_default();
            section = Some(key);
            continue;
        }
        if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            failed.push(format!("{binary}::{name}"));
            continue;
        }
        if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|l| l.strip_suffix(" has been running for over 60 seconds"))
        {
            outcome.slow.push(format!("{binary}::{name}"));
            continue;
        }
        if trimmed.starts_with("process didn't exit successfully") && !died.contains(&binary) {
            died.push(binary.clone());
        }
        if line == "failures:" || line.starts_with("test result:") {
            section = None;
            continue;
        }
        if let Some(key) = &section {
            sections.entry(key.clone()).or_default().push(line);
        }
    }
    for test in failed {
        let message = sections
            .get(&test)
            .map_or_else(|| "(no output captured)".to_owned(), |l| first_message(l));
        outcome.failures.push(Failure { test, message });
    }
    // A binary that crashed (a signal, an abort) or failed without a `... FAILED` line of its
    // own is a failure too, or a hunt could report "no flaky test" over a crashing binary.
    for binary in died {
        let prefix = format!("{binary}::");
        if !outcome.failures.iter().any(|f| f.test.starts_with(&prefix)) {
            let message = output
                .lines()
                .find(|l| l.contains("process didn't exit successfully") && l.contains(&binary))
                .or_else(|| {
                    output
                        .lines()
                        .find(|l| l.contains("process didn't exit successfully"))
                })
                .map_or_else(String::new, |l| clip(l.trim()));
            outcome.failures.push(Failure {
                test: format!("{binary}::(whole binary)"),
                message,
            });
        }
    }
    outcome
}

/// `work_lookup` from `tests/work_lookup.rs (target/debug/deps/work_lookup-0a1b2c3d)`.
fn binary_name(running: &str) -> String {
    let path = running
        .rsplit_once('(')
        .map_or(running, |(_, p)| p.trim_end_matches(')'));
    let stem = Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |f| f.to_string_lossy().into_owned());
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
        _ => stem,
    }
}

/// The panic's location and message on one line, else the first non-empty line.
fn first_message(lines: &[&str]) -> String {
    if let Some(at) = lines.iter().position(|l| l.contains("panicked at")) {
        let location = lines[at]
            .split_once("panicked at ")
            .map_or("", |(_, loc)| loc.trim_end_matches(':'));
        let message: Vec<&str> = lines[at + 1..]
            .iter()
            .map(|l| l.trim())
            .take_while(|l| {
                !l.is_empty() && !l.starts_with("note: run with") && *l != "stack backtrace:"
            })
            .collect();
        return clip(&format!("{} (at {location})", message.join(" ")));
    }
    lines
        .iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .map_or_else(|| "(no output captured)".to_owned(), clip)
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The failures of all runs, by test: how many runs each failed in, and its first message.
#[derive(Debug, Default)]
pub struct Tally {
    tests: BTreeMap<String, (usize, String)>,
    slow: BTreeMap<String, usize>,
}

impl Tally {
    /// Adds one run's outcome.
    pub fn add(&mut self, outcome: &RunOutcome) {
        for failure in &outcome.failures {
            self.tests
                .entry(failure.test.clone())
                .or_insert_with(|| (0, failure.message.clone()))
                .0 += 1;
        }
        for test in &outcome.slow {
            *self.slow.entry(test.clone()).or_default() += 1;
        }
    }

    /// True when no test failed in any run.
    pub fn is_clean(&self) -> bool {
        self.tests.is_empty()
    }

    /// The report: one line per failed test, most failures first, then slow tests.
    pub fn report(&self, runs: usize) -> String {
        let mut out = String::new();
        let mut tests: Vec<_> = self.tests.iter().collect();
        tests.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
        for (test, (count, message)) in tests {
            let _ = writeln!(out, "FAILED {count}/{runs}  {test}\n    first: {message}");
        }
        for (test, count) in &self.slow {
            let _ = writeln!(out, "slow   {count}/{runs}  {test} (ran over 60 s)");
        }
        out
    }
}

/// One busy-looping thread per core until dropped.
struct CpuLoad {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl CpuLoad {
    fn start() -> Self {
        let cores = thread::available_parallelism().map_or(2, usize::from);
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..cores)
            .map(|_| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..10_000 {
                            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005) + 1);
                        }
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// True when something accepts connections on both backend ports.
fn backends_answer() -> bool {
    [8428u16, 9428].iter().all(|port| {
        TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], *port)),
            Duration::from_secs(1),
        )
        .is_ok()
    })
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Runs `cargo ARGS` in `root` and returns its merged stdout and stderr and whether it passed.
fn cargo_output(root: &Path, args: &[&str], backends: bool) -> anyhow::Result<(String, bool)> {
    let (mut reader, writer) = std::io::pipe().context("pipe")?;
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(args)
        .current_dir(root)
        .stdout(writer.try_clone().context("pipe")?)
        .stderr(writer);
    if backends {
        cmd.env(telemetry_core::env::GT_IT_BACKENDS, "1");
    }
    let mut child = cmd.spawn().context("could not start cargo")?;
    // The command holds the pipe's write ends; drop them so the read sees the end.
    drop(cmd);
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .context("reading cargo's output")?;
    let status = child.wait().context("waiting for cargo")?;
    Ok((
        String::from_utf8_lossy(&bytes).into_owned(),
        status.success(),
    ))
}

/// Runs the hunt and prints its progress and report; `Ok(true)` when no test failed.
pub fn run(root: &Path, runs: usize, load: bool) -> anyhow::Result<bool> {
    println!("flake-hunt: building the test binaries once");
    let (out, ok) = cargo_output(
        root,
        &["test", "--workspace", "--locked", "--no-run"],
        false,
    )?;
    if !ok {
        bail!("the test binaries do not build:\n{out}");
    }
    let backends =
        std::env::var_os(telemetry_core::env::GT_IT_BACKENDS).is_some() || backends_answer();
    println!(
        "flake-hunt: {runs} run(s) of `cargo test --workspace --locked --no-fail-fast`, {}, {}",
        if backends {
            "GT_IT_BACKENDS=1"
        } else {
            "without the backend tests (nothing on 127.0.0.1:8428 and :9428)"
        },
        if load {
            "one busy thread per core"
        } else {
            "no extra load"
        }
    );
    let logs = target_dir(root).join("flake-hunt");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let _load = load.then(CpuLoad::start);
    let mut tally = Tally::default();
    let mut total = Duration::ZERO;
    for i in 1..=runs {
        let started = Instant::now();
        let (out, ok) = cargo_output(
            root,
            &["test", "--workspace", "--locked", "--no-fail-fast"],
            backends,
        )?;
        let took = started.elapsed();
        total += took;
        let log = logs.join(format!("run-{i}.log"));
        std::fs::write(&log, &out).with_context(|| format!("writing {}", log.display()))?;
        let mut outcome = parse_run(&out);
        if !ok && outcome.failures.is_empty() {
            outcome.failures.push(Failure {
                test: "(cargo test)".to_owned(),
                message: clip(
                    out.lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or(""),
                ),
            });
        }
        let names: Vec<&str> = outcome.failures.iter().map(|f| f.test.as_str()).collect();
        println!(
            "run {i}/{runs}: {:.0} s, {} failed{}{}",
            took.as_secs_f64(),
            names.len(),
            if names.is_empty() { "" } else { ": " },
            names.join(", ")
        );
        tally.add(&outcome);
    }
    println!(
        "flake-hunt: {runs} run(s), {:.0} s per run on average; logs in {}",
        total.as_secs_f64() / runs.max(1) as f64,
        logs.display()
    );
    if tally.is_clean() {
        println!("flake-hunt: no test failed");
    } else {
        print!("{}", tally.report(runs));
    }
    Ok(tally.is_clean())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
   Compiling gt-cli v0.1.0
     Running unittests src/lib.rs (target/debug/deps/gt_cli-0123456789abcdef)

running 2 tests
test bd::tests::ok ... ok
test work::tests::flaky ... FAILED

failures:

---- work::tests::flaky stdout ----

thread 'work::tests::flaky' panicked at gt-cli/src/work.rs:10:5:
Spawn { bin: \"/tmp/bd\", source: ExecutableFileBusy }
stack backtrace:
   0: __rustc::rust_begin_unwind
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    work::tests::flaky

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out

error: test failed, to rerun pass `-p gt-cli --lib`
     Running tests/work_lookup.rs (target/debug/deps/work_lookup-fedcba9876543210)

running 1 test
test slow_one has been running for over 60 seconds
test slow_one ... ok

test result: ok. 1 passed; 0 failed
     Running tests/crash.rs (target/debug/deps/crash-00aa11bb22cc33dd)

running 1 test
error: test failed, to rerun pass `-p gt-cli --test crash`

Caused by:
  process didn't exit successfully: `/w/target/debug/deps/crash-00aa11bb22cc33dd` (signal: 6, SIGABRT: process abort signal)
   Doc-tests otlp_capture

running 1 test
test otlp-capture/src/lib.rs - (line 5) ... FAILED

failures:

---- otlp-capture/src/lib.rs - (line 5) stdout ----
Test executable failed (exit status: 101).

failures:
    otlp-capture/src/lib.rs - (line 5)
";

    #[test]
    fn failed_tests_are_named_with_their_binary_and_panic_message() {
        let outcome = parse_run(OUTPUT);
        assert_eq!(
            outcome.failures,
            [
                Failure {
                    test: "gt_cli::work::tests::flaky".to_owned(),
                    message: "Spawn { bin: \"/tmp/bd\", source: ExecutableFileBusy } \
                              (at gt-cli/src/work.rs:10:5)"
                        .to_owned(),
                },
                Failure {
                    test: "doctest otlp_capture::otlp-capture/src/lib.rs - (line 5)".to_owned(),
                    message: "Test executable failed (exit status: 101).".to_owned(),
                },
                Failure {
                    test: "crash::(whole binary)".to_owned(),
                    message: "process didn't exit successfully: \
                              `/w/target/debug/deps/crash-00aa11bb22cc33dd` \
                              (signal: 6, SIGABRT: process abort signal)"
                        .to_owned(),
                },
            ]
        );
        assert_eq!(outcome.slow, ["work_lookup::slow_one"]);
    }

    #[test]
    fn a_clean_run_has_no_failures() {
        let outcome = parse_run(
            "     Running tests/a.rs (target/debug/deps/a-0123)\n\nrunning 1 test\ntest x ... ok\n\ntest result: ok. 1 passed\n",
        );
        assert_eq!(outcome, RunOutcome::default());
    }

    #[test]
    fn the_tally_counts_runs_per_test_and_keeps_the_first_message() {
        let run = |message: &str| RunOutcome {
            failures: vec![Failure {
                test: "a::t".to_owned(),
                message: message.to_owned(),
            }],
            slow: vec![],
        };
        let mut tally = Tally::default();
        tally.add(&RunOutcome::default());
        tally.add(&run("first"));
        tally.add(&run("second"));
        assert!(!tally.is_clean());
        assert_eq!(tally.report(3), "FAILED 2/3  a::t\n    first: first\n");
    }
}
