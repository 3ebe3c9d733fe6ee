//! A flooding child costs at most the cap in memory (a test binary of its own: the process's
//! peak resident size is this test's alone).

use std::process::Command;
use std::time::Duration;

use bounded_process::{Bounded, DEFAULT_OUTPUT_CAP, RunError};

/// This process's peak resident set (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn a_flooding_child_costs_at_most_the_cap_in_memory() {
    let before = peak_rss();
    let result = Bounded::new(Command::new("yes"))
        .timeout(Duration::from_secs(3))
        .run();
    let Err(RunError::TimedOut { stdout, .. }) = result else {
        panic!("expected a timeout, got {result:?}");
    };
    let grown = peak_rss().saturating_sub(before);
    eprintln!(
        "3 s of `yes`: kept {} bytes, dropped {}, peak RSS grew {} MiB",
        stdout.bytes.len(),
        stdout.dropped,
        grown / (1024 * 1024)
    );
    assert_eq!(stdout.bytes.len(), DEFAULT_OUTPUT_CAP);
    assert!(stdout.dropped > 0);
    // The cap, the growth slack of one Vec and the pump buffers; nowhere near the hundreds
    // of MiB an uncapped read_to_end reaches in 3 s.
    assert!(grown < 3 * DEFAULT_OUTPUT_CAP as u64, "grew {grown} bytes");
}
