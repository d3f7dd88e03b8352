//! The CompensationPlan reconciler: each plan is read and compiled by the engine (a broken one
//! gets its field path and message as the `Ready` condition and a Warning event), and every
//! content it had is a version kept in an immutable ConfigMap `<plan>-v<N>`. A version stays
//! open to edits while no tenant is paid by it; once one is, a changed spec becomes version
//! N+1 and version N stays as it was, readable. A version a tenant's committed run used is
//! marked `locked`.

use crate::apply::write_status;
use crate::context::Context;
use crate::crd::{set_condition, PlanVersion, RawCompensationPlan, Tenant};
use crate::error::Result;
use engine::plan::{CompiledPlan, Plan, PlanError};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The key of the document in a version's ConfigMap.
pub const DOCUMENT_KEY: &str = "plan.json";

/// The plan read and compiled, or the engine's first objection with its field path.
pub fn validate(spec: &serde_json::Value) -> std::result::Result<Plan, PlanError> {
    let plan: Plan = serde_path_to_error::deserialize(spec.clone()).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        if path == "." {
            PlanError::document(message)
        } else {
            PlanError::at(path, message)
        }
    })?;
    CompiledPlan::compile(&plan)?;
    Ok(plan)
}

/// The canonical text of a plan (the engine's serialization: fixed field order, numbers as
/// written) and its content hash, the first 16 hex digits of its SHA-256.
pub fn canonical(plan: &Plan) -> (String, String) {
    let text = serde_json::to_string(plan).expect("a plan serializes");
    let hash = hex::encode(&Sha256::digest(text.as_bytes())[..8]);
    (text, hash)
}

/// What a new content does to the list of versions.
#[derive(Debug, PartialEq, Eq)]
pub enum NextVersion {
    /// The content is the current version's.
    Unchanged,
    /// A first version, or the one after a version in use.
    New(u32),
    /// No tenant is paid by the current version yet: it takes the new content.
    Replace(u32),
}

/// `in_use`: the contents (hashes) some tenant is paid by on the platform. A version a tenant is
/// paid by never changes (the platform keeps paying by it), locked by a committed run or not.
pub fn next_version(versions: &[PlanVersion], hash: &str, in_use: &[String]) -> NextVersion {
    match versions.last() {
        None => NextVersion::New(1),
        Some(current) if current.hash == hash => NextVersion::Unchanged,
        Some(current) if current.locked || in_use.contains(&current.hash) => {
            NextVersion::New(current.version + 1)
        }
        Some(current) => NextVersion::Replace(current.version),
    }
}

pub fn config_map_name(plan_name: &str, version: u32) -> String {
    format!("{plan_name}-v{version}")
}

pub async fn reconcile(plan: Arc<RawCompensationPlan>, context: Arc<Context>) -> Result<Action> {
    let namespace = plan.namespace().unwrap_or_else(|| "default".into());
    let generation = plan.metadata.generation;
    let mut status = plan.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    let document = match validate(&plan.spec.0) {
        Ok(document) => document,
        Err(error) => {
            let message = error.to_string();
            set_condition(
                &mut status.conditions,
                "Ready",
                false,
                "InvalidPlan",
                message.clone(),
                generation,
            );
            set_condition(
                &mut status.conditions,
                "Degraded",
                true,
                "InvalidPlan",
                message.clone(),
                generation,
            );
            set_condition(
                &mut status.conditions,
                "Progressing",
                false,
                "InvalidPlan",
                "fix the spec",
                generation,
            );
            write_status(&context.client, plan.as_ref(), &status).await?;
            context
                .event(plan.as_ref(), true, "InvalidPlan", message)
                .await;
            return Ok(Action::await_change());
        }
    };
    let (text, hash) = canonical(&document);
    let in_use = lock_used_versions(&context, &plan, &namespace, &mut status.versions).await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(context.client.clone(), &namespace);
    let plan_name = plan.name_any();
    let change = next_version(&status.versions, &hash, &in_use);
    match change {
        NextVersion::Unchanged => {}
        NextVersion::New(version) | NextVersion::Replace(version) => {
            let name = config_map_name(&plan_name, version);
            if matches!(change, NextVersion::Replace(_)) {
                // Immutable ConfigMaps are replaced, never edited.
                let _ = config_maps.delete(&name, &DeleteParams::default()).await;
                status.versions.pop();
            }
            create_version_document(&config_maps, &plan, &name, version, &hash, &text).await?;
            status.versions.push(PlanVersion {
                version,
                hash: hash.clone(),
                config_map: name.clone(),
                locked: false,
            });
            let note = match change {
                NextVersion::Replace(_) => format!(
                    "version {version} now has content {hash} (no committed run used it yet)"
                ),
                _ => format!("version {version} (content {hash}) in ConfigMap {name}"),
            };
            context.event(plan.as_ref(), false, "Versioned", note).await;
        }
    }
    let current = status.versions.last().expect("a valid plan has a version");
    status.current_version = Some(current.version);
    status.current_hash = Some(current.hash.clone());
    let message = format!(
        "version {} ({})",
        current.version,
        if current.locked {
            "locked: a committed run used it"
        } else {
            "open"
        }
    );
    set_condition(
        &mut status.conditions,
        "Ready",
        true,
        "Valid",
        message,
        generation,
    );
    set_condition(
        &mut status.conditions,
        "Degraded",
        false,
        "Valid",
        "the engine accepts the plan",
        generation,
    );
    set_condition(
        &mut status.conditions,
        "Progressing",
        false,
        "Valid",
        "nothing to do",
        generation,
    );
    write_status(&context.client, plan.as_ref(), &status).await?;
    // Runs are committed outside Kubernetes: look again now and then to lock used versions.
    Ok(Action::requeue(Duration::from_secs(120)))
}

