//! Datasets by Hub id: `{hub: ORG/NAME, split: train}` brings the split's
//! files (as the card's `configs:` names them) into the Hugging Face cache
//! the Python tools share, and trains on all their rows; `mix_ratio` is a
//! fraction up to 1 and a number of samples above; a download killed half
//! way resumes with a Range request; refusals are one line.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CARD: &str = "---\nlicense: odc-by\nconfigs:\n- config_name: default\n  data_files:\n  \
- split: train\n    path: data/train-*\n  - split: test\n    path: data/test-*\n---\n\n# Chat sums\n";

/// Rows 0..300 of the sanity chat data as two train shards (180 + 120 rows),
/// rows 300..340 as the test split.
const MAKE_DATA: &str = r#"
import json, os, sys
import pyarrow as pa, pyarrow.parquet as pq
src, out, card = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(l) for l in open(src)]
os.makedirs(f"{out}/data", exist_ok=True)
for i, part in enumerate([rows[:180], rows[180:300]]):
    pq.write_table(pa.Table.from_pylist(part), f"{out}/data/train-{i:05d}-of-00002.parquet")
pq.write_table(pa.Table.from_pylist(rows[300:340]), f"{out}/data/test-00000-of-00001.parquet")
open(f"{out}/README.md", "w").write(card)
"#;

/// The dataset uploaded as `acme/chat` by the Python client.
fn upload_dataset(hub: &LocalHub, home: &TempDir) {
    let folder = home.join("made");
    let src = repo_root().join("data/sanity-chat/sft.jsonl");
    let py = common::python_with("pyarrow");
    let args = [
        MAKE_DATA,
        src.to_str().unwrap(),
        folder.to_str().unwrap(),
        CARD,
    ];
    let out = Command::new(py).arg("-c").args(args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    upload(hub, "acme/chat", &folder);
}

/// `folder` uploaded as dataset repository `repo` by the Python client.
fn upload(hub: &LocalHub, repo: &str, folder: &Path) {
    let out = Command::new(repo_root().join("scripts/hub-python-upload"))
        .args([repo, folder.to_str().unwrap(), "--repo-type", "dataset"])
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// A run config `NAME.yaml` on the tiny sanity model with one dataset entry.
fn config(home: &TempDir, name: &str, entry: &str) -> String {
    let root = repo_root();
    let yaml = format!(
        "run_name: {name}\nmodel: {{ config: {}, tokenizer: {}, dtype: f32 }}\n\
         data: {{ objective: sft, max_seq_length: 96, chat_template: model, datasets: [{entry}] }}\n\
         train: {{ max_steps: 2, micro_batch_size: 4, effective_batch_size: 8 }}\n\
         checkpoint: {{ output_dir: {} }}\n",
        root.join("configs/models/tiny-llama.json").display(),
        root.join("data/sanity-chat").display(),
        home.join(name).display()
    );
    std::fs::write(home.join(&format!("{name}.yaml")), yaml).unwrap();
    format!("{name}.yaml")
}

fn requests(hub: &LocalHub) -> u64 {
    let (_, _, body) = http(&hub.url, "GET", "/_localhub/requests", &[], b"");
    serde_json::from_slice::<serde_json::Value>(&body).unwrap()["requests"]
        .as_u64()
        .unwrap()
}

fn snapshot(hf: &Path) -> PathBuf {
    let repo = hf.join("hub/datasets--acme--chat");
    let commit = std::fs::read_to_string(repo.join("refs/main")).unwrap();
    repo.join("snapshots").join(commit.trim())
}

fn trains(home: &TempDir, cfg: &str, env: &[(&str, &str)], line: &str) {
    let out = launch_clean(&["1", cfg], env, &home.0);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains(line), "expected {line:?} in {all}");
}

#[test]
fn a_dataset_by_id_trains_on_all_rows_of_its_split_with_ratios_and_counts() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("data-byid");
    upload_dataset(&hub, &home);
    let hf = home.join("hf");
    let env = [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
    ];
    let whole = config(&home, "whole", "{ hub: acme/chat, split: train }");
    // `launch check`, of the config and of a pipeline, says what a run would fetch.
    let p = "pipeline: p\noutput_dir: p\nstages:\n  - { name: sft, config: whole.yaml }\n";
    std::fs::write(home.join("p.yaml"), p).unwrap();
    let plan = "`data.datasets[0].hub`: acme/chat@main (commit ";
    let would = " kB): data/train-00000-of-00002.parquet, data/train-00001-of-00002.parquet";
    for args in [
        ["check", "whole.yaml", "-n", "1"],
        ["check", "p.yaml", "-n", "1"],
    ] {
        let out = launch_clean(&args, &env, &home.0);
        let all = text(&out);
        let line = all
            .lines()
            .find(|l| l.contains(plan))
            .unwrap_or_else(|| panic!("{all}"));
        assert!(out.status.success(), "{all}");
        assert!(
            line.contains("`launch` would download 2 (") && line.ends_with(would),
            "{line}"
        );
    }
    let all = "data: acme/chat: 300 rows, 300 for training, 0 for validation";
    trains(&home, &whole, &env, all);
    let snap = snapshot(&hf);
    let shard = snap.join("data/train-00001-of-00002.parquet");
    let link = std::fs::read_link(&shard).unwrap();
    assert!(link.starts_with("../../../blobs"), "{}", link.display());
    assert!(
        !snap.join("data/test-00000-of-00001.parquet").exists(),
        "another split was fetched"
    );
    let card = std::fs::read_to_string(home.join("whole/final/README.md")).unwrap();
    assert!(card.contains("datasets:\n- acme/chat\n"), "{card}");
    // Python finds the shard offline in the same cache.
    let find = "from huggingface_hub import hf_hub_download as d; \
                print(d('acme/chat', 'data/train-00000-of-00002.parquet', repo_type='dataset'))";
    let py = Command::new(common::python_with("huggingface_hub"))
        .args(["-c", find])
        .env("HF_HOME", &hf)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(text(&py).contains("snapshots"), "{}", text(&py));
    // A fraction and a count, from the cache alone: no request made.
    let before = requests(&hub);
    let offline = [env[0], env[1], ("HF_HUB_OFFLINE", "1")];
    let half = config(&home, "half", "{ hub: acme/chat, mix_ratio: 0.5 }");
    trains(
        &home,
        &half,
        &offline,
        "acme/chat: 300 rows, 150 for training",
    );
    let count = config(&home, "count", "{ hub: acme/chat, mix_ratio: 1000 }");
    trains(
        &home,
        &count,
        &offline,
        "acme/chat: 300 rows, 1000 for training",
    );
    assert_eq!(requests(&hub), before, "offline must not ask the Hub");
    let test = config(&home, "test", "{ hub: acme/chat, split: test }");
    trains(
        &home,
        &test,
        &env,
        "data: acme/chat:test: 40 rows, 40 for training",
    );
}

