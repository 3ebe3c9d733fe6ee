//! Telemetry configuration, parsed once from an injectable environment lookup.
//!
//! Nothing here touches the network or spawns threads: [`Config::from_lookup`] turns variables
//! into a typed value (or an [`InitError`]) so tests never mutate the process environment.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::InitError;
use crate::resource::parse_resource_attributes;

// The variables `Config` reads, declared in `crate::env`; re-exported so that
// `config::GT_OTEL_METRICS_URL` keeps working.
pub use crate::env::{
    GT_OTEL_LOGS_URL, GT_OTEL_METRICS_URL, GT_OTEL_SPOOL_MAX_MB, GT_OTEL_TRACES_URL, GT_STATE_DIR,
    OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_METRIC_EXPORT_INTERVAL, OTEL_RESOURCE_ATTRIBUTES,
    OTEL_SDK_DISABLED, XDG_STATE_HOME,
};

/// Metrics URL used when only the logs URL is set (VictoriaMetrics' OTLP ingestion).
pub const DEFAULT_METRICS_URL: &str = "http://localhost:8428/opentelemetry/api/v1/push";
/// Logs URL used when only the metrics URL is set (VictoriaLogs' OTLP ingestion).
pub const DEFAULT_LOGS_URL: &str = "http://localhost:9428/insert/opentelemetry/v1/logs";
/// Default size cap of the spool of failed exports, in MiB.
pub const DEFAULT_SPOOL_MAX_MB: u64 = 64;
/// Default periodic metrics export interval.
pub const DEFAULT_EXPORT_INTERVAL: Duration = Duration::from_secs(30);

/// Aggregation temporality of exported sums and histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TemporalityPreference {
    /// Sums grow from the process start (the default; what VictoriaMetrics 1.112 stores).
    #[default]
    Cumulative,
    /// Each export carries only what happened since the previous one.
    Delta,
    /// Delta for counters and histograms, cumulative for up-down counters.
    LowMemory,
}

