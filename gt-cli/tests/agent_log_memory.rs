//! Measurements of `gt agent-log` as a process (ignored by default; they take a minute and
//! print figures rather than assert tight bounds):
//!
//! ```text
//! cargo test --release -p gt-cli --test agent_log_memory -- --ignored --nocapture
//! ```
//!
//! - peak RSS (`VmHWM`) following a 1,000,000-line transcript while the backend is down, then
//!   after it comes back and the whole backlog was exported;
//! - CPU used while idle (nothing changes) over 10 s.

mod agent_log_common;
mod support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agent_log_common::{Gate, Running, Town, message, poll_until};
use otlp_capture::Receiver;

/// `VmHWM` and `VmRSS` of `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// An OTLP/HTTP endpoint that answers 200 to everything and only counts requests (the
/// capture receiver would keep two million records in memory).
fn null_backend() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let url = format!("http://{}/v1/logs", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    c.fetch_add(1, Ordering::Relaxed);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, count)
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn peak_memory_following_a_million_lines_with_the_backend_down() {
    const LINES: usize = 1_000_000;
    let town = Town::new();
    let file = town.project().join("sess-a.jsonl");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for i in 0..LINES {
            writeln!(w, "{}", message(i)).unwrap();
        }
    }
    let size = std::fs::metadata(&file).unwrap().len();
    let metrics = Receiver::start().unwrap();
    let (backend, requests) = null_backend();
    let upstream: std::net::SocketAddr = backend
        .trim_start_matches("http://")
        .trim_end_matches("/v1/logs")
        .parse()
        .unwrap();
    let gate = Gate::start(upstream, false);
    let mut gt = Running::start(
        &mut town.follow("gt-mem", &gate.url("/v1/logs"), &metrics),
        town.dir.path().join("stderr"),
    );
    let pid = gt.child.id();
    // Down for 20 s: the follower must not read ahead of what was exported.
    let down_until = Instant::now() + Duration::from_secs(20);
    let mut peak_down = 0;
    while Instant::now() < down_until {
        peak_down = peak_down.max(memory_kib(pid).0);
        std::thread::sleep(Duration::from_millis(200));
    }
    let offset_down = town
        .read_checkpoint("gt-mem")
        .map_or(0, |cp| cp["files"][0]["offset"].as_u64().unwrap_or(0));
    println!(
        "transcript: {LINES} lines, {} MiB; backend down 20 s: VmHWM {peak_down} KiB, \
         checkpoint offset {offset_down}, dropped connections {}",
        size / (1024 * 1024),
        gate.dropped()
    );
    assert_eq!(
        offset_down, 0,
        "nothing may be committed while the backend is down"
    );
    // Back up: the whole backlog goes out.
    gate.set_open(true);
    let started = Instant::now();
    let done = poll_until(Duration::from_secs(600), || {
        town.read_checkpoint("gt-mem")
            .is_some_and(|cp| cp["files"][0]["offset"].as_u64() == Some(size))
    });
    let took = started.elapsed();
    let (hwm, rss) = memory_kib(pid);
    let (status, _) = gt.terminate();
    let cp = town.read_checkpoint("gt-mem").unwrap();
    println!(
        "backend back: whole backlog exported in {:.1} s ({} requests, {:.0} records/s); \
         VmHWM {hwm} KiB, VmRSS {rss} KiB; totals {}",
        took.as_secs_f64(),
        requests.load(Ordering::Relaxed),
        (2 * LINES) as f64 / took.as_secs_f64(),
        cp["totals"]
    );
    assert!(done, "{}", gt.stderr());
    assert!(status.success());
    assert_eq!(cp["totals"]["usage_records"], LINES as u64);
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn idle_cpu_while_following() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    std::fs::create_dir_all(town.project()).unwrap();
    for s in 0..20 {
        agent_log_common::append(
            &town.project().join(format!("s{s}.jsonl")),
            &format!("{}\n", message(s)),
        );
    }
    let mut cmd = town.follow("gt-idle", &rx.url("/v1/logs"), &rx);
    // Production cadence: the default poll (2 s) and metric interval (30 s).
    cmd.env_remove("GT_AGENT_LOG_POLL_MS")
        .env_remove("OTEL_METRIC_EXPORT_INTERVAL");
    let mut gt = Running::start(&mut cmd, town.dir.path().join("stderr"));
    let pid = gt.child.id();
    assert!(poll_until(Duration::from_secs(20), || {
        town.read_checkpoint("gt-idle")
            .is_some_and(|cp| cp["totals"]["usage_records"] == 20)
    }));
    let ticks_per_s = 100.0; // USER_HZ on Linux
    let before = cpu_ticks(pid);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let used = (cpu_ticks(pid) - before) as f64 / ticks_per_s;
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "idle (20 transcripts, poll 2 s): {used:.3} s CPU in {wall:.1} s = {:.3} %; VmHWM {} KiB",
        100.0 * used / wall,
        memory_kib(pid).0
    );
    let (status, _) = gt.terminate();
    assert!(status.success());
}
