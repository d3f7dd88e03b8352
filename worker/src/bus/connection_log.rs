//! What a long-running process tells its operators about its NATS connections: when one is
//! lost, why connecting again fails, and when it is back. The client reconnects in the
//! background on its own and says only "TLS error" or "IO error" when an attempt fails, so a
//! process whose certificate was refused, or whose servers are away, looked merely slow. The
//! reason comes from one fresh attempt of its own ([`super::diagnosis`]), made at most every
//! [`DIAGNOSIS_INTERVAL`], and is logged once until it changes.
//!
//! A process holds several connections to the same servers (the relay, each consumer, the
//! requests between regions). They report through one record per server list, so an outage is
//! told once, not once per connection.

use async_nats::{ConnectOptions, Event};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shortest time between two diagnosing attempts on one server list: the client retries
/// every few seconds, and the diagnosis should not double the load on servers coming back.
const DIAGNOSIS_INTERVAL: Duration = Duration::from_secs(10);

/// What is known and was said about one server list.
#[derive(Debug, Default)]
struct Record {
    state: State,
    /// The last reason logged for failing attempts, so a reason is told once until it changes.
    reason: Option<String>,
    diagnosing: bool,
    diagnosed_at: Option<Instant>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    NeverConnected,
    /// Never connected, and attempts fail.
    Unreachable,
    Connected,
    /// Connected once; lost, and not back.
    Lost,
}

impl State {
    fn away(self) -> bool {
        matches!(self, State::Unreachable | State::Lost)
    }
}

static RECORDS: Mutex<BTreeMap<String, Record>> = Mutex::new(BTreeMap::new());

/// The options of a connection that lives as long as the process: the process's identity and
/// TLS, retrying in the background from the first attempt on, its events logged under `urls`
/// (the servers it connects to).
pub(crate) fn long_lived_options(urls: &str) -> ConnectOptions {
    let urls = urls.to_owned();
    let shown = super::diagnosis::without_credentials(&urls);
    super::identity::connect_options()
        .retry_on_initial_connect()
        .event_callback(move |event| {
            log_event(&urls, &shown, event);
            async {}
        })
}

/// Logs `event` of a connection to `urls`, shown as `shown`.
fn log_event(urls: &str, shown: &str, event: Event) {
    match event {
        Event::Connected => match with_record(urls, connected) {
            State::Lost => tracing::info!("NATS {shown}: connected again"),
            State::Unreachable => tracing::info!("NATS {shown}: connected"),
            State::NeverConnected | State::Connected => {}
        },
        Event::Disconnected => {
            if with_record(urls, lost) {
                tracing::warn!("NATS {shown}: connection lost; reconnecting in the background");
            }
        }
        Event::ClientError(_) => {
            if with_record(urls, |record| failing(record, Instant::now())) {
                tokio::spawn(explain_failure(urls.to_owned(), shown.to_owned()));
            }
        }
        Event::ServerError(error) => tracing::warn!("NATS {shown}: the server says {error}"),
        Event::SlowConsumer(subscription) => tracing::warn!(
            "NATS {shown}: subscription {subscription} falls behind; the server drops its messages"
        ),
        Event::LameDuckMode => {
            tracing::info!("NATS {shown}: a server is shutting down; moving to another")
        }
        Event::Draining | Event::Closed => {}
    }
}

fn with_record<T>(urls: &str, change: impl FnOnce(&mut Record) -> T) -> T {
    let mut records = RECORDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    change(records.entry(urls.to_owned()).or_default())
}

/// A connection is up; the state it ends (an absence is worth telling).
fn connected(record: &mut Record) -> State {
    record.reason = None;
    std::mem::replace(&mut record.state, State::Connected)
}

/// A connection was lost; whether it is the first news of it.
fn lost(record: &mut Record) -> bool {
    let was_connected = record.state == State::Connected;
    record.state = State::Lost;
    was_connected
}

/// An attempt failed at `now`; whether to diagnose why (none running, none lately).
fn failing(record: &mut Record, now: Instant) -> bool {
    record.state = match record.state {
        State::NeverConnected | State::Unreachable => State::Unreachable,
        State::Connected | State::Lost => State::Lost,
    };
    let due = record
        .diagnosed_at
        .is_none_or(|at| now.duration_since(at) >= DIAGNOSIS_INTERVAL);
    if record.diagnosing || !due {
        return false;
    }
    record.diagnosing = true;
    record.diagnosed_at = Some(now);
    true
}

/// The diagnosis found `reason` (None: its attempt connected); whether it is news to log.
fn diagnosed(record: &mut Record, reason: Option<String>) -> Option<String> {
    record.diagnosing = false;
    let reason = reason.filter(|_| record.state.away())?;
    (record.reason.as_ref() != Some(&reason)).then(|| {
        record.reason = Some(reason.clone());
        reason
    })
}

/// Logs why connecting to `urls` fails, found by one attempt of its own, when the reason is new.
async fn explain_failure(urls: String, shown: String) {
    let reason = super::diagnosis::connect_failure(&urls).await;
    if let Some(reason) = with_record(&urls, |record| diagnosed(record, reason)) {
        tracing::warn!(
            "NATS {shown}: connecting fails: {reason}; retrying in the background ({})",
            super::diagnosis::SETTINGS_HINT
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absence_is_told_when_it_starts_and_when_it_ends() {
        let mut record = Record::default();
        assert_eq!(
            connected(&mut record),
            State::NeverConnected,
            "the first connection is no news"
        );
        assert!(lost(&mut record));
        assert!(!lost(&mut record), "a second connection lost the same way");
        failing(&mut record, Instant::now());
        assert_eq!(connected(&mut record), State::Lost, "back again");
        assert_eq!(connected(&mut record), State::Connected);
    }

    #[test]
    fn servers_away_from_the_start_are_told_when_first_reached() {
        let mut record = Record::default();
        assert!(failing(&mut record, Instant::now()));
        assert_eq!(
            diagnosed(&mut record, Some("Connection refused".into())),
            Some("Connection refused".into())
        );
        assert_eq!(connected(&mut record), State::Unreachable);
    }

    #[test]
    fn failures_are_diagnosed_one_at_a_time_and_not_too_often() {
        let mut record = Record::default();
        let start = Instant::now();
        assert!(failing(&mut record, start));
        assert!(!failing(&mut record, start), "one diagnosis at a time");
        assert_eq!(
            diagnosed(&mut record, Some("Connection refused".into())),
            Some("Connection refused".into())
        );
        assert!(!failing(&mut record, start + Duration::from_secs(1)));
        assert!(failing(&mut record, start + DIAGNOSIS_INTERVAL));
        assert_eq!(
            diagnosed(&mut record, Some("Connection refused".into())),
            None,
            "the same reason is told once"
        );
        assert!(failing(&mut record, start + DIAGNOSIS_INTERVAL * 2));
        assert_eq!(
            diagnosed(&mut record, Some("BadCertificate".into())),
            Some("BadCertificate".into())
        );
    }

    #[test]
    fn a_diagnosis_that_connects_or_comes_after_the_return_says_nothing() {
        let mut record = Record::default();
        assert!(failing(&mut record, Instant::now()));
        assert_eq!(diagnosed(&mut record, None), None);
        record.diagnosed_at = None;
        assert!(failing(&mut record, Instant::now()));
        connected(&mut record);
        assert_eq!(diagnosed(&mut record, Some("late".into())), None);
    }
}
