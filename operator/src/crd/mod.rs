//! The custom resources of group `upline.io`, version `v1alpha1`, as Rust types: the CRD YAML
//! under `crds/` is generated from them (`upline crdgen`), and the operator reads and writes
//! the objects through them.

// `printcolumn(...)` repeats `type_ = "string"` on purpose: one per column of the CRD.
#![allow(clippy::duplicated_attributes)]

mod condition;
mod plan;
mod region;
mod tenant;

pub use condition::{condition_is, set_condition, Condition};
pub use plan::{
    CompensationPlan, CompensationPlanSpec, CompensationPlanStatus, PlanVersion,
    RawCompensationPlan,
};
pub use region::{
    CdnSettings, NatsSettings, Region, RegionSpec, RegionStatus, StoreSettings, TlsSecret, Workload,
};
pub use tenant::{CloseEvery, CloseSchedule, DeletionPolicy, Tenant, TenantSpec, TenantStatus};

/// The API group of every Upline resource.
pub const GROUP: &str = "upline.io";
