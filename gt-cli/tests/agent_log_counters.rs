//! agent-log's token counters, read back the way dashboards read them: `increase()` from the
//! shared VictoriaMetrics (`GT_IT_BACKENDS=1`, 127.0.0.1:8428; it starts nothing).
//!
//! The counters are kept in agent-log's checkpoint and published whole after each checkpoint
//! (agent-log/src/sink.rs, "Counters"), so a `kill -9` loses no token and a batch sent again
//! after a failed export counts none twice. The logs go to a capture receiver (flapping in the
//! second test); the metrics go to the real VictoriaMetrics.

mod agent_log_common;
mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agent_log_common::{Running, Town, WAIT, append, assistant, wait_counts};
use otlp_capture::{Mode, Receiver};
use serde_json::json;
use support::backends::{enabled as backends_enabled, poll, run_tag};

const VM: &str = "http://127.0.0.1:8428";
const METRICS_URL: &str = "http://127.0.0.1:8428/opentelemetry/api/v1/push";

/// Input tokens of message `i`: values in the thousands, as real requests have.
fn input_tokens(i: usize) -> usize {
    1000 + 7 * i
}

/// Appends messages `from..to` (one assistant line each, with usage) to the transcript.
fn write_messages(path: &Path, from: usize, to: usize) {
    let ts = agent_transcripts::time::to_rfc3339(std::time::SystemTime::now());
    let mut text = String::new();
    for i in from..to {
        text.push_str(&assistant(
            &ts,
            &format!("msg_{i}"),
            &format!("req_{i}"),
            "claude-sonnet-4-5",
            json!([{"type": "text", "text": format!("answer {i}")}]),
            json!({"input_tokens": input_tokens(i), "output_tokens": 10 + i}),
        ));
        text.push('\n');
    }
    append(path, &text);
}

/// `gt agent-log` for `session`, logs to `logs`, metrics to the real VictoriaMetrics under
/// `tag`, the host's counter store in the town, metrics exported every `interval_ms`.
fn follow(town: &Town, session: &str, logs: &Receiver, tag: &str, interval_ms: u64) -> Running {
    let mut cmd = town.follow(session, &logs.url("/v1/logs"), logs);
    cmd.env("GT_OTEL_METRICS_URL", METRICS_URL)
        .env("GT_STATE_DIR", town.state().join("host"))
        .env("OTEL_RESOURCE_ATTRIBUTES", format!("test.run={tag}"))
        .env("GT_LOG_AGENT_OUTPUT", "false")
        .env("OTEL_METRIC_EXPORT_INTERVAL", interval_ms.to_string());
    Running::start(&mut cmd, town.dir.path().join(format!("{tag}.stderr")))
}

/// `sum(increase(gastown_token_usage_total{type="input"}[1h]))` for `tag` once it equals
/// `want` (or the last value seen at the deadline).
fn input_increase(tag: &str, want: f64) -> Option<f64> {
    let query = format!(
        "sum(increase(gastown_token_usage_total{{type=\"input\",test_run=\"{tag}\"}}[1h]))"
    );
    let mut last = None;
    let found = poll(WAIT, || {
        let value = support::backends::vm_scalar(VM, &query)?;
        last = Some(value);
        (value == want).then_some(value)
    });
    found.or(last)
}

fn usage_records(rx: &Receiver) -> usize {
    rx.logs()
        .iter()
        .filter(|r| r.body_str() == Some("agent.usage"))
        .count()
}

#[test]
fn kill_9_between_two_backlogs_of_150_loses_and_doubles_no_input_token() {
    if !backends_enabled() {
        return;
    }
    let tag = run_tag("agent-log-kill9");
    let town = Town::new();
    let transcript = town.project().join("sess-a.jsonl");
    write_messages(&transcript, 0, 150);
    let logs = Receiver::start().unwrap();

    // First run: metrics are exported only every 10 minutes, so none leaves before the kill:
    // counters held in memory would be lost with the process.
    let mut first = follow(&town, "gt-kill9", &logs, &tag, 600_000);
    wait_counts(&logs, 150, 0, &|| first.stderr());
    let checkpointed = poll(WAIT, || {
        let cp = town.read_checkpoint("gt-kill9")?;
        (cp.to_string().contains("msg_149") || cp["totals"]["usage_records"] == 150).then_some(())
    });
    assert!(
        checkpointed.is_some(),
        "checkpoint: {:?}",
        town.read_checkpoint("gt-kill9")
    );
    first.kill9();

    write_messages(&transcript, 150, 300);
    let second = follow(&town, "gt-kill9", &logs, &tag, 500);
    wait_counts(&logs, 300, 0, &|| second.stderr());

    let want: usize = (0..300).map(input_tokens).sum();
    assert_eq!(
        input_increase(&tag, want as f64),
        Some(want as f64),
        "increase() of input tokens over 2 x 150 messages with a kill -9 between\n{}",
        second.stderr()
    );
}

#[test]
fn a_logs_backend_flapping_500_leaves_token_totals_exact() {
    if !backends_enabled() {
        return;
    }
    let tag = run_tag("agent-log-flap");
    let town = Town::new();
    let transcript = town.project().join("sess-a.jsonl");
    // Several batches (a batch is at most 400 records), so failures hit the middle of the stream.
    write_messages(&transcript, 0, 1200);
    let logs = Arc::new(Receiver::start().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // The backend stores each batch and answers 500 every other 300 ms: the exporter's
    // confirmation fails and the batch is read and sent again.
    let flapper = {
        let (logs, stop) = (Arc::clone(&logs), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut failing = true;
            while !stop.load(Ordering::Relaxed) {
                logs.set_mode(if failing {
                    Mode::Status(500)
                } else {
                    Mode::Accept
                });
                failing = !failing;
                std::thread::sleep(Duration::from_millis(300));
            }
            logs.set_mode(Mode::Accept);
        })
    };
    let running = follow(&town, "gt-flap", &logs, &tag, 500);
    wait_counts(&logs, 1200, 0, &|| running.stderr());
    stop.store(true, Ordering::Relaxed);
    flapper.join().unwrap();
    let delivered = usage_records(&logs);

    let want: usize = (0..1200).map(input_tokens).sum();
    assert_eq!(
        input_increase(&tag, want as f64),
        Some(want as f64),
        "increase() of input tokens with a flapping logs backend ({delivered} usage records \
         delivered for 1200 messages)\n{}",
        running.stderr()
    );
    assert!(
        delivered > 1200,
        "the backend should have received some batches twice ({delivered})"
    );
}

#[test]
fn replay_publishes_the_exact_token_totals() {
    if !backends_enabled() {
        return;
    }
    let tag = run_tag("agent-log-replay-counters");
    let town = Town::new();
    let transcript = town.dir.path().join("sess-a.jsonl");
    write_messages(&transcript, 0, 40);
    let logs = Receiver::start().unwrap();
    let out = town
        .gt()
        .args(["agent-log", "replay", "--session", "gt-replay"])
        .arg(&transcript)
        .env("GT_OTEL_LOGS_URL", logs.url("/v1/logs"))
        .env("GT_OTEL_METRICS_URL", METRICS_URL)
        .env("GT_STATE_DIR", town.state().join("host"))
        .env("OTEL_RESOURCE_ATTRIBUTES", format!("test.run={tag}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: usize = (0..40).map(input_tokens).sum();
    assert_eq!(input_increase(&tag, want as f64), Some(want as f64));
}
