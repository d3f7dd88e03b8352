//! The Tenant reconciler: provisions the tenant in its home region through the platform's admin
//! API (and, as a resident-only tenant, in each residence region), keeps an API key in a Secret
//! `<tenant>-api-key`, gives the tenant's records each new version of its CompensationPlan, and
//! reports where the tenant is served. A finalizer honours the deletion policy: `Retain` leaves
//! the platform alone, `Delete` closes the tenant in every region it is provisioned in (keys
//! revoked, personal data erased; the payment records stay).

use crate::apply::write_status;
use crate::context::Context;
use crate::crd::{
    condition_is, set_condition, CloseEvery, DeletionPolicy, RawCompensationPlan, Region, Tenant,
};
use crate::error::{Error, Result};
use crate::platform::{Created, PlanGiven, RegionApi};
use crate::region::objects::{admin_secret_name, ADMIN_TOKEN_KEY};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Event as Finalizer};
use kube::{Resource, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const FINALIZER: &str = "upline.io/tenant";
const KEY_ID: &str = "key_id";
const API_KEY: &str = "api_key";
const ENDPOINT: &str = "endpoint";
/// How long to wait before looking again for a Region or plan that is not ready.
const NOT_READY_RETRY: Duration = Duration::from_secs(15);

pub fn api_key_secret_name(tenant: &Tenant) -> String {
    format!("{}-api-key", tenant.name_any())
}

pub async fn reconcile(tenant: Arc<Tenant>, context: Arc<Context>) -> Result<Action> {
    let outcome = reconcile_with_finalizer(tenant.clone(), &context).await;
    if let Err(error) = &outcome {
        // The failure (the platform unreachable, say) is the Tenant's Degraded condition until
        // a pass succeeds.
        let mut status = tenant.status.clone().unwrap_or_default();
        let generation = tenant.metadata.generation;
        set_condition(
            &mut status.conditions,
            "Degraded",
            true,
            error.reason(),
            error.to_string(),
            generation,
        );
        let _ = write_status(&context.client, tenant.as_ref(), &status).await;
        context
            .event(
                tenant.as_ref(),
                true,
                "ProvisioningFailed",
                error.to_string(),
            )
            .await;
    }
    outcome
}

async fn reconcile_with_finalizer(tenant: Arc<Tenant>, context: &Context) -> Result<Action> {
    let api: Api<Tenant> = Api::namespaced(
        context.client.clone(),
        &tenant.namespace().unwrap_or_default(),
    );
    finalizer(&api, FINALIZER, tenant, |event| async {
        match event {
            Finalizer::Apply(tenant) => provision(&tenant, context).await,
            Finalizer::Cleanup(tenant) => clean_up(&tenant, context).await,
        }
    })
    .await
    .map_err(|error| match error {
        kube::runtime::finalizer::Error::ApplyFailed(error)
        | kube::runtime::finalizer::Error::CleanupFailed(error) => error,
        other => Error::Waiting(other.to_string()),
    })
}

/// The Regions the operator sees (read once per pass, however many a tenant names).
async fn list_regions(context: &Context) -> Result<Vec<Region>> {
    let regions: Api<Region> = crate::run::watched(&context.client, &context.watch_namespace);
    Ok(regions.list(&ListParams::default()).await?.items)
}

/// The Region of that name, wherever its namespace (a region's name is unique in a cluster).
fn named(regions: &[Region], name: &str) -> Result<Option<Region>> {
    let mut found: Vec<&Region> = regions
        .iter()
        .filter(|region| region.name_any() == name)
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop().cloned()),
        _ => Err(Error::Waiting(format!(
            "{} Regions are named {name}; a region's name must be unique",
            found.len()
        ))),
    }
}

async fn find_region(context: &Context, name: &str) -> Result<Option<Region>> {
    named(&list_regions(context).await?, name)
}

