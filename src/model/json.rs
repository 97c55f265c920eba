//! Loading the versioned JSON documents (profiles, plans): version checked before the body is parsed,
//! so an old or future file gets a clear message rather than a field-by-field complaint.
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

pub fn load_versioned<T: DeserializeOwned>(path: &Path, what: &'static str, expected: u32) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: String| Error::BadJson { path: path.into(), what, reason };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let version =
        value.get("schema_version").and_then(|v| v.as_u64()).ok_or_else(|| bad("no schema_version".into()))?;
    if version != u64::from(expected) {
        return Err(Error::SchemaVersion { what, found: version as u32, expected });
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// Pretty JSON of a value that holds only finite numbers.
pub fn to_pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("documents hold only finite numbers")
}
