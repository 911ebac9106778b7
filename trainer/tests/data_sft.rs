//! SFT and DPO samples: labels exactly on the assistant's tokens, packing
//! without cross-example positions, padding, and preference pairs.

mod common;

use common::{chat_tokenizer, config, msg, scratch, write_jsonl};
use serde_json::json;
use trainer::data::collate::collate;
use trainer::data::{load_samples, Sample, Tokenizer, IGNORE};

/// Token ids and labels built piece by piece: (text, trained?).
fn expected(tok: &Tokenizer, pieces: &[(&str, bool)]) -> (Vec<i64>, Vec<i64>) {
    let (mut ids, mut labels) = (vec![1i64], vec![IGNORE]); // BOS, never a target
    for (text, trained) in pieces {
        for t in tok.encode(text).unwrap() {
            ids.push(t as i64);
            labels.push(if *trained { t as i64 } else { IGNORE });
        }
    }
    (ids, labels)
}

fn sft(dir: &std::path::Path, rows: &[serde_json::Value], extra: serde_json::Value) -> Vec<Sample> {
    let path = dir.join("chat.jsonl");
    write_jsonl(&path, rows);
    let mut data = json!({
        "objective": "sft", "max_seq_length": 256, "shuffle": false, "cache": false,
        "chat_template": "tulu", "datasets": [{"path": path}],
    });
    data.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let ds = load_samples(&config(data), Some(&chat_tokenizer()), dir).unwrap();
    (0..ds.train.len()).map(|i| ds.train.sample(i)).collect()
}

#[test]
fn labels_are_ignored_exactly_outside_the_assistant_tokens() {
    let dir = scratch("sft-mask");
    let tok = Tokenizer::load(&chat_tokenizer()).unwrap();
    let chat = json!({"messages": [
        msg("system", "Be brief."),
        msg("user", "What is 2 plus 2?"),
        msg("assistant", "The answer is 4."),
        msg("user", "And 3 times 3?"),
        msg("assistant", "9"),
    ]});
    let sharegpt = json!({"conversations": [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "What is 2 plus 2?"},
        {"from": "gpt", "value": "The answer is 4."},
        {"from": "human", "value": "And 3 times 3?"},
        {"from": "gpt", "value": "9"},
    ]});
    let samples = sft(&dir, &[chat, sharegpt], json!({}));
    let (ids, labels) = expected(
        &tok,
        &[
            (
                "<|system|>\nBe brief.\n<|user|>\nWhat is 2 plus 2?\n<|assistant|>\n",
                false,
            ),
            ("The answer is 4.</s>", true),
            ("\n<|user|>\nAnd 3 times 3?\n<|assistant|>\n", false),
            ("9</s>", true),
        ],
    );
    for s in &samples {
        assert_eq!(s.input_ids, ids);
        assert_eq!(s.labels, labels);
        assert_eq!(s.position_ids, (0..ids.len() as i64).collect::<Vec<_>>());
    }
    assert_eq!(samples.len(), 2);
    // The trained tokens decode to exactly the assistant's words.
    let trained: Vec<u32> = labels
        .iter()
        .filter(|&&l| l != IGNORE)
        .map(|&l| l as u32)
        .collect();
    assert_eq!(tok.decode(&trained).unwrap(), "The answer is 4.</s>9</s>");
}

#[test]
fn truncation_keeps_a_prefix_and_drop_leaves_the_sample_out() {
    let dir = scratch("sft-trunc");
    let rows = [
        json!({"messages": [msg("user", "What is 2 plus 2?"), msg("assistant", "The answer is 4.")]}),
        json!({"messages": [msg("user", "Hi"), msg("assistant", "Hello")]}),
    ];
    let full = sft(&dir, &rows, json!({}));
    let cut = sft(&dir, &rows, json!({"max_seq_length": 20}));
    assert_eq!(cut[0].input_ids, full[0].input_ids[..20]);
    assert_eq!(cut[0].labels, full[0].labels[..20]);
    assert_eq!(cut[1], full[1]);
    let dropped = sft(
        &dir,
        &rows,
        json!({"max_seq_length": 20, "overlong": "drop"}),
    );
    assert_eq!(dropped, vec![full[1].clone()]);
    // Cut before the reply: nothing left to train, the sample is dropped.
    let none = sft(&dir, &rows, json!({"max_seq_length": 12}));
    assert!(none.iter().all(|s| s.labels.iter().any(|&l| l != IGNORE)));
    assert_eq!(none.len(), 1);
}

