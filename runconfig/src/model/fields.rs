//! The checks of single config.json fields, with errors that name the file
//! and the field: each field's rule is one call in `json`.

use anyhow::Result;
use serde_json::Value;

/// One field of a config.json as read: its key and its value (`None` when
/// absent or null, as transformers reads it).
pub(crate) type Field<'a> = (&'a str, &'a Option<Value>);

/// Checks fields of one JSON object; `origin` names it in messages (the
/// file, maybe a key inside).
pub(crate) struct Check<'a> {
    pub origin: &'a str,
}

impl Check<'_> {
    /// An error: `key` holds `v`, which is not `want`.
    fn wrong(&self, key: &str, want: &str, v: &Value) -> anyhow::Error {
        anyhow::anyhow!("{}: field `{key}` must be {want}, found {v}", self.origin)
    }

    /// An error: `key` is required and absent.
    fn missing(&self, key: &str) -> anyhow::Error {
        anyhow::anyhow!("{}: missing required field `{key}`", self.origin)
    }

    /// An optional integer.
    pub fn int(&self, (key, v): Field) -> Result<Option<i64>> {
        v.as_ref()
            .map(|v| v.as_i64().ok_or_else(|| self.wrong(key, "an integer", v)))
            .transpose()
    }

    /// An optional integer > 0.
    pub fn pos(&self, (key, v): Field) -> Result<Option<i64>> {
        match v {
            None => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if n > 0 => Ok(Some(n)),
                _ => Err(self.wrong(key, "a positive integer", v)),
            },
        }
    }

    /// A required integer > 0.
    pub fn req_pos(&self, field: Field) -> Result<i64> {
        self.pos(field)?.ok_or_else(|| self.missing(field.0))
    }

    /// An optional number.
    pub fn number(&self, (key, v): Field) -> Result<Option<f64>> {
        v.as_ref()
            .map(|v| v.as_f64().ok_or_else(|| self.wrong(key, "a number", v)))
            .transpose()
    }

    /// A required number.
    pub fn req_number(&self, field: Field) -> Result<f64> {
        self.number(field)?.ok_or_else(|| self.missing(field.0))
    }

    /// An optional boolean.
    pub fn boolean(&self, (key, v): Field) -> Result<Option<bool>> {
        v.as_ref()
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| self.wrong(key, "true or false", v))
            })
            .transpose()
    }

    /// An optional string.
    pub fn string(&self, (key, v): Field) -> Result<Option<String>> {
        v.as_ref()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.wrong(key, "a string", v))
            })
            .transpose()
    }
}
