//! `--data` of `upline serve` and `upline demo` naming a file: refused at once, in one line
//! that says what to give instead, and the file is left as it was.

use std::process::Command;

fn refused(command: &str, extra: &[&str]) {
    let work = tempfile::tempdir().unwrap();
    let taken = work.path().join("taken");
    std::fs::write(&taken, "a file, not a folder").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_upline"))
        .arg(command)
        .arg("--data")
        .arg(&taken)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("UPLINE_ADMIN_TOKEN")
        .output()
        .expect("upline runs");
    assert_eq!(output.status.code(), Some(1), "{command}");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "upline {command}: --data: {} is a file; give a folder (it is created if missing)\n",
            taken.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&taken).unwrap(),
        "a file, not a folder"
    );
}

#[test]
fn serve_refuses_a_data_path_that_is_a_file() {
    refused("serve", &[]);
}

#[test]
fn demo_refuses_a_data_path_that_is_a_file() {
    refused("demo", &["--distributors", "10", "--no-serve"]);
}
