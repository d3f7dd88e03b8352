//! The folders commands write into: `--out` of commissions, generate and export, `--data` of
//! serve and demo.

use std::path::Path;

/// Creates the folder `path` given by `flag`, and its parents, if missing. A path that names
/// a file is refused in words a user can act on, instead of the system's "File exists".
pub fn create(flag: &str, path: &Path) -> Result<(), String> {
    if path.exists() && !path.is_dir() {
        return Err(format!(
            "{flag}: {} is a file; give a folder (it is created if missing)",
            path.display()
        ));
    }
    std::fs::create_dir_all(path)
        .map_err(|error| format!("{flag}: cannot create {}: {error}", path.display()))
}
