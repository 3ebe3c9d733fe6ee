//! A rig's merge queue from the answer of a `bd list --json` query.
//!
//! [`DEFAULT_QUERY`] is what the Go refinery reads as its merge queue (`Manager.Queue`: open
//! issues labelled `gt:merge-request`). Only issues whose `status` is `open` count, as the Go
//! refinery filters defensively too; an issue without a readable `created_at` counts in the
//! depth but not in the age.

use std::time::{Duration, SystemTime};

/// The `bd` arguments of the default queue query.
pub const DEFAULT_QUERY: &[&str] = &[
    "list",
    "--json",
    "--status",
    "open",
    "--label",
    "gt:merge-request",
];

/// One sample of a merge queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSample {
    /// Open items.
    pub depth: u64,
    /// Age of the oldest open item (`None` when the queue is empty or no item has a time).
    pub oldest_age: Option<Duration>,
}

/// Why bd's answer could not be read as a queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The answer is not a JSON array of issues.
    #[error("bd's answer is not a JSON list of issues: {0}")]
    NotAList(String),
}

#[derive(serde::Deserialize)]
struct Issue {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
}

/// Reads `answer` (stdout of the queue query) as the queue at `now`. An empty answer is an
/// empty queue (bd prints nothing when nothing matches).
///
/// # Errors
/// [`QueueError::NotAList`] when the answer is not a JSON array of objects.
pub fn sample(answer: &[u8], now: SystemTime) -> Result<QueueSample, QueueError> {
    if answer.iter().all(u8::is_ascii_whitespace) {
        return Ok(QueueSample {
            depth: 0,
            oldest_age: None,
        });
    }
    let issues: Vec<Issue> =
        serde_json::from_slice(answer).map_err(|e| QueueError::NotAList(e.to_string()))?;
    let open = issues
        .iter()
        .filter(|i| i.status.as_deref().is_none_or(|s| s == "open"));
    let mut depth = 0;
    let mut oldest: Option<Duration> = None;
    for issue in open {
        depth += 1;
        let age = issue
            .created_at
            .as_deref()
            .and_then(parse_time)
            .map(|t| now.duration_since(t).unwrap_or_default());
        if let Some(age) = age {
            oldest = Some(oldest.map_or(age, |o| o.max(age)));
        }
    }
    Ok(QueueSample {
        depth,
        oldest_age: oldest,
    })
}

/// RFC 3339 (what bd writes), else a bare date (the Go refinery's fallback).
fn parse_time(text: &str) -> Option<SystemTime> {
    let ts = match text.parse::<jiff::Timestamp>() {
        Ok(ts) => ts,
        Err(_) => {
            let date: jiff::civil::Date = text.parse().ok()?;
            jiff::tz::TimeZone::UTC
                .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .ok()?
        }
    };
    SystemTime::try_from(ts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        parse_time(rfc3339).unwrap()
    }

    #[test]
    fn depth_counts_open_items_and_age_is_the_oldest() {
        let answer = br#"[
            {"id":"gt-1","status":"open","created_at":"2026-11-30T10:00:00Z"},
            {"id":"gt-2","status":"open","created_at":"2026-11-30T09:00:00+00:00"},
            {"id":"gt-3","status":"closed","created_at":"2026-01-01T00:00:00Z"},
            {"id":"gt-4","status":"open"}
        ]"#;
        let s = sample(answer, at("2026-11-30T10:30:00Z")).unwrap();
        assert_eq!(s.depth, 3);
        assert_eq!(s.oldest_age, Some(Duration::from_secs(90 * 60)));
    }

    #[test]
    fn empty_answers_are_empty_queues_and_garbage_is_an_error() {
        let now = SystemTime::now();
        assert_eq!(sample(b"", now).unwrap().depth, 0);
        assert_eq!(sample(b"[]\n", now).unwrap().oldest_age, None);
        assert!(sample(b"Error: no database", now).is_err());
    }

    #[test]
    fn a_bare_date_is_midnight_utc_and_the_future_is_age_zero() {
        let s = sample(
            br#"[{"status":"open","created_at":"2026-11-30"}]"#,
            at("2026-11-30T01:00:00Z"),
        )
        .unwrap();
        assert_eq!(s.oldest_age, Some(Duration::from_secs(3600)));
        let s = sample(
            br#"[{"status":"open","created_at":"2030-01-01T00:00:00Z"}]"#,
            at("2026-11-30T01:00:00Z"),
        )
        .unwrap();
        assert_eq!(s.oldest_age, Some(Duration::ZERO));
    }
}
