use super::split_files;

fn listing(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const TULU_CARD: &str = "---\nlicense: odc-by\nconfigs:\n- config_name: default\n  data_files:\n  \
     - split: train\n    path: data/train-*\ndataset_info:\n  features:\n  - name: id\n    dtype: string\n---\n\n# Tulu 3 SFT\n";

#[test]
fn the_cards_configs_pick_the_split_files() {
    let files = listing(&[
        ".gitattributes",
        "README.md",
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
        "data/test-00000-of-00001.parquet",
    ]);
    let got = split_files(&files, Some(TULU_CARD), None, "train").unwrap();
    assert_eq!(
        got,
        [
            "data/train-00000-of-00002.parquet",
            "data/train-00001-of-00002.parquet"
        ]
    );
    let e = split_files(&files, Some(TULU_CARD), None, "test").unwrap_err();
    assert!(e.contains("no split `test`; its splits: train"), "{e}");
    let e = split_files(&files, Some(TULU_CARD), Some("sft"), "train").unwrap_err();
    assert!(e.contains("no configuration `sft`; it has: default"), "{e}");
}

#[test]
fn several_configs_need_a_name_and_data_files_may_be_plain_patterns() {
    let card = "---\nconfigs:\n- config_name: en\n  data_files: en/*.jsonl\n- config_name: fr\n  \
                data_files:\n  - fr/a.jsonl\n  - fr/b.jsonl\n---\n";
    let files = listing(&["en/x.jsonl", "fr/a.jsonl", "fr/b.jsonl", "fr/c.jsonl"]);
    let e = split_files(&files, Some(card), None, "train").unwrap_err();
    assert!(
        e.contains("several configurations (en, fr): set `name:`"),
        "{e}"
    );
    let fr = split_files(&files, Some(card), Some("fr"), "train").unwrap();
    assert_eq!(fr, ["fr/a.jsonl", "fr/b.jsonl"]);
    assert_eq!(
        split_files(&files, Some(card), Some("en"), "train").unwrap(),
        ["en/x.jsonl"]
    );
}

#[test]
fn without_configs_the_conventional_names_hold() {
    let files = listing(&[
        "README.md",
        "data/train-00000-of-00001.parquet",
        "data/validation-00000-of-00001.parquet",
        "data/test-00000-of-00001.parquet",
    ]);
    let card = Some("---\nlicense: mit\n---\n# a card without configs\n");
    let val = split_files(&files, card, None, "validation").unwrap();
    assert_eq!(val, ["data/validation-00000-of-00001.parquet"]);
    let train = split_files(&files, None, None, "train").unwrap();
    assert_eq!(train, ["data/train-00000-of-00001.parquet"]);
    // A keyword inside a word is not a split name: "trainer" is not "train".
    let words = listing(&["trainer_notes.jsonl", "dev.jsonl", "train.jsonl"]);
    assert_eq!(
        split_files(&words, None, None, "train").unwrap(),
        ["train.jsonl"]
    );
    assert_eq!(
        split_files(&words, None, None, "validation").unwrap(),
        ["dev.jsonl"]
    );
    // Folders named by split come first.
    let dirs = listing(&["train/a.parquet", "train/b.parquet", "test/c.parquet"]);
    assert_eq!(
        split_files(&dirs, None, None, "train").unwrap(),
        ["train/a.parquet", "train/b.parquet"]
    );
}

#[test]
fn unnamed_files_are_train_and_other_formats_are_named() {
    let plain = listing(&["README.md", "rows.jsonl", "more.jsonl", ".hidden/x.jsonl"]);
    assert_eq!(
        split_files(&plain, None, None, "train").unwrap(),
        ["more.jsonl", "rows.jsonl"]
    );
    let e = split_files(&plain, None, None, "test").unwrap_err();
    assert!(e.contains("no split `test`; its splits: train"), "{e}");
    let csv = listing(&["README.md", "train.csv"]);
    let e = split_files(&csv, None, None, "train").unwrap_err();
    assert!(
        e.contains("(it holds train.csv)") && e.contains(".parquet, .jsonl"),
        "{e}"
    );
    let e = split_files(&csv, None, Some("x"), "train").unwrap_err();
    assert!(e.contains("no `name: x`"), "{e}");
}

#[test]
fn a_file_name_that_leaves_the_snapshot_is_never_a_split_file() {
    let files = listing(&["/abs/train.jsonl", "a/../train.jsonl", "README.md"]);
    let e = split_files(&files, None, None, "train").unwrap_err();
    assert!(e.contains("no Parquet or JSON Lines file"), "{e}");
    let card = "---\nconfigs:\n- config_name: default\n  data_files: /abs/*.jsonl\n---\n";
    assert!(split_files(&files, Some(card), None, "train").is_err());
}
