//! `gt agent-log --detach`: one background instance per session, whatever the race, found
//! and stopped through its pid file.

mod agent_log_common;
mod support;

use std::time::Duration;

use agent_log::state::{InstanceLock, LockError, SessionFiles};
use agent_log_common::{Town, append, message, poll_until, records, wait_counts};
use otlp_capture::Receiver;

/// The process state letter and session id of `pid`, or None when it is gone (or a zombie).
fn alive(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid pgrp session ...
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let session = fields.nth(2)?.parse().ok()?;
    (state != 'Z' && state != 'X').then_some((state, session))
}

/// Kills the background instance if the test ends before stopping it.
struct Reap(u32);

impl Drop for Reap {
    fn drop(&mut self) {
        if alive(self.0).is_some()
            && let Some(pid) = rustix::process::Pid::from_raw(self.0 as i32)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

#[test]
fn two_concurrent_detached_starts_leave_exactly_one_instance() {
    let town = Town::new();
    let rx = Receiver::start().unwrap();
    append(
        &town.project().join("sess-a.jsonl"),
        &format!("{}\n", message(0)),
    );
    let spawn = || {
        town.follow("gt-detach", &rx.url("/v1/logs"), &rx)
            .arg("--detach")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let said: Vec<String> = [&a, &b]
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .collect();
    let running = said
        .iter()
        .filter(|s| s.contains("in the background"))
        .count();
    let refused = said
        .iter()
        .filter(|s| s.contains("already followed"))
        .count();
    assert_eq!((running, refused), (1, 1), "{said:?}");

    let files = SessionFiles::new(&town.state(), "gt-detach");
    let pid = agent_log::state::read_pid(&files.pid).expect("pid file");
    let _reap = Reap(pid);
    let (_, session) = alive(pid).expect("the instance runs");
    assert_eq!(session, pid, "the instance leads its own session (setsid)");
    match InstanceLock::acquire(&files) {
        Err(LockError::Held { pid: holder }) => assert_eq!(holder, Some(pid)),
        other => panic!("the lock must be held: {other:?}"),
    }
    wait_counts(&rx, 1, 1, &|| {
        std::fs::read_to_string(&files.log).unwrap_or_default()
    });

    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert!(
        poll_until(Duration::from_secs(5), || alive(pid).is_none()),
        "still running after SIGTERM"
    );
    assert!(!files.pid.exists(), "the pid file goes with the instance");
    let _free = InstanceLock::acquire(&files).expect("the lock is free again");
    assert_eq!(records(&rx, "agent.usage").len(), 1);
    let log = std::fs::read_to_string(&files.log).unwrap();
    assert!(
        log.contains("1 agent.usage and 1 agent.event records exported"),
        "{log}"
    );
}
