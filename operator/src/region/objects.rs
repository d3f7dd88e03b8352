//! What a Region asks for, as Kubernetes objects: built from the spec alone (no IO), so the
//! reconciler only applies them and a unit test can read them.

use super::tls;
use crate::crd::{Region, Workload};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar, EnvVarSource,
    HTTPGetAction, PodSpec, PodTemplateSpec, Probe, SecretKeySelector, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The port `upline serve` listens on inside its pods.
pub const API_PORT: i32 = 8080;
/// The key of the admin token in the region's Secret.
pub const ADMIN_TOKEN_KEY: &str = "admin-token";

/// The two deployments of a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Api,
    Worker,
}

impl Component {
    pub fn name(self) -> &'static str {
        match self {
            Component::Api => "api",
            Component::Worker => "worker",
        }
    }
}

/// Every object a Region owns, named after it.
pub struct RegionObjects {
    pub config: ConfigMap,
    pub deployments: Vec<Deployment>,
    pub services: Vec<Service>,
    pub autoscalers: Vec<HorizontalPodAutoscaler>,
    pub disruption_budgets: Vec<PodDisruptionBudget>,
    pub ingress: Ingress,
    /// A `monitoring.coreos.com/v1` ServiceMonitor, applied only where that CRD exists.
    pub service_monitor: serde_json::Value,
}

pub fn object_name(region: &Region, suffix: &str) -> String {
    format!("{}-{suffix}", region_name(region))
}

pub fn admin_secret_name(region: &Region) -> String {
    object_name(region, "admin-token")
}

/// Where the region's API answers inside the cluster.
pub fn api_endpoint(region: &Region) -> String {
    format!(
        "http://{}.{}.svc:80",
        object_name(region, "api"),
        region.metadata.namespace.as_deref().unwrap_or("default")
    )
}

fn region_name(region: &Region) -> &str {
    region.metadata.name.as_deref().unwrap_or_default()
}

/// The labels of every object of the region; with `component`, of that deployment's pods.
pub fn labels(region: &Region, component: Option<Component>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "upline".to_owned()),
        (
            "app.kubernetes.io/instance".to_owned(),
            region_name(region).to_owned(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "upline-operator".to_owned(),
        ),
        (
            "upline.io/region".to_owned(),
            region_name(region).to_owned(),
        ),
    ]);
    if let Some(component) = component {
        labels.insert(
            "app.kubernetes.io/component".to_owned(),
            component.name().to_owned(),
        );
    }
    labels
}

fn selector_labels(region: &Region, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "upline.io/region".to_owned(),
            region_name(region).to_owned(),
        ),
        (
            "app.kubernetes.io/component".to_owned(),
            component.name().to_owned(),
        ),
    ])
}

/// Name, namespace, labels and the Region as controlling owner.
pub fn owned_meta(region: &Region, name: String, component: Option<Component>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: region.metadata.namespace.clone(),
        labels: Some(labels(region, component)),
        owner_references: region.controller_owner_ref(&()).map(|owner| vec![owner]),
        ..ObjectMeta::default()
    }
}

pub fn build(region: &Region) -> RegionObjects {
    let config = config_map(region);
    let config_hash = hash_of(&config.data);
    RegionObjects {
        deployments: [Component::Api, Component::Worker]
            .into_iter()
            .map(|component| deployment(region, component, &config_hash))
            .collect(),
        services: vec![api_service(region)],
        autoscalers: [Component::Api, Component::Worker]
            .into_iter()
            .map(|component| autoscaler(region, component))
            .collect(),
        disruption_budgets: [Component::Api, Component::Worker]
            .into_iter()
            .map(|component| disruption_budget(region, component))
            .collect(),
        ingress: ingress(region),
        service_monitor: service_monitor(region),
        config,
    }
}

