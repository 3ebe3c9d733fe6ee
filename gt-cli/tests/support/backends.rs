//! Real backends for the read-back tests: the `GT_IT_BACKENDS=1` switch, HTTP requests with
//! curl, polling with a deadline, and private servers (VictoriaMetrics, vmalert) started from
//! the binaries `.ci/setup-backends.sh` installs, on OS-chosen ports, killed on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True with `GT_IT_BACKENDS=1`; otherwise says why the test is skipped.
pub(crate) fn enabled() -> bool {
    let on = std::env::var(telemetry_core::env::GT_IT_BACKENDS).is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: set GT_IT_BACKENDS=1 with .ci/start-backends.sh run once");
    }
    on
}

/// A value unique to this test run, used as a resource attribute (`test.run`) to find our data.
pub(crate) fn run_tag(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}

/// A POST of url-encoded `data` to `url` (a GET when `data` is empty); the body, empty on failure.
pub(crate) fn curl(url: &str, data: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", url]);
    for (key, value) in data {
        cmd.arg("--data-urlencode").arg(format!("{key}={value}"));
    }
    let out = cmd.output().expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rows a LogsQL query returns from the VictoriaLogs at `base` (`http://host:port`).
pub(crate) fn logsql(base: &str, query: &str) -> Vec<serde_json::Value> {
    curl(&format!("{base}/select/logsql/query"), &[("query", query)])
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The value of a PromQL/MetricsQL instant query at the VictoriaMetrics at `base`, after a
/// flush of its buffers; `None` when the query returns no sample.
pub(crate) fn vm_scalar(base: &str, query: &str) -> Option<f64> {
    curl(&format!("{base}/internal/force_flush"), &[]);
    let body = curl(&format!("{base}/api/v1/query"), &[("query", query)]);
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    json["data"]["result"][0]["value"][1]
        .as_str()?
        .parse::<f64>()
        .ok()
}

/// Field `name` of a LogsQL stats row as a number (LogsQL answers numbers as strings); NaN
/// when missing.
pub(crate) fn number(row: &serde_json::Value, name: &str) -> f64 {
    row[name]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Polls `probe` until it returns Some, up to `deadline`.
pub(crate) fn poll<T>(deadline: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if started.elapsed() > deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// A binary installed by `.ci/setup-backends.sh` (`$PREFIX/bin`, PREFIX defaulting to
/// `~/.cache/otel-backends`); panics with the fix when it is missing.
pub(crate) fn bin(name: &str) -> PathBuf {
    let prefix = std::env::var_os("PREFIX").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/otel-backends"),
        PathBuf::from,
    );
    let path = prefix.join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run .ci/setup-backends.sh (or .ci/start-backends.sh)",
        path.display()
    );
    path
}

/// A server process on 127.0.0.1, killed (and reaped) on drop.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// Its working directory (data, log).
    pub(crate) dir: tempfile::TempDir,
}

impl Server {
    /// Starts `program` with `args(listen_addr, dir)` until `GET /health` answers `OK`,
    /// retrying on another port when the chosen one was taken in the meantime.
    pub(crate) fn start(
        program: &std::path::Path,
        args: impl Fn(&str, &std::path::Path) -> Vec<String>,
    ) -> Self {
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let dir = tempfile::tempdir().expect("temp dir");
            let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
            let child = Command::new(program)
                .args(args(&format!("127.0.0.1:{port}"), dir.path()))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("{} starts: {e}", program.display()));
            let mut server = Self {
                child,
                url: format!("http://127.0.0.1:{port}"),
                dir,
            };
            let health = format!("{}/health", server.url);
            let up = poll(Duration::from_secs(30), || {
                if server.child.try_wait().ok().flatten().is_some() {
                    return Some(false);
                }
                (curl(&health, &[]).trim() == "OK").then_some(true)
            });
            if up == Some(true) {
                return server;
            }
            eprintln!("{} did not come up:\n{}", program.display(), server.log());
        }
        panic!("{} did not start", program.display());
    }

    /// Sends `sig` to the server (`STOP`/`CONT` freeze and thaw it).
    pub(crate) fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id().cast_signed()).expect("a pid");
        rustix::process::kill_process(pid, sig).expect("signal sent");
    }

    /// What the server printed so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private VictoriaMetrics with the flags of `.ci/start-backends.sh` (and no result cache,
/// so that polled queries see new samples at once).
pub(crate) fn victoria_metrics() -> Server {
    Server::start(&bin("victoria-metrics"), |addr, dir| {
        vec![
            format!("-httpListenAddr={addr}"),
            format!("-storageDataPath={}", dir.join("vm").display()),
            "-retentionPeriod=1d".to_owned(),
            "-search.latencyOffset=1s".to_owned(),
            "-search.disableCache".to_owned(),
            "-opentelemetry.usePrometheusNaming".to_owned(),
        ]
    })
}

/// A private VictoriaLogs keeping everything (`-retentionPeriod=100y`), so that records of any
/// age are stored.
pub(crate) fn victoria_logs() -> Server {
    Server::start(&bin("victoria-logs"), |addr, dir| {
        vec![
            format!("-httpListenAddr={addr}"),
            format!("-storageDataPath={}", dir.join("vl").display()),
            "-retentionPeriod=100y".to_owned(),
        ]
    })
}
