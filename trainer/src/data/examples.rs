//! Raw rows into examples of the objective: a text, a chat, a preference pair
//! or pre-tokenized ids, reading the configured (or usual) field names.
//!
//! Accepted shapes:
//! * pretrain: `{"text": "..."}`, plain text rows, or `{"input_ids": [...]}`;
//! * sft: `{"messages": [{"role", "content"}...]}`, ShareGPT
//!   `{"conversations": [{"from": "human"|"gpt"|"system", "value"}...]}`, or
//!   `{"input_ids": [...], "labels": [...]}` (labels -100 or equal to the id);
//! * dpo: `chosen` / `rejected` as whole conversations (UltraFeedback / tulu
//!   preference format; the response is the last message), or as strings or
//!   assistant messages after a `prompt` (a string or a message list).

use super::readers::Row;
use runconfig::{DatasetConfig, Objective};
use serde_json::{json, Map, Value};

/// One example before tokenization.
#[derive(Debug, Clone, PartialEq)]
pub enum Example {
    /// Raw text (pretraining).
    Text(String),
    /// Token ids given by the dataset; `targets[t]` false where the row's
    /// `labels` hold -100.
    Tokens { ids: Vec<u32>, targets: Vec<bool> },
    /// Chat messages (objects with `role` and `content`).
    Chat(Vec<Value>),
    /// Two conversations sharing a prompt; each ends with the response.
    Pair {
        chosen: Vec<Value>,
        rejected: Vec<Value>,
    },
}

/// The field names of one dataset.
#[derive(Debug, Clone)]
pub struct Fields {
    text: String,
    messages: Option<String>,
    prompt: String,
    chosen: String,
    rejected: String,
}

impl Fields {
    /// The configured names, or `text`, `messages`|`conversations`,
    /// `prompt`, `chosen`, `rejected`.
    pub fn of(cfg: &DatasetConfig) -> Fields {
        let or = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
        Fields {
            text: or(&cfg.text_field, "text"),
            messages: cfg.messages_field.clone(),
            prompt: or(&cfg.prompt_field, "prompt"),
            chosen: or(&cfg.chosen_field, "chosen"),
            rejected: or(&cfg.rejected_field, "rejected"),
        }
    }
}

/// The example of `row`; the error says what is wrong (the caller adds where).
pub fn parse(row: &Row, json: bool, objective: Objective, f: &Fields) -> Result<Example, String> {
    if !json {
        return match objective {
            Objective::Pretrain => Ok(Example::Text(row.text.clone())),
            _ => Err(format!("{objective:?} needs JSON rows, not plain text").to_lowercase()),
        };
    }
    let value: Value =
        serde_json::from_str(&row.text).map_err(|e| format!("not valid JSON ({e})"))?;
    let Value::Object(obj) = value else {
        return Err("the row is not a JSON object".into());
    };
    if obj.contains_key("input_ids") && objective != Objective::Dpo {
        return tokens(&obj);
    }
    match objective {
        Objective::Pretrain => match obj.get(&f.text) {
            Some(Value::String(s)) => Ok(Example::Text(s.clone())),
            Some(_) => Err(format!("`{}` is not a string", f.text)),
            None => Err(format!(
                "the row has no `{}` field (nor `input_ids`)",
                f.text
            )),
        },
        Objective::Sft => {
            let key = match &f.messages {
                Some(k) => k.as_str(),
                None if obj.contains_key("messages") => "messages",
                None if obj.contains_key("conversations") => "conversations",
                None => "messages",
            };
            let list = obj
                .get(key)
                .ok_or_else(|| format!("the row has no `{key}` field (a list of chat messages)"))?;
            Ok(Example::Chat(messages(list, key)?))
        }
        Objective::Dpo => {
            let prompt = match obj.get(&f.prompt) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(vec![json!({"role": "user", "content": s})]),
                Some(list) => Some(messages(list, &f.prompt)?),
            };
            let side = |key: &str| -> Result<Vec<Value>, String> {
                let v = obj
                    .get(key)
                    .ok_or_else(|| format!("the row has no `{key}` field"))?;
                let conv = match v {
                    Value::String(s) => vec![json!({"role": "assistant", "content": s})],
                    v => messages(v, key)?,
                };
                let whole = conv.iter().any(|m| m["role"] != "assistant");
                let conv = match (&prompt, whole) {
                    (Some(p), false) => p.iter().cloned().chain(conv).collect(),
                    (None, false) => {
                        return Err(format!(
                            "`{key}` holds only the response: the row needs a `{}` field",
                            f.prompt
                        ))
                    }
                    (_, true) => conv,
                };
                if conv.last().map(|m| &m["role"]) != Some(&json!("assistant")) {
                    return Err(format!("`{key}` must end with an assistant message"));
                }
                if conv.len() < 2 {
                    return Err(format!("`{key}` has no prompt before the response"));
                }
                Ok(conv)
            };
            Ok(Example::Pair {
                chosen: side(&f.chosen)?,
                rejected: side(&f.rejected)?,
            })
        }
    }
}