/// The region's configuration, as the `UPLINE_*` environment `upline serve` and `upline
/// worker` read (their `--help` explains each).
fn config_map(region: &Region) -> ConfigMap {
    let spec = &region.spec;
    let mut data = BTreeMap::from([
        ("UPLINE_REGION".to_owned(), region_name(region).to_owned()),
        ("UPLINE_STORE".to_owned(), "scylla".to_owned()),
        (
            "UPLINE_SCYLLA_NODES".to_owned(),
            spec.store.scylla_nodes.join(","),
        ),
        (
            "UPLINE_DATACENTERS".to_owned(),
            std::iter::once((region_name(region), spec.datacenter.as_str()))
                .chain(
                    spec.store
                        .peer_datacenters
                        .iter()
                        .map(|(peer, datacenter)| (peer.as_str(), datacenter.as_str())),
                )
                .map(|(region, datacenter)| format!("{region}={datacenter}"))
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "UPLINE_REPLICATION_FACTOR".to_owned(),
            spec.store.replication_factor.to_string(),
        ),
        ("UPLINE_NATS".to_owned(), spec.nats.urls.join(",")),
        ("UPLINE_LISTEN".to_owned(), format!("0.0.0.0:{API_PORT}")),
    ]);
    if !spec.inbound_from.is_empty() {
        data.insert(
            "UPLINE_INBOUND_FROM".to_owned(),
            spec.inbound_from.join(","),
        );
    }
    ConfigMap {
        metadata: owned_meta(region, object_name(region, "config"), None),
        data: Some(data),
        ..ConfigMap::default()
    }
}

