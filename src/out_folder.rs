//! The `--out` folder of the commands that write files (commissions, generate, export).

use std::path::Path;

/// Creates `out` and its parents if missing. A path that names a file is refused in words a
/// user can act on, instead of the system's "File exists".
pub fn create(out: &Path) -> Result<(), String> {
    if out.exists() && !out.is_dir() {
        return Err(format!(
            "--out: {} is a file; give a folder (it is created if missing)",
            out.display()
        ));
    }
    std::fs::create_dir_all(out)
        .map_err(|error| format!("--out: cannot create {}: {error}", out.display()))
}
