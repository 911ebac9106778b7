//! The run book as a user runs it, for any model: the model and two
//! datasets uploaded to the test Hub, a pipeline of SFT at 2 ranks with
//! 8-bit AdamW then DPO from it, pushed when DPO finishes, and the checks
//! made on what it leaves (the pushed files, a chat through transformers, a
//! Ctrl-C in DPO and a re-run).

use super::{http, launch_clean, launch_clean_command, python_with, repo_root, text};
use super::{tensor_bytes, wait_within, LocalHub, TempDir, TOKEN};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One run book: the model it starts from and where DPO pushes.
pub struct RunBook {
    /// Hub id the made model is uploaded as, and SFT starts from.
    pub model: String,
    /// Hub id DPO pushes its final model to.
    pub pushed: String,
    /// Python that saves the model: `python -c MAKE OUT TOKENIZER_FOLDER`.
    pub make: String,
    /// A `lora:` section both stages train with (None: every weight).
    pub lora: Option<String>,
}

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
pub fn dataset(hub: &LocalHub, home: &TempDir, repo: &str, rows: &Path) {
    let folder = home.join(&format!("made-{}", repo.replace('/', "-")));
    std::fs::create_dir_all(folder.join("data")).unwrap();
    std::fs::copy(rows, folder.join("data/train.jsonl")).unwrap();
    upload(hub, repo, &folder, true);
}

/// The Hub variables `launch` and the Python client need.
pub fn env<'a>(hub: &'a LocalHub, hf: &'a Path) -> [(&'a str, &'a str); 3] {
    [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
        ("HF_TOKEN", TOKEN),
    ]
}

/// The first word after `label` in `said`, as the chat check prints it.
pub fn said_after(said: &str, label: &str) -> Option<String> {
    let rest = said.split(&format!("{label} ")).nth(1)?;
    Some(rest.split_whitespace().next()?.to_string())
}

/// Downloads `argv[1]` from the Hub, prints its class, `model_type` and
/// `architectures`, and how many tokens it generates (greedy, at most 6).
const CHAT: &str = r#"
import json, sys
from huggingface_hub import snapshot_download
from transformers import AutoModelForCausalLM, AutoTokenizer
path = snapshot_download(sys.argv[1])
config = json.load(open(f"{path}/config.json"))
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path)
print("class", type(model).__name__)
print("model_type", config["model_type"])
print("architectures", ",".join(config["architectures"]))
text = tok.apply_chat_template([{"role": "user", "content": "What is 2 plus 3?"}],
                               tokenize=False, add_generation_prompt=True)
ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
out = model.generate(ids, max_new_tokens=6, do_sample=False)
print("generated", out.shape[1] - ids.shape[1], "tokens")
"#;

impl RunBook {
    /// The test Hub with the made model, `acme/chat-sft` and `acme/chat-prefs`.
    pub fn hub(&self, home: &TempDir) -> LocalHub {
        let hub = LocalHub::start(&[]);
        let folder = home.join("made-model");
        let data = repo_root().join("data/sanity-chat");
        let out = Command::new(python_with("transformers"))
            .args(["-c", &self.make, folder.to_str().unwrap()])
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        upload(&hub, &self.model, &folder, false);
        dataset(&hub, home, "acme/chat-sft", &data.join("sft.jsonl"));
        dataset(&hub, home, "acme/chat-prefs", &data.join("dpo.jsonl"));
        hub
    }

