//! The plan's number type: an exact decimal read from the number's text.

use crate::number::Fixed;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// An exact decimal number of a plan (`0.05`, `250.5`, `1e3`). It is written as a JSON/YAML
/// number and parsed from its text, never through `f64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal(pub Fixed);

impl Decimal {
    pub fn fixed(self) -> Fixed {
        self.0
    }
}

impl FromStr for Decimal {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Fixed::parse(text)
            .map(Decimal)
            .ok_or_else(|| format!("{text:?} is not an exact decimal number"))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // serde_json is built with `arbitrary_precision`, so the digits go out unchanged.
        let number =
            serde_json::Number::from_str(&self.0.to_string()).map_err(serde::ser::Error::custom)?;
        number.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        number.to_string().parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Decimal {
    fn schema_name() -> Cow<'static, str> {
        "Decimal".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number" })
    }

    fn inline_schema() -> bool {
        true
    }
}
