//! The receiver spoken to over raw `TcpStream`s, as an exporter would.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use otlp_capture::{MetricKind, Mode, PointValue, Receiver, Signal, Temporality, Value};
use prost::Message;

const WAIT: Duration = Duration::from_secs(5);

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn str_kv(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![str_kv("service.name", "gt")],
        ..Default::default()
    })
}

fn scope(name: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.into(),
        ..Default::default()
    })
}

fn logs_request(bodies: &[&str]) -> Vec<u8> {
    let log_records = bodies
        .iter()
        .map(|b| LogRecord {
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue((*b).into())),
            }),
            severity_number: 9,
            severity_text: "INFO".into(),
            time_unix_nano: 1_700_000_000_000_000_000,
            attributes: vec![
                str_kv("gt.rig", "alpha"),
                kv("gt.count", any_value::Value::IntValue(3)),
            ],
            ..Default::default()
        })
        .collect();
    let scope_logs = vec![ScopeLogs {
        scope: scope("gt.recorder"),
        log_records,
        ..Default::default()
    }];
    let resource_logs = vec![ResourceLogs {
        resource: resource(),
        scope_logs,
        ..Default::default()
    }];
    ExportLogsServiceRequest { resource_logs }.encode_to_vec()
}

fn metrics_request() -> Vec<u8> {
    let counter = Metric {
        name: "gt.polecats.spawned".into(),
        unit: "{polecat}".into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                attributes: vec![str_kv("gt.rig", "alpha")],
                value: Some(number_data_point::Value::AsInt(7)),
                time_unix_nano: 2,
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Delta as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let histogram = Metric {
        name: "gt.hook.duration".into(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                count: 2,
                sum: Some(1.5),
                bucket_counts: vec![1, 1],
                explicit_bounds: vec![1.0],
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    };
    let scope_metrics = vec![ScopeMetrics {
        scope: scope("gt.recorder"),
        metrics: vec![counter, histogram],
        ..Default::default()
    }];
    let resource_metrics = vec![ResourceMetrics {
        resource: resource(),
        scope_metrics,
        ..Default::default()
    }];
    ExportMetricsServiceRequest { resource_metrics }.encode_to_vec()
}

fn send(stream: &mut TcpStream, path: &str, content_type: &str, body: &[u8], extra: &str) {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

/// Status code and body of one response.
fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, Vec<u8>) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let mut len = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    (status, body)
}

fn post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    send(&mut stream, path, content_type, body, "");
    read_response(&mut BufReader::new(stream))
}

#[test]
fn protobuf_logs_on_a_custom_path_are_decoded_with_path_and_headers() {
    let rx = Receiver::start().unwrap();
    let mut stream = TcpStream::connect(rx.addr()).unwrap();
    let path = "/insert/opentelemetry/v1/logs";
    send(
        &mut stream,
        path,
        "application/x-protobuf",
        &logs_request(&["hello"]),
        "Authorization: Basic Zm9v\r\n",
    );
    let (status, body) = read_response(&mut BufReader::new(stream));
    assert_eq!((status, body.len()), (200, 0));

    let logs = rx.logs();
    assert_eq!(logs.len(), 1);
    let log = &logs[0];
    assert_eq!(log.path, path);
    assert_eq!(log.body_str(), Some("hello"));
    assert_eq!(
        (log.severity_number, log.severity_text.as_str()),
        (9, "INFO")
    );
    assert_eq!(log.str_attr("gt.rig"), Some("alpha"));
    assert_eq!(log.attr("gt.count"), Some(&Value::Int(3)));
    assert_eq!(
        log.resource_attr("service.name"),
        Some(&Value::Str("gt".into()))
    );
    assert_eq!(log.scope, "gt.recorder");

    let req = &rx.requests()[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", path));
    assert_eq!(req.header("authorization"), Some("Basic Zm9v"));
    assert_eq!(req.content_type, "application/x-protobuf");
    assert_eq!(req.signal, Some(Signal::Logs));
}

#[test]
fn metrics_on_a_path_naming_no_signal_are_found_by_decoding() {
    let rx = Receiver::start().unwrap();
    let (status, _) = post(
        rx.addr(),
        "/custom/path",
        "application/x-protobuf",
        &metrics_request(),
    );
    assert_eq!(status, 200);
    assert_eq!(rx.requests()[0].signal, Some(Signal::Metrics));

    let counter = rx.wait_for_metric("gt.polecats.spawned", WAIT);
    assert_eq!(counter.len(), 1);
    assert_eq!(
        (counter[0].kind, counter[0].temporality),
        (MetricKind::Sum, Some(Temporality::Delta))
    );
    assert_eq!(counter[0].is_monotonic, Some(true));
    assert_eq!(
        (counter[0].value.clone(), counter[0].as_f64()),
        (PointValue::Int(7), Some(7.0))
    );
    assert_eq!(counter[0].str_attr("gt.rig"), Some("alpha"));

    let hist = rx.wait_for_metric("gt.hook.duration", WAIT);
    assert_eq!(
        (hist[0].kind, hist[0].temporality),
        (MetricKind::Histogram, Some(Temporality::Cumulative))
    );
    assert_eq!(hist[0].as_f64(), Some(1.5));
}

#[test]
fn keep_alive_connection_carries_several_requests_including_chunked() {
    let rx = Receiver::start().unwrap();
    let mut stream = TcpStream::connect(rx.addr()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    send(
        &mut stream,
        "/v1/logs",
        "application/x-protobuf",
        &logs_request(&["one"]),
        "",
    );
    assert_eq!(read_response(&mut reader).0, 200);

    let body = logs_request(&["two"]);
    let (a, b) = body.split_at(body.len() / 2);
    let head = "POST /v1/logs HTTP/1.1\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    for chunk in [a, b] {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .unwrap();
        stream.write_all(chunk).unwrap();
        stream.write_all(b"\r\n").unwrap();
    }
    stream.write_all(b"0\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut reader).0, 200);

    let bodies: Vec<_> = rx
        .logs()
        .iter()
        .map(|l| l.body_str().unwrap().to_owned())
        .collect();
    assert_eq!(bodies, ["one", "two"]);
}

#[test]
fn multi_megabyte_body_is_read_whole() {
    let rx = Receiver::start().unwrap();
    let big = "x".repeat(1024);
    let bodies = vec![big.as_str(); 4096];
    let body = logs_request(&bodies);
    assert!(body.len() > 4 << 20);
    assert_eq!(
        post(rx.addr(), "/v1/logs", "application/x-protobuf", &body).0,
        200
    );
    assert_eq!(rx.logs().len(), 4096);
}

#[test]
fn json_body_decodes() {
    let rx = Receiver::start().unwrap();
    let json = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"gt"}}]},
        "scopeLogs":[{"scope":{"name":"s"},"logRecords":[{"timeUnixNano":"42","severityNumber":17,
        "body":{"stringValue":"boom"},"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708",
        "attributes":[{"key":"n","value":{"intValue":"5"}}]}]}]}]}"#;
    let (status, body) = post(rx.addr(), "/v1/logs", "application/json", json);
    assert_eq!((status, body.as_slice()), (200, &b"{}"[..]));

    let logs = rx.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(
        (
            logs[0].body_str(),
            logs[0].severity_number,
            logs[0].time_unix_nano
        ),
        (Some("boom"), 17, 42)
    );
    assert_eq!(logs[0].attr("n"), Some(&Value::Int(5)));
    assert_eq!(logs[0].trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(logs[0].span_id.len(), 8);
}

