//! `set_process_otel_attrs` end to end, each case in a fresh single-threaded process.
//!
//! This test has no libtest harness (`harness = false`): libtest runs tests on threads, and the
//! function under test refuses to write the environment while other threads exist. The binary
//! re-runs itself with a cleared environment and `CASE` naming what the child does; the child
//! writes the environment, then spawns `/usr/bin/env` with a plain `Command` to show what any
//! grandchild inherits.

use std::collections::HashMap;
use std::process::{Command, ExitCode};

use telemetry_core::config::DEFAULT_METRICS_URL;
use telemetry_core::env::{
    BD_OTEL_LOGS_URL, BD_OTEL_METRICS_URL, GT_OTEL_LOGS_URL, GT_OTEL_METRICS_URL, GT_ROLE, GT_RUN,
    GT_WORK_BEAD, GT_WORK_RIG, OTEL_RESOURCE_ATTRIBUTES,
};
use telemetry_core::resource::parse_resource_attributes;
use telemetry_subprocess::{SubprocessError, set_process_otel_attrs};

const CASE: &str = "TELEMETRY_SUBPROCESS_TEST_CASE";
/// One end-to-end case: `Err` says what went wrong.
type Case = fn() -> Result<(), String>;

const LOGS: &str = "http://127.0.0.1:9428/insert/opentelemetry/v1/logs";

/// What the re-run child does, then prints `/usr/bin/env`'s output (or the error) on stdout.
fn child(case: &str) -> ExitCode {
    if case == "with-thread" {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || rx.recv());
        let result = set_process_otel_attrs();
        drop(tx);
        let _ = worker.join();
        return match result {
            Err(err @ SubprocessError::OtherThreadsRunning { .. }) => {
                print!("refused: {err}");
                ExitCode::SUCCESS
            }
            other => {
                print!("expected a refusal, got {other:?}");
                ExitCode::FAILURE
            }
        };
    }
    match set_process_otel_attrs() {
        Ok(_) => {}
        Err(err) => {
            print!("error: {err}");
            return ExitCode::SUCCESS;
        }
    }
    let out = Command::new("/usr/bin/env")
        .output()
        .expect("spawn /usr/bin/env");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    ExitCode::SUCCESS
}

