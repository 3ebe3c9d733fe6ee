//! Turning a request body into flat records: which signal it is, protobuf or
//! JSON, and flattening the OTLP tree.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{self as pb, metric::Data, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::Signal;
use crate::records::{LogRecord, MetricKind, MetricPoint, PointValue, Span, Temporality, Value};

/// What a body decoded to.
pub(crate) enum Decoded {
    Logs(Vec<LogRecord>),
    Metrics(Vec<MetricPoint>),
    Traces(Vec<Span>),
    /// Compressed, or not OTLP at all.
    Undecodable,
}

impl Decoded {
    pub(crate) fn signal(&self) -> Option<Signal> {
        match self {
            Decoded::Logs(_) => Some(Signal::Logs),
            Decoded::Metrics(_) => Some(Signal::Metrics),
            Decoded::Traces(_) => Some(Signal::Traces),
            Decoded::Undecodable => None,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Decoded::Logs(v) => v.is_empty(),
            Decoded::Metrics(v) => v.is_empty(),
            Decoded::Traces(v) => v.is_empty(),
            Decoded::Undecodable => true,
        }
    }
}

/// The signal a path names, for the paths exporters are configured with
/// (`/v1/logs`, `/insert/opentelemetry/v1/logs`, `/opentelemetry/api/v1/push`).
fn signal_from_path(path: &str) -> Option<Signal> {
    let path = path
        .split('?')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if path.contains("logs") {
        Some(Signal::Logs)
    } else if path.contains("metrics") || path.ends_with("/api/v1/push") {
        Some(Signal::Metrics)
    } else if path.contains("traces") {
        Some(Signal::Traces)
    } else {
        None
    }
}

/// Decodes `body`. A path that names a signal is trusted; otherwise each
/// signal is tried and the first that yields records wins, preferring one
/// that re-encodes to the same length (protobuf decoders skip unknown
/// fields, so a wrong type usually loses bytes).
pub(crate) fn decode(
    path: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: &[u8],
) -> Decoded {
    if encoding.is_some_and(|e| !e.eq_ignore_ascii_case("identity")) {
        return Decoded::Undecodable;
    }
    let json = content_type.to_ascii_lowercase().contains("json");
    if let Some(signal) = signal_from_path(path) {
        return decode_as(signal, path, json, body).map_or(Decoded::Undecodable, |(d, _)| d);
    }
    let mut fallback = Decoded::Undecodable;
    for signal in [Signal::Logs, Signal::Metrics, Signal::Traces] {
        match decode_as(signal, path, json, body) {
            Some((decoded, _)) if decoded.is_empty() => {}
            Some((decoded, true)) => return decoded,
            Some((decoded, false)) if fallback.is_empty() => fallback = decoded,
            _ => {}
        }
    }
    fallback
}

/// The decoded records and whether decoding kept every byte.
fn decode_as(signal: Signal, path: &str, json: bool, body: &[u8]) -> Option<(Decoded, bool)> {
    Some(match signal {
        Signal::Logs => {
            let (req, lossless) =
                parse::<ExportLogsServiceRequest>(json, body, |b| serde_json::from_slice(b))?;
            (Decoded::Logs(flatten_logs(path, req)), lossless)
        }
        Signal::Metrics => {
            let (req, lossless) =
                parse::<ExportMetricsServiceRequest>(json, body, |b| serde_json::from_slice(b))?;
            (Decoded::Metrics(flatten_metrics(path, req)), lossless)
        }
        Signal::Traces => {
            let (req, lossless) =
                parse::<ExportTraceServiceRequest>(json, body, |b| serde_json::from_slice(b))?;
            (Decoded::Traces(flatten_spans(path, req)), lossless)
        }
    })
}

/// `from_json` is `serde_json::from_slice` at a concrete type, which spares
/// this crate a direct `serde` dependency for the trait bound.
fn parse<M: Message + Default>(
    json: bool,
    body: &[u8],
    from_json: impl Fn(&[u8]) -> serde_json::Result<M>,
) -> Option<(M, bool)> {
    if json {
        from_json(body).ok().map(|m| (m, true))
    } else {
        let msg = M::decode(body).ok()?;
        let lossless = msg.encoded_len() == body.len();
        Some((msg, lossless))
    }
}

fn value(v: AnyValue) -> Option<Value> {
    Some(match v.value? {
        any_value::Value::StringValue(s) => Value::Str(s),
        any_value::Value::BoolValue(b) => Value::Bool(b),
        any_value::Value::IntValue(i) => Value::Int(i),
        any_value::Value::DoubleValue(d) => Value::Double(d),
        any_value::Value::BytesValue(b) => Value::Bytes(b),
        any_value::Value::ArrayValue(a) => {
            Value::Array(a.values.into_iter().filter_map(value).collect())
        }
        any_value::Value::KvlistValue(kv) => Value::Map(attrs(kv.values)),
        // Dictionary-encoded strings belong to profiles; logs and metrics never use them.
        any_value::Value::StringValueStrindex(_) => return None,
    })
}

/// Key-value pairs in order; a key with no value is dropped.
fn attrs(kvs: Vec<KeyValue>) -> Vec<(String, Value)> {
    kvs.into_iter()
        .filter_map(|kv| Some((kv.key, value(kv.value?)?)))
        .collect()
}

fn resource(r: Option<Resource>) -> Vec<(String, Value)> {
    r.map(|r| attrs(r.attributes)).unwrap_or_default()
}

fn scope(s: Option<InstrumentationScope>) -> String {
    s.map(|s| s.name).unwrap_or_default()
}

