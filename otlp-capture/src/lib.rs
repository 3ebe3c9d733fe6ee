//! A real OTLP/HTTP receiver for tests: it listens on `127.0.0.1`, records
//! every request an exporter sends, decodes the OTLP payload into flat
//! records, and answers the way the test asks (accept, fail, drop, hang).
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let rx = otlp_capture::Receiver::start()?;
//! // Point the exporter under test at rx.url("/v1/logs"), then:
//! let logs = rx.wait_for_logs(1, Duration::from_secs(5));
//! assert_eq!(logs[0].body_str(), Some("hello"));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! What it must not become: it is a dev-dependency only (`publish = false`),
//! binds loopback only, speaks HTTP/1.1 (plain, or https with a throw-away
//! [`TestCa`] through [`Receiver::start_tls`]) on blocking `std::net` threads
//! (no async runtime, no gzip decoding), and keeps everything in memory until
//! dropped. Production code never links it.
//!
//! Any path is accepted; the signal is taken from the path when it names one
//! (`/v1/logs`, `/insert/opentelemetry/v1/logs`, `/opentelemetry/api/v1/push`)
//! and otherwise found by decoding. Bodies are `application/x-protobuf` or
//! `application/json`; a body with a `Content-Encoding` other than `identity`
//! is recorded but not decoded.

mod decode;
mod http;
mod records;
mod tls;

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use records::{LogRecord, MetricKind, MetricPoint, PointValue, Span, Temporality, Value};
pub use tls::TestCa;

use decode::Decoded;
use http::ReadError;

/// How the receiver answers each request. Whatever the mode, the request is
/// recorded (and waiters woken) before the answer is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `200 OK` with an empty `Export*ServiceResponse` (same content type as the request).
    #[default]
    Accept,
    /// Answer with this status and an empty body, keeping the connection. The request is
    /// recorded first (in every mode), so `Status(503)` is a backend that stores a batch and
    /// answers an error: the exporter retries and the records arrive twice.
    Status(u16),
    /// Read the request, then close the connection without answering.
    Close,
    /// Read the request and never answer; the connection stays open until
    /// the [`Receiver`] is dropped.
    Hang,
}

/// The OTLP signal a request body decoded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `ExportMetricsServiceRequest`.
    Metrics,
    /// `ExportLogsServiceRequest`.
    Logs,
    /// `ExportTraceServiceRequest`.
    Traces,
}

/// One HTTP request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Request target as sent, query included.
    pub path: String,
    /// `POST`, normally.
    pub method: String,
    /// Header names lower-cased, values trimmed, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The `content-type` header, or empty.
    pub content_type: String,
    /// The body after de-chunking; still compressed if it was sent compressed.
    pub body: Vec<u8>,
    /// What the body decoded as; `None` when compressed or not OTLP.
    pub signal: Option<Signal>,
}

impl Request {
    /// The first header `name` (give it lower-cased).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    mode: Mode,
    requests: Vec<Request>,
    logs: Vec<LogRecord>,
    /// Per log record: whether its request was answered in [`Mode::Accept`].
    logs_accepted: Vec<bool>,
    metrics: Vec<MetricPoint>,
    spans: Vec<Span>,
    /// Bumped on every request so a waiter can tell "nothing new" from a spurious wake.
    generation: u64,
    shutdown: bool,
    /// Open connections, so dropping the receiver can close them.
    conns: HashMap<u64, TcpStream>,
    next_conn: u64,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take the receiver down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running OTLP/HTTP receiver on `127.0.0.1`. Dropping it stops accepting
/// and closes every connection, hung ones included.
pub struct Receiver {
    shared: Arc<Shared>,
    addr: SocketAddr,
    https: bool,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Starts a receiver in [`Mode::Accept`] on an OS-chosen port.
    ///
    /// # Errors
    /// When the loopback socket cannot be bound or the thread cannot be spawned.
    pub fn start() -> io::Result<Receiver> {
        Receiver::start_with(Mode::Accept)
    }

