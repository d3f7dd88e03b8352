//! Where every command's `tracing` lines go: standard error, filtered by UPLINE_LOG.
//!
//! Services (serve, demo, worker, operator, load) log from `info`: their lines are what a pod's
//! log shows. Short commands (migrate, dlq, export, the benchmarks) print their own results and
//! log from `warn`, so a warning of a library they call (the ScyllaDB driver during `migrate`,
//! the NATS client during `dlq`) still reaches the operator instead of going nowhere.

/// How much a command logs when UPLINE_LOG does not say.
#[derive(Debug, Clone, Copy)]
pub enum Verbosity {
    /// A service: `info` and above.
    Service,
    /// A short command that reports through its own output: `warn` and above.
    Command,
}

impl Verbosity {
    fn default_directives(self) -> &'static str {
        match self {
            Verbosity::Service => "info",
            Verbosity::Command => "warn",
        }
    }
}

/// Logs to standard error, filtered by UPLINE_LOG (default by `verbosity`), in colour only on a
/// terminal (a pod's log keeps no escape codes). The NATS client's own lines start at `warn`
/// unless UPLINE_LOG names `async_nats`: at `info` it logs every event of every connection,
/// each failed reconnection as a bare "IO error", and `worker::bus` tells what happened
/// instead, once, with the reason.
pub fn install(verbosity: Verbosity) {
    use std::io::IsTerminal;
    let directives =
        std::env::var("UPLINE_LOG").unwrap_or_else(|_| verbosity.default_directives().to_owned());
    let mut filter = tracing_subscriber::EnvFilter::new(&directives);
    if !directives.contains("async_nats") {
        filter = filter.add_directive("async_nats=warn".parse().expect("a valid directive"));
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
