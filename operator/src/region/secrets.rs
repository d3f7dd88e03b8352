//! The Secrets a Region names for its pods — the ScyllaDB and NATS logins and TLS files —
//! checked before the pods need them. A missing Secret or key otherwise shows only on the pods
//! (`CreateContainerConfigError`, or stuck in `ContainerCreating`), and the Region would just
//! wait for its Deployments; its Ready condition names what is missing instead.

use super::objects::{PASSWORD_KEY, USERNAME_KEY};
use super::tls::{ServiceTls, NATS, SCYLLA};
use crate::crd::Region;
use crate::error::Result;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

/// A Secret the pods read, the field that names it, and the keys they read from it.
struct NamedSecret<'a> {
    field: &'static str,
    name: &'a str,
    keys: Vec<&'static str>,
}

fn login<'a>(field: &'static str, name: &'a Option<String>) -> Option<NamedSecret<'a>> {
    name.as_deref().map(|name| NamedSecret {
        field,
        name,
        keys: vec![USERNAME_KEY, PASSWORD_KEY],
    })
}

fn tls<'a>(service: &ServiceTls, region: &'a Region) -> Option<NamedSecret<'a>> {
    service.secret_keys(region).map(|(name, keys)| NamedSecret {
        field: service.field,
        name,
        keys,
    })
}

fn named_secrets(region: &Region) -> Vec<NamedSecret<'_>> {
    let spec = &region.spec;
    [
        login(
            "spec.store.credentialsSecret",
            &spec.store.credentials_secret,
        ),
        tls(&SCYLLA, region),
        login("spec.nats.credentialsSecret", &spec.nats.credentials_secret),
        tls(&NATS, region),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What is missing among the Secrets the Region names, one sentence each; empty when the pods
/// will find everything they read.
pub async fn missing(region: &Region, secrets: &Api<Secret>) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    for named in named_secrets(region) {
        let Some(secret) = secrets.get_opt(named.name).await? else {
            missing.push(format!(
                "Secret {} ({}) does not exist",
                named.name, named.field
            ));
            continue;
        };
        // `stringData` is write-only: what was written there is read back in `data`.
        let holds = |key: &str| {
            secret
                .data
                .as_ref()
                .is_some_and(|data| data.contains_key(key))
        };
        let absent: Vec<&str> = named
            .keys
            .iter()
            .copied()
            .filter(|key| !holds(key))
            .collect();
        if !absent.is_empty() {
            missing.push(format!(
                "Secret {} ({}) has no {}",
                named.name,
                named.field,
                absent.join(", ")
            ));
        }
    }
    Ok(missing)
}
