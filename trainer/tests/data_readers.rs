//! Readers (Parquet, plain text, JSON arrays) and bad rows: errors name the
//! file and line; `data.skip_bad_rows` skips and counts them.

mod common;

use common::{chat_tokenizer, config, msg, repo_root, scratch, write_jsonl};
use serde_json::json;
use trainer::data::{load_samples, Tokenizer, IGNORE};

fn pretrain(
    data: serde_json::Value,
    dir: &std::path::Path,
) -> anyhow::Result<trainer::data::Dataset> {
    let mut d =
        json!({"objective": "pretrain", "max_seq_length": 128, "shuffle": false, "cache": false});
    d.as_object_mut()
        .unwrap()
        .extend(data.as_object().unwrap().clone());
    load_samples(&config(d), Some(&chat_tokenizer()), dir)
}

#[test]
fn parquet_rows_give_the_same_samples_as_jsonl() {
    let dir = scratch("parquet");
    let fixtures = repo_root().join("trainer/tests/fixtures");
    let rows: Vec<_> = (0..6)
        .map(|i| json!({"id": i, "text": format!("Document {i}: {i} plus {i} is {}.", 2 * i),
            "messages": [msg("user", &format!("What is {i} plus {i}?")), msg("assistant", &format!("The answer is {}.", 2 * i))]}))
        .collect();
    write_jsonl(&dir.join("same.jsonl"), &rows);
    for objective in ["pretrain", "sft"] {
        let load = |path: std::path::PathBuf| {
            let cfg = config(
                json!({"objective": objective, "max_seq_length": 128, "shuffle": false,
                "cache": false, "chat_template": "tulu", "datasets": [{"path": path}]}),
            );
            let ds = load_samples(&cfg, Some(&chat_tokenizer()), &dir).unwrap();
            (0..ds.train.len())
                .map(|i| ds.train.sample(i))
                .collect::<Vec<_>>()
        };
        let want = load(dir.join("same.jsonl"));
        assert_eq!(want.len(), 6);
        assert_eq!(
            load(fixtures.join("chat.parquet")),
            want,
            "{objective} snappy"
        );
        assert_eq!(
            load(fixtures.join("chat-zstd.parquet")),
            want,
            "{objective} zstd"
        );
    }
}

#[test]
fn text_files_by_document_paragraph_and_line() {
    let dir = scratch("text");
    let tok = Tokenizer::load(&chat_tokenizer()).unwrap();
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("b.txt"), "Second file.\n").unwrap();
    std::fs::write(
        docs.join("a.txt"),
        "First para\nstill first.\n\nSecond para.\n\n\nThird.\n",
    )
    .unwrap();
    std::fs::write(docs.join("notes.bin"), "ignored").unwrap();
    let texts = |by: &str| -> Vec<String> {
        let ds = pretrain(json!({"datasets": [{"path": docs, "sample_by": by}]}), &dir).unwrap();
        (0..ds.train.len())
            .map(|i| {
                let s = ds.train.sample(i);
                assert_eq!(s.input_ids[0], 1, "BOS first");
                assert_eq!(*s.input_ids.last().unwrap(), 2, "EOS last");
                assert!(s.labels[1..].iter().all(|&l| l != IGNORE));
                let ids: Vec<u32> = s.input_ids[1..s.len() - 1]
                    .iter()
                    .map(|&t| t as u32)
                    .collect();
                tok.decode(&ids).unwrap()
            })
            .collect()
    };
    assert_eq!(
        texts("document"),
        [
            "First para\nstill first.\n\nSecond para.\n\n\nThird.\n",
            "Second file.\n"
        ]
    );
    assert_eq!(
        texts("paragraph"),
        [
            "First para\nstill first.",
            "Second para.",
            "Third.",
            "Second file."
        ]
    );
    assert_eq!(
        texts("line"),
        [
            "First para",
            "still first.",
            "Second para.",
            "Third.",
            "Second file."
        ]
    );
    // A JSON array file works like JSON Lines.
    std::fs::write(
        dir.join("arr.json"),
        r#"[{"text": "One."}, {"text": "Two."}]"#,
    )
    .unwrap();
    let ds = pretrain(json!({"datasets": [{"path": dir.join("arr.json")}]}), &dir).unwrap();
    assert_eq!(ds.train.len(), 2);
}

#[test]
fn bad_rows_name_file_and_line_or_are_skipped_and_counted() {
    let dir = scratch("bad");
    let path = dir.join("rows.jsonl");
    let text = [
        r#"{"text": "Fine one."}"#,
        r#"{"text": "Fine two."}"#,
        r#"{"text": "broken"#,
        "",
        r#"{"title": "no text field"}"#,
        r#"{"text": ""}"#,
        r#"{"text": "Fine three."}"#,
    ]
    .join("\n");
    std::fs::write(&path, text).unwrap();
    let run = |skip: bool| {
        pretrain(
            json!({"skip_bad_rows": skip, "datasets": [{"path": path}]}),
            &dir,
        )
    };
    let err = format!("{:#}", run(false).err().unwrap());
    assert!(err.contains(&format!("{}:3", path.display())), "{err}");
    assert!(
        err.contains("not valid JSON") && err.contains("skip_bad_rows"),
        "{err}"
    );
    let ds = run(true).unwrap();
    assert_eq!(ds.train.len(), 3);
    assert_eq!(ds.summary.bad_rows_skipped, 3);
    let w = ds.summary.warnings.join("\n");
    assert!(
        w.contains("skipped 3 bad rows")
            && w.contains(":5: the row has no `text` field")
            && w.contains(":6: the text is empty"),
        "{w}"
    );

    // Missing field, and a chat that is empty after templating, in SFT.
    let chat = dir.join("chat.jsonl");
    write_jsonl(
        &chat,
        &[
            json!({"messages": [msg("user", "Hi"), msg("assistant", "Hello")]}),
            json!({"prompt": "no messages"}),
            json!({"messages": [msg("user", "Hi"), msg("assistant", "Hello")]}),
            json!({"messages": [msg("tool", "x")]}),
        ],
    );
    let sft = |skip: bool, template: &str| {
        let cfg = config(
            json!({"objective": "sft", "max_seq_length": 64, "cache": false, "skip_bad_rows": skip,
            "chat_template": template, "datasets": [{"path": chat}]}),
        );
        load_samples(&cfg, Some(&chat_tokenizer()), &dir)
    };
    let err = format!("{:#}", sft(false, "tulu").err().unwrap());
    assert!(
        err.contains(&format!(
            "{}:2: the row has no `messages` field",
            chat.display()
        )),
        "{err}"
    );
    // The tulu template renders a lone `tool` message as nothing: skipped and counted.
    let ds = sft(true, "tulu").unwrap();
    assert_eq!(ds.train.len(), 2);
    assert_eq!(ds.summary.bad_rows_skipped, 2);
    assert!(
        ds.summary.warnings[0].contains(&format!(
            "{}:4: the chat is empty after templating",
            chat.display()
        )),
        "{:?}",
        ds.summary.warnings
    );
}