fn flatten_logs(path: &str, req: ExportLogsServiceRequest) -> Vec<LogRecord> {
    let mut out = Vec::new();
    for rl in req.resource_logs {
        let resource = resource(rl.resource);
        for sl in rl.scope_logs {
            let scope = scope(sl.scope);
            out.extend(sl.log_records.into_iter().map(|r| LogRecord {
                path: path.to_owned(),
                resource: resource.clone(),
                scope: scope.clone(),
                body: r.body.and_then(value),
                severity_number: r.severity_number,
                severity_text: r.severity_text,
                time_unix_nano: r.time_unix_nano,
                observed_time_unix_nano: r.observed_time_unix_nano,
                event_name: r.event_name,
                attributes: attrs(r.attributes),
                trace_id: r.trace_id,
                span_id: r.span_id,
            }));
        }
    }
    out
}

fn temporality(t: i32) -> Option<Temporality> {
    match pb::AggregationTemporality::try_from(t) {
        Ok(pb::AggregationTemporality::Delta) => Some(Temporality::Delta),
        Ok(pb::AggregationTemporality::Cumulative) => Some(Temporality::Cumulative),
        _ => None,
    }
}

/// Attributes, value, start and end time of one data point.
type Point = (Vec<KeyValue>, PointValue, u64, u64);

/// Each of `$points` as a [`Point`], its value computed by `$value` from `$p`.
macro_rules! points {
    ($points:expr, |$p:ident| $value:expr) => {
        $points
            .into_iter()
            .map(|$p| {
                let value = $value;
                (
                    $p.attributes,
                    value,
                    $p.start_time_unix_nano,
                    $p.time_unix_nano,
                )
            })
            .collect()
    };
}

fn number(v: Option<number_data_point::Value>) -> PointValue {
    match v {
        Some(number_data_point::Value::AsInt(i)) => PointValue::Int(i),
        Some(number_data_point::Value::AsDouble(d)) => PointValue::Double(d),
        None => PointValue::Other,
    }
}

/// Kind, temporality, monotonicity and points of one metric.
fn points(data: Data) -> (MetricKind, Option<Temporality>, Option<bool>, Vec<Point>) {
    match data {
        Data::Gauge(g) => {
            let points = points!(g.data_points, |p| number(p.value));
            (MetricKind::Gauge, None, None, points)
        }
        Data::Sum(s) => {
            let t = temporality(s.aggregation_temporality);
            let points = points!(s.data_points, |p| number(p.value));
            (MetricKind::Sum, t, Some(s.is_monotonic), points)
        }
        Data::Histogram(h) => {
            let t = temporality(h.aggregation_temporality);
            let points = points!(h.data_points, |p| PointValue::Histogram {
                count: p.count,
                sum: p.sum,
                bucket_counts: p.bucket_counts,
                explicit_bounds: p.explicit_bounds,
            });
            (MetricKind::Histogram, t, None, points)
        }
        Data::ExponentialHistogram(h) => {
            let t = temporality(h.aggregation_temporality);
            let points = points!(h.data_points, |p| PointValue::Other);
            (MetricKind::ExponentialHistogram, t, None, points)
        }
        Data::Summary(s) => {
            let points = points!(s.data_points, |p| PointValue::Other);
            (MetricKind::Summary, None, None, points)
        }
    }
}

fn flatten_metrics(path: &str, req: ExportMetricsServiceRequest) -> Vec<MetricPoint> {
    let mut out = Vec::new();
    for rm in req.resource_metrics {
        let resource = resource(rm.resource);
        for sm in rm.scope_metrics {
            let scope = scope(sm.scope);
            for m in sm.metrics {
                let Some(data) = m.data else { continue };
                let (kind, temporality, is_monotonic, points) = points(data);
                out.extend(points.into_iter().map(|(attributes, value, start, time)| {
                    MetricPoint {
                        path: path.to_owned(),
                        resource: resource.clone(),
                        scope: scope.clone(),
                        name: m.name.clone(),
                        unit: m.unit.clone(),
                        description: m.description.clone(),
                        kind,
                        temporality,
                        is_monotonic,
                        attributes: attrs(attributes),
                        value,
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                    }
                }));
            }
        }
    }
    out
}

fn flatten_spans(path: &str, req: ExportTraceServiceRequest) -> Vec<Span> {
    let mut out = Vec::new();
    for rs in req.resource_spans {
        let resource = resource(rs.resource);
        for ss in rs.scope_spans {
            let scope = scope(ss.scope);
            out.extend(ss.spans.into_iter().map(|s| Span {
                path: path.to_owned(),
                resource: resource.clone(),
                scope: scope.clone(),
                name: s.name,
                trace_id: s.trace_id,
                span_id: s.span_id,
                parent_span_id: s.parent_span_id,
                start_time_unix_nano: s.start_time_unix_nano,
                end_time_unix_nano: s.end_time_unix_nano,
                attributes: attrs(s.attributes),
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_exporters_use_name_their_signal() {
        assert_eq!(signal_from_path("/v1/logs"), Some(Signal::Logs));
        assert_eq!(
            signal_from_path("/insert/opentelemetry/v1/logs"),
            Some(Signal::Logs)
        );
        assert_eq!(
            signal_from_path("/opentelemetry/api/v1/push"),
            Some(Signal::Metrics)
        );
        assert_eq!(signal_from_path("/v1/metrics?x=1"), Some(Signal::Metrics));
        assert_eq!(signal_from_path("/v1/traces"), Some(Signal::Traces));
        assert_eq!(signal_from_path("/custom/path"), None);
    }

    #[test]
    fn gzip_bodies_are_kept_undecoded() {
        let d = decode(
            "/v1/logs",
            "application/x-protobuf",
            Some("gzip"),
            b"\x1f\x8b",
        );
        assert!(d.signal().is_none());
    }
}
