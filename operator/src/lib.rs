//! The kube-rs operator for the Region, Tenant and CompensationPlan CRDs: the CRD types
//! ([`crd`]), their YAML ([`crdgen`]) and the controllers that make the cluster match them
//! ([`region`], [`tenant`], [`plan`]), run by [`run`] under a leader Lease ([`leader`]).
//! It validates plans with `engine::plan`, talks to the platform's admin API ([`platform`]) and
//! never touches the store.

pub mod apply;
pub mod context;
pub mod crd;
pub mod crdgen;
pub mod error;
pub mod leader;
pub mod metrics;
pub mod plan;
pub mod platform;
pub mod region;
pub mod run;
pub mod tenant;
