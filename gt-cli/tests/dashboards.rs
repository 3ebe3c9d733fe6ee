//! The shipped dashboards (`docs/dashboards/*.json`) and alert rules
//! (`docs/alerts/gastown.rules.yml`), proven with real backends.
//!
//! The live test loads about a hundred one-shot `gt` invocations of one simulated host (one
//! `GT_STATE_DIR`), errors and failing `gt prime`s included, into a private VictoriaMetrics (its
//! own port and data dir, so every query runs verbatim, as Grafana and vmalert would send it),
//! then checks that every panel query of every dashboard and every alert expression returns the
//! number computed from what was loaded, and that vmalert, evaluating the rules file against
//! that VictoriaMetrics, fires the error-rate, latency, prime-failure and spend alerts. A
//! second test runs `promtool check rules` and the rules' unit tests
//! (`docs/alerts/gastown.rules.test.yml`).
//!
//! Like `backends.rs`, they run only with `GT_IT_BACKENDS=1`; the binaries come from
//! `.ci/setup-backends.sh`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use otlp_capture::{Receiver, Value};
use support::backends::{self, poll, run_tag};
use support::promql::{
    Labels, Series, check, check_panels, grafana_expr, panel_queries, promtool_check_and_test,
    seconds_since_epoch, vmalert_alerts, vmalert_rules, vmalert_with_short_for, with_short_for,
};

/// Generous: the CI machine is loaded.
const DEADLINE: Duration = Duration::from_secs(60);
/// The OpenTelemetry SDK's default explicit bucket bounds of `gastown.bd.duration_ms`.
const BOUNDS: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];
/// Parallel `gt` processes while loading (they share one counter store, as on a busy host).
const PARALLEL: usize = 4;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// What is loaded.

/// One event as its metrics see it: the attributes given (or, for a real `gt prime`, recorded)
/// and the outcome.
#[derive(Debug, Clone)]
struct Sent {
    event: &'static str,
    attrs: BTreeMap<&'static str, String>,
    ok: bool,
}

impl Sent {
    fn new(event: &'static str, attrs: &[(&'static str, &str)], ok: bool) -> Self {
        let attrs = attrs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        Self { event, attrs, ok }
    }

    fn get(&self, key: &str) -> &str {
        self.attrs.get(key).map_or("", String::as_str)
    }

    fn num(&self, key: &str) -> f64 {
        self.get(key).parse().unwrap_or(0.0)
    }

    fn status(&self) -> &'static str {
        if self.ok { "ok" } else { "error" }
    }
}

/// One `gt` invocation of the load.
#[derive(Debug, Clone)]
enum Invocation {
    /// `gt otel emit EVENT --attr …` (with `--status error --error …` when not ok).
    Emit(Sent),
    /// A real `gt prime` for `role`: with `--no-bd` when it succeeds, with a missing bd when it
    /// fails (then it also records a failed `bd.call` for `bd list`, whose duration is read
    /// from its exported log record).
    Prime { role: &'static str, ok: bool },
}

const TOAST: &str = "gastown/polecats/Toast";
const MAYOR: &str = "mayor";

fn times(n: usize, inv: &Invocation) -> Vec<Invocation> {
    vec![inv.clone(); n]
}

fn emit(event: &'static str, attrs: &[(&'static str, &str)], ok: bool) -> Invocation {
    Invocation::Emit(Sent::new(event, attrs, ok))
}

fn bd(subcommand: &'static str, duration_ms: &str, ok: bool) -> Invocation {
    let args = format!("{subcommand} gt-1");
    emit(
        "bd.call",
        &[
            ("args", &args),
            ("subcommand", subcommand),
            ("duration_ms", duration_ms),
        ],
        ok,
    )
}

