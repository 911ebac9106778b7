//! Dataset folders laid out like a Hugging Face dataset: the card
//! (README.md) and dotfiles are not data, and a folder that mixes data
//! formats asks for `format:`.

mod common;

use common::{chat_tokenizer, config, msg, repo_root, scratch, write_jsonl};
use serde_json::json;
use std::path::Path;
use trainer::data::{load_samples, Dataset, Sample};

fn load(path: &Path, format: Option<&str>, out: &Path) -> anyhow::Result<Dataset> {
    let mut dataset = json!({ "path": path });
    if let Some(f) = format {
        dataset["format"] = json!(f);
    }
    let cfg = config(
        json!({"objective": "sft", "max_seq_length": 128, "shuffle": false,
        "cache": false, "chat_template": "tulu", "datasets": [dataset]}),
    );
    load_samples(&cfg, Some(&chat_tokenizer()), out)
}

fn samples(d: &Dataset) -> Vec<Sample> {
    (0..d.train.len()).map(|i| d.train.sample(i)).collect()
}

fn chats(path: &Path, n: usize) {
    let rows: Vec<_> = (0..n)
        .map(|i| json!({"messages": [msg("user", &format!("What is {i} plus 1?")), msg("assistant", &format!("{}", i + 1))]}))
        .collect();
    write_jsonl(path, &rows);
}

#[test]
fn a_folder_with_a_dataset_card_trains_on_its_jsonl_rows_only() {
    let dir = scratch("folder-card");
    let ds = dir.join("my-dataset");
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::write(
        ds.join("README.md"),
        "---\nlicense: mit\n---\n# My dataset\n\nArithmetic chats.\n",
    )
    .unwrap();
    std::fs::write(ds.join(".gitattributes"), "*.jsonl filter=lfs\n").unwrap();
    std::fs::write(ds.join("notes.txt"), "not data: there is a jsonl file\n").unwrap();
    chats(&ds.join("data.jsonl"), 7);

    let from_folder = load(&ds, None, &dir).unwrap();
    let from_file = load(&ds.join("data.jsonl"), None, &dir).unwrap();
    assert_eq!(from_folder.summary.datasets[0].rows, 7);
    assert_eq!(samples(&from_folder), samples(&from_file));
    assert_eq!(samples(&from_folder).len(), 7);
}

#[test]
fn a_folder_of_text_files_is_read_as_text_but_never_its_readme() {
    let dir = scratch("folder-text");
    let ds = dir.join("corpus");
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::write(ds.join("README.md"), "# Corpus\n").unwrap();
    std::fs::write(ds.join("a.txt"), "first document").unwrap();
    std::fs::write(ds.join("b.txt"), "second document").unwrap();
    let cfg = config(
        json!({"objective": "pretrain", "max_seq_length": 128, "shuffle": false,
        "cache": false, "datasets": [{"path": ds}]}),
    );
    let d = load_samples(&cfg, Some(&chat_tokenizer()), &dir).unwrap();
    assert_eq!(
        d.summary.datasets[0].rows, 2,
        "a.txt and b.txt, not README.md"
    );
}

#[test]
fn a_folder_that_mixes_jsonl_and_parquet_asks_for_the_format() {
    let dir = scratch("folder-mixed");
    let ds = dir.join("mixed");
    std::fs::create_dir_all(&ds).unwrap();
    chats(&ds.join("a.jsonl"), 3);
    let fixture = repo_root().join("trainer/tests/fixtures/chat.parquet");
    std::fs::copy(&fixture, ds.join("b.parquet")).unwrap();

    let e = format!(
        "{:#}",
        load(&ds, None, &dir)
            .err()
            .expect("a mixed folder is refused")
    );
    let want = format!(
        "dataset folder {} mixes data formats: jsonl (a.jsonl) and parquet (b.parquet); \
         set `format: jsonl` or `format: parquet` on this dataset to read one of them",
        ds.display()
    );
    assert_eq!(e, want);
    // With the format named, the folder reads.
    assert_eq!(
        load(&ds, Some("jsonl"), &dir).unwrap().summary.datasets[0].rows,
        3
    );
    assert_eq!(
        load(&ds, Some("parquet"), &dir).unwrap().summary.datasets[0].rows,
        6
    );
}

#[test]
fn a_folder_with_only_a_card_names_its_subfolders() {
    let dir = scratch("folder-none");
    let ds = dir.join("hub-layout");
    std::fs::create_dir_all(ds.join("data")).unwrap();
    std::fs::write(ds.join("README.md"), "# Card\n").unwrap();
    chats(&ds.join("data/train.jsonl"), 2);
    let e = format!("{:#}", load(&ds, None, &dir).err().expect("no data files"));
    assert!(
        e.contains("holds no .jsonl, .json, .parquet or .txt file (README and dotfiles are not data); its subfolders: data"),
        "{e}"
    );
}
