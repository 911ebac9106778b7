//! The README.md model card of an export: a front matter the Hub reads
//! (base model, license, tags) and a body written for people.

mod common;

use common::scratch;
use serde_yaml::{Mapping, Value};
use std::path::Path;
use trainer::export::{model_card, Summary};

/// A run of `objective` starting from `model` (`model.path`).
fn config(model: &Path, objective: &str, extra: &str) -> runconfig::Config {
    let yaml = format!(
        "run_name: card-test\nmodel: {{ path: {} }}\ndata: {{ objective: {objective}, datasets: [{{ path: /data/chat.jsonl }}] }}\n{extra}",
        model.display()
    );
    serde_yaml::from_str(&yaml).unwrap()
}

fn summary() -> Summary {
    Summary {
        step: 12,
        train_loss: Some(1.23456),
        eval_loss: Some(1.5),
        total_tokens: 4096,
        world_size: 2,
        ..Summary::default()
    }
}

/// The card's front matter, parsed as the Hub does: the YAML between the
/// `---` lines that open the file.
fn header(card: &str) -> Mapping {
    let rest = card.strip_prefix("---\n").expect("the card opens with ---");
    let end = rest.find("\n---\n").expect("the front matter is closed");
    serde_yaml::from_str(&rest[..end]).unwrap()
}

fn key<'a>(h: &'a Mapping, k: &str) -> Option<&'a str> {
    h.get(k).and_then(Value::as_str)
}