/// A short digest of the configuration, put on the pod template so that a changed ConfigMap
/// rolls the pods (environment from a ConfigMap is read only at a container's start).
fn hash_of(data: &Option<BTreeMap<String, String>>) -> String {
    let text = serde_json::to_string(data).expect("a map of strings serializes");
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn workload(region: &Region, component: Component) -> &Workload {
    match component {
        Component::Api => &region.spec.api,
        Component::Worker => &region.spec.worker,
    }
}

fn deployment(region: &Region, component: Component, config_hash: &str) -> Deployment {
    let args: Vec<String> = match component {
        // The workers close periods and restate refunds; the API leaves both to them.
        Component::Api => vec!["serve".into(), "--no-closes".into()],
        Component::Worker => vec!["worker".into(), "--closes".into()],
    };
    let (ports, probes) = match component {
        Component::Api => (
            Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: API_PORT,
                ..ContainerPort::default()
            }]),
            Some((http_probe("/healthz"), http_probe("/readyz"))),
        ),
        Component::Worker => (None, None),
    };
    let container = Container {
        name: "upline".into(),
        image: Some(region.spec.image.clone()),
        args: Some(args),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: object_name(region, "config"),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        }]),
        env: Some(
            std::iter::once(from_secret(
                "UPLINE_ADMIN_TOKEN",
                &admin_secret_name(region),
                ADMIN_TOKEN_KEY,
            ))
            .chain(credentials(region))
            .chain(tls::SCYLLA.files(region))
            .chain(tls::NATS.files(region))
            .collect(),
        ),
        volume_mounts: non_empty(
            [tls::SCYLLA.mount(region), tls::NATS.mount(region)]
                .into_iter()
                .flatten()
                .collect(),
        ),
        ports,
        liveness_probe: probes.as_ref().map(|(live, _)| live.clone()),
        readiness_probe: probes.map(|(_, ready)| ready),
        resources: workload(region, component).resources.clone(),
        ..Container::default()
    };
    // The schema first: `upline migrate` creates the keyspaces and applies what migrations
    // they miss (once, however many pods start at once), so a new region or a new image's
    // schema is in place before anything serves.
    let migrate = Container {
        name: "migrate".into(),
        image: Some(region.spec.image.clone()),
        args: Some(vec!["migrate".into()]),
        env_from: container.env_from.clone(),
        env: non_empty(
            credentials(region)
                .chain(tls::SCYLLA.files(region))
                .collect(),
        ),
        volume_mounts: non_empty(tls::SCYLLA.mount(region).into_iter().collect()),
        ..Container::default()
    };
    let mut template_meta = ObjectMeta {
        labels: Some(labels(region, Some(component))),
        annotations: Some(BTreeMap::from([(
            "upline.io/config-hash".to_owned(),
            config_hash.to_owned(),
        )])),
        ..ObjectMeta::default()
    };
    if component == Component::Api {
        template_meta
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .extend([
                ("prometheus.io/scrape".to_owned(), "true".to_owned()),
                ("prometheus.io/port".to_owned(), API_PORT.to_string()),
            ]);
    }
    Deployment {
        metadata: owned_meta(
            region,
            object_name(region, component.name()),
            Some(component),
        ),
        spec: Some(DeploymentSpec {
            // No `replicas`: the autoscaler owns it (a value here would fight it on every apply).
            selector: LabelSelector {
                match_labels: Some(selector_labels(region, component)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(template_meta),
                spec: Some(PodSpec {
                    init_containers: Some(vec![migrate]),
                    containers: vec![container],
                    volumes: non_empty(
                        [tls::SCYLLA.volume(region), tls::NATS.volume(region)]
                            .into_iter()
                            .flatten()
                            .collect(),
                    ),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// An environment variable read from a key of a Secret (which must exist: a pod without its
/// credentials would only fail later, less clearly).
fn from_secret(variable: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: variable.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// The keys of a login Secret.
pub const USERNAME_KEY: &str = "username";
pub const PASSWORD_KEY: &str = "password";

/// The ScyllaDB role and the NATS user the pods log in as, from the Secrets the Region names.
fn credentials(region: &Region) -> impl Iterator<Item = EnvVar> + '_ {
    let store = region
        .spec
        .store
        .credentials_secret
        .iter()
        .flat_map(|secret| {
            [
                from_secret("UPLINE_SCYLLA_USERNAME", secret, USERNAME_KEY),
                from_secret("UPLINE_SCYLLA_PASSWORD", secret, PASSWORD_KEY),
            ]
        });
    let nats = region
        .spec
        .nats
        .credentials_secret
        .iter()
        .flat_map(|secret| {
            [
                from_secret("UPLINE_NATS_USER", secret, USERNAME_KEY),
                from_secret("UPLINE_NATS_PASSWORD", secret, PASSWORD_KEY),
            ]
        });
    store.chain(nats)
}

/// A list, or nothing when it is empty (the field then stays out of the object).
fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    Some(items).filter(|items| !items.is_empty())
}

fn http_probe(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(10),
        ..Probe::default()
    }
}

fn api_service(region: &Region) -> Service {
    Service {
        metadata: owned_meta(region, object_name(region, "api"), Some(Component::Api)),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(region, Component::Api)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                target_port: Some(IntOrString::String("http".into())),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn autoscaler(region: &Region, component: Component) -> HorizontalPodAutoscaler {
    let workload = workload(region, component);
    HorizontalPodAutoscaler {
        metadata: owned_meta(
            region,
            object_name(region, component.name()),
            Some(component),
        ),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: object_name(region, component.name()),
            },
            min_replicas: Some(workload.min_replicas),
            max_replicas: workload.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(workload.target_cpu_utilization_percentage),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            ..HorizontalPodAutoscalerSpec::default()
        },
        ..HorizontalPodAutoscaler::default()
    }
}

fn disruption_budget(region: &Region, component: Component) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: owned_meta(
            region,
            object_name(region, component.name()),
            Some(component),
        ),
        spec: Some(PodDisruptionBudgetSpec {
            // One pod at a time: a drain never takes the region's API or workers down whole.
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(region, component)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

/// The replicated sites' Ingress. With a CDN in front, its annotations ask the ingress
/// controller to keep responses cacheable: the cache lifetimes as `Cache-Control`, and no
/// cookies on pages meant for every visitor.
fn ingress(region: &Region) -> Ingress {
    let cdn = &region.spec.cdn;
    let mut annotations = BTreeMap::from([(
        "upline.io/cdn".to_owned(),
        if cdn.enabled { "enabled" } else { "disabled" }.to_owned(),
    )]);
    if cdn.enabled {
        let cache_control = format!(
            "public, max-age={}, stale-while-revalidate={}",
            cdn.cache_max_age_seconds, cdn.stale_while_revalidate_seconds
        );
        annotations.extend([
            ("upline.io/cache-control".to_owned(), cache_control.clone()),
            (
                "nginx.ingress.kubernetes.io/configuration-snippet".to_owned(),
                format!("more_set_headers \"Cache-Control: {cache_control}\";\n"),
            ),
            (
                "nginx.ingress.kubernetes.io/proxy-buffering".to_owned(),
                "on".to_owned(),
            ),
        ]);
    }
    let mut metadata = owned_meta(region, object_name(region, "sites"), Some(Component::Api));
    metadata.annotations = Some(annotations);
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            rules: Some(vec![IngressRule {
                host: Some(region.spec.public_hostname.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: object_name(region, "api"),
                                port: Some(ServiceBackendPort {
                                    name: Some("http".into()),
                                    ..ServiceBackendPort::default()
                                }),
                            }),
                            ..IngressBackend::default()
                        },
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    }
}

fn service_monitor(region: &Region) -> serde_json::Value {
    let meta = owned_meta(region, object_name(region, "api"), Some(Component::Api));
    serde_json::json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta,
        "spec": {
            "selector": { "matchLabels": selector_labels(region, Component::Api) },
            "endpoints": [{ "port": "http", "path": "/metrics", "interval": "30s" }],
        },
    })
}
