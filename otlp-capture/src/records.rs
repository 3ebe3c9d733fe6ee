//! The flat records tests assert on: one item per log record, metric data
//! point or span, each carrying its resource and scope so a test never walks
//! the OTLP tree.

/// An OTLP `AnyValue`, owned and comparable.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `stringValue`.
    Str(String),
    /// `intValue`.
    Int(i64),
    /// `doubleValue`.
    Double(f64),
    /// `boolValue`.
    Bool(bool),
    /// `bytesValue`.
    Bytes(Vec<u8>),
    /// `arrayValue`, in order.
    Array(Vec<Value>),
    /// `kvlistValue`, in the order sent.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The string, if this is a [`Value::Str`].
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number as `f64`, if this is a [`Value::Int`] or [`Value::Double`].
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }
}

/// The first value under `key`; OTLP allows duplicates, exporters do not send them.
fn find<'a>(attrs: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// One OTLP log record with its resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The request path it arrived on.
    pub path: String,
    /// Resource attributes.
    pub resource: Vec<(String, Value)>,
    /// Instrumentation scope name.
    pub scope: String,
    /// The body; `None` when the record had none.
    pub body: Option<Value>,
    /// `SeverityNumber` as sent (0 = unspecified, 9 = INFO, 17 = ERROR).
    pub severity_number: i32,
    /// Severity text as sent.
    pub severity_text: String,
    /// Event time; 0 when unset.
    pub time_unix_nano: u64,
    /// Time the SDK observed the event; 0 when unset.
    pub observed_time_unix_nano: u64,
    /// Event name (OTLP 1.5+); empty when unset.
    pub event_name: String,
    /// Record attributes in the order sent.
    pub attributes: Vec<(String, Value)>,
    /// 16 bytes, or empty when the record is not tied to a trace.
    pub trace_id: Vec<u8>,
    /// 8 bytes, or empty.
    pub span_id: Vec<u8>,
}

impl LogRecord {
    /// The attribute `key`.
    #[must_use]
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key)
    }

    /// The attribute `key` if it is a string.
    #[must_use]
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(Value::as_str)
    }

    /// The body if it is a string.
    #[must_use]
    pub fn body_str(&self) -> Option<&str> {
        self.body.as_ref().and_then(Value::as_str)
    }

    /// The resource attribute `key`.
    #[must_use]
    pub fn resource_attr(&self, key: &str) -> Option<&Value> {
        find(&self.resource, key)
    }
}

/// Which OTLP metric data type a point came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// `Sum` (counters, up-down counters).
    Sum,
    /// `Gauge`.
    Gauge,
    /// `Histogram` with explicit bounds.
    Histogram,
    /// `ExponentialHistogram`.
    ExponentialHistogram,
    /// `Summary`.
    Summary,
}

/// Aggregation temporality of a sum or histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporality {
    /// Each point covers the time since the previous export.
    Delta,
    /// Each point covers the time since the start of the process.
    Cumulative,
}

/// The value of one metric data point.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// `asInt` of a sum or gauge point.
    Int(i64),
    /// `asDouble` of a sum or gauge point.
    Double(f64),
    /// An explicit-bounds histogram point.
    Histogram {
        /// Number of recorded values.
        count: u64,
        /// Sum of recorded values, when sent.
        sum: Option<f64>,
        /// Counts per bucket; one more than `explicit_bounds`.
        bucket_counts: Vec<u64>,
        /// Upper bounds of the buckets.
        explicit_bounds: Vec<f64>,
    },
    /// Exponential histogram, summary, or a number point with no value.
    Other,
}

/// One metric data point with its metric, resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// The request path it arrived on.
    pub path: String,
    /// Resource attributes.
    pub resource: Vec<(String, Value)>,
    /// Instrumentation scope (meter) name.
    pub scope: String,
    /// Metric name.
    pub name: String,
    /// Metric unit.
    pub unit: String,
    /// Metric description.
    pub description: String,
    /// The OTLP data type.
    pub kind: MetricKind,
    /// Set for sums and histograms; `None` for gauges, summaries and unspecified.
    pub temporality: Option<Temporality>,
    /// Set for sums only.
    pub is_monotonic: Option<bool>,
    /// Point attributes in the order sent.
    pub attributes: Vec<(String, Value)>,
    /// The point's value.
    pub value: PointValue,
    /// Start of the interval; 0 when unset.
    pub start_time_unix_nano: u64,
    /// End of the interval.
    pub time_unix_nano: u64,
}

impl MetricPoint {
    /// Whether this is a cumulative series' zero point at its start (time = start time, value
    /// 0): what a durable counter sends once when a series is created, so that its first
    /// increment counts in `increase()`.
    #[must_use]
    pub fn is_start_point(&self) -> bool {
        self.time_unix_nano == self.start_time_unix_nano
            && match &self.value {
                PointValue::Int(v) => *v == 0,
                PointValue::Double(v) => *v == 0.0,
                PointValue::Histogram { count, .. } => *count == 0,
                _ => false,
            }
    }

    /// The point attribute `key`.
    #[must_use]
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key)
    }

    /// The point attribute `key` if it is a string.
    #[must_use]
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(Value::as_str)
    }

    /// The resource attribute `key`.
    #[must_use]
    pub fn resource_attr(&self, key: &str) -> Option<&Value> {
        find(&self.resource, key)
    }

    /// The number of a sum or gauge point, or a histogram's sum.
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match &self.value {
            PointValue::Int(i) => Some(*i as f64),
            PointValue::Double(d) => Some(*d),
            PointValue::Histogram { sum, .. } => *sum,
            PointValue::Other => None,
        }
    }
}

/// One span with its resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The request path it arrived on.
    pub path: String,
    /// Resource attributes.
    pub resource: Vec<(String, Value)>,
    /// Instrumentation scope (tracer) name.
    pub scope: String,
    /// Span name.
    pub name: String,
    /// 16 bytes.
    pub trace_id: Vec<u8>,
    /// 8 bytes.
    pub span_id: Vec<u8>,
    /// 8 bytes, or empty for a root span.
    pub parent_span_id: Vec<u8>,
    /// Span attributes in the order sent.
    pub attributes: Vec<(String, Value)>,
    /// Start time, nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End time, nanoseconds since the Unix epoch.
    pub end_time_unix_nano: u64,
}

impl Span {
    /// The attribute `key`.
    #[must_use]
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key)
    }
}