/// Runs this binary as a child for `case` with only `vars` in its environment.
fn run_child(case: &str, vars: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .env_clear()
        .env(CASE, case)
        .envs(vars.iter().copied())
        .output()
        .expect("re-run the test binary");
    assert!(out.status.success(), "case {case}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn as_map(env_output: &str) -> HashMap<String, String> {
    env_output
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn logs_only_configuration_reaches_every_grandchild() -> Result<(), String> {
    let seen = as_map(&run_child(
        "apply",
        &[
            (GT_OTEL_LOGS_URL, LOGS),
            (GT_ROLE, "a,b c%"),
            (GT_RUN, "run-1"),
        ],
    ));
    let get = |k: &str| seen.get(k).map(String::as_str);
    if get(BD_OTEL_LOGS_URL) != Some(LOGS) || get(BD_OTEL_METRICS_URL) != Some(DEFAULT_METRICS_URL)
    {
        return Err(format!("URLs not mirrored: {seen:?}"));
    }
    let attrs = parse_resource_attributes(get(OTEL_RESOURCE_ATTRIBUTES).unwrap_or_default());
    let expected = vec![
        ("gt.role".to_owned(), "a,b c%".to_owned()),
        ("gt.run_id".to_owned(), "run-1".to_owned()),
    ];
    if attrs != expected {
        return Err(format!("attributes {attrs:?}, expected {expected:?}"));
    }
    if get(GT_RUN) != Some("run-1") {
        return Err(format!("GT_RUN not inherited: {seen:?}"));
    }
    Ok(())
}

fn foreign_attributes_are_kept_in_the_process_environment() -> Result<(), String> {
    let seen = as_map(&run_child(
        "apply",
        &[
            (GT_OTEL_METRICS_URL, "http://127.0.0.1:1/m"),
            (OTEL_RESOURCE_ATTRIBUTES, "team=ops,gt.role=stale"),
            (GT_ROLE, "mayor"),
        ],
    ));
    match seen.get(OTEL_RESOURCE_ATTRIBUTES).map(String::as_str) {
        Some("team=ops,gt.role=mayor") => Ok(()),
        other => Err(format!("OTEL_RESOURCE_ATTRIBUTES = {other:?}")),
    }
}

fn work_context_is_never_written_into_the_process_attributes() -> Result<(), String> {
    let seen = as_map(&run_child(
        "apply",
        &[
            (GT_OTEL_METRICS_URL, "http://127.0.0.1:1/m"),
            (OTEL_RESOURCE_ATTRIBUTES, "team=ops,gt.work_bead=inherited"),
            (GT_ROLE, "mayor"),
            (GT_WORK_BEAD, "old"),
            (GT_WORK_RIG, "rig"),
        ],
    ));
    match seen.get(OTEL_RESOURCE_ATTRIBUTES).map(String::as_str) {
        Some("team=ops,gt.role=mayor") => Ok(()),
        other => Err(format!("OTEL_RESOURCE_ATTRIBUTES = {other:?}")),
    }
}

fn disabled_telemetry_leaves_the_environment_alone() -> Result<(), String> {
    let seen = as_map(&run_child("apply", &[(GT_ROLE, "mayor")]));
    let written = [
        OTEL_RESOURCE_ATTRIBUTES,
        BD_OTEL_METRICS_URL,
        BD_OTEL_LOGS_URL,
    ];
    match written.iter().find(|k| seen.contains_key(**k)) {
        None => Ok(()),
        Some(k) => Err(format!("{k} was written with telemetry off: {seen:?}")),
    }
}

fn invalid_configuration_is_an_error_and_writes_nothing() -> Result<(), String> {
    let out = run_child(
        "apply",
        &[(GT_OTEL_METRICS_URL, "ftp://x/y"), (GT_ROLE, "mayor")],
    );
    if out.starts_with("error: ") && out.contains(GT_OTEL_METRICS_URL) {
        Ok(())
    } else {
        Err(format!("expected a configuration error, got {out:?}"))
    }
}

fn other_threads_make_it_refuse() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Ok(()); // The thread check needs /proc/self/task.
    }
    let out = run_child("with-thread", &[(GT_OTEL_LOGS_URL, LOGS)]);
    if out.starts_with("refused: ") && out.contains("2 threads") {
        Ok(())
    } else {
        Err(format!("expected a refusal naming 2 threads, got {out:?}"))
    }
}

fn main() -> ExitCode {
    if let Ok(case) = std::env::var(CASE) {
        return child(&case);
    }
    let cases: [(&str, Case); 6] = [
        (
            "work_context_is_never_written_into_the_process_attributes",
            work_context_is_never_written_into_the_process_attributes,
        ),
        (
            "logs_only_configuration_reaches_every_grandchild",
            logs_only_configuration_reaches_every_grandchild,
        ),
        (
            "foreign_attributes_are_kept_in_the_process_environment",
            foreign_attributes_are_kept_in_the_process_environment,
        ),
        (
            "disabled_telemetry_leaves_the_environment_alone",
            disabled_telemetry_leaves_the_environment_alone,
        ),
        (
            "invalid_configuration_is_an_error_and_writes_nothing",
            invalid_configuration_is_an_error_and_writes_nothing,
        ),
        ("other_threads_make_it_refuse", other_threads_make_it_refuse),
    ];
    // Enough of libtest's command line for `cargo test NAME` and `--list` to behave.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in cases {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, case) in cases {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match case() {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Err(why) => {
                failed += 1;
                println!("test {name} ... FAILED: {why}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
