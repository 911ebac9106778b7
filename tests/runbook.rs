//! The run book as a user runs it: a model and two datasets named by Hub id
//! (served by the test Hub), SFT at 2 ranks with 8-bit AdamW, DPO from it,
//! a push when DPO finishes. It completes; a re-run skips both stages; a
//! Ctrl-C in DPO and a re-run give the same weights as the run that was
//! never stopped; the pushed repository holds the model and its card, and
//! transformers chats with it.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `folder` uploaded as `repo` (a model, or with `dataset` a dataset) by
/// the Python client, as a user's repositories are made.
pub fn upload(hub: &LocalHub, repo: &str, folder: &Path, dataset: bool) {
    let mut c = Command::new(repo_root().join("scripts/hub-python-upload"));
    c.args([repo, folder.to_str().unwrap()]);
    if dataset {
        c.args(["--repo-type", "dataset"]);
    }
    let out = c
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// A dataset repository holding `rows` as `data/train.jsonl`.
fn dataset(hub: &LocalHub, home: &TempDir, repo: &str, rows: &Path) {
    let folder = home.join(&format!("made-{}", repo.replace('/', "-")));
    std::fs::create_dir_all(folder.join("data")).unwrap();
    std::fs::copy(rows, folder.join("data/train.jsonl")).unwrap();
    upload(hub, repo, &folder, true);
}

/// The test Hub with `acme/tiny-chat` (a tiny Llama with the sanity chat
/// tokenizer), `acme/chat-sft` and `acme/chat-prefs`.
fn hub_with_repos(home: &TempDir) -> LocalHub {
    let hub = LocalHub::start(&[]);
    let folder = home.join("made-model");
    let data = repo_root().join("data/sanity-chat");
    let out = Command::new(common::python_with("transformers"))
        .args(["-c", TINY_LLAMA, folder.to_str().unwrap()])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    upload(&hub, "acme/tiny-chat", &folder, false);
    dataset(&hub, home, "acme/chat-sft", &data.join("sft.jsonl"));
    dataset(&hub, home, "acme/chat-prefs", &data.join("dpo.jsonl"));
    hub
}

/// The stage configs and a pipeline writing to `out`; returns its path.
fn pipeline(home: &TempDir, out: &str) -> String {
    let sft = "run_name: runbook-sft\n\
        model: { path: acme/tiny-chat, dtype: f32 }\n\
        data: { objective: sft, max_seq_length: 96, chat_template: model, datasets: [{ hub: acme/chat-sft }] }\n\
        train: { max_steps: 6, micro_batch_size: 4, effective_batch_size: 16, learning_rate: 3.0e-3, threads: 1 }\n\
        optimizer: { bits: 8, min_8bit_size: 1024 }\n\
        checkpoint: { every_steps: 3 }\nexport: { dtype: f32 }\ncomm: cpu\n";
    let dpo = "run_name: runbook-dpo\nmodel: { dtype: f32 }\n\
        data: { objective: dpo, max_seq_length: 96, chat_template: model, datasets: [{ hub: acme/chat-prefs }] }\n\
        train: { max_steps: 6, micro_batch_size: 4, effective_batch_size: 16, learning_rate: 1.0e-3, threads: 1 }\n\
        checkpoint: { every_steps: 2 }\nexport: { dtype: f32 }\ncomm: cpu\n\
        hub: { repo_id: acme/tiny-chat-dpo }\n";
    std::fs::write(home.join("sft.yaml"), sft).unwrap();
    std::fs::write(home.join("dpo.yaml"), dpo).unwrap();
    let p = format!(
        "pipeline: runbook\noutput_dir: {out}\nstages:\n  - {{ name: sft, config: sft.yaml }}\n  \
         - name: dpo\n    config: dpo.yaml\n    from: sft\n    set: {{ hub.push: on_finish }}\n"
    );
    let name = format!("{out}.yaml");
    std::fs::write(home.join(&name), p).unwrap();
    name
}

fn env<'a>(hub: &'a LocalHub, hf: &'a Path) -> [(&'a str, &'a str); 3] {
    [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
        ("HF_TOKEN", TOKEN),
    ]
}

