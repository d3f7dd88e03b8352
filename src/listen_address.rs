//! `--listen` and other addresses a command binds: `HOST:PORT`, where the host may be a name
//! (`localhost:8080`, as people type it) as well as an IP address (`0.0.0.0:8080`, `[::1]:8080`).

use std::net::{SocketAddr, ToSocketAddrs};

/// Parses an address to bind (clap's `value_parser`). A name is resolved once, at start, and
/// its first address is used.
pub fn parse(text: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let expected =
        "expected HOST:PORT, such as 127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080 or localhost:8080";
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("no port: {expected}"));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(expected.to_owned());
    }
    let mut addresses = text
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {host:?} ({error}): {expected}"))?;
    addresses
        .next()
        .ok_or_else(|| format!("{host:?} resolves to no address: {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names_are_taken_and_the_rest_refused_with_examples() {
        assert_eq!(parse("0.0.0.0:8080"), Ok("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(parse("[::1]:9100"), Ok("[::1]:9100".parse().unwrap()));
        let local = parse("localhost:8080").unwrap();
        assert!(local.ip().is_loopback() && local.port() == 8080, "{local}");
        for bad in [
            "8080",
            "localhost",
            ":8080",
            "localhost:http",
            "127.0.0.1:99999",
        ] {
            let message = parse(bad).unwrap_err();
            assert!(message.contains("expected HOST:PORT"), "{bad}: {message}");
        }
        let unknown = parse("no-such-host.invalid:8080").unwrap_err();
        assert!(
            unknown.starts_with("cannot resolve \"no-such-host.invalid\""),
            "{unknown}"
        );
    }
}
