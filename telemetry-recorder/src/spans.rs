//! Spans: each recorded event in a trace, and spans that wrap work (a bd call, a prime).
//!
//! With a traces URL configured, every event the [`Recorder`](crate::Recorder) records is in a
//! span: the span current when it is recorded ([`ActiveSpan`], started by
//! [`Recorder::start_span`](crate::Recorder::start_span) around work whose children must name
//! it as their parent), which then takes the event's attributes and status; otherwise an
//! instantaneous span of its own named after the event. A span without a current parent
//! continues the process's parent (a `TRACEPARENT` it was started with), else it is a root
//! whose trace id is the run id's UUID, so `run.id` and the trace line up. Log records made
//! inside a span carry its trace and span ids (the SDK takes them from the current context).
//!
//! It must not read the environment or export anything.

use opentelemetry::logs::AnyValue;
use opentelemetry::trace::{Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, ContextGuard, KeyValue, Value};
use opentelemetry_sdk::trace::SdkTracer;
use telemetry_core::trace::{current_or_process_parent, trace_id_of_run, with_preset_ids};

/// A started span; ended by [`ActiveSpan::end`] or when dropped.
#[derive(Debug)]
pub struct ActiveSpan {
    cx: Context,
}

impl ActiveSpan {
    /// Starts `name` under the current span or the process's parent, or as a root whose trace
    /// id is `run_id`'s UUID (random when it is none).
    pub(crate) fn start(tracer: &SdkTracer, name: &'static str, run_id: Option<&str>) -> Self {
        let parent = current_or_process_parent();
        let span = if parent.span().span_context().is_valid() {
            tracer.start_with_context(name, &parent)
        } else {
            with_preset_ids(run_id.and_then(trace_id_of_run), None, || {
                tracer.start_with_context(name, &parent)
            })
        };
        Self {
            cx: parent.with_span(span),
        }
    }

    /// The context holding this span (what a child's `TRACEPARENT` names once attached).
    #[must_use]
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Makes this span current on this thread until the guard drops: events recorded and
    /// children started meanwhile are its.
    #[must_use]
    pub fn attach(&self) -> ContextGuard {
        self.cx.clone().attach()
    }

    /// Ends the span now.
    pub fn end(self) {
        self.cx.span().end();
    }
}

/// Copies a log record's attribute onto the current span, as a span attribute value.
pub(crate) fn span_value(value: &AnyValue) -> Option<Value> {
    Some(match value {
        AnyValue::String(s) => Value::String(s.clone()),
        AnyValue::Int(i) => Value::I64(*i),
        AnyValue::Double(d) => Value::F64(*d),
        AnyValue::Boolean(b) => Value::Bool(*b),
        _ => return None,
    })
}

/// Puts `attributes` and, for an error, the status on the span of `cx`.
pub(crate) fn annotate(cx: &Context, attributes: Vec<KeyValue>, error: Option<String>) {
    let span = cx.span();
    span.set_attributes(attributes);
    if let Some(message) = error {
        span.set_status(Status::error(message));
    }
}
