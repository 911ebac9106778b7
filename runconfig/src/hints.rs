//! Hints for unknown keys that are not typos: the names open-instruct,
//! Hugging Face `TrainingArguments`, accelerate and DeepSpeed use for a
//! setting ([`crate::familiar`]), and Ferrospeed keys written in the wrong
//! section. Either gets the Ferrospeed answer rather than the nearest
//! spelling.

use crate::schema::Config;
use serde_yaml::Value;

/// The hint for the unknown key `key` found under `path` (dotted, or empty
/// at the top level), if it is a familiar name or a misplaced key.
pub(crate) fn for_unknown(path: &str, key: &str) -> Option<String> {
    if let Some(answer) = crate::familiar::answer(key) {
        return Some(answer.to_string());
    }
    let places: Vec<String> = known_keys()
        .into_iter()
        .filter(|k| k.rsplit('.').next() == Some(key) && k.as_str() != join(path, key))
        .collect();
    match places.as_slice() {
        [] => None,
        [one] => Some(format!("it belongs in another section: `{one}`")),
        many => Some(format!(
            "it belongs in another section: one of {}",
            many.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Every dotted key of the schema (a list's items as `data.datasets[].path`).
pub(crate) fn known_keys() -> Vec<String> {
    // Sections that are empty or absent by default, filled in so that their
    // keys are listed too.
    // Keys left out of the serialised tree when unset are set here too.
    let sample = "run_name: x\nhub: { repo_id: x }\n\
        model: { revision: x, adapter: x, adapter_revision: x }\nlora: {}\n\
        export: { merge: true }\n\
        data: { datasets: [{ path: x, files: [x] }], validation: {} }\n\
        train: { lr_schedule: { decay_ratio: 0.1, decay_steps: 1, decay_type: linear } }\n";
    let mut out = Vec::new();
    let Ok(config) = serde_yaml::from_str::<Config>(sample) else {
        return out;
    };
    if let Ok(tree) = serde_yaml::to_value(&config) {
        walk("", &tree, &mut out);
    }
    out
}

fn walk(prefix: &str, node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Mapping(m) => {
            for (k, v) in m {
                let Some(k) = k.as_str() else { continue };
                let key = join(prefix, k);
                walk(&key, v, out);
                out.push(key);
            }
        }
        Value::Sequence(items) => {
            if let Some(first) = items.first() {
                walk(&format!("{prefix}[]"), first, out);
            }
        }
        _ => {}
    }
}

/// `key` under the dotted `path` (the top level when `path` is empty).
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_and_misplaced_keys_name_the_ferrospeed_key() {
        let h = for_unknown("", "num_train_epochs").unwrap();
        assert_eq!(h, "Ferrospeed's key is `train.epochs`");
        let h = for_unknown("", "learning_rate").unwrap();
        assert_eq!(h, "it belongs in another section: `train.learning_rate`");
        let h = for_unknown("train", "warmup_ratio").unwrap();
        assert!(h.contains("`train.lr_schedule.warmup_ratio`"), "{h}");
        let h = for_unknown("", "path").unwrap();
        assert!(
            h.contains("`model.path`") && h.contains("`data.datasets[].path`"),
            "{h}"
        );
        assert_eq!(for_unknown("train", "micro_batch"), None);
        let h = for_unknown("train", "gradient_checkpointing").unwrap();
        assert!(
            h.starts_with("Ferrospeed's key is `train.activation_checkpointing`"),
            "{h}"
        );
    }

    #[test]
    fn names_from_open_instruct_accelerate_and_deepspeed_get_the_ferrospeed_answer() {
        let key = |k: &str| format!("Ferrospeed's key is `{k}`");
        let table = [
            (
                "report_to",
                "`wandb sync --sync-tensorboard <output_dir>/tensorboard`".to_string(),
            ),
            (
                "with_tracking",
                "`wandb sync --sync-tensorboard <output_dir>/tensorboard`".into(),
            ),
            ("num_machines", "`launch N CONFIG.yaml --nnodes K`".into()),
            ("num_processes", "`launch N CONFIG.yaml`".into()),
            ("offload_optimizer_device", key("optimizer.offload: cpu")),
            ("offload_param_device", "not supported yet".into()),
            ("hf_entity", key("hub.namespace")),
            ("hf_repo_id", key("hub.repo_id")),
            (
                "use_flash_attn",
                "not needed: attention runs through libtorch's scaled_dot_product_attention".into(),
            ),
            ("use_lora", "Ferrospeed's section is `lora`".into()),
            ("chat_template_name", key("data.chat_template")),
            (
                "add_bos",
                "not needed: BOS is added when the tokenizer asks for it".into(),
            ),
            (
                "deepspeed_config_file",
                "not needed: Ferrospeed is its own ZeRO-3 engine".into(),
            ),
            ("zero_stage", "not needed: Ferrospeed always shards".into()),
            ("per_device_train_batch_size", key("train.micro_batch_size")),
            (
                "gradient_accumulation_steps",
                "set `train.effective_batch_size`".into(),
            ),
            ("num_train_epochs", key("train.epochs")),
            ("model_name_or_path", key("model.path")),
            ("tokenizer_name", key("model.tokenizer")),
            ("dataset_mixer", key("data.datasets")),
            ("dataset_mixer_list", key("data.datasets")),
            ("seed", key("train.seed")),
            ("lr_scheduler_type", key("train.lr_schedule.kind")),
            (
                "gradient_checkpointing",
                key("train.activation_checkpointing"),
            ),
            ("push_to_hub", key("hub.push: on_finish")),
            ("mixed_precision", key("model.dtype")),
            ("use_8bit_optimizer", key("optimizer.bits: 8")),
            ("checkpointing_steps", key("checkpoint.every_steps")),
            ("keep_last_n_checkpoints", key("checkpoint.keep_last")),
            ("logging_steps", key("logging.every_steps")),
            ("max_train_steps", key("train.max_steps")),
            ("clip_grad_norm", key("train.max_grad_norm")),
            ("resume_from_checkpoint", key("checkpoint.resume")),
            ("num-processes", "`launch N CONFIG.yaml`".into()),
            // Ferrospeed keys in the wrong place: their section.
            (
                "learning_rate",
                "it belongs in another section: `train.learning_rate`".into(),
            ),
            (
                "max_seq_length",
                "it belongs in another section: `data.max_seq_length`".into(),
            ),
            (
                "output_dir",
                "it belongs in another section: `checkpoint.output_dir`".into(),
            ),
            (
                "warmup_ratio",
                "it belongs in another section: `train.lr_schedule.warmup_ratio`".into(),
            ),
            (
                "weight_decay",
                "it belongs in another section: `optimizer.weight_decay`".into(),
            ),
            (
                "dpo_beta",
                "it belongs in another section: `train.dpo_beta`".into(),
            ),
            (
                "dpo_loss_type",
                "it belongs in another section: `train.dpo_loss_type`".into(),
            ),
        ];
        for (name, expected) in table {
            for section in ["", "model", "hub"] {
                let got = for_unknown(section, name).unwrap_or_default();
                assert!(got.contains(&expected), "{section}.{name}: {got}");
            }
        }
    }

    #[test]
    fn every_key_an_answer_names_is_a_key_of_the_schema() {
        let known = known_keys();
        let not_keys = ["launch", "wandb"];
        for (names, answer) in crate::familiar::FAMILIAR {
            for quoted in answer.split('`').skip(1).step_by(2) {
                let word = quoted.split([':', ' ']).next().unwrap_or_default();
                if word.starts_with(['<', '-']) || not_keys.contains(&word) {
                    continue;
                }
                assert!(
                    known.iter().any(|k| k == word),
                    "{names:?}: `{word}` is no key"
                );
            }
        }
    }

    #[test]
    fn no_familiar_name_hides_a_ferrospeed_key() {
        let leaves: Vec<String> = known_keys()
            .iter()
            .filter_map(|k| k.rsplit('.').next().map(str::to_string))
            .collect();
        for (names, _) in crate::familiar::FAMILIAR {
            for name in names.iter().filter(|n| **n != "seed") {
                assert!(
                    !leaves.contains(&name.to_string()),
                    "{name} is a Ferrospeed key"
                );
            }
        }
    }
}
