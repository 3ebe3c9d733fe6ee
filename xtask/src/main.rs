//! `cargo xtask`: repository automation in plain Rust (no shell scripts to rot).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("audit") => audit(args.iter().any(|a| a == "--fix")),
        Some("bench") => bench(),
        Some("flake-hunt") => flake_hunt(&args[1..]),
        Some("catalog") => {
            match serde_json::to_string_pretty(telemetry_recorder::catalog()) {
                Ok(json) => println!("{json}"),
                Err(err) => eprintln!("xtask: {err}"),
            }
            ExitCode::SUCCESS
        }
        None | Some("help" | "--help" | "-h") => {
            println!(
                "cargo xtask <task>\n\ntasks:\n  audit [--fix]  docs/ and code agree (--fix rewrites the generated tables)\n  bench          run the benchmarks and print a table\n  catalog        print the recorder's catalogue as JSON\n  flake-hunt N [--no-load]\n                 run the test suite N times on a loaded machine, report every failure"
            );
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("xtask: unknown task {other:?}; try `cargo xtask help`");
            ExitCode::from(2)
        }
    }
}

fn audit(fix: bool) -> ExitCode {
    match xtask::audit::run(&root(), fix) {
        Ok(findings) if findings.is_empty() => {
            println!("audit: docs and code agree");
            ExitCode::SUCCESS
        }
        Ok(findings) => {
            for finding in &findings {
                eprintln!("{finding}");
            }
            eprintln!("audit: {} finding(s)", findings.len());
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("audit: {err}");
            ExitCode::from(1)
        }
    }
}

/// `flake-hunt N [--no-load]`: see `xtask::flake_hunt`.
fn flake_hunt(args: &[String]) -> ExitCode {
    let runs = args.iter().find_map(|a| a.parse::<usize>().ok());
    let unknown = args
        .iter()
        .find(|a| a.parse::<usize>().is_err() && a.as_str() != "--no-load");
    let (Some(runs @ 1..), None) = (runs, unknown) else {
        eprintln!("usage: cargo xtask flake-hunt N [--no-load]  (N >= 1 runs)");
        return ExitCode::from(2);
    };
    match xtask::flake_hunt::run(&root(), runs, !args.iter().any(|a| a == "--no-load")) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("flake-hunt: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs every benchmark briefly and prints criterion's summary lines as a table.
fn bench() -> ExitCode {
    let benches = [
        ("telemetry-recorder", "record"),
        ("telemetry-runtime", "observe"),
        ("agent-transcripts", "parse"),
    ];
    println!("| crate | bench | result |\n|---|---|---|");
    let mut ok = true;
    for (krate, bench) in benches {
        let out = Command::new(env!("CARGO"))
            .args([
                "bench",
                "-p",
                krate,
                "--bench",
                bench,
                "--",
                "--warm-up-time",
                "1",
                "--measurement-time",
                "3",
            ])
            .current_dir(root())
            .output();
        match out {
            Ok(out) if out.status.success() => {
                for (name, figure) in criterion_figures(&String::from_utf8_lossy(&out.stdout)) {
                    println!("| {krate} | {name} | {figure} |");
                }
            }
            Ok(out) => {
                ok = false;
                println!(
                    "| {krate} | {bench} | FAILED: {} |",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                );
            }
            Err(err) => {
                ok = false;
                println!("| {krate} | {bench} | could not run cargo: {err} |");
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The (benchmark, `time:`/`thrpt:` estimate) pairs of criterion's output, without the
/// "change:" comparisons with a previous run.
fn criterion_figures(output: &str) -> Vec<(String, String)> {
    let mut figures = Vec::new();
    let (mut name, mut in_change) = (String::new(), false);
    for line in output.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("Benchmarking") || trimmed.starts_with("Found")
        {
            continue;
        }
        if trimmed.starts_with("change:") {
            in_change = true;
            continue;
        }
        let metric = ["time:", "thrpt:"]
            .iter()
            .find_map(|m| line.find(m).map(|at| (at, *m)));
        match metric {
            Some((at, m)) => {
                let prefix = line[..at].trim();
                if !prefix.is_empty() {
                    name = prefix.to_owned();
                    in_change = false;
                }
                if !in_change {
                    figures.push((name.clone(), format!("{m} {}", line[at + m.len()..].trim())));
                }
            }
            None if !line.starts_with(' ') => {
                name = trimmed.to_owned();
                in_change = false;
            }
            None => {}
        }
    }
    figures
}