#[test]
fn packing_restarts_positions_and_never_trains_across_examples() {
    let dir = scratch("sft-pack");
    let rows: Vec<_> = (0..9)
        .map(|i| json!({"messages": [msg("user", &format!("What is {i} plus 1?")), msg("assistant", &format!("{}", i + 1))]}))
        .collect();
    let single = sft(&dir, &rows, json!({}));
    let packed = sft(&dir, &rows, json!({"packing": true, "max_seq_length": 64}));
    assert!(packed.len() < single.len());
    let mut k = 0;
    for (r, row) in packed.iter().enumerate() {
        assert!(row.len() <= 64);
        let seg = row.segment_ids();
        let n_seg = *seg.last().unwrap() as usize + 1;
        assert!(
            n_seg >= 2 || r + 1 == packed.len(),
            "rows hold several examples"
        );
        let mut at = 0;
        for s in 0..n_seg {
            let ex = &single[k];
            let len = ex.len();
            assert_eq!(&row.input_ids[at..at + len], &ex.input_ids[..]);
            assert_eq!(&row.labels[at..at + len], &ex.labels[..]);
            assert_eq!(&row.position_ids[at..at + len], &ex.position_ids[..]);
            assert!(seg[at..at + len].iter().all(|&x| x == s as i64));
            assert_eq!(
                row.labels[at], IGNORE,
                "no example predicts the next one's start"
            );
            at += len;
            k += 1;
        }
        assert_eq!(at, row.len());
    }
    assert_eq!(k, single.len());

    // Padding: pad id, no labels, positions counting on, the flag for Ctx::packed.
    let b = collate(&[packed[0].clone(), single[0].clone()], 0, tch::Device::Cpu);
    let width = packed[0].len().max(single[0].len());
    assert_eq!(b.input_ids.size(), [2, width as i64]);
    assert!(b.segment_ids.is_some());
    let labels: Vec<i64> = Vec::try_from(b.labels.get(1)).unwrap();
    let pos: Vec<i64> = Vec::try_from(b.position_ids.as_ref().unwrap().get(1)).unwrap();
    let ids: Vec<i64> = Vec::try_from(b.input_ids.get(1)).unwrap();
    assert_eq!(&labels[..single[0].len()], &single[0].labels[..]);
    assert!(labels[single[0].len()..].iter().all(|&l| l == IGNORE));
    assert!(ids[single[0].len()..].iter().all(|&t| t == 0));
    assert_eq!(pos, (0..width as i64).collect::<Vec<_>>());
    let plain = collate(&single[..2], 0, tch::Device::Cpu);
    assert!(plain.position_ids.is_none() && plain.segment_ids.is_none());
}

#[test]
fn preference_pairs_train_only_the_response() {
    let dir = scratch("dpo");
    let tok = Tokenizer::load(&chat_tokenizer()).unwrap();
    let path = dir.join("pref.jsonl");
    let conv = |a: &str| json!([msg("user", "What is 3 plus 4?"), msg("assistant", a)]);
    write_jsonl(
        &path,
        &[
            // UltraFeedback / tulu shape: whole conversations.
            json!({"prompt": "What is 3 plus 4?", "chosen": conv("The answer is 7."), "rejected": conv("The answer is 8.")}),
            // Prompt string + response strings.
            json!({"prompt": "What is 3 plus 4?", "chosen": "The answer is 7.", "rejected": "The answer is 8."}),
            // Prompt messages + assistant-only lists.
            json!({"prompt": [msg("user", "What is 3 plus 4?")], "chosen": [msg("assistant", "The answer is 7.")], "rejected": [msg("assistant", "The answer is 8.")]}),
        ],
    );
    let cfg = config(json!({
        "objective": "dpo", "max_seq_length": 128, "shuffle": false, "cache": false,
        "chat_template": "tulu", "datasets": [{"path": path}],
    }));
    let ds = load_samples(&cfg, Some(&chat_tokenizer()), &dir).unwrap();
    assert_eq!(ds.train.len(), 3);
    let prompt = "<|user|>\nWhat is 3 plus 4?\n<|assistant|>\n";
    let (c_ids, c_labels) = expected(&tok, &[(prompt, false), ("The answer is 7.</s>", true)]);
    let (r_ids, r_labels) = expected(&tok, &[(prompt, false), ("The answer is 8.</s>", true)]);
    for i in 0..3 {
        let p = ds.train.pair(i);
        assert_eq!(
            (p.chosen.input_ids.clone(), p.chosen.labels.clone()),
            (c_ids.clone(), c_labels.clone())
        );
        assert_eq!(
            (p.rejected.input_ids.clone(), p.rejected.labels.clone()),
            (r_ids.clone(), r_labels.clone())
        );
    }
}