#[allow(
    clippy::too_many_arguments,
    reason = "one token report, field by field"
)]
fn usage(
    model: &str,
    role: &str,
    rig: &str,
    input: &str,
    output: &str,
    cache_read: &str,
    cache_creation: &str,
    cost: &str,
) -> Invocation {
    emit(
        "agent.usage",
        &[
            ("session", &format!("s-{model}")),
            ("agent_type", "claudecode"),
            ("model", model),
            ("role", role),
            ("rig", rig),
            ("input_tokens", input),
            ("output_tokens", output),
            ("cache_read_tokens", cache_read),
            ("cache_creation_tokens", cache_creation),
            ("cost_usd", cost),
        ],
        true,
    )
}

/// The load: 97 invocations. bd latencies are placed so that every quantile the dashboards and
/// alerts ask for falls in a bucket above 250 ms, where the real failing lookups (a missing bd
/// binary, well under 250 ms) cannot move it; their exact durations still enter the means.
fn plan() -> Vec<Invocation> {
    let mut load = Vec::new();
    load.extend(times(
        6,
        &Invocation::Prime {
            role: TOAST,
            ok: true,
        },
    ));
    load.extend(times(
        5,
        &Invocation::Prime {
            role: TOAST,
            ok: false,
        },
    ));
    load.extend(times(
        2,
        &Invocation::Prime {
            role: MAYOR,
            ok: false,
        },
    ));
    load.extend(times(13, &bd("list", "9000", true)));
    load.extend(times(10, &bd("show", "400", true)));
    load.extend(times(6, &bd("update", "9000", true)));
    load.extend(times(2, &bd("update", "9000", false)));
    load.extend(times(4, &bd("create", "600", true)));
    load.extend(times(3, &bd("create", "3000", false)));
    let opus = usage(
        "claude-opus-4",
        "polecat",
        "gastown",
        "4000",
        "1500",
        "20000",
        "3000",
        "30.5",
    );
    load.extend(times(6, &opus));
    let sonnet = usage(
        "claude-sonnet-4",
        "witness",
        "beads",
        "2500",
        "800",
        "12000",
        "1000",
        "12.25",
    );
    load.extend(times(4, &sonnet));
    let agent_event = |event_type| {
        emit(
            "agent.event",
            &[
                ("session", "s-claude-opus-4"),
                ("agent_type", "claudecode"),
                ("event_type", event_type),
                ("role", "assistant"),
            ],
            true,
        )
    };
    load.extend(times(4, &agent_event("tool_use")));
    load.extend(times(3, &agent_event("text")));
    let session = |role, ok| {
        emit(
            "session.start",
            &[("session_id", "s-1"), ("role", role)],
            ok,
        )
    };
    load.extend(times(3, &session("polecat", true)));
    load.extend(times(1, &session("polecat", false)));
    load.extend(times(1, &session("witness", true)));
    let done = |exit_type| emit("done", &[("exit_type", exit_type)], true);
    load.extend(times(3, &done("COMPLETED")));
    load.extend(times(1, &done("ESCALATED")));
    load.extend(times(1, &done("DEFERRED")));
    load.extend(times(3, &emit("polecat.spawn", &[("name", "Toast")], true)));
    load.extend(times(
        2,
        &emit("polecat.remove", &[("name", "Toast")], true),
    ));
    let sling = |ok| emit("sling", &[("bead", "gt-1"), ("target", TOAST)], ok);
    load.extend(times(2, &sling(true)));
    load.extend(times(1, &sling(false)));
    load.extend(times(2, &emit("nudge", &[("target", TOAST)], true)));
    let mail = |operation, ok| emit("mail", &[("operation", operation)], ok);
    load.extend(times(1, &mail("send", true)));
    load.extend(times(2, &mail("send", false)));
    load.extend(times(1, &mail("read", false)));
    let cook = |ok| emit("mol.cook", &[("formula_name", "release")], ok);
    load.extend(times(1, &cook(true)));
    load.extend(times(1, &cook(false)));
    let restart = |agent_type| emit("daemon.restart", &[("agent_type", agent_type)], true);
    load.extend(times(2, &restart("claudecode")));
    load.extend(times(1, &restart("codex")));
    load
}

