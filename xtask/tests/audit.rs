//! The audit itself: the repository passes, and deliberately wrong docs fail with messages that
//! name the file, the line and the thing to fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use xtask::audit;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn messages(findings: &[xtask::Finding]) -> Vec<String> {
    findings.iter().map(ToString::to_string).collect()
}

#[test]
fn the_repository_passes_the_audit() {
    let findings = audit::run(&root(), false).unwrap();
    assert!(findings.is_empty(), "{:#?}", messages(&findings));
}

/// The repository's own data model, deliberately broken in four ways: a type changed, an event
/// row removed, an attribute and an instrument attribute that the code does not record added.
/// Built from the live document so the test follows every catalogue change.
fn broken_data_model() -> String {
    let text = std::fs::read_to_string(root().join("docs/data-model.md")).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("| `prime` | INFO / ERROR") {
            continue;
        }
        if line.starts_with("| `bd.call` | `duration_ms` | double") {
            out.push(line.replacen("| double |", "| string |", 1));
            continue;
        }
        if line.starts_with("| `gastown.nudge.total`") {
            out.push(line.replacen("`status`", "`status`, `target`", 1));
            continue;
        }
        out.push(line.to_owned());
        if line.starts_with("| `sling` | `target`") {
            out.push("| `sling` | `priority` | int | always | – |".to_owned());
        }
    }
    out.join("\n")
}

#[test]
fn a_wrong_data_model_fails_with_precise_messages() {
    let text = broken_data_model();
    let line_of = |needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    let found = messages(&audit::check_data_model(
        &text,
        Path::new("docs/data-model.md"),
        telemetry_recorder::catalog(),
    ));
    let expected = [
        format!(
            "docs/data-model.md:{}: attribute `duration_ms` of `bd.call` is documented as string but recorded as double",
            line_of("| `bd.call` | `duration_ms`")
        ),
        format!(
            "docs/data-model.md:{}: attribute `priority` of `sling` is documented but not recorded",
            line_of("| `sling` | `priority`")
        ),
        format!(
            "docs/data-model.md:{}: instrument `gastown.nudge.total`: attributes documented as {{\"status\", \"target\"}}, recorded with {{\"status\"}}",
            line_of("| `gastown.nudge.total`")
        ),
    ];
    for message in &expected {
        assert!(found.contains(message), "missing {message}\nin {found:#?}");
    }
    assert!(
        found.iter().any(|m| m.contains("event `prime` is recorded but not documented in the events table")),
        "{found:#?}"
    );
    assert_eq!(found.len(), expected.len() + 1, "{found:#?}");
}

#[test]
fn fix_regenerates_the_tables_and_leaves_prose_alone() {
    let broken = broken_data_model();
    let fixed = audit::fix_data_model(&broken, telemetry_recorder::catalog());
    assert!(
        audit::check_data_model(&fixed, Path::new("d.md"), telemetry_recorder::catalog())
            .is_empty()
    );
    assert!(fixed.contains("Every name on this page is a contract"));
}

#[test]
fn a_wrong_configuration_fails_both_ways() {
    let read = BTreeMap::from([
        (
            "GT_OTEL_METRICS_URL".to_owned(),
            (PathBuf::from("telemetry-core/src/config.rs"), 12),
        ),
        (
            "GT_OTEL_LOGS_URL".to_owned(),
            (PathBuf::from("telemetry-core/src/config.rs"), 14),
        ),
        (
            "GT_BD_BIN".to_owned(),
            (PathBuf::from("gt-cli/src/bd.rs"), 12),
        ),
    ]);
    let found = messages(&audit::check_env_vars(
        &fixture("broken-configuration.md"),
        Path::new("docs/configuration.md"),
        &read,
    ));
    assert_eq!(
        found,
        [
            "docs/configuration.md:6: `GT_OTEL_LOGS_URL` has no default documented",
            "docs/configuration.md:7: `GT_NOT_READ_ANYWHERE` is documented but no code reads it",
            "docs/configuration.md: `GT_BD_BIN` is read at gt-cli/src/bd.rs:12 but not documented",
        ]
    );
}

#[test]
fn the_scan_finds_variables_the_code_reads() {
    let read = audit::scan_env_vars(&root());
    for var in [
        "GT_OTEL_METRICS_URL",
        "GT_LOG_BD_OUTPUT",
        "GT_BD_BIN",
        "BD_OTEL_LOGS_URL",
        "GT_WORK_MOL",
    ] {
        assert!(read.contains_key(var), "{var} not found");
    }
}

#[test]
fn a_dashboard_using_an_unknown_metric_name_fails() {
    let known = audit::known_series(telemetry_recorder::catalog());
    let found = messages(&audit::check_metric_refs(
        &fixture("broken-dashboard.json"),
        Path::new("docs/dashboards/broken.json"),
        &known,
    ));
    assert_eq!(
        found,
        [
            "docs/dashboards/broken.json:4: metric `gastown_bd_duration_ms_bucket` is used but no instrument produces it"
        ]
    );
}
