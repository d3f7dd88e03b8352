//! An output folder must not be where the run's own inputs are written over.
//!
//! `upline commissions --state data/state.csv --out data` would replace the previous period's
//! state with the next one. The run itself is right, but the next run of the same command
//! would read the new state as the previous one and pay binary carry twice — a wrong
//! commission that nothing would flag. So a run refuses, before reading anything, to write a
//! file over one of its inputs.

use std::path::Path;

/// Refuses when writing any of `outputs` into `out` would replace one of `inputs` (flag and
/// path). Files are compared by identity (device and inode), so links and other spellings of
/// the same path are caught; inputs that are not regular files (pipes) cannot be replaced.
pub fn check(out: &Path, outputs: &[&str], inputs: &[(&str, &Path)]) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let identity = |path: &Path| {
        std::fs::metadata(path)
            .ok()
            .filter(|metadata| metadata.is_file())
            .map(|metadata| (metadata.dev(), metadata.ino()))
    };
    // Each input is looked at once, not once per output.
    let inputs: Vec<(&str, &Path, (u64, u64))> = inputs
        .iter()
        .filter_map(|&(flag, input)| identity(input).map(|id| (flag, input, id)))
        .collect();
    for output in outputs {
        let Some(replaced) = identity(&out.join(output)) else {
            continue;
        };
        for &(flag, input, id) in &inputs {
            if id == replaced {
                return Err(format!(
                    "--out: writing {output} in {} would replace the {flag} file {}, which this run reads; give another --out folder",
                    out.display(),
                    input.display()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_over_an_input_is_refused_by_identity() {
        let folder = tempfile::tempdir().unwrap();
        let state = folder.path().join("state.csv");
        std::fs::write(&state, "id,carry_left,carry_right,highest_rank\n").unwrap();
        let linked = folder.path().join("previous-state.csv");
        std::fs::hard_link(&state, &linked).unwrap();
        let outputs = ["lines.csv", "summary.csv", "state.csv"];
        let message = check(folder.path(), &outputs, &[("--state", &linked)]).unwrap_err();
        assert!(
            message.starts_with("--out: writing state.csv in ")
                && message.contains("would replace the --state file")
                && message.ends_with("give another --out folder"),
            "{message}"
        );
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(
            check(elsewhere.path(), &outputs, &[("--state", &state)]),
            Ok(())
        );
        // A file of another name in the same folder is no obstacle.
        let orders = folder.path().join("orders.csv");
        std::fs::write(&orders, "order_id\n").unwrap();
        assert_eq!(
            check(folder.path(), &outputs, &[("--orders", &orders)]),
            Ok(())
        );
    }
}
