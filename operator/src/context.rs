//! What every reconciler shares: the client, the event recorder and how to reach
//! each region's platform API.

use crate::platform::PlatformAccess;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};

pub struct Context {
    pub client: Client,
    pub platform: PlatformAccess,
    /// The one namespace the operator watches, when it is not all of them.
    pub watch_namespace: Option<String>,
    recorder: Recorder,
}

impl Context {
    pub fn new(
        client: Client,
        platform: PlatformAccess,
        watch_namespace: Option<String>,
        instance: Option<String>,
    ) -> Context {
        let reporter = Reporter {
            controller: "upline-operator".into(),
            instance,
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            platform,
            watch_namespace,
        }
    }

    /// Publishes an event on `object` (`kubectl describe` shows it). An event that cannot be
    /// written is logged, never a reason to fail the reconcile.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note),
            action: reason.into(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &object.object_ref(&())).await {
            tracing::warn!(%error, reason, "cannot publish an event");
        }
    }
}
