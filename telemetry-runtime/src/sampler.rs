//! One reading of this process's statistics: the snapshot every process metric comes from.
//!
//! One job: refresh this process — and only this process — through `sysinfo` with the
//! smallest refresh kind, complete it from `/proc` on Linux, and derive CPU utilization from
//! the previous reading. It must not touch the system-wide process table, cache readings (the
//! instruments decide how long a snapshot lives), or know about OpenTelemetry.

use std::time::Instant;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// CPU figures, split by `cpu.mode` where the platform tells them apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CpuTimes {
    /// Separate user-mode and kernel-mode figures (`cpu.mode` = `user` / `system`; Linux).
    ByMode {
        /// User mode.
        user: f64,
        /// Kernel mode.
        system: f64,
    },
    /// One figure for both modes (no `cpu.mode` attribute; other platforms).
    Total(f64),
}

impl CpuTimes {
    /// The sum over modes.
    #[must_use]
    pub fn total(&self) -> f64 {
        match *self {
            Self::ByMode { user, system } => user + system,
            Self::Total(total) => total,
        }
    }

    /// Each figure with its `cpu.mode` value (`None` for [`CpuTimes::Total`]).
    #[must_use]
    pub fn by_mode(&self) -> Vec<(Option<&'static str>, f64)> {
        match *self {
            Self::ByMode { user, system } => vec![(Some("user"), user), (Some("system"), system)],
            Self::Total(total) => vec![(None, total)],
        }
    }

    /// The same shape with every figure zero: the CPU time at process start.
    fn zeroed(&self) -> Self {
        match self {
            Self::ByMode { .. } => Self::ByMode {
                user: 0.0,
                system: 0.0,
            },
            Self::Total(_) => Self::Total(0.0),
        }
    }

    /// `(self - earlier) / divisor` mode by mode, clamped to `0..=1`.
    ///
    /// CPU times advance in whole clock ticks (10 ms on Linux), so over a short interval a
    /// reading can overshoot the true ratio; the clamp keeps the gauge a ratio.
    fn rate_since(&self, earlier: &Self, divisor: f64) -> Self {
        let rate = |now: f64, then: f64| ((now - then) / divisor).clamp(0.0, 1.0);
        match (*self, *earlier) {
            (
                Self::ByMode { user, system },
                Self::ByMode {
                    user: u0,
                    system: s0,
                },
            ) => Self::ByMode {
                user: rate(user, u0),
                system: rate(system, s0),
            },
            (now, then) => Self::Total(rate(now.total(), then.total())),
        }
    }
}

/// This process's statistics at one moment. A field is `None` when the platform does not
/// provide it or reading it failed; the matching metric then has no point in that export.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSnapshot {
    /// CPU time consumed since the process started, seconds (`process.cpu.time`).
    pub cpu_time: Option<CpuTimes>,
    /// CPU time consumed since the previous snapshot (since process start for the first one)
    /// divided by the wall time elapsed and the CPUs available to the process, clamped to
    /// `0..=1` per mode (`process.cpu.utilization`). `None` in a first snapshot taken while
    /// the uptime still reads zero.
    pub cpu_utilization: Option<CpuTimes>,
    /// Resident set size, bytes (`process.memory.usage`).
    pub memory_usage: Option<u64>,
    /// Virtual memory size, bytes (`process.memory.virtual`).
    pub memory_virtual: Option<u64>,
    /// Threads in the process (`process.thread.count`; Linux only).
    pub thread_count: Option<u64>,
    /// Open file descriptors (`process.open_file_descriptor.count`).
    pub open_file_descriptors: Option<u64>,
    /// Time since the process started, seconds (`process.uptime`; 10 ms resolution on Linux,
    /// whole seconds elsewhere).
    pub uptime_seconds: Option<f64>,
    /// When the snapshot was taken.
    pub taken_at: Instant,
}

/// Reads [`ProcessSnapshot`]s of the current process.
///
/// Holds one `sysinfo::System` that only ever contains this process, and the previous CPU
/// reading for utilization. Not shared: the instruments wrap it in a mutex.
pub struct ProcessSampler {
    system: System,
    pid: Pid,
    refresh_kind: ProcessRefreshKind,
    available_cpus: f64,
    previous_cpu: Option<(CpuTimes, Instant)>,
}

impl std::fmt::Debug for ProcessSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessSampler")
            .field("pid", &self.pid)
            .field("available_cpus", &self.available_cpus)
            .finish_non_exhaustive()
    }
}

