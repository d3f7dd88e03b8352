//! Crash points for the failover tests: with `UPLINE_FAILPOINT=<name>` in its environment, the
//! process ends at once when it reaches the point of that name, as a `kill -9` would (no
//! destructor runs, nothing is flushed) — but at a chosen step of a close, where a signal
//! lands wherever the process happens to be. Unset, a point costs one environment lookup per
//! close step.

/// Ends the process with status 137 (a killed process's) when `UPLINE_FAILPOINT` is `name`.
pub fn crash_at(name: &str) {
    if std::env::var("UPLINE_FAILPOINT").is_ok_and(|chosen| chosen == name) {
        eprintln!("upline: failpoint {name}: ending the process now");
        // SAFETY: _exit ends the process without running anything else; nothing is shared.
        unsafe { libc::_exit(137) }
    }
}
