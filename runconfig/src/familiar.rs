//! The names open-instruct, Hugging Face `TrainingArguments`, accelerate and
//! DeepSpeed use for a setting, and what Ferrospeed says to each: the key
//! to use, the `launch` argument, "not needed" for what Ferrospeed does by
//! itself, or "not supported yet". Names that are also Ferrospeed keys in
//! another section (`learning_rate`, `warmup_ratio`, `output_dir`, ...)
//! are not listed: [`crate::hints`] names their section.
//!
//! Every backticked word that looks like a key must be one (a test checks).

/// Seeing a run in Weights & Biases without a W&B client in the trainer.
const WANDB: &str = "Ferrospeed writes TensorBoard event files to `<output_dir>/tensorboard/` (`logging.tensorboard`, on by default) and every value to `<output_dir>/metrics.jsonl`; to see the run in W&B, upload the event files: `wandb sync --sync-tensorboard <output_dir>/tensorboard` (add `--project NAME`)";
const DEEPSPEED: &str = "not needed: Ferrospeed is its own ZeRO-3 engine, and this YAML is its whole configuration (no DeepSpeed or accelerate config)";
const ZERO3: &str =
    "not needed: Ferrospeed always shards parameters, gradients and optimizer state (ZeRO-3)";
const LORA: &str = "Ferrospeed's section is `lora` (`lora.r`, `lora.alpha`, `lora.dropout`, `lora.target_modules`; `lora.base: nf4` for QLoRA); its defaults are open-instruct's";
const MICRO: &str =
    "Ferrospeed's key is `train.micro_batch_size` (sequences per device per micro-step)";
const EFFECTIVE: &str =
    "Ferrospeed's key is `train.effective_batch_size` (sequences per optimizer step over all devices)";
const MIXTURE: &str = "Ferrospeed's key is `data.datasets` (a list of {path or hub, mix_ratio})";
const CACHE: &str = "Ferrospeed's key is `data.cache` (true, the default: tokenised data is cached under `<output_dir>/data-cache/` and rebuilt when the data, tokenizer or settings change; false: tokenise every time)";

