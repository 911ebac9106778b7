//! `data.chat_template`: the tokenizer's own template, one of open-instruct's
//! named templates (its `--chat_template_name`), or a Jinja file.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::PathBuf;

/// open-instruct's named chat templates (the keys of `CHAT_TEMPLATES` in
/// open_instruct/dataset_transformation.py), which the trainer ships
/// byte for byte (trainer/src/data/templates/).
pub const NAMED_TEMPLATES: &[&str] = &[
    "tulu",
    "tulu_thinker",
    "tulu_thinker_r1_style",
    "simple_chat",
    "simple_concat_with_space",
    "simple_concat_with_new_line",
    "assistant_message_only",
    "zephyr",
    "olmo",
    "olmo_old",
    "olmo_thinker",
    "olmo_thinker_no_think_7b",
    "olmo_thinker_remove_intermediate_thinking",
    "olmo_thinker_no_think_sft_tokenization",
    "olmo_thinker_rlzero",
    "olmo_thinker_code_rlzero",
    "r1_simple_chat",
    "r1_simple_chat_postpend_think",
    "r1_simple_chat_postpend_think_orz_style",
    "r1_simple_chat_postpend_think_tool_vllm",
    "qwen_instruct_user_boxed_math",
];

/// `data.chat_template`: where the chat template of sft and dpo comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// The tokenizer's own (`chat_template` of tokenizer_config.json, or
    /// chat_template.jinja beside it).
    Model,
    /// One of [`NAMED_TEMPLATES`], built in.
    Named(&'static str),
    /// A Jinja file.
    File(PathBuf),
}

impl From<String> for TemplateSource {
    fn from(text: String) -> Self {
        if text == "model" {
            return Self::Model;
        }
        // A name wins over a file of that name in the current folder, as
        // `model` does; a file is always reachable as `./name`.
        match NAMED_TEMPLATES.iter().find(|n| **n == text) {
            Some(name) => Self::Named(name),
            None => Self::File(PathBuf::from(text)),
        }
    }
}

impl From<TemplateSource> for String {
    fn from(value: TemplateSource) -> String {
        match value {
            TemplateSource::Model => "model".into(),
            TemplateSource::Named(name) => name.into(),
            TemplateSource::File(p) => p.display().to_string(),
        }
    }
}

// By hand rather than `#[serde(from = "String")]`: the derive would tie the
// `&'static str` of `Named` to the deserializer's lifetime.
impl<'de> Deserialize<'de> for TemplateSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::from)
    }
}

impl Serialize for TemplateSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from(self.clone()))
    }
}

/// What `data.chat_template` may be, for messages about it.
pub fn template_choices() -> String {
    format!(
        "model, a name of open-instruct's ({}) or the path of a Jinja file",
        NAMED_TEMPLATES.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_instruct_names_read_back_as_written() {
        for name in ["tulu", "zephyr", "simple_chat", "olmo"] {
            let t: TemplateSource = serde_yaml::from_str(name).unwrap();
            assert_eq!(t, TemplateSource::Named(name));
            assert_eq!(serde_yaml::to_string(&t).unwrap(), format!("{name}\n"));
        }
        let t: TemplateSource = serde_yaml::from_str("model").unwrap();
        assert_eq!(t, TemplateSource::Model);
        let t: TemplateSource = serde_yaml::from_str("my/zephyr.jinja").unwrap();
        assert_eq!(t, TemplateSource::File("my/zephyr.jinja".into()));
    }
}
