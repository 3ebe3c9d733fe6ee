//! The metrics exporter of the default (cumulative) configuration: counters and histograms of
//! Gas Town's own scope go through the host's durable [`Store`], everything else is exported as
//! the process's own cumulative series.
//!
//! The SDK hands it *delta* data (the reader asks for delta temporality), so each export carries
//! what this process recorded since its previous export. Monotonic sums and histograms of the
//! `gastown` scope become [`Increment`]s merged into the store under its lock; the export then
//! sends, for every series this process changed, the store's total with the time of its last
//! update (and a zero point at the series' creation when this process created it), under the
//! store's own `service.instance.id` and a resource without per-run attributes (`gt.*`,
//! `process.*`). Other sums and histograms (the runtime scope's process CPU time) are added to
//! per-process totals and sent under the process's resource, as are gauges, unchanged.
//!
//! Without a state directory, or when the store cannot be used (one warning), the `gastown`
//! series go to the per-process totals too: the behaviour of a plain cumulative exporter.
//!
//! The points are encoded here with the OTLP protobuf types because the SDK stamps a point's
//! time at collection, outside the store's lock, where two processes could invert it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics as SdkResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use prost::Message as _;

use crate::Transport;
use telemetry_core::{Published, PublishedValue};

use crate::counter_store::{
    AttrValue, Contribution, Increment, Series, SeriesId, Store, Totals, Value, now_ns,
};

/// One typed attribute.
type Attr = (String, AttrValue);

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct DurableMetricExporter {
    pub(crate) transport: Transport,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    /// The host's store; `None` without a state directory.
    pub(crate) store: Option<Store>,
    /// The scope whose counters are host-level (`gastown`).
    pub(crate) durable_scope: &'static str,
    /// This process's own cumulative totals.
    pub(crate) process_totals: Mutex<Totals>,
    pub(crate) warned: AtomicBool,
    /// Counter totals published whole (agent-log's), shared with the provider.
    pub(crate) published: Arc<Published>,
    /// The time of each published series' point last accepted by the backend: a point is sent
    /// until it was accepted once, then again when it changes.
    pub(crate) sent: Mutex<HashMap<SeriesId, u64>>,
}

