//! The command-line options that say where a region's event streams are: the NATS server and
//! the prefix of the stream names (`upline worker`, `upline dlq`).

use std::path::PathBuf;
use std::sync::Arc;
use worker::bus::identity::{set_identity, NatsIdentity};
use worker::bus::jetstream::JetStreamBus;
use worker::bus::tls::{set_tls, SetTlsError};
use worker::dead_letters::DeadLetters;
use worker::streams::RegionStreams;

#[derive(clap::Args, Debug, Clone)]
pub struct NatsArgs {
    /// The region's NATS server (JetStream enabled), e.g. nats://127.0.0.1:4222, or its
    /// cluster's servers separated by commas.
    #[arg(long, value_name = "URL", env = "UPLINE_NATS")]
    pub nats: String,
    #[command(flatten)]
    pub access: NatsAccessArgs,
    #[command(flatten)]
    pub prefix: StreamPrefixArgs,
}

/// How this process reaches the NATS servers: who it is, where they ask (authorization), and
/// whom it trusts (TLS).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct NatsAccessArgs {
    /// The NATS user to connect as; with --nats-password.
    #[arg(long, value_name = "USER", env = "UPLINE_NATS_USER")]
    pub nats_user: Option<String>,
    /// The NATS user's password (better given by the environment than on a command line).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "UPLINE_NATS_PASSWORD",
        hide_env_values = true
    )]
    pub nats_password: Option<String>,
    /// A NATS authorization token, instead of a user and password.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "UPLINE_NATS_TOKEN",
        hide_env_values = true,
        conflicts_with = "nats_user"
    )]
    pub nats_token: Option<String>,
    /// The certificate authorities (PEM) that sign the NATS servers' certificates, instead of
    /// the system's. Given, the connection must be TLS: a server without it is refused.
    #[arg(long, value_name = "FILE", env = "UPLINE_NATS_CA")]
    pub nats_ca: Option<PathBuf>,
    /// The client certificate (PEM, with its chain) shown to NATS servers that verify their
    /// clients (mutual TLS); with --nats-key.
    #[arg(
        long,
        value_name = "FILE",
        env = "UPLINE_NATS_CERT",
        requires = "nats_key"
    )]
    pub nats_cert: Option<PathBuf>,
    /// The private key (PEM) of --nats-cert.
    #[arg(
        long,
        value_name = "FILE",
        env = "UPLINE_NATS_KEY",
        requires = "nats_cert"
    )]
    pub nats_key: Option<PathBuf>,
}

impl NatsAccessArgs {
    /// Makes the identity and the TLS setting the process's, for every NATS connection it
    /// opens; the certificate files are checked now.
    pub fn install(&self) -> Result<(), String> {
        self.install_tls()?;
        self.install_identity()
    }

    fn install_tls(&self) -> Result<(), String> {
        let files = crate::tls_flags::files(&self.nats_ca, &self.nats_cert, &self.nats_key);
        set_tls(files).map_err(|error| match error {
            SetTlsError::File(problem) => crate::tls_flags::problem_message("nats", &problem),
            SetTlsError::SetAlready => {
                "the NATS TLS setting of this process was set already".into()
            }
        })
    }

    fn install_identity(&self) -> Result<(), String> {
        let identity = match (&self.nats_user, &self.nats_password, &self.nats_token) {
            (None, None, None) => NatsIdentity::Anonymous,
            (Some(user), Some(password), None) => NatsIdentity::UserPassword {
                user: user.clone(),
                password: password.clone(),
            },
            (None, None, Some(token)) => NatsIdentity::Token(token.clone()),
            (Some(_), None, _) => {
                return Err("--nats-user needs --nats-password (or UPLINE_NATS_PASSWORD)".into())
            }
            (None, Some(_), _) => {
                return Err("--nats-password needs --nats-user (or UPLINE_NATS_USER)".into())
            }
            (Some(_), Some(_), Some(_)) => {
                return Err(
                    "give --nats-token or --nats-user with --nats-password, not both".into(),
                )
            }
        };
        set_identity(identity)
    }
}

/// The result, or for NATS servers that cannot be used, the error with why one fresh attempt to
/// connect fails (when it does: a retrying client only times out) and what to check.
pub async fn or_nats_trouble<T>(
    result: Result<T, impl std::fmt::Display>,
    url: &str,
) -> Result<T, String> {
    let error = match result {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let cause = worker::bus::diagnosis::connect_failure(url)
        .await
        .map(|reason| format!("connecting fails: {reason}; "))
        .unwrap_or_default();
    Err(format!(
        "{error} ({cause}is NATS running at {}? {})",
        worker::bus::diagnosis::without_credentials(url),
        worker::bus::diagnosis::SETTINGS_HINT
    ))
}

/// The prefix of the stream names, shared by every command that names a region's streams.
#[derive(clap::Args, Debug, Clone)]
pub struct StreamPrefixArgs {
    /// Prepended to the names of the streams (`UPLINE_EVENTS_US_EAST`, `UPLINE_DLQ_US_EAST`):
    /// two installations sharing a NATS account keep apart by it.
    #[arg(
        long,
        value_name = "PREFIX",
        env = "UPLINE_STREAM_PREFIX",
        default_value = "UPLINE"
    )]
    pub stream_prefix: String,
}

impl StreamPrefixArgs {
    pub fn streams(&self, region: &str) -> RegionStreams {
        RegionStreams::new(&self.stream_prefix, region)
    }
}

impl NatsArgs {
    pub fn streams(&self, region: &str) -> RegionStreams {
        self.prefix.streams(region)
    }

    /// The region's events stream (created if missing).
    pub async fn events(&self, streams: &RegionStreams) -> Result<Arc<JetStreamBus>, String> {
        or_nats_trouble(
            JetStreamBus::connect(&self.nats, streams.events()).await,
            &self.nats,
        )
        .await
        .map(Arc::new)
    }

    /// The region's dead letters (the stream created if missing).
    pub async fn dead_letters(&self, streams: &RegionStreams) -> Result<DeadLetters, String> {
        let dead = or_nats_trouble(
            JetStreamBus::connect(&self.nats, streams.dead_letters()).await,
            &self.nats,
        )
        .await?;
        Ok(DeadLetters::new(
            Arc::new(dead),
            &streams.dead_letter_subject_prefix(),
        ))
    }
}