/// Typed telemetry configuration. Both URLs are `None` exactly when telemetry is disabled.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Effective metrics endpoint (the configured one, or the default when only logs is set).
    pub metrics_url: Option<String>,
    /// Effective logs endpoint (the configured one, or the default when only metrics is set).
    pub logs_url: Option<String>,
    /// Traces endpoint: spans are exported only when it is set (there is no default trace
    /// store).
    pub traces_url: Option<String>,
    /// Decoded `OTEL_RESOURCE_ATTRIBUTES` pairs, in order.
    pub resource_attributes: Vec<(String, String)>,
    /// Decoded `OTEL_EXPORTER_OTLP_HEADERS` pairs.
    pub headers: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`: CA certificates (PEM) for `https://` endpoints.
    pub certificate: Option<PathBuf>,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`, when set to a valid value; the profile's default otherwise.
    pub export_timeout: Option<Duration>,
    /// Periodic metrics export interval.
    pub export_interval: Duration,
    /// Temporality of exported sums.
    pub temporality: TemporalityPreference,
    /// The state directory (`GT_STATE_DIR`, else `$XDG_STATE_HOME/gastown`, else
    /// `$HOME/.local/state/gastown`); `None` when none of them is set.
    pub state_dir: Option<PathBuf>,
    /// `GT_OTEL_SPOOL_MAX_MB` in bytes: the size cap of the spool of failed exports under
    /// the state directory; `0` keeps no spool.
    pub spool_max_bytes: u64,
    /// One line per value that was ignored (a malformed timeout, a header entry without `=`);
    /// the caller prints them once. Each names the variable and never a secret value.
    pub warnings: Vec<String>,
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    /// See [`Config::from_lookup`].
    pub fn from_env() -> Result<Self, InitError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the configuration through `lookup` (a variable name to its value).
    ///
    /// Empty values count as unset. When both URLs are unset, or `OTEL_SDK_DISABLED=true`, the
    /// result is disabled and nothing else is parsed.
    ///
    /// # Errors
    /// A URL that is not an absolute `http://` or `https://` URL, or an unparsable number in
    /// one of the numeric variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let disabled = get(OTEL_SDK_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let Some(endpoints) = Endpoints::resolve(&get) else {
            return Ok(Self::disabled());
        };
        if disabled {
            return Ok(Self::disabled());
        }
        let Endpoints {
            metrics: (metrics_var, metrics_url),
            logs: (logs_var, logs_url),
            traces,
        } = endpoints;
        validate_url(metrics_var, &metrics_url)?;
        validate_url(logs_var, &logs_url)?;
        if let Some((var, url)) = &traces {
            validate_url(var, url)?;
        }
        let mut warnings = Vec::new();
        // The OpenTelemetry specification: an invalid value is ignored with a warning and the
        // default applies. Zero is no usable timeout or interval either.
        let mut millis = |key: &'static str| -> Option<Duration> {
            let raw = get(key)?;
            match raw.parse::<u64>() {
                Ok(0) => {
                    warnings.push(format!(
                        "{key}=0 is not a usable number of milliseconds; the default applies"
                    ));
                    None
                }
                Ok(ms) => Some(Duration::from_millis(ms)),
                Err(_) => {
                    warnings.push(format!(
                        "{key}={raw:?} is not a whole number of milliseconds; the default applies"
                    ));
                    None
                }
            }
        };
        let export_timeout = millis(OTEL_EXPORTER_OTLP_TIMEOUT);
        let export_interval =
            millis(OTEL_METRIC_EXPORT_INTERVAL).unwrap_or(DEFAULT_EXPORT_INTERVAL);
        let spool_max_mb = match get(GT_OTEL_SPOOL_MAX_MB).map(|raw| (raw.parse::<u64>(), raw)) {
            None => DEFAULT_SPOOL_MAX_MB,
            Some((Ok(mb), _)) => mb,
            Some((Err(_), raw)) => {
                warnings.push(format!(
                    "{GT_OTEL_SPOOL_MAX_MB}={raw:?} is not a whole number of MiB; the default \
                     ({DEFAULT_SPOOL_MAX_MB}) applies"
                ));
                DEFAULT_SPOOL_MAX_MB
            }
        };
        let headers = get(OTEL_EXPORTER_OTLP_HEADERS)
            .map(|raw| parse_headers(&raw, &mut warnings))
            .unwrap_or_default();
        let temporality = match get(OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE)
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("cumulative") => TemporalityPreference::Cumulative,
            Some("delta") => TemporalityPreference::Delta,
            Some("lowmemory") => TemporalityPreference::LowMemory,
            Some(other) => {
                return Err(InitError::InvalidTemporality {
                    value: other.to_owned(),
                });
            }
        };
        Ok(Self {
            metrics_url: Some(metrics_url),
            logs_url: Some(logs_url),
            traces_url: traces.map(|(_, url)| url),
            resource_attributes: get(OTEL_RESOURCE_ATTRIBUTES)
                .map(|raw| parse_resource_attributes(&raw))
                .unwrap_or_default(),
            headers,
            certificate: get(OTEL_EXPORTER_OTLP_CERTIFICATE).map(PathBuf::from),
            export_timeout,
            export_interval,
            temporality,
            state_dir: state_dir(&get),
            spool_max_bytes: spool_max_mb.saturating_mul(1024 * 1024),
            warnings,
        })
    }

    /// The disabled configuration: no URLs, nothing exported.
    #[must_use]
    pub fn disabled() -> Self {
        Self {
            metrics_url: None,
            logs_url: None,
            traces_url: None,
            resource_attributes: Vec::new(),
            headers: Vec::new(),
            certificate: None,
            export_timeout: None,
            export_interval: DEFAULT_EXPORT_INTERVAL,
            temporality: TemporalityPreference::Cumulative,
            state_dir: None,
            spool_max_bytes: DEFAULT_SPOOL_MAX_MB * 1024 * 1024,
            warnings: Vec::new(),
        }
    }

    /// The metrics and logs URLs of an enabled configuration.
    ///
    /// # Errors
    /// [`InitError::InvalidUrl`] when telemetry is disabled (there is no URL to send to).
    pub fn endpoints(&self) -> Result<(&str, &str), InitError> {
        match (&self.metrics_url, &self.logs_url) {
            (Some(metrics), Some(logs)) => Ok((metrics, logs)),
            _ => Err(InitError::InvalidUrl {
                variable: crate::env::GT_OTEL_METRICS_URL,
                url: String::new(),
                reason: "telemetry is disabled (no URL configured)".to_owned(),
            }),
        }
    }

    /// Whether this configuration exports anything.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.metrics_url.is_some() || self.logs_url.is_some()
    }
}

