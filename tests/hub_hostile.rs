//! A hostile Hub behind `HF_ENDPOINT` cannot make `launch` write or read
//! outside the Hugging Face cache: a blob name, a commit id or a file name
//! that would become a path leaving the cache is refused with one line
//! naming the repository and the name (exit 2), and nothing is written:
//! no blob, lock, partial download, symlink or refs file, in the cache or
//! beside it.

mod common;

use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// A scratch folder holding the cache (`hf/`) and, beside it, a `victim/`
/// folder that the hostile names aim at.
struct Scratch {
    home: TempDir,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let home = TempDir::new(tag);
        let victim = home.join("victim");
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(victim.join("x"), "precious\n").unwrap();
        let row = r#"{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "planted"}]}"#;
        std::fs::write(victim.join("train.jsonl"), format!("{row}\n").repeat(40)).unwrap();
        Scratch { home }
    }

    fn victim(&self) -> BTreeMap<String, Vec<u8>> {
        entries(&self.home.join("victim"))
    }

    /// A run config on the model `model`, or on the sanity model with the
    /// dataset `dataset`.
    fn config(&self, model: Option<&str>, dataset: Option<&str>) -> String {
        let root = repo_root();
        let model = match model {
            Some(id) => format!("{{ path: {id}, dtype: f32 }}"),
            None => format!(
                "{{ config: {}, tokenizer: {}, dtype: f32 }}",
                root.join("configs/models/tiny-llama.json").display(),
                root.join("data/sanity-chat").display()
            ),
        };
        let data = match dataset {
            Some(id) => format!("{{ hub: {id}, split: train }}"),
            None => format!(
                "{{ path: {} }}",
                root.join("data/sanity-chat/sft.jsonl").display()
            ),
        };
        let yaml = format!(
            "run_name: hostile\nmodel: {model}\n\
             data: {{ objective: sft, max_seq_length: 64, chat_template: tulu, datasets: [{data}] }}\n\
             train: {{ max_steps: 2, micro_batch_size: 1, effective_batch_size: 2 }}\n\
             checkpoint: {{ output_dir: {} }}\n",
            self.home.join("out").display()
        );
        std::fs::write(self.home.join("c.yaml"), yaml).unwrap();
        "c.yaml".into()
    }
}