fn one_error(home: &Path, cfg: &str, env: &[(&str, &str)], part: &str) {
    refused_before_start(home, &[cfg], env, part);
}

#[test]
fn dataset_refusals_are_one_line_and_start_nothing() {
    let hub = LocalHub::start(&["--gated", "datasets/acme/chat=bob"]);
    let home = TempDir::new("data-byid-err");
    upload_dataset(&hub, &home);
    let hf = home.join("hf");
    let env = [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
    ];
    let gated = config(&home, "gated", "{ hub: acme/chat }");
    one_error(&home.0, &gated, &env, "(HTTP 401): it is private or gated");
    let with_token = [env[0], env[1], ("HF_TOKEN", TOKEN)];
    one_error(
        &home.0,
        &gated,
        &with_token,
        "acme/chat is gated and this token has no access",
    );
    let absent = config(&home, "absent", "{ hub: acme/none }");
    one_error(
        &home.0,
        &absent,
        &env,
        "acme/none is not a dataset repository on",
    );
    let split = config(&home, "split", "{ hub: acme/open, split: validation }");
    upload(&hub, "acme/open", &home.join("made"));
    one_error(
        &home.0,
        &split,
        &env,
        "no split `validation`; its splits: train, test",
    );
    let offline = [env[0], env[1], ("HF_HUB_OFFLINE", "1")];
    let cached = config(&home, "cached", "{ hub: acme/open }");
    one_error(
        &home.0,
        &cached,
        &offline,
        "offline (HF_HUB_OFFLINE is set)",
    );
    let both = config(&home, "both", "{ hub: acme/open, path: x.jsonl }");
    one_error(&home.0, &both, &env, "sets both `path` and `hub`");
}

/// The partial download of a blob, once it has stopped growing.
fn stalled_partial(blobs: &Path) -> (PathBuf, u64) {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(300));
        let partial = std::fs::read_dir(blobs)
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".incomplete"));
        let Some(p) = partial else { continue };
        let size = p.metadata().unwrap().len();
        if size > 0 && last == Some(size) {
            return (p.path(), size);
        }
        last = Some(size);
    }
    panic!("no partial download appeared in {}", blobs.display());
}

#[test]
fn a_download_killed_half_way_resumes_from_what_it_has() {
    let stall = "--lfs-threshold 1024 --fault stall:download:1 --slow-ms 120000";
    let stall: Vec<&str> = stall.split(' ').collect();
    let hub = LocalHub::start(&stall);
    let home = TempDir::new("data-byid-kill");
    upload_dataset(&hub, &home);
    let hf = home.join("hf");
    let env = [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
    ];
    let cfg = config(&home, "kill", "{ hub: acme/chat }");
    let mut child = launch_clean_command(&["1", &cfg], &env, &home.0)
        .spawn()
        .unwrap();
    let blobs = hf.join("hub/datasets--acme--chat/blobs");
    let (partial, have) = stalled_partial(&blobs);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        partial.is_file(),
        "the partial file must stay for the next run"
    );
    let seen = hub.log().lines().count();
    trains(
        &home,
        &cfg,
        &env,
        "data: acme/chat: 300 rows, 300 for training",
    );
    let again = hub.log_since(seen);
    let fetched: Vec<&String> = again
        .iter()
        .filter(|l| l.starts_with("GET /lfs/objects"))
        .collect();
    assert_eq!(
        fetched.len(),
        1,
        "only the partial blob is fetched again: {again:#?}"
    );
    let want = format!(" 206 - (bytes={have}-)");
    assert!(
        fetched[0].ends_with(&want),
        "expected a Range from byte {have}: {}",
        fetched[0]
    );
    assert!(
        !partial.exists(),
        "the finished blob replaces its partial file"
    );
}
