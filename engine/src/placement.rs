//! Placement rules of COMP_PLAN_SPEC.md §6 — being written.