/// Runs `invocation` on the host whose counter store is in `state`.
fn run(invocation: &Invocation, state: &Path, metrics_url: &str, tag: &str, logs: &Receiver) {
    let mut cmd = support::gt();
    cmd.env("GT_STATE_DIR", state)
        .env("GT_OTEL_METRICS_URL", metrics_url)
        .env("OTEL_RESOURCE_ATTRIBUTES", format!("test.run={tag}"));
    let quiet = match invocation {
        Invocation::Emit(sent) => {
            cmd.args(["otel", "emit", sent.event]);
            for (key, value) in &sent.attrs {
                cmd.arg("--attr").arg(format!("{key}={value}"));
            }
            if !sent.ok {
                cmd.args(["--status", "error", "--error", "loaded failure"]);
            }
            cmd.env("GT_LOG_AGENT_OUTPUT", "true");
            true
        }
        Invocation::Prime { role, ok } => {
            cmd.arg("prime").env("GT_ROLE", role);
            if *ok {
                cmd.arg("--no-bd");
            } else {
                cmd.env("GT_BD_BIN", state.join("no-such-bd"))
                    .env("GT_OTEL_LOGS_URL", logs.url("/v1/logs"));
            }
            *ok
        }
    };
    let out = cmd.output().expect("gt runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{invocation:?}: {stderr}");
    assert!(!quiet || stderr.is_empty(), "{invocation:?}: {stderr}");
}

/// Loads `plan` (PARALLEL at a time) and returns what the metrics saw, the real `bd.call`s of
/// the failing primes included with their recorded durations.
fn load(plan: &[Invocation], state: &Path, metrics_url: &str, tag: &str) -> Vec<Sent> {
    let logs = Receiver::start().expect("OTLP receiver");
    for chunk in plan.chunks(PARALLEL) {
        std::thread::scope(|scope| {
            for invocation in chunk {
                let logs = &logs;
                scope.spawn(move || run(invocation, state, metrics_url, tag, logs));
            }
        });
    }
    let mut sent = Vec::new();
    let mut failing_primes = 0;
    for invocation in plan {
        match invocation {
            Invocation::Emit(s) => sent.push(s.clone()),
            Invocation::Prime { role, ok } => {
                sent.push(Sent::new("prime", &[("role", role)], *ok));
                failing_primes += usize::from(!ok);
            }
        }
    }
    let records = logs.wait_for_logs(2 * failing_primes, DEADLINE);
    let calls: Vec<_> = records
        .iter()
        .filter(|r| r.body_str() == Some("bd.call"))
        .collect();
    assert_eq!(calls.len(), failing_primes, "one bd.call per failing prime");
    for call in calls {
        assert_eq!(call.str_attr("status"), Some("error"));
        let Some(Value::Double(ms)) = call.attr("duration_ms") else {
            panic!("bd.call without duration_ms: {call:?}");
        };
        assert!(
            *ms < 250.0,
            "a missing bd took {ms} ms; the load assumes < 250"
        );
        let subcommand = call.str_attr("subcommand").unwrap_or_default();
        let ms = ms.to_string();
        sent.push(Sent::new(
            "bd.call",
            &[("subcommand", subcommand), ("duration_ms", &ms)],
            false,
        ));
    }
    sent
}

// ---------------------------------------------------------------------------------------------
// What every query must return, computed from what was loaded.

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Sums `pick`'s values per label set over the events named in `events`.
fn tally(sent: &[Sent], events: &[&str], pick: impl Fn(&Sent) -> Option<(Labels, f64)>) -> Series {
    let mut out = Series::new();
    for s in sent.iter().filter(|s| events.contains(&s.event)) {
        if let Some((labels, value)) = pick(s) {
            *out.entry(labels).or_default() += value;
        }
    }
    out
}

/// How many of `events` per label set (`by`: attribute names; `status` is the outcome).
fn count_by(sent: &[Sent], events: &[&str], by: &[&str], only: impl Fn(&Sent) -> bool) -> Series {
    tally(sent, events, |s| {
        only(s).then(|| {
            let l = by
                .iter()
                .map(|k| {
                    let v = if *k == "status" { s.status() } else { s.get(k) };
                    ((*k).to_owned(), v.to_owned())
                })
                .collect();
            (l, 1.0)
        })
    })
}

