//! Typed access to the fields of a JSON object (a `config.json`), with
//! errors that name the file and the field.

use anyhow::Result;
use serde_json::{Map, Value};

/// Typed access to the fields of one JSON object, with errors that name the
/// file and the field. `null` counts as absent.
pub(crate) struct Fields<'a> {
    /// The object.
    pub map: &'a Map<String, Value>,
    /// Names it in messages (the file, maybe a key inside).
    pub origin: &'a str,
}

impl Fields<'_> {
    /// The value of `key`, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An error: `key` holds `v`, which is not `want`.
    pub fn wrong(&self, key: &str, want: &str, v: &Value) -> anyhow::Error {
        anyhow::anyhow!("{}: field `{key}` must be {want}, found {v}", self.origin)
    }

    /// An error: `key` is required and absent.
    pub fn missing(&self, key: &str) -> anyhow::Error {
        anyhow::anyhow!("{}: missing required field `{key}`", self.origin)
    }

    /// An optional integer.
    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        self.get(key)
            .map(|v| v.as_i64().ok_or_else(|| self.wrong(key, "an integer", v)))
            .transpose()
    }

    /// An optional integer > 0.
    pub fn pos(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if n > 0 => Ok(Some(n)),
                _ => Err(self.wrong(key, "a positive integer", v)),
            },
        }
    }

    /// A required integer > 0.
    pub fn req_pos(&self, key: &str) -> Result<i64> {
        self.pos(key)?.ok_or_else(|| self.missing(key))
    }

    /// An optional number.
    pub fn number(&self, key: &str) -> Result<Option<f64>> {
        self.get(key)
            .map(|v| v.as_f64().ok_or_else(|| self.wrong(key, "a number", v)))
            .transpose()
    }

    /// A required number.
    pub fn req_number(&self, key: &str) -> Result<f64> {
        self.number(key)?.ok_or_else(|| self.missing(key))
    }

    /// An optional boolean.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| self.wrong(key, "true or false", v))
            })
            .transpose()
    }

    /// An optional string.
    pub fn string(&self, key: &str) -> Result<Option<String>> {
        self.get(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.wrong(key, "a string", v))
            })
            .transpose()
    }
}