/// Every file and symlink under `dir` (links not followed), with its bytes
/// (a link's target for a link).
fn entries(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let (path, kind) = (e.path(), e.file_type().unwrap());
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(name, target.display().to_string().into_bytes());
            } else {
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// `acme/tiny`: a small model repository pushed with `launch push`.
fn model_repo(hub: &LocalHub, s: &Scratch) {
    let folder = s.home.join("made");
    std::fs::create_dir_all(&folder).unwrap();
    let root = repo_root();
    std::fs::copy(
        root.join("configs/models/tiny-llama.json"),
        folder.join("config.json"),
    )
    .unwrap();
    std::fs::copy(
        root.join("data/sanity-chat/tokenizer.json"),
        folder.join("tokenizer.json"),
    )
    .unwrap();
    std::fs::write(folder.join("model.safetensors"), bytes(7, 4096)).unwrap();
    let out = launch_clean(
        &[
            "push",
            folder.to_str().unwrap(),
            "--repo",
            "acme/tiny",
            "--public",
        ],
        &[("HF_ENDPOINT", &hub.url), ("HF_TOKEN", TOKEN)],
        &s.home.0,
    );
    assert!(out.status.success(), "{}", text(&out));
    std::fs::remove_dir_all(&folder).unwrap();
}

/// `acme/chat`: a dataset repository with a card and a note, committed
/// through the Hub's API.
fn dataset_repo(hub: &LocalHub) {
    let auth = format!("Bearer {TOKEN}");
    let h = |ct: &'static str| vec![("Authorization", auth.as_str()), ("Content-Type", ct)];
    let create = json!({ "name": "chat", "organization": "acme", "type": "dataset" });
    let body = create.to_string();
    let made = http(
        &hub.url,
        "POST",
        "/api/repos/create",
        &h("application/json"),
        body.as_bytes(),
    );
    assert_eq!(made.0, 200, "{}", String::from_utf8_lossy(&made.2));
    let line =
        |key: &str, value: serde_json::Value| json!({ "key": key, "value": value }).to_string();
    let body = [
        line("header", json!({ "summary": "card", "description": "" })),
        line(
            "file",
            json!({ "path": "README.md", "content": "IyBjaGF0Cg==", "encoding": "base64" }),
        ),
        line(
            "file",
            json!({ "path": "notes.txt", "content": "aGkK", "encoding": "base64" }),
        ),
    ]
    .join("\n");
    let path = "/api/datasets/acme/chat/commit/main";
    let done = http(
        &hub.url,
        "POST",
        path,
        &h("application/x-ndjson"),
        body.as_bytes(),
    );
    assert_eq!(done.0, 200, "{}", String::from_utf8_lossy(&done.2));
}

/// `launch check` and `launch 1` each exit 2 with one error line naming
/// the repository and the hostile name, and leave the cache empty and the
/// victim folder as it was.
fn refused_writing_nothing(s: &Scratch, hub: &LocalHub, cfg: &str, repo: &str, name: &str) {
    let before = s.victim();
    let hf = s.home.join("hf");
    let env = [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
    ];
    for first in ["check", "1"] {
        let args = match first {
            "check" => vec!["check", cfg, "-n", "1"],
            _ => vec![first, cfg],
        };
        let out = launch_clean(&args, &env, &s.home.0);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "launch {first}: {all}");
        let errors: Vec<&str> = all.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(errors.len(), 1, "launch {first}: {all}");
        let quoted = format!("{name:?}");
        assert!(
            errors[0].contains(repo) && errors[0].contains(&quoted),
            "launch {first}: expected {repo} and {quoted} in: {all}"
        );
        assert!(
            !all.contains("rank(s) on this node"),
            "nothing may start: {all}"
        );
        assert_eq!(
            s.victim(),
            before,
            "launch {first} changed the folder beside the cache"
        );
        let cached = entries(&hf);
        assert!(
            cached.is_empty(),
            "launch {first} wrote into the cache: {:?}",
            cached.keys()
        );
    }
}

#[test]
fn a_blob_name_that_climbs_out_of_the_cache_is_refused_and_nothing_is_written() {
    let name = "../../../../victim/x";
    let hub = LocalHub::start(&["--hostile", &format!("etag={name}")]);
    let s = Scratch::new("hostile-etag");
    model_repo(&hub, &s);
    let cfg = s.config(Some("acme/tiny"), None);
    refused_writing_nothing(&s, &hub, &cfg, "acme/tiny", name);
}

#[test]
fn a_commit_id_that_climbs_out_of_the_cache_is_refused_and_nothing_is_written() {
    let name = "../../../../victim";
    let hub = LocalHub::start(&["--hostile", &format!("sha={name}")]);
    let s = Scratch::new("hostile-sha");
    model_repo(&hub, &s);
    let cfg = s.config(Some("acme/tiny"), None);
    refused_writing_nothing(&s, &hub, &cfg, "acme/tiny", name);
}

#[test]
fn a_model_listing_with_a_parent_folder_file_name_is_refused() {
    let name = "../x";
    let hub = LocalHub::start(&["--hostile", &format!("sibling={name}")]);
    let s = Scratch::new("hostile-sibling");
    model_repo(&hub, &s);
    let cfg = s.config(Some("acme/tiny"), None);
    refused_writing_nothing(&s, &hub, &cfg, "acme/tiny", name);
}

#[test]
fn a_dataset_file_named_by_an_absolute_path_is_refused_never_read_as_training_data() {
    let s = Scratch::new("hostile-abs");
    let name = s.home.join("victim/train.jsonl").display().to_string();
    let hub = LocalHub::start(&["--hostile", &format!("sibling={name}")]);
    dataset_repo(&hub);
    let cfg = s.config(None, Some("acme/chat"));
    refused_writing_nothing(&s, &hub, &cfg, "acme/chat", &name);
}
