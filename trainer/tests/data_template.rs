//! Chat templates render exactly as transformers' `apply_chat_template`, and
//! the rendered text tokenizes to the same ids as the Python tokenizer;
//! open-instruct's named templates render as their strings in its
//! `CHAT_TEMPLATES` do.
//! The reference comes from scripts/make-chat-template-refs (run here when
//! target/data-refs/chat_templates.json is missing).

mod common;

use common::{python, repo_root};
use runconfig::TemplateSource;
use serde_json::{Map, Value};
use trainer::data::{ChatTemplate, Tokenizer};

fn references() -> Vec<Value> {
    let path = repo_root().join("target/data-refs/chat_templates.json");
    if !path.is_file() || !covers_every_named_template(&path) {
        let status = std::process::Command::new(python())
            .arg(repo_root().join("scripts/make-chat-template-refs"))
            .arg(&path)
            .status()
            .expect("running scripts/make-chat-template-refs");
        assert!(status.success(), "scripts/make-chat-template-refs failed");
    }
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Whether the references at `path` hold a case for each named template
/// (a reference made before a template was added is made again).
fn covers_every_named_template(path: &std::path::Path) -> bool {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    runconfig::NAMED_TEMPLATES
        .iter()
        .all(|name| text.contains(&format!("\"template\": \"{name}\"")))
}

#[test]
fn templates_render_like_transformers_and_tokenize_like_tokenizers() {
    let tok = Tokenizer::load(&common::chat_tokenizer()).unwrap();
    let refs = references();
    assert!(refs.len() >= 10);
    let mut seen = std::collections::BTreeSet::new();
    for (i, case) in refs.iter().enumerate() {
        let name = case["template"].as_str().unwrap();
        seen.insert(name.to_string());
        let source =
            std::fs::read_to_string(repo_root().join(case["template_file"].as_str().unwrap()))
                .unwrap();
        // A named template as `data.chat_template: <name>` picks it.
        let template = match runconfig::NAMED_TEMPLATES.iter().find(|n| **n == name) {
            Some(named) => {
                ChatTemplate::from_setting(Some(&TemplateSource::Named(named)), &tok).unwrap()
            }
            None => ChatTemplate::new(&source, &tok.special_tokens).unwrap(),
        };
        let messages = case["messages"].as_array().unwrap();
        let gen = case["add_generation_prompt"].as_bool().unwrap();
        let kwargs: Map<String, Value> = case["kwargs"].as_object().unwrap().clone();
        let text = template
            .render_with(messages, gen, &kwargs)
            .unwrap_or_else(|e| panic!("case {i} ({name}): {e:#}"));
        assert_eq!(text, case["text"].as_str().unwrap(), "case {i} ({name})");
        let ids: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(
            tok.encode(&text).unwrap(),
            ids,
            "case {i} ({name}) token ids"
        );
    }
    for name in ["tulu", "llama3", "llama31", "features"] {
        assert!(seen.contains(name), "no case for {name}");
    }
    // The built-in templates are the files the references used.
    assert_eq!(
        trainer::data::template::TULU,
        std::fs::read_to_string(repo_root().join("trainer/src/data/templates/tulu.jinja")).unwrap()
    );
    for name in runconfig::NAMED_TEMPLATES {
        assert!(seen.contains(*name), "no case for {name}");
        let file = repo_root().join(format!("trainer/src/data/templates/{name}.jinja"));
        assert_eq!(
            trainer::data::named::source(name),
            Some(std::fs::read_to_string(file).unwrap().as_str()),
            "{name}"
        );
    }
}

#[test]
fn raise_exception_reports_the_templates_message() {
    let tok = Tokenizer::load(&common::chat_tokenizer()).unwrap();
    let t = ChatTemplate::new(
        "{% if messages[0].role != 'user' %}{{ raise_exception('Conversations must start with a user turn') }}{% endif %}ok",
        &tok.special_tokens,
    )
    .unwrap();
    let err = t
        .render(&[common::msg("assistant", "x")], false)
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("Conversations must start with a user turn"),
        "{err:#}"
    );
    assert!(tok.add_bos && !tok.add_eos);
    assert_eq!(tok.bos.as_ref().unwrap().1, 1);
    assert_eq!(tok.eos.as_ref().unwrap().1, 2);
}
