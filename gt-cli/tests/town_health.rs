//! The "Town health" dashboard (`docs/dashboards/town-health.json`) and rules
//! (`docs/alerts/town-health.rules.yml`), proven with real backends like `dashboards.rs`:
//! one-shot `gt otel emit`s of the refinery, scheduler, witness, git, Dolt and polecat events
//! of one simulated host load a private VictoriaMetrics; every panel query and every alert
//! expression must return the number computed from the load, and vmalert must fire exactly the
//! alerts the load calls for (the polecat retry pattern, the refinery backlog and stuck queue,
//! an unhealthy Dolt) and no other. `promtool` checks the rules and runs their unit tests.
//! They run only with `GT_IT_BACKENDS=1`.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use support::backends::{self, poll, run_tag};
use support::promql::{
    Labels, Series, check, check_panels, panel_queries, promtool_check_and_test,
    seconds_since_epoch, vmalert_alerts, vmalert_rules, vmalert_with_short_for,
};

const DEADLINE: Duration = Duration::from_secs(60);
const TOAST: &str = "gastown/polecats/Toast";
const NUX: &str = "gastown/polecats/Nux";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// One `gt otel emit`: event, attributes, success, how many times.
type Emit = (&'static str, Vec<(&'static str, &'static str)>, bool, usize);

fn plan() -> Vec<Emit> {
    let dispatch = vec![
        ("rig", "gastown"),
        ("bead_id", "gt-1"),
        ("queue_depth", "24"),
        ("wait_ms", "1000"),
        ("duration_ms", "50"),
    ];
    let cycle = vec![
        ("dispatched", "5"),
        ("failed", "1"),
        ("skipped", "2"),
        ("queue_depth", "7"),
        ("capacity_usage", "0.8"),
        ("duration_ms", "10"),
    ];
    let patrol = vec![
        ("rig", "gastown"),
        ("duration_ms", "100"),
        ("stale_count", "1"),
        ("restart_count", "0"),
    ];
    let git = |op, ms| vec![("op", op), ("repo", "gastown"), ("duration_ms", ms)];
    let prime = |role| vec![("role", role), ("hook_mode", "true")];
    vec![
        (
            "refinery.queue",
            vec![
                ("rig", "gastown"),
                ("queue_depth", "25"),
                ("oldest_age_ms", "10800000"),
            ],
            true,
            1,
        ),
        (
            "refinery.queue",
            vec![
                ("rig", "beads"),
                ("queue_depth", "2"),
                ("oldest_age_ms", "60000"),
            ],
            true,
            1,
        ),
        ("refinery.dispatch", dispatch.clone(), true, 3),
        ("refinery.dispatch", dispatch, false, 1),
        ("scheduler.dispatch_cycle", cycle, true, 2),
        ("witness.patrol", patrol.clone(), true, 2),
        ("witness.patrol", patrol, false, 1),
        ("git.operation", git("fetch", "120"), true, 2),
        ("git.operation", git("push", "30"), false, 1),
        (
            "dolt.health",
            vec![
                ("server", "db1:3306"),
                ("latency_ms", "3"),
                ("connections", "10"),
                ("max_connections", "151"),
            ],
            true,
            1,
        ),
        ("dolt.health", vec![("server", "db2:3306")], false, 1),
        ("prime", prime(TOAST), true, 2),
        ("prime", prime(TOAST), false, 4),
        ("prime", prime(NUX), true, 5),
        ("prime", prime(NUX), false, 1),
    ]
}

fn load(state: &std::path::Path, metrics_url: &str, tag: &str) {
    for (event, attrs, ok, times) in plan() {
        for _ in 0..times {
            let mut cmd = support::gt();
            cmd.env("GT_STATE_DIR", state)
                .env("GT_OTEL_METRICS_URL", metrics_url)
                .env("OTEL_RESOURCE_ATTRIBUTES", format!("test.run={tag}"))
                .args(["otel", "emit", event]);
            for (k, v) in &attrs {
                cmd.arg("--attr").arg(format!("{k}={v}"));
            }
            if !ok {
                cmd.args(["--status", "error", "--error", "loaded failure"]);
            }
            support::run_ok(&mut cmd);
        }
    }
}

fn series(pairs: &[(&[(&str, &str)], f64)]) -> Series {
    pairs
        .iter()
        .map(|(labels, v)| {
            let labels: Labels = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            (labels, *v)
        })
        .collect()
}

fn expected_panels() -> BTreeMap<String, Series> {
    let s = series;
    [
        (
            "Refinery queue depth by rig",
            s(&[(&[("rig", "gastown")], 25.0), (&[("rig", "beads")], 2.0)]),
        ),
        (
            "Oldest merge-queue item by rig (minutes)",
            s(&[(&[("rig", "gastown")], 180.0), (&[("rig", "beads")], 1.0)]),
        ),
        (
            "Refinery dispatches by status (in range)",
            s(&[(&[("status", "ok")], 3.0), (&[("status", "error")], 1.0)]),
        ),
        (
            "Refinery mean dispatch latency (ms, in range)",
            s(&[(&[], 50.0)]),
        ),
        (
            "Scheduler beads by outcome (in range)",
            s(&[
                (&[("outcome", "dispatched")], 10.0),
                (&[("outcome", "failed")], 2.0),
                (&[("outcome", "skipped")], 4.0),
            ]),
        ),
        ("Scheduler capacity usage", s(&[(&[], 0.8)])),
        (
            "Witness patrols by status (in range)",
            s(&[(&[("status", "ok")], 2.0), (&[("status", "error")], 1.0)]),
        ),
        (
            "Dolt healthy by server",
            s(&[
                (&[("server", "db1:3306")], 1.0),
                (&[("server", "db2:3306")], 0.0),
            ]),
        ),
        (
            "Dolt connections by server",
            s(&[(&[("server", "db1:3306")], 10.0)]),
        ),
        (
            "Dolt query latency by server (ms)",
            s(&[(&[("server", "db1:3306")], 3.0)]),
        ),
        (
            "Git operations by op and status (in range)",
            s(&[
                (&[("op", "fetch"), ("status", "ok")], 2.0),
                (&[("op", "push"), ("status", "error")], 1.0),
            ]),
        ),
        (
            "Git mean duration by op (ms, in range)",
            s(&[(&[("op", "fetch")], 120.0), (&[("op", "push")], 30.0)]),
        ),
    ]
    .into_iter()
    .map(|(title, series)| (title.to_owned(), series))
    .collect()
}

fn expected_alerts() -> BTreeMap<String, Series> {
    let s = series;
    [
        (
            "GasTownPolecatErrorRateHigh",
            s(&[(&[("role", TOAST)], 4.0 / 6.0)]),
        ),
        (
            "GasTownRefineryQueueBacklog",
            s(&[(&[("rig", "gastown")], 25.0)]),
        ),
        (
            "GasTownRefineryQueueStuck",
            s(&[(&[("rig", "gastown")], 10_800_000.0)]),
        ),
        (
            "GasTownDoltUnhealthy",
            s(&[(&[("server", "db2:3306")], 0.0)]),
        ),
    ]
    .into_iter()
    .map(|(name, series)| (name.to_owned(), series))
    .collect()
}

#[test]
fn every_town_health_panel_and_alert_gives_the_loaded_numbers_and_vmalert_fires() {
    if !backends::enabled() {
        return;
    }
    let vm = backends::victoria_metrics();
    let metrics_url = format!("{}/opentelemetry/api/v1/push", vm.url);
    let host = support::state_dir();
    load(&host, &metrics_url, &run_tag("town-health"));
    let at = seconds_since_epoch(SystemTime::now()) + 2.0;
    let until = Instant::now() + DEADLINE;
    let mut failures = Vec::new();

    let text = std::fs::read_to_string(repo().join("docs/dashboards/town-health.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let queries = panel_queries(&dashboard)
        .into_iter()
        .map(|(title, _, expr)| (title, expr));
    check_panels(
        &vm.url,
        queries,
        expected_panels(),
        at,
        until,
        &mut failures,
    );

    let rules_file = repo().join("docs/alerts/town-health.rules.yml");
    let (vmalert, _short_dir) = vmalert_with_short_for(&rules_file, &vm.url);
    let parsed = vmalert_rules(&vmalert.url, "gastown-town-health");
    let mut expected = expected_alerts();
    assert_eq!(parsed.len(), expected.len(), "vmalert read every rule");
    for (name, expr) in &parsed {
        let Some(want) = expected.remove(name) else {
            failures.push(format!("alert {name}: no expected value in this test"));
            continue;
        };
        if let Err(e) = check(&vm.url, expr, at, &want, until) {
            failures.push(format!("alert {name}: {e}"));
        }
    }

    let state = |group: &str, name: &str, state: &str, role: &str| {
        (group.into(), name.into(), state.into(), role.into())
    };
    let (shipped, short) = ("gastown-town-health", "gastown-town-health-short-for");
    let mut want = vec![
        // No `for:`: firing at once. The others wait 2-15 minutes in the shipped file.
        state(shipped, "GasTownPolecatErrorRateHigh", "firing", TOAST),
        state(shipped, "GasTownRefineryQueueBacklog", "pending", ""),
        state(shipped, "GasTownRefineryQueueStuck", "pending", ""),
        state(shipped, "GasTownDoltUnhealthy", "pending", ""),
        state(short, "GasTownPolecatErrorRateHigh", "firing", TOAST),
        state(short, "GasTownRefineryQueueBacklog", "firing", ""),
        state(short, "GasTownRefineryQueueStuck", "firing", ""),
        state(short, "GasTownDoltUnhealthy", "firing", ""),
    ];
    want.sort();
    let mut seen = Vec::new();
    if poll(Duration::from_secs(120), || {
        seen = vmalert_alerts(&vmalert.url);
        (seen == want).then_some(())
    })
    .is_none()
    {
        failures.push(format!(
            "vmalert alerts\n    expected {want:?}\n    got      {seen:?}\n    log: {}",
            vmalert.log()
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn promtool_checks_the_town_health_rules_and_runs_their_unit_tests() {
    if !backends::enabled() {
        return;
    }
    promtool_check_and_test(
        &repo().join("docs/alerts"),
        "town-health.rules.yml",
        "town-health.rules.test.yml",
    );
}
