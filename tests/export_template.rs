//! Every export keeps the chat template: a run trained with the built-in
//! `tulu` template writes it into `final/` (chat_template.jinja and
//! tokenizer_config.json), transformers renders chats with it exactly as the
//! trainer does, `launch export` of a checkpoint writes the same files, a
//! DPO run with `chat_template: model` from that folder starts, and a
//! tokenizer's own chat_template.jinja is carried into the export.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const TULU: &str = include_str!("../trainer/src/data/templates/tulu.jinja");

fn run_ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

/// The sanity tokenizer copied into `dir/name` without its chat template.
fn bare_tokenizer(dir: &Path, name: &str) -> PathBuf {
    let tok = dir.join(name);
    std::fs::create_dir_all(&tok).unwrap();
    let src = repo_root().join("data/sanity-chat");
    std::fs::copy(src.join("tokenizer.json"), tok.join("tokenizer.json")).unwrap();
    let raw = std::fs::read_to_string(src.join("tokenizer_config.json")).unwrap();
    let mut cfg: serde_json::Value = serde_json::from_str(&raw).unwrap();
    cfg.as_object_mut().unwrap().remove("chat_template");
    std::fs::write(tok.join("tokenizer_config.json"), cfg.to_string()).unwrap();
    tok
}

/// `launch 1 configs/<yaml>` for a few steps, writing to `out`.
fn short_run(dir: &Path, yaml: &str, out: &Path, sets: &[String]) -> Command {
    let mut c = launch(dir);
    c.arg("1").arg(repo_root().join("configs").join(yaml));
    let mut all: Vec<String> = [
        "train.sanity_steps=null",
        "train.max_steps=3",
        "train.threads=1",
        "comm=cpu",
        "export.dtype=f32",
    ]
    .map(String::from)
    .to_vec();
    all.push(format!("checkpoint.output_dir={}", out.display()));
    all.extend(sets.iter().cloned());
    for s in all {
        c.args(["--set", &s]);
    }
    c
}

