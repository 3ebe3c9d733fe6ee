//! The W3C trace context in the environment: `TRACEPARENT`, `TRACESTATE`, `BAGGAGE`.
//!
//! One job: read the carrier a process was started with ([`extract_from_lookup`]) and write
//! the one a child gets ([`inject`]), through the SDK's W3C propagators (the environment
//! variable carrier is the HTTP one with upper-case names). A child's `TRACEPARENT` names the
//! span that started it; its `BAGGAGE` carries `gt.run_id` and the work context, so a child
//! that cannot read Gas Town's variables still learns whose work it does.
//!
//! It must not start spans nor write the environment.

use std::collections::HashMap;

use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator as _};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use telemetry_core::env::{
    BAGGAGE, GT_RUN, GT_WORK_BEAD, GT_WORK_MOL, GT_WORK_RIG, TRACEPARENT, TRACESTATE,
};

/// The carrier's variables and the header names the W3C propagators use for them.
const FIELDS: [(&str, &str); 3] = [
    (TRACEPARENT, "traceparent"),
    (TRACESTATE, "tracestate"),
    (BAGGAGE, "baggage"),
];

fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// What a process was started with.
#[derive(Debug, Clone, Default)]
pub struct Carried {
    /// The remote parent (and baggage), or an empty context.
    pub context: Context,
    /// One line when `TRACEPARENT` was set but is not a valid W3C trace context.
    pub warning: Option<String>,
}

/// Reads `TRACEPARENT`, `TRACESTATE` and `BAGGAGE` through `lookup`.
#[must_use]
pub fn extract_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Carried {
    let headers: HashMap<String, String> = FIELDS
        .iter()
        .filter_map(|(var, header)| Some(((*header).to_owned(), lookup(var)?.trim().to_owned())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let context = propagator().extract(&headers);
    let warning = headers
        .get("traceparent")
        .filter(|_| !context.span().span_context().is_valid())
        .map(|raw| {
            format!(
                "{TRACEPARENT}={:?} is not a W3C trace context (00-<32 hex>-<16 hex>-<2 hex>); \
                 ignored",
                raw.chars().take(80).collect::<String>()
            )
        });
    Carried { context, warning }
}

/// The baggage gt hands its children, read through `lookup`: `gt.run_id` from `GT_RUN` and the
/// work context from `GT_WORK_*` (each when set and not empty).
#[must_use]
pub fn baggage_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Vec<KeyValue> {
    [
        ("gt.run_id", GT_RUN),
        ("gt.work_rig", GT_WORK_RIG),
        ("gt.work_bead", GT_WORK_BEAD),
        ("gt.work_mol", GT_WORK_MOL),
    ]
    .into_iter()
    .filter_map(|(key, var)| {
        let value = lookup(var).filter(|v| !v.is_empty())?;
        Some(KeyValue::new(key, value))
    })
    .collect()
}

/// The variables that make a child a child of `cx`'s span, with `baggage` added to `cx`'s own:
/// `TRACEPARENT` (and `TRACESTATE`) when `cx` holds a valid span, `BAGGAGE` when there is any.
#[must_use]
pub fn inject(cx: &Context, baggage: Vec<KeyValue>) -> Vec<(String, String)> {
    let cx = if baggage.is_empty() {
        cx.clone()
    } else {
        let mut all: Vec<KeyValue> = cx
            .baggage()
            .iter()
            .map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone()))
            .collect();
        all.retain(|kv| !baggage.iter().any(|b| b.key == kv.key));
        all.extend(baggage);
        cx.with_baggage(all)
    };
    let mut headers: HashMap<String, String> = HashMap::new();
    propagator().inject_context(&cx, &mut headers);
    FIELDS
        .iter()
        .filter_map(|(var, header)| Some(((*var).to_owned(), headers.remove(*header)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_carrier_round_trips_and_baggage_is_added() {
        let carried = extract_from_lookup(|k| match k {
            TRACEPARENT => Some(PARENT.to_owned()),
            BAGGAGE => Some("team=a%20b".to_owned()),
            _ => None,
        });
        assert!(carried.warning.is_none());
        let sc = carried.context.span().span_context().clone();
        assert_eq!(
            sc.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        let env = inject(
            &carried.context,
            baggage_from_lookup(|k| (k == GT_WORK_BEAD).then(|| "gt-1, x=y".to_owned())),
        );
        let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get(TRACEPARENT).as_deref(), Some(PARENT));
        let baggage = get(BAGGAGE).unwrap();
        let back = extract_from_lookup(|k| (k == BAGGAGE).then(|| baggage.clone()));
        assert_eq!(
            back.context.baggage().get("team").map(|v| v.to_string()),
            Some("a b".into())
        );
        assert_eq!(
            back.context
                .baggage()
                .get("gt.work_bead")
                .map(|v| v.to_string()),
            Some("gt-1, x=y".into())
        );
    }

    #[test]
    fn an_invalid_traceparent_is_one_warning_and_no_parent() {
        for bad in [
            "00-zz-11-01",
            "garbage",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        ] {
            let carried = extract_from_lookup(|k| (k == TRACEPARENT).then(|| bad.to_owned()));
            assert!(!carried.context.span().span_context().is_valid());
            assert!(
                carried
                    .warning
                    .as_deref()
                    .is_some_and(|w| w.contains(TRACEPARENT)),
                "{bad}"
            );
        }
        assert!(extract_from_lookup(|_| None).warning.is_none());
        assert!(inject(&Context::new(), Vec::new()).is_empty());
    }
}
