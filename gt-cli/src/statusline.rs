//! `gt statusline`: Claude Code's status-line command, as logic without a process.
//!
//! Claude Code runs the command configured as `statusLine` on every status update, with the
//! session's state as JSON on stdin (`session_id`, `model.id`/`model.display_name`,
//! `cost.total_cost_usd`, `context_window.used_percentage` (or `current_usage` and
//! `context_window_size`), `rate_limits.five_hour|seven_day.used_percentage` and `resets_at`
//! (Unix seconds) when the plan has them), and shows the first line it prints.
//!
//! [`parse`] reads every field on its own: a missing, mistyped or hostile field loses that field
//! only, and unreadable JSON still yields a [`Status`]. [`render`] always gives one non-empty,
//! single line with control characters removed. [`crossings`] and [`QuotaState`] decide when a
//! quota threshold ([`THRESHOLDS`]) was crossed upwards since the session's previous update, so
//! that `agent.quota_threshold` fires once per crossing.
//!
//! It must not print, read stdin, or record telemetry: the command does (see
//! `commands/statusline.rs`); this module reads or writes the small state file only when asked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use telemetry_recorder::QuotaWindow;

/// The quota thresholds, in percent, whose upward crossing is an `agent.quota_threshold` event.
pub const THRESHOLDS: [u8; 3] = [50, 80, 95];

/// The most of stdin read (a status JSON is about 1 KiB; the rest is ignored).
pub const MAX_INPUT: u64 = 256 * 1024;

/// The furthest reset shown as a countdown (the longest window is 7 days).
const MAX_RESET: Duration = Duration::from_secs(8 * 24 * 3600);

/// The longest model name shown, in characters.
const MAX_NAME: usize = 32;

/// One rate-limit window as the status JSON reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// Used, in percent (finite, not negative).
    pub used_percent: f64,
    /// When the window resets, if given.
    pub resets_at: Option<SystemTime>,
}

/// What could be read from one status JSON. Every field is `None` when absent or unusable.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Status {
    /// `session_id` (Claude Code's own session id).
    pub session_id: Option<String>,
    /// `model.id`.
    pub model_id: Option<String>,
    /// `model.display_name` (control characters removed, at most 32 characters).
    pub model_name: Option<String>,
    /// `cost.total_cost_usd`.
    pub cost_usd: Option<f64>,
    /// `context_window.used_percentage`, else computed from `current_usage` and
    /// `context_window_size`.
    pub context_used_percent: Option<f64>,
    /// `rate_limits.five_hour`.
    pub five_hour: Option<Quota>,
    /// `rate_limits.seven_day`.
    pub seven_day: Option<Quota>,
    /// The input was not a JSON object (nothing but the work context can be shown).
    pub unreadable: bool,
}

impl Status {
    /// The window `window`, if reported.
    #[must_use]
    pub fn quota(&self, window: QuotaWindow) -> Option<Quota> {
        match window {
            QuotaWindow::FiveHour => self.five_hour,
            QuotaWindow::SevenDay => self.seven_day,
        }
    }

    /// The model as recorded: its id, else its display name, else `unknown`.
    #[must_use]
    pub fn model(&self) -> &str {
        self.model_id
            .as_deref()
            .or(self.model_name.as_deref())
            .unwrap_or("unknown")
    }
}

/// Reads a status JSON. Never fails: what cannot be read is `None` (see [`Status::unreadable`]).
#[must_use]
pub fn parse(input: &[u8]) -> Status {
    let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(input) else {
        return Status {
            unreadable: true,
            ..Status::default()
        };
    };
    let root = Value::Object(root);
    let at = |path: &[&str]| path.iter().try_fold(&root, |v, k| v.get(k));
    let text = |path: &[&str]| at(path).and_then(Value::as_str).and_then(clean);
    let number = |path: &[&str]| at(path).and_then(number).filter(|n| *n >= 0.0);
    let quota = |window: &str| {
        Some(Quota {
            used_percent: number(&["rate_limits", window, "used_percentage"])?,
            resets_at: at(&["rate_limits", window, "resets_at"]).and_then(instant),
        })
    };
    let context_used_percent = number(&["context_window", "used_percentage"]).or_else(|| {
        let size = number(&["context_window", "context_window_size"]).filter(|s| *s > 0.0)?;
        let used: f64 = [
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ]
        .iter()
        .filter_map(|k| number(&["context_window", "current_usage", k]))
        .sum();
        Some(used * 100.0 / size)
    });
    Status {
        session_id: text(&["session_id"]),
        model_id: text(&["model", "id"]),
        model_name: text(&["model", "display_name"]),
        cost_usd: number(&["cost", "total_cost_usd"]),
        context_used_percent,
        five_hour: quota("five_hour"),
        seven_day: quota("seven_day"),
        unreadable: false,
    }
}

/// A finite number, or a string holding one.
fn number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// Unix seconds (a number), or an RFC 3339 time (a string).
fn instant(v: &Value) -> Option<SystemTime> {
    if let Some(secs) = number(v) {
        let secs = u64::try_from(secs as i64).ok()?;
        return SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs));
    }
    let ts: jiff::Timestamp = v.as_str()?.trim().parse().ok()?;
    SystemTime::try_from(ts).ok()
}