/// The region's API with its admin token (read from the Secret the Region reconciler made).
async fn region_api<'a>(context: &'a Context, region: &Region) -> Result<RegionApi<'a>> {
    let secrets: Api<Secret> = Api::namespaced(
        context.client.clone(),
        &region.namespace().unwrap_or_default(),
    );
    let name = admin_secret_name(region);
    let token = secrets
        .get_opt(&name)
        .await?
        .and_then(|secret| secret_value(&secret, ADMIN_TOKEN_KEY))
        .ok_or_else(|| Error::Waiting(format!("Secret {name} has no admin token yet")))?;
    Ok(context.platform.region(region, token))
}

fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(key)?;
    String::from_utf8(bytes.0.clone()).ok()
}

/// Why the tenant cannot be provisioned yet, as its condition.
async fn not_ready(
    tenant: &Tenant,
    context: &Context,
    reason: &str,
    message: String,
) -> Result<Action> {
    let mut status = tenant.status.clone().unwrap_or_default();
    let generation = tenant.metadata.generation;
    status.observed_generation = generation;
    set_condition(
        &mut status.conditions,
        "Ready",
        false,
        reason,
        message.clone(),
        generation,
    );
    set_condition(
        &mut status.conditions,
        "Progressing",
        true,
        reason,
        message.clone(),
        generation,
    );
    write_status(&context.client, tenant, &status).await?;
    context.event(tenant, true, reason, message).await;
    Ok(Action::requeue(NOT_READY_RETRY))
}

