//! A run whose outputs cannot be written fails as one line, exit 1, and changes nothing: no
//! partial file, no new folder, the last run's files as they were. The fault is real: the
//! kernel refuses writes past the process's file-size limit (`RLIMIT_FSIZE`), as it would a
//! full disk.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;

fn case() -> PathBuf {
    common::fixtures_root().join("random-full-101")
}

/// Closes the fixture's period into `out`, no output file allowed over `limit_bytes`.
fn close_with_file_size_limit(out: &Path, limit_bytes: Option<u64>) -> Output {
    let case = case();
    let period = std::fs::read_to_string(case.join("period")).unwrap();
    let mut command = common::commissions_command(
        &case.join("plan.json"),
        &case.join("distributors.csv"),
        &case.join("orders.csv"),
        Some(&case.join("state.csv")),
        period.trim(),
        out,
    );
    if let Some(limit) = limit_bytes {
        // SAFETY: between fork and exec only async-signal-safe calls are made.
        unsafe {
            command.pre_exec(move || {
                // Ignored, the signal a write past the limit sends becomes an EFBIG error.
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let limit = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    command.output().expect("upline runs")
}

fn assert_one_line_naming(output: &Output, file: &Path) {
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("{}: cannot write: ", file.display())),
        "{stderr}"
    );
}

#[test]
fn a_write_that_fails_leaves_no_file_and_no_folder() {
    // lines.csv (14 kB) is refused under 4 KiB; under 20 KiB it is written and summary.csv
    // (24 kB), the second file, is refused.
    for (limit, refused) in [(4_096, "lines.csv"), (20_000, "summary.csv")] {
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("out");
        let output = close_with_file_size_limit(&out, Some(limit));
        assert_one_line_naming(&output, &out.join(refused));
        assert!(!out.exists(), "limit {limit}: the folder it made is gone");
    }
}

#[test]
fn a_write_that_fails_keeps_the_last_runs_files_as_they_were() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let first = close_with_file_size_limit(&out, None);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let before = common::folder_contents(&out);
    assert_eq!(before.len(), 3, "the three files of a run");

    let failed = close_with_file_size_limit(&out, Some(20_000));
    assert_one_line_naming(&failed, &out.join("summary.csv"));
    assert_eq!(
        common::folder_contents(&out),
        before,
        "the same three files, byte for byte, and no partial one"
    );
}