/// Familiar names (several may share an answer) and the answer.
pub(crate) const FAMILIAR: &[(&[&str], &str)] = &[
    // Batch sizes.
    (&["per_device_train_batch_size", "train_micro_batch_size_per_gpu"], MICRO),
    (&["per_device_eval_batch_size"], "Ferrospeed has no such key: evaluation uses `train.micro_batch_size`"),
    (&["gradient_accumulation_steps"], "Ferrospeed derives it: set `train.effective_batch_size` (sequences per optimizer step) and the accumulation is effective_batch_size / (`train.micro_batch_size` x world size), e.g. 128 / (2 x 8 GPUs) = 8; `launch check` prints it for each world size"),
    (&["total_batch_size", "train_batch_size"], EFFECTIVE),
    // Optimizer and schedule.
    (&["use_8bit_optimizer"], "Ferrospeed's key is `optimizer.bits: 8` (blockwise 8-bit AdamW state)"),
    (&["optim"], "Ferrospeed's keys are `optimizer.kind: adamw` and `optimizer.bits` (32 or 8)"),
    (&["fused_optimizer"], "not needed: the 32-bit AdamW step already runs libtorch's fused kernel"),
    (&["num_train_epochs"], "Ferrospeed's key is `train.epochs`"),
    (&["max_train_steps"], "Ferrospeed's key is `train.max_steps`"),
    (&["lr_scheduler_type"], "Ferrospeed's key is `train.lr_schedule.kind` (constant, constant_with_warmup, linear, cosine or wsd)"),
    (&["num_warmup_steps"], "Ferrospeed's key is `train.lr_schedule.warmup_steps`"),
    (&["min_lr_rate", "final_lr_ratio"], "Ferrospeed's key is `train.lr_schedule.min_lr_ratio` (the floor as a share of the peak)"),
    (&["num_decay_steps"], "Ferrospeed's key is `train.lr_schedule.decay_steps` (with kind: wsd)"),
    (&["gradient_clipping", "clip_grad_norm"], "Ferrospeed's key is `train.max_grad_norm`"),
    (&["adam_beta1"], "Ferrospeed's key is `optimizer.betas`, the first of two (e.g. [0.9, 0.999])"),
    (&["adam_beta2"], "Ferrospeed's key is `optimizer.betas`, the second of two (e.g. [0.9, 0.999])"),
    (&["adam_epsilon"], "Ferrospeed's key is `optimizer.eps`"),
    (&["seed"], "Ferrospeed's key is `train.seed` (the validation split has its own, `data.validation.seed`)"),
    // Checkpoints.
    (&["checkpointing_steps", "save_steps"], "Ferrospeed's key is `checkpoint.every_steps`"),
    (&["save_strategy"], "Ferrospeed's keys are `checkpoint.every_steps` and `checkpoint.at_epoch_end`"),
    (&["keep_last_n_checkpoints", "save_total_limit"], "Ferrospeed's key is `checkpoint.keep_last`"),
    (&["resume_from_checkpoint"], "Ferrospeed's key is `checkpoint.resume` (auto, never or a checkpoint folder)"),
    // ZeRO, DeepSpeed, memory.
    (&["zero_stage", "zero_optimization"], ZERO3),
    (&["use_deepspeed", "deepspeed", "deepspeed_config_file", "distributed_type", "zero3_init_flag"], DEEPSPEED),
    (&["zero3_save_16bit_model", "stage3_gather_16bit_weights_on_model_save"], "not needed: every run writes `<output_dir>/final/`, a Hugging Face model folder in `export.dtype` (bf16 by default)"),
    (&["offload_optimizer_device", "offload_optimizer"], "Ferrospeed's key is `optimizer.offload: cpu` (fp32 master weights and optimizer state in host memory; no NVMe)"),
    (&["offload_param_device", "offload_param"], "not supported yet: parameters stay sharded on the devices; `optimizer.offload: cpu` moves the fp32 master weights and optimizer state to host memory"),
    (&["gradient_checkpointing"], "Ferrospeed's key is `train.activation_checkpointing` (true: recompute every block in the backward pass; false: keep every block's activations; auto, the default: recompute only the blocks the memory plan says do not fit the device)"),
    (&["use_flash_attn", "attn_implementation"], "not needed: attention runs through libtorch's scaled_dot_product_attention, which picks flash attention by itself where the GPU and dtype allow it"),
    (&["use_liger_kernel"], "not supported: Ferrospeed computes with libtorch's kernels; to save memory see `train.activation_checkpointing` and `optimizer.offload`"),
    (&["use_lora", "use_qlora", "lora_rank", "lora_alpha", "lora_dropout"], LORA),
    (&["bf16", "torch_dtype"], "Ferrospeed's key is `model.dtype: bf16` (the compute dtype)"),
    (&["mixed_precision"], "Ferrospeed's key is `model.dtype` (f32 or bf16 compute; master weights are fp32)"),
    (&["fp16"], "not supported: the compute dtype `model.dtype` is f32 or bf16"),
    // Processes and nodes.
    (&["num_processes", "nproc_per_node"], "not a config key: the number of ranks on a node is the first argument, `launch N CONFIG.yaml` (with `--nnodes K`, K x N ranks in all)"),
    (&["num_machines", "nnodes"], "not a config key: run `launch N CONFIG.yaml --nnodes K` on each of the K nodes (docs/multinode.md; under Slurm it is read from SLURM_NNODES)"),
    (&["machine_rank", "node_rank"], "not a config key: `launch N CONFIG.yaml --node-rank R` on node R"),
    (&["main_process_ip", "master_addr"], "not a config key: `launch N CONFIG.yaml --master-addr HOST`"),
    (&["main_process_port", "master_port"], "not a config key: `launch N CONFIG.yaml --master-port PORT`"),
    (&["num_cpu_threads_per_process"], "Ferrospeed's key is `train.threads`"),
    (&["timeout"], "Ferrospeed's key is `comm_timeout_s` (seconds a collective waits for the other ranks)"),
    // Model, tokenizer, chat template.
    (&["model_name_or_path"], "Ferrospeed's key is `model.path` (a Hugging Face model folder or Hub id)"),
    (&["tokenizer_name", "tokenizer_name_or_path"], "Ferrospeed's key is `model.tokenizer` (a tokenizer folder, tokenizer.json or Hub id)"),
    (&["model_revision", "tokenizer_revision"], "Ferrospeed's key is `model.revision` (for both the model and the tokenizer)"),
    (&["chat_template_name"], "Ferrospeed's key is `data.chat_template` (a name such as tulu, zephyr or simple_chat; model, the tokenizer's own; or a Jinja file)"),
    (&["add_bos"], "not needed: BOS is added when the tokenizer asks for it (add_bos_token in tokenizer_config.json) and the row does not already start with it"),
    (&["use_slow_tokenizer"], "not needed: Ferrospeed reads tokenizer.json, the fast tokenizer"),
    (&["trust_remote_code"], "not needed: Ferrospeed runs Llama-family models from its own code and never runs code from a model repository"),
    // Data.
    (&["dataset_mixer", "dataset_mixer_list", "dataset_name", "dataset_mixer_dict"], MIXTURE),
    (&["dataset_mixer_list_splits", "dataset_split"], "Ferrospeed's key is `data.datasets[].split` (one per dataset)"),
    (&["dataset_config_name"], "Ferrospeed's key is `data.datasets[].name` (the configuration of a Hub dataset)"),
    (&["max_train_samples"], "Ferrospeed's key is `data.datasets[].max_samples` (one per dataset)"),
    (&["dataset_local_cache_dir", "dataset_cache_mode", "dataset_skip_cache", "overwrite_cache"], CACHE),
    (&["preprocessing_num_workers"], "not needed: tokenising uses every core of the node"),
    // Logging, evaluation, tracking.
    (&["logging_steps", "steps_per_print"], "Ferrospeed's key is `logging.every_steps`"),
    (&["eval_steps", "evaluation_strategy", "eval_strategy"], "Ferrospeed's key is `eval.every_steps`"),
    (&["report_to", "with_tracking", "wandb_project_name", "wandb_entity", "wandb_project"], WANDB),
    (&["exp_name"], "Ferrospeed's key is `run_name`"),
    // DPO.
    (&["beta"], "Ferrospeed's key is `train.dpo_beta`"),
    (&["loss_type"], "Ferrospeed's key is `train.dpo_loss_type` (dpo, dpo_norm, simpo, wpo or ipo)"),
    (&["label_smoothing"], "Ferrospeed's key is `train.dpo_label_smoothing`"),
    (&["gamma_beta_ratio", "dpo_gamma_beta_ratio"], "Ferrospeed's key is `train.simpo_gamma`, the margin itself: simpo_gamma = gamma_beta_ratio x dpo_beta"),
    // The Hub.
    (&["push_to_hub"], "Ferrospeed's key is `hub.push: on_finish` with a `hub.repo_id`"),
    (&["hub_model_id", "hf_repo_id", "save_to_hub"], "Ferrospeed's key is `hub.repo_id`"),
    (&["hf_entity", "hub_organization"], "Ferrospeed's key is `hub.namespace` (put in front of a `hub.repo_id` that has none)"),
    (&["hf_repo_revision", "hub_revision"], "Ferrospeed's key is `hub.revision`"),
    (&["hub_private_repo"], "Ferrospeed's key is `hub.private` (true by default)"),
];

/// The answer for the familiar name `key` (`-` read as `_`, as accelerate's
/// command-line flags are spelled).
pub(crate) fn answer(key: &str) -> Option<&'static str> {
    let key = key.replace('-', "_");
    FAMILIAR
        .iter()
        .find(|(names, _)| names.contains(&key.as_str()))
        .map(|(_, answer)| *answer)
}
