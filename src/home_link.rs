//! How an endpoint reaches the home regions of the tenants at home elsewhere: their enrollment
//! services, over NATS request and reply (`worker::requests`).

use std::time::Duration;
use worker::requests::Requester;
use worker::streams::RegionStreams;

/// How long an enrollment waits for the home region before the endpoint answers 503.
const HOME_ANSWER_WAIT: Duration = Duration::from_secs(5);

pub struct NatsHomeLink {
    requester: Requester,
    stream_prefix: String,
}

impl NatsHomeLink {
    pub async fn connect(url: &str, stream_prefix: &str) -> Result<NatsHomeLink, String> {
        Ok(NatsHomeLink {
            requester: Requester::connect(url, HOME_ANSWER_WAIT)
                .await
                .map_err(|error| error.to_string())?,
            stream_prefix: stream_prefix.to_owned(),
        })
    }
}

#[async_trait::async_trait]
impl api::residence::HomeLink for NatsHomeLink {
    async fn enroll(&self, home_region: &str, request: Vec<u8>) -> Result<Vec<u8>, String> {
        let subject = RegionStreams::new(&self.stream_prefix, home_region).enroll_subject();
        self.requester
            .request(&subject, request)
            .await
            .map(|answer| answer.to_vec())
            .map_err(|error| error.to_string())
    }
}
