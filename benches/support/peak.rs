//! Wall time and peak memory of a child process.

use std::process::Command;
use std::time::Instant;

/// Runs a command and returns its wall time in seconds and peak resident memory in MiB.
pub fn measure(cmd: &mut Command) -> (f64, f64) {
    let started = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped by `wait4` below, which also gives its peak memory
    let child = cmd.spawn().expect("spawn");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting on our own child's pid with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{cmd:?} failed");
    (started.elapsed().as_secs_f64(), usage.ru_maxrss as f64 / 1024.0)
}
