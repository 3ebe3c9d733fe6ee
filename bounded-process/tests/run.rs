//! `Bounded::run` against real child processes: the bound holds whatever the child does.
//!
//! Each bounded call is asserted to return within its timeout plus a generous 3 s (the
//! documented figure is timeout + 0.5 s; the margin keeps a loaded CI machine from flaking).

use std::io::{ErrorKind, Write};
use std::os::unix::process::ExitStatusExt as _;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bounded_process::{Bounded, Output, RunError, Stdin};

const MARGIN: Duration = Duration::from_secs(3);

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

/// Runs and returns the result with how long the call took.
fn timed(run: Bounded) -> (Result<bounded_process::Finished, RunError>, Duration) {
    let started = Instant::now();
    let result = run.run();
    (result, started.elapsed())
}

/// Kills a process this test left behind on purpose (a daemon outside the group).
fn kill(pid: &str) {
    let _ = Command::new("kill").args(["-9", pid.trim()]).status();
}

#[test]
fn a_normal_child_gives_its_exit_code_separate_streams_and_reads_its_stdin() {
    let done = Bounded::new(sh("cat; echo oops >&2; exit 3"))
        .timeout(Duration::from_secs(20))
        .stdin(Stdin::Bytes(b"hello\n".to_vec()))
        .run()
        .unwrap();
    assert_eq!(done.status.code(), Some(3));
    assert_eq!(done.exit_code(), 3);
    assert_eq!(done.stdout.bytes, b"hello\n");
    assert_eq!(done.stderr.bytes, b"oops\n");
    assert_eq!((done.stdout.dropped, done.stderr.dropped), (0, 0));
    assert!(!done.pipes_held_open);
}

#[test]
fn without_a_timeout_the_child_runs_to_its_end() {
    let done = Bounded::new(sh("sleep 1; echo late")).run().unwrap();
    assert!(done.status.success());
    assert_eq!(done.stdout.bytes, b"late\n");
}

#[test]
fn a_child_killed_by_a_signal_reports_the_signal() {
    let done = Bounded::new(sh("kill -9 $$"))
        .timeout(Duration::from_secs(20))
        .run()
        .unwrap();
    assert_eq!(done.status.signal(), Some(9));
    assert_eq!(done.exit_code(), 137);
}

#[test]
fn a_missing_binary_is_named_in_the_error() {
    let err = Bounded::new(Command::new("/nonexistent/gt-no-such-bd"))
        .timeout(Duration::from_secs(5))
        .run()
        .unwrap_err();
    assert!(
        matches!(&err, RunError::Spawn { source, .. } if source.kind() == ErrorKind::NotFound),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("/nonexistent/gt-no-such-bd"),
        "{err}"
    );
}

