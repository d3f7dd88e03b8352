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
//!    files, validated, every error naming its file and line (the CLI reads orders and state
//!    beside the distributors' trees with [`input::read_distributors_beside`]);
//! 3. [`run::run`] — ranks, carries and every commission line;
//! 4. [`output::write_lines`], [`output::write_summary`], [`output::write_state`].
//!
//! Numbers are fixed-point integers ([`number`]); dates are day numbers ([`calendar`]).
//!
//! ## Where COMP_PLAN_SPEC.md is silent
//!
//! The choices a careful payroll engineer would make, kept deterministic:
//! - **Error order inside a file.** Each file is checked in three passes — every row on its
//!   own (columns, syntax, values), then references between rows and files (unknown ids,
//!   duplicates, a second root, a taken leg or slot), then the tree as a whole (no root,
//!   cycles) — and the earliest line of the first pass that finds anything is reported. A
//!   duplicate is reported at its second occurrence; a cycle at the member with the lowest
//!   line, naming up to five members in sponsor order. "No root" has no line.
//! - **Limits that keep every product exact in 128-bit integers**, refused with a message
//!   naming the field: `currency_decimals` ≤ 8; plan volumes (`min_pv`, `min_gv`, `unit`,
//!   `carry_cap`) with at most 4 fractional digits, like PV; rates with at most 18; CSV
//!   volumes below 10^14; a run whose possible payout could leave 62 bits is refused before
//!   it starts ([`run::RunError::VolumesTooLarge`]).
//! - **Plans.** `matching.of` must name at least one bonus; `legs.count` is at least 1; the
//!   first rank may carry `unilevel_levels`/`matching_generations` but no requirement; unknown
//!   fields are errors (a misspelt key is never silently ignored).
//! - **Ranks without `max_leg_share`** count every leg fully, so the volume test is `GV >= min_gv`.
//! - **Binary `unit`** floors the paired volume before the cap; the cap applies to the amount
//!   only, so the whole floored `P` is consumed. Carries are cut to `carry_cap` after pairing.
//!   Pre-order position decides "lies in the left placement subtree", left legs first.
//! - **The pool with no shareholders** pays nothing and writes no line.
//! - **Matching and rank-advancement bases** are amounts; they are written, like every base,
//!   with four fractional digits (rounded half-even when the currency has more).
//! - **Ids** are compared as bytes everywhere: `lines.csv` and `summary.csv` order, and the
//!   order of a distributor's recruits. An id is a string, so it must be UTF-8 text; besides
//!   the spec's comma, quote (`"` or `'`) and whitespace (Unicode's: a no-break space or a
//!   vertical tab as well), a control character is refused too (a NUL or an escape in an id
//!   is a damaged file; the API refuses the same ids).
//! - **Encodings.** A CSV file that starts with a byte-order mark is refused with how to fix
//!   it (the header must be exactly the spec's); a plan may start with one (YAML 1.2 allows
//!   it, and RFC 8259 lets a JSON reader ignore it).

pub mod calendar;
pub mod id_code;
pub mod id_index;
pub mod id_rank;
pub mod input;
pub mod number;
pub mod output;
pub mod placement;
pub mod plan;
pub mod radix;
pub mod run;
pub mod short_copy;
pub mod splitmix;
pub mod sponsor_index;
pub mod tree;