/// A list of messages, ShareGPT `from`/`value` keys turned into `role`/`content`.
fn messages(v: &Value, key: &str) -> Result<Vec<Value>, String> {
    let Value::Array(list) = v else {
        return Err(format!("`{key}` is not a list of messages"));
    };
    if list.is_empty() {
        return Err(format!("`{key}` is empty"));
    }
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let Value::Object(m) = m else {
                return Err(format!("`{key}`[{i}] is not an object"));
            };
            let mut out = Map::new();
            let role = match (m.get("role"), m.get("from")) {
                (Some(Value::String(r)), _) => r.clone(),
                (None, Some(Value::String(r))) => match r.as_str() {
                    "human" | "user" => "user".into(),
                    "gpt" | "assistant" | "bot" | "model" => "assistant".into(),
                    other => other.to_string(),
                },
                _ => return Err(format!("`{key}`[{i}] has no string `role` (or `from`)")),
            };
            let content = match (m.get("content"), m.get("value")) {
                (Some(c), _) if !c.is_null() => c.clone(),
                (_, Some(Value::String(s))) => Value::String(s.clone()),
                _ => return Err(format!("`{key}`[{i}] has no `content` (or `value`)")),
            };
            out.insert("role".into(), Value::String(role));
            out.insert("content".into(), content);
            for (k, x) in m {
                if !matches!(k.as_str(), "role" | "content" | "from" | "value") {
                    out.insert(k.clone(), x.clone());
                }
            }
            Ok(Value::Object(out))
        })
        .collect()
}

/// Pre-tokenized `input_ids` with optional `labels`.
fn tokens(obj: &Map<String, Value>) -> Result<Example, String> {
    let ints = |key: &str| -> Result<Option<Vec<i64>>, String> {
        match obj.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|t| t.as_i64())
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| format!("`{key}` must hold integers")),
            Some(_) => Err(format!("`{key}` is not a list")),
        }
    };
    let ids = ints("input_ids")?.unwrap_or_default();
    if ids.len() < 2 {
        return Err("`input_ids` needs at least 2 tokens".into());
    }
    if let Some(&bad) = ids.iter().find(|&&t| t < 0 || t > u32::MAX as i64) {
        return Err(format!("`input_ids` holds {bad}, not a token id"));
    }
    let targets = match ints("labels")? {
        None => vec![true; ids.len()],
        Some(l) if l.len() != ids.len() => {
            return Err("`labels` and `input_ids` differ in length".into())
        }
        Some(l) => l
            .iter()
            .zip(&ids)
            .map(|(&l, &t)| match l {
                -100 => Ok(false),
                l if l == t => Ok(true),
                _ => Err("`labels` must be -100 or equal to `input_ids` (unshifted)".to_string()),
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Example::Tokens {
        ids: ids.into_iter().map(|t| t as u32).collect(),
        targets,
    })
}
