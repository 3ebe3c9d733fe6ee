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
//! A [`TimedSpan`] is a span whose times are known only afterwards (an agent's turn or tool
//! call read from its transcript): [`Recorder::record_timed_span`](crate::Recorder::record_timed_span)
//! makes it with those times, under a parent given explicitly, and with a span id chosen by
//! the caller (deterministic, so that a span made twice is the same span).
//!
//! It must not read the environment or export anything.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::logs::AnyValue;
use opentelemetry::trace::{
    Span as _, SpanId, SpanKind, Status, TraceContextExt as _, TraceId, Tracer as _,
};
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

/// A span with times of its own, made at once by
/// [`Recorder::record_timed_span`](crate::Recorder::record_timed_span).
#[derive(Debug, Clone)]
pub struct TimedSpan {
    /// The span's name.
    pub name: Cow<'static, str>,
    /// `SpanKind` (a model request is a client call; a tool run is internal).
    pub kind: SpanKind,
    /// When it started.
    pub start: SystemTime,
    /// When it ended (a time before `start` is taken as `start`).
    pub end: SystemTime,
    /// Its attributes.
    pub attributes: Vec<KeyValue>,
    /// Its span id; random when `None` (or invalid).
    pub span_id: Option<SpanId>,
    /// Its trace id when it is a root (the parent holds no span); else the run id's UUID, else
    /// random.
    pub root_trace_id: Option<TraceId>,
    /// An error message: the span's status is then an error.
    pub error: Option<String>,
}

impl TimedSpan {
    /// Starts and ends `self` under `parent` (a root when `parent` holds no valid span): the
    /// context holding it, for children.
    pub(crate) fn record(self, tracer: &SdkTracer, parent: &Context) -> Context {
        let root = !parent.span().span_context().is_valid();
        let span_id = self.span_id.filter(|id| *id != SpanId::INVALID);
        let trace_id = self.root_trace_id.filter(|_| root);
        let builder = tracer
            .span_builder(self.name)
            .with_kind(self.kind)
            .with_start_time(self.start)
            .with_attributes(self.attributes);
        let mut span = with_preset_ids(trace_id, span_id, || {
            builder.start_with_context(tracer, parent)
        });
        if let Some(message) = self.error {
            span.set_status(Status::error(message));
        }
        span.end_with_timestamp(self.end.max(self.start));
        parent.with_span(span)
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
