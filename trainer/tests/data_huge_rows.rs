//! Memory stays bounded on huge rows: a row's text (or a chat as rendered)
//! over a byte limit derived from max_seq_length is cut or dropped, as
//! `data.overlong` says, before it is tokenised, and counted in the data
//! summary; packed pretraining tokenises it piece by piece.

mod common;

use common::{chat_tokenizer, config, msg, scratch, write_jsonl};
use runconfig::{Objective, Overlong};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;
use trainer::data::encode::{max_row_bytes, Encoded, Encoder};
use trainer::data::examples::Example;
use trainer::data::{load_samples, Dataset, Tokenizer};

/// 20 MB of words.
fn words() -> String {
    "word ".repeat(4 << 20)
}

/// A JSONL file of three rows, the middle one `big`.
fn rows(dir: &Path, big: Value, small: impl Fn(&str) -> Value) -> PathBuf {
    let data = dir.join("rows.jsonl");
    write_jsonl(&data, &[small("one"), big, small("two")]);
    data
}

fn load(dir: &Path, data: &Path, extra: Value) -> Dataset {
    let mut d = json!({"objective": "pretrain", "max_seq_length": 64, "shuffle": false,
        "cache": false, "chat_template": "tulu", "datasets": [{"path": data}]});
    d.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let start = Instant::now();
    let loaded = load_samples(&config(d), Some(&chat_tokenizer()), dir).unwrap();
    let took = start.elapsed();
    assert!(took.as_secs() < 20, "loading took {took:?}");
    loaded
}

fn text_rows(dir: &Path) -> PathBuf {
    rows(
        dir,
        json!({"text": words()}),
        |w| json!({"text": format!("short {w}")}),
    )
}

#[test]
fn the_row_byte_limit_is_a_generous_multiple_of_max_seq_length() {
    assert_eq!(max_row_bytes(4096), 4096 * 128);
    assert_eq!(max_row_bytes(16), 64 * 1024, "never below 64 KiB");
    assert_eq!(max_row_bytes(usize::MAX), usize::MAX, "no overflow");
}

#[test]
fn a_20_mb_row_is_cut_before_tokenising_and_counted() {
    let dir = scratch("huge-cut");
    let d = load(&dir, &text_rows(&dir), json!({}));
    assert_eq!(d.train.len(), 3);
    assert_eq!(d.train.sample(1).input_ids.len(), 64);
    assert_eq!(d.summary.cut_by_size, 1);
    let line = "1 row(s) over 65536 bytes cut before tokenising";
    assert!(
        d.summary.lines().iter().any(|l| l.contains(line)),
        "{:?}",
        d.summary.lines()
    );
}

#[test]
fn with_overlong_drop_a_20_mb_row_is_left_out_and_counted() {
    let dir = scratch("huge-drop");
    let d = load(&dir, &text_rows(&dir), json!({"overlong": "drop"}));
    assert_eq!(d.train.len(), 2);
    assert_eq!(d.summary.dropped_overlong, 1);
    assert_eq!(d.summary.cut_by_size, 0);
}

#[test]
fn a_20_mb_chat_is_cut_before_tokenising() {
    let dir = scratch("huge-chat");
    let chat = |reply: &str| json!({"messages": [msg("user", "Say it."), msg("assistant", reply)]});
    let data = rows(&dir, chat(&words()), chat);
    let d = load(&dir, &data, json!({"objective": "sft"}));
    assert_eq!(d.train.len(), 3);
    assert_eq!(d.train.sample(1).input_ids.len(), 64);
    assert_eq!(d.summary.cut_by_size, 1);
}

#[test]
fn packed_pretraining_tokenises_a_long_row_piece_by_piece_into_the_same_tokens() {
    let tok = Tokenizer::load(&chat_tokenizer()).unwrap();
    let text = "many words here ".repeat(20_000); // 320 kB: five pieces
    let encoder = |stream: bool, max_bytes: usize| Encoder {
        tokenizer: Some(&tok),
        template: None,
        objective: Objective::Pretrain,
        max_len: 64,
        overlong: Overlong::Truncate,
        stream,
        max_bytes,
        cut_by_size: Default::default(),
    };
    let ids = |e: Encoder| match e.encode(Example::Text(text.clone())).unwrap() {
        Encoded::One(t) => t.ids,
        other => panic!("{other:?}"),
    };
    let whole = ids(encoder(true, usize::MAX));
    assert!(whole.len() > 64 * 1000);
    assert_eq!(ids(encoder(true, max_row_bytes(64))), whole);
}
