//! Trace identity: the run id as the trace id, and span ids chosen ahead of time.
//!
//! A Gas Town run id is a UUID v4; its 16 bytes are the trace id of every span of the run, so
//! a `run.id` query and a trace view show the same work. The SDK draws a root span's trace id
//! (and every span's span id) from the provider's [`IdGenerator`]; [`RunIdGenerator`] hands out
//! ids preset on the calling thread ([`with_preset_ids`]) once, and random ones otherwise. A
//! child of a remote parent (a `TRACEPARENT` from the environment) takes the parent's trace id,
//! which the SDK does without asking the generator.
//!
//! It also holds the process's remote parent ([`set_process_parent`]): the context a
//! `TRACEPARENT` carried in, which the binary reads once at start (telemetry-subprocess's
//! carrier) and every span without a current parent continues.
//!
//! It must not start spans or read the environment.

use std::cell::Cell;
use std::sync::OnceLock;

use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt as _;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

thread_local! {
    static PRESET: Cell<(Option<TraceId>, Option<SpanId>)> = const { Cell::new((None, None)) };
}

/// The trace id of a run: the 16 bytes of its UUID (`0f1e…` with or without dashes); `None`
/// for a run id that is not 32 hex digits, or all zeros (an invalid trace id).
#[must_use]
pub fn trace_id_of_run(run_id: &str) -> Option<TraceId> {
    let hex: String = run_id.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let id = TraceId::from_hex(&hex).ok()?;
    (id != TraceId::INVALID).then_some(id)
}

/// Runs `f` with `trace` and `span` preset for the next ids this thread's spans draw: the
/// next root span started inside `f` gets `trace` as its trace id, the next span `span` as its
/// span id. Unused presets are cleared when `f` returns.
pub fn with_preset_ids<R>(
    trace: Option<TraceId>,
    span: Option<SpanId>,
    f: impl FnOnce() -> R,
) -> R {
    PRESET.with(|p| p.set((trace, span)));
    let out = f();
    PRESET.with(|p| p.set((None, None)));
    out
}

static PROCESS_PARENT: OnceLock<Context> = OnceLock::new();

/// Sets the context this process was started under (the first call wins).
pub fn set_process_parent(cx: Context) {
    let _ = PROCESS_PARENT.set(cx);
}

/// The context this process was started under; empty when none was set.
#[must_use]
pub fn process_parent() -> Context {
    PROCESS_PARENT.get().cloned().unwrap_or_default()
}

/// The context a new span or a child process descends from: the current one when it holds a
/// span, else the process's parent.
#[must_use]
pub fn current_or_process_parent() -> Context {
    let current = Context::current();
    if current.has_active_span() {
        current
    } else {
        process_parent()
    }
}

/// See the [module docs](self).
#[derive(Debug, Default)]
pub struct RunIdGenerator {
    random: RandomIdGenerator,
}

impl IdGenerator for RunIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        PRESET
            .with(|p| {
                let (trace, span) = p.get();
                p.set((None, span));
                trace
            })
            .unwrap_or_else(|| self.random.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        PRESET
            .with(|p| {
                let (trace, span) = p.get();
                p.set((trace, None));
                span
            })
            .unwrap_or_else(|| self.random.new_span_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_run_id_is_the_trace_id_and_anything_else_is_none() {
        let id = trace_id_of_run("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9").unwrap();
        assert_eq!(id.to_string(), "0f1e2d3c4b5a49788695a4b3c2d1e0f9");
        assert_eq!(trace_id_of_run("run-42"), None);
        assert_eq!(trace_id_of_run(&"0".repeat(32)), None);
    }

    #[test]
    fn presets_are_used_once_then_ids_are_random() {
        let g = RunIdGenerator::default();
        let trace = TraceId::from_hex("0f1e2d3c4b5a49788695a4b3c2d1e0f9").unwrap();
        let span = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        with_preset_ids(Some(trace), Some(span), || {
            assert_eq!(g.new_trace_id(), trace);
            assert_eq!(g.new_span_id(), span);
            assert_ne!(g.new_trace_id(), trace);
            assert_ne!(g.new_span_id(), span);
        });
        with_preset_ids(Some(trace), None, || {});
        assert_ne!(g.new_trace_id(), trace);
    }
}
