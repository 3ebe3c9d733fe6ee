//! Content gates: which potentially sensitive or bulky values records may carry, and how much
//! of them.
//!
//! Parsed once into [`ContentSettings`] from an injectable lookup, so tests never mutate the
//! process environment. This module only reads variables; it must not record anything, and it
//! does not decide whether telemetry is on (that is `telemetry-core`'s switch).

use std::sync::OnceLock;

use telemetry_core::env::{
    GT_LOG_AGENT_CONTENT_LIMIT, GT_LOG_AGENT_OUTPUT, GT_LOG_BD_CONTENT_LIMIT, GT_LOG_BD_OUTPUT,
    GT_LOG_MAIL_BODY, GT_LOG_PANE_CONTENT_LIMIT, GT_LOG_PANE_OUTPUT, GT_LOG_PRIME_CONTEXT,
    GT_LOG_PROMPT_KEYS,
};

/// Every variable [`ContentSettings::from_lookup`] reads, in documentation order.
pub const CONTENT_VARIABLES: &[&str] = &[
    GT_LOG_BD_OUTPUT,
    GT_LOG_BD_CONTENT_LIMIT,
    GT_LOG_AGENT_OUTPUT,
    GT_LOG_AGENT_CONTENT_LIMIT,
    GT_LOG_PANE_OUTPUT,
    GT_LOG_PANE_CONTENT_LIMIT,
    GT_LOG_MAIL_BODY,
    GT_LOG_PROMPT_KEYS,
    GT_LOG_PRIME_CONTEXT,
];

/// Default of [`GT_LOG_BD_CONTENT_LIMIT`], in bytes.
pub const DEFAULT_BD_CONTENT_LIMIT: usize = 2048;
/// Default of [`GT_LOG_AGENT_CONTENT_LIMIT`], in bytes.
pub const DEFAULT_AGENT_CONTENT_LIMIT: usize = 512;
/// Default of [`GT_LOG_PANE_CONTENT_LIMIT`], in bytes.
pub const DEFAULT_PANE_CONTENT_LIMIT: usize = 8192;
/// Fixed limit of `prompt.send` `keys`, in bytes.
pub const PROMPT_KEYS_LIMIT: usize = 256;
/// Fixed limit of `mail` `msg.body`, in bytes.
pub const MAIL_BODY_LIMIT: usize = 256;

/// A content variable holds a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A limit variable is not a whole number of bytes.
    #[error("{variable}={value:?} is not a whole number of bytes (0 disables truncation)")]
    InvalidLimit {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
    },
}

/// Which content records carry and how it is truncated.
///
/// Limits are in bytes and count the trailing `…` (see [`crate::truncate()`]); a limit of `0`
/// disables truncation. The default is everything off, limits at their documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentSettings {
    /// [`GT_LOG_BD_OUTPUT`].
    pub bd_output: bool,
    /// [`GT_LOG_BD_CONTENT_LIMIT`].
    pub bd_content_limit: usize,
    /// [`GT_LOG_PROMPT_KEYS`].
    pub prompt_keys: bool,
    /// [`GT_LOG_MAIL_BODY`].
    pub mail_body: bool,
    /// [`GT_LOG_PRIME_CONTEXT`].
    pub prime_context: bool,
    /// [`GT_LOG_AGENT_OUTPUT`].
    pub agent_output: bool,
    /// [`GT_LOG_AGENT_CONTENT_LIMIT`].
    pub agent_content_limit: usize,
    /// [`GT_LOG_PANE_OUTPUT`].
    pub pane_output: bool,
    /// [`GT_LOG_PANE_CONTENT_LIMIT`].
    pub pane_content_limit: usize,
}

impl Default for ContentSettings {
    fn default() -> Self {
        Self {
            bd_output: false,
            bd_content_limit: DEFAULT_BD_CONTENT_LIMIT,
            prompt_keys: false,
            mail_body: false,
            prime_context: false,
            agent_output: false,
            agent_content_limit: DEFAULT_AGENT_CONTENT_LIMIT,
            pane_output: false,
            pane_content_limit: DEFAULT_PANE_CONTENT_LIMIT,
        }
    }
}

impl ContentSettings {
    /// Every gate open, limits at their defaults (for tests and demonstrations).
    #[must_use]
    pub fn all_enabled() -> Self {
        Self {
            bd_output: true,
            prompt_keys: true,
            mail_body: true,
            prime_context: true,
            agent_output: true,
            pane_output: true,
            ..Self::default()
        }
    }

