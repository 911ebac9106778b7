//! A pipeline stage `from:` a LoRA stage continues its adapter: DPO after
//! a LoRA SFT starts from SFT's adapter on SFT's base (its reference is the
//! SFT model), writes an adapter again, and a re-run skips both stages; a
//! stage that could not start from that adapter is refused before anything
//! trains.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// A LoRA SFT of the sanity recipe, then DPO `from:` it at learning rate 0
/// (`dpo_set` added to the DPO stage's `set:`).
fn pipeline(dir: &Path, dpo_set: &str) -> PathBuf {
    let c = repo_root().join("configs");
    let text = format!(
        "pipeline: lora\noutput_dir: out\nstages:\n  - name: sft\n    config: {}\n    set: {{ train.sanity_steps: null, train.epochs: null, train.max_steps: 4, train.threads: 1, lora.r: 4, lora.alpha: 8, lora.dropout: 0.0, lora.target_modules: [q_proj, v_proj] }}\n  - name: dpo\n    config: {}\n    from: sft\n    set: {{ train.max_steps: 2, train.learning_rate: 0.0, train.threads: 1, logging.every_steps: 1{dpo_set} }}\n",
        c.join("sanity.yaml").display(),
        c.join("sanity-dpo.yaml").display(),
    );
    let path = dir.join("p.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(dir: &Path, p: &Path) -> String {
    let mut c = launch(dir);
    c.arg("1").arg(p);
    run_ok(c)
}

#[test]
fn dpo_from_a_lora_sft_starts_from_its_adapter_and_writes_one() {
    let dir = scratch("pipeline-lora");
    let p = pipeline(&dir, "");
    let out = run(&dir, &p);
    assert!(out.contains("pipeline lora complete"), "{out}");
    let (sft, dpo) = (dir.join("out/sft/final"), dir.join("out/dpo/final"));
    assert!(dpo.join("adapter_config.json").is_file());
    assert!(!dpo.join("config.json").exists() && !dpo.join("model.safetensors").exists());
    let name = "adapter_model.safetensors";
    let trained = tensor_bytes(&sft.join(name));
    assert!(trained.keys().any(|k| k.ends_with("q_proj.lora_B.weight")));
    assert!(
        tensor_bytes(&dpo.join(name)) == trained,
        "DPO at learning rate 0 must end with SFT's adapter"
    );
    // Policy and reference are both SFT's model: every pair's margin is 0.
    let first = losses(&dir.join("out/dpo/metrics.jsonl"))[&1];
    assert!((first - 2f64.ln()).abs() < 1e-9, "DPO step-1 loss {first}");
    let resolved =
        std::fs::read_to_string(dir.join("out/dpo/checkpoints/step-000002/config.yaml")).unwrap();
    let tiny = repo_root().join("configs/models/tiny-llama.json");
    for line in [
        format!("adapter: {}", sft.display()),
        format!("config: {}", tiny.display()),
        "path: null".to_string(),
    ] {
        assert!(resolved.contains(&line), "{line} in {resolved}");
    }
    let again = run(&dir, &p);
    assert_eq!(again.matches("completed, skipped").count(), 2, "{again}");
}

#[test]
fn a_stage_that_cannot_continue_the_adapter_is_refused_before_anything_trains() {
    let dir = scratch("pipeline-lora-refused");
    let cases = [
        (", lora.r: 8", "`lora.r` is 8 but the adapter at"),
        (", train.seed: 7", "`train.seed` is 7, but the adapters of"),
    ];
    for (set, part) in cases {
        let p = pipeline(&dir, set);
        for first in ["check", "1"] {
            let o = launch(&dir).arg(first).arg(&p).output().unwrap();
            assert_eq!(o.status.code(), Some(2), "{}", text(&o));
            let errors: Vec<String> = text(&o)
                .lines()
                .filter(|l| l.contains("error:"))
                .map(String::from)
                .collect();
            assert_eq!(errors.len(), 1, "{}", text(&o));
            assert!(
                errors[0].contains("stage dpo") && errors[0].contains(part),
                "{}",
                text(&o)
            );
        }
        assert!(!dir.join("out/sft").exists(), "nothing may train");
    }
}
