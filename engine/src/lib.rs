//! # Upline's engine
//!
//! The pure domain of Upline: compensation plans, distributor genealogies and commission
//! runs, exact to the smallest currency unit. No async, no IO, no clock, no recursion over
//! trees (a chain of ten million distributors is legal input); work is spread over all cores
//! with rayon and gives the same bytes on any number of them.
//!
//! A run, as `upline commissions` performs it (COMP_PLAN_SPEC.md):
//! 1. [`plan::read_plan`] and [`plan::CompiledPlan::compile`] — the plan, validated, every
//!    error naming its field path;
//! 2. [`input::read_distributors`], [`input::read_orders`], [`input::read_state`] — the
//!    files, validated, every error naming its file and line;
//! 3. [`run::run`] — ranks, carries and every commission line;
//! 4. [`output::write_lines`], [`output::write_summary`], [`output::write_state`].
//!
//! Numbers are fixed-point integers ([`number`]); dates are day numbers ([`calendar`]).

pub mod calendar;
pub mod id_index;
pub mod input;
pub mod number;
pub mod output;
pub mod placement;
pub mod plan;
pub mod run;
pub mod tree;
