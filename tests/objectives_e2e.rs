//! SFT and DPO through `launch`: the sanity table, DPO learning to prefer
//! right answers, world-size invariance, and a run that diverges.

mod common;
use common::*;
use std::path::Path;

fn run(dir: &Path, world: usize, config: &str, sets: &[String]) -> std::process::Output {
    let mut c = launch(dir);
    c.arg(world.to_string())
        .arg(repo_root().join(config))
        .current_dir(repo_root());
    c.args(["--set", "train.threads=1", "--set", "comm=cpu"]);
    for s in sets {
        c.arg("--set").arg(s);
    }
    c.output().unwrap()
}

#[test]
fn the_sanity_config_prints_a_green_table() {
    let dir = scratch("green");
    let out = run(
        &dir,
        1,
        "configs/sanity.yaml",
        &[format!(
            "checkpoint.output_dir={}",
            dir.join("out").display()
        )],
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("=> GREEN: ready for the full run"), "{all}");
    let evals: Vec<f64> = records(&dir.join("out"))
        .iter()
        .filter_map(|r| r.get("eval_loss")?.as_f64())
        .collect();
    assert!(
        evals.len() >= 3 && evals.last().unwrap() < &(evals[0] * 0.5),
        "eval loss falls visibly: {evals:?}"
    );
}

#[test]
fn the_lora_sanity_config_prints_a_green_table() {
    let dir = scratch("green-lora");
    let out_dir = dir.join("out");
    let sets = [format!("checkpoint.output_dir={}", out_dir.display())];
    let out = run(&dir, 1, "configs/sanity-lora.yaml", &sets);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("=> GREEN: ready for the full run"), "{all}");
    // The adapters alone move the frozen random model: from about ln 256.
    let evals: Vec<f64> = records(&out_dir)
        .iter()
        .filter_map(|r| r.get("eval_loss")?.as_f64())
        .collect();
    assert!(
        evals.len() >= 3 && evals.last().unwrap() < &(evals[0] - 0.5),
        "eval loss falls visibly: {evals:?}"
    );
}

#[test]
fn a_red_sanity_table_fails_the_run() {
    let dir = scratch("red");
    let sets = [
        format!("checkpoint.output_dir={}", dir.join("out").display()),
        "train.learning_rate=0.0".into(),
        "train.sanity_steps=8".into(),
    ];
    let out = run(&dir, 1, "configs/sanity.yaml", &sets);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("RED    loss decreasing") && all.contains("the sanity check is red"),
        "{all}"
    );
}

#[test]
fn dpo_learns_to_prefer_the_right_answers() {
    let dir = scratch("dpo");
    let out_dir = dir.join("out");
    let out = run(
        &dir,
        1,
        "configs/sanity-dpo.yaml",
        &[
            format!("checkpoint.output_dir={}", out_dir.display()),
            "logging.every_steps=1".into(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let recs = records(&out_dir);
    let acc: Vec<f64> = recs
        .iter()
        .filter_map(|r| r.get("rewards/accuracy")?.as_f64())
        .collect();
    let last = &acc[acc.len() - 30..];
    let mean = last.iter().sum::<f64>() / last.len() as f64;
    assert!(
        mean > 0.9,
        "rewards/accuracy over the last 30 steps: {mean}"
    );
    for key in [
        "rewards/chosen",
        "rewards/rejected",
        "rewards/margin",
        "logps/chosen",
        "logps/rejected",
        "grad_norm",
        "learning_rate",
    ] {
        assert!(
            recs.iter().any(|r| r.get(key).is_some()),
            "metrics lack {key}"
        );
    }
    assert!(recs
        .iter()
        .any(|r| r.get("eval_rewards/accuracy").is_some()));
    assert!(
        out_dir.join("dpo-reference.safetensors").is_file(),
        "reference log-probs are cached"
    );
}

/// Per-step values of `key` for a short run at each world size.
fn per_world(dir: &Path, config: &str, key: &str, extra: &[&str]) -> Vec<Vec<f64>> {
    [1, 2, 4]
        .iter()
        .map(|&w| {
            let out_dir = dir.join(format!("{}-{w}", key.replace('/', "_")));
            let mut sets = vec![
                format!("checkpoint.output_dir={}", out_dir.display()),
                "train.max_steps=6".into(),
                "logging.every_steps=1".into(),
            ];
            sets.extend(extra.iter().map(|s| s.to_string()));
            sets.push("train.sanity_steps=null".into());
            sets.push("eval.every_steps=null".into());
            let out = run(dir, w, config, &sets);
            assert!(out.status.success(), "W={w}: {}", text(&out));
            records(&out_dir)
                .iter()
                .filter_map(|r| r.get(key)?.as_f64())
                .collect()
        })
        .collect()
}

fn same(runs: &[Vec<f64>], what: &str) {
    assert_eq!(runs[0].len(), 6, "{what}");
    for (w, r) in [2, 4].iter().zip(&runs[1..]) {
        for (a, b) in r.iter().zip(&runs[0]) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1e-3),
                "{what} W={w}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn sft_padded_and_packed_and_dpo_are_the_same_at_one_two_and_four_ranks() {
    let dir = scratch("worlds-objectives");
    same(
        &per_world(&dir.join("sft"), "configs/sanity.yaml", "train_loss", &[]),
        "sft",
    );
    same(
        &per_world(
            &dir.join("packed"),
            "configs/sanity.yaml",
            "train_loss",
            &["data.packing=true", "data.max_seq_length=128"],
        ),
        "sft packed",
    );
    same(
        &per_world(
            &dir.join("dpo"),
            "configs/sanity-dpo.yaml",
            "train_loss",
            &[],
        ),
        "dpo",
    );
}

#[test]
fn a_diverging_run_stops_and_keeps_the_last_good_checkpoint() {
    let dir = scratch("diverge");
    let out_dir = dir.join("out");
    let sets = [
        format!("checkpoint.output_dir={}", out_dir.display()),
        "train.learning_rate=1e4".into(),
        "train.max_steps=20".into(),
        "checkpoint.every_steps=2".into(),
    ];
    let out = run(&dir, 2, "configs/tiny-pretrain.yaml", &sets);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("stopping") && all.contains("is kept (lower the learning rate?)"),
        "{all}"
    );
    let latest = std::fs::read_to_string(out_dir.join("checkpoints/latest")).unwrap();
    let meta = std::fs::read_to_string(
        out_dir
            .join("checkpoints")
            .join(latest.trim())
            .join("meta.json"),
    )
    .unwrap();
    assert!(meta.contains("\"step\""));
    for (_, bytes) in tensor_bytes(
        &out_dir
            .join("checkpoints")
            .join(latest.trim())
            .join("rank-00000.safetensors"),
    ) {
        let floats = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()));
        assert!(
            floats.clone().all(f32::is_finite) || bytes.len() % 4 != 0,
            "the kept checkpoint holds finite values"
        );
    }
}
