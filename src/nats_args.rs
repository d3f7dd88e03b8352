//! The command-line options that say where a region's event streams are: the NATS server and
//! the prefix of the stream names (`upline worker`, `upline dlq`).

use std::sync::Arc;
use worker::bus::identity::{set_identity, NatsIdentity};
use worker::bus::jetstream::JetStreamBus;
use worker::dead_letters::DeadLetters;
use worker::streams::RegionStreams;

#[derive(clap::Args, Debug, Clone)]
pub struct NatsArgs {
    /// The region's NATS server (JetStream enabled), e.g. nats://127.0.0.1:4222, or its
    /// cluster's servers separated by commas.
    #[arg(long, value_name = "URL", env = "UPLINE_NATS")]
    pub nats: String,
    #[command(flatten)]
    pub identity: NatsIdentityArgs,
    #[command(flatten)]
    pub prefix: StreamPrefixArgs,
}

/// Who this process is to the NATS servers, where they ask (authorization).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct NatsIdentityArgs {
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
}

impl NatsIdentityArgs {
    /// Makes the identity the process's, for every NATS connection it opens.
    pub fn install(&self) -> Result<(), String> {
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

/// What to check when NATS does not answer.
pub fn nats_hint(url: &str) -> String {
    format!(
        "is NATS running at {url}? if its servers ask for credentials, check --nats-user and --nats-password, or --nats-token"
    )
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
        JetStreamBus::connect(&self.nats, streams.events())
            .await
            .map(Arc::new)
            .map_err(|error| format!("{error} ({})", nats_hint(&self.nats)))
    }

    /// The region's dead letters (the stream created if missing).
    pub async fn dead_letters(&self, streams: &RegionStreams) -> Result<DeadLetters, String> {
        let dead = JetStreamBus::connect(&self.nats, streams.dead_letters())
            .await
            .map_err(|error| format!("{error} ({})", nats_hint(&self.nats)))?;
        Ok(DeadLetters::new(
            Arc::new(dead),
            &streams.dead_letter_subject_prefix(),
        ))
    }
}
