//! The `tracing` bridge: application events reach the receiver, the exporter stack's own
//! events never do.

mod common;

use common::{Harness, WAIT};
use tracing_subscriber::layer::SubscriberExt as _;

#[test]
fn app_events_are_exported_and_exporter_stack_events_are_not() {
    let h = Harness::start();
    let subscriber =
        tracing_subscriber::registry().with(telemetry_recorder::tracing_layer(&h.provider));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "gt_cli::commands", bead = "gt-42", "slung the bead");
        tracing::warn!(target: "opentelemetry_sdk", "export loop would start here");
        tracing::error!(target: "hyper_util::client", "connection reset");
        tracing::info!(target: "reqwest::blocking", "request sent");
    });
    h.provider
        .shutdown(std::time::Duration::from_secs(5))
        .expect("clean shutdown");

    let logs = h.rx.wait_for_logs(1, WAIT);
    assert_eq!(logs.len(), 1, "only the application event: {logs:#?}");
    let rec = &logs[0];
    assert_eq!(rec.body_str(), Some("slung the bead"));
    assert_eq!(rec.str_attr("bead"), Some("gt-42"));
    assert_eq!(
        (rec.severity_number, rec.severity_text.as_str()),
        (9, ""),
        "number only, as the recorder's events"
    );
}
