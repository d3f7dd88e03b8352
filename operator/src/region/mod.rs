//! The Region reconciler: the region's Deployments, Services, autoscalers, disruption budgets,
//! ConfigMap, admin-token Secret, Ingress and (where Prometheus Operator is installed) its
//! ServiceMonitor, all owned by the Region and applied server-side on every pass.

pub mod objects;
mod secrets;
pub mod tls;

use crate::apply::{apply, write_status};
use crate::context::Context;
use crate::crd::{set_condition, Region};
use crate::error::{Error, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::ByteString;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use objects::{Component, RegionObjects};
use rand::RngCore;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How soon a Region naming a missing Secret is looked at again.
const MISSING_SECRET_RECHECK: Duration = Duration::from_secs(5);

/// The CRD whose presence makes the operator write ServiceMonitors.
const SERVICE_MONITOR_CRD: &str = "servicemonitors.monitoring.coreos.com";

pub async fn reconcile(region: Arc<Region>, context: Arc<Context>) -> Result<Action> {
    let outcome = apply_region(&region, &context).await;
    if let Err(error) = &outcome {
        // The failure is the Region's Degraded condition until a pass succeeds.
        let mut status = region.status.clone().unwrap_or_default();
        set_condition(
            &mut status.conditions,
            "Degraded",
            true,
            "ApplyFailed",
            error.to_string(),
            region.metadata.generation,
        );
        set_condition(
            &mut status.conditions,
            "Ready",
            false,
            "ApplyFailed",
            error.to_string(),
            region.metadata.generation,
        );
        let _ = write_status(&context.client, region.as_ref(), &status).await;
        context
            .event(region.as_ref(), true, "ApplyFailed", error.to_string())
            .await;
    }
    outcome
}

async fn apply_region(region: &Region, context: &Context) -> Result<Action> {
    let namespace = region.namespace().unwrap_or_else(|| "default".into());
    let client = &context.client;
    ensure_admin_token(region, context, &namespace).await?;
    let RegionObjects {
        config,
        deployments,
        services,
        autoscalers,
        disruption_budgets,
        ingress,
        service_monitor,
    } = objects::build(region);
    apply(&Api::namespaced(client.clone(), &namespace), &config).await?;
    let deployments_api: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let mut applied = Vec::new();
    for deployment in &deployments {
        applied.push(apply(&deployments_api, deployment).await?);
    }
    for service in &services {
        apply(&Api::namespaced(client.clone(), &namespace), service).await?;
    }
    for autoscaler in &autoscalers {
        apply(&Api::namespaced(client.clone(), &namespace), autoscaler).await?;
    }
    for budget in &disruption_budgets {
        apply(&Api::namespaced(client.clone(), &namespace), budget).await?;
    }
    apply(&Api::namespaced(client.clone(), &namespace), &ingress).await?;
    let monitored = service_monitors_exist(context).await?;
    if monitored {
        apply_service_monitor(context, &namespace, service_monitor).await?;
    }

    let first_pass_of_generation = region
        .status
        .as_ref()
        .and_then(|status| status.observed_generation)
        != region.metadata.generation;
    let mut status = region.status.clone().unwrap_or_default();
    status.observed_generation = region.metadata.generation;
    status.api_endpoint = Some(objects::api_endpoint(region));
    status.api_replicas = Some(format!(
        "{}-{}",
        region.spec.api.min_replicas, region.spec.api.max_replicas
    ));
    let waiting_for: Vec<&str> = [Component::Api, Component::Worker]
        .into_iter()
        .zip(&applied)
        .filter(|(_, deployment)| !available(deployment))
        .map(|(component, _)| component.name())
        .collect();
    let missing_secrets =
        secrets::missing(region, &Api::namespaced(client.clone(), &namespace)).await?;
    let generation = region.metadata.generation;
    set_condition(
        &mut status.conditions,
        "Degraded",
        false,
        "Applied",
        "every object applied",
        generation,
    );
    let (ready, progressing) = readiness(region, context, &missing_secrets, &waiting_for).await;
    for (kind, (holds, reason, message)) in [("Ready", ready), ("Progressing", progressing)] {
        set_condition(
            &mut status.conditions,
            kind,
            holds,
            reason,
            message,
            generation,
        );
    }
    write_status(&context.client, region, &status).await?;
    if first_pass_of_generation {
        let monitor_note = if monitored { ", a ServiceMonitor" } else { "" };
        context
            .event(
                region,
                false,
                "Applied",
                format!(
                    "generation {}: 2 Deployments, a Service, 2 HorizontalPodAutoscalers, 2 PodDisruptionBudgets, a ConfigMap, an Ingress{monitor_note}",
                    generation.unwrap_or_default()
                ),
            )
            .await;
    }
    // Owned objects wake the reconciler when they change; the timer re-checks the rest (such
    // as a ServiceMonitor CRD installed later), and soon while a named Secret is missing: the
    // Secrets are not the Region's, so their creation wakes nothing.
    if missing_secrets.is_empty() {
        Ok(Action::requeue(Duration::from_secs(300)))
    } else {
        Ok(Action::requeue(MISSING_SECRET_RECHECK))
    }
}

/// A condition's status, reason and message.
type ConditionState = (bool, &'static str, String);

/// The Region's Ready and Progressing conditions: Secrets the pods need come first (with a
/// Warning event when what is missing changed), then the Deployments' availability.
async fn readiness(
    region: &Region,
    context: &Context,
    missing_secrets: &[String],
    waiting_for: &[&str],
) -> (ConditionState, ConditionState) {
    if !missing_secrets.is_empty() {
        let message = format!("the pods cannot start: {}", missing_secrets.join("; "));
        let said_already = region
            .status
            .as_ref()
            .and_then(|status| {
                status
                    .conditions
                    .iter()
                    .find(|condition| condition.type_ == "Ready")
            })
            .is_some_and(|ready| ready.message == message);
        if !said_already {
            context
                .event(region, true, "SecretsMissing", message.clone())
                .await;
        }
        (
            (false, "SecretsMissing", message.clone()),
            (true, "SecretsMissing", message),
        )
    } else if waiting_for.is_empty() {
        (
            (
                true,
                "Available",
                "the API and worker deployments are available".to_owned(),
            ),
            (false, "Available", "nothing to roll out".to_owned()),
        )
    } else {
        let message = format!(
            "waiting for the {} deployment(s) to become available",
            waiting_for.join(" and ")
        );
        (
            (false, "DeploymentsUnavailable", message.clone()),
            (true, "RollingOut", message),
        )
    }
}

/// A Deployment is available once its controller saw the current spec and at least one
/// replica is available.
fn available(deployment: &Deployment) -> bool {
    let Some(status) = &deployment.status else {
        return false;
    };
    status.observed_generation >= deployment.metadata.generation
        && status.available_replicas.unwrap_or(0) >= 1
}

/// The region's admin token: made once and kept (the API pods read it and the operator uses it
/// to provision tenants), so it is created, never applied.
async fn ensure_admin_token(region: &Region, context: &Context, namespace: &str) -> Result<()> {
    let api: Api<Secret> = Api::namespaced(context.client.clone(), namespace);
    let name = objects::admin_secret_name(region);
    if api.get_opt(&name).await?.is_some() {
        return Ok(());
    }
    let mut token = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut token);
    let secret = Secret {
        metadata: objects::owned_meta(region, name.clone(), None),
        data: Some(BTreeMap::from([(
            objects::ADMIN_TOKEN_KEY.to_owned(),
            ByteString(hex::encode(token).into_bytes()),
        )])),
        type_: Some("Opaque".into()),
        ..Secret::default()
    };
    match api.create(&PostParams::default(), &secret).await {
        Ok(_) => {
            context
                .event(
                    region,
                    false,
                    "AdminTokenCreated",
                    format!("Secret {name} holds the region's admin token"),
                )
                .await;
            Ok(())
        }
        // Another pass made it meanwhile.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

async fn service_monitors_exist(context: &Context) -> Result<bool> {
    let api: Api<CustomResourceDefinition> = Api::all(context.client.clone());
    Ok(api.get_opt(SERVICE_MONITOR_CRD).await?.is_some())
}

async fn apply_service_monitor(
    context: &Context,
    namespace: &str,
    monitor: serde_json::Value,
) -> Result<()> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
    ));
    let api: Api<DynamicObject> =
        Api::namespaced_with(context.client.clone(), namespace, &resource);
    let object: DynamicObject = serde_json::from_value(monitor)
        .map_err(|error| Error::Waiting(format!("ServiceMonitor: {error}")))?;
    apply(&api, &object).await?;
    Ok(())
}