#[test]
fn a_hanging_child_is_killed_at_the_deadline() {
    let timeout = Duration::from_secs(1);
    let (result, took) = timed(Bounded::new(sh("echo started; exec sleep 30")).timeout(timeout));
    eprintln!("hanging child: returned after {took:?} (timeout {timeout:?})");
    match result {
        Err(RunError::TimedOut { stdout, .. }) => assert_eq!(stdout.bytes, b"started\n"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(took >= timeout && took < timeout + MARGIN, "took {took:?}");
}

#[test]
fn a_child_ignoring_sigterm_is_killed_with_its_group() {
    let timeout = Duration::from_secs(1);
    // The group's other member (`sleep`) ignores SIGTERM too: only SIGKILL ends both.
    let (result, took) =
        timed(Bounded::new(sh("trap '' TERM; sleep 30 & echo $!; wait")).timeout(timeout));
    let Err(RunError::TimedOut { stdout, .. }) = result else {
        panic!("expected a timeout, got {result:?}");
    };
    assert!(took < timeout + MARGIN, "took {took:?}");
    let pid = String::from_utf8(stdout.bytes).unwrap();
    let stat = format!("/proc/{}/stat", pid.trim());
    // Dead means gone or a zombie waiting for init to reap it.
    let dead = || {
        std::fs::read_to_string(&stat).map_or(true, |s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    let until = Instant::now() + Duration::from_secs(10);
    while !dead() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(dead(), "the grandchild {pid} survived its group's kill");
}

#[test]
fn a_grandchild_holding_the_pipe_does_not_stall_the_caller() {
    let timeout = Duration::from_secs(10);
    let (result, took) = timed(Bounded::new(sh("sleep 30 & echo hi")).timeout(timeout));
    eprintln!("pipe held by a background grandchild: returned after {took:?}");
    let done = result.unwrap();
    assert!(done.status.success());
    assert_eq!(done.stdout.bytes, b"hi\n");
    assert!(done.pipes_held_open);
    assert!(took < timeout + MARGIN, "took {took:?}");
}

#[test]
fn a_setsid_daemon_holding_the_pipe_does_not_stall_the_caller() {
    let timeout = Duration::from_secs(10);
    let (result, took) = timed(Bounded::new(sh("setsid sleep 30 & echo $!")).timeout(timeout));
    eprintln!("pipe held by a setsid daemon: returned after {took:?}");
    let done = result.unwrap();
    kill(&String::from_utf8_lossy(&done.stdout.bytes));
    assert!(done.status.success());
    assert!(done.pipes_held_open);
    assert!(took < timeout + MARGIN, "took {took:?}");
}

#[test]
fn a_hanging_child_with_an_escaped_daemon_returns_at_the_deadline() {
    // The group is killed at the deadline, but the daemon outside it keeps both pipes open:
    // the readers are abandoned and what they read is returned.
    let timeout = Duration::from_secs(1);
    let (result, took) = timed(
        Bounded::new(sh("setsid sleep 30 & echo $!; echo err >&2; exec sleep 30")).timeout(timeout),
    );
    eprintln!("hanging child + setsid daemon: returned after {took:?} (timeout {timeout:?})");
    let Err(RunError::TimedOut { stdout, stderr, .. }) = result else {
        panic!("expected a timeout, got {result:?}");
    };
    kill(&String::from_utf8_lossy(&stdout.bytes));
    assert_eq!(stderr.bytes, b"err\n");
    assert!(took < timeout + MARGIN, "took {took:?}");
}

#[test]
fn a_flooding_child_is_capped_and_the_rest_counted() {
    let cap = 1024 * 1024;
    let total = 100 * 1024 * 1024;
    let done = Bounded::new(sh(&format!("head -c {total} /dev/zero; echo done >&2")))
        .timeout(Duration::from_secs(60))
        .cap(cap)
        .run()
        .unwrap();
    assert!(done.status.success());
    assert_eq!(done.stdout.bytes.len(), cap);
    assert_eq!(done.stdout.dropped, (total - cap) as u64);
    assert_eq!(done.stderr.bytes, b"done\n", "stderr is drained alongside");
}

#[test]
fn a_flooding_child_past_its_deadline_keeps_the_cap() {
    let timeout = Duration::from_secs(1);
    let (result, took) = timed(Bounded::new(Command::new("yes")).timeout(timeout).cap(4096));
    let Err(RunError::TimedOut { stdout, .. }) = result else {
        panic!("expected a timeout, got {result:?}");
    };
    assert_eq!(stdout.bytes.len(), 4096);
    assert!(stdout.dropped > 0);
    assert!(took < timeout + MARGIN, "took {took:?}");
}

/// A writer that hands every chunk to the test as it arrives.
struct ChunkSender(mpsc::Sender<Vec<u8>>);

impl Write for ChunkSender {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn streamed_output_arrives_before_the_child_exits_and_is_also_captured() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let script = format!(
        "echo first; while [ ! -e '{go}' ]; do sleep 0.02; done; echo second",
        go = go.display()
    );
    let (tx, rx) = mpsc::channel();
    let run = Bounded::new(sh(&script))
        .timeout(Duration::from_secs(30))
        .output(Output::Stream {
            stdout: Box::new(ChunkSender(tx)),
            stderr: Box::new(std::io::sink()),
            capture: true,
        });
    let handle = std::thread::spawn(move || run.run());
    // The child cannot exit before `go` exists: seeing "first" now proves it was streamed.
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("first line");
    assert_eq!(first, b"first\n");
    std::fs::write(&go, "").unwrap();
    let done = handle.join().unwrap().unwrap();
    assert_eq!(done.stdout.bytes, b"first\nsecond\n");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        b"second\n"
    );
}

#[test]
fn streaming_without_capture_keeps_nothing() {
    let (tx, rx) = mpsc::channel();
    let done = Bounded::new(sh("echo x"))
        .output(Output::Stream {
            stdout: Box::new(ChunkSender(tx)),
            stderr: Box::new(std::io::sink()),
            capture: false,
        })
        .run()
        .unwrap();
    assert!(done.stdout.bytes.is_empty());
    assert_eq!(done.stdout.dropped, 2);
    assert_eq!(rx.recv().unwrap(), b"x\n");
}
