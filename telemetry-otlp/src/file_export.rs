//! The metrics exporter of a `file://` metrics endpoint (offline mode): each export becomes
//! one OTLP JSON Lines file in the directory.
//!
//! Its sums are the process's own cumulative series: the durable counter store is for
//! backends that many processes feed over time, and an offline directory is read as it is.
//! It must not send anything over the network.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

use crate::otlp_json::{self, JsonlDir, Signal};
use crate::spooling::write_line;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct FileMetricExporter {
    pub(crate) dir: JsonlDir,
}

impl PushMetricExporter for FileMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let request = ExportMetricsServiceRequest::from(metrics);
        let records = otlp_json::metrics_records(&request);
        if records == 0 {
            return Ok(());
        }
        write_line(&self.dir, Signal::Metrics, &request, records)
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}
