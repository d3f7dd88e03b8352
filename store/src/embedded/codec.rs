//! Keys and values of the embedded tables.
//!
//! A key is its parts joined by a 0 byte, tenant first: ids never hold a 0 byte (the API refuses
//! control characters), so the parts of one tenant form one contiguous, prefix-scannable range —
//! the embedded image of a ScyllaDB partition. Values are JSON.

use crate::error::{StoreError, StoreResult};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The key of `parts`.
pub fn key(parts: &[&str]) -> Vec<u8> {
    let mut key = Vec::with_capacity(parts.iter().map(|part| part.len() + 1).sum());
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            key.push(0);
        }
        key.extend_from_slice(part.as_bytes());
    }
    key
}

/// The range of every key that starts with `parts` followed by more parts.
pub fn prefix_range(parts: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let mut start = key(parts);
    start.push(0);
    let mut end = start.clone();
    *end.last_mut().expect("a prefix ends with its separator") = 1;
    (start, end)
}

/// The last part of a key (after its final 0 byte).
pub fn last_part(key: &[u8]) -> StoreResult<String> {
    let start = key
        .iter()
        .rposition(|&byte| byte == 0)
        .map_or(0, |at| at + 1);
    String::from_utf8(key[start..].to_vec()).map_err(|error| StoreError::Corrupt(error.to_string()))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("store records always serialize")
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_range_holds_exactly_the_longer_keys_of_its_parts() {
        let (start, end) = prefix_range(&["t1", "run"]);
        let inside = key(&["t1", "run", "d1"]);
        let other_run = key(&["t1", "run2", "d1"]);
        let the_run_itself = key(&["t1", "run"]);
        assert!(start <= inside && inside < end);
        assert!(!(start <= other_run && other_run < end));
        assert!(!(start <= the_run_itself && the_run_itself < end));
        assert_eq!(last_part(&inside).unwrap(), "d1");
    }
}
