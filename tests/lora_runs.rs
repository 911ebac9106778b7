//! LoRA runs as a user runs them: a checkpoint holds the adapters alone
//! and resumes at another world size with the losses of a run never
//! stopped; the export is a PEFT adapter folder that peft loads with no
//! missing or unexpected key, and `launch export --merge` writes the model
//! peft's `merge_and_unload()` gives; bad settings are refused before
//! anything trains.

mod common;
use common::tiny_pretrain as pretrain;
use common::*;
use std::process::Command;

/// LoRA on the tiny model: r 8 on every projection, no dropout (so the
/// world sizes agree), f32.
const LORA: [&str; 3] = ["lora.r=8", "lora.alpha=16", "lora.dropout=0"];

#[test]
fn a_lora_checkpoint_holds_the_adapters_and_resumes_at_another_world_size() {
    let dir = scratch("lora-resume");
    let sets = [
        &LORA[..],
        &["train.max_steps=12", "checkpoint.every_steps=6"],
    ]
    .concat();
    let whole = dir.join("whole");
    let said = run_ok(pretrain(&dir, 1, &whole, &sets));
    assert!(said.contains("trained: LoRA r 8)"), "{said}");
    let want = losses(&whole.join("metrics.jsonl"));

    let two = dir.join("two");
    run_ok(pretrain(&dir, 2, &two, &sets));
    // Only the adapters are saved: 2 layers x 7 projections x r (in + out).
    let held: usize = (0..2)
        .map(|r| ckpt(&two, 6).join(format!("rank-{r:05}.safetensors")))
        .flat_map(|f| tensor_bytes(&f))
        .filter(|(name, _)| name.ends_with(".master"))
        .map(|(_, bytes)| bytes.len() / 4)
        .sum();
    let per_layer = 8 * ((64 + 64) + (64 + 32) + (64 + 32) + (64 + 64) + 3 * (64 + 176));
    assert_eq!(
        held,
        2 * per_layer,
        "the checkpoint holds more than the adapters"
    );

    std::fs::remove_dir_all(ckpt(&two, 12)).unwrap(); // as if W=2 stopped after step 6
    let from_step_6 = |name: &str| {
        let out = dir.join(name);
        std::fs::create_dir_all(out.join("checkpoints")).unwrap();
        let mut cp = Command::new("cp");
        cp.arg("-r").arg(ckpt(&two, 6)).arg(out.join("checkpoints"));
        assert!(cp.status().unwrap().success());
        out
    };
    let out = from_step_6("resumed");
    let said = run_ok(pretrain(&dir, 1, &out, &sets));
    assert!(said.contains("resumed from"), "{said}");
    for (step, loss) in losses(&out.join("metrics.jsonl")) {
        let w = want[&step];
        assert!(
            (loss - w).abs() / w < 1e-5,
            "step {step}: {loss} vs uninterrupted {w}"
        );
    }

    // Adapters of another rank cannot continue them.
    let out = from_step_6("other-rank");
    let sets = [&sets[..], &["lora.r=4"]].concat();
    let refused = pretrain(&dir, 1, &out, &sets).output().unwrap();
    let said = text(&refused);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("`lora.r` = 8, but the config now says 4"),
        "{said}"
    );
    assert!(!ckpt(&out, 12).exists(), "a run of another rank trained on");
}

/// Loads `argv[1]` (a base model folder) with the adapter of `argv[2]` in
/// peft and prints: the adapter keys peft expects but the file lacks and
/// the other way round, how far the loaded adapter is from the file, how
/// far peft's `merge_and_unload()` is from the merged model of `argv[3]`,
/// and how far their logits are.
const PEFT_CHECK: &str = r#"
import sys, torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
from peft import PeftModel, get_peft_model_state_dict
base_dir, adapter_dir, merged_dir = sys.argv[1:4]
base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
model = PeftModel.from_pretrained(base, adapter_dir)
saved = load_file(f"{adapter_dir}/adapter_model.safetensors")
state = get_peft_model_state_dict(model)
print("missing", len(set(state) - set(saved)), "unexpected", len(set(saved) - set(state)))
print("loaded", max((state[k] - saved[k]).abs().max().item() for k in saved))
print("trained", max(saved[k].abs().max().item() for k in saved if "lora_B" in k))
embed = "base_model.model.model.embed_tokens.weight"
print("embedding", (saved[embed] - base.model.embed_tokens.original_module.weight).abs().max().item())
ours = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
ids = torch.arange(3, 60).unsqueeze(0)
with torch.no_grad():
    logits = model(ids).logits
    merged = model.merge_and_unload().state_dict()
    mine = ours.state_dict()
    print("merge", max((merged[k] - mine[k]).abs().max().item() for k in mine))
    print("logits", (logits - ours(ids).logits).abs().max().item())
