//! The process metrics reach a real OTLP/HTTP receiver with sane values.

use std::time::Duration;

use otlp_capture::{MetricKind, MetricPoint, Receiver};
use telemetry_core::env::{GT_OTEL_LOGS_URL, GT_OTEL_METRICS_URL};
use telemetry_core::{Config, Profile, Provider, Service};
use telemetry_runtime::instruments::{
    PROCESS_CPU_TIME, PROCESS_CPU_UTILIZATION, PROCESS_MEMORY_USAGE, PROCESS_MEMORY_VIRTUAL,
    PROCESS_OPEN_FILE_DESCRIPTOR_COUNT, PROCESS_THREAD_COUNT, PROCESS_UPTIME,
};
use telemetry_runtime::{SCOPE_NAME, SNAPSHOT_MAX_AGE};

const WAIT: Duration = Duration::from_secs(10);

fn provider_for(rx: &Receiver) -> Provider {
    let (metrics, logs) = (rx.url("/v1/metrics"), rx.url("/v1/logs"));
    let config = Config::from_lookup(|key| match key {
        GT_OTEL_METRICS_URL => Some(metrics.clone()),
        GT_OTEL_LOGS_URL => Some(logs.clone()),
        _ => None,
    })
    .unwrap();
    let service = Service {
        name: "runtime-test",
        version: "0.0.0",
    };
    telemetry_otlp::build(&config, service, Profile::OneShot).unwrap()
}

/// Points of `name` from export number `nth` (1-based), told apart by their timestamps.
fn export_points(rx: &Receiver, name: &str, nth: usize) -> Vec<MetricPoint> {
    let points: Vec<MetricPoint> = rx
        .metrics()
        .into_iter()
        .filter(|p| p.name == name && !p.is_start_point())
        .collect();
    let mut times: Vec<u64> = points.iter().map(|p| p.time_unix_nano).collect();
    times.sort_unstable();
    times.dedup();
    let Some(&at) = times.get(nth - 1) else {
        return Vec::new();
    };
    points
        .into_iter()
        .filter(|p| p.time_unix_nano == at)
        .collect()
}

fn cpu_total(points: &[MetricPoint]) -> f64 {
    points.iter().filter_map(MetricPoint::as_f64).sum()
}

/// This process's user + system CPU time in clock ticks (`/proc/self/stat` fields 14 and 15);
/// 0 where there is no procfs.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Burns CPU until this process's CPU time has grown by `for_how_long` (not wall time: on a
/// loaded machine 50 ms of wall time may be less than one 10 ms tick of CPU), giving up after
/// 30 s of wall time.
fn spin(for_how_long: Duration) -> u64 {
    let ticks = u64::try_from(for_how_long.as_millis() / 10)
        .unwrap_or(1)
        .max(1);
    let (start, from) = (std::time::Instant::now(), cpu_ticks());
    let mut x = 0u64;
    while cpu_ticks() < from + ticks && start.elapsed() < Duration::from_secs(30) {
        for _ in 0..100_000 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
    x
}

#[test]
fn process_metrics_are_exported_with_sane_values_across_two_exports() {
    let rx = Receiver::start().unwrap();
    let provider = provider_for(&rx);
    let _runtime = telemetry_runtime::install(&provider).unwrap();

    spin(Duration::from_millis(50));
    provider.force_flush(WAIT).unwrap();
    let first = rx.wait_for_metric(PROCESS_CPU_TIME, WAIT);
    assert!(
        !first.is_empty(),
        "no {PROCESS_CPU_TIME} in the first export"
    );

    std::thread::sleep(SNAPSHOT_MAX_AGE + Duration::from_millis(20));
    spin(Duration::from_millis(50));
    provider.force_flush(WAIT).unwrap();
    let second = rx.wait_until(WAIT, |rx| {
        Some(export_points(rx, PROCESS_CPU_TIME, 2)).filter(|p| !p.is_empty())
    });
    let second = second.expect("a second export of process.cpu.time");
    let first = export_points(&rx, PROCESS_CPU_TIME, 1);

    for p in first.iter().chain(&second) {
        assert_eq!(
            (p.kind, p.unit.as_str(), p.is_monotonic),
            (MetricKind::Sum, "s", Some(true))
        );
        assert_eq!(p.scope, SCOPE_NAME);
        if cfg!(target_os = "linux") {
            let mode = p.str_attr("cpu.mode");
            assert!(matches!(mode, Some("user" | "system")), "{p:?}");
        }
    }
    assert!(cpu_total(&first) > 0.0, "{first:?}");
    assert!(
        cpu_total(&second) >= cpu_total(&first),
        "CPU time went down: {first:?} {second:?}"
    );
    for mode in ["user", "system"] {
        let of = |points: &[MetricPoint]| {
            points
                .iter()
                .filter(|p| p.str_attr("cpu.mode") == Some(mode))
                .find_map(MetricPoint::as_f64)
        };
        if let (Some(a), Some(b)) = (of(&first), of(&second)) {
            assert!(b >= a, "cpu.mode={mode} went from {a} to {b}");
        }
    }

    let value = |name: &str| -> (MetricPoint, f64) {
        let point = export_points(&rx, name, 2).into_iter().next();
        let point = point.unwrap_or_else(|| panic!("{name} missing from the second export"));
        let v = point.as_f64().unwrap();
        (point, v)
    };
    let (memory, bytes) = value(PROCESS_MEMORY_USAGE);
    assert_eq!(
        (memory.kind, memory.unit.as_str(), memory.is_monotonic),
        (MetricKind::Sum, "By", Some(false))
    );
    assert!(bytes > 0.0);
    let (virt, virtual_bytes) = value(PROCESS_MEMORY_VIRTUAL);
    assert_eq!(virt.unit, "By");
    assert!(virtual_bytes >= bytes);
    let (uptime, seconds) = value(PROCESS_UPTIME);
    assert_eq!(
        (uptime.kind, uptime.unit.as_str()),
        (MetricKind::Gauge, "s")
    );
    assert!(seconds >= 0.0);
    let utilization = export_points(&rx, PROCESS_CPU_UTILIZATION, 2);
    assert!(!utilization.is_empty());
    for p in &utilization {
        assert_eq!((p.kind, p.unit.as_str()), (MetricKind::Gauge, "1"));
        assert!((0.0..=1.0).contains(&p.as_f64().unwrap()), "{p:?}");
    }
    if cfg!(target_os = "linux") {
        let (threads, count) = value(PROCESS_THREAD_COUNT);
        assert_eq!(threads.unit, "{thread}");
        assert!(count >= 1.0);
    }
    if cfg!(unix) {
        let (fds, count) = value(PROCESS_OPEN_FILE_DESCRIPTOR_COUNT);
        assert_eq!(fds.unit, "{file_descriptor}");
        assert!(count >= 1.0, "the exporter's socket at least: {count}");
    }
    provider.shutdown(WAIT).unwrap();
}

#[test]
fn callbacks_of_one_collection_share_one_snapshot() {
    let rx = Receiver::start().unwrap();
    let provider = provider_for(&rx);
    let runtime = telemetry_runtime::install(&provider).unwrap();
    let a = runtime.snapshot();
    let b = runtime.snapshot();
    assert_eq!(
        a.taken_at, b.taken_at,
        "a fresh snapshot within SNAPSHOT_MAX_AGE"
    );
    std::thread::sleep(SNAPSHOT_MAX_AGE + Duration::from_millis(10));
    assert!(
        runtime.snapshot().taken_at > a.taken_at,
        "a stale snapshot is refreshed"
    );
    provider.shutdown(WAIT).unwrap();
}
