//! `--listen` takes a host name as people type it (`localhost:0`), and a malformed address is
//! refused with examples of the right form.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

#[test]
fn serve_listens_on_a_host_name() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_upline"))
        .args(["serve", "--listen", "localhost:0", "--data"])
        .arg(data.path())
        .env("UPLINE_ADMIN_TOKEN", "listen-test-token")
        .env("UPLINE_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("upline serve starts");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut address = None;
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            address = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
        seen.push(line);
    }
    let address = address.unwrap_or_else(|| panic!("no address printed: {seen:?}"));
    let mut connection = TcpStream::connect(&address).expect("the printed address answers");
    connection
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    connection.read_to_string(&mut answer).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    let ip = address.rsplit_once(':').unwrap().0;
    assert!(
        ip == "127.0.0.1" || ip == "[::1]",
        "localhost bound {address}"
    );
}

#[test]
fn a_malformed_address_is_refused_with_examples() {
    for (command, flag) in [
        ("serve", "--listen"),
        ("demo", "--listen"),
        ("operator", "--metrics-address"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_upline"))
            .args([command, flag, "localhost"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("invalid value 'localhost' for '{flag} <ADDR>'"))
                && stderr.contains("expected HOST:PORT, such as 127.0.0.1:8080"),
            "{command}: {stderr}"
        );
    }
}
