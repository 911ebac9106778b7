//! `launch check` says what `launch` accepts: a config the trainer would
//! refuse is refused by both, in one line naming the file and the key;
//! names from open-instruct, accelerate and DeepSpeed get the Ferrospeed
//! key; a tab in the indentation is named as such.

mod common;
use common::*;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A trainer that shows the config `launch` hands the ranks.
fn fake_trainer(dir: &Path) -> std::path::PathBuf {
    script(&dir.join("fake-trainer"), "cat \"$FERROSPEED_CONFIG\"")
}

/// `launch check c.yaml` and `launch 1 c.yaml` on `yaml`: exit 2, one error
/// line holding each of `parts` (the folder of c.yaml is `{dir}` in them),
/// nothing spawned. Returns what `launch check` printed.
fn both_refuse(yaml: &str, parts: &[&str]) -> String {
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let dir = scratch(&format!(
        "check-err-{}",
        CASE.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(dir.join("c.yaml"), yaml).unwrap();
    for first in ["check", "1"] {
        let out = launch(&dir)
            .args([first, "c.yaml"])
            .env("FERROSPEED_TRAINER", fake_trainer(&dir))
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{first}: {all}");
        let errors: Vec<&str> = all.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(errors.len(), 1, "{first}: one message: {all}");
        for part in parts {
            let part = part.replace("{dir}", &dir.display().to_string());
            assert!(
                errors[0].contains(&part),
                "{first}: expected {part:?} in: {all}"
            );
        }
        assert!(!all.contains("panicked"), "{all}");
        assert!(
            !dir.join("logs").exists(),
            "{first}: nothing may be spawned: {all}"
        );
    }
    let out = launch(&dir).args(["check", "c.yaml"]).output().unwrap();
    text(&out)
}

/// The tiny model, its data and a length, with `extra` sections.
fn runnable(extra: &str) -> String {
    format!("run_name: t\n{}{extra}", runnable_yaml())
}

#[test]
fn configs_the_trainer_would_refuse_are_refused_by_check_and_launch() {
    let steps = "train: { max_steps: 2 }\n";
    both_refuse(
        &runnable(&format!("{steps}export:\n  dtype: bf61\n")),
        &["c.yaml:6:10: `export.dtype`: `bf61` is not one of: bf16, f32, compute"],
    );
    both_refuse(
        &runnable(&format!("{steps}checkpoint:\n  resume: sometimes\n")),
        &["c.yaml: `checkpoint.resume`: {dir}/sometimes does not exist (expected auto, never or a checkpoint folder)"],
    );
    both_refuse(
        &runnable(""),
        &["c.yaml: set `train.max_steps` or `train.epochs`: neither is set, so the run has no length"],
    );
    both_refuse(
        &runnable("train:\n  max_steps: 2\n  activation_checkpointing: sometimes\n"),
        &["c.yaml:6:29: `train.activation_checkpointing`: must be true, false or auto, got \"sometimes\""],
    );
    let model = repo_root().join("configs/models/tiny-llama.json");
    both_refuse(
        &format!(
            "run_name: t\nmodel: {{ config: {} }}\n{steps}",
            model.display()
        ),
        &["c.yaml: `data.datasets` is empty: list at least one dataset (path: ... or hub: ...)"],
    );
    let data = repo_root().join("data/sanity/counting.jsonl");
    let with_model = |model: &str| {
        format!(
            "run_name: t\nmodel: {{ {model} }}\ndata: {{ datasets: [{{ path: {} }}] }}\n{steps}",
            data.display()
        )
    };
    both_refuse(
        &with_model("path: ./models/none"),
        &["c.yaml: `model.path`: {dir}/models/none does not exist (a Hugging Face model folder: config.json, *.safetensors, tokenizer files)"],
    );
    both_refuse(
        &format!(
            "run_name: t\nmodel: {{ config: {} }}\ndata: {{ datasets: [{{ path: gone.jsonl }}] }}\n{steps}",
            model.display()
        ),
        &["c.yaml: `data.datasets[0].path`: {dir}/gone.jsonl does not exist"],
    );
    both_refuse(
        &format!(
            "run_name: t\nmodel: {{ config: {} }}\ndata: {{ datasets: [{{ path: {}, split: test }}] }}\n{steps}",
            model.display(),
            data.display()
        ),
        &["c.yaml: `data.datasets[0].split`: applies to a Hub dataset (`hub: org/name`) only"],
    );
}

#[test]
fn dpo_loss_settings_the_trainer_would_refuse_are_refused_by_check_and_launch() {
    let train = |keys: &str| runnable(&format!("train:\n  max_steps: 2\n{keys}"));
    both_refuse(
        &train("  dpo_loss_type: sigmoid\n"),
        &[
            "c.yaml:",
            "`train.dpo_loss_type`: `sigmoid` is not one of: dpo, dpo_norm, simpo, wpo, ipo",
        ],
    );
    both_refuse(
        &train("  simpo_gamma: 0.5\n"),
        &["c.yaml: `train.simpo_gamma` applies only to `train.dpo_loss_type: simpo`, but the loss type is dpo: remove it, or set train.dpo_loss_type: simpo"],
    );
    both_refuse(
        &train("  dpo_loss_type: ipo\n  dpo_label_smoothing: 0.1\n"),
        &["c.yaml: `train.dpo_label_smoothing` does not apply to `train.dpo_loss_type: ipo`"],
    );
    both_refuse(
        &train("  dpo_loss_type: wpo\n  dpo_label_smoothing: 0.5\n"),
        &[
            "c.yaml: `train.dpo_label_smoothing` must be a number in [0, 0.5)",
            "got 0.5",
        ],
    );
    both_refuse(
        &train("  dpo_loss_type: simpo\n  simpo_gamma: -1\n"),
        &[
            "c.yaml: `train.simpo_gamma` must be a non-negative number",
            "got -1",
        ],
    );
}

#[test]
fn familiar_names_from_other_tools_get_the_ferrospeed_key() {
    for (yaml, hint) in [
        ("per_device_train_batch_size: 2", "Ferrospeed's key is `train.micro_batch_size`"),
        ("gradient_accumulation_steps: 4", "Ferrospeed derives it: set `train.effective_batch_size` (sequences per optimizer step) and the accumulation is effective_batch_size / (`train.micro_batch_size` x world size)"),
        ("use_8bit_optimizer: true", "Ferrospeed's key is `optimizer.bits: 8`"),
        ("num_train_epochs: 2", "Ferrospeed's key is `train.epochs`"),
        ("lr_scheduler_type: linear", "Ferrospeed's key is `train.lr_schedule.kind`"),
        ("warmup_ratio: 0.03", "it belongs in another section: `train.lr_schedule.warmup_ratio`"),
        ("checkpointing_steps: 500", "Ferrospeed's key is `checkpoint.every_steps`"),
        ("keep_last_n_checkpoints: 3", "Ferrospeed's key is `checkpoint.keep_last`"),
        ("output_dir: out", "it belongs in another section: `checkpoint.output_dir`"),
        ("zero_stage: 3", "not needed: Ferrospeed always shards parameters, gradients and optimizer state (ZeRO-3)"),
        ("gradient_checkpointing: true", "Ferrospeed's key is `train.activation_checkpointing` (true: recompute every block"),
        ("learning_rate: 1.0e-5", "it belongs in another section: `train.learning_rate`"),
        ("model_name_or_path: x", "Ferrospeed's key is `model.path`"),
        ("max_seq_length: 4096", "it belongs in another section: `data.max_seq_length`"),
        ("loss_type: simpo", "Ferrospeed's key is `train.dpo_loss_type` (dpo, dpo_norm, simpo, wpo or ipo)"),
        ("gamma_beta_ratio: 0.3", "Ferrospeed's key is `train.simpo_gamma`, the margin itself: simpo_gamma = gamma_beta_ratio x dpo_beta"),
    ] {
        let key = yaml.split(':').next().unwrap();
        let message = format!("c.yaml:2:1: unknown key `{key}`: {hint}");
        let error = both_refuse(&format!("run_name: t\n{yaml}\n"), &[&message]);
        assert!(!error.contains("did you mean"), "{error}");
    }
    // Under a section too.
    both_refuse(
        "run_name: t\ntrain:\n  num_train_epochs: 2\n",
        &["c.yaml:3:3: unknown key `train.num_train_epochs`: Ferrospeed's key is `train.epochs`"],
    );
}

#[test]
fn report_to_wandb_says_how_to_see_the_run_in_wandb() {
    let error = both_refuse(
        "run_name: t\nreport_to: wandb\n",
        &[
            "c.yaml:2:1: unknown key `report_to`: Ferrospeed writes TensorBoard event files",
            "`wandb sync --sync-tensorboard <output_dir>/tensorboard`",
        ],
    );
    assert!(!error.contains("did you mean"), "{error}");
    // Under a section, and with accelerate's names for processes and nodes.
    both_refuse(
        "run_name: t\nlogging:\n  with_tracking: true\n",
        &[
            "unknown key `logging.with_tracking`: Ferrospeed writes TensorBoard",
            "wandb sync",
        ],
    );
    both_refuse(
        "run_name: t\nnum_machines: 2\n",
        &["unknown key `num_machines`: not a config key: run `launch N CONFIG.yaml --nnodes K`"],
    );
}

#[test]
fn open_instructs_chat_template_names_are_accepted_and_a_typo_is_named() {
    let dir = scratch("named-template");
    let yaml = runnable("train: { max_steps: 2 }\n");
    std::fs::write(dir.join("c.yaml"), &yaml).unwrap();
    let out = launch(&dir)
        .args(["check", "c.yaml", "--set", "data.chat_template=zephyr"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    both_refuse(
        &yaml.replace("data: { ", "data: { chat_template: zephir, "),
        &["`data.chat_template`: {dir}/zephir is not a file; did you mean `zephyr`?"],
    );
}

#[test]
fn a_tab_in_the_indentation_is_named_as_such() {
    both_refuse(
        "run_name: t\ntrain:\n\tmax_steps: 2\n",
        &["c.yaml:3: a tab; YAML indents with spaces"],
    );
}
