//! The environment variables a child process needs to join gt's telemetry.
//!
//! One job: decide, from an injectable lookup, which of `OTEL_RESOURCE_ATTRIBUTES`,
//! `BD_OTEL_METRICS_URL`, `BD_OTEL_LOGS_URL` and `GT_RUN` a child gets and with what value.
//! It must not write the environment (see [`crate::process_env`]) nor spawn anything.

use telemetry_core::env::{
    BD_OTEL_LOGS_URL, BD_OTEL_METRICS_URL, GT_RUN, OTEL_RESOURCE_ATTRIBUTES,
};
use telemetry_core::{Config, InitError};

use crate::identity::non_empty;
use crate::resource_attributes::resource_attributes_from_lookup;

/// The variables for a child, or the configuration error that disables telemetry.
///
/// Empty when telemetry is off (neither `GT_OTEL_METRICS_URL` nor `GT_OTEL_LOGS_URL` set, or
/// `OTEL_SDK_DISABLED=true`). When on, both URL variables are present: the one not configured
/// gets telemetry-core's default, exactly what gt itself exports to.
pub(crate) fn try_otel_env(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, InitError> {
    let config = Config::from_lookup(&lookup)?;
    let (Some(metrics_url), Some(logs_url)) = (config.metrics_url, config.logs_url) else {
        return Ok(Vec::new());
    };
    let mut env = Vec::with_capacity(4);
    if let Some(attrs) = resource_attributes_from_lookup(&lookup) {
        env.push((OTEL_RESOURCE_ATTRIBUTES.to_owned(), attrs));
    }
    env.push((BD_OTEL_METRICS_URL.to_owned(), metrics_url));
    env.push((BD_OTEL_LOGS_URL.to_owned(), logs_url));
    if let Some(run) = non_empty(&lookup, GT_RUN) {
        env.push((GT_RUN.to_owned(), run));
    }
    Ok(env)
}

/// The `(name, value)` pairs to add to a child's environment, from the variables `lookup`
/// returns: `OTEL_RESOURCE_ATTRIBUTES`, `BD_OTEL_METRICS_URL`, `BD_OTEL_LOGS_URL`, `GT_RUN`,
/// in that order, each only when it has a value.
///
/// Empty when telemetry is off: either URL being set turns it on, and the other URL is then
/// telemetry-core's default. An invalid telemetry configuration (which makes
/// `telemetry_core::init` refuse to start) also yields an empty list, so children are never
/// pointed at an endpoint gt itself rejected; [`crate::set_process_otel_attrs`] reports that
/// error instead.
#[must_use]
pub fn otel_env_for_subprocess_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    try_otel_env(lookup).unwrap_or_default()
}

/// [`otel_env_for_subprocess_from_lookup`] over the process environment (a variable that is not
/// valid Unicode counts as unset).
#[must_use]
pub fn otel_env_for_subprocess() -> Vec<(String, String)> {
    otel_env_for_subprocess_from_lookup(|key| std::env::var(key).ok())
}
