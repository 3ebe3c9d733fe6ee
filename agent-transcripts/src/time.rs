//! Timestamps as transcripts write them, turned into [`SystemTime`].
//!
//! One job: parse RFC 3339 text (`2025-06-18T10:00:00.123Z`, offsets allowed) and epoch
//! milliseconds, and name the UTC day of an instant. Parsing is delegated to `jiff`; nothing
//! here reads the local time zone or the clock.

use std::time::{Duration, SystemTime};

use jiff::Timestamp;

/// Parses an RFC 3339 timestamp; `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let ts: Timestamp = text.trim().parse().ok()?;
    SystemTime::try_from(ts).ok()
}

/// Milliseconds since the Unix epoch (OpenCode's `time.created`); negative values are `None`.
pub fn from_epoch_millis(ms: i64) -> Option<SystemTime> {
    let ms = u64::try_from(ms).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

/// The UTC calendar day of `t` as `YYYY-MM-DD` (`1970-01-01` for instants jiff cannot
/// represent).
pub fn utc_day(t: SystemTime) -> String {
    match Timestamp::try_from(t) {
        Ok(ts) => ts.strftime("%Y-%m-%d").to_string(),
        Err(_) => "1970-01-01".to_string(),
    }
}

/// `t` as RFC 3339 UTC with milliseconds.
pub fn to_rfc3339(t: SystemTime) -> String {
    match Timestamp::try_from(t) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_timestamps_parse_with_fraction_and_z() {
        let t = parse_rfc3339("2025-06-18T10:00:00.123Z").expect("parses");
        let d = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after epoch");
        assert_eq!(d.as_millis(), 1_750_240_800_123);
        assert_eq!(utc_day(t), "2025-06-18");
        assert_eq!(to_rfc3339(t), "2025-06-18T10:00:00.123Z");
    }

    #[test]
    fn offsets_are_honoured_and_garbage_is_refused() {
        let a = parse_rfc3339("2025-06-18T12:00:00+02:00").expect("parses");
        let b = parse_rfc3339("2025-06-18T10:00:00Z").expect("parses");
        assert_eq!(a, b);
        assert!(parse_rfc3339("yesterday").is_none());
        assert!(parse_rfc3339("").is_none());
        assert!(from_epoch_millis(-1).is_none());
    }
}
