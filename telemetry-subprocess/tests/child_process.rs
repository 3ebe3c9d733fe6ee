//! Real child processes see exactly the telemetry variables `with_gt_telemetry_from` gives them.

use std::collections::HashMap;
use std::process::Command;

use telemetry_core::config::{DEFAULT_LOGS_URL, DEFAULT_METRICS_URL};
use telemetry_core::env::{
    BAGGAGE, BD_OTEL_LOGS_URL, BD_OTEL_METRICS_URL, GT_OTEL_LOGS_URL, GT_OTEL_METRICS_URL,
    GT_POLECAT, GT_RIG, GT_ROLE, GT_RUN, GT_SESSION, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED,
};
use telemetry_core::resource::parse_resource_attributes;
use telemetry_subprocess::{CommandTelemetryExt as _, otel_env_for_subprocess_from_lookup};

const METRICS: &str = "http://127.0.0.1:8428/opentelemetry/api/v1/push";
const LOGS: &str = "http://127.0.0.1:9428/insert/opentelemetry/v1/logs";
const RUN: &str = "6f1c2d9e-8a4b-4c3d-9e2f-1a2b3c4d5e6f";

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |key| map.get(key).cloned()
}

/// Runs `/usr/bin/env` with an empty environment plus what `with_gt_telemetry_from` adds, and
/// returns every variable the child saw.
fn child_env(vars: &[(&str, &str)]) -> HashMap<String, String> {
    let out = Command::new("/usr/bin/env")
        .env_clear()
        .with_gt_telemetry_from(env(vars))
        .output()
        .expect("spawn /usr/bin/env");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (k, v) = line.split_once('=').expect("NAME=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Runs `sh -c 'printf %s "$NAME"'` (inheriting this test's environment) and returns what the
/// child printed, byte for byte.
fn child_prints(name: &str, vars: &[(&str, &str)]) -> String {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("printf %s \"${name}\""))
        .with_gt_telemetry_from(env(vars))
        .output()
        .expect("spawn /bin/sh");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn child_sees_exactly_the_four_variables_and_the_baggage() {
    let seen = child_env(&[
        (GT_OTEL_METRICS_URL, METRICS),
        (GT_OTEL_LOGS_URL, LOGS),
        (GT_ROLE, "gastown/polecats/Toast"),
        (GT_RIG, "gastown"),
        (GT_POLECAT, "Toast"),
        (GT_SESSION, "gt-gastown-Toast"),
        (GT_RUN, RUN),
    ]);
    let expected: HashMap<String, String> = [
        (
            OTEL_RESOURCE_ATTRIBUTES,
            format!(
                "gt.role=gastown/polecats/Toast,gt.rig=gastown,gt.agent=Toast,\
                 gt.session=gt-gastown-Toast,gt.run_id={RUN}"
            ),
        ),
        (BD_OTEL_METRICS_URL, METRICS.to_owned()),
        (BD_OTEL_LOGS_URL, LOGS.to_owned()),
        (GT_RUN, RUN.to_owned()),
        // No span is current and the process has no parent: no TRACEPARENT, only baggage.
        (BAGGAGE, format!("gt.run_id={RUN}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(seen, expected);
}

#[test]
fn child_decodes_hostile_values_unchanged() {
    let role = "a,b=c 100% \"q\" ünïcødé 🚀";
    let session = "new\nline";
    let printed = child_prints(
        OTEL_RESOURCE_ATTRIBUTES,
        &[
            (GT_OTEL_METRICS_URL, METRICS),
            (
                OTEL_RESOURCE_ATTRIBUTES,
                "deployment.environment=dev%2C1,gt.role=stale",
            ),
            (GT_ROLE, role),
            (GT_SESSION, session),
        ],
    );
    assert_eq!(
        parse_resource_attributes(&printed),
        vec![
            ("deployment.environment".to_owned(), "dev,1".to_owned()),
            ("gt.role".to_owned(), role.to_owned()),
            ("gt.session".to_owned(), session.to_owned()),
        ]
    );
}

#[test]
fn logs_only_configuration_still_gives_children_both_urls() {
    let seen = child_env(&[(GT_OTEL_LOGS_URL, LOGS), (GT_ROLE, "mayor")]);
    assert_eq!(seen.get(BD_OTEL_LOGS_URL).map(String::as_str), Some(LOGS));
    assert_eq!(
        seen.get(BD_OTEL_METRICS_URL).map(String::as_str),
        Some(DEFAULT_METRICS_URL)
    );
    assert_eq!(
        seen.get(OTEL_RESOURCE_ATTRIBUTES).map(String::as_str),
        Some("gt.role=mayor")
    );
    assert!(
        !seen.contains_key(GT_RUN),
        "GT_RUN is passed only when set: {seen:?}"
    );
}

#[test]
fn metrics_only_configuration_gets_the_default_logs_url() {
    let seen = child_env(&[(GT_OTEL_METRICS_URL, METRICS)]);
    assert_eq!(
        seen.get(BD_OTEL_METRICS_URL).map(String::as_str),
        Some(METRICS)
    );
    assert_eq!(
        seen.get(BD_OTEL_LOGS_URL).map(String::as_str),
        Some(DEFAULT_LOGS_URL)
    );
    assert!(
        !seen.contains_key(OTEL_RESOURCE_ATTRIBUTES),
        "no attribute is set: {seen:?}"
    );
}

#[test]
fn disabled_telemetry_gives_children_nothing() {
    let identity = [(GT_ROLE, "mayor"), (GT_RUN, RUN)];
    assert!(child_env(&identity).is_empty());
    let switched_off = [
        (GT_OTEL_METRICS_URL, METRICS),
        (OTEL_SDK_DISABLED, "true"),
        (GT_ROLE, "mayor"),
    ];
    assert!(child_env(&switched_off).is_empty());
}

#[test]
fn invalid_configuration_points_no_child_anywhere() {
    let env_vars = [(GT_OTEL_METRICS_URL, "localhost:8428"), (GT_ROLE, "mayor")];
    assert!(otel_env_for_subprocess_from_lookup(env(&env_vars)).is_empty());
}

#[test]
fn variables_come_in_documented_order() {
    let names: Vec<String> = otel_env_for_subprocess_from_lookup(env(&[
        (GT_RUN, RUN),
        (GT_ROLE, "mayor"),
        (GT_OTEL_LOGS_URL, LOGS),
    ]))
    .into_iter()
    .map(|(k, _)| k)
    .collect();
    assert_eq!(
        names,
        [
            OTEL_RESOURCE_ATTRIBUTES,
            BD_OTEL_METRICS_URL,
            BD_OTEL_LOGS_URL,
            GT_RUN
        ]
    );
}

#[test]
fn urls_are_the_effective_ones_trimmed_by_telemetry_core() {
    let env_vars = [(GT_OTEL_METRICS_URL, "  http://h:1/m  ")];
    let seen = child_env(&env_vars);
    assert_eq!(
        seen.get(BD_OTEL_METRICS_URL).map(String::as_str),
        Some("http://h:1/m")
    );
}