/// The three signals' URLs, each with the variable it came from (named in errors).
struct Endpoints {
    metrics: (&'static str, String),
    logs: (&'static str, String),
    traces: Option<(&'static str, String)>,
}

/// The OpenTelemetry default base endpoint (OTLP/HTTP).
const STANDARD_BASE: &str = "http://localhost:4318";

impl Endpoints {
    /// Gas Town's own variables first: any `GT_OTEL_*_URL` set decides (a missing metrics or
    /// logs URL takes the local VictoriaMetrics/VictoriaLogs default, a missing traces URL
    /// means no spans). Else the standard `OTEL_EXPORTER_OTLP_{METRICS,LOGS,TRACES}_ENDPOINT`
    /// (verbatim) and `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/<signal>`). `None`: none set.
    fn resolve(get: &impl Fn(&str) -> Option<String>) -> Option<Self> {
        let (metrics, logs, traces) = (
            get(GT_OTEL_METRICS_URL),
            get(GT_OTEL_LOGS_URL),
            get(GT_OTEL_TRACES_URL),
        );
        if metrics.is_some() || logs.is_some() || traces.is_some() {
            return Some(Self {
                metrics: (
                    GT_OTEL_METRICS_URL,
                    metrics.unwrap_or_else(|| DEFAULT_METRICS_URL.to_owned()),
                ),
                logs: (
                    GT_OTEL_LOGS_URL,
                    logs.unwrap_or_else(|| DEFAULT_LOGS_URL.to_owned()),
                ),
                traces: traces.map(|url| (GT_OTEL_TRACES_URL, url)),
            });
        }
        let base = get(OTEL_EXPORTER_OTLP_ENDPOINT);
        let (m, l, t) = (
            get(OTEL_EXPORTER_OTLP_METRICS_ENDPOINT),
            get(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT),
            get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
        );
        if base.is_none() && m.is_none() && l.is_none() && t.is_none() {
            return None;
        }
        let base_var = if base.is_some() {
            OTEL_EXPORTER_OTLP_ENDPOINT
        } else {
            "the default OTLP endpoint"
        };
        let base = base.unwrap_or_else(|| STANDARD_BASE.to_owned());
        let signal = |own: Option<String>, own_var: &'static str, path: &str| match own {
            Some(url) => (own_var, url),
            None => (
                base_var,
                format!("{}/v1/{path}", base.trim_end_matches('/')),
            ),
        };
        Some(Self {
            metrics: signal(m, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, "metrics"),
            logs: signal(l, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "logs"),
            traces: Some(signal(t, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "traces")),
        })
    }
}

/// The state directory whether telemetry is on or off (the work ledger is written either
/// way): `GT_STATE_DIR`, else `$XDG_STATE_HOME/gastown`, else `$HOME/.local/state/gastown`;
/// `None` when none is set. Empty values count as unset.
pub fn state_dir_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    state_dir(&|key: &str| {
        lookup(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    })
}

/// `GT_STATE_DIR`, else `$XDG_STATE_HOME/gastown`, else `$HOME/.local/state/gastown`.
fn state_dir(get: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    get(GT_STATE_DIR)
        .map(PathBuf::from)
        .or_else(|| get(XDG_STATE_HOME).map(|x| PathBuf::from(x).join("gastown")))
        .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".local/state/gastown")))
}

/// Parses `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, percent-encoded values). An entry that is
/// not `name=value` with a valid HTTP header name, or whose value holds a line break, is
/// dropped with a warning that names the entry's position and key, never its value.
fn parse_headers(raw: &str, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for (position, entry) in raw.split(',').enumerate().map(|(i, e)| (i + 1, e)) {
        if entry.trim().is_empty() {
            continue;
        }
        let parsed = parse_resource_attributes(entry);
        let valid = parsed.first().filter(|(key, value)| {
            key.bytes().all(is_header_name_byte) && !value.contains(['\r', '\n', '\0'])
        });
        match valid {
            Some(pair) => headers.push(pair.clone()),
            None => {
                let key = entry.split_once('=').map_or("", |(k, _)| k.trim());
                warnings.push(format!(
                    "{OTEL_EXPORTER_OTLP_HEADERS}: entry {position} (key {key:?}) is not a valid \
                     name=value header and is ignored"
                ));
            }
        }
    }
    headers
}

/// RFC 9110 token characters.
fn is_header_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `url` with its credentials hidden, for messages and `gt otel doctor`: the user-info part
/// (`user:pass@`) and every query value (`?token=…`) become `REDACTED`.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let mut out = String::with_capacity(url.len());
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((_, host)) => {
                    out.push_str("REDACTED@");
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) => format!("{key}=REDACTED"),
                None => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// The directory of a `file:///dir/` endpoint (offline mode: OTLP JSON Lines files written
