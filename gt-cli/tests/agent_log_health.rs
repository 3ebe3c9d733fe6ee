//! agent-log's own health at the receiver: the lag from a transcript record's timestamp to its
//! confirmed export (`gastown.agent_log.lag_seconds`), the lines it skipped by reason and the
//! usages it could not price, with their tokens (published with the token counters from the
//! checkpoint, so they are exact like them).

mod agent_log_common;
mod support;

use std::time::{Duration, SystemTime};

use agent_log_common::{Running, Town, WAIT, append, assistant, wait_counts};
use otlp_capture::{MetricPoint, PointValue, Receiver, Value};
use serde_json::json;

fn attr<'a>(point: &'a MetricPoint, key: &str) -> Option<&'a str> {
    point.attributes.iter().find_map(|(k, v)| match v {
        Value::Str(s) if k == key => Some(s.as_str()),
        _ => None,
    })
}

/// The latest value of counter `name` whose attribute `key` is `value`.
fn latest(rx: &Receiver, name: &str, key: &str, value: &str) -> Option<i64> {
    rx.metrics()
        .iter()
        .filter(|m| m.name == name && attr(m, key) == Some(value))
        .max_by_key(|m| m.time_unix_nano)
        .and_then(|m| match m.value {
            PointValue::Int(n) => Some(n),
            _ => None,
        })
}

#[test]
fn lag_skipped_lines_and_unpriced_usages_reach_the_receiver() {
    let town = Town::new();
    let transcript = town.project().join("sess-a.jsonl");
    // Written a minute ago: the lag is at least that.
    let ts = agent_transcripts::time::to_rfc3339(SystemTime::now() - Duration::from_secs(60));
    let line = |i: usize, model: &str| {
        assistant(
            &ts,
            &format!("msg_{i}"),
            &format!("req_{i}"),
            model,
            json!([{"type": "text", "text": format!("answer {i}")}]),
            json!({"input_tokens": 100, "output_tokens": 10 * (i + 1)}),
        )
    };
    let text = [
        line(0, "claude-sonnet-4-5"),
        "not json {".to_owned(),
        line(1, "no-such-model-9"),
        "[also not json".to_owned(),
        line(2, "no-such-model-9"),
    ]
    .join("\n")
        + "\n";
    append(&transcript, &text);
    let rx = Receiver::start().unwrap();
    let mut cmd = town.follow("gt-health", &rx.url("/v1/logs"), &rx);
    cmd.env("GT_LOG_AGENT_OUTPUT", "false");
    let running = Running::start(&mut cmd, town.dir.path().join("health.stderr"));
    wait_counts(&rx, 3, 0, &|| running.stderr());

    let want = [
        (
            "gastown.agent_log.unpriced_usages.total",
            "model",
            "no-such-model-9",
            2,
        ),
        // 100 + 20 and 100 + 30 tokens.
        (
            "gastown.agent_log.unpriced_tokens.total",
            "model",
            "no-such-model-9",
            250,
        ),
        (
            "gastown.agent_log.skipped_lines.total",
            "reason",
            "invalid_json",
            2,
        ),
    ];
    for (name, key, value, n) in want {
        let got = rx.wait_until(WAIT, |rx| {
            latest(rx, name, key, value).filter(|got| *got == n)
        });
        assert!(
            got.is_some(),
            "{name}{{{key}={value}}}: want {n}, got {:?}\n{}",
            latest(&rx, name, key, value),
            running.stderr()
        );
    }
    assert_eq!(
        latest(
            &rx,
            "gastown.agent_log.unpriced_usages.total",
            "model",
            "claude-sonnet-4-5"
        ),
        None,
        "a priced model is not counted"
    );

    let lag = rx.wait_until(WAIT, |rx| {
        rx.metrics()
            .iter()
            .filter(|m| m.name == "gastown.agent_log.lag_seconds")
            .find_map(|m| match m.value {
                PointValue::Histogram {
                    count,
                    sum: Some(sum),
                    ..
                } if count >= 3 => Some((count, sum)),
                _ => None,
            })
    });
    let (count, sum) = lag.unwrap_or_else(|| panic!("no lag histogram\n{}", running.stderr()));
    #[allow(clippy::cast_precision_loss, reason = "a handful of records")]
    let mean = sum / count as f64;
    assert!(
        (59.0..3600.0).contains(&mean),
        "the lag runs from the record's own time: mean {mean} s over {count}"
    );
}