fn all(_: &Sent) -> bool {
    true
}

fn failed(s: &Sent) -> bool {
    !s.ok
}

fn scalar(value: f64) -> Series {
    Series::from([(Labels::new(), value)])
}

fn scale(series: Series, factor: f64) -> Series {
    series.into_iter().map(|(l, v)| (l, v * factor)).collect()
}

/// Keeps the values for which `keep` holds (a PromQL comparison filter).
fn only_where(series: Series, keep: impl Fn(f64) -> bool) -> Series {
    series.into_iter().filter(|(_, v)| keep(*v)).collect()
}

/// `histogram_quantile(q, …)` over explicit buckets with BOUNDS, as Prometheus and
/// VictoriaMetrics interpolate it: linearly inside the bucket holding rank `q * count`.
fn quantile(q: f64, durations: &[f64]) -> f64 {
    let total = durations.len() as f64;
    let rank = q * total;
    let mut below = 0.0;
    let mut lower = 0.0;
    for upper in BOUNDS {
        let in_bucket = durations
            .iter()
            .filter(|d| **d > lower && **d <= upper || (upper == 0.0 && **d <= 0.0))
            .count() as f64;
        if below + in_bucket >= rank && in_bucket > 0.0 {
            if upper == 0.0 {
                return 0.0;
            }
            return lower + (upper - lower) * (rank - below) / in_bucket;
        }
        below += in_bucket;
        lower = upper;
    }
    BOUNDS[BOUNDS.len() - 1]
}

fn bd_durations(sent: &[Sent], only: impl Fn(&Sent) -> bool) -> Vec<f64> {
    sent.iter()
        .filter(|s| s.event == "bd.call" && only(s))
        .map(|s| s.num("duration_ms"))
        .collect()
}

fn bd_quantile_by_subcommand(sent: &[Sent], q: f64) -> Series {
    let subcommands: std::collections::BTreeSet<&str> = sent
        .iter()
        .filter(|s| s.event == "bd.call")
        .map(|s| s.get("subcommand"))
        .collect();
    subcommands
        .into_iter()
        .map(|sub| {
            let value = quantile(q, &bd_durations(sent, |s| s.get("subcommand") == sub));
            (labels(&[("subcommand", sub)]), value)
        })
        .collect()
}

fn bd_error_ratio(sent: &[Sent]) -> f64 {
    let calls = bd_durations(sent, all).len() as f64;
    bd_durations(sent, failed).len() as f64 / calls
}

fn cost_by(sent: &[Sent], by: &[&str]) -> Series {
    tally(sent, &["agent.usage"], |s| {
        let l = by.iter().map(|k| ((*k).to_owned(), s.get(k).to_owned()));
        Some((l.collect(), s.num("cost_usd")))
    })
}

fn tokens_by_type_and_model(sent: &[Sent]) -> Series {
    let mut out = Series::new();
    for s in sent.iter().filter(|s| s.event == "agent.usage") {
        for kind in ["input", "output", "cache_read", "cache_creation"] {
            let l = labels(&[("type", kind), ("model", s.get("model"))]);
            *out.entry(l).or_default() += s.num(&format!("{kind}_tokens"));
        }
    }
    out
}

