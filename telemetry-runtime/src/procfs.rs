//! Linux `/proc` readings that `sysinfo` does not expose: CPU time split into user and system,
//! the thread count, uptime finer than a second, and the open file descriptor count.
//!
//! One job: read and parse this process's own `/proc/self` files (and `/proc/uptime`). It must
//! not read another process's entries nor cache anything.

use std::fs;

/// Clock ticks per second in `/proc/[pid]/stat` (`USER_HZ`). The kernel converts to 100 on
/// every architecture Rust targets (only Alpha differs); `sysconf(_SC_CLK_TCK)` would need
/// `unsafe` for the same answer.
const USER_HZ: f64 = 100.0;

/// The fields of `/proc/self/stat` used here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stat {
    /// CPU time in user mode, seconds (`utime`).
    pub(crate) user_seconds: f64,
    /// CPU time in kernel mode, seconds (`stime`).
    pub(crate) system_seconds: f64,
    /// Threads in the process (`num_threads`).
    pub(crate) threads: u64,
    /// Start time after boot, seconds (`starttime`).
    pub(crate) start_after_boot_seconds: f64,
}

/// Reads `/proc/self/stat`.
pub(crate) fn read_stat() -> Option<Stat> {
    parse_stat(&fs::read_to_string("/proc/self/stat").ok()?)
}

/// Parses a `/proc/[pid]/stat` line (see `proc_pid_stat(5)`).
///
/// The command name (field 2) is in parentheses and may itself hold spaces and parentheses,
/// so fields are counted from the last `)`.
#[allow(
    clippy::cast_precision_loss,
    reason = "tick counts stay far below 2^53 (over 2 million years at 100 Hz)"
)]
pub(crate) fn parse_stat(line: &str) -> Option<Stat> {
    let after_name = &line[line.rfind(')')? + 1..];
    // Field 3 (`state`) is the first after the name; field N is at index N - 3.
    let fields: Vec<&str> = after_name.split_ascii_whitespace().collect();
    let number = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some(Stat {
        user_seconds: number(14)? as f64 / USER_HZ,
        system_seconds: number(15)? as f64 / USER_HZ,
        threads: number(20)?,
        start_after_boot_seconds: number(22)? as f64 / USER_HZ,
    })
}

/// Seconds since boot, from `/proc/uptime` (10 ms resolution).
pub(crate) fn read_seconds_since_boot() -> Option<f64> {
    let text = fs::read_to_string("/proc/uptime").ok()?;
    text.split_ascii_whitespace().next()?.parse().ok()
}

/// Open file descriptors of this process: the entries of `/proc/self/fd`, less the one that
/// listing the directory opens for itself.
pub(crate) fn open_fd_count() -> Option<u64> {
    let entries = fs::read_dir("/proc/self/fd").ok()?.count();
    u64::try_from(entries.saturating_sub(1)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (gt (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 75 0 0 20 0 7 0 123456 1000000 500 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert!((stat.user_seconds - 2.5).abs() < 1e-9);
        assert!((stat.system_seconds - 0.75).abs() < 1e-9);
        assert_eq!(stat.threads, 7);
        assert!((stat.start_after_boot_seconds - 1234.56).abs() < 1e-9);
    }

    #[test]
    fn truncated_stat_is_refused() {
        assert_eq!(parse_stat("1 (x) S 1 2 3"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn own_process_reads_are_sane() {
        let stat = read_stat().unwrap();
        assert!(stat.threads >= 1);
        assert!(read_seconds_since_boot().unwrap() >= stat.start_after_boot_seconds);
        // The exact count is checked in tests/open_fds.rs, alone in its process.
        assert!(open_fd_count().is_some());
    }
}