impl DurableMetricExporter {
    fn warn_once(&self, message: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!("gt: warning: telemetry: {message}");
        }
    }

    /// The request for `metrics` after merging its increments; `None` when there is nothing
    /// to send.
    fn request(
        &self,
        metrics: &SdkResourceMetrics,
    ) -> Option<(ExportMetricsServiceRequest, Vec<(SeriesId, u64)>)> {
        let request = ExportMetricsServiceRequest::from(metrics);
        let process_resource = request
            .resource_metrics
            .first()
            .and_then(|rm| rm.resource.clone())
            .unwrap_or_default();
        let process_id = process_instance_id(&process_resource);
        let host = host_attrs(&process_resource);
        let mut own_resource = sorted_attrs(&process_resource.attributes);
        own_resource.retain(|(k, _)| k != "service.instance.id");
        let (mut durable, mut local, mut passthrough) = (Vec::new(), Vec::new(), Vec::new());
        for rm in request.resource_metrics {
            for sm in rm.scope_metrics {
                let scope = sm.scope.clone().unwrap_or_default();
                if scope.name == telemetry_core::published::TICK_SCOPE {
                    // Only there to make the SDK call this exporter (see `Published`).
                    continue;
                }
                let mut kept = Vec::new();
                for metric in sm.metrics {
                    if scope.name == self.durable_scope {
                        match increments(&host, &scope.name, &metric) {
                            Some(incs) => durable.extend(incs),
                            None => kept.push(metric),
                        }
                    } else {
                        match increments(&own_resource, &scope.name, &metric) {
                            Some(incs) => local.extend(incs),
                            None => kept.push(metric),
                        }
                    }
                }
                if !kept.is_empty() {
                    passthrough.push(ScopeMetrics {
                        scope: Some(scope),
                        metrics: kept,
                        schema_url: sm.schema_url,
                    });
                }
            }
        }
        let contributions = self.contributions(&host);
        let mut out = Vec::new();
        let mut published = Vec::new();
        if !durable.is_empty() || !contributions.is_empty() {
            let store = self
                .store
                .as_ref()
                .map(|s| s.advance_with(&durable, &contributions));
            let advanced = match store {
                Some(Ok(advanced)) => Some(advanced),
                Some(Err(err)) => {
                    self.warn_once(&format!(
                        "{err}; counters that cannot reach it are exported per process"
                    ));
                    None
                }
                None => None,
            };
            match advanced {
                Some(advanced) => {
                    if let Some(aside) = &advanced.recovered_from {
                        eprintln!(
                            "gt: warning: telemetry: the counter store was unreadable; moved \
                             aside to {} and started afresh (counter totals restart)",
                            aside.display()
                        );
                    }
                    if advanced.dropped > 0 {
                        self.warn_once(&format!(
                            "{} counter increments were dropped (the counter store is full or \
                             an instrument changed shape)",
                            advanced.dropped
                        ));
                    }
                    let (changed, sent) = self.select(&advanced.totals, &durable, &contributions);
                    published = sent;
                    out.extend(encode(
                        &advanced.totals.instance_id,
                        &advanced.totals,
                        &changed,
                    ));
                }
                // No store (no state directory) or an unusable one: this process's own series.
                None => {
                    let mut totals = self
                        .process_totals
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let own = |mut id: SeriesId| {
                        id.resource.clone_from(&own_resource);
                        id
                    };
                    let contributions: Vec<Contribution> = contributions
                        .into_iter()
                        .map(|c| Contribution { id: own(c.id), ..c })
                        .collect();
                    totals.contribute(&contributions, now_ns());
                    let changed = contributions.iter().map(|c| &c.id).collect();
                    out.extend(encode(&process_id, &totals, &changed));
                    local.extend(durable.into_iter().map(|inc| Increment {
                        id: own(inc.id),
                        ..inc
                    }));
                }
            }
        }
        if !local.is_empty() {
            let mut totals = self
                .process_totals
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            totals.merge(&local, now_ns());
            let changed = local.iter().map(|c| &c.id).collect();
            out.extend(encode(&process_id, &totals, &changed));
        }
        if !passthrough.is_empty() {
            out.push(ResourceMetrics {
                resource: Some(process_resource),
                scope_metrics: passthrough,
                ..ResourceMetrics::default()
            });
        }
        (!out.is_empty()).then_some((
            ExportMetricsServiceRequest {
                resource_metrics: out,
            },
            published,
        ))
    }

    /// The totals published to this process (agent-log's checkpointed token counters), as
    /// contributions to host-level series.
    fn contributions(&self, host: &[Attr]) -> Vec<Contribution> {
        let mut out = Vec::new();
        for (contributor, points) in self.published.snapshot() {
            for p in points {
                let mut attrs: Vec<Attr> = p
                    .attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), AttrValue::S(v.clone())))
                    .collect();
                attrs.sort_by(|a, b| a.0.cmp(&b.0));
                out.push(Contribution {
                    contributor: contributor.clone(),
                    id: SeriesId {
                        resource: host.to_vec(),
                        scope: self.durable_scope.to_owned(),
                        name: p.name.to_owned(),
                        unit: p.unit.to_owned(),
                        description: p.description.to_owned(),
                        attrs,
                    },
                    total: match p.value {
                        PublishedValue::Int(v) => Value::IntSum { total: v },
                        PublishedValue::Float(v) => Value::FloatSum { total: v },
                    },
                });
            }
        }
        out
    }

    /// The series to send — every one this process's increments touched, and every published
    /// one whose point this process has not yet sent successfully — and the published series'
    /// points in this request, to remember once it was accepted. One lookup per contribution.
    fn select<'a>(
        &self,
        totals: &Totals,
        durable: &'a [Increment],
        contributions: &'a [Contribution],
    ) -> (HashSet<&'a SeriesId>, Vec<(SeriesId, u64)>) {
        let times: HashMap<&SeriesId, u64> =
            totals.series.iter().map(|s| (&s.id, s.time_ns)).collect();
        let sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut changed: HashSet<&SeriesId> = durable.iter().map(|i| &i.id).collect();
        let mut published = Vec::with_capacity(contributions.len());
        for c in contributions {
            let Some(&time) = times.get(&c.id) else {
                continue;
            };
            if sent.get(&c.id).is_none_or(|at| *at < time) {
                changed.insert(&c.id);
            }
            published.push((c.id.clone(), time));
        }
        (changed, published)
    }
}