/// Every panel query: (dashboard file, panel title, refId) → result.
fn expected_panels(sent: &[Sent]) -> BTreeMap<(String, String, String), Series> {
    let per_minute_5m = 1.0 / 5.0;
    let agent_events = tally(sent, &["agent.event", "agent.usage"], |s| {
        let event_type = if s.event == "agent.usage" {
            "usage"
        } else {
            s.get("event_type")
        };
        Some((labels(&[("event_type", event_type)]), 1.0))
    });
    let durations = bd_durations(sent, all);
    let mean = durations.iter().sum::<f64>() / durations.len() as f64;
    let entries = [
        (
            "agent-activity.json",
            "Agent events by type (per minute, 5 min average)",
            "A",
            scale(agent_events, per_minute_5m),
        ),
        (
            "agent-activity.json",
            "Sessions started by role",
            "A",
            count_by(sent, &["session.start"], &["role"], all),
        ),
        (
            "agent-activity.json",
            "Primes by role",
            "A",
            count_by(sent, &["prime"], &["role", "status"], all),
        ),
        (
            "agent-activity.json",
            "Work done by exit type",
            "A",
            count_by(sent, &["done"], &["exit_type"], all),
        ),
        (
            "agent-activity.json",
            "Polecat spawns and removals",
            "A",
            count_by(sent, &["polecat.spawn"], &[], all),
        ),
        (
            "agent-activity.json",
            "Polecat spawns and removals",
            "B",
            count_by(sent, &["polecat.remove"], &[], all),
        ),
        (
            "agent-activity.json",
            "Slings and nudges",
            "A",
            count_by(sent, &["sling"], &[], all),
        ),
        (
            "agent-activity.json",
            "Slings and nudges",
            "B",
            count_by(sent, &["nudge"], &[], all),
        ),
        (
            "bd-latency.json",
            "bd latency p50 / p95 / p99",
            "A",
            scalar(quantile(0.50, &durations)),
        ),
        (
            "bd-latency.json",
            "bd latency p50 / p95 / p99",
            "B",
            scalar(quantile(0.95, &durations)),
        ),
        (
            "bd-latency.json",
            "bd latency p50 / p95 / p99",
            "C",
            scalar(quantile(0.99, &durations)),
        ),
        (
            "bd-latency.json",
            "bd p95 by subcommand",
            "A",
            bd_quantile_by_subcommand(sent, 0.95),
        ),
        (
            "bd-latency.json",
            "bd calls per minute by subcommand (5 min average)",
            "A",
            scale(
                count_by(sent, &["bd.call"], &["subcommand"], all),
                per_minute_5m,
            ),
        ),
        ("bd-latency.json", "Mean bd latency", "A", scalar(mean)),
        (
            "errors.json",
            "bd error ratio",
            "A",
            scalar(bd_error_ratio(sent)),
        ),
        (
            "errors.json",
            "Failed primes (work may still be assigned)",
            "A",
            count_by(sent, &["prime"], &["role"], failed),
        ),
        (
            "errors.json",
            "Errors by operation",
            "A",
            count_by(sent, &["session.start"], &[], failed),
        ),
        (
            "errors.json",
            "Errors by operation",
            "B",
            count_by(sent, &["sling"], &[], failed),
        ),
        (
            "errors.json",
            "Errors by operation",
            "C",
            count_by(sent, &["mail"], &["operation"], failed),
        ),
        (
            "errors.json",
            "Errors by operation",
            "D",
            count_by(sent, &["mol.cook"], &[], failed),
        ),
        (
            "errors.json",
            "Agent restarts by type",
            "A",
            count_by(sent, &["daemon.restart"], &["agent_type"], all),
        ),
        (
            "token-cost.json",
            "Cost by rig (USD per day)",
            "A",
            cost_by(sent, &["rig"]),
        ),
        (
            "token-cost.json",
            "Cost by role and model (USD per hour)",
            "A",
            cost_by(sent, &["role", "model"]),
        ),
        (
            "token-cost.json",
            "Tokens by type and model",
            "A",
            tokens_by_type_and_model(sent),
        ),
        (
            "token-cost.json",
            "Total cost in range",
            "A",
            cost_by(sent, &[]),
        ),
    ];
    entries
        .into_iter()
        .map(|(file, title, ref_id, series)| {
            (
                (file.to_owned(), title.to_owned(), ref_id.to_owned()),
                series,
            )
        })
        .collect()
}

