//! The environment variables a child process needs to join gt's telemetry.
//!
//! One job: decide, from an injectable lookup, which of `OTEL_RESOURCE_ATTRIBUTES`,
//! `BD_OTEL_METRICS_URL`, `BD_OTEL_LOGS_URL`, `GT_RUN` and `GT_WORK_*` a child gets and with
//! what value. The work context changes while gt lives, so the caller passes its freshly
//! resolved value through the lookup (gt overlays it on its environment).
//! It must not write the environment (see [`crate::process_env`]) nor spawn anything.

use telemetry_core::env::{
    BD_OTEL_LOGS_URL, BD_OTEL_METRICS_URL, GT_RUN, GT_WORK_BEAD, GT_WORK_MOL, GT_WORK_RIG,
    OTEL_RESOURCE_ATTRIBUTES,
};
use telemetry_core::{Config, InitError};

use crate::identity::non_empty;
use crate::resource_attributes::resource_attributes_from_lookup;

/// Whether the work context goes into the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// For a child: `gt.work_*` in `OTEL_RESOURCE_ATTRIBUTES` and the three `GT_WORK_*` (each
    /// one the lookup has, an empty value included, so a cleared context reaches the child).
    Include,
    /// For gt's own environment: neither (the context is not the process's identity).
    Exclude,
}

/// The variables for a child, or the configuration error that disables telemetry.
///
/// Empty when telemetry is off (neither `GT_OTEL_METRICS_URL` nor `GT_OTEL_LOGS_URL` set, or
/// `OTEL_SDK_DISABLED=true`). When on, both URL variables are present: the one not configured
/// gets telemetry-core's default, exactly what gt itself exports to.
pub(crate) fn try_otel_env(
    lookup: impl Fn(&str) -> Option<String>,
    work: Work,
) -> Result<Vec<(String, String)>, InitError> {
    let config = Config::from_lookup(&lookup)?;
    let (Some(metrics_url), Some(logs_url)) = (config.metrics_url, config.logs_url) else {
        return Ok(Vec::new());
    };
    let mut env = Vec::with_capacity(7);
    let attrs = match work {
        Work::Include => resource_attributes_from_lookup(&lookup),
        Work::Exclude => resource_attributes_from_lookup(|key| {
            [GT_WORK_RIG, GT_WORK_BEAD, GT_WORK_MOL]
                .contains(&key)
                .then(String::new)
                .or_else(|| lookup(key))
        }),
    };
    if let Some(attrs) = attrs {
        env.push((OTEL_RESOURCE_ATTRIBUTES.to_owned(), attrs));
    }
    env.push((BD_OTEL_METRICS_URL.to_owned(), metrics_url));
    env.push((BD_OTEL_LOGS_URL.to_owned(), logs_url));
    if let Some(run) = non_empty(&lookup, GT_RUN) {
        env.push((GT_RUN.to_owned(), run));
    }
    if work == Work::Include {
        for name in [GT_WORK_RIG, GT_WORK_BEAD, GT_WORK_MOL] {
            if let Some(value) = lookup(name) {
                env.push((name.to_owned(), value));
            }
        }
    }
    Ok(env)
}

/// The `(name, value)` pairs to add to a child's environment, from the variables `lookup`
/// returns: `OTEL_RESOURCE_ATTRIBUTES`, `BD_OTEL_METRICS_URL`, `BD_OTEL_LOGS_URL`, `GT_RUN`,
/// in that order, each only when it has a value; then `GT_WORK_RIG`, `GT_WORK_BEAD`,
/// `GT_WORK_MOL`, each that `lookup` returns, even empty (a cleared context must replace a
/// stale inherited one).
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
    try_otel_env(lookup, Work::Include).unwrap_or_default()
}

/// [`otel_env_for_subprocess_from_lookup`] over the process environment (a variable that is not
/// valid Unicode counts as unset).
#[must_use]
pub fn otel_env_for_subprocess() -> Vec<(String, String)> {
    otel_env_for_subprocess_from_lookup(|key| std::env::var(key).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry_core::env::GT_OTEL_LOGS_URL;
    use telemetry_core::resource::parse_resource_attributes;

    #[test]
    fn a_child_gets_the_work_context_of_the_lookup_even_when_cleared() {
        let env = otel_env_for_subprocess_from_lookup(|k| match k {
            GT_OTEL_LOGS_URL => Some("http://127.0.0.1:1/l".into()),
            GT_WORK_RIG => Some("rig".into()),
            GT_WORK_BEAD => Some("new".into()),
            GT_WORK_MOL => Some(String::new()),
            OTEL_RESOURCE_ATTRIBUTES => Some("gt.work_bead=old,gt.work_mol=old".into()),
            _ => None,
        });
        let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(get(GT_WORK_BEAD), Some("new"));
        assert_eq!(get(GT_WORK_MOL), Some(""));
        let attrs = parse_resource_attributes(get(OTEL_RESOURCE_ATTRIBUTES).unwrap());
        assert_eq!(
            attrs,
            vec![
                ("gt.work_rig".to_owned(), "rig".to_owned()),
                ("gt.work_bead".to_owned(), "new".to_owned())
            ]
        );
    }
}