"#;

/// The number after `label` in `said`.
fn number(said: &str, label: &str) -> f64 {
    let rest = said.split(&format!("{label} ")).nth(1);
    let word = rest.and_then(|r| r.split_whitespace().next());
    word.and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no {label} in {said}"))
}

#[test]
fn the_adapter_export_loads_in_peft_and_the_merged_export_is_peft_s_merge() {
    let home = TempDir::new("lora-peft");
    let data = repo_root().join("data/sanity-chat");
    let base = home.join("base");
    let made = Command::new(python_with("peft"))
        .args(["-c", TINY_LLAMA, base.to_str().unwrap()])
        .arg(&data)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let yaml = format!(
        "run_name: lora-sft\nmodel: {{ path: {}, dtype: f32 }}\n\
         data: {{ objective: sft, max_seq_length: 96, chat_template: model, datasets: [{{ path: {} }}] }}\n\
         train: {{ max_steps: 4, micro_batch_size: 4, effective_batch_size: 16, learning_rate: 1.0e-2, threads: 1 }}\n\
         lora: {{ r: 8, alpha: 16, dropout: 0.0, modules_to_save: [embed_tokens, lm_head] }}\n\
         checkpoint: {{ output_dir: out, every_steps: 4 }}\ncomm: cpu\n",
        base.display(),
        data.join("sft.jsonl").display()
    );
    std::fs::write(home.join("sft.yaml"), yaml).unwrap();
    run_ok(launch_clean_command(&["2", "sft.yaml"], &[], &home.0));
    let adapter = home.join("out/final");
    let config = std::fs::read_to_string(adapter.join("adapter_config.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["base_model_name_or_path"], base.to_str().unwrap());
    assert_eq!(config["r"], 8);
    assert_eq!(
        config["modules_to_save"],
        serde_json::json!(["embed_tokens", "lm_head"])
    );
    let card = std::fs::read_to_string(adapter.join("README.md")).unwrap();
    assert!(card.contains("library_name: peft"), "{card}");

    let step = ckpt(&home.join("out"), 4);
    let args = [
        "export",
        step.to_str().unwrap(),
        "merged",
        "--merge",
        "--dtype",
        "f32",
    ];
    run_ok(launch_clean_command(&args, &[], &home.0));
    let check = Command::new(python_with("peft"))
        .args(["-c", PEFT_CHECK, base.to_str().unwrap()])
        .args([
            adapter.to_str().unwrap(),
            home.join("merged").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let said = text(&check);
    println!("{said}");
    assert!(check.status.success(), "{said}");
    assert_eq!(number(&said, "missing"), 0.0, "{said}");
    assert_eq!(number(&said, "unexpected"), 0.0, "{said}");
    assert_eq!(number(&said, "loaded"), 0.0, "{said}");
    assert!(
        number(&said, "trained") > 1e-3,
        "the adapters did not train: {said}"
    );
    assert!(number(&said, "merge") < 1e-5, "{said}");
    assert!(number(&said, "logits") < 1e-4, "{said}");
}

#[test]
fn bad_lora_settings_are_refused_in_one_line_before_anything_starts() {
    let home = TempDir::new("lora-refused");
    let config = repo_root().join("configs/tiny-pretrain.yaml");
    let config = config.to_str().unwrap();
    for (set, part) in [
        ("lora.r=0", "`lora.r` must be a positive integer, found 0"),
        (
            "lora.target_modules=[q_proj,qkv]",
            "target module \"qkv\" is not a projection of the model; its modules are q_proj",
        ),
        ("lora.base=nf4", "`lora.base: nf4` computes in bf16"),
        ("lora.modules_to_save=[norm]", "\"norm\" is not a module"),
        ("export.merge=true", "this run has no `lora:` section"),
    ] {
        refused_before_start(&home.0, &[config, "--set", set], &[], part);
    }
}
