//! Messages that point the right way: a repository that does not exist,
//! asked for with a valid token, is said not to exist (not to need a
//! token); a loss that is not finite at the first step points at the
//! model, not at the learning rate.

mod common;

use common::*;

#[test]
fn a_missing_repo_asked_with_a_valid_token_is_said_not_to_exist() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("missing-repo");
    let data = repo_root().join("data/sanity-chat/sft.jsonl");
    let yaml = format!(
        "run_name: t\nmodel: {{ path: acme/none }}\ndata: {{ datasets: [{{ path: {} }}] }}\ntrain: {{ max_steps: 1 }}\n",
        data.display()
    );
    std::fs::write(home.join("c.yaml"), yaml).unwrap();
    let hf = home.join("hf");
    let env = [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
        ("HF_TOKEN", TOKEN),
    ];
    refused_before_start(&home.0, &["c.yaml"], &env, "so it does not exist");
    let out = text(&launch_clean(&["check", "c.yaml"], &env, &home.0));
    assert!(!out.contains("needs a token"), "{out}");
}

const NAN_MODEL: &str = r#"
import shutil, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
out, data = sys.argv[1], sys.argv[2]
c = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
m = LlamaForCausalLM(c)
with torch.no_grad():
    m.model.layers[0].mlp.up_proj.weight[0, 0] = float("nan")
m.save_pretrained(out)
for f in ["tokenizer.json", "tokenizer_config.json"]:
    shutil.copy(f"{data}/{f}", f"{out}/{f}")
"#;

#[test]
fn a_loss_that_is_not_finite_at_the_first_step_points_at_the_model_not_the_learning_rate() {
    let home = TempDir::new("nan-first");
    let model = home.join("model");
    let chat = repo_root().join("data/sanity-chat");
    let out = std::process::Command::new(common::python_with("transformers"))
        .args(["-c", NAN_MODEL, model.to_str().unwrap()])
        .arg(&chat)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let yaml = format!(
        "run_name: t\nmodel: {{ path: {}, dtype: f32 }}\n\
         data: {{ objective: sft, max_seq_length: 64, chat_template: tulu, datasets: [{{ path: {} }}] }}\n\
         train: {{ max_steps: 2, micro_batch_size: 2, effective_batch_size: 2, learning_rate: 0.0 }}\n\
         checkpoint: {{ output_dir: {} }}\n",
        model.display(),
        chat.join("sft.jsonl").display(),
        home.join("out").display()
    );
    std::fs::write(home.join("c.yaml"), yaml).unwrap();
    let out = launch_clean(&["1", "c.yaml"], &[], &home.0);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("not from the learning rate"), "{said}");
    assert!(!said.contains("lower the learning rate"), "{said}");
}
