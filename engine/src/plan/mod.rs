//! The compensation plan document (COMP_PLAN_SPEC.md §2) and its validation.
//!
//! [`Plan`] is the document exactly as written (serde + schemars, so the same types become the
//! `CompensationPlan` CRD schema); [`read_plan`] parses JSON or YAML into it without ever going
//! through a binary float; [`CompiledPlan::compile`] validates it — every error names the field
//! path — and turns it into the fixed-point parameters the run uses.

mod compile;
mod decimal;
mod read;

pub use compile::{
    CompiledBinary, CompiledFastStart, CompiledLevels, CompiledMatching, CompiledPlan,
    CompiledPool, CompiledRank, LegRule, PlanError,
};
pub use decimal::Decimal;
pub use read::{read_plan, PlanFormat};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn default_currency_decimals() -> u32 {
    2
}

/// A compensation plan: ranks and the bonuses they earn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// A name for people; it does not change any amount.
    pub name: String,
    /// ISO 4217 code of the currency every amount is paid in.
    pub currency: String,
    /// Every amount is rounded to this many fractional digits (0..=8, default 2).
    #[serde(default = "default_currency_decimals")]
    #[schemars(range(max = 8))]
    pub currency_decimals: u32,
    /// What makes a distributor active in a period.
    #[serde(default)]
    pub activity: Activity,
    /// Ranks in ascending order; the first has no requirements.
    #[schemars(length(min = 1, max = 255))]
    pub ranks: Vec<RankSpec>,
    /// Every bonus is optional.
    #[serde(default)]
    pub bonuses: Bonuses,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// Personal volume in the period needed to be active (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_pv: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RankSpec {
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_pv: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_gv: Option<Decimal>,
    /// The most of `min_gv` one leg may contribute, as a share in [0, 1]; requires `min_gv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_leg_share: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legs: Option<LegRequirement>,
    /// How many unilevel (and matrix) levels this rank is paid; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unilevel_levels: Option<u32>,
    /// How many matching generations this rank is paid; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching_generations: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LegRequirement {
    /// How many distinct legs must hold someone of at least `min_rank`.
    pub count: u32,
    #[schemars(length(min = 1, max = 64))]
    pub min_rank: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bonuses {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unilevel: Option<LevelBonus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinaryBonus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixBonus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching: Option<MatchingBonus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast_start: Option<FastStartBonus>,
    /// One-time amount per rank reached for the first time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 255))]
    pub rank_advancement: Option<BTreeMap<String, Decimal>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolBonus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelBonus {
    /// Rate per level, level 1 first.
    pub levels: Vec<Decimal>,
    /// Skip inactive ancestors without using a level.
    #[serde(default)]
    pub compression: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixBonus {
    /// Slots per position in the placement tree.
    pub width: u32,
    pub levels: Vec<Decimal>,
    #[serde(default)]
    pub compression: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BinaryBonus {
    pub pct: Decimal,
    /// Paired volume is floored to a multiple of this (0: no flooring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Decimal>,
    /// The most one distributor earns from binary in a period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<Decimal>,
    /// The most volume carried to the next period on each side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carry_cap: Option<Decimal>,
    /// An inactive distributor loses both carries.
    #[serde(default)]
    pub flush_inactive: bool,
    #[serde(default)]
    pub qualify: Qualify,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Qualify {
    /// Active personally sponsored distributors needed in the left placement subtree.
    #[serde(default)]
    pub left: u32,
    #[serde(default)]
    pub right: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchingBonus {
    /// Rate per generation of the sponsor tree, generation 1 first.
    pub generations: Vec<Decimal>,
    /// The bonuses whose earnings are matched.
    pub of: Vec<MatchedBonus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBonus {
    Unilevel,
    Binary,
    Matrix,
    FastStart,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FastStartBonus {
    pub pct: Decimal,
    /// Days after joining (inclusive) whose orders count.
    pub window_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolBonus {
    /// Share of the period's total CV put in the pool.
    pub pct: Decimal,
    /// Shares per rank; a distributor holds the shares of the highest listed rank at or below theirs.
    #[schemars(extend("maxProperties" = 255))]
    pub shares: BTreeMap<String, Decimal>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_schema_describes_every_bonus_with_numbers_as_numbers() {
        let schema = serde_json::to_value(schemars::schema_for!(Plan)).expect("schema serializes");
        let text = schema.to_string();
        for field in [
            "unilevel",
            "binary",
            "matrix",
            "matching",
            "fast_start",
            "rank_advancement",
            "pool",
            "max_leg_share",
        ] {
            assert!(
                text.contains(&format!("\"{field}\"")),
                "schema lacks {field}"
            );
        }
        let pct = &schema["$defs"]["BinaryBonus"]["properties"]["pct"];
        assert_eq!(pct["type"], "number", "{pct}");
        assert_eq!(
            schema["required"],
            serde_json::json!(["name", "currency", "ranks"])
        );
    }
}