#[test]
fn status_mode_answers_that_status_after_recording() {
    let rx = Receiver::start_with(Mode::Status(500)).unwrap();
    assert_eq!(
        post(
            rx.addr(),
            "/v1/logs",
            "application/x-protobuf",
            &logs_request(&["a"])
        )
        .0,
        500
    );
    assert_eq!(rx.requests().len(), 1);

    rx.set_mode(Mode::Accept);
    assert_eq!(
        post(
            rx.addr(),
            "/v1/logs",
            "application/x-protobuf",
            &logs_request(&["b"])
        )
        .0,
        200
    );
}

#[test]
fn close_mode_closes_without_a_response() {
    let rx = Receiver::start_with(Mode::Close).unwrap();
    let mut stream = TcpStream::connect(rx.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    send(
        &mut stream,
        "/v1/logs",
        "application/x-protobuf",
        &logs_request(&["a"]),
        "",
    );
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => assert!(
            got.is_empty(),
            "unexpected answer {:?}",
            String::from_utf8_lossy(&got)
        ),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
    }
    assert_eq!(rx.logs().len(), 1);
}

#[test]
fn hang_mode_never_answers_and_drop_releases_the_connection() {
    let rx = Receiver::start_with(Mode::Hang).unwrap();
    let mut stream = TcpStream::connect(rx.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    send(
        &mut stream,
        "/v1/logs",
        "application/x-protobuf",
        &logs_request(&["a"]),
        "",
    );
    let mut buf = [0; 64];
    let err = stream.read(&mut buf).expect_err("hang mode answered");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    assert_eq!(rx.wait_for_logs(1, WAIT).len(), 1);

    let started = Instant::now();
    drop(rx);
    stream.set_read_timeout(Some(WAIT)).unwrap();
    match stream.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn garbage_neither_panics_nor_stops_the_server() {
    let rx = Receiver::start().unwrap();
    assert_eq!(
        post(
            rx.addr(),
            "/v1/logs",
            "application/x-protobuf",
            b"\xff\xff\xff not protobuf"
        )
        .0,
        200
    );
    assert_eq!(rx.requests()[0].signal, None);

    let mut stream = TcpStream::connect(rx.addr()).unwrap();
    stream
        .write_all(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut BufReader::new(stream)).0, 400);

    assert_eq!(
        post(
            rx.addr(),
            "/v1/logs",
            "application/x-protobuf",
            &logs_request(&["ok"])
        )
        .0,
        200
    );
    assert_eq!(rx.logs().len(), 1);
}

#[test]
fn wait_for_logs_returns_when_enough_arrive_or_what_there_is_at_the_deadline() {
    let rx = Receiver::start().unwrap();
    let addr = rx.addr();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        post(
            addr,
            "/v1/logs",
            "application/x-protobuf",
            &logs_request(&["a", "b"]),
        )
    });
    let started = Instant::now();
    assert_eq!(rx.wait_for_logs(2, Duration::from_secs(30)).len(), 2);
    assert!(started.elapsed() < Duration::from_secs(5));
    sender.join().unwrap();

    let started = Instant::now();
    assert_eq!(rx.wait_for_logs(3, Duration::from_millis(200)).len(), 2);
    assert!(started.elapsed() >= Duration::from_millis(200));
}
