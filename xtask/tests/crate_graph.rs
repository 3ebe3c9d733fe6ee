//! The crate graph stays layered: core ← recorder / subprocess / runtime ← gt-cli, and no
//! library crate takes clap, anyhow or an async runtime (read from `cargo metadata`).

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

const INTERNAL: [&str; 8] = [
    "telemetry-core",
    "telemetry-recorder",
    "telemetry-subprocess",
    "telemetry-runtime",
    "agent-transcripts",
    "otlp-capture",
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
    for layer in [
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
        !cli.contains("otlp-capture") && !cli.contains("xtask"),
        "gt-cli -> {cli:?}"
    );
}

#[test]
fn library_crates_take_no_cli_or_async_runtime_dependencies() {
    let graph = normal_dependencies();
    for lib in [
        "telemetry-core",
        "telemetry-recorder",
        "telemetry-subprocess",
        "telemetry-runtime",
        "agent-transcripts",
    ] {
        for banned in ["clap", "anyhow", "tokio", "async-std"] {
            assert!(!graph[lib].contains(banned), "{lib} depends on {banned}");
        }
    }
}