/// Every alert expression → its result (empty: the alert is quiet).
fn expected_alerts(sent: &[Sent]) -> BTreeMap<String, Series> {
    let p95 = quantile(0.95, &bd_durations(sent, all));
    [
        (
            "GasTownBdErrorRateHigh",
            only_where(scalar(bd_error_ratio(sent)), |v| v > 0.2),
        ),
        ("GasTownBdSlow", only_where(scalar(p95), |v| v > 5000.0)),
        (
            "GasTownPrimeFailures",
            only_where(count_by(sent, &["prime"], &["role"], failed), |v| v > 3.0),
        ),
        (
            "GasTownDailySpendHigh",
            only_where(cost_by(sent, &[]), |v| v > 200.0),
        ),
        // Only long-running commands (gt agent-log) export process metrics.
        ("GasTownAgentLogMemoryHigh", Series::new()),
    ]
    .into_iter()
    .map(|(name, series)| (name.to_owned(), series))
    .collect()
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn every_panel_and_alert_gives_the_loaded_numbers_and_vmalert_fires() {
    if !backends::enabled() {
        return;
    }
    let vm = backends::victoria_metrics();
    let metrics_url = format!("{}/opentelemetry/api/v1/push", vm.url);
    let host = support::state_dir();
    let tag = run_tag("dashboards");
    let plan = plan();
    assert!(plan.len() >= 50, "{} invocations", plan.len());
    let started = Instant::now();
    let sent = load(&plan, &host, &metrics_url, &tag);
    let loaded_in = started.elapsed();
    eprintln!("loaded {} invocations in {loaded_in:?}", plan.len());
    // The panels' shortest window is 5 minutes: everything must be inside it.
    assert!(
        loaded_in < Duration::from_secs(240),
        "loading took {loaded_in:?}; the 5-minute panels would not see all of it"
    );
    let at = seconds_since_epoch(SystemTime::now()) + 2.0;
    let until = Instant::now() + DEADLINE;

    // Every panel of every dashboard.
    let expected = expected_panels(&sent);
    let mut failures = Vec::new();
    let mut dashboards: Vec<PathBuf> = std::fs::read_dir(repo().join("docs/dashboards"))
        .expect("docs/dashboards")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        // Its own load (refinery, scheduler, witness, Dolt, git) is in town_health.rs.
        .filter(|p| !p.ends_with("town-health.json"))
        .collect();
    dashboards.sort();
    let mut queries = Vec::new();
    for path in &dashboards {
        let text = std::fs::read_to_string(path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for (title, ref_id, expr) in panel_queries(&json) {
            queries.push(((file.clone(), title, ref_id), expr));
        }
    }
    let panels = queries.len();
    check_panels(&vm.url, queries, expected, at, until, &mut failures);

    // The rules as vmalert parsed them, each expression checked, and vmalert firing.
    let rules_file = repo().join("docs/alerts/gastown.rules.yml");
    let (vmalert, _short_dir) = vmalert_with_short_for(&rules_file, &vm.url);
    let parsed = vmalert_rules(&vmalert.url, "gastown");
    let rules = std::fs::read_to_string(&rules_file).unwrap();
    let alert_lines = rules
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:"));
    assert_eq!(parsed.len(), alert_lines.count(), "vmalert read every rule");
    let mut expected = expected_alerts(&sent);
    for (name, expr) in &parsed {
        let Some(want) = expected.remove(name) else {
            failures.push(format!("alert {name}: no expected value in this test"));
            continue;
        };
        if let Err(e) = check(&vm.url, expr, at, &want, until) {
            failures.push(format!("alert {name}: {e}"));
        }
    }
    for name in expected.keys() {
        failures.push(format!("alert {name}: expected, but not in the rules file"));
    }

    let state = |group: &str, name: &str, state: &str, role: &str| {
        (group.into(), name.into(), state.into(), role.into())
    };
    let mut want = vec![
        // The shipped rules: `for: 10m` / `for: 15m` keep these two pending this early.
        state("gastown", "GasTownBdErrorRateHigh", "pending", ""),
        state("gastown", "GasTownBdSlow", "pending", ""),
        state("gastown", "GasTownPrimeFailures", "firing", TOAST),
        state("gastown", "GasTownDailySpendHigh", "firing", ""),
        state("gastown-short-for", "GasTownBdErrorRateHigh", "firing", ""),
        state("gastown-short-for", "GasTownBdSlow", "firing", ""),
        state("gastown-short-for", "GasTownPrimeFailures", "firing", TOAST),
        state("gastown-short-for", "GasTownDailySpendHigh", "firing", ""),
    ];
    want.sort();
    let mut seen = Vec::new();
    let fired = poll(Duration::from_secs(120), || {
        seen = vmalert_alerts(&vmalert.url);
        (seen == want).then_some(())
    });
    if fired.is_none() {
        failures.push(format!(
            "vmalert alerts\n    expected {want:?}\n    got      {seen:?}\n    log: {}",
            vmalert.log()
        ));
    }
    eprintln!(
        "{} invocations; {panels} panel queries and {} alert expressions checked; vmalert: {seen:?}",
        plan.len(),
        parsed.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn promtool_checks_the_rules_and_runs_their_unit_tests() {
    if !backends::enabled() {
        return;
    }
    promtool_check_and_test(
        &repo().join("docs/alerts"),
        "gastown.rules.yml",
        "gastown.rules.test.yml",
    );
}

/// The offline parts: the quantile model, the rules rewrite, the Grafana substitution.
#[test]
fn the_expectation_model_and_the_rewrites_are_right() {
    // Hand-computed: 1 call in (0, 5], 1 in (2500, 5000], 3 in (7500, 10000]; rank 4.75.
    let durations = [0.2, 3000.0, 9000.0, 9000.0, 9000.0];
    let p95 = quantile(0.95, &durations);
    assert!((p95 - (7500.0 + 2500.0 * 2.75 / 3.0)).abs() < 1e-9, "{p95}");
    assert!((quantile(0.5, &[400.0; 10]) - 375.0).abs() < 1e-9);
    assert_eq!(quantile(0.5, &[20000.0]), 10000.0, "+Inf: the last bound");

    let load = plan();
    assert!(load.len() >= 50);
    // With the failing primes' bd lookups at 1 ms each (any duration under 250 ms gives the
    // same quantiles): 45 calls, 12 failed.
    let mut sent: Vec<Sent> = load
        .iter()
        .filter_map(|i| match i {
            Invocation::Emit(s) => Some(s.clone()),
            Invocation::Prime { ok: false, .. } => Some(Sent::new(
                "bd.call",
                &[("subcommand", "list"), ("duration_ms", "1")],
                false,
            )),
            Invocation::Prime { .. } => None,
        })
        .collect();
    sent.push(Sent::new("prime", &[("role", MAYOR)], false));
    assert_eq!(bd_durations(&sent, all).len(), 45);
    assert!((bd_error_ratio(&sent) - 12.0 / 45.0).abs() < 1e-12);
    let p95 = quantile(0.95, &bd_durations(&sent, all));
    assert!((p95 - (7500.0 + 2500.0 * (42.75 - 24.0) / 21.0)).abs() < 1e-9);
    assert_eq!(cost_by(&sent, &[]), scalar(232.0));
    let alerts = expected_alerts(&sent);
    assert_eq!(alerts["GasTownDailySpendHigh"], scalar(232.0));
    assert_eq!(
        alerts["GasTownPrimeFailures"],
        Series::new(),
        "1 mayor failure"
    );
    assert_eq!(alerts["GasTownBdSlow"].len(), 1);

    let rules = "groups:\n  - name: gastown\n    rules:\n      - alert: A\n        expr: up > 0\n        for: 10m\n        labels: { severity: warning }\n";
    assert_eq!(
        with_short_for(rules, "4s"),
        "groups:\n  - name: gastown-short-for\n    rules:\n      - alert: A\n        expr: up > 0\n        for: 4s\n        labels: { severity: warning }\n"
    );
    assert_eq!(
        grafana_expr("sum(increase(x[$__range]))"),
        "sum(increase(x[86400s]))"
    );
}
