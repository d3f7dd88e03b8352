//! Why this process cannot connect to its NATS servers, in words a user can act on. The client
//! retries in the background and its requests then time out, which says nothing of the cause;
//! one attempt made without retrying returns the error itself (`invalid peer certificate:
//! UnknownIssuer`, `authorization violation`, `Connection refused`).

use std::error::Error as _;
use std::time::Duration;

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// What to check when the servers cannot be used, naming the command-line settings.
pub const SETTINGS_HINT: &str = "if its servers ask for credentials, check --nats-user and --nats-password, or --nats-token; if they use TLS, check --nats-ca (and --nats-cert with --nats-key where they verify clients)";

/// One attempt to connect with the process's settings; the reason it failed, with the causes
/// underneath, or None when it connected.
pub async fn connect_failure(urls: &str) -> Option<String> {
    let attempt = super::identity::connect_options()
        .connection_timeout(ATTEMPT_TIMEOUT)
        .max_reconnects(Some(1))
        .connect(super::jetstream::server_list(urls));
    let patience = ATTEMPT_TIMEOUT * 2;
    let error = match tokio::time::timeout(patience, attempt).await {
        Ok(Ok(client)) => {
            drop(client);
            return None;
        }
        Ok(Err(error)) => error,
        Err(_) => return Some(format!("no answer within {} s", patience.as_secs())),
    };
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !reason.contains(&cause_text) {
            reason.push_str(": ");
            reason.push_str(&cause_text);
        }
        source = cause.source();
    }
    Some(reason)
}

/// `urls` as shown in logs and messages: a URL may carry a user and password
/// (`nats://user:secret@host:4222`), and those travel further than the process's settings.
pub fn without_credentials(urls: &str) -> String {
    urls.split(',')
        .map(|url| match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}***@{}", &url[..scheme + 3], &url[at + 1..])
            }
            (None, Some(at)) => format!("***@{}", &url[at + 1..]),
            _ => url.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_not_shown() {
        assert_eq!(
            without_credentials(
                "nats://relay:s3cret@a:4222,nats://b:4222,tls://token@c:4222,user:pw@d:4222"
            ),
            "nats://***@a:4222,nats://b:4222,tls://***@c:4222,***@d:4222"
        );
    }
}