/// The text without control characters, trimmed, at most [`MAX_NAME`] characters; `None` when
/// nothing is left.
fn clean(s: &str) -> Option<String> {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The status line: `bead | model | ctx N% | 5h N% (resets in) | 7d N% | $cost`, each part
/// only when known (the countdown only for a reset within 8 days of `now`). Never empty, never more than one line (`gt: no status` when nothing at all
/// is known).
#[must_use]
pub fn render(status: &Status, bead: Option<&str>, now: SystemTime) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(bead) = bead.and_then(clean) {
        parts.push(bead);
    }
    if let Some(name) = status.model_name.as_ref().or(status.model_id.as_ref()) {
        parts.push(name.clone());
    }
    if let Some(ctx) = status.context_used_percent {
        parts.push(format!("ctx {}", percent(ctx)));
    }
    for (label, quota) in [("5h", status.five_hour), ("7d", status.seven_day)] {
        if let Some(q) = quota {
            let mut part = format!("{label} {}", percent(q.used_percent));
            let left = q.resets_at.and_then(|t| t.duration_since(now).ok());
            // A reset further away than the longest window (7 days) is not believable.
            if let Some(left) = left.filter(|l| *l <= MAX_RESET) {
                let _ = write!(part, " ({})", short_duration(left));
            }
            parts.push(part);
        }
    }
    if let Some(cost) = status.cost_usd {
        parts.push(format!("${:.2}", cost.min(1e9)));
    }
    if status.unreadable {
        parts.push("status unreadable".to_owned());
    }
    if parts.is_empty() {
        return "gt: no status".to_owned();
    }
    parts.join(" | ")
}

/// A whole percentage (halves round up), capped for display.
fn percent(p: f64) -> String {
    format!("{:.0}%", p.clamp(0.0, 999.0).round())
}

/// `3d4h`, `2h10m`, `7m`.
fn short_duration(d: Duration) -> String {
    let m = d.as_secs() / 60;
    let (days, hours, mins) = (m / 1440, m / 60 % 24, m % 60);
    if days > 0 {
        format!("{days}d{hours}h")
    } else if hours > 0 {
        format!("{hours}h{mins:02}m")
    } else {
        format!("{mins}m")
    }
}

/// The thresholds crossed going from `previous` to `now` (both percent): those `t` with
/// `previous < t <= now`. None without a previous value (a crossing is seen between two updates
/// of the same session) or when use went down (a window reset: the next rise fires again).
pub fn crossings(previous: Option<f64>, now: f64) -> impl Iterator<Item = u8> {
    THRESHOLDS
        .into_iter()
        .filter(move |&t| previous.is_some_and(|p| p < f64::from(t) && f64::from(t) <= now))
}

/// The last quota use seen per window for one session: the state behind [`crossings`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct QuotaState {
    /// `five_hour` use at the previous update, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub five_hour: Option<f64>,
    /// `seven_day` use at the previous update, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seven_day: Option<f64>,
}

impl QuotaState {
    /// Where `session`'s state lives: `<state_dir>/statusline/<session>.json` (the session made
    /// a safe file name as for the work ledger); `None` when it cannot name a file.
    #[must_use]
    pub fn path(state_dir: &Path, session: &str) -> Option<PathBuf> {
        let stem = work_ledger::file_stem(session).ok()?;
        Some(state_dir.join("statusline").join(format!("{stem}.json")))
    }

    /// The state at `path`; the default (nothing seen) when it is missing or unreadable.
    #[must_use]
    pub fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the state to `path` through a temporary file renamed over it (a concurrent update
    /// reads the old or the new state, never a torn one).
    ///
    /// # Errors
    /// When the directory or file cannot be written.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::work_source::write_replacing(path, &serde_json::to_vec(self).unwrap_or_default())
    }

    /// The use last seen in `window`.
    #[must_use]
    pub fn get(&self, window: QuotaWindow) -> Option<f64> {
        match window {
            QuotaWindow::FiveHour => self.five_hour,
            QuotaWindow::SevenDay => self.seven_day,
        }
    }

    /// Remembers `used` for `window`.
    pub fn set(&mut self, window: QuotaWindow, used: f64) {
        match window {
            QuotaWindow::FiveHour => self.five_hour = Some(used),
            QuotaWindow::SevenDay => self.seven_day = Some(used),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_fire_once_on_the_way_up_and_again_after_a_reset() {
        let all = |p, n| crossings(p, n).collect::<Vec<_>>();
        assert_eq!(all(None, 99.0), Vec::<u8>::new());
        assert_eq!(all(Some(40.0), 50.0), vec![50]);
        assert_eq!(all(Some(50.0), 60.0), Vec::<u8>::new());
        assert_eq!(all(Some(40.0), 96.0), vec![50, 80, 95]);
        assert_eq!(all(Some(96.0), 10.0), Vec::<u8>::new());
        assert_eq!(all(Some(10.0), 81.0), vec![50, 80]);
    }

    #[test]
    fn durations_are_short() {
        let d = |s| short_duration(Duration::from_secs(s));
        assert_eq!(d(7 * 60 + 5), "7m");
        assert_eq!(d(2 * 3600 + 10 * 60), "2h10m");
        assert_eq!(d(3 * 86400 + 4 * 3600), "3d4h");
    }

    #[test]
    fn names_lose_control_characters_and_length() {
        assert_eq!(
            clean("\u{1b}[31mOpus\n4\u{7}").as_deref(),
            Some("[31mOpus4")
        );
        assert_eq!(clean(" \t\n "), None);
        assert_eq!(clean(&"x".repeat(100)).map(|s| s.len()), Some(MAX_NAME));
    }
}