/// transformers' `apply_chat_template` of a one-turn chat on `folder`.
fn hf_render(folder: &Path) -> String {
    let script = "import sys\nfrom transformers import AutoTokenizer\n\
        t = AutoTokenizer.from_pretrained(sys.argv[1])\n\
        m = [{'role': 'user', 'content': 'What is 2+3?'}, {'role': 'assistant', 'content': '5'}]\n\
        sys.stdout.write(t.apply_chat_template(m, tokenize=False))\n";
    let out = Command::new(python_with("transformers"))
        .args(["-c", script])
        .arg(folder)
        .output()
        .expect("run the venv's python");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn template_field(folder: &Path) -> serde_json::Value {
    let raw = std::fs::read_to_string(folder.join("tokenizer_config.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&raw).unwrap()["chat_template"].clone()
}

/// Every file of `folder` but the weights and the export's own record.
fn side_files(folder: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".safetensors") && !n.starts_with('.') && n != "README.md")
        .map(|n| (n.clone(), std::fs::read(folder.join(&n)).unwrap()))
        .collect();
    files.sort();
    files
}

/// The model card of export `folder` as a user meets it: its usage snippet
/// runs on the folder; its front matter through `yaml.safe_load` (as JSON)
/// and its text.
fn card(folder: &Path) -> (serde_json::Value, String) {
    let script = "import json, sys, yaml\n\
        card = open(sys.argv[1] + '/README.md').read()\n\
        code = card.split('```python\\n')[1].split('```')[0]\n\
        exec(code.replace('path/to/this/folder', sys.argv[1]))\n\
        print('HEADER', json.dumps(yaml.safe_load(card.split('---\\n')[1])))\n";
    let out = run_ok({
        let mut c = Command::new(python_with("transformers"));
        c.args(["-c", script]).arg(folder);
        c
    });
    let header = out
        .lines()
        .find_map(|l| l.strip_prefix("HEADER "))
        .unwrap_or_default();
    let readme = std::fs::read_to_string(folder.join("README.md")).unwrap();
    (serde_json::from_str(header).expect(&out), readme)
}

/// An SFT run of the sanity config on tokenizer `tok` with
/// `data.chat_template=template`, in `dir/sft`; its `final/`, whose
/// chat_template.jinja and tokenizer_config.json's `chat_template` must both
/// be `want`.
fn sft_final(dir: &Path, tok: &Path, template: &str, want: &str) -> PathBuf {
    let out = dir.join("sft");
    run_ok(short_run(
        dir,
        "sanity.yaml",
        &out,
        &[
            format!("data.chat_template={template}"),
            format!("model.tokenizer={}", tok.display()),
        ],
    ));
    let fin = out.join("final");
    assert_eq!(
        std::fs::read_to_string(fin.join("chat_template.jinja"))
            .expect("final/ holds chat_template.jinja"),
        want
    );
    assert_eq!(template_field(&fin), want);
    fin
}

#[test]
fn a_tulu_run_exports_its_template_and_dpo_reads_it() {
    let dir = scratch("export-tulu");
    let tok = bare_tokenizer(&dir, "tokenizer");
    let fin = sft_final(&dir, &tok, "tulu", TULU);
    // The trainer's rendering of this chat (trainer/src/data/template.rs).
    assert_eq!(
        hf_render(&fin),
        "<|user|>\nWhat is 2+3?\n<|assistant|>\n5</s>"
    );

    let offline = dir.join("offline");
    let exported = launch(&dir)
        .arg("export")
        .arg(dir.join("sft/checkpoints/step-000003"))
        .arg(&offline)
        .output()
        .unwrap();
    assert!(exported.status.success(), "{}", text(&exported));
    assert_eq!(side_files(&offline), side_files(&fin));

    let dpo = dir.join("dpo");
    run_ok(short_run(
        &dir,
        "sanity-dpo.yaml",
        &dpo,
        &[
            format!("model.path={}", fin.display()),
            "model.config=null".into(),
            "model.tokenizer=null".into(),
            "data.chat_template=model".into(),
            "train.max_steps=2".into(),
        ],
    ));
    assert!(dpo.join("final/model.safetensors").is_file());

    let (sft_head, sft_card) = card(&fin);
    assert_eq!(sft_head["tags"], serde_json::json!(["ferrospeed", "sft"]));
    assert!(sft_head.get("base_model").is_none(), "{sft_card}");
    assert!(sft_card.contains("initialised at random"), "{sft_card}");
    assert!(
        sft_card.contains("| chat template | tulu (built in) |"),
        "{sft_card}"
    );
    let (dpo_head, dpo_card) = card(&dpo.join("final"));
    assert_eq!(dpo_head["tags"], serde_json::json!(["ferrospeed", "dpo"]));
    assert_eq!(dpo_head["pipeline_tag"], "text-generation");
    assert!(
        dpo_card.contains("continuing the earlier stages listed under Training chain"),
        "{dpo_card}"
    );
    assert!(!dpo_card.contains("local folder"), "{dpo_card}");
    assert!(
        dpo_card.contains("0. start: random initialisation") && dpo_card.contains("1. SFT"),
        "{dpo_card}"
    );
    for row in [
        "| train loss (last step) |",
        "| eval loss (last evaluation) |",
        "| rewards/accuracy |",
        "| eval_rewards/accuracy |",
    ] {
        assert!(dpo_card.contains(row), "no {row:?} in\n{dpo_card}");
    }
}

#[test]
fn a_tokenizers_chat_template_jinja_is_exported() {
    let dir = scratch("export-jinja");
    let tok = bare_tokenizer(&dir, "tokenizer");
    let template = TULU.replace("<|user|>", "<|human|>");
    std::fs::write(tok.join("chat_template.jinja"), &template).unwrap();
    let fin = sft_final(&dir, &tok, "model", &template);
    assert_eq!(
        hf_render(&fin),
        "<|human|>\nWhat is 2+3?\n<|assistant|>\n5</s>"
    );
}