/// Files of the pushed repository, as a fresh download sees them.
fn pushed_files(hub: &LocalHub) -> Vec<String> {
    let auth = format!("Bearer {TOKEN}");
    let (status, _, body) = http(
        &hub.url,
        "GET",
        "/api/models/acme/tiny-chat-dpo",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
    info["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rfilename"].as_str().unwrap().to_string())
        .collect()
}

const CHAT: &str = r#"
from huggingface_hub import snapshot_download
from transformers import AutoModelForCausalLM, AutoTokenizer
path = snapshot_download("acme/tiny-chat-dpo")
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path)
text = tok.apply_chat_template([{"role": "user", "content": "What is 2 plus 3?"}],
                               tokenize=False, add_generation_prompt=True)
ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
out = model.generate(ids, max_new_tokens=6, do_sample=False)
print("generated", out.shape[1] - ids.shape[1], "tokens")
"#;

/// Sends SIGINT to `launch` once `marker` exists; its exit status.
fn ctrl_c_when(mut child: std::process::Child, marker: &Path) -> std::process::ExitStatus {
    let start = Instant::now();
    while !marker.is_file() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no {}",
            marker.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: a signal to the launcher this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    common::wait_within(&mut child, Duration::from_secs(120))
}

fn final_weights(home: &TempDir, out: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    common::tensor_bytes(&home.join(out).join("dpo/final/model.safetensors"))
}

#[test]
fn the_run_book_by_hub_ids_completes_resumes_and_pushes_a_model_that_chats() {
    let home = TempDir::new("runbook");
    let hub = hub_with_repos(&home);
    let hf = home.join("hf");
    let env = env(&hub, &hf);
    let p = pipeline(&home, "out");
    let first = launch_clean(&["2", &p], &env, &home.0);
    let said = text(&first);
    assert!(first.status.success(), "{said}");
    assert!(said.contains("pipeline runbook complete"), "{said}");

    let again = text(&launch_clean(&["2", &p], &env, &home.0));
    assert!(again.contains("sft: completed, skipped"), "{again}");
    assert!(again.contains("dpo: completed, skipped"), "{again}");

    let files = pushed_files(&hub);
    assert!(
        files.contains(&"model.safetensors".to_string()),
        "{files:?}"
    );
    let internal: Vec<&String> = files.iter().filter(|f| f.starts_with('.')).collect();
    assert!(internal.is_empty(), "tool files were pushed: {internal:?}");
    let card = std::fs::read_to_string(home.join("out/dpo/final/README.md")).unwrap();
    for named in [
        "acme/tiny-chat",
        "acme/chat-sft",
        "acme/chat-prefs",
        "SFT",
        "DPO",
    ] {
        assert!(
            card.contains(named),
            "the card does not name {named}:\n{card}"
        );
    }
    assert!(!card.contains("local folder"), "{card}");

    let py = common::python_with("transformers");
    let chat = Command::new(py)
        .args(["-c", CHAT])
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HOME", home.join("hf-reader"))
        .env("HF_TOKEN", TOKEN)
        .output()
        .unwrap();
    // It answers (greedy, at most 6 tokens; it may stop at its end of turn).
    let said = text(&chat);
    let n: Option<u32> = said
        .split("generated ")
        .nth(1)
        .and_then(|r| r.split(' ').next()?.parse().ok());
    assert!(n.is_some_and(|n| (1..=6).contains(&n)), "{said}");

    // The same run book, stopped by Ctrl-C in DPO, then run again.
    let p2 = pipeline(&home, "out2");
    let child = launch_clean_command(&["2", &p2], &env, &home.0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = ctrl_c_when(
        child,
        &home.join("out2/dpo/checkpoints/step-000002/COMPLETE"),
    );
    assert_eq!(status.code(), Some(130), "{status:?}");
    let table = text(&launch_clean(&["status", "out2"], &[], &home.0));
    assert!(table.contains("interrupted"), "{table}");
    assert!(table.contains("resumes stage dpo"), "{table}");
    let resumed = launch_clean(&["2", &p2], &env, &home.0);
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(
        text(&resumed).contains("sft: completed, skipped"),
        "{}",
        text(&resumed)
    );
    assert!(
        final_weights(&home, "out") == final_weights(&home, "out2"),
        "the resumed DPO stage ended with other weights than the uninterrupted one"
    );
}
