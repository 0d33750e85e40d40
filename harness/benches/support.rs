//! Helpers the benchmarks share (included by `#[path]`): the crate root, peak memory and CPU
//! time from `/proc`.

use std::path::PathBuf;
use std::time::Duration;

/// The package root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Peak resident memory of this process so far, in MiB (NaN where `/proc` has none).
pub fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// User plus system time so far of `/proc/{task}`: `self`, `thread-self` or a process id.
pub fn cpu_time(task: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{task}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let ticks: u64 = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    // Clock ticks are 100 per second on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time this thread has run so far, to the nanosecond (`/proc/thread-self/schedstat`), for
/// timing short stretches that clock ticks cannot resolve.
#[allow(dead_code, reason = "only the sigma bench times batches")]
pub fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
