//! Health of a Dolt sql-server (any MySQL-protocol server) over the MySQL protocol.
//!
//! A [`Probe`] keeps one connection and reuses it between checks; a failed check drops it and
//! the next check connects again, so a server that stops and comes back is followed without a
//! restart. Every network step is bounded by the probe's timeout. The DSN's password is never
//! part of anything this module returns ([`Dsn`]'s `Display`, [`Probe::server`], errors).

use std::fmt;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable as _;
use mysql::{Conn, Opts, OptsBuilder, Row};

/// A parsed `mysql://user:password@host:port/db` DSN.
#[derive(Clone)]
pub struct Dsn {
    opts: Opts,
    server: String,
    password: Option<String>,
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dsn")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Dsn {
    /// `host:port`: never the user's credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.server)
    }
}

/// Why a DSN was refused.
#[derive(Debug, thiserror::Error)]
pub enum DsnError {
    /// Not a `mysql://` URL the client understands (the DSN itself is not repeated: it may hold
    /// a password).
    #[error("not a mysql://user:password@host:port/db DSN ({0})")]
    Invalid(String),
}

impl Dsn {
    /// Parses `url` (`mysql://user:password@host:port/db`; the port defaults to 3306).
    ///
    /// # Errors
    /// [`DsnError::Invalid`] when the client cannot read it.
    pub fn parse(url: &str) -> Result<Self, DsnError> {
        let opts = Opts::from_url(url).map_err(|e| {
            // The client's message can quote the URL: keep only its kind.
            let text = e.to_string();
            let kind = text
                .split(':')
                .next()
                .unwrap_or("unreadable")
                .trim()
                .to_owned();
            DsnError::Invalid(kind)
        })?;
        let server = format!("{}:{}", opts.get_ip_or_hostname(), opts.get_tcp_port());
        let password = opts.get_pass().map(str::to_owned).filter(|p| !p.is_empty());
        Ok(Self {
            opts,
            server,
            password,
        })
    }

    /// `host:port`.
    #[must_use]
    pub fn server(&self) -> &str {
        &self.server
    }

    /// `text` with the password, if it appears, replaced by `***`.
    fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some(p) => text.replace(p.as_str(), "***"),
            None => text.to_owned(),
        }
    }
}

/// What one check measured. `latency` is `Some` exactly when the check succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Check {
    /// `SELECT 1` round trip.
    pub latency: Option<Duration>,
    /// `Threads_connected` (this probe's own connection included).
    pub connections: Option<u64>,
    /// `@@max_connections`.
    pub max_connections: Option<u64>,
    /// Dolt's `dolt_cluster.dolt_cluster_status.replication_lag_millis` (the largest), else
    /// the server's replica status (`Seconds_Behind_Source`/`_Master`); `None` when the server
    /// does not replicate.
    pub replication_lag: Option<Duration>,
    /// Why the server is unhealthy (connect or `SELECT 1` failed), password scrubbed.
    pub error: Option<String>,
}

/// One server's health checker.
pub struct Probe {
    dsn: Dsn,
    timeout: Duration,
    conn: Option<Conn>,
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("server", &self.dsn.server)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl Probe {
    /// A probe of `dsn` whose every connect, read and write is bounded by `timeout`.
    #[must_use]
    pub fn new(dsn: Dsn, timeout: Duration) -> Self {
        Self {
            dsn,
            timeout,
            conn: None,
        }
    }

    /// `host:port` of the server.
    #[must_use]
    pub fn server(&self) -> &str {
        self.dsn.server()
    }

    /// Checks the server once. Never panics; a failure is [`Check::error`].
    pub fn check(&mut self) -> Check {
        match self.measure() {
            Ok(check) => check,
            Err(err) => {
                self.conn = None;
                Check {
                    error: Some(self.dsn.scrub(&err.to_string())),
                    ..Check::default()
                }
            }
        }
    }

    fn connect(&self) -> mysql::Result<Conn> {
        let opts = OptsBuilder::from_opts(self.dsn.opts.clone())
            .prefer_socket(false)
            .tcp_connect_timeout(Some(self.timeout))
            .read_timeout(Some(self.timeout))
            .write_timeout(Some(self.timeout));
        Conn::new(opts)
    }

    fn measure(&mut self) -> mysql::Result<Check> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let started = Instant::now();
        let one: Option<u8> = conn.query_first("SELECT 1")?;
        let latency = started.elapsed();
        if one != Some(1) {
            return Err(mysql::Error::DriverError(mysql::DriverError::SetupError));
        }
        // The rest is best effort: a server that hides one of them is still healthy.
        let connections = conn
            .query_first::<(String, String), _>("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
            .ok()
            .flatten()
            .and_then(|(_, v)| v.trim().parse().ok());
        let max_connections = conn
            .query_first::<u64, _>("SELECT @@max_connections")
            .ok()
            .flatten();
        let replication_lag = replication_lag(&mut conn);
        self.conn = Some(conn);
        Ok(Check {
            latency: Some(latency),
            connections,
            max_connections,
            replication_lag,
            error: None,
        })
    }
}

/// Dolt's cluster status when the server has it, else its replica status.
fn replication_lag(conn: &mut Conn) -> Option<Duration> {
    let dolt = conn.query_first::<Option<i64>, _>(
        "SELECT MAX(replication_lag_millis) FROM dolt_cluster.dolt_cluster_status",
    );
    if let Ok(found) = dolt {
        return found
            .flatten()
            .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
    }
    for query in ["SHOW REPLICA STATUS", "SHOW SLAVE STATUS"] {
        if let Ok(row) = conn.query_first::<Row, _>(query) {
            let row = row?;
            let seconds = ["Seconds_Behind_Source", "Seconds_Behind_Master"]
                .into_iter()
                .find_map(|col| row.get_opt::<Option<i64>, _>(col).and_then(Result::ok))
                .flatten()?;
            return Some(Duration::from_secs(u64::try_from(seconds).unwrap_or(0)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_name_and_display_never_carry_the_password() {
        let dsn = Dsn::parse("mysql://gt:hunter2@db.example:3307/beads").unwrap();
        assert_eq!(dsn.server(), "db.example:3307");
        assert_eq!(dsn.to_string(), "db.example:3307");
        assert!(!format!("{dsn:?}").contains("hunter2"));
        assert_eq!(dsn.scrub("Access denied: hunter2"), "Access denied: ***");
    }

    #[test]
    fn a_bad_dsn_is_refused_without_echoing_it() {
        let err = Dsn::parse("postgres://u:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_server_that_is_not_there_is_unhealthy_not_a_panic() {
        // A port nobody listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dsn = Dsn::parse(&format!("mysql://root:pw@127.0.0.1:{port}/")).unwrap();
        let mut probe = Probe::new(dsn, Duration::from_secs(2));
        let check = probe.check();
        assert!(check.latency.is_none());
        assert!(check.error.is_some());
    }
}
