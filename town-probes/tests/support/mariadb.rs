//! A private MariaDB server for tests: its own data dir in a temp dir, 127.0.0.1 on an
//! OS-chosen port, stopped and restarted at will, killed on drop.
//!
//! [`MariaDb::start`] returns `None` (after one clear line on stderr) when the server binaries
//! are not installed, unless `GT_IT_MARIADB=1` (set by CI, which installs Debian's
//! `mariadb-server`): then their absence fails the test.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Generous: the CI machine is loaded.
const READY: Duration = Duration::from_secs(90);

pub struct MariaDb {
    dir: tempfile::TempDir,
    server: PathBuf,
    port: u16,
    child: Option<Child>,
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/libexec"].map(PathBuf::from))
        .collect();
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl MariaDb {
    /// Installs a fresh data dir and starts the server; `None` when MariaDB is not installed
    /// (and `GT_IT_MARIADB` is not `1`).
    pub fn start() -> Option<Self> {
        let required = std::env::var(telemetry_core::env::GT_IT_MARIADB).as_deref() == Ok("1");
        let (Some(server), Some(install)) = (
            find(&["mariadbd", "mysqld"]),
            find(&["mariadb-install-db", "mysql_install_db"]),
        ) else {
            assert!(
                !required,
                "GT_IT_MARIADB=1 but mariadbd/mariadb-install-db are not installed"
            );
            eprintln!(
                "SKIPPED: MariaDB is not installed (apt-get install mariadb-server); \
                 set GT_IT_MARIADB=1 to make this a failure"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("gt-mariadb")
            .tempdir()
            .unwrap();
        let mut cmd = Command::new(install);
        cmd.arg("--no-defaults")
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .arg(format!("--datadir={}", dir.path().join("data").display()));
        if is_root() {
            cmd.arg("--user=root");
        }
        let out = cmd.output().expect("mariadb-install-db runs");
        assert!(
            out.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut db = Self {
            dir,
            server,
            port: free_port(),
            child: None,
        };
        db.spawn();
        Some(db)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(&self.server);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", self.path("data").display()))
            .arg(format!("--socket={}", self.path("sock").display()))
            .arg(format!("--pid-file={}", self.path("pid").display()))
            .arg(format!("--log-error={}", self.path("error.log").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg("--skip-log-bin")
            .arg("--innodb-buffer-pool-size=16M")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if is_root() {
            cmd.arg("--user=root");
        }
        self.child = Some(cmd.spawn().expect("mariadbd starts"));
        let deadline = Instant::now() + READY;
        while self.root().is_err() {
            assert!(
                Instant::now() < deadline,
                "MariaDB did not accept connections within {READY:?}: {}",
                std::fs::read_to_string(self.path("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the server (SIGTERM, then waits for it to exit).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + READY;
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Starts the stopped server again on the same port and data dir.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A connection as root over TCP (no password).
    pub fn root(&self) -> mysql::Result<mysql::Conn> {
        mysql::Conn::new(
            mysql::OptsBuilder::new()
                .ip_or_hostname(Some("127.0.0.1"))
                .tcp_port(self.port)
                .user(Some("root"))
                .prefer_socket(false)
                .tcp_connect_timeout(Some(Duration::from_secs(2))),
        )
    }

    /// Runs `sql` as root.
    pub fn exec(&self, sql: &str) {
        use mysql::prelude::Queryable as _;
        self.root().unwrap().query_drop(sql).unwrap();
    }

    /// A DSN for a user `gt` with password `password` (created on first use).
    pub fn dsn_with_password(&self, password: &str) -> String {
        self.exec(&format!(
            "CREATE USER IF NOT EXISTS 'gt'@'%' IDENTIFIED BY '{password}'"
        ));
        self.exec("GRANT PROCESS, SELECT ON *.* TO 'gt'@'%'");
        format!("mysql://gt:{password}@127.0.0.1:{}/", self.port)
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
