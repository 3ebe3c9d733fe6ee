//! Signalling the child: the deadline's SIGTERM/SIGKILL, and forwarding the signals the caller
//! receives (SIGINT, SIGTERM, SIGHUP, SIGQUIT) to the child while it runs.
//!
//! It must not send anything to a process it did not start: a signal goes to the child's pid, or
//! to its process group only when the runner made the child a group leader.

use std::io;
use std::process::ExitStatus;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// Where signals for the child go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pid: Pid,
    group: bool,
}

impl Target {
    /// The child `pid`; `group` when it leads its own process group (then the whole group is
    /// signalled, descendants included).
    pub(crate) fn new(pid: u32, group: bool) -> Option<Self> {
        let pid = Pid::from_raw(i32::try_from(pid).ok()?)?;
        // Never signal init's "group": kill(-1) would reach every process we may signal.
        (pid != Pid::INIT).then_some(Self { pid, group })
    }

    /// Sends `sig`; a child (or group) already gone is not an error worth reporting.
    pub(crate) fn signal(self, sig: Signal) {
        let _ = if self.group {
            kill_process_group(self.pid, sig)
        } else {
            kill_process(self.pid, sig)
        };
    }
}

/// Forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT received by this process to the child until
/// dropped. Installed before the child is spawned, so such a signal never kills the caller
/// while the child runs unsupervised; one arriving before the child exists waits for it.
///
/// signal-hook cannot restore a signal's default action: after the run the caller keeps
/// handlers that do nothing, so a SIGINT then no longer kills it (it is about to exit anyway).
pub(crate) struct Forwarder {
    handle: Handle,
    target: Arc<OnceLock<Option<Target>>>,
    thread: Option<JoinHandle<()>>,
}

impl Forwarder {
    pub(crate) fn install() -> io::Result<Self> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])?;
        let handle = signals.handle();
        let target: Arc<OnceLock<Option<Target>>> = Arc::default();
        let seen = Arc::clone(&target);
        let thread = std::thread::spawn(move || {
            for raw in signals.forever() {
                if let (Some(to), Some(sig)) = (seen.wait(), Signal::from_named_raw(raw)) {
                    to.signal(sig);
                }
            }
        });
        Ok(Self {
            handle,
            target,
            thread: Some(thread),
        })
    }

    /// The child to forward to (`None`: it never started; pending signals are dropped).
    pub(crate) fn aim(&self, target: Option<Target>) {
        let _ = self.target.set(target);
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.target.set(None);
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The exit code a shell would report for `status`: the child's own code, or 128 + N for a
/// child killed by signal N.
#[must_use]
pub fn shell_exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + (sig & 0x7f)).unwrap_or(1),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt as _;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(shell_exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(shell_exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(shell_exit_code(ExitStatus::from_raw(9)), 137);
        assert_eq!(shell_exit_code(ExitStatus::from_raw(15)), 143);
    }

    #[test]
    fn init_is_never_a_target() {
        assert!(Target::new(1, true).is_none());
        assert!(Target::new(0, true).is_none());
        assert!(Target::new(4242, true).is_some());
    }
}
