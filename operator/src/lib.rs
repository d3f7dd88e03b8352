//! The kube-rs operator for the Region, Tenant and CompensationPlan CRDs: the CRD types
//! ([`crd`]), their YAML ([`crdgen`]) and the controllers that make the cluster match them.
//! It validates plans with `engine::plan` and never touches the store.

pub mod crd;
pub mod crdgen;
