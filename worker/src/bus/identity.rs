//! Who this process is to its NATS servers, where they ask (authorization): a user and
//! password, or a token. One identity per process, like the servers it names: set once at
//! start from the command line, used by every connection the process opens — the relay, the
//! consumers, the dead letters, the requests between regions.

use std::sync::OnceLock;

#[derive(Clone, PartialEq, Eq, Default)]
pub enum NatsIdentity {
    /// The servers ask for nothing.
    #[default]
    Anonymous,
    UserPassword {
        user: String,
        password: String,
    },
    Token(String),
}

/// Never printed: the secrets stay out of logs and error messages.
impl std::fmt::Debug for NatsIdentity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NatsIdentity::Anonymous => write!(formatter, "Anonymous"),
            NatsIdentity::UserPassword { user, .. } => write!(formatter, "User({user:?}, ***)"),
            NatsIdentity::Token(_) => write!(formatter, "Token(***)"),
        }
    }
}

static IDENTITY: OnceLock<NatsIdentity> = OnceLock::new();

/// Sets the process's identity; refused when another was set already.
pub fn set_identity(identity: NatsIdentity) -> Result<(), String> {
    let set = IDENTITY.get_or_init(|| identity.clone());
    if *set == identity {
        Ok(())
    } else {
        Err("the NATS identity of this process was set already".into())
    }
}

/// The options every connection starts from: the process's identity and TLS setting applied.
pub fn connect_options() -> async_nats::ConnectOptions {
    let options = super::tls::apply(async_nats::ConnectOptions::new());
    match IDENTITY.get().cloned().unwrap_or_default() {
        NatsIdentity::Anonymous => options,
        NatsIdentity::UserPassword { user, password } => options.user_and_password(user, password),
        NatsIdentity::Token(token) => options.token(token),
    }
}
