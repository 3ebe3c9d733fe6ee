//! `gt otel doctor`: the effective configuration, a real OTLP request to each endpoint, and
//! whether tmux and bd can be found, and the "Telemetry health" section (spool depth, last
//! export success and failure per signal, from the state directory). Exits 1 when an enabled
//! endpoint cannot be reached.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use telemetry_core::Config;
use telemetry_core::config::redact_url;
use telemetry_core::env::{
    GT_BD_BIN, GT_LOG_AGENT_OUTPUT, GT_LOG_BD_OUTPUT, GT_LOG_MAIL_BODY, GT_LOG_PANE_OUTPUT,
    GT_LOG_PRIME_CONTEXT, GT_LOG_PROMPT_KEYS, GT_OTEL_LOGS_URL, GT_OTEL_METRICS_URL,
    GT_OTEL_TRACES_URL, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
};

use crate::args::DoctorArgs;

/// Runs the checks and prints one line per finding.
pub(crate) fn run(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            println!("configuration: INVALID: {err}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut healthy = true;
    if config.is_enabled() {
        println!("telemetry: on");
    } else {
        println!(
            "telemetry: off ({GT_OTEL_METRICS_URL}, {GT_OTEL_LOGS_URL}, {GT_OTEL_TRACES_URL} and {OTEL_EXPORTER_OTLP_ENDPOINT} unset, or OTEL_SDK_DISABLED=true)"
        );
    }
    for warning in &config.warnings {
        println!("configuration: WARNING: {warning}");
    }
    let transport =
        match telemetry_otlp::Transport::new(&config, Duration::from_millis(args.timeout_ms)) {
            Ok(transport) => transport,
            Err(err) => {
                println!("configuration: INVALID: {err}");
                return Ok(ExitCode::from(1));
            }
        };
    for (signal, vars, url) in [
        (
            "metrics",
            [GT_OTEL_METRICS_URL, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT],
            &config.metrics_url,
        ),
        (
            "logs",
            [GT_OTEL_LOGS_URL, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT],
            &config.logs_url,
        ),
        (
            "traces",
            [GT_OTEL_TRACES_URL, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT],
            &config.traces_url,
        ),
    ] {
        let Some(url) = url else { continue };
        let shown = redact_url(url);
        let gt_own = [GT_OTEL_METRICS_URL, GT_OTEL_LOGS_URL, GT_OTEL_TRACES_URL]
            .iter()
            .any(|v| env(v).is_some());
        let source = match vars.iter().find(|v| env(v).is_some()) {
            Some(var) => format!("from {var}"),
            None if !gt_own && env(OTEL_EXPORTER_OTLP_ENDPOINT).is_some() => {
                format!("from {OTEL_EXPORTER_OTLP_ENDPOINT}")
            }
            None => format!("default; {} unset", vars[0]),
        };
        if let Some(dir) = telemetry_core::config::file_url_dir(url) {
            // Offline mode: nothing to reach; say where the files go and whether they can.
            let writable = std::fs::create_dir_all(&dir).is_ok() && tempfile_in(&dir).is_ok();
            if !writable {
                healthy = false;
            }
            println!(
                "{signal}: {shown} ({source}): writes OTLP JSON Lines files to {}{}",
                dir.display(),
                if writable { "" } else { ": NOT WRITABLE" }
            );
            continue;
        }
        match transport.probe(url, &config.headers) {
            Ok(seen) if seen.accepted() => {
                println!(
                    "{signal}: {shown} ({source}): reachable, HTTP {} in {} ms",
                    seen.status,
                    seen.elapsed.as_millis()
                );
            }
            Ok(seen) => {
                healthy = false;
                println!(
                    "{signal}: {shown} ({source}): UNHEALTHY, HTTP {} in {} ms",
                    seen.status,
                    seen.elapsed.as_millis()
                );
            }
            Err(err) => {
                healthy = false;
                println!(
                    "{signal}: {shown} ({source}): UNREACHABLE: {}",
                    err.replace(url.as_str(), &shown)
                );
            }
        }
    }
    if config.is_enabled() {
        let names: Vec<&str> = config.headers.iter().map(|(k, _)| k.as_str()).collect();
        println!(
            "headers: {}",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ") + " (values hidden)"
            }
        );
        let resource: Vec<String> = config
            .resource_attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "resource attributes: {}",
            if resource.is_empty() {
                "none".to_owned()
            } else {
                resource.join(", ")
            }
        );
        println!(
            "export: interval {} ms, temporality {:?}, exporter timeout {}",
            config.export_interval.as_millis(),
            config.temporality,
            config.export_timeout.map_or(
                "default (1000 ms one-shot, 10000 ms daemon)".to_owned(),
                |t| format!("{} ms", t.as_millis())
            )
        );
    }
    telemetry_health(&config);
    let on: Vec<&str> = [
        GT_LOG_BD_OUTPUT,
        GT_LOG_PROMPT_KEYS,
        GT_LOG_MAIL_BODY,
        GT_LOG_PRIME_CONTEXT,
        GT_LOG_AGENT_OUTPUT,
        GT_LOG_PANE_OUTPUT,
    ]
    .into_iter()
    .filter(|g| env(g).is_some_and(|v| v.eq_ignore_ascii_case("true")))
    .collect();
    println!(
        "content gates on: {}",
        if on.is_empty() {
            "none".to_owned()
        } else {
            on.join(", ")
        }
    );
    let bd = env(GT_BD_BIN).unwrap_or_else(|| "bd".to_owned());
    println!(
        "bd: {}",
        found(&bd).map_or(
            format!("{bd} NOT FOUND (gt prime cannot look up work)"),
            |p| p.display().to_string()
        )
    );
    println!(
        "tmux: {}",
        found("tmux").map_or("NOT FOUND (work context is not injected)".to_owned(), |p| p
            .display()
            .to_string())
    );
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The path a program name resolves to through PATH (or itself when it holds a slash).
fn found(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Path::new(program).is_file().then(|| PathBuf::from(program));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The "Telemetry health" section: what the spool holds and what the exports of this host's gt
/// processes last did, per signal (from `$GT_STATE_DIR/telemetry`). Informational: it never
/// changes the exit code (the endpoint probes above do).
fn telemetry_health(config: &Config) {
    println!("Telemetry health:");
    let Some(state_dir) = &config.state_dir else {
        println!("  no state directory: no spool and no export history");
        return;
    };
    match telemetry_otlp::spool_of(config).map(|spool| spool.status()) {
        None => println!("  spool: off (GT_OTEL_SPOOL_MAX_MB=0)"),
        Some(Err(err)) => println!("  spool: UNREADABLE: {err}"),
        Some(Ok(status)) => {
            let (files, records, bytes) = status.waiting.values().fold((0, 0, 0), |a, w| {
                (a.0 + w.files, a.1 + w.records, a.2 + w.bytes)
            });
            let dropped: u64 = status.dropped.values().map(|d| d.records).sum();
            println!(
                "  spool: {files} files, {records} records, {bytes} bytes waiting (cap {} bytes); \
                 {dropped} records dropped at the cap so far ({})",
                status.max_bytes,
                status.dir.display()
            );
        }
    }
    let health = telemetry_core::health::HealthFile::in_state_dir(state_dir)
        .read()
        .signals;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let ago = |t: Option<u64>| {
        t.map_or("never".to_owned(), |t| {
            format!("{} s ago", now.saturating_sub(t))
        })
    };
    for signal in ["metrics", "logs", "traces"] {
        let last = health.get(signal).cloned().unwrap_or_default();
        let failing = last.latest().is_some_and(|(ok, _)| !ok);
        println!(
            "  {signal}: last success {}, last failure {}{}{}",
            ago(last.last_success),
            ago(last.last_failure),
            last.last_error
                .filter(|_| last.last_failure.is_some())
                .map_or(String::new(), |e| format!(" ({e})")),
            if failing { ": FAILING" } else { "" }
        );
    }
}

/// Creates and removes a file in `dir`: whether gt can write there.
fn tempfile_in(dir: &std::path::Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".gt-doctor-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(probe)
}