async fn provision(tenant: &Tenant, context: &Context) -> Result<Action> {
    let namespace = tenant.namespace().unwrap_or_default();
    let tenant_id = tenant.name_any();
    let regions = list_regions(context).await?;
    let Some(home) = named(&regions, &tenant.spec.home_region)? else {
        let message = format!("no Region named {} in the cluster", tenant.spec.home_region);
        return not_ready(tenant, context, "RegionMissing", message).await;
    };
    let plans: Api<RawCompensationPlan> = Api::namespaced(context.client.clone(), &namespace);
    let plan = match plans.get_opt(&tenant.spec.plan).await? {
        Some(plan)
            if plan
                .status
                .as_ref()
                .is_some_and(|status| condition_is(&status.conditions, "Ready")) =>
        {
            plan
        }
        Some(_) => {
            let message = format!(
                "CompensationPlan {} is not valid yet (see its conditions)",
                tenant.spec.plan
            );
            return not_ready(tenant, context, "PlanNotReady", message).await;
        }
        None => {
            let message = format!(
                "no CompensationPlan {} in namespace {namespace}",
                tenant.spec.plan
            );
            return not_ready(tenant, context, "PlanMissing", message).await;
        }
    };
    let plan_version = plan
        .status
        .as_ref()
        .and_then(|status| status.current_version);
    let plan_hash = plan
        .status
        .as_ref()
        .and_then(|status| status.current_hash.clone());
    let home_api = region_api(context, &home).await?;
    let mut body = json!({
        "id": tenant_id,
        "name": tenant.spec.display_name,
        "plan": plan.spec.0,
    });
    if let Some(closes) = tenant.spec.closes {
        let every = match closes.every {
            CloseEvery::Month => "month",
            CloseEvery::Week => "week",
        };
        body["closes"] = json!({ "every": every, "after_hours": closes.after_hours });
    }
    let mut provisioned = Vec::new();
    if home_api.create_tenant(&body).await? == Created::Now {
        context
            .event(
                tenant,
                false,
                "Provisioned",
                format!("tenant {tenant_id} created in region {}", home.name_any()),
            )
            .await;
    }
    provisioned.push(home.name_any());
    let mut residences = Vec::new();
    for residence in &tenant.spec.residence_regions {
        let Some(region) = named(&regions, residence)? else {
            let message =
                format!("no Region named {residence} (a residence region) in the cluster");
            return not_ready(tenant, context, "RegionMissing", message).await;
        };
        let mut resident_body = body.clone();
        resident_body["home_region"] = json!(home.name_any());
        resident_body
            .as_object_mut()
            .expect("an object")
            .remove("closes");
        if region_api(context, &region)
            .await?
            .create_tenant(&resident_body)
            .await?
            == Created::Now
        {
            context
                .event(
                    tenant,
                    false,
                    "Provisioned",
                    format!("residents of region {residence} enabled"),
                )
                .await;
        }
        provisioned.push(residence.clone());
        residences.push(region);
    }
    let secret_name = ensure_api_key(tenant, context, &home_api, &namespace).await?;

    let generation = tenant.metadata.generation;
    let mut status = tenant.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    status.endpoint = Some(format!("https://{}", home.spec.public_hostname));
    status.api_key_secret = Some(secret_name);
    status.provisioned_regions = provisioned;
    // Every region's record is paid by the CompensationPlan's current version: one made since
    // (an edit) is given to them; the platform keeps the versions it replaces.
    let given = if status.applied_plan_hash.is_some() && status.applied_plan_hash == plan_hash {
        None
    } else {
        let mut regions_given = vec![home.clone()];
        regions_given.extend(residences);
        Some(give_plan(tenant, context, &regions_given, &plan.spec.0).await?)
    };
    let record = home_api.tenant(&tenant_id).await?.ok_or_else(|| {
        Error::Waiting(format!(
            "tenant {tenant_id} is not listed in region {}",
            home.name_any()
        ))
    })?;
    status.plan_version = Some(record.plan_version);
    let plan_message = match given {
        Some(PlanGiven::Refused(why)) => {
            let message = format!(
                "still paid by CompensationPlan {} version {}: the platform refuses version {}: {why}",
                tenant.spec.plan,
                status.applied_plan_version.unwrap_or_default(),
                plan_version.unwrap_or_default()
            );
            context
                .event(tenant, true, "PlanRefused", message.clone())
                .await;
            Err(message)
        }
        Some(PlanGiven::Paid(platform_version)) => {
            if status.applied_plan_hash.is_some() {
                context
                    .event(
                        tenant,
                        false,
                        "PlanApplied",
                        format!(
                            "CompensationPlan {} version {} is the platform's plan version {platform_version}",
                            tenant.spec.plan,
                            plan_version.unwrap_or_default()
                        ),
                    )
                    .await;
            }
            status.applied_plan_version = plan_version;
            status.applied_plan_hash = plan_hash.clone();
            Ok(())
        }
        None => Ok(()),
    };
    let plan_current = plan_message.is_ok();
    set_condition(
        &mut status.conditions,
        "PlanCurrent",
        plan_current,
        if plan_current {
            "Applied"
        } else {
            "PlanRefused"
        },
        plan_message.err().unwrap_or_else(|| {
            format!(
                "paid by CompensationPlan {} version {} (the platform's plan version {})",
                tenant.spec.plan,
                status.applied_plan_version.unwrap_or_default(),
                record.plan_version
            )
        }),
        generation,
    );
    let message = format!("provisioned in {}", status.provisioned_regions.join(", "));
    set_condition(
        &mut status.conditions,
        "Ready",
        true,
        "Provisioned",
        message,
        generation,
    );
    set_condition(
        &mut status.conditions,
        "Progressing",
        false,
        "Provisioned",
        "nothing to do",
        generation,
    );
    set_condition(
        &mut status.conditions,
        "Degraded",
        false,
        "Provisioned",
        "the platform answers",
        generation,
    );
    write_status(&context.client, tenant, &status).await?;
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// The tenant's API key, made once through the platform and kept in a Secret owned by the
/// Tenant; an existing Secret is kept as it is (the key is shown by the platform only once).
async fn ensure_api_key(
    tenant: &Tenant,
    context: &Context,
    home_api: &RegionApi<'_>,
    namespace: &str,
) -> Result<String> {
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), namespace);
    let name = api_key_secret_name(tenant);
    if secrets.get_opt(&name).await?.is_some() {
        return Ok(name);
    }
    let key = home_api.create_api_key(&tenant.name_any()).await?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([
                (
                    "app.kubernetes.io/managed-by".to_owned(),
                    "upline-operator".to_owned(),
                ),
                ("upline.io/tenant".to_owned(), tenant.name_any()),
            ])),
            owner_references: tenant.controller_owner_ref(&()).map(|owner| vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            (
                KEY_ID.to_owned(),
                ByteString(key.key_id.clone().into_bytes()),
            ),
            (API_KEY.to_owned(), ByteString(key.key.into_bytes())),
            (
                ENDPOINT.to_owned(),
                ByteString(home_api.base.clone().into_bytes()),
            ),
        ])),
        type_: Some("Opaque".into()),
        ..Secret::default()
    };
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => {
            context
                .event(
                    tenant,
                    false,
                    "ApiKeyCreated",
                    format!("Secret {name} holds API key {}", key.key_id),
                )
                .await;
            Ok(name)
        }
        Err(error) => {
            // The key exists on the platform but could not be kept: revoke it rather than leave
            // a credential nobody holds.
            let _ = home_api
                .revoke_api_key(&tenant.name_any(), &key.key_id)
                .await;
            Err(error.into())
        }
    }
}

