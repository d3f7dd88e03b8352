//! The kube-rs operator for the Region, Tenant and CompensationPlan CRDs.
//! Built under the operator issue; it validates plans with `engine::plan`.
