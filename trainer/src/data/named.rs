//! open-instruct's named chat templates, as `data.chat_template: <name>`
//! selects them: the strings of its `CHAT_TEMPLATES`, copied byte for byte
//! into templates/ by scripts/import-open-instruct-templates, so that a run
//! renders (and its export saves) exactly the template open-instruct's
//! `--chat_template_name <name>` would.

/// Each name of [`runconfig::NAMED_TEMPLATES`] and its Jinja source.
const SOURCES: &[(&str, &str)] = &[
    ("tulu", include_str!("templates/tulu.jinja")),
    ("tulu_thinker", include_str!("templates/tulu_thinker.jinja")),
    (
        "tulu_thinker_r1_style",
        include_str!("templates/tulu_thinker_r1_style.jinja"),
    ),
    ("simple_chat", include_str!("templates/simple_chat.jinja")),
    (
        "simple_concat_with_space",
        include_str!("templates/simple_concat_with_space.jinja"),
    ),
    (
        "simple_concat_with_new_line",
        include_str!("templates/simple_concat_with_new_line.jinja"),
    ),
    (
        "assistant_message_only",
        include_str!("templates/assistant_message_only.jinja"),
    ),
    ("zephyr", include_str!("templates/zephyr.jinja")),
    ("olmo", include_str!("templates/olmo.jinja")),
    ("olmo_old", include_str!("templates/olmo_old.jinja")),
    ("olmo_thinker", include_str!("templates/olmo_thinker.jinja")),
    (
        "olmo_thinker_no_think_7b",
        include_str!("templates/olmo_thinker_no_think_7b.jinja"),
    ),
    (
        "olmo_thinker_remove_intermediate_thinking",
        include_str!("templates/olmo_thinker_remove_intermediate_thinking.jinja"),
    ),
    (
        "olmo_thinker_no_think_sft_tokenization",
        include_str!("templates/olmo_thinker_no_think_sft_tokenization.jinja"),
    ),
    (
        "olmo_thinker_rlzero",
        include_str!("templates/olmo_thinker_rlzero.jinja"),
    ),
    (
        "olmo_thinker_code_rlzero",
        include_str!("templates/olmo_thinker_code_rlzero.jinja"),
    ),
    (
        "r1_simple_chat",
        include_str!("templates/r1_simple_chat.jinja"),
    ),
    (
        "r1_simple_chat_postpend_think",
        include_str!("templates/r1_simple_chat_postpend_think.jinja"),
    ),
    (
        "r1_simple_chat_postpend_think_orz_style",
        include_str!("templates/r1_simple_chat_postpend_think_orz_style.jinja"),
    ),
    (
        "r1_simple_chat_postpend_think_tool_vllm",
        include_str!("templates/r1_simple_chat_postpend_think_tool_vllm.jinja"),
    ),
    (
        "qwen_instruct_user_boxed_math",
        include_str!("templates/qwen_instruct_user_boxed_math.jinja"),
    ),
];

/// The source of the named template `name`, if it is one.
pub fn source(name: &str) -> Option<&'static str> {
    SOURCES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_name_the_config_accepts_has_a_template() {
        for name in runconfig::NAMED_TEMPLATES {
            assert!(super::source(name).is_some(), "no template for {name}");
        }
        assert_eq!(super::SOURCES.len(), runconfig::NAMED_TEMPLATES.len());
    }
}
