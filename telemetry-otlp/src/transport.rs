//! The one HTTP client of Gas Town telemetry: every signal's exporter and the endpoint probe
//! send through the same [`Transport`].
//!
//! It is `ureq` (blocking, no async runtime, connection pool shared by clones) with rustls on
//! the `ring` provider. TLS costs nothing for `http://` endpoints: the rustls configuration and
//! its roots are built on the first `https://` connection only. Roots are the bundled public
//! ones (webpki-roots), or exactly the CA certificates of `OTEL_EXPORTER_OTLP_CERTIFICATE` when
//! it is set (a private or test CA). The system's CA bundle is never loaded.
//!
//! It must not retry (the exporter's retry policy does), log, or read the environment.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use telemetry_core::{Config, InitError};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Largest response body read from a backend (OTLP answers are tiny; a partial-success body
/// is a few KiB). The rest is not read.
const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

/// A blocking HTTP client with the exporter timeout, cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct Transport {
    agent: ureq::Agent,
    timeout: Duration,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A client whose every request (connect, send, answer) ends within `timeout`, trusting the
    /// CA certificates of `config.certificate` when set.
    ///
    /// # Errors
    /// [`InitError::Certificate`] when the certificate file cannot be read or holds no
    /// certificate.
    pub fn new(config: &Config, timeout: Duration) -> Result<Self, InitError> {
        let roots = match &config.certificate {
            Some(path) => RootCerts::new_with_certs(&read_certificates(path)?),
            None => RootCerts::WebPki,
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(roots)
            .build();
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("gt-telemetry/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build();
        let agent =
            ureq::Agent::with_parts(config, DefaultConnector::new(), LiteralFirst::default());
        Ok(Self { agent, timeout })
    }

    /// The bound on one request.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `request` and reads the answer (status, headers, at most 4 MiB of body).
    ///
    /// # Errors
    /// A [`ureq::Error`] when no HTTP answer came (refused, reset, TLS, timeout).
    pub fn send(&self, request: Request<&[u8]>) -> Result<Response<Bytes>, ureq::Error> {
        let response = self.agent.run(request)?;
        let (parts, mut body) = response.into_parts();
        let bytes = body
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .unwrap_or_default();
        Ok(Response::from_parts(parts, Bytes::from(bytes)))
    }

    /// POSTs an empty OTLP protobuf export request (a valid, empty `Export*ServiceRequest`) to
    /// `url` with `headers`, as a reachability check that stores nothing.
    ///
    /// # Errors
    /// One line saying why no HTTP answer came.
    pub fn probe(&self, url: &str, headers: &[(String, String)]) -> Result<Probe, String> {
        let mut builder = Request::post(url).header("content-type", "application/x-protobuf");
        for (key, value) in headers {
            builder = builder.header(key.as_str(), value.as_str());
        }
        let request = builder.body(&[][..]).map_err(|e| e.to_string())?;
        let started = Instant::now();
        match self.send(request) {
            Ok(response) => Ok(Probe {
                status: response.status().as_u16(),
                elapsed: started.elapsed(),
            }),
            Err(ureq::Error::Timeout(_)) => {
                Err(format!("no answer within {} ms", self.timeout.as_millis()))
            }
            Err(err) => Err(error_chain(&err)),
        }
    }
}

/// What a [`Transport::probe`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The HTTP status of the answer.
    pub status: u16,
    /// Round-trip time.
    pub elapsed: Duration,
}

impl Probe {
    /// Whether the backend accepted the empty export (2xx).
    #[must_use]
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[async_trait::async_trait]
impl HttpClient for Transport {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        // Called from the SDK's own export threads (through a block-on executor): blocking
        // here is what those threads are for.
        let (parts, body) = request.into_parts();
        Ok(self.send(Request::from_parts(parts, &body[..]))?)
    }
}

/// Resolves IP-literal hosts (`127.0.0.1`, `[::1]`) without a lookup. ureq's default resolver
/// runs every lookup on a thread of its own when a timeout is set (so that it can give up on a
/// hanging DNS server); host names still go that way, bounded by the exporter timeout.
#[derive(Debug, Default)]
struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let literal = uri.host().and_then(|host| {
            let ip: IpAddr = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()?;
            let port = uri.port_u16().or_else(|| match uri.scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            })?;
            Some(SocketAddr::new(ip, port))
        });
        match literal {
            Some(addr) => {
                let mut addrs = self.0.empty();
                addrs.push(addr);
                Ok(addrs)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}

fn read_certificates(path: &Path) -> Result<Vec<Certificate<'static>>, InitError> {
    let refuse = |reason: String| InitError::Certificate {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| refuse(e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(cert) = item.map_err(|e| refuse(e.to_string()))? {
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(refuse("no PEM certificate in the file".to_owned()));
    }
    Ok(certs)
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