/// there instead of HTTP); `None` for any other URL. Only absolute local paths are accepted
/// (`file:///…`, no host); the path is used as written (no percent-decoding).
#[must_use]
pub fn file_url_dir(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("file://")?;
    path.starts_with('/').then(|| PathBuf::from(path))
}

/// Checks what the HTTP client would otherwise reject later, on an export thread, silently.
fn validate_url(variable: &'static str, url: &str) -> Result<(), InitError> {
    let invalid = |reason: &str| InitError::InvalidUrl {
        variable,
        url: redact_url(url),
        reason: reason.to_owned(),
    };
    if url.starts_with("file://") {
        return match file_url_dir(url) {
            Some(_) if !url.chars().any(char::is_control) => Ok(()),
            _ => Err(invalid(
                "a file:// URL must name an absolute directory (file:///dir/)",
            )),
        };
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| invalid("it must start with http://, https:// or file:///"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(invalid("it has no host"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it contains whitespace or control characters"));
    }
    if let Some((_, port)) = host.rsplit_once(':').filter(|_| !host.ends_with(']'))
        && port.parse::<u16>().is_err()
    {
        return Err(invalid("its port is not a number between 0 and 65535"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, InitError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn a_traces_url_alone_turns_telemetry_on_and_spans_need_one() {
        let c = config(&[(GT_OTEL_TRACES_URL, "http://127.0.0.1:6006/v1/traces")]).unwrap();
        assert!(c.is_enabled());
        assert_eq!(
            c.traces_url.as_deref(),
            Some("http://127.0.0.1:6006/v1/traces")
        );
        assert_eq!(c.metrics_url.as_deref(), Some(DEFAULT_METRICS_URL));
        let c = config(&[(GT_OTEL_LOGS_URL, "http://h/l")]).unwrap();
        assert_eq!(c.traces_url, None);
        assert!(config(&[(GT_OTEL_TRACES_URL, "ftp://h")]).is_err());
    }

    #[test]
    fn standard_otlp_endpoints_apply_only_without_gas_towns_own() {
        let c = config(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318/"),
            (
                OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
                "http://logs:9428/insert/opentelemetry/v1/logs",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.metrics_url.as_deref(),
            Some("http://collector:4318/v1/metrics")
        );
        assert_eq!(
            c.logs_url.as_deref(),
            Some("http://logs:9428/insert/opentelemetry/v1/logs")
        );
        assert_eq!(
            c.traces_url.as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        let c = config(&[(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "http://t:1/x")]).unwrap();
        assert_eq!(
            c.metrics_url.as_deref(),
            Some("http://localhost:4318/v1/metrics")
        );
        let c = config(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
            (GT_OTEL_METRICS_URL, "http://vm:8428/push"),
        ])
        .unwrap();
        assert_eq!(c.metrics_url.as_deref(), Some("http://vm:8428/push"));
        assert_eq!(c.logs_url.as_deref(), Some(DEFAULT_LOGS_URL));
        assert_eq!(c.traces_url, None);
        let err = config(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4318")]).unwrap_err();
        assert!(
            err.to_string().contains(OTEL_EXPORTER_OTLP_ENDPOINT),
            "{err}"
        );
    }

    #[test]
    fn both_unset_is_disabled() {
        assert!(!config(&[]).unwrap().is_enabled());
        assert!(!config(&[(GT_OTEL_LOGS_URL, "  ")]).unwrap().is_enabled());
    }

    #[test]
    fn sdk_disabled_switch_wins_over_urls() {
        let c = config(&[
            (GT_OTEL_LOGS_URL, "http://x/l"),
            (OTEL_SDK_DISABLED, "TRUE"),
        ])
        .unwrap();
        assert!(!c.is_enabled());
    }

    #[test]
    fn one_url_set_fills_the_other_with_its_default() {
        let c = config(&[(GT_OTEL_LOGS_URL, "http://127.0.0.1:1/l")]).unwrap();
        assert_eq!(c.metrics_url.as_deref(), Some(DEFAULT_METRICS_URL));
        assert_eq!(c.logs_url.as_deref(), Some("http://127.0.0.1:1/l"));
        let c = config(&[(GT_OTEL_METRICS_URL, "http://127.0.0.1:1/m")]).unwrap();
        assert_eq!(c.logs_url.as_deref(), Some(DEFAULT_LOGS_URL));
    }

    #[test]
    fn malformed_urls_are_typed_errors() {
        for bad in [
            "localhost:8428",
            "ftp://x/y",
            "http://",
            "http://:80/x",
            "http://h:99999/x",
        ] {
            let err = config(&[(GT_OTEL_METRICS_URL, bad)]).unwrap_err();
            assert!(matches!(err, InitError::InvalidUrl { .. }), "{bad}: {err}");
            assert!(err.to_string().contains(GT_OTEL_METRICS_URL), "{err}");
        }
    }

    #[test]
    fn numbers_and_temporality_parse() {
        let c = config(&[
            (GT_OTEL_LOGS_URL, "http://h/l"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "250"),
            (OTEL_METRIC_EXPORT_INTERVAL, "1000"),
            (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, "Delta"),
        ])
        .unwrap();
        assert_eq!(c.export_timeout, Some(Duration::from_millis(250)));
        assert_eq!(c.export_interval, Duration::from_secs(1));
        assert_eq!(c.temporality, TemporalityPreference::Delta);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn malformed_or_zero_timeouts_fall_back_to_the_default_with_a_warning() {
        for bad in ["1s", "-5", "0", "9999999999999999999999"] {
            let c = config(&[
                (GT_OTEL_LOGS_URL, "http://h/l"),
                (OTEL_EXPORTER_OTLP_TIMEOUT, bad),
                (OTEL_METRIC_EXPORT_INTERVAL, bad),
            ])
            .expect("a bad number never disables telemetry");
            assert_eq!(c.export_timeout, None, "{bad}");
            assert_eq!(c.export_interval, DEFAULT_EXPORT_INTERVAL, "{bad}");
            assert_eq!(c.warnings.len(), 2, "{bad}: {:?}", c.warnings);
            assert!(
                c.warnings[0].contains(OTEL_EXPORTER_OTLP_TIMEOUT),
                "{:?}",
                c.warnings
            );
            assert!(
                c.warnings[0].contains("default applies"),
                "{:?}",
                c.warnings
            );
        }
    }

    #[test]
    fn malformed_header_entries_are_reported_without_their_values() {
        let c = config(&[
            (GT_OTEL_LOGS_URL, "http://h/l"),
            (
                OTEL_EXPORTER_OTLP_HEADERS,
                "authorization=Bearer%20s3cret,novalue,bad name=x,x-ok=1,x-crlf=a%0D%0Ab",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.headers,
            vec![
                ("authorization".to_owned(), "Bearer s3cret".to_owned()),
                ("x-ok".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("entry 2"), "{:?}", c.warnings);
        assert!(c.warnings[1].contains("\"bad name\""), "{:?}", c.warnings);
        assert!(
            c.warnings
                .iter()
                .all(|w| !w.contains("s3cret") && !w.contains("a\r"))
        );
    }

    #[test]
    fn file_urls_name_an_absolute_directory() {
        let c = config(&[(GT_OTEL_LOGS_URL, "file:///tmp/otlp/")]).unwrap();
        assert_eq!(
            c.logs_url.as_deref().and_then(file_url_dir),
            Some(PathBuf::from("/tmp/otlp/"))
        );
        assert_eq!(file_url_dir("http://h/v1/logs"), None);
        for bad in ["file://relative/dir", "file://"] {
            let err = config(&[(GT_OTEL_LOGS_URL, bad)]).unwrap_err();
            assert!(
                err.to_string().contains("absolute directory"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn spool_cap_parses_in_mib_and_warns_on_garbage() {
        let c = config(&[
            (GT_OTEL_LOGS_URL, "http://h/l"),
            (GT_OTEL_SPOOL_MAX_MB, "2"),
        ])
        .unwrap();
        assert_eq!(c.spool_max_bytes, 2 * 1024 * 1024);
        let c = config(&[
            (GT_OTEL_LOGS_URL, "http://h/l"),
            (GT_OTEL_SPOOL_MAX_MB, "lots"),
        ])
        .unwrap();
        assert_eq!(c.spool_max_bytes, DEFAULT_SPOOL_MAX_MB * 1024 * 1024);
        assert!(
            c.warnings[0].contains(GT_OTEL_SPOOL_MAX_MB),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn credentials_in_urls_are_redacted() {
        for (url, want) in [
            ("http://h:1/v1/logs", "http://h:1/v1/logs"),
            (
                "https://user:pa%40ss@h/v1/logs",
                "https://REDACTED@h/v1/logs",
            ),
            (
                "http://h/p?token=abc&x=1#f",
                "http://h/p?token=REDACTED&x=REDACTED#f",
            ),
            ("http://u@h?api_key=k", "http://REDACTED@h?api_key=REDACTED"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
