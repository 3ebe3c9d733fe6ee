//! `cargo xtask`: repository automation in plain Rust (no shell scripts to rot).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use telemetry_core::env;

fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("audit") => audit(args.iter().any(|a| a == "--fix")),
        Some("bench") => bench(args.iter().any(|a| a == "--process")),
        Some("bench-process-runner") => match xtask::process_bench::runner(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("bench-process-runner: {err:#}");
                ExitCode::from(1)
            }
        },
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
                "cargo xtask <task>\n\ntasks:\n  audit [--fix]  docs/ and code agree (--fix rewrites the generated tables)\n  bench [--process]  run the benchmarks (--process: only the gt process benchmark), print the
                     tables and write them into docs/performance.md\n  catalog        print the recorder's catalogue as JSON\n  flake-hunt N [--no-load]\n                 run the test suite N times on a loaded machine, report every failure"
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

/// Runs every benchmark briefly (criterion) and the process benchmark, prints the tables and
/// writes them into the generated block of docs/performance.md.
fn bench(process_only: bool) -> ExitCode {
    let mut ok = true;
    let mut blocks = Vec::new();
    if !process_only {
        let (table, criterion_ok) = criterion_table();
        ok &= criterion_ok;
        blocks.push(("criterion", table));
    }
    match process_table() {
        Ok(table) => blocks.push(("process", table)),
        Err(err) => {
            ok = false;
            eprintln!("process benchmark FAILED: {err:#}");
        }
    }
    let doc = root().join("docs/performance.md");
    for (marker, table) in &blocks {
        println!("{table}");
        if let Err(err) = write_generated(&doc, marker, table) {
            ok = false;
            eprintln!("xtask: could not update {}: {err}", doc.display());
        }
    }
    println!("(written to {})", doc.display());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Replaces the block between `<!-- xtask bench MARKER: begin -->` and its `end` marker.
fn write_generated(doc: &std::path::Path, marker: &str, body: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(doc)?;
    let begin = format!("<!-- xtask bench {marker}: begin -->");
    let end = format!("<!-- xtask bench {marker}: end -->");
    let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else {
        return Err(std::io::Error::other(format!(
            "markers {begin} / {end} not found"
        )));
    };
    let mut new = String::with_capacity(text.len() + body.len());
    new.push_str(&text[..b + begin.len()]);
    new.push('\n');
    new.push_str(body.trim());
    new.push('\n');
    new.push_str(&text[e..]);
    std::fs::write(doc, new)
}

/// `gt prime --no-bd` with telemetry off, on with a live receiver, and on with a refused port.
fn process_table() -> anyhow::Result<String> {
    use xtask::process_bench::{Case, build_release_gt, measure};
    let gt = build_release_gt(&root())?;
    let receiver = otlp_capture::Receiver::start()?;
    // https with a throw-away CA, trusted through OTEL_EXPORTER_OTLP_CERTIFICATE: the TLS
    // set-up cost (rustls configuration, handshake) on top of plain http.
    let ca = otlp_capture::TestCa::new();
    let tls_receiver = otlp_capture::Receiver::start_tls(&ca)?;
    let ca_file = std::env::temp_dir().join(format!("gt-bench-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca.ca_pem())?;
    let on = |metrics: String, logs: String| {
        vec![
            (env::GT_OTEL_METRICS_URL.to_owned(), metrics),
            (env::GT_OTEL_LOGS_URL.to_owned(), logs),
        ]
    };
    let cases = [
        Case {
            name: "off".to_owned(),
            env: Vec::new(),
        },
        Case {
            name: "on, live receiver (http)".to_owned(),
            env: on(receiver.url("/v1/metrics"), receiver.url("/v1/logs")),
        },
        Case {
            name: "on, live receiver (https, test CA)".to_owned(),
            env: {
                let mut env = on(
                    tls_receiver.url("/v1/metrics"),
                    tls_receiver.url("/v1/logs"),
                );
                env.push((
                    env::OTEL_EXPORTER_OTLP_CERTIFICATE.to_owned(),
                    ca_file.display().to_string(),
                ));
                env
            },
        },
        Case {
            name: "on, refused port".to_owned(),
            env: on(
                "http://127.0.0.1:1/v1/metrics".to_owned(),
                "http://127.0.0.1:1/v1/logs".to_owned(),
            ),
        },
    ];
    let (rounds, runs) = (5, 40);
    let samples = measure(&gt, &["prime", "--no-bd"], &cases, rounds, runs)?;
    let off = samples
        .get("off")
        .map_or(0.0, xtask::process_bench::Sample::cpu_ms);
    let mut table = format!(
        "\n`gt prime --no-bd` (release), {} runs per case in {rounds} alternating rounds; CPU = \
         user + system of the gt processes (getrusage of children), RSS = largest peak of one run\n\n\
         | case | CPU per run | × off | wall per run | peak RSS |\n|---|---|---|---|---|\n",
        rounds * runs
    );
    for case in &cases {
        let s = samples[&case.name];
        table.push_str(&format!(
            "| {} | {:.2} ms | {:.2}× | {:.2} ms | {:.1} MiB |\n",
            case.name,
            s.cpu_ms(),
            s.cpu_ms() / off.max(f64::EPSILON),
            s.wall_ms(),
            s.max_rss_kib as f64 / 1024.0
        ));
    }
    let _ = std::fs::remove_file(&ca_file);
    let (delivered, delivered_tls) = (receiver.logs().len(), tls_receiver.logs().len());
    table.push_str(&format!(
        "\nThe live receivers got {delivered} (http) and {delivered_tls} (https) prime log \
         records (one per counted and warm-up run).\n"
    ));
    Ok(table)
}

/// Every criterion benchmark, briefly, as a table; false when one failed.
fn criterion_table() -> (String, bool) {
    let benches = [
        ("telemetry-recorder", "record"),
        ("telemetry-runtime", "observe"),
        ("agent-transcripts", "parse"),
        ("agent-log", "checkpoint"),
        ("telemetry-otlp", "store"),
        ("work-ledger", "current"),
        ("gt-cli", "statusline"),
    ];
    let mut table = String::from("| crate | bench | result |\n|---|---|---|\n");
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
                    table.push_str(&format!("| {krate} | {name} | {figure} |\n"));
                }
            }
            Ok(out) => {
                ok = false;
                table.push_str(&format!(
                    "| {krate} | {bench} | FAILED: {} |\n",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                ));
            }
            Err(err) => {
                ok = false;
                table.push_str(&format!(
                    "| {krate} | {bench} | could not run cargo: {err} |\n"
                ));
            }
        }
    }
    (table, ok)
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