    /// The stage configs and a pipeline writing to `out`; returns its path.
    pub fn pipeline(&self, home: &TempDir, out: &str) -> String {
        let (model, pushed) = (&self.model, &self.pushed);
        let lora = self
            .lora
            .as_deref()
            .map_or(String::new(), |l| format!("lora: {l}\n"));
        let sft = format!(
            "run_name: runbook-sft\n\
            model: {{ path: {model}, dtype: f32 }}\n\
            data: {{ objective: sft, max_seq_length: 96, chat_template: model, datasets: [{{ hub: acme/chat-sft }}] }}\n\
            train: {{ max_steps: 6, micro_batch_size: 4, effective_batch_size: 16, learning_rate: 3.0e-3, threads: 1 }}\n\
            optimizer: {{ bits: 8, min_8bit_size: 1024 }}\n\
            checkpoint: {{ every_steps: 3 }}\nexport: {{ dtype: f32 }}\ncomm: cpu\n{lora}"
        );
        let dpo = format!(
            "run_name: runbook-dpo\nmodel: {{ dtype: f32 }}\n\
            data: {{ objective: dpo, max_seq_length: 96, chat_template: model, datasets: [{{ hub: acme/chat-prefs }}] }}\n\
            train: {{ max_steps: 6, micro_batch_size: 4, effective_batch_size: 16, learning_rate: 1.0e-3, threads: 1 }}\n\
            checkpoint: {{ every_steps: 2 }}\nexport: {{ dtype: f32 }}\ncomm: cpu\n\
            hub: {{ repo_id: {pushed} }}\n{lora}"
        );
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

    /// Files of the pushed repository, as a fresh download sees them.
    pub fn pushed_files(&self, hub: &LocalHub) -> Vec<String> {
        let auth = format!("Bearer {TOKEN}");
        let path = format!("/api/models/{}", self.pushed);
        let (status, _, body) = http(&hub.url, "GET", &path, &[("Authorization", &auth)], b"");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
        info["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["rfilename"].as_str().unwrap().to_string())
            .collect()
    }

    /// Runs the pipeline (writing to `out/`) at 2 ranks, as a user runs it,
    /// and asserts it completes; returns the pipeline file and what `launch`
    /// said.
    pub fn run(&self, hub: &LocalHub, home: &TempDir) -> (String, String) {
        let hf = home.join("hf");
        let p = self.pipeline(home, "out");
        let first = launch_clean(&["2", &p], &env(hub, &hf), &home.0);
        let said = text(&first);
        assert!(first.status.success(), "{}: {said}", self.model);
        let done = said.contains("pipeline runbook complete");
        assert!(done, "{}: {said}", self.model);
        (p, said)
    }

    /// Downloads the pushed model with transformers and chats with it;
    /// asserts it answers (greedy, at most 6 tokens; it may stop at its end
    /// of turn) and returns what the check printed.
    pub fn chat(&self, hub: &LocalHub, home: &TempDir) -> String {
        self.chat_with(hub, home, "transformers", CHAT)
    }

    /// Runs `script` (Python with `package` installed) on the pushed
    /// repository's id, reading from the test Hub as a fresh user; asserts
    /// it generated 1 to 6 tokens and returns what it printed.
    pub fn chat_with(&self, hub: &LocalHub, home: &TempDir, package: &str, script: &str) -> String {
        let chat = Command::new(python_with(package))
            .args(["-c", script, &self.pushed])
            .env("HF_ENDPOINT", &hub.url)
            .env("HF_HOME", home.join("hf-reader"))
            .env("HF_TOKEN", TOKEN)
            .output()
            .unwrap();
        let said = text(&chat);
        assert!(chat.status.success(), "{said}");
        let n: Option<u32> = said_after(&said, "generated").and_then(|n| n.parse().ok());
        assert!(n.is_some_and(|n| (1..=6).contains(&n)), "{said}");
        said
    }

    /// The run book again into `out2`, stopped by Ctrl-C in DPO, then run
    /// again: it resumes DPO and ends with the weights of `out`.
    pub fn assert_ctrl_c_resumes_to_same_weights(&self, home: &TempDir, env: &[(&str, &str)]) {
        let p2 = self.pipeline(home, "out2");
        let child = launch_clean_command(&["2", &p2], env, &home.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
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
        let resumed = launch_clean(&["2", &p2], env, &home.0);
        assert!(resumed.status.success(), "{}", text(&resumed));
        assert!(
            text(&resumed).contains("sft: completed, skipped"),
            "{}",
            text(&resumed)
        );
        assert!(
            final_weights(home, "out") == final_weights(home, "out2"),
            "the resumed DPO stage ended with other weights than the uninterrupted one"
        );
    }
}

/// Sends SIGINT to `launch` once `marker` exists; its exit status.
fn ctrl_c_when(mut child: Child, marker: &Path) -> ExitStatus {
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
    wait_within(&mut child, Duration::from_secs(120))
}

/// The tensors of the final DPO model (or adapters) under `out`, as raw bytes.
pub fn final_weights(home: &TempDir, out: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = home.join(out).join("dpo/final");
    let adapter = dir.join("adapter_model.safetensors");
    match adapter.is_file() {
        true => tensor_bytes(&adapter),
        false => tensor_bytes(&dir.join("model.safetensors")),
    }
}
