//! The plans `upline generate` writes to `plan.json` (COMP_PLAN_SPEC.md §2). Written from JSON
//! templates rather than the engine's plan types, so the generator stays a client of the file
//! format, and a reader sees the fields in their natural order.

/// Which plan to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanKind {
    /// Every bonus: five ranks with every requirement, unilevel with compression, binary,
    /// matching of unilevel and binary, fast start, rank advancement and a pool.
    Full,
    /// The baseline-benchmark plan: one rank, activity at 100 PV, a 6-level compressed unilevel.
    Unilevel,
    /// Five ranks, binary and rank advancement.
    Binary,
    /// Five ranks and a 3-wide, 7-level matrix.
    Matrix,
}

/// Rank names of every plan but `unilevel`, ascending.
pub const RANKS: &[&str] = &["Member", "Bronze", "Silver", "Gold", "Platinum"];
/// The `unilevel` plan's only rank.
pub const UNILEVEL_RANKS: &[&str] = &["Member"];

/// Width of the matrix plan's placement tree.
pub const MATRIX_WIDTH: u8 = 3;

impl PlanKind {
    pub fn name(self) -> &'static str {
        match self {
            PlanKind::Full => "full",
            PlanKind::Unilevel => "unilevel",
            PlanKind::Binary => "binary",
            PlanKind::Matrix => "matrix",
        }
    }

    pub fn ranks(self) -> &'static [&'static str] {
        match self {
            PlanKind::Unilevel => UNILEVEL_RANKS,
            _ => RANKS,
        }
    }

    pub fn has_binary(self) -> bool {
        matches!(self, PlanKind::Full | PlanKind::Binary)
    }

    /// The plan document, parsed back from [`PlanKind::json`].
    #[cfg(test)]
    pub fn document(self) -> serde_json::Value {
        serde_json::from_str(&self.json()).expect("the plan templates are valid JSON")
    }

    /// `plan.json`: the plan's fields in their natural order (name first, ranks before
    /// bonuses), two-space indentation, ending with a newline.
    pub fn json(self) -> String {
        let bonuses = match self {
            PlanKind::Unilevel => format!("{{\n    \"unilevel\": {UNILEVEL}\n  }}"),
            PlanKind::Full => format!(
                "{{\n    \"unilevel\": {UNILEVEL},\n    \"binary\": {BINARY},\n    \"matching\": {MATCHING},\n    \"fast_start\": {FAST_START},\n    \"rank_advancement\": {RANK_ADVANCEMENT},\n    \"pool\": {POOL}\n  }}"
            ),
            PlanKind::Binary => {
                format!("{{\n    \"binary\": {BINARY},\n    \"rank_advancement\": {RANK_ADVANCEMENT}\n  }}")
            }
            PlanKind::Matrix => format!("{{\n    \"matrix\": {MATRIX}\n  }}"),
        };
        let ranks = if self == PlanKind::Unilevel {
            UNILEVEL_RANKS_JSON
        } else {
            RANKS_JSON
        };
        format!(
            "{{\n  \"name\": \"generated-{}\",\n  \"currency\": \"USD\",\n  \"currency_decimals\": 2,\n  \"activity\": {{ \"min_pv\": 100 }},\n  \"ranks\": {ranks},\n  \"bonuses\": {bonuses}\n}}\n",
            self.name()
        )
    }
}

const UNILEVEL_RANKS_JSON: &str = r#"[
    { "name": "Member" }
  ]"#;

const RANKS_JSON: &str = r#"[
    { "name": "Member" },
    { "name": "Bronze", "min_pv": 100, "min_gv": 500, "max_leg_share": 0.6,
      "unilevel_levels": 3, "matching_generations": 1 },
    { "name": "Silver", "min_pv": 100, "min_gv": 2000, "max_leg_share": 0.5,
      "legs": { "count": 2, "min_rank": "Bronze" }, "unilevel_levels": 5, "matching_generations": 2 },
    { "name": "Gold", "min_pv": 150, "min_gv": 8000, "max_leg_share": 0.4,
      "legs": { "count": 3, "min_rank": "Silver" } },
    { "name": "Platinum", "min_pv": 200, "min_gv": 30000, "max_leg_share": 0.35,
      "legs": { "count": 3, "min_rank": "Gold" } }
  ]"#;

const UNILEVEL: &str = r#"{ "levels": [0.05, 0.05, 0.04, 0.03, 0.02, 0.01], "compression": true }"#;

const BINARY: &str = r#"{ "pct": 0.1, "unit": 100, "cap": 2500, "carry_cap": 20000, "flush_inactive": true,
      "qualify": { "left": 1, "right": 1 } }"#;

const MATCHING: &str = r#"{ "generations": [0.2, 0.1, 0.05], "of": ["unilevel", "binary"] }"#;

const FAST_START: &str = r#"{ "pct": 0.2, "window_days": 30 }"#;

const RANK_ADVANCEMENT: &str = r#"{ "Bronze": 50, "Silver": 250, "Gold": 1000, "Platinum": 5000 }"#;

const POOL: &str = r#"{ "pct": 0.02, "shares": { "Gold": 1, "Platinum": 3 } }"#;

/// The matrix bonus; its width is [`MATRIX_WIDTH`].
const MATRIX: &str =
    r#"{ "width": 3, "levels": [0.05, 0.05, 0.04, 0.04, 0.03, 0.03, 0.02], "compression": false }"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matrix_width_matches_the_template() {
        assert_eq!(
            PlanKind::Matrix.document()["bonuses"]["matrix"]["width"],
            json!(MATRIX_WIDTH)
        );
    }

    #[test]
    fn unilevel_is_the_baseline_plan() {
        let plan = PlanKind::Unilevel.document();
        assert_eq!(plan["ranks"], json!([{ "name": "Member" }]));
        assert_eq!(plan["activity"]["min_pv"], json!(100));
        let bonuses = plan["bonuses"].as_object().unwrap();
        assert_eq!(bonuses.keys().collect::<Vec<_>>(), ["unilevel"]);
        assert_eq!(bonuses["unilevel"]["compression"], json!(true));
        assert!((5..=7).contains(&bonuses["unilevel"]["levels"].as_array().unwrap().len()));
    }

    #[test]
    fn full_uses_every_bonus_and_rank_key() {
        let plan = PlanKind::Full.document();
        let bonuses = plan["bonuses"].as_object().unwrap();
        for bonus in [
            "unilevel",
            "binary",
            "matching",
            "fast_start",
            "rank_advancement",
            "pool",
        ] {
            assert!(bonuses.contains_key(bonus), "{bonus}");
        }
        for key in [
            "pct",
            "unit",
            "cap",
            "carry_cap",
            "flush_inactive",
            "qualify",
        ] {
            assert!(bonuses["binary"].get(key).is_some(), "binary.{key}");
        }
        let rank_keys: std::collections::BTreeSet<&str> = plan["ranks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
            .collect();
        for key in [
            "min_pv",
            "min_gv",
            "max_leg_share",
            "legs",
            "unilevel_levels",
            "matching_generations",
        ] {
            assert!(rank_keys.contains(key), "{key}");
        }
    }

    #[test]
    fn every_plan_names_the_same_ranks() {
        for kind in [PlanKind::Full, PlanKind::Binary, PlanKind::Matrix] {
            let names: Vec<String> = kind.document()["ranks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(names, RANKS);
        }
        assert!(PlanKind::Matrix.document()["bonuses"]
            .get("binary")
            .is_none());
        assert!(PlanKind::Binary.json().ends_with("}\n"));
    }
}
