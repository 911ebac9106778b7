//! Models by Hub id: `model.path: ORG/NAME` is brought into the Hugging Face
//! cache the Python tools share (blobs, relative links, refs) before any rank
//! starts; transformers then loads it offline; a cache Python filled is used
//! offline with no request; a corrupted blob is fetched again; refusals are
//! one line and exit 2.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// The venv's Python with transformers (a fresh checkout has only torch).
fn python() -> std::path::PathBuf {
    common::python_with("transformers")
}

/// A tiny Llama uploaded as `repo` by the Python client.
fn tiny_model(hub: &LocalHub, home: &TempDir, repo: &str) {
    let folder = home.join("made");
    let data = repo_root().join("data/sanity-chat");
    let out = Command::new(python())
        .args([
            "-c",
            TINY_LLAMA,
            folder.to_str().unwrap(),
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = Command::new(repo_root().join("scripts/hub-python-upload"))
        .args([repo, folder.to_str().unwrap()])
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

fn config(home: &TempDir, model: &str) -> String {
    let data = repo_root().join("data/sanity-chat/sft.jsonl");
    let yaml = format!(
        "run_name: byid\nmodel: {{ path: {model}, dtype: f32 }}\n\
         data: {{ objective: sft, max_seq_length: 64, chat_template: tulu, datasets: [{{ path: {} }}] }}\n\
         train: {{ max_steps: 2, micro_batch_size: 1, effective_batch_size: 2 }}\n\
         checkpoint: {{ output_dir: {} }}\n",
        data.display(),
        home.join("out").display()
    );
    std::fs::write(home.join("c.yaml"), yaml).unwrap();
    "c.yaml".into()
}

fn requests(hub: &LocalHub) -> u64 {
    let (_, _, body) = http(&hub.url, "GET", "/_localhub/requests", &[], b"");
    serde_json::from_slice::<serde_json::Value>(&body).unwrap()["requests"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_model_by_id_is_downloaded_into_the_shared_cache_and_trains() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("byid");
    tiny_model(&hub, &home, "acme/tiny");
    let cfg = config(&home, "acme/tiny");
    let hf = home.join("hf");
    let env = [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
    ];
    let out = launch_clean(&["2", &cfg], &env, &home.0);
    assert!(out.status.success(), "{}", text(&out));
    let cache = hf.join("hub/models--acme--tiny");
    let commit = std::fs::read_to_string(cache.join("refs/main")).unwrap();
    let weights = cache
        .join("snapshots")
        .join(commit.trim())
        .join("model.safetensors");
    assert!(std::fs::read_link(&weights)
        .unwrap()
        .starts_with("../../blobs"));
    assert!(home.join("out/final/config.json").is_file());
    // transformers finds it offline in the same cache.
    let load = "from transformers import AutoModelForCausalLM as M; M.from_pretrained('acme/tiny'); print('loaded')";
    let py = Command::new(python())
        .args(["-c", load])
        .env("HF_HOME", &hf)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&py.stdout).contains("loaded"),
        "{}",
        text(&py)
    );
    // A blob changed in place is found by its hash and fetched again.
    let blob = std::fs::canonicalize(&weights).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[200] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let out = launch_clean(&["check", &cfg, "-n", "1"], &env, &home.0);
    assert!(
        text(&out).contains("model.safetensors does not match its hash"),
        "{}",
        text(&out)
    );
    let out = launch_clean(
        &["1", &cfg, "--set", "checkpoint.resume=never"],
        &env,
        &home.0,
    );
    assert!(out.status.success(), "{}", text(&out));
    bytes[200] ^= 0xff;
    assert_eq!(
        std::fs::read(&blob).unwrap(),
        bytes,
        "the blob was not restored"
    );
}

#[test]
fn a_cache_python_filled_is_used_offline_without_a_request() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("byid-py");
    tiny_model(&hub, &home, "acme/tiny");
    let hf = home.join("hf");
    let fill = "from huggingface_hub import snapshot_download as s; s('acme/tiny')";
    let py = Command::new(python())
        .args(["-c", fill])
        .env("HF_HOME", &hf)
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HUB_DISABLE_XET", "1")
        .output()
        .unwrap();
    assert!(py.status.success(), "{}", text(&py));
    let before = requests(&hub);
    let cfg = config(&home, "acme/tiny");
    let env = [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
        ("HF_HUB_OFFLINE", "1"),
    ];
    let out = launch_clean(&["1", &cfg], &env, &home.0);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(requests(&hub), before, "offline must not ask the Hub");
}

fn refused(home: &Path, cfg: &str, env: &[(&str, &str)], set: &str, part: &str) {
    refused_before_start(home, &[cfg, "--set", set], env, part);
}

#[test]
fn refusals_are_one_line_and_start_nothing() {
    let hub = LocalHub::start(&["--gated", "acme/gated=bob"]);
    let home = TempDir::new("byid-err");
    tiny_model(&hub, &home, "acme/tiny");
    tiny_model(&hub, &home, "acme/gated");
    let cfg = config(&home, "acme/tiny");
    let hf = home.join("hf");
    let hf = hf.to_str().unwrap();
    let env = [("HF_ENDPOINT", hub.url.as_str()), ("HF_HOME", hf)];
    refused(
        &home.0,
        &cfg,
        &env,
        "model.path=acme/gated",
        "(HTTP 401): it is private or gated",
    );
    let with_token = [env[0], env[1], ("HF_TOKEN", TOKEN)];
    refused(
        &home.0,
        &cfg,
        &with_token,
        "model.path=acme/gated",
        "acme/gated is gated and this token has no access",
    );
    refused(
        &home.0,
        &cfg,
        &env,
        "model.path=acme/none",
        "acme/none is not a local folder and not a repository",
    );
    refused(
        &home.0,
        &cfg,
        &env,
        "model.revision=nobranch",
        "acme/tiny has no revision \"nobranch\"",
    );
    let offline = [env[0], env[1], ("HF_HUB_OFFLINE", "1")];
    refused(
        &home.0,
        &cfg,
        &offline,
        "model.path=acme/tiny",
        "offline (HF_HUB_OFFLINE is set) and acme/tiny@main is not in the cache",
    );
}
