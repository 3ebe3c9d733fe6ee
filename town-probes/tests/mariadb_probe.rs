//! The Dolt probe against a real MariaDB (Debian's `mariadb-server`, private data dir): the
//! connections it reports rise when clients connect, a stopped server is unhealthy with a
//! clear error (never a crash, never the password), the probe recovers when the server comes
//! back, and Dolt's cluster table is read when the server has one.

mod support;

use std::time::{Duration, Instant};

use support::mariadb::MariaDb;
use town_probes::dolt::{Check, Dsn, Probe};

const PASSWORD: &str = "s3cret-pw";

fn probe(db: &MariaDb) -> Probe {
    Probe::new(
        Dsn::parse(&db.dsn_with_password(PASSWORD)).unwrap(),
        Duration::from_secs(5),
    )
}

fn healthy(check: &Check) -> bool {
    check.error.is_none() && check.latency.is_some()
}

#[test]
fn connections_seen_rise_when_clients_connect() {
    let Some(db) = MariaDb::start() else { return };
    let mut probe = probe(&db);
    assert_eq!(probe.server(), format!("127.0.0.1:{}", db.port()));
    let before = probe.check();
    assert!(healthy(&before), "{before:?}");
    assert!(before.max_connections.is_some_and(|m| m > 0), "{before:?}");
    assert_eq!(before.replication_lag, None, "not a replica");
    let held: Vec<_> = (0..4).map(|_| db.root().unwrap()).collect();
    let after = probe.check();
    assert!(
        after.connections.unwrap() >= before.connections.unwrap() + 4,
        "{before:?} then {after:?}"
    );
    drop(held);
}

#[test]
fn a_stopped_server_is_unhealthy_and_the_probe_follows_it_back() {
    let Some(mut db) = MariaDb::start() else {
        return;
    };
    let mut probe = probe(&db);
    assert!(healthy(&probe.check()));
    db.stop();
    let down = probe.check();
    assert!(!healthy(&down), "{down:?}");
    let error = down.error.unwrap();
    assert!(!error.is_empty() && !error.contains(PASSWORD), "{error}");
    db.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let check = probe.check();
        if healthy(&check) {
            break;
        }
        assert!(Instant::now() < deadline, "never healthy again: {check:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn replication_lag_comes_from_the_dolt_cluster_table_when_present() {
    let Some(db) = MariaDb::start() else { return };
    db.exec("CREATE DATABASE dolt_cluster");
    db.exec(
        "CREATE TABLE dolt_cluster.dolt_cluster_status (`database` VARCHAR(64), \
         standby_remote VARCHAR(64), role VARCHAR(16), epoch BIGINT, \
         replication_lag_millis BIGINT NULL, last_update DATETIME NULL, \
         current_error VARCHAR(255) NULL)",
    );
    db.exec(
        "INSERT INTO dolt_cluster.dolt_cluster_status VALUES \
         ('beads', 'standby', 'primary', 3, 1200, NOW(), NULL), \
         ('hq', 'standby', 'primary', 3, 300, NOW(), NULL)",
    );
    let check = probe(&db).check();
    assert!(healthy(&check), "{check:?}");
    assert_eq!(check.replication_lag, Some(Duration::from_millis(1200)));
}
