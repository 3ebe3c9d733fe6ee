//! Reading dashboards and rule files and querying VictoriaMetrics and vmalert as Grafana and
//! an operator would: shared by the dashboard tests (`dashboards.rs`, `town_health.rs`).

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different subset.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use std::path::Path;

use super::backends::{Server, bin, curl, poll};

/// What Grafana puts for `$__range` with the dashboards' default range (the last 24 hours).
pub(crate) const GRAFANA_RANGE: &str = "86400s";

pub(crate) type Labels = BTreeMap<String, String>;
/// A query result: one value per label set.
pub(crate) type Series = BTreeMap<Labels, f64>;

/// Every panel target of `dashboard` (rows' nested panels included): (title, refId, expr).
pub(crate) fn panel_queries(dashboard: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push((
                title.to_owned(),
                target["refId"].as_str().unwrap_or_default().to_owned(),
                target["expr"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        out.extend(panel_queries(panel));
    }
    out
}

/// Grafana's global variables, as Grafana substitutes them before querying.
pub(crate) fn grafana_expr(expr: &str) -> String {
    expr.replace("$__range", GRAFANA_RANGE)
}

/// A copy of a rules file whose groups are renamed `NAME-short-for` and whose `for:` durations
/// are all `short`: vmalert shows such rules firing within seconds, where the shipped `for:`
/// would keep them pending for 10-15 minutes.
pub(crate) fn with_short_for(rules: &str, short: &str) -> String {
    let mut out = String::new();
    for line in rules.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(name) = trimmed.strip_prefix("- name: ") {
            out.push_str(&format!("{indent}- name: {}-short-for", name.trim()));
        } else if trimmed.starts_with("for:") {
            out.push_str(&format!("{indent}for: {short}"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

pub(crate) fn seconds_since_epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The instant query's result at `time`, None on any error (VictoriaMetrics' answer in `Err`).
pub(crate) fn query(vm: &str, expr: &str, time: f64) -> Result<Series, String> {
    curl(&format!("{vm}/internal/force_flush"), &[]);
    let body = curl(
        &format!("{vm}/api/v1/query"),
        &[("query", expr), ("time", &format!("{time:.3}"))],
    );
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|_| body.clone())?;
    let result = json["data"]["result"].as_array().ok_or(body.clone())?;
    let mut series = Series::new();
    for item in result {
        let labels = item["metric"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let value = item["value"][1].as_str().and_then(|v| v.parse().ok());
        series.insert(labels, value.ok_or(body.clone())?);
    }
    Ok(series)
}

pub(crate) fn same(a: &Series, b: &Series) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((la, va), (lb, vb))| {
            la == lb && (va - vb).abs() <= 1e-9 * va.abs().max(vb.abs()).max(1.0)
        })
}

/// Polls `expr` at `time` until it returns `expected` or `until` passes (one deadline for all
/// the queries, so that a wrong dashboard fails in a minute); the last answer otherwise.
pub(crate) fn check(
    vm: &str,
    expr: &str,
    time: f64,
    expected: &Series,
    until: Instant,
) -> Result<(), String> {
    let mut last = String::new();
    let wait = until.saturating_duration_since(Instant::now());
    let found = poll(wait, || match query(vm, expr, time) {
        Ok(got) if same(&got, expected) => Some(()),
        Ok(got) => {
            last = format!("{got:?}");
            None
        }
        Err(body) => {
            last = body;
            None
        }
    });
    found.ok_or_else(|| format!("{expr}\n    expected {expected:?}\n    got      {last}"))
}

/// vmalert's alerts as its API returns them (empty when it does not answer).
/// Checks each panel query `(key, expr)` against its expected series in `expected` (removed as
/// found), pushing one failure line per query whose result differs or that has no expected
/// value, and per expected key with no query left.
pub(crate) fn check_panels<K: Ord + std::fmt::Debug>(
    vm: &str,
    queries: impl IntoIterator<Item = (K, String)>,
    mut expected: BTreeMap<K, Series>,
    time: f64,
    until: Instant,
    failures: &mut Vec<String>,
) {
    for (key, expr) in queries {
        let Some(want) = expected.remove(&key) else {
            failures.push(format!("{key:?}: no expected value in this test"));
            continue;
        };
        if let Err(e) = check(vm, &grafana_expr(&expr), time, &want, until) {
            failures.push(format!("{key:?}: {e}"));
        }
    }
    for key in expected.keys() {
        failures.push(format!("{key:?}: expected, but no such panel query"));
    }
}

pub(crate) fn vmalert_alert_list(vmalert: &str) -> Vec<serde_json::Value> {
    let body = curl(&format!("{vmalert}/api/v1/alerts"), &[]);
    let mut json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    match json["data"]["alerts"].take() {
        serde_json::Value::Array(alerts) => alerts,
        _ => Vec::new(),
    }
}

/// vmalert's alerts: (group, alert name, state, role label).
pub(crate) fn vmalert_alerts(vmalert: &str) -> Vec<(String, String, String, String)> {
    let mut alerts: Vec<_> = vmalert_alert_list(vmalert)
        .iter()
        .map(|a| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            (
                s(&a["labels"]["alertgroup"]),
                s(&a["name"]),
                s(&a["state"]),
                s(&a["labels"]["role"]),
            )
        })
        .collect();
    alerts.sort();
    alerts
}

/// vmalert's parsed rules of `group`: alert name → expression.
pub(crate) fn vmalert_rules(vmalert: &str, group: &str) -> BTreeMap<String, String> {
    let body = curl(&format!("{vmalert}/api/v1/rules"), &[]);
    let json: serde_json::Value = serde_json::from_str(&body).expect("vmalert rules JSON");
    json["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["name"] == group)
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .map(|r| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            (s(&r["name"]), s(&r["query"]))
        })
        .collect()
}

/// vmalert evaluating `rules_file` and a copy of it with `for:` shortened to 4 s (see
/// [`with_short_for`]) against the VictoriaMetrics at `vm`, every 2 s, notifications dropped.
/// Keep the returned directory (the copy) as long as the server.
pub(crate) fn vmalert_with_short_for(rules_file: &Path, vm: &str) -> (Server, tempfile::TempDir) {
    let rules = std::fs::read_to_string(rules_file).unwrap();
    let short_dir = tempfile::tempdir().unwrap();
    let stem = rules_file.file_stem().unwrap().to_string_lossy();
    let short_file = short_dir.path().join(format!("{stem}-short-for.yml"));
    std::fs::write(&short_file, with_short_for(&rules, "4s")).unwrap();
    let vmalert = Server::start(&bin("vmalert"), |addr, _| {
        vec![
            format!("-rule={}", rules_file.display()),
            format!("-rule={}", short_file.display()),
            format!("-datasource.url={vm}"),
            "-notifier.blackhole".to_owned(),
            "-evaluationInterval=2s".to_owned(),
            "-rule.evalDelay=0s".to_owned(),
            format!("-httpListenAddr={addr}"),
        ]
    });
    (vmalert, short_dir)
}

/// Runs `promtool check rules RULES` and `promtool test rules TESTS` in `dir`; both must say
/// SUCCESS.
pub(crate) fn promtool_check_and_test(dir: &Path, rules: &str, tests: &str) {
    let promtool = bin("promtool");
    for args in [["check", "rules", rules], ["test", "rules", tests]] {
        let out = std::process::Command::new(&promtool)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("promtool runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool {args:?}:\n{text}");
        assert!(text.contains("SUCCESS"), "promtool {args:?}:\n{text}");
    }
}
