//! `Tenant`: a company on the platform — its home region, where its distributors may reside,
//! the plan it pays by, and what happens to its data when the object is deleted.

use super::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "upline.io",
    version = "v1alpha1",
    kind = "Tenant",
    namespaced,
    status = "TenantStatus",
    shortname = "tn",
    category = "upline",
    doc = "A company on the platform: provisioned in its home region with an API key kept in a Secret.",
    printcolumn(name = "Home", type_ = "string", json_path = ".spec.homeRegion"),
    printcolumn(name = "Plan", type_ = "string", json_path = ".spec.plan"),
    printcolumn(
        name = "Plan-Version",
        type_ = "integer",
        json_path = ".status.planVersion"
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
        name = "Endpoint",
        type_ = "string",
        json_path = ".status.endpoint",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[kube(validation = Rule::new("self.metadata.name.matches('^[a-z0-9][a-z0-9-]{0,39}$')").message("a Tenant's name is its tenant id: 1 to 40 of a-z, 0-9 and '-', not starting with '-'"))]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.residenceRegions.exists(r, r == self.homeRegion)").message("residenceRegions lists the regions besides homeRegion"))]
pub struct TenantSpec {
    /// The company's name as its distributors see it.
    #[schemars(length(min = 1, max = 200))]
    pub display_name: String,
    /// The Region (by name) that keeps the tenant's genealogy and runs its commissions. It
    /// cannot change: the genealogy lives there.
    #[schemars(length(min = 1, max = 30))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("homeRegion cannot change: the tenant's genealogy and runs live there"))]
    pub home_region: String,
    /// Other Regions where the tenant's distributors may reside (their personal data, orders
    /// and wallets stay there).
    #[serde(default)]
    #[schemars(length(max = 32), inner(length(min = 1, max = 30)), extend("x-kubernetes-list-type" = "set"))]
    pub residence_regions: Vec<String>,
    /// The CompensationPlan (by name, in this namespace) the tenant pays by.
    #[schemars(length(min = 1))]
    pub plan: String,
    /// When the workers close the tenant's periods on their own; absent: only on request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes: Option<CloseSchedule>,
    /// What deleting this object does to the tenant on the platform: `Retain` (the default)
    /// keeps it served, with its data and its API key; `Delete` closes it in every region it is
    /// provisioned in: not served any more, its API keys revoked, its distributors' personal
    /// data erased (the payment records stay: commissions paid are records to keep).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    #[default]
    Retain,
    Delete,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CloseSchedule {
    pub every: CloseEvery,
    /// Hours after the period's end before it is closed (late orders and refunds count).
    #[serde(default)]
    #[schemars(range(max = 2160))]
    pub after_hours: u32,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CloseEvery {
    Month,
    Week,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// The tenant's API base URL in its home region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The Secret holding the tenant's API key (`key_id`, `api_key`, `endpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<String>,
    /// The plan version the platform pays the tenant by (the platform's count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_version: Option<u32>,
    /// The CompensationPlan version the platform was given, and its content hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_plan_version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_plan_hash: Option<String>,
    /// The regions where the tenant record exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisioned_regions: Vec<String>,
}