async fn create_version_document(
    config_maps: &Api<ConfigMap>,
    plan: &RawCompensationPlan,
    name: &str,
    version: u32,
    hash: &str,
    text: &str,
) -> Result<()> {
    let document = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: plan.namespace(),
            labels: Some(BTreeMap::from([
                (
                    "app.kubernetes.io/managed-by".to_owned(),
                    "upline-operator".to_owned(),
                ),
                ("upline.io/plan".to_owned(), plan.name_any()),
                ("upline.io/plan-version".to_owned(), version.to_string()),
            ])),
            annotations: Some(BTreeMap::from([(
                "upline.io/plan-hash".to_owned(),
                hash.to_owned(),
            )])),
            owner_references: plan.controller_owner_ref(&()).map(|owner| vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(DOCUMENT_KEY.to_owned(), text.to_owned())])),
        immutable: Some(true),
        ..ConfigMap::default()
    };
    match config_maps.create(&PostParams::default(), &document).await {
        Ok(_) => Ok(()),
        // A pass that failed after creating it: the same name carries the same content.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Marks as locked every version a tenant paid by this plan used in a committed run; returns
/// the contents (hashes) tenants are paid by.
async fn lock_used_versions(
    context: &Context,
    plan: &RawCompensationPlan,
    namespace: &str,
    versions: &mut [PlanVersion],
) -> Result<Vec<String>> {
    let tenants: Api<Tenant> = Api::namespaced(context.client.clone(), namespace);
    let mut in_use = Vec::new();
    for tenant in tenants.list(&ListParams::default()).await? {
        if tenant.spec.plan != plan.name_any() {
            continue;
        }
        let Some(applied) = tenant
            .status
            .as_ref()
            .and_then(|status| status.applied_plan_hash.clone())
        else {
            continue;
        };
        let Some(version) = versions.iter_mut().find(|version| version.hash == applied) else {
            in_use.push(applied);
            continue;
        };
        if !version.locked && crate::tenant::committed_a_run(context, &tenant).await? {
            version.locked = true;
        }
        in_use.push(applied);
    }
    Ok(in_use)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(number: u32, hash: &str, locked: bool) -> PlanVersion {
        PlanVersion {
            version: number,
            hash: hash.into(),
            config_map: config_map_name("p", number),
            locked,
        }
    }

    #[test]
    fn an_open_version_takes_new_content_and_a_used_one_is_followed_by_the_next() {
        let nobody: &[String] = &[];
        let open = [version(1, "a", false)];
        let locked = [version(1, "a", true)];
        assert_eq!(next_version(&[], "a", nobody), NextVersion::New(1));
        assert_eq!(next_version(&open, "a", nobody), NextVersion::Unchanged);
        assert_eq!(next_version(&open, "b", nobody), NextVersion::Replace(1));
        assert_eq!(next_version(&locked, "b", nobody), NextVersion::New(2));
        assert_eq!(next_version(&locked, "a", nobody), NextVersion::Unchanged);
        // A version some tenant is paid by is kept even before a committed run.
        assert_eq!(
            next_version(&open, "b", &["a".to_owned()]),
            NextVersion::New(2)
        );
    }

    #[test]
    fn a_broken_plan_is_reported_with_its_field_path() {
        let spec = serde_json::json!({
            "name": "p", "currency": "USD",
            "ranks": [{"name": "Member"}],
            "bonuses": {"binary": {"pct": "x"}}
        });
        let error = validate(&spec).unwrap_err();
        assert_eq!(error.path, "bonuses.binary.pct", "{error}");
    }
}
