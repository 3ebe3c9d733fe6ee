//! Emits one counter increment and one log record with the environment's configuration:
//! `GT_OTEL_LOGS_URL=http://127.0.0.1:9428/insert/opentelemetry/v1/logs cargo run -p telemetry-core --example emit`.

use std::time::Duration;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};

fn main() {
    let provider = match telemetry_otlp::init("gastown-example", env!("CARGO_PKG_VERSION")) {
        Ok(Some(provider)) => provider,
        Ok(None) => {
            println!("telemetry is off (set GT_OTEL_METRICS_URL or GT_OTEL_LOGS_URL)");
            return;
        }
        Err(err) => {
            eprintln!("telemetry disabled: {err}");
            return;
        }
    };
    provider
        .meter()
        .u64_counter("example.emits.total")
        .build()
        .add(1, &[]);
    let mut record = provider.logger().create_log_record();
    record.set_body(AnyValue::from("example.emit"));
    record.set_severity_number(Severity::Info);
    provider.logger().emit(record);
    match provider.shutdown(Duration::from_secs(5)) {
        Ok(()) => println!("exported to instance {}", provider.instance_id()),
        Err(err) => eprintln!("{err}"),
    }
}