/// A model folder laid out as huggingface_hub caches `org/tiny`, whose card
/// has a license.
fn cached_model(root: &Path) -> std::path::PathBuf {
    let dir = root.join(format!(
        "models--org--tiny/snapshots/{}",
        "0a1b2c3d".repeat(5)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("README.md"),
        "---\nlicense: apache-2.0\ntags:\n- text-generation\n---\n# tiny\n",
    )
    .unwrap();
    dir
}

/// Debug formatting of Rust values, which the card must not show.
fn assert_no_debug_words(card: &str) {
    for word in [
        "Some(", "None", "Dpo", "Sft", "Pretrain", "Bf16", "F32", "Linear", "Cosine", "Constant",
        "Tulu", "[0.9",
    ] {
        assert!(!card.contains(word), "the card shows {word:?}:\n{card}");
    }
}

#[test]
fn a_model_from_the_hub_cache_names_its_hub_id_and_license() {
    let root = scratch("card-cache");
    let card = model_card(
        &config(&cached_model(&root), "sft", ""),
        &summary(),
        "bfloat16",
    );
    let h = header(&card);
    assert_eq!(key(&h, "base_model"), Some("org/tiny"), "{card}");
    assert_eq!(key(&h, "license"), Some("apache-2.0"), "{card}");
    assert_eq!(key(&h, "library_name"), Some("transformers"));
    assert_eq!(key(&h, "pipeline_tag"), Some("text-generation"));
    let tags: Vec<&str> = h["tags"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(tags, ["ferrospeed", "sft"], "{card}");
    assert!(
        h.get("datasets").is_none(),
        "no dataset has a Hub id:\n{card}"
    );
    assert!(
        card.contains("[org/tiny](https://huggingface.co/org/tiny)"),
        "{card}"
    );
    // A repository without an organisation.
    let solo = root.join("models--tiny/snapshots/abc");
    std::fs::create_dir_all(&solo).unwrap();
    let card = model_card(&config(&solo, "sft", ""), &summary(), "bfloat16");
    assert_eq!(key(&header(&card), "base_model"), Some("tiny"), "{card}");
}

#[test]
fn a_dpo_run_from_an_sft_export_names_the_sft_base_model() {
    let root = scratch("card-pipeline");
    let sft_card = model_card(
        &config(&cached_model(&root), "sft", ""),
        &summary(),
        "bfloat16",
    );
    let final_dir = root.join("out/sft/final");
    std::fs::create_dir_all(&final_dir).unwrap();
    std::fs::write(final_dir.join("README.md"), sft_card).unwrap();
    let dpo = Summary {
        rewards: vec![
            ("rewards/accuracy".into(), 0.75),
            ("eval_rewards/accuracy".into(), 0.5),
        ],
        ..summary()
    };
    let card = model_card(
        &config(
            &final_dir,
            "dpo",
            "train: { dpo_beta: 0.2, dpo_loss_type: simpo, dpo_label_smoothing: 0.1 }",
        ),
        &dpo,
        "bfloat16",
    );
    let h = header(&card);
    assert_eq!(key(&h, "base_model"), Some("org/tiny"), "{card}");
    assert_eq!(key(&h, "license"), Some("apache-2.0"), "{card}");
    assert!(
        card.contains("from [org/tiny](https://huggingface.co/org/tiny) after the earlier stages listed under Training chain"),
        "{card}"
    );
    assert!(
        card.contains("| rewards/accuracy | 0.7500 (last step) |"),
        "{card}"
    );
    assert!(
        card.contains("| eval_rewards/accuracy | 0.5000 (last evaluation) |"),
        "{card}"
    );
    assert!(card.contains("| DPO beta | 0.2 |"), "{card}");
    assert!(
        card.contains("| DPO loss | simpo (gamma 0.5, label smoothing 0.1) |"),
        "{card}"
    );
    assert_no_debug_words(&card);
}

#[test]
fn a_plain_folder_or_random_init_has_no_base_model() {
    let root = scratch("card-local");
    let plain = root.join("my-llama");
    std::fs::create_dir_all(&plain).unwrap();
    // A card the tool did not write: its base model is not this run's.
    std::fs::write(
        plain.join("README.md"),
        "---\nbase_model: someone/else\nlicense: mit\n---\n",
    )
    .unwrap();
    let card = model_card(&config(&plain, "sft", ""), &summary(), "bfloat16");
    let h = header(&card);
    assert!(h.get("base_model").is_none(), "{card}");
    assert_eq!(key(&h, "license"), Some("mit"), "{card}");
    assert!(
        card.contains("starting from the local folder `my-llama`"),
        "{card}"
    );
    let yaml = "run_name: scratch\nmodel: { config: /models/config.json }\n";
    let card = model_card(&serde_yaml::from_str(yaml).unwrap(), &summary(), "float32");
    assert!(header(&card).get("base_model").is_none(), "{card}");
    assert!(card.contains("initialised at random"), "{card}");
    assert!(header(&card)["tags"]
        .as_sequence()
        .unwrap()
        .contains(&"pretraining".into()));
}

#[test]
fn the_body_writes_hyperparameters_and_metrics_as_people_do() {
    let root = scratch("card-body");
    let extra = "train: { learning_rate: 2.0e-5, max_steps: 12, micro_batch_size: 2, effective_batch_size: 8, lr_schedule: { kind: cosine, warmup_steps: 3, min_lr_ratio: 0.1 } }\n\
                 optimizer: { bits: 8, weight_decay: 0.01, betas: [0.9, 0.95] }\n\
                 hub: { repo_id: my-org/tiny-sft }\n";
    let card = model_card(
        &config(&cached_model(&root), "sft", extra),
        &summary(),
        "bfloat16",
    );
    for row in [
        "| learning rate | 2e-5 |",
        "| learning-rate schedule | cosine decay to 10% of the peak |",
        "| warmup | 3 steps |",
        "| optimizer steps | 12 |",
        "| effective batch (sequences per step) | 8 |",
        "| micro batch (per device) | 2 |",
        "| gradient accumulation | 2 |",
        "| world size | 2 |",
        "| optimizer | AdamW, 8-bit state |",
        "| weight decay | 0.01 (not on norms and biases) |",
        "| betas | 0.9, 0.95 |",
        "| precision | bf16 compute, fp32 master weights, exported as bfloat16 |",
        "| chat template | the tokenizer's own |",
        "| train loss (last step) | 1.2346 |",
        "| eval loss (last evaluation) | 1.5000 |",
        "- `chat.jsonl`",
        "model_id = \"my-org/tiny-sft\"",
    ] {
        assert!(card.contains(row), "no {row:?} in\n{card}");
    }
    assert_no_debug_words(&card);
}
