//! Validation of a plan document, and its translation into run parameters.
//!
//! Checks run in document order (currency, activity, ranks, then each bonus) and the first
//! broken rule is reported with its field path. Beyond COMP_PLAN_SPEC.md §2 the engine
//! asks, so that every later product is exact in 128-bit integers:
//! - `currency_decimals` is at most 8;
//! - volumes of a plan (`min_pv`, `min_gv`, `unit`, `carry_cap`) have at most 4 fractional
//!   digits, like the PV they are compared with;
//! - rates have at most 18 fractional digits;
//! - amounts (`cap`, `rank_advancement`) have at most `currency_decimals` fractional digits.

use super::{Decimal, MatchedBonus, Plan};
use crate::number::{Fixed, Rate, RATE_SCALE_MAX, VOLUME_CELL_MAX, VOLUME_SCALE};
use std::fmt;

/// A plan that cannot be used, with the path of the offending field (`bonuses.binary.pct`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// Dotted field path; empty when the document as a whole is wrong.
    pub path: String,
    pub message: String,
}

impl PlanError {
    pub fn at(path: impl Into<String>, message: String) -> PlanError {
        PlanError {
            path: path.into(),
            message,
        }
    }

    pub fn document(message: String) -> PlanError {
        PlanError {
            path: String::new(),
            message,
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            formatter.write_str(&self.message)
        } else {
            write!(formatter, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for PlanError {}

/// A validated plan in the engine's fixed-point units: volumes in 1/10,000, amounts in
/// `10^-decimals`, ranks by index.
#[derive(Debug, Clone)]
pub struct CompiledPlan {
    pub name: String,
    pub currency: String,
    pub decimals: u32,
    pub min_active_pv: i64,
    pub ranks: Vec<CompiledRank>,
    pub unilevel: Option<CompiledLevels>,
    pub matrix: Option<CompiledLevels>,
    pub matrix_width: u32,
    pub binary: Option<CompiledBinary>,
    pub matching: Option<CompiledMatching>,
    pub fast_start: Option<CompiledFastStart>,
    /// Amount per rank index (`None`: no bonus for reaching that rank).
    pub rank_advancement: Vec<Option<i64>>,
    pub pool: Option<CompiledPool>,
}

#[derive(Debug, Clone)]
pub struct CompiledRank {
    pub name: String,
    pub min_pv: i64,
    pub min_gv: i64,
    pub max_leg_share: Option<Rate>,
    pub legs: Option<LegRule>,
    /// Levels of unilevel and matrix paid to this rank (`u32::MAX`: all).
    pub unilevel_levels: u32,
    /// Matching generations paid to this rank (`u32::MAX`: all).
    pub matching_generations: u32,
}

impl CompiledRank {
    pub fn has_requirements(&self) -> bool {
        self.min_pv > 0 || self.min_gv > 0 || self.legs.is_some()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LegRule {
    pub count: u32,
    pub min_rank: u8,
}

#[derive(Debug, Clone)]
pub struct CompiledLevels {
    pub rates: Vec<Rate>,
    pub compression: bool,
}

#[derive(Debug, Clone)]
pub struct CompiledBinary {
    pub pct: Rate,
    /// In volume units; 0 means no flooring.
    pub unit: i64,
    /// In amount units.
    pub cap: Option<i64>,
    /// In volume units.
    pub carry_cap: Option<i64>,
    pub flush_inactive: bool,
    pub qualify_left: u32,
    pub qualify_right: u32,
}

#[derive(Debug, Clone)]
pub struct CompiledMatching {
    pub rates: Vec<Rate>,
    pub of_unilevel: bool,
    pub of_binary: bool,
    pub of_matrix: bool,
    pub of_fast_start: bool,
}

#[derive(Debug, Clone)]
pub struct CompiledFastStart {
    pub pct: Rate,
    pub window_days: u32,
}

#[derive(Debug, Clone)]
pub struct CompiledPool {
    pub pct: Rate,
    /// Shares held at each rank index: those of the highest listed rank at or below it.
    pub shares_by_rank: Vec<Fixed>,
}

const CURRENCY_DECIMALS_MAX: u32 = 8;

impl CompiledPlan {
    pub fn compile(plan: &Plan) -> Result<CompiledPlan, PlanError> {
        if plan.currency.trim().is_empty() {
            return Err(PlanError::at(
                "currency",
                "must name a currency, e.g. USD".into(),
            ));
        }
        let decimals = plan.currency_decimals;
        if decimals > CURRENCY_DECIMALS_MAX {
            return Err(PlanError::at(
                "currency_decimals",
                format!("must be between 0 and {CURRENCY_DECIMALS_MAX}"),
            ));
        }
        let min_active_pv = match plan.activity.min_pv {
            Some(value) => volume(value, "activity.min_pv")?,
            None => 0,
        };
        let ranks = compile_ranks(plan)?;
        let rank_index = |name: &str, path: String| -> Result<u8, PlanError> {
            ranks
                .iter()
                .position(|rank| rank.name == name)
                .map(|index| index as u8)
                .ok_or_else(|| {
                    PlanError::at(
                        path,
                        format!(
                            "unknown rank name {name:?}; the plan's ranks are {}",
                            rank_names(plan)
                        ),
                    )
                })
        };
        let bonuses = &plan.bonuses;
        if bonuses.binary.is_some() && bonuses.matrix.is_some() {
            return Err(PlanError::at(
                "bonuses",
                "a plan may not have both binary and matrix".into(),
            ));
        }
        let unilevel = match &bonuses.unilevel {
            Some(bonus) => Some(CompiledLevels {
                rates: rate_list(&bonus.levels, "bonuses.unilevel.levels")?,
                compression: bonus.compression,
            }),
            None => None,
        };
        let binary = match &bonuses.binary {
            Some(bonus) => Some(CompiledBinary {
                pct: rate(bonus.pct, "bonuses.binary.pct")?,
                unit: match bonus.unit {
                    Some(unit) => volume(unit, "bonuses.binary.unit")?,
                    None => 0,
                },
                cap: bonus
                    .cap
                    .map(|cap| amount(cap, decimals, "bonuses.binary.cap"))
                    .transpose()?,
                carry_cap: bonus
                    .carry_cap
                    .map(|cap| volume(cap, "bonuses.binary.carry_cap"))
                    .transpose()?,
                flush_inactive: bonus.flush_inactive,
                qualify_left: bonus.qualify.left,
                qualify_right: bonus.qualify.right,
            }),
            None => None,
        };
        let (matrix, matrix_width) = match &bonuses.matrix {
            Some(bonus) => {
                if !(1..=255).contains(&bonus.width) {
                    return Err(PlanError::at(
                        "bonuses.matrix.width",
                        "must be between 1 and 255".into(),
                    ));
                }
                let levels = CompiledLevels {
                    rates: rate_list(&bonus.levels, "bonuses.matrix.levels")?,
                    compression: bonus.compression,
                };
                (Some(levels), bonus.width)
            }
            None => (None, 0),
        };
        let matching = match &bonuses.matching {
            Some(bonus) => {
                if bonus.of.is_empty() {
                    return Err(PlanError::at(
                        "bonuses.matching.of",
                        "must name at least one of unilevel, binary, matrix, fast_start".into(),
                    ));
                }
                let has = |kind: MatchedBonus| bonus.of.contains(&kind);
                Some(CompiledMatching {
                    rates: rate_list(&bonus.generations, "bonuses.matching.generations")?,
                    of_unilevel: has(MatchedBonus::Unilevel),
                    of_binary: has(MatchedBonus::Binary),
                    of_matrix: has(MatchedBonus::Matrix),
                    of_fast_start: has(MatchedBonus::FastStart),
                })
            }
            None => None,
        };
        let fast_start = match &bonuses.fast_start {
            Some(bonus) => Some(CompiledFastStart {
                pct: rate(bonus.pct, "bonuses.fast_start.pct")?,
                window_days: bonus.window_days,
            }),
            None => None,
        };
        let mut rank_advancement = vec![None; ranks.len()];
        if let Some(amounts) = &bonuses.rank_advancement {
            for (name, value) in amounts {
                let path = format!("bonuses.rank_advancement.{name}");
                let index = rank_index(name, path.clone())?;
                rank_advancement[usize::from(index)] = Some(amount(*value, decimals, &path)?);
            }
        }
        let pool = match &bonuses.pool {
            Some(bonus) => {
                let pct = rate(bonus.pct, "bonuses.pool.pct")?;
                let mut listed: Vec<Option<Fixed>> = vec![None; ranks.len()];
                for (name, shares) in &bonus.shares {
                    let path = format!("bonuses.pool.shares.{name}");
                    let index = rank_index(name, path.clone())?;
                    let shares = non_negative(*shares, &path)?;
                    if shares.scale > RATE_SCALE_MAX
                        || shares.mantissa
                            > i128::from(u32::MAX) * crate::number::pow10(shares.scale)
                    {
                        return Err(PlanError::at(
                            path,
                            "must be at most 4294967295 with at most 18 fractional digits".into(),
                        ));
                    }
                    listed[usize::from(index)] = Some(shares);
                }
                let mut current = Fixed::ZERO;
                let shares_by_rank = listed
                    .into_iter()
                    .map(|shares| {
                        if let Some(shares) = shares {
                            current = shares;
                        }
                        current
                    })
                    .collect();
                Some(CompiledPool {
                    pct,
                    shares_by_rank,
                })
            }
            None => None,
        };
        Ok(CompiledPlan {
            name: plan.name.clone(),
            currency: plan.currency.clone(),
            decimals,
            min_active_pv,
            ranks,
            unilevel,
            matrix,
            matrix_width,
            binary,
            matching,
            fast_start,
            rank_advancement,
            pool,
        })
    }

    /// Looks a rank up by its name (state files name ranks).
    pub fn rank_by_name(&self, name: &[u8]) -> Option<u8> {
        self.ranks
            .iter()
            .position(|rank| rank.name.as_bytes() == name)
            .map(|index| index as u8)
    }
}

fn rank_names(plan: &Plan) -> String {
    plan.ranks
        .iter()
        .map(|rank| rank.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The longest rank name a plan may use.
const RANK_NAME_MAX: usize = 64;

fn compile_ranks(plan: &Plan) -> Result<Vec<CompiledRank>, PlanError> {
    if plan.ranks.is_empty() {
        return Err(PlanError::at(
            "ranks",
            "must list at least one rank (the first has no requirements)".into(),
        ));
    }
    if plan.ranks.len() > 255 {
        return Err(PlanError::at("ranks", "may list at most 255 ranks".into()));
    }
    let mut ranks: Vec<CompiledRank> = Vec::with_capacity(plan.ranks.len());
    for (index, spec) in plan.ranks.iter().enumerate() {
        let path = |field: &str| format!("ranks[{index}].{field}");
        // 64 characters at most: the CompensationPlan CRD's schema bounds names so that the
        // API server can afford its CEL rules over them.
        if spec.name.is_empty()
            || spec.name.chars().count() > RANK_NAME_MAX
            || spec
                .name
                .bytes()
                .any(|byte| byte == b',' || byte == b'"' || byte.is_ascii_whitespace())
        {
            return Err(PlanError::at(
                path("name"),
                format!("must be a name of 1 to {RANK_NAME_MAX} characters without commas, quotes or spaces"),
            ));
        }
        if ranks.iter().any(|rank| rank.name == spec.name) {
            return Err(PlanError::at(
                path("name"),
                format!("{:?} names two ranks", spec.name),
            ));
        }
        let min_pv = spec
            .min_pv
            .map(|value| volume(value, &path("min_pv")))
            .transpose()?
            .unwrap_or(0);
        let min_gv = spec
            .min_gv
            .map(|value| volume(value, &path("min_gv")))
            .transpose()?
            .unwrap_or(0);
        let max_leg_share = match spec.max_leg_share {
            Some(share) if spec.min_gv.is_none() => {
                let _ = share;
                return Err(PlanError::at(
                    path("max_leg_share"),
                    "requires min_gv".into(),
                ));
            }
            Some(share) => Some(rate(share, &path("max_leg_share"))?),
            None => None,
        };
        let legs = match &spec.legs {
            Some(requirement) => {
                let min_rank = plan
                    .ranks
                    .iter()
                    .position(|rank| rank.name == requirement.min_rank)
                    .ok_or_else(|| {
                        PlanError::at(
                            path("legs.min_rank"),
                            format!(
                                "unknown rank name {:?}; the plan's ranks are {}",
                                requirement.min_rank,
                                rank_names(plan)
                            ),
                        )
                    })?;
                if requirement.count == 0 {
                    return Err(PlanError::at(
                        path("legs.count"),
                        "must be at least 1".into(),
                    ));
                }
                Some(LegRule {
                    count: requirement.count,
                    min_rank: min_rank as u8,
                })
            }
            None => None,
        };
        let rank = CompiledRank {
            name: spec.name.clone(),
            min_pv,
            min_gv,
            max_leg_share,
            legs,
            unilevel_levels: spec.unilevel_levels.unwrap_or(u32::MAX),
            matching_generations: spec.matching_generations.unwrap_or(u32::MAX),
        };
        if index == 0 && (rank.has_requirements() || rank.max_leg_share.is_some()) {
            return Err(PlanError::at(
                "ranks[0]",
                "the first rank is everyone's rank and can have no requirements (min_pv, min_gv, max_leg_share, legs)".into(),
            ));
        }
        ranks.push(rank);
    }
    Ok(ranks)
}

fn non_negative(value: Decimal, path: &str) -> Result<Fixed, PlanError> {
    let fixed = value.fixed();
    if fixed.is_negative() {
        return Err(PlanError::at(
            path,
            format!("must not be negative (found {fixed})"),
        ));
    }
    Ok(fixed)
}

fn rate(value: Decimal, path: &str) -> Result<Rate, PlanError> {
    let fixed = value.fixed();
    if fixed.is_negative()
        || fixed
            .cmp_value(Fixed {
                mantissa: 1,
                scale: 0,
            })
            .is_gt()
    {
        return Err(PlanError::at(
            path,
            format!("must be between 0 and 1 (found {fixed})"),
        ));
    }
    if fixed.scale > RATE_SCALE_MAX {
        return Err(PlanError::at(
            path,
            format!("has more than {RATE_SCALE_MAX} fractional digits"),
        ));
    }
    Ok(Rate {
        mantissa: fixed.mantissa as i64,
        scale: fixed.scale,
    })
}

fn rate_list(values: &[Decimal], path: &str) -> Result<Vec<Rate>, PlanError> {
    if values.is_empty() {
        return Err(PlanError::at(path, "must list at least one rate".into()));
    }
    values
        .iter()
        .enumerate()
        .map(|(index, value)| rate(*value, &format!("{path}[{index}]")))
        .collect()
}

fn volume(value: Decimal, path: &str) -> Result<i64, PlanError> {
    let fixed = non_negative(value, path)?;
    let units = fixed.exact_at_scale(VOLUME_SCALE).ok_or_else(|| {
        PlanError::at(
            path,
            format!("has more than {VOLUME_SCALE} fractional digits (volumes have {VOLUME_SCALE})"),
        )
    })?;
    if units > i128::from(VOLUME_CELL_MAX) {
        return Err(PlanError::at(
            path,
            "is larger than 99999999999999.9999".into(),
        ));
    }
    Ok(units as i64)
}

fn amount(value: Decimal, decimals: u32, path: &str) -> Result<i64, PlanError> {
    let fixed = non_negative(value, path)?;
    let units = fixed.exact_at_scale(decimals).ok_or_else(|| {
        PlanError::at(
            path,
            format!("has more than currency_decimals ({decimals}) fractional digits"),
        )
    })?;
    i64::try_from(units)
        .ok()
        .filter(|units| *units <= VOLUME_CELL_MAX)
        .ok_or_else(|| PlanError::at(path, "is too large".into()))
}
