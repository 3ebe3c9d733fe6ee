//! The crate graph stays layered: core ← otlp / recorder / subprocess / runtime ← gt-cli, no
//! library crate takes clap, anyhow or an async runtime (read from `cargo metadata`), and the
//! crates a library records through resolve no HTTP stack at all (read from `cargo tree`).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Normal (non-dev, non-build) dependencies of every workspace package.
fn normal_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

const INTERNAL: [&str; 11] = [
    "telemetry-core",
    "bounded-process",
    "telemetry-otlp",
    "telemetry-recorder",
    "telemetry-subprocess",
    "telemetry-runtime",
    "agent-transcripts",
    "otlp-capture",
    "test-fixtures",
    "gt-cli",
    "xtask",
];

#[test]
fn dependencies_point_one_way() {
    let graph = normal_dependencies();
    let internal = |pkg: &str| -> BTreeSet<String> {
        graph[pkg]
            .iter()
            .filter(|d| INTERNAL.contains(&d.as_str()))
            .cloned()
            .collect()
    };
    assert!(
        internal("telemetry-core").is_empty(),
        "core depends on nothing of ours"
    );
    assert!(
        internal("agent-transcripts").is_empty(),
        "the parser knows no telemetry"
    );
    assert!(internal("otlp-capture").is_empty());
    assert!(internal("test-fixtures").is_empty());
    assert!(
        internal("bounded-process").is_empty(),
        "the process runner knows no telemetry"
    );
    for layer in [
        "telemetry-otlp",
        "telemetry-recorder",
        "telemetry-subprocess",
        "telemetry-runtime",
    ] {
        let deps = internal(layer);
        assert!(
            deps.iter().all(|d| d == "telemetry-core"),
            "{layer} -> {deps:?}"
        );
    }
    let cli = internal("gt-cli");
    assert!(
        !cli.contains("otlp-capture") && !cli.contains("test-fixtures") && !cli.contains("xtask"),
        "gt-cli -> {cli:?}"
    );
}

#[test]
fn library_crates_take_no_cli_or_async_runtime_dependencies() {
    let graph = normal_dependencies();
    for lib in [
        "telemetry-core",
        "telemetry-otlp",
        "telemetry-recorder",
        "telemetry-subprocess",
        "telemetry-runtime",
        "agent-transcripts",
        "bounded-process",
    ] {
        for banned in ["clap", "anyhow", "tokio", "async-std"] {
            assert!(!graph[lib].contains(banned), "{lib} depends on {banned}");
        }
    }
}

/// Every package in the resolved normal-dependency graph of `package` (default features).
fn resolved_graph(package: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn recording_layers_resolve_no_http_client_tls_or_async_runtime() {
    const NETWORK: [&str; 10] = [
        "tokio",
        "hyper",
        "reqwest",
        "openssl",
        "openssl-sys",
        "native-tls",
        "rustls",
        "ureq",
        "h2",
        "opentelemetry-otlp",
    ];
    for lib in [
        "telemetry-core",
        "telemetry-recorder",
        "telemetry-runtime",
        "telemetry-subprocess",
        "agent-transcripts",
        "bounded-process",
    ] {
        let graph = resolved_graph(lib);
        assert!(
            graph.contains(lib),
            "cargo tree listed {lib}'s graph: {graph:?}"
        );
        let found: Vec<&str> = NETWORK
            .iter()
            .copied()
            .filter(|banned| graph.contains(*banned))
            .collect();
        assert!(found.is_empty(), "{lib} resolves {found:?}");
    }
    // The transport itself has no async runtime either: one blocking client for all signals.
    let otlp = resolved_graph("telemetry-otlp");
    for banned in ["tokio", "hyper", "reqwest", "openssl", "native-tls"] {
        assert!(!otlp.contains(banned), "telemetry-otlp resolves {banned}");
    }
}
