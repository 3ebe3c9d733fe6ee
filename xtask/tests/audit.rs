//! The audit itself: the repository passes, and deliberately wrong docs fail with messages that
//! name the file, the line and the thing to fix.

use std::path::{Path, PathBuf};

use telemetry_core::env::{self, EnvVar};
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

/// Declarations for the configuration tests: two documented ones, one that no docs table
/// lists, one whose doc states no default, laid out as in telemetry-core/src/env.rs.
const DECLARED: [EnvVar; 4] = [
    EnvVar {
        name: "GT_OTEL_METRICS_URL",
        doc: " Metrics URL. Default: unset.\n",
    },
    EnvVar {
        name: "GT_OTEL_LOGS_URL",
        doc: " Logs URL. Default: unset.\n",
    },
    EnvVar {
        name: "GT_DECLARED_ONLY",
        doc: " Declared, never documented. Default: 1.\n",
    },
    EnvVar {
        name: "GT_NO_DEFAULT",
        doc: " Documented, but its doc comment says nothing of a default.\n",
    },
];

const ENV_SOURCE: &str = "env_vars! {
    /// Metrics URL. Default: unset.
    GT_OTEL_METRICS_URL;
    /// Logs URL. Default: unset.
    GT_OTEL_LOGS_URL;
    /// Declared, never documented. Default: 1.
    GT_DECLARED_ONLY;
    /// Documented, but its doc comment says nothing of a default.
    GT_NO_DEFAULT;
}
";

#[test]
fn a_wrong_configuration_fails_both_ways() {
    let found = messages(&audit::check_env_vars(
        &fixture("broken-configuration.md"),
        Path::new("docs/configuration.md"),
        &DECLARED,
        ENV_SOURCE,
    ));
    assert_eq!(
        found,
        [
            "docs/configuration.md:6: `GT_OTEL_LOGS_URL` has no default documented",
            "docs/configuration.md:7: `GT_NOT_DECLARED` is documented but not declared in telemetry-core/src/env.rs",
            "docs/configuration.md:9: `XDG_CACHE_HOME` is documented but not declared in telemetry-core/src/env.rs",
            "docs/configuration.md: `GT_DECLARED_ONLY` is declared at telemetry-core/src/env.rs:7 but not documented in a table",
            "telemetry-core/src/env.rs:9: `GT_NO_DEFAULT`: the doc comment states no `Default:`",
        ]
    );
}

#[test]
fn every_declared_variable_is_its_own_name_and_in_the_declaring_module() {
    let source = std::fs::read_to_string(root().join(audit::ENV_MODULE)).unwrap();
    for var in telemetry_core::env::ALL {
        assert!(
            audit::declaration_line(&source, var.name).is_some(),
            "{} has no `{};` line in {}",
            var.name,
            var.name,
            audit::ENV_MODULE
        );
    }
    for name in [
        env::GT_OTEL_METRICS_URL,
        env::GT_LOG_BD_OUTPUT,
        env::GT_BD_BIN,
        env::BD_OTEL_LOGS_URL,
        env::GT_WORK_MOL,
        env::OTEL_EXPORTER_OTLP_TIMEOUT,
        env::BD_ACTOR,
        env::GT_STATE_DIR,
        env::XDG_STATE_HOME,
    ] {
        assert!(
            telemetry_core::env::ALL.iter().any(|v| v.name == name),
            "{name} is not in env::ALL"
        );
    }
}

#[test]
fn a_raw_variable_literal_in_code_fails_with_its_line() {
    let found = messages(&audit::check_raw_literals(
        &fixture("raw-literal.rs"),
        Path::new("gt-cli/src/example.rs"),
        &DECLARED,
    ));
    assert_eq!(
        found,
        [
            "gt-cli/src/example.rs:5: \"GT_OTEL_LOGS_URL\" is a raw literal: use telemetry_core::env::GT_OTEL_LOGS_URL",
            "gt-cli/src/example.rs:9: \"GT_UNDECLARED_KNOB\" is a raw literal: declare it in telemetry-core/src/env.rs and use that",
            "gt-cli/src/example.rs:10: \"OTEL_SERVICE_NAME\" is a raw literal: declare it in telemetry-core/src/env.rs and use that",
        ]
    );
}

#[test]
fn a_declared_variable_no_code_uses_fails_unless_reserved() {
    let declared = [
        EnvVar {
            name: "GT_USED",
            doc: " Used. Default: unset.\n",
        },
        EnvVar {
            name: "GT_STALE",
            doc: " Nothing reads it. Default: unset.\n",
        },
        EnvVar {
            name: "GT_LATER",
            doc: " Default: unset.\n Reserved: its reader lands later.\n",
        },
    ];
    let env_source = "    GT_USED;\n    GT_STALE;\n    GT_LATER;\n";
    let sources = vec![
        (
            PathBuf::from(audit::ENV_MODULE),
            "pub const GT_STALE: &str = stringify!(GT_STALE);".to_owned(),
        ),
        (
            PathBuf::from("gt-cli/src/a.rs"),
            "let v = lookup(env::GT_USED);".to_owned(),
        ),
    ];
    let found = messages(&audit::check_env_uses(&declared, env_source, &sources));
    assert_eq!(
        found,
        [
            "telemetry-core/src/env.rs:2: `GT_STALE` is declared but no code uses it (remove it, or say `Reserved:` in its doc)"
        ]
    );
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