    /// Starts a receiver answering in `mode` on an OS-chosen port.
    ///
    /// # Errors
    /// When the loopback socket cannot be bound or the thread cannot be spawned.
    pub fn start_with(mode: Mode) -> io::Result<Receiver> {
        Receiver::start_inner(mode, None)
    }

    /// Starts a receiver in [`Mode::Accept`] that speaks https with the server certificate of
    /// `ca` ([`Receiver::url`] then starts with `https://`).
    ///
    /// # Errors
    /// As [`Receiver::start`].
    pub fn start_tls(ca: &TestCa) -> io::Result<Receiver> {
        Receiver::start_inner(Mode::Accept, Some(ca.server_config()))
    }

    fn start_inner(mode: Mode, tls: Option<Arc<rustls::ServerConfig>>) -> io::Result<Receiver> {
        let https = tls.is_some();
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        shared.lock().mode = mode;
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("otlp-capture-accept-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &shared, tls.as_ref()))?
        };
        Ok(Receiver {
            shared,
            addr,
            https,
            accept: Some(accept),
        })
    }

    /// Changes how requests arriving from now on are answered.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.lock().mode = mode;
    }

    /// The bound address (`127.0.0.1:PORT`).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` for [`Receiver::start_tls`]) followed by `path`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Every request received so far, in arrival order, whatever the mode.
    #[must_use]
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// Every metric data point decoded so far, whatever the mode answered.
    #[must_use]
    pub fn metrics(&self) -> Vec<MetricPoint> {
        self.shared.lock().metrics.clone()
    }

    /// Every log record decoded so far, whatever the mode answered.
    #[must_use]
    pub fn logs(&self) -> Vec<LogRecord> {
        self.shared.lock().logs.clone()
    }

