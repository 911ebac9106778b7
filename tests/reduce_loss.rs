//! `train.reduce_loss`: the trainer's per-step losses and gradient norms
//! equal open-instruct's computation in PyTorch (scripts/reduce-loss-reference)
//! on a fixed accumulation schedule, at 1, 2 and 4 ranks with the same
//! effective batch.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// The run's YAML: the reference's tiny Llama and rows, in file order.
fn config(dir: &Path, reduce: &str) -> std::path::PathBuf {
    let r = dir.join("ref");
    let yaml = format!(
        "run_name: reduce-loss\n\
         model: {{ path: {model}, dtype: f32 }}\n\
         data: {{ objective: sft, max_seq_length: 32, shuffle: false, datasets: [{{ path: {data} }}] }}\n\
         train: {{ micro_batch_size: 2, effective_batch_size: 8, max_steps: 3, learning_rate: 1.0e-2,\n\
         \x20 lr_schedule: {{ kind: constant }}, max_grad_norm: 1.0, reduce_loss: {reduce}, threads: 1 }}\n\
         optimizer: {{ kind: adamw, bits: 32, weight_decay: 0.0 }}\n\
         logging: {{ every_steps: 1 }}\n\
         comm: cpu\n",
        model = r.join("model").display(),
        data = r.join("data.jsonl").display(),
    );
    let path = dir.join(format!("{reduce}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Per-step `(train_loss, grad_norm)` of a run at `world` ranks.
fn run(dir: &Path, reduce: &str, world: usize) -> Vec<(f64, f64)> {
    let out = dir.join(format!("{reduce}-w{world}"));
    let result = launch(dir)
        .arg(world.to_string())
        .arg(config(dir, reduce))
        .arg("--set")
        .arg(format!("checkpoint.output_dir={}", out.display()))
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{reduce} W={world}: {}",
        text(&result)
    );
    records(&out)
        .iter()
        .filter_map(|r| Some((r.get("train_loss")?.as_f64()?, r["grad_norm"].as_f64()?)))
        .collect()
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-4 * want.abs(),
        "{what}: {got}, the PyTorch reference {want}"
    );
}

#[test]
fn sum_and_mean_match_pytorch_at_one_two_and_four_ranks() {
    let dir = scratch("reduce-loss");
    let py = python_with("transformers");
    let made = std::process::Command::new(py)
        .arg(repo_root().join("scripts/reduce-loss-reference"))
        .arg(dir.join("ref"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let reference: Value =
        serde_json::from_slice(&std::fs::read(dir.join("ref/reference.json")).unwrap()).unwrap();
    for (reduce, worlds) in [("sum", &[1, 2, 4][..]), ("mean", &[2][..])] {
        let want = &reference[reduce];
        for &world in worlds {
            let got = run(&dir, reduce, world);
            assert_eq!(got.len(), 3, "{reduce} W={world}: {got:?}");
            for (step, (loss, norm)) in got.iter().enumerate() {
                let what = |k: &str| format!("{reduce} W={world} step {}: {k}", step + 1);
                close(
                    *loss,
                    want["losses"][step].as_f64().unwrap(),
                    &what("train_loss"),
                );
                close(
                    *norm,
                    want["grad_norms"][step].as_f64().unwrap(),
                    &what("grad_norm"),
                );
            }
        }
    }
}