    /// Reads the settings through `lookup`, never failing: recording must not stop because a
    /// variable is malformed. A gate is open only for `true` (any case); an unparsable limit
    /// keeps its default. Use [`ContentSettings::try_from_lookup`] to report such values.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut settings = Self::gates(&lookup);
        settings.bd_content_limit = limit(&lookup, GT_LOG_BD_CONTENT_LIMIT)
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_BD_CONTENT_LIMIT);
        settings.agent_content_limit = limit(&lookup, GT_LOG_AGENT_CONTENT_LIMIT)
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_AGENT_CONTENT_LIMIT);
        settings.pane_content_limit = limit(&lookup, GT_LOG_PANE_CONTENT_LIMIT)
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_PANE_CONTENT_LIMIT);
        settings
    }

    /// Like [`ContentSettings::from_lookup`], but refuses an unparsable limit.
    ///
    /// # Errors
    /// [`SettingsError::InvalidLimit`] naming the first limit variable that is not a whole
    /// number of bytes.
    pub fn try_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut settings = Self::gates(&lookup);
        settings.bd_content_limit =
            limit(&lookup, GT_LOG_BD_CONTENT_LIMIT)?.unwrap_or(DEFAULT_BD_CONTENT_LIMIT);
        settings.agent_content_limit =
            limit(&lookup, GT_LOG_AGENT_CONTENT_LIMIT)?.unwrap_or(DEFAULT_AGENT_CONTENT_LIMIT);
        settings.pane_content_limit =
            limit(&lookup, GT_LOG_PANE_CONTENT_LIMIT)?.unwrap_or(DEFAULT_PANE_CONTENT_LIMIT);
        Ok(settings)
    }

    /// The process's settings, read from the environment on first use and never again.
    #[must_use]
    pub fn process() -> Self {
        static PROCESS: OnceLock<ContentSettings> = OnceLock::new();
        *PROCESS.get_or_init(|| Self::from_lookup(|k| std::env::var(k).ok()))
    }

    fn gates(lookup: &impl Fn(&str) -> Option<String>) -> Self {
        let on = |key: &str| lookup(key).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Self {
            bd_output: on(GT_LOG_BD_OUTPUT),
            prompt_keys: on(GT_LOG_PROMPT_KEYS),
            mail_body: on(GT_LOG_MAIL_BODY),
            prime_context: on(GT_LOG_PRIME_CONTEXT),
            agent_output: on(GT_LOG_AGENT_OUTPUT),
            pane_output: on(GT_LOG_PANE_OUTPUT),
            ..Self::default()
        }
    }
}

/// `Ok(None)` when unset or blank.
fn limit(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<usize>, SettingsError> {
    let Some(raw) = lookup(variable)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    raw.parse::<usize>()
        .map(Some)
        .map_err(|_| SettingsError::InvalidLimit {
            variable,
            value: raw,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn nothing_set_is_every_gate_closed_with_default_limits() {
        assert_eq!(
            ContentSettings::from_lookup(|_| None),
            ContentSettings::default()
        );
        let d = ContentSettings::default();
        assert_eq!(
            (
                d.bd_content_limit,
                d.agent_content_limit,
                d.pane_content_limit
            ),
            (2048, 512, 8192)
        );
    }

    #[test]
    fn gates_open_only_for_true() {
        let s = ContentSettings::from_lookup(lookup(&[
            (GT_LOG_BD_OUTPUT, "TRUE"),
            (GT_LOG_MAIL_BODY, "1"),
            (GT_LOG_PROMPT_KEYS, "yes"),
            (GT_LOG_AGENT_OUTPUT, " true "),
        ]));
        assert!(s.bd_output && s.agent_output);
        assert!(!s.mail_body && !s.prompt_keys && !s.pane_output && !s.prime_context);
    }

    #[test]
    fn limits_parse_and_zero_means_unlimited() {
        let s = ContentSettings::from_lookup(lookup(&[
            (GT_LOG_AGENT_CONTENT_LIMIT, "0"),
            (GT_LOG_BD_CONTENT_LIMIT, "100"),
        ]));
        assert_eq!((s.agent_content_limit, s.bd_content_limit), (0, 100));
    }

    #[test]
    fn malformed_limit_keeps_default_but_try_reports_it() {
        let vars = lookup(&[(GT_LOG_PANE_CONTENT_LIMIT, "8k")]);
        assert_eq!(ContentSettings::from_lookup(&vars).pane_content_limit, 8192);
        let err = ContentSettings::try_from_lookup(&vars).unwrap_err();
        assert_eq!(
            err,
            SettingsError::InvalidLimit {
                variable: GT_LOG_PANE_CONTENT_LIMIT,
                value: "8k".into()
            }
        );
        assert!(err.to_string().contains(GT_LOG_PANE_CONTENT_LIMIT));
    }
}