impl PushMetricExporter for DurableMetricExporter {
    async fn export(&self, metrics: &SdkResourceMetrics) -> OTelSdkResult {
        let Some((request, published)) = self.request(metrics) else {
            return Ok(());
        };
        let body = request.encode_to_vec();
        crate::spool::post_protobuf(&self.transport, &self.url, &self.headers, &body)
            .map_err(OTelSdkError::InternalFailure)?;
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sent.extend(published);
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Delta
    }
}

/// The increments of a delta monotonic sum or histogram; `None` for anything else (gauges,
/// up-down counters, cumulative data), which is exported as it came.
fn increments(
    resource: &[(String, AttrValue)],
    scope: &str,
    metric: &Metric,
) -> Option<Vec<Increment>> {
    let delta = AggregationTemporality::Delta as i32;
    let base = |attrs: &[KeyValue], value: Value| Increment {
        id: SeriesId {
            resource: resource.to_vec(),
            scope: scope.to_owned(),
            name: metric.name.clone(),
            unit: metric.unit.clone(),
            description: metric.description.clone(),
            attrs: sorted_attrs(attrs),
        },
        delta: value,
    };
    match metric.data.as_ref()? {
        metric::Data::Sum(sum) if sum.is_monotonic && sum.aggregation_temporality == delta => Some(
            sum.data_points
                .iter()
                .filter_map(|p| {
                    // A zero increment is kept: it creates a series that has not counted yet
                    // (an observed counter still at 0) and gives an existing one a fresh sample.
                    let value = match p.value? {
                        number_data_point::Value::AsInt(v) if v >= 0 => Value::IntSum {
                            total: u64::try_from(v).ok()?,
                        },
                        number_data_point::Value::AsDouble(v) if v >= 0.0 => {
                            Value::FloatSum { total: v }
                        }
                        _ => return None,
                    };
                    Some(base(&p.attributes, value))
                })
                .collect(),
        ),
        metric::Data::Histogram(h) if h.aggregation_temporality == delta => Some(
            h.data_points
                .iter()
                .filter(|p| p.count > 0)
                .map(|p| {
                    base(
                        &p.attributes,
                        Value::Histogram {
                            bounds: p.explicit_bounds.clone(),
                            counts: p.bucket_counts.clone(),
                            count: p.count,
                            sum: p.sum.unwrap_or_default(),
                        },
                    )
                })
                .collect(),
        ),
        _ => None,
    }
}

fn sorted_attrs(attrs: &[KeyValue]) -> Vec<(String, AttrValue)> {
    let mut out: Vec<(String, AttrValue)> = attrs
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => AttrValue::S(s.clone()),
                any_value::Value::IntValue(i) => AttrValue::I(*i),
                any_value::Value::DoubleValue(f) => AttrValue::F(*f),
                any_value::Value::BoolValue(b) => AttrValue::B(*b),
                _ => return None,
            };
            Some((kv.key.clone(), value))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn process_instance_id(resource: &Resource) -> String {
    resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.instance.id")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The process's resource attributes without what identifies the process or its run
/// (`service.instance.id`, the `gt.*` session and work attributes, `process.*`): the resource
/// of the host-level series.
fn host_attrs(process: &Resource) -> Vec<(String, AttrValue)> {
    let mut attrs = sorted_attrs(&process.attributes);
    attrs.retain(|(k, _)| {
        k != "service.instance.id" && !k.starts_with("gt.") && !k.starts_with("process.")
    });
    attrs
}

fn key_values(attrs: &[(String, AttrValue)]) -> Vec<KeyValue> {
    attrs
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: Some(AnyValue {
                value: Some(match v {
                    AttrValue::S(s) => any_value::Value::StringValue(s.clone()),
                    AttrValue::I(i) => any_value::Value::IntValue(*i),
                    AttrValue::F(f) => any_value::Value::DoubleValue(*f),
                    AttrValue::B(b) => any_value::Value::BoolValue(*b),
                }),
            }),
            ..KeyValue::default()
        })
        .collect()
}