impl ProcessSampler {
    /// A sampler for the current process. Reads nothing yet.
    ///
    /// # Errors
    /// When `sysinfo` does not support process statistics on this platform.
    pub fn new() -> Result<Self, sysinfo::Error> {
        // Memory always comes from sysinfo; CPU time too except on Linux, where /proc/self/stat
        // splits it by mode. Asking sysinfo for CPU also makes it read the system-wide
        // /proc/stat, which the Linux path avoids.
        let refresh_kind = if cfg!(target_os = "linux") {
            ProcessRefreshKind::nothing().with_memory()
        } else {
            ProcessRefreshKind::nothing().with_memory().with_cpu()
        };
        let available_cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self {
            system: System::new()?,
            pid: Pid::from_u32(std::process::id()),
            refresh_kind,
            #[allow(clippy::cast_precision_loss, reason = "a CPU count is far below 2^53")]
            available_cpus: available_cpus as f64,
            previous_cpu: None,
        })
    }

    /// Reads a fresh snapshot now: one `sysinfo` refresh of this process only
    /// (`ProcessesToUpdate::Some(&[pid])`, memory only on Linux), plus on Linux
    /// `/proc/self/stat`, `/proc/uptime` and a listing of `/proc/self/fd`.
    pub fn sample(&mut self) -> ProcessSnapshot {
        let pid = self.pid;
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            false,
            self.refresh_kind,
        );
        let taken_at = Instant::now();
        let process = self.system.process(pid);
        let mut snapshot = ProcessSnapshot {
            cpu_time: None,
            cpu_utilization: None,
            memory_usage: process.map(sysinfo::Process::memory),
            memory_virtual: process.map(sysinfo::Process::virtual_memory),
            thread_count: None,
            open_file_descriptors: None,
            uptime_seconds: None,
            taken_at,
        };
        #[cfg(target_os = "linux")]
        {
            use crate::procfs;
            if let Some(stat) = procfs::read_stat() {
                snapshot.cpu_time = Some(CpuTimes::ByMode {
                    user: stat.user_seconds,
                    system: stat.system_seconds,
                });
                snapshot.thread_count = Some(stat.threads);
                snapshot.uptime_seconds = procfs::read_seconds_since_boot()
                    .map(|since_boot| (since_boot - stat.start_after_boot_seconds).max(0.0));
            }
            snapshot.open_file_descriptors = procfs::open_fd_count();
        }
        #[cfg(not(target_os = "linux"))]
        if let Some(process) = process {
            #[allow(
                clippy::cast_precision_loss,
                reason = "milliseconds of CPU stay below 2^53"
            )]
            let cpu_seconds = process.accumulated_cpu_time() as f64 / 1000.0;
            snapshot.cpu_time = Some(CpuTimes::Total(cpu_seconds));
            #[allow(
                clippy::cast_precision_loss,
                reason = "seconds of uptime stay below 2^53"
            )]
            let uptime = process.run_time() as f64;
            snapshot.uptime_seconds = Some(uptime);
            snapshot.open_file_descriptors =
                process.open_files().and_then(|n| u64::try_from(n).ok());
        }
        snapshot.cpu_utilization = snapshot
            .cpu_time
            .and_then(|now| self.utilization(now, &snapshot));
        snapshot
    }

    /// CPU utilization since the previous reading, or since process start for the first one,
    /// and remembers `now` as the new previous reading.
    fn utilization(&mut self, now: CpuTimes, snapshot: &ProcessSnapshot) -> Option<CpuTimes> {
        let previous = self.previous_cpu.replace((now, snapshot.taken_at));
        let (earlier, elapsed) = match previous {
            Some((cpu, at)) => (cpu, snapshot.taken_at.duration_since(at).as_secs_f64()),
            None => (now.zeroed(), snapshot.uptime_seconds?),
        };
        (elapsed > 0.0).then(|| now.rate_since(&earlier, elapsed * self.available_cpus))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_of_this_process_is_sane() {
        let mut sampler = ProcessSampler::new().unwrap();
        let first = sampler.sample();
        assert!(first.memory_usage.unwrap() > 0);
        assert!(first.memory_virtual.unwrap() >= first.memory_usage.unwrap());
        assert!(first.uptime_seconds.unwrap() >= 0.0);
        if cfg!(target_os = "linux") {
            assert!(first.thread_count.unwrap() >= 1);
            assert!(matches!(first.cpu_time, Some(CpuTimes::ByMode { .. })));
        }
        let second = sampler.sample();
        assert!(second.cpu_time.unwrap().total() >= first.cpu_time.unwrap().total());
        assert!(second.taken_at >= first.taken_at);
    }

    #[test]
    fn utilization_is_a_fraction_of_the_available_cpus() {
        let mut sampler = ProcessSampler::new().unwrap();
        for round in 0..3 {
            let snapshot = sampler.sample();
            // The first is relative to process start, unknown while uptime still reads 0.
            let Some(utilization) = snapshot.cpu_utilization else {
                assert_eq!((round, snapshot.uptime_seconds), (0, Some(0.0)));
                continue;
            };
            for (_, value) in utilization.by_mode() {
                assert!((0.0..=1.0).contains(&value), "{utilization:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn rates_are_per_mode_and_never_negative() {
        let now = CpuTimes::ByMode {
            user: 3.0,
            system: 1.0,
        };
        let then = CpuTimes::ByMode {
            user: 1.0,
            system: 2.0,
        };
        assert_eq!(
            now.rate_since(&then, 2.0),
            CpuTimes::ByMode {
                user: 1.0,
                system: 0.0
            }
        );
        assert_eq!(
            now.rate_since(&then, 0.5),
            CpuTimes::ByMode {
                user: 1.0,
                system: 0.0
            }
        );
        assert_eq!(
            CpuTimes::Total(4.0).rate_since(&CpuTimes::Total(2.0), 4.0),
            CpuTimes::Total(0.5)
        );
        assert_eq!(
            now.by_mode(),
            vec![(Some("user"), 3.0), (Some("system"), 1.0)]
        );
    }
}
