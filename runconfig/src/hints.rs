//! Hints for unknown keys that are not typos: the names open-instruct,
//! Hugging Face `TrainingArguments`, accelerate and DeepSpeed use for a
//! setting, and Ferrospeed keys written in the wrong section. Either gets
//! the Ferrospeed key it means rather than the nearest spelling.

use crate::error::join;
use crate::schema::Config;
use serde_yaml::Value;

/// Familiar names from other tools, and what they are here.
const FAMILIAR: &[(&str, &str)] = &[
    ("per_device_train_batch_size", "Ferrospeed's key is `train.micro_batch_size` (sequences per device per micro-step)"),
    ("train_micro_batch_size_per_gpu", "Ferrospeed's key is `train.micro_batch_size` (sequences per device per micro-step)"),
    ("per_device_eval_batch_size", "Ferrospeed has no such key: evaluation uses `train.micro_batch_size`"),
    ("gradient_accumulation_steps", "Ferrospeed derives it: set `train.effective_batch_size` (sequences per optimizer step) and the accumulation is effective_batch_size / (`train.micro_batch_size` x world size), e.g. 128 / (2 x 8 GPUs) = 8; `launch check` prints it for each world size"),
    ("total_batch_size", "Ferrospeed's key is `train.effective_batch_size` (sequences per optimizer step over all devices)"),
    ("train_batch_size", "Ferrospeed's key is `train.effective_batch_size` (sequences per optimizer step over all devices)"),
    ("use_8bit_optimizer", "Ferrospeed's key is `optimizer.bits: 8` (blockwise 8-bit AdamW state)"),
    ("optim", "Ferrospeed's keys are `optimizer.kind: adamw` and `optimizer.bits: 32` or `8`"),
    ("num_train_epochs", "Ferrospeed's key is `train.epochs`"),
    ("max_train_steps", "Ferrospeed's key is `train.max_steps`"),
    ("lr_scheduler_type", "Ferrospeed's key is `train.lr_schedule.kind` (constant, constant_with_warmup, linear, cosine or wsd)"),
    ("min_lr_rate", "Ferrospeed's key is `train.lr_schedule.min_lr_ratio` (the floor as a share of the peak)"),
    ("num_decay_steps", "Ferrospeed's key is `train.lr_schedule.decay_steps` (with kind: wsd)"),
    ("checkpointing_steps", "Ferrospeed's key is `checkpoint.every_steps`"),
    ("save_steps", "Ferrospeed's key is `checkpoint.every_steps`"),
    ("keep_last_n_checkpoints", "Ferrospeed's key is `checkpoint.keep_last`"),
    ("save_total_limit", "Ferrospeed's key is `checkpoint.keep_last`"),
    ("resume_from_checkpoint", "Ferrospeed's key is `checkpoint.resume` (auto, never or a checkpoint folder)"),
    ("zero_stage", "Ferrospeed has no such key: it always shards parameters, gradients and optimizer state (ZeRO-3)"),
    ("zero_optimization", "Ferrospeed has no such key: it always shards parameters, gradients and optimizer state (ZeRO-3)"),
    ("gradient_checkpointing", "Ferrospeed's key is `train.activation_checkpointing` (true: recompute every block in the backward pass; false: keep every block's activations; auto, the default: recompute only the blocks the memory plan says do not fit the device)"),
    ("model_name_or_path", "Ferrospeed's key is `model.path` (a Hugging Face model folder)"),
    ("tokenizer_name", "Ferrospeed's key is `model.tokenizer` (a tokenizer folder or tokenizer.json)"),
    ("tokenizer_name_or_path", "Ferrospeed's key is `model.tokenizer` (a tokenizer folder or tokenizer.json)"),
    ("dataset_mixer", "Ferrospeed's key is `data.datasets` (a list of {path or hub, mix_ratio})"),
    ("dataset_mixer_list", "Ferrospeed's key is `data.datasets` (a list of {path or hub, mix_ratio})"),
    ("dataset_name", "Ferrospeed's key is `data.datasets` (a list of {path or hub, mix_ratio})"),
    ("logging_steps", "Ferrospeed's key is `logging.every_steps`"),
    ("eval_steps", "Ferrospeed's key is `eval.every_steps`"),
    ("gradient_clipping", "Ferrospeed's key is `train.max_grad_norm`"),
    ("clip_grad_norm", "Ferrospeed's key is `train.max_grad_norm`"),
    ("adam_beta1", "Ferrospeed's key is `optimizer.betas`, the first of two (e.g. [0.9, 0.999])"),
    ("adam_beta2", "Ferrospeed's key is `optimizer.betas`, the second of two (e.g. [0.9, 0.999])"),
    ("adam_epsilon", "Ferrospeed's key is `optimizer.eps`"),
    ("beta", "Ferrospeed's key is `train.dpo_beta`"),
    ("loss_type", "Ferrospeed's key is `train.dpo_loss_type` (dpo, dpo_norm, simpo, wpo or ipo)"),
    ("label_smoothing", "Ferrospeed's key is `train.dpo_label_smoothing`"),
    ("gamma_beta_ratio", "Ferrospeed's key is `train.simpo_gamma`, the margin itself: simpo_gamma = gamma_beta_ratio x dpo_beta"),
    ("bf16", "Ferrospeed's key is `model.dtype: bf16` (the compute dtype)"),
    ("mixed_precision", "Ferrospeed's key is `model.dtype` (f32 or bf16 compute; master weights are fp32)"),
    ("push_to_hub", "Ferrospeed's key is `hub.push: on_finish` with a `hub.repo_id`"),
    ("hub_model_id", "Ferrospeed's key is `hub.repo_id`"),
];

/// The hint for the unknown key `key` found under `path` (dotted, or empty
/// at the top level), if it is a familiar name or a misplaced key.
pub(crate) fn for_unknown(path: &str, key: &str) -> Option<String> {
    if let Some((_, hint)) = FAMILIAR.iter().find(|(name, _)| *name == key) {
        return Some(hint.to_string());
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
fn known_keys() -> Vec<String> {
    // Sections that are empty or absent by default, filled in so that their
    // keys are listed too.
    let sample =
        "run_name: x\nhub: { repo_id: x }\ndata: { datasets: [{ path: x }], validation: {} }\n";
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
}