/// Gives `plan` to the tenant's record in each of `regions` (home first); the first refusal
/// stops it (a refusal is about the plan, so every region would refuse it alike). Returns the
/// home's platform version.
async fn give_plan(
    tenant: &Tenant,
    context: &Context,
    regions: &[Region],
    plan: &serde_json::Value,
) -> Result<PlanGiven> {
    let tenant_id = tenant.name_any();
    let mut home_version = None;
    for region in regions {
        let api = region_api(context, region).await?;
        let record = api.tenant(&tenant_id).await?.ok_or_else(|| {
            Error::Waiting(format!(
                "tenant {tenant_id} is not listed in region {}",
                region.name_any()
            ))
        })?;
        match api.give_plan(&tenant_id, record.plan_version, plan).await? {
            PlanGiven::Paid(version) => {
                home_version.get_or_insert(version);
            }
            refused => return Ok(refused),
        }
    }
    Ok(PlanGiven::Paid(
        home_version.expect("the home region is given the plan"),
    ))
}

async fn clean_up(tenant: &Tenant, context: &Context) -> Result<Action> {
    match tenant.spec.deletion_policy {
        DeletionPolicy::Retain => {
            context
                .event(
                    tenant,
                    false,
                    "Retained",
                    "deletion policy Retain: the tenant's data and keys stay on the platform"
                        .into(),
                )
                .await;
        }
        DeletionPolicy::Delete => {
            // Closed in the home region and in each residence region: each keeps the
            // personal data of the distributors residing there.
            let regions = list_regions(context).await?;
            let mut closed = Vec::new();
            let names = std::iter::once(&tenant.spec.home_region)
                .chain(tenant.spec.residence_regions.iter());
            for name in names {
                let Some(region) = named(&regions, name)? else {
                    context
                        .event(
                            tenant,
                            true,
                            "RegionGone",
                            format!("no Region {name} to close the tenant in: nothing done there"),
                        )
                        .await;
                    continue;
                };
                let erased = region_api(context, &region)
                    .await?
                    .close_tenant(&tenant.name_any())
                    .await?;
                closed.push(format!("{name} ({erased} profiles erased)"));
            }
            if !closed.is_empty() {
                context
                    .event(
                        tenant,
                        false,
                        "Closed",
                        format!(
                            "deletion policy Delete: tenant closed in {}; its API keys revoked",
                            closed.join(", ")
                        ),
                    )
                    .await;
            }
        }
    }
    Ok(Action::await_change())
}

/// Whether the tenant has a committed run (committed, posted or since restated) at the plan
/// version the platform pays it by, read from the platform with the tenant's own key.
pub async fn committed_a_run(context: &Context, tenant: &Tenant) -> Result<bool> {
    let Some(platform_version) = tenant
        .status
        .as_ref()
        .and_then(|status| status.plan_version)
    else {
        return Ok(false);
    };
    let Some(home) = find_region(context, &tenant.spec.home_region).await? else {
        return Ok(false);
    };
    let secrets: Api<Secret> = Api::namespaced(
        context.client.clone(),
        &tenant.namespace().unwrap_or_default(),
    );
    let Some(api_key) = secrets
        .get_opt(&api_key_secret_name(tenant))
        .await?
        .and_then(|secret| secret_value(&secret, API_KEY))
    else {
        return Ok(false);
    };
    let runs = region_api(context, &home).await?.runs(&api_key).await?;
    Ok(runs.iter().any(|run| {
        run.plan_version == platform_version
            && matches!(run.status.as_str(), "committed" | "posted" | "superseded")
    }))
}
