//! Past `CARDINALITY_LIMIT` attribute sets an instrument folds newcomers into one overflow
//! series (`otel.metric.overflow = true`); nothing is lost from the totals.

mod common;

use common::Harness;
use otlp_capture::{MetricPoint, PointValue, Value};
use telemetry_core::CARDINALITY_LIMIT;
use telemetry_recorder::ContentSettings;

#[test]
fn sessions_past_the_limit_fold_into_the_overflow_series_and_totals_are_kept() {
    let h = Harness::start();
    let r = h.recorder(ContentSettings::all_enabled());
    let sessions = CARDINALITY_LIMIT + 50;
    for i in 0..sessions {
        r.pane_output(&format!("gt-session-{i}"), ".");
    }
    let (_, metrics) = h.finish();

    let points: Vec<_> = metrics
        .iter()
        .filter(|p| p.name == "gastown.pane.output.total" && !p.is_start_point())
        .collect();
    let overflow = Value::Bool(true);
    let (folded, kept): (Vec<&&MetricPoint>, Vec<&&MetricPoint>) = points
        .iter()
        .partition(|p| p.attr("otel.metric.overflow") == Some(&overflow));
    assert!(
        kept.len() <= CARDINALITY_LIMIT,
        "{} series kept",
        kept.len()
    );
    assert!(kept.iter().all(|p| p.str_attr("session").is_some()));
    assert_eq!(folded.len(), 1, "one overflow series");
    assert_eq!(
        folded[0].attributes.len(),
        1,
        "the overflow series carries only the flag"
    );
    let total: i64 = points
        .iter()
        .map(|p| match p.value {
            PointValue::Int(n) => n,
            ref other => panic!("not an int sum: {other:?}"),
        })
        .sum();
    assert_eq!(
        total,
        i64::try_from(sessions).unwrap(),
        "every increment is counted"
    );
    let PointValue::Int(in_overflow) = folded[0].value else {
        unreachable!()
    };
    assert_eq!(in_overflow, i64::try_from(sessions - kept.len()).unwrap());
}
