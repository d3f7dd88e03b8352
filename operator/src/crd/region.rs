//! `Region`: a region this cluster hosts, in its own namespace — a ScyllaDB datacenter, a NATS
//! cluster, the API and worker deployments and the public endpoint of the replicated sites.

use super::Condition;
use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "upline.io",
    version = "v1alpha1",
    kind = "Region",
    namespaced,
    status = "RegionStatus",
    shortname = "rg",
    category = "upline",
    doc = "A region this cluster hosts: API and worker deployments over a ScyllaDB datacenter and a NATS cluster, and the public endpoint of the distributors' sites.",
    printcolumn(name = "Datacenter", type_ = "string", json_path = ".spec.datacenter"),
    printcolumn(
        name = "Hostname",
        type_ = "string",
        json_path = ".spec.publicHostname"
    ),
    printcolumn(
        name = "API",
        type_ = "string",
        json_path = ".status.apiReplicas",
        description = "API replicas: minimum-maximum"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[kube(validation = Rule::new("self.metadata.name.matches('^[a-z][a-z0-9-]{0,29}$')").message("a Region's name is the region's name (us-east): 1 to 30 of a-z, 0-9 and '-', starting with a letter"))]
#[kube(validation = Rule::new("!has(self.spec.inboundFrom) || !self.spec.inboundFrom.exists(r, r == self.metadata.name)").message("spec.inboundFrom names other regions, not this one"))]
#[kube(validation = Rule::new("!has(self.spec.store.peerDatacenters) || !(self.metadata.name in self.spec.store.peerDatacenters)").message("spec.store.peerDatacenters names the other regions, not this one"))]
#[kube(validation = Rule::new("!has(self.spec.inboundFrom) || self.spec.inboundFrom.all(r, has(self.spec.store.peerDatacenters) && r in self.spec.store.peerDatacenters)").message("spec.inboundFrom: each region named needs its datacenter in spec.store.peerDatacenters"))]
#[serde(rename_all = "camelCase")]
pub struct RegionSpec {
    /// The ScyllaDB datacenter that holds this region's keyspace (NetworkTopologyStrategy).
    #[schemars(length(min = 1, max = 63))]
    pub datacenter: String,
    /// The region's NATS cluster (its JetStream domain is the region's name).
    pub nats: NatsSettings,
    /// The region's ScyllaDB contact points.
    pub store: StoreSettings,
    /// Regions whose events this region takes in (their residents' orders for tenants at home
    /// here, postings for residents here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 30)), extend("x-kubernetes-list-type" = "set"))]
    pub inbound_from: Vec<String>,
    /// The public host name of the distributors' replicated sites (behind the CDN).
    #[schemars(
        length(max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
    )]
    pub public_hostname: String,
    /// Caching of the replicated sites by the CDN in front of the Ingress.
    #[serde(default)]
    pub cdn: CdnSettings,
    /// The container image of `upline` that the API and worker pods run.
    #[schemars(length(min = 1))]
    pub image: String,
    /// `upline serve`: the region's API and replicated sites.
    pub api: Workload,
    /// `upline worker`: the outbox relay, the event consumers and the period closes.
    pub worker: Workload,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NatsSettings {
    /// NATS URLs of the region's cluster (`nats://nats-us-east:4222`).
    #[schemars(length(min = 1, max = 16), inner(length(min = 1, max = 253)))]
    #[x_kube(validation = Rule::new("self.all(u, u.startsWith('nats://') || u.startsWith('tls://'))").message("NATS URLs start with nats:// or tls://"))]
    pub urls: Vec<String>,
    /// A Secret in the Region's namespace with the NATS user (`username`) and password
    /// (`password`) the pods connect as, where the servers ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: Option<String>,
    /// TLS to the servers, where they speak it: whom the pods trust, and the certificate they
    /// show to servers that verify their clients (`verify: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSecret>,
}

/// TLS to a service, from a Secret of the certificates.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TlsSecret {
    /// A Secret in the Region's namespace, mounted into the pods: `ca.crt`, the certificate
    /// authority that signs the servers' certificates (the pods trust it alone), and with
    /// `clientCertificate` also `tls.crt` and `tls.key`, the pods' own — the layout
    /// cert-manager writes.
    #[schemars(length(min = 1, max = 253))]
    pub secret: String,
    /// Whether the pods show the Secret's `tls.crt` and `tls.key`, to servers that verify their
    /// clients.
    #[serde(default)]
    pub client_certificate: bool,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StoreSettings {
    /// ScyllaDB contact points, `host:port`.
    #[schemars(length(min = 1, max = 64), inner(length(min = 1, max = 253)))]
    pub scylla_nodes: Vec<String>,
    /// The datacenters of the deployment's other regions, region → datacenter
    /// (`us-east: dc-us-east`): the global keyspace (tenants, plans, keys) is replicated in each,
    /// and a distributor residing in one of them has their profile kept in its keyspace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32))]
    pub peer_datacenters: BTreeMap<String, String>,
    /// A Secret in the Region's namespace with the role (`username`) and password
    /// (`password`) the pods log in as, where the cluster authenticates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: Option<String>,
    /// TLS to the nodes, where they require it (`client_encryption_options`): whom the pods
    /// trust, and the certificate they show to nodes with `require_client_auth`. The driver
    /// names each node by its IP address, so the nodes' certificates must carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSecret>,
    /// Replicas of each keyspace per datacenter, when the schema is first created.
    #[serde(default = "default_replication_factor")]
    #[schemars(range(min = 1, max = 9))]
    pub replication_factor: u32,
}

fn default_replication_factor() -> u32 {
    3
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.enabled || self.cacheMaxAgeSeconds > 0").message("a CDN that caches needs cacheMaxAgeSeconds above 0"))]
pub struct CdnSettings {
    /// Whether a CDN caches the replicated sites (the Ingress then carries its cache headers).
    #[serde(default)]
    pub enabled: bool,
    /// `Cache-Control: max-age` of the replicated sites' pages.
    #[serde(default = "default_max_age")]
    #[schemars(range(min = 0, max = 86400))]
    pub cache_max_age_seconds: u32,
    /// `stale-while-revalidate`: how long the CDN may serve a page while it fetches a fresh one.
    #[serde(default)]
    #[schemars(range(min = 0, max = 86400))]
    pub stale_while_revalidate_seconds: u32,
}

fn default_max_age() -> u32 {
    300
}

impl Default for CdnSettings {
    fn default() -> Self {
        CdnSettings {
            enabled: false,
            cache_max_age_seconds: default_max_age(),
            stale_while_revalidate_seconds: 0,
        }
    }
}

/// Replicas, autoscaling and resources of one deployment.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minReplicas <= self.maxReplicas").message("minReplicas must not exceed maxReplicas"))]
pub struct Workload {
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: i32,
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,
    /// Average CPU use (percent of the request) the autoscaler keeps the pods at.
    #[serde(
        default = "default_cpu_target",
        rename = "targetCPUUtilizationPercentage"
    )]
    #[schemars(range(min = 10, max = 100))]
    pub target_cpu_utilization_percentage: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

fn default_cpu_target() -> i32 {
    70
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegionStatus {
    /// The generation of the spec the objects were last made to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Where the region's API answers inside the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
    /// `min-max` replicas of the API, for `kubectl get regions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_replicas: Option<String>,
}