    /// The log records of the requests answered in [`Mode::Accept`]: what a client was told
    /// is stored (a test that checks "nothing lost" must not count records it was told were
    /// refused).
    #[must_use]
    pub fn accepted_logs(&self) -> Vec<LogRecord> {
        let st = self.shared.lock();
        st.logs
            .iter()
            .zip(&st.logs_accepted)
            .filter(|(_, ok)| **ok)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Every span decoded so far, whatever the mode answered.
    #[must_use]
    pub fn spans(&self) -> Vec<Span> {
        self.shared.lock().spans.clone()
    }

    /// Calls `f` until it returns `Some` or `deadline` (from now) passes,
    /// sleeping on a condition variable woken by each new request between
    /// calls (at most 50 ms, in case `f` watches something else). `f` is
    /// always called at least once, and once more at the deadline.
    pub fn wait_until<T>(
        &self,
        deadline: Duration,
        mut f: impl FnMut(&Receiver) -> Option<T>,
    ) -> Option<T> {
        let end = Instant::now() + deadline;
        loop {
            let seen = self.shared.lock().generation;
            if let Some(t) = f(self) {
                return Some(t);
            }
            let now = Instant::now();
            if now >= end {
                return None;
            }
            let nap = (end - now).min(Duration::from_millis(50));
            let guard = self.shared.lock();
            // The result is ignored: the loop re-checks `f` and the clock either way.
            drop(
                self.shared
                    .changed
                    .wait_timeout_while(guard, nap, |s| s.generation == seen),
            );
        }
    }

    /// All log records once there are at least `n`, or whatever has arrived when `deadline` passes.
    #[must_use]
    pub fn wait_for_logs(&self, n: usize, deadline: Duration) -> Vec<LogRecord> {
        self.wait_until(deadline, |rx| Some(rx.logs()).filter(|l| l.len() >= n))
            .unwrap_or_else(|| self.logs())
    }

    /// The points of metric `name` as soon as there is one; empty if none by `deadline`.
    #[must_use]
    pub fn wait_for_metric(&self, name: &str, deadline: Duration) -> Vec<MetricPoint> {
        let named = |rx: &Receiver| -> Vec<MetricPoint> {
            rx.metrics()
                .into_iter()
                .filter(|m| m.name == name)
                .collect()
        };
        self.wait_until(deadline, |rx| Some(named(rx)).filter(|m| !m.is_empty()))
            .unwrap_or_default()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let conns = {
            let mut st = self.shared.lock();
            st.shutdown = true;
            std::mem::take(&mut st.conns)
        };
        self.shared.changed.notify_all();
        for conn in conns.values() {
            // Unblocks readers and hung handlers; the client sees the close.
            let _ = conn.shutdown(Shutdown::Both);
        }
        // Wake the blocking accept() so the thread sees `shutdown`. Join only
        // if the wake-up connected, so drop can never block forever.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let (true, Some(accept)) = (woke, self.accept.take()) {
            let _ = accept.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    tls: Option<&Arc<rustls::ServerConfig>>,
) {
    for stream in listener.incoming() {
        if shared.lock().shutdown {
            return;
        }
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(shared);
        let tls = tls.cloned();
        // If no thread can be spawned the stream drops and the client sees a close.
        let _ = thread::Builder::new()
            .name("otlp-capture-conn".into())
            .spawn(move || serve(&shared, stream, tls));
    }
}

fn serve(shared: &Shared, stream: TcpStream, tls: Option<Arc<rustls::ServerConfig>>) {
    let _ = stream.set_nodelay(true);
    let id = {
        let mut st = shared.lock();
        let Ok(clone) = stream.try_clone() else {
            return;
        };
        if st.shutdown {
            return;
        }
        st.next_conn += 1;
        let id = st.next_conn;
        st.conns.insert(id, clone);
        id
    };
    match tls {
        None => serve_conn(shared, &stream),
        Some(config) => {
            if let Ok(conn) = rustls::ServerConnection::new(config) {
                serve_conn(shared, rustls::StreamOwned::new(conn, &stream));
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    shared.lock().conns.remove(&id);
}

/// Answers requests on one connection until the client closes it or the mode ends it.
fn serve_conn(shared: &Shared, io: impl Read + Write) {
    let mut reader = BufReader::new(io);
    loop {
        let raw = match http::read_request(&mut reader) {
            Ok(raw) => raw,
            Err(ReadError::Eof | ReadError::Io) => return,
            Err(ReadError::Malformed(why)) => {
                let _ =
                    http::write_response(reader.get_mut(), 400, "text/plain", why.as_bytes(), true);
                return;
            }
        };
        let content_type = raw.header("content-type").unwrap_or_default().to_owned();
        let decoded = decode::decode(
            &raw.path,
            &content_type,
            raw.header("content-encoding"),
            &raw.body,
        );
        let keep_alive = raw.keep_alive();
        let json = content_type.to_ascii_lowercase().contains("json");
        let request = Request {
            signal: decoded.signal(),
            path: raw.path,
            method: raw.method,
            headers: raw.headers,
            content_type,
            body: raw.body,
        };
        let mode = record(shared, request, decoded);
        let writer = reader.get_mut();
        let answered = match mode {
            Mode::Accept if json => {
                http::write_response(writer, 200, "application/json", b"{}", !keep_alive)
            }
            // An empty Export*ServiceResponse encodes to zero bytes.
            Mode::Accept => {
                http::write_response(writer, 200, "application/x-protobuf", b"", !keep_alive)
            }
            Mode::Status(code) => {
                http::write_response(writer, code, "text/plain", b"", !keep_alive)
            }
            Mode::Close => return,
            Mode::Hang => {
                let st = shared.lock();
                drop(shared.changed.wait_while(st, |s| !s.shutdown));
                return;
            }
        };
        if answered.is_err() || !keep_alive {
            return;
        }
    }
}

/// Stores the request and its records, wakes waiters, and returns the mode to answer in.
fn record(shared: &Shared, request: Request, decoded: Decoded) -> Mode {
    let mode = {
        let mut st = shared.lock();
        st.requests.push(request);
        match decoded {
            Decoded::Logs(v) => {
                let accepted = st.mode == Mode::Accept;
                st.logs_accepted
                    .extend(std::iter::repeat_n(accepted, v.len()));
                st.logs.extend(v);
            }
            Decoded::Metrics(v) => st.metrics.extend(v),
            Decoded::Traces(v) => st.spans.extend(v),
            Decoded::Undecodable => {}
        }
        st.generation += 1;
        st.mode
    };
    shared.changed.notify_all();
    mode
}
