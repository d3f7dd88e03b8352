//! Reading a plan document from JSON or YAML text.
//!
//! Both formats are first turned into a `serde_json::Value` whose numbers keep their exact
//! text (`arbitrary_precision`), then deserialized with `serde_path_to_error` so that a type
//! error names the field path (`bonuses.binary.pct: invalid type: string "x", expected …`).
//! YAML is read with the YAML 1.2 core schema (yaml-rust2): `yes`/`no`/`on` stay strings and
//! a number's digits are kept as written.

use super::{Plan, PlanError};
use crate::number::Fixed;
use serde_json::{Map, Number, Value};
use std::str::FromStr;
use yaml_rust2::{Yaml, YamlLoader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFormat {
    Json,
    Yaml,
}

impl PlanFormat {
    /// `.json` is JSON; anything else (`.yaml`, `.yml`, no extension) is YAML, which also
    /// accepts JSON documents.
    pub fn from_file_name(name: &str) -> PlanFormat {
        if name.to_ascii_lowercase().ends_with(".json") {
            PlanFormat::Json
        } else {
            PlanFormat::Yaml
        }
    }
}

/// Parses a plan document (not yet validated: see [`super::CompiledPlan::compile`]).
pub fn read_plan(text: &str, format: PlanFormat) -> Result<Plan, PlanError> {
    // A byte-order mark (U+FEFF) before the document is an encoding signature, not content:
    // YAML 1.2 allows it and RFC 8259 lets a JSON reader ignore it. Editors on Windows write it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value = match format {
        PlanFormat::Json => serde_json::from_str::<Value>(text)
            .map_err(|error| PlanError::document(format!("not valid JSON: {error}")))?,
        PlanFormat::Yaml => yaml_to_value(text)?,
    };
    serde_path_to_error::deserialize::<_, Plan>(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        if path == "." {
            PlanError::document(message)
        } else {
            PlanError::at(path, message)
        }
    })
}

fn yaml_to_value(text: &str) -> Result<Value, PlanError> {
    let documents = YamlLoader::load_from_str(text)
        .map_err(|error| PlanError::document(format!("not valid YAML: {error}")))?;
    match documents.as_slice() {
        [document] => convert(document, "$"),
        [] => Err(PlanError::document(
            "the file holds no YAML document".to_string(),
        )),
        _ => Err(PlanError::document(
            "the file holds more than one YAML document".to_string(),
        )),
    }
}

fn convert(node: &Yaml, path: &str) -> Result<Value, PlanError> {
    Ok(match node {
        Yaml::Null => Value::Null,
        Yaml::Boolean(flag) => Value::Bool(*flag),
        Yaml::Integer(integer) => Value::Number(Number::from(*integer)),
        Yaml::Real(text) => Value::Number(exact_number(text, path)?),
        Yaml::String(text) => Value::String(text.clone()),
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| convert(item, &format!("{path}[{index}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(entries) => {
            let mut map = Map::new();
            for (key, item) in entries {
                let key = match key {
                    Yaml::String(text) | Yaml::Real(text) => text.clone(),
                    Yaml::Integer(integer) => integer.to_string(),
                    Yaml::Boolean(flag) => flag.to_string(),
                    _ => {
                        return Err(PlanError::at(
                            display_path(path),
                            "mapping keys must be plain names".into(),
                        ))
                    }
                };
                let child = format!("{path}.{key}");
                map.insert(key, convert(item, &child)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(PlanError::at(
                display_path(path),
                "unsupported YAML value".into(),
            ))
        }
    })
}

/// A YAML real such as `0.05`, `.5` or `1e3` as a JSON number with the same exact value.
fn exact_number(text: &str, path: &str) -> Result<Number, PlanError> {
    let fixed = Fixed::parse(text).ok_or_else(|| {
        PlanError::at(
            display_path(path),
            format!("{text:?} is not a finite decimal number"),
        )
    })?;
    Ok(Number::from_str(&fixed.to_string()).expect("a plain decimal is a JSON number"))
}

fn display_path(path: &str) -> String {
    path.trim_start_matches("$.")
        .trim_start_matches('$')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_read_the_same_plan() {
        let yaml = "name: p\ncurrency: USD\nranks:\n  - { name: Member }\nbonuses:\n  unilevel: { levels: [0.05, .10], compression: yes }\n";
        let error = read_plan(yaml, PlanFormat::Yaml).unwrap_err();
        // YAML 1.2 core schema: `yes` is a string, not a boolean.
        assert_eq!(error.path, "bonuses.unilevel.compression");
        let yaml = yaml.replace("yes", "true");
        let from_yaml = read_plan(&yaml, PlanFormat::Yaml).unwrap();
        let json = r#"{"name":"p","currency":"USD","ranks":[{"name":"Member"}],
            "bonuses":{"unilevel":{"levels":[0.05,0.1],"compression":true}}}"#;
        let from_json = read_plan(json, PlanFormat::Json).unwrap();
        assert_eq!(from_yaml, from_json);
    }

    #[test]
    fn a_byte_order_mark_before_the_document_is_ignored() {
        let json = r#"{"name":"p","currency":"USD","ranks":[{"name":"Member"}]}"#;
        let yaml = "name: p\ncurrency: USD\nranks:\n  - { name: Member }\n";
        for (text, format) in [(json, PlanFormat::Json), (yaml, PlanFormat::Yaml)] {
            let plain = read_plan(text, format).unwrap();
            let marked = read_plan(&format!("\u{feff}{text}"), format).unwrap();
            assert_eq!(marked, plain);
        }
    }

    #[test]
    fn numbers_keep_their_digits() {
        let json = r#"{"name":"p","currency":"USD","ranks":[{"name":"Member"}],
            "bonuses":{"unilevel":{"levels":[0.1000000000000000055511151231257827]}}}"#;
        let plan = read_plan(json, PlanFormat::Json).unwrap();
        let level = plan.bonuses.unilevel.unwrap().levels[0].fixed();
        assert_eq!(level.to_string(), "0.1000000000000000055511151231257827");
    }

    #[test]
    fn unknown_fields_name_their_path() {
        let json = r#"{"name":"p","currency":"USD","ranks":[{"name":"Member","min_gvv":1}]}"#;
        let error = read_plan(json, PlanFormat::Json).unwrap_err();
        assert_eq!(error.path, "ranks[0].min_gvv");
        assert!(
            error.message.contains("unknown field `min_gvv`"),
            "{}",
            error.message
        );
    }
}
