//! The local Hub serves downloads as the Hub does: the real `huggingface_hub`
//! client's `snapshot_download` fills an HF cache from it (blobs, relative
//! symlinks, refs), reads the Hub's error codes, and `Range` works.

mod common;

use common::*;
use std::process::Command;

/// Downloads `acme/model` with Python into `HF_HOME=home`, then prints the
/// exception class of four failing downloads, one a line.
const PY: &str = r#"
import sys
from huggingface_hub import snapshot_download, hf_hub_download
print(snapshot_download("acme/model"))
for repo, file, rev in [("acme/gated", "config.json", "main"), ("acme/none", "config.json", "main"),
                        ("acme/model", "config.json", "nobranch"), ("acme/model", "nofile.json", "main")]:
    try:
        hf_hub_download(repo, file, revision=rev)
        print("no error")
    except Exception as e:
        print(type(e).__name__)
"#;

fn upload(hub: &LocalHub, repo: &str, folder: &std::path::Path) {
    let out = Command::new(repo_root().join("scripts/hub-python-upload"))
        .args([repo, folder.to_str().unwrap()])
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_TOKEN", TOKEN)
        .output()
        .expect("run scripts/hub-python-upload");
    assert!(out.status.success(), "upload failed:\n{}", text(&out));
}

fn requests(hub: &LocalHub) -> u64 {
    let (_, _, body) = http(&hub.url, "GET", "/_localhub/requests", &[], b"");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["requests"].as_u64().unwrap()
}

#[test]
fn python_snapshot_download_fills_the_hf_cache_from_the_local_hub() {
    let hub = LocalHub::start(&["--gated", "acme/gated=bob"]);
    let home = TempDir::new("dl-home");
    let folder = home.join("final");
    make_final(&folder);
    upload(&hub, "acme/model", &folder);
    upload(&hub, "acme/gated", &folder);
    let before = requests(&hub);
    let out = Command::new(repo_root().join(".venv/bin/python"))
        .args(["-c", PY])
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HOME", home.join("hf"))
        .env("HF_HUB_DISABLE_XET", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .env_remove("HF_TOKEN")
        .output()
        .expect("run python");
    let all = text(&out);
    assert!(out.status.success(), "python failed:\n{all}");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    let snapshot = std::path::PathBuf::from(lines[0]);
    assert_same_files(&folder, &snapshot);
    let cache = home.join("hf/hub/models--acme--model");
    let commit = std::fs::read_to_string(cache.join("refs/main")).unwrap();
    assert_eq!(snapshot, cache.join("snapshots").join(commit.trim()));
    let link = std::fs::read_link(snapshot.join("config.json")).unwrap();
    assert!(
        link.starts_with("../../blobs"),
        "not a relative blob link: {link:?}"
    );
    assert_eq!(
        lines[1..],
        [
            "GatedRepoError",
            "RepositoryNotFoundError",
            "RevisionNotFoundError",
            "RemoteEntryNotFoundError"
        ],
        "{all}"
    );
    assert!(
        requests(&hub) > before + 5,
        "the request counter did not move"
    );
}

#[test]
fn resolve_answers_ranges_and_redirects_lfs_files() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("dl-range");
    let folder = home.join("final");
    make_final(&folder);
    upload(&hub, "acme/model", &folder);
    let config = std::fs::read(folder.join("config.json")).unwrap();
    let path = "/acme/model/resolve/main/config.json";
    let (status, headers, body) = http(&hub.url, "GET", path, &[("Range", "bytes=5-")], b"");
    assert_eq!(status, 206);
    assert_eq!(body, config[5..]);
    assert!(headers.iter().any(|(k, _)| k == "x-repo-commit"));
    let shard = "/acme/model/resolve/main/model-00001-of-00003.safetensors";
    let (status, headers, _) = http(&hub.url, "HEAD", shard, &[], b"");
    assert_eq!(status, 302);
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get("x-linked-size").as_deref(), Some("2600000"));
    let location = get("location").expect("a redirect");
    assert!(
        !location.starts_with(&hub.url),
        "LFS bytes must come from another origin"
    );
    let (status, _, bytes) = http(&location, "GET", &location, &[("Range", "bytes=0-9")], b"");
    assert_eq!((status, bytes.len()), (206, 10));
}
