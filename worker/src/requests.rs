//! Requests between regions over core NATS (request and reply), for what needs an answer now
//! rather than an event later: an endpoint of a residence region asks the tenant's home region
//! to place a new distributor in the genealogy, and tells the distributor the outcome.
//!
//! A service subscribes in a queue group, so the API processes of a region share its requests;
//! the subjects cross regions over the same leaf-node links as the events.

use crate::bus::{BusError, BusResult};
use bytes::Bytes;
use futures_util::StreamExt;
use std::future::Future;
use std::time::Duration;

/// What a request and an answer carry.
pub type Payload = Bytes;

/// The queue group of a region's request services.
const QUEUE_GROUP: &str = "upline";

/// A service's subscription: requests sent after [`RequestService::subscribe`] returns are
/// queued for it (the server has the subscription), so a process can subscribe before it
/// announces itself and answer from its first moment.
pub struct RequestService {
    client: async_nats::Client,
    requests: async_nats::Subscriber,
}

impl RequestService {
    pub async fn subscribe(url: &str, subject: &str) -> BusResult<RequestService> {
        let client = connect(url).await?;
        let requests = client
            .queue_subscribe(subject.to_owned(), QUEUE_GROUP.to_owned())
            .await
            .map_err(|error| BusError::Unavailable(error.to_string()))?;
        client
            .flush()
            .await
            .map_err(|error| BusError::Unavailable(error.to_string()))?;
        Ok(RequestService { client, requests })
    }

    /// Answers every request with `handle(payload)` until the connection closes. Requests are
    /// handled concurrently; a request without a reply subject is dropped.
    pub async fn run<H, F>(mut self, handle: H)
    where
        H: Fn(Payload) -> F + Send + Sync + Clone + 'static,
        F: Future<Output = Vec<u8>> + Send + 'static,
    {
        while let Some(request) = self.requests.next().await {
            let Some(reply) = request.reply else {
                continue;
            };
            let (client, handle) = (self.client.clone(), handle.clone());
            tokio::spawn(async move {
                let answer = handle(request.payload).await;
                if let Err(error) = client.publish(reply, answer.into()).await {
                    tracing::warn!(%error, "answering a request failed; the requester will retry");
                }
            });
        }
    }
}

/// A client that sends requests to other regions' services.
#[derive(Clone)]
pub struct Requester {
    client: async_nats::Client,
    timeout: Duration,
}

impl Requester {
    pub async fn connect(url: &str, timeout: Duration) -> BusResult<Requester> {
        Ok(Requester {
            client: connect(url).await?,
            timeout,
        })
    }

    /// Sends `payload` to the service on `subject` and waits for its answer. `Unavailable`
    /// when no service answers in time (the link between regions is down, or nobody serves).
    pub async fn request(&self, subject: &str, payload: Vec<u8>) -> BusResult<Bytes> {
        let request = self.client.request(subject.to_owned(), payload.into());
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(message)) => Ok(message.payload),
            Ok(Err(error)) => Err(BusError::Unavailable(format!("{subject}: {error}"))),
            Err(_) => Err(BusError::Unavailable(format!(
                "{subject}: no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

async fn connect(url: &str) -> BusResult<async_nats::Client> {
    crate::bus::connection_log::long_lived_options(url)
        .connect(crate::bus::jetstream::server_list(url))
        .await
        .map_err(|error| {
            let shown = crate::bus::diagnosis::without_credentials(url);
            BusError::Unavailable(format!("{shown}: {error}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_url_is_named_without_its_password() {
        // A port that is not a number is refused before any attempt to reach a server.
        let Err(error) = Requester::connect(
            "nats://relay:s3cret@127.0.0.1:not-a-port",
            Duration::from_secs(1),
        )
        .await
        else {
            panic!("a URL whose port is not a number was accepted");
        };
        let error = error.to_string();
        assert!(error.contains("nats://***@127.0.0.1:not-a-port"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }
}