/// The points of the series of `totals` that `changed` touched, grouped by resource (with
/// `instance_id` as `service.instance.id`), scope and metric.
fn encode(
    instance_id: &str,
    totals: &Totals,
    changed: &HashSet<&SeriesId>,
) -> Vec<ResourceMetrics> {
    let mut out: Vec<(&[Attr], Vec<ScopeMetrics>)> = Vec::new();
    for series in totals.series.iter().filter(|s| changed.contains(&s.id)) {
        let id = &series.id;
        let resource_at = match out.iter().position(|(r, _)| *r == id.resource.as_slice()) {
            Some(i) => i,
            None => {
                out.push((&id.resource, Vec::new()));
                out.len() - 1
            }
        };
        let scopes = &mut out[resource_at].1;
        let scope_at = match scopes
            .iter()
            .position(|sm| sm.scope.as_ref().is_some_and(|sc| sc.name == id.scope))
        {
            Some(i) => i,
            None => {
                scopes.push(ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: id.scope.clone(),
                        ..InstrumentationScope::default()
                    }),
                    ..ScopeMetrics::default()
                });
                scopes.len() - 1
            }
        };
        let metrics = &mut scopes[scope_at].metrics;
        let metric_at = match metrics.iter().position(|m| m.name == id.name) {
            Some(i) => i,
            None => {
                metrics.push(Metric {
                    name: id.name.clone(),
                    description: id.description.clone(),
                    unit: id.unit.clone(),
                    data: Some(empty_data(&series.value)),
                    ..Metric::default()
                });
                metrics.len() - 1
            }
        };
        push_points(&mut metrics[metric_at], series);
    }
    out.into_iter()
        .map(|(resource, scope_metrics)| {
            let mut attributes = key_values(resource);
            attributes.push(KeyValue {
                key: "service.instance.id".to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(instance_id.to_owned())),
                }),
                ..KeyValue::default()
            });
            ResourceMetrics {
                resource: Some(Resource {
                    attributes,
                    ..Resource::default()
                }),
                scope_metrics,
                ..ResourceMetrics::default()
            }
        })
        .collect()
}

fn empty_data(value: &Value) -> metric::Data {
    let cumulative = AggregationTemporality::Cumulative as i32;
    match value {
        Value::IntSum { .. } | Value::FloatSum { .. } => metric::Data::Sum(Sum {
            data_points: Vec::new(),
            aggregation_temporality: cumulative,
            is_monotonic: true,
        }),
        Value::Histogram { .. } => metric::Data::Histogram(Histogram {
            data_points: Vec::new(),
            aggregation_temporality: cumulative,
        }),
    }
}

/// The series' current point, preceded by its zero point when the series is new (its first
/// update is its only one: the time right after its creation).
fn push_points(metric: &mut Metric, series: &Series) {
    let attributes = key_values(&series.id.attrs);
    let new = series.time_ns == series.start_ns + crate::counter_store::MS;
    match (metric.data.as_mut(), &series.value) {
        (Some(metric::Data::Sum(sum)), Value::IntSum { .. } | Value::FloatSum { .. }) => {
            let number = |value: number_data_point::Value, time| NumberDataPoint {
                attributes: attributes.clone(),
                start_time_unix_nano: series.start_ns,
                time_unix_nano: time,
                value: Some(value),
                ..NumberDataPoint::default()
            };
            let (zero, current) = match series.value {
                Value::IntSum { total } => (
                    number_data_point::Value::AsInt(0),
                    number_data_point::Value::AsInt(i64::try_from(total).unwrap_or(i64::MAX)),
                ),
                Value::FloatSum { total } => (
                    number_data_point::Value::AsDouble(0.0),
                    number_data_point::Value::AsDouble(total),
                ),
                Value::Histogram { .. } => return,
            };
            if new {
                sum.data_points.push(number(zero, series.start_ns));
            }
            sum.data_points.push(number(current, series.time_ns));
        }
        (
            Some(metric::Data::Histogram(histogram)),
            Value::Histogram {
                bounds,
                counts,
                count,
                sum,
            },
        ) => {
            let point = |counts: Vec<u64>, count, sum, time| HistogramDataPoint {
                attributes: attributes.clone(),
                start_time_unix_nano: series.start_ns,
                time_unix_nano: time,
                count,
                sum: Some(sum),
                bucket_counts: counts,
                explicit_bounds: bounds.clone(),
                ..HistogramDataPoint::default()
            };
            if new {
                histogram
                    .data_points
                    .push(point(vec![0; counts.len()], 0, 0.0, series.start_ns));
            }
            histogram
                .data_points
                .push(point(counts.clone(), *count, *sum, series.time_ns));
        }
        _ => {}
    }
}
