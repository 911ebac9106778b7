//! The tokenized-data cache: a changed file, tokenizer or setting gives a new
//! key; unchanged inputs reuse the cache file; ranks building at once agree.

mod common;

use common::{chat_tokenizer, config, msg, scratch, write_jsonl};
use serde_json::json;
use std::path::Path;
use trainer::data::{load_samples, Dataset};

fn load(dir: &Path, data: &Path, tok: &Path, extra: serde_json::Value) -> Dataset {
    let mut d = json!({"objective": "sft", "max_seq_length": 64, "chat_template": "tulu",
        "datasets": [{"path": data}], "validation": {"ratio": 0.2, "seed": 1}});
    d.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    load_samples(&config(d), Some(tok), dir).unwrap()
}

#[test]
fn cache_keys_follow_files_tokenizer_and_settings() {
    let dir = scratch("cache");
    let data = dir.join("chat.jsonl");
    let rows: Vec<_> = (0..20)
        .map(|i| json!({"messages": [msg("user", &format!("What is {i} plus 2?")), msg("assistant", &format!("{}", i + 2))]}))
        .collect();
    write_jsonl(&data, &rows);
    let tok = dir.join("tok");
    std::fs::create_dir_all(&tok).unwrap();
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(chat_tokenizer().join(f), tok.join(f)).unwrap();
    }

    let first = load(&dir, &data, &tok, json!({}));
    assert!(!first.from_cache);
    let file = first.cache_file.clone().unwrap();
    assert!(file.starts_with(dir.join("data-cache")) && file.is_file());
    let again = load(&dir, &data, &tok, json!({}));
    assert!(again.from_cache, "unchanged inputs reuse the cache");
    assert_eq!(again.cache_file, first.cache_file);
    assert_eq!(again.train, first.train);
    assert_eq!(again.validation, first.validation);
    assert_eq!(again.summary, first.summary);
    assert_eq!(again.pad_id, first.pad_id);

    let mut keys = vec![file.clone()];
    let mut fresh = |d: Dataset, what: &str| {
        assert!(!d.from_cache, "{what}: must not reuse a cache");
        let f = d.cache_file.unwrap();
        assert!(!keys.contains(&f), "{what}: same key as before");
        keys.push(f);
    };
    // A setting.
    fresh(
        load(&dir, &data, &tok, json!({"max_seq_length": 32})),
        "max_seq_length",
    );
    fresh(
        load(
            &dir,
            &data,
            &tok,
            json!({"validation": {"ratio": 0.3, "seed": 1}}),
        ),
        "validation",
    );
    // The template.
    let tpl = dir.join("t.jinja");
    std::fs::write(
        &tpl,
        trainer::data::template::TULU.replace("<|user|>", "<|user|> "),
    )
    .unwrap();
    fresh(
        load(&dir, &data, &tok, json!({"chat_template": tpl})),
        "template",
    );
    // The tokenizer config.
    let cfg_path = tok.join("tokenizer_config.json");
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(
        &cfg_path,
        text.replace("\"add_bos_token\": true", "\"add_bos_token\": false"),
    )
    .unwrap();
    let no_bos = load(&dir, &data, &tok, json!({}));
    assert_ne!(no_bos.train.sample(0).input_ids[0], 1);
    fresh(no_bos, "tokenizer_config.json");
    // A data file (same length, one character changed).
    let mut text = std::fs::read_to_string(&data).unwrap();
    text = text.replacen("plus 2", "plus 3", 1);
    std::fs::write(&data, text).unwrap();
    fresh(load(&dir, &data, &tok, json!({})), "data file");
    // And unchanged again: reused.
    assert!(load(&dir, &data, &tok, json!({})).from_cache);
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.join("data-cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".bin") || n.ends_with(".lock")),
        "{names:?}"
    );
}

#[test]
fn ranks_loading_at_once_build_once_and_agree() {
    let dir = scratch("cache-ranks");
    let data = dir.join("chat.jsonl");
    let rows: Vec<_> = (0..200)
        .map(|i| json!({"messages": [msg("user", &format!("What is {i} times 2?")), msg("assistant", &format!("{}", i * 2))]}))
        .collect();
    write_jsonl(&data, &rows);
    let tok = chat_tokenizer();
    let results: Vec<Dataset> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| load(&dir, &data, &tok, json!({}))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|d| !d.from_cache).count(),
        1,
        "exactly one builder"
    );
    for d in &results[1..] {
        assert_eq!(d.train, results[0].train);
        assert_eq!(d.cache_file, results[0].cache_file);
    }
}
