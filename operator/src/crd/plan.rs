//! `CompensationPlan`: its `spec` is exactly the plan document of COMP_PLAN_SPEC.md §2 — the
//! engine's own types, so the schema the API server checks and the engine's reading agree.

use super::Condition;
use engine::plan::Plan;
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "upline.io",
    version = "v1alpha1",
    kind = "CompensationPlan",
    namespaced,
    status = "CompensationPlanStatus",
    shortname = "cplan",
    category = "upline",
    doc = "A compensation plan (COMP_PLAN_SPEC.md §2), validated by the engine and versioned by content: a version a committed run used never changes.",
    printcolumn(name = "Currency", type_ = "string", json_path = ".spec.currency"),
    printcolumn(
        name = "Version",
        type_ = "integer",
        json_path = ".status.currentVersion"
    ),
    printcolumn(
        name = "Hash",
        type_ = "string",
        json_path = ".status.currentHash",
        priority = 1
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(transparent)]
pub struct CompensationPlanSpec(pub Plan);

/// Rules between fields of a plan that the API server checks itself (CEL), so `kubectl apply`
/// refuses such a plan at once; the engine checks everything else and the operator reports it
/// as the plan's condition. Each rule names the field path in its message.
const CROSS_FIELD_RULES: [(&str, &str); 4] = [
    (
        "self.ranks.all(r, self.ranks.exists_one(s, s.name == r.name))",
        "spec.ranks: every rank has a name of its own",
    ),
    (
        "self.ranks.all(r, !has(r.legs) || self.ranks.exists(s, s.name == r.legs.min_rank))",
        "spec.ranks[].legs.min_rank names a rank of the plan",
    ),
    (
        "!has(self.bonuses) || !has(self.bonuses.pool) || self.bonuses.pool.shares.all(k, self.ranks.exists(s, s.name == k))",
        "spec.bonuses.pool.shares: every key names a rank of the plan",
    ),
    (
        "!has(self.bonuses) || !has(self.bonuses.rank_advancement) || self.bonuses.rank_advancement.all(k, self.ranks.exists(s, s.name == k))",
        "spec.bonuses.rank_advancement: every key names a rank of the plan",
    ),
];

impl JsonSchema for CompensationPlanSpec {
    fn schema_name() -> Cow<'static, str> {
        "CompensationPlanSpec".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = generator.subschema_for::<Plan>();
        let rules: Vec<serde_json::Value> = CROSS_FIELD_RULES
            .iter()
            .map(|(rule, message)| serde_json::json!({ "rule": rule, "message": message }))
            .collect();
        schema.insert("x-kubernetes-validations".into(), rules.into());
        schema
    }
}

/// The same resource read leniently: the spec as plain JSON, so one plan the engine cannot
/// read becomes that plan's `Degraded` condition instead of an error of the whole watch.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "upline.io",
    version = "v1alpha1",
    kind = "CompensationPlan",
    root = "RawCompensationPlan",
    namespaced,
    status = "CompensationPlanStatus",
    schema = "disabled"
)]
#[serde(transparent)]
pub struct RawPlanSpec(pub serde_json::Value);

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompensationPlanStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// The version tenants are paid by now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u32>,
    /// SHA-256 of the current version's canonical JSON (first 16 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_hash: Option<String>,
    /// Every version, oldest first; each one's document stays readable in its ConfigMap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<PlanVersion>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlanVersion {
    pub version: u32,
    pub hash: String,
    /// The ConfigMap holding this version's document (`plan.json`).
    pub config_map: String,
    /// Set once a committed run used this version: its content never changes again.
    #[serde(default)]
    pub locked: bool,
}
