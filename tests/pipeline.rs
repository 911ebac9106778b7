//! `launch N pipeline.yaml`: the stages chain, re-runs skip what completed,
//! a killed or failed stage resumes where it stopped.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A pipeline of the sanity SFT then DPO from it, with `dpo_extra` in the DPO stage's set.
fn pipeline(dir: &Path, dpo_data: &Path, dpo_steps: u64) -> PathBuf {
    let c = repo_root().join("configs");
    let text = format!(
        "pipeline: t\noutput_dir: out\nstages:\n  - name: sft\n    config: {}\n    set: {{ train.sanity_steps: null, train.epochs: null, train.max_steps: 12, checkpoint.every_steps: 6 }}\n  - name: dpo\n    config: {}\n    from: sft\n    set: {{ train.max_steps: {dpo_steps}, checkpoint.every_steps: 4, data.datasets: [{{ path: {} }}] }}\n",
        c.join("sanity.yaml").display(),
        c.join("sanity-dpo.yaml").display(),
        dpo_data.display()
    );
    let path = dir.join("p.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn dpo_data() -> PathBuf {
    repo_root().join("data/sanity-chat/dpo.jsonl")
}

fn ledger(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("out/pipeline.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn statuses(dir: &Path) -> Vec<String> {
    ledger_rows(&dir.join("out/pipeline.jsonl"), &["stage", "status"])
}

/// Runs `launch 1 configs/sanity-pipeline.yaml` in `dir`; its output.
fn run_sanity_pipeline(dir: &Path) -> String {
    let mut c = launch(dir);
    c.arg("1")
        .arg(repo_root().join("configs/sanity-pipeline.yaml"));
    run_ok(c)
}

#[test]
fn sanity_pipeline_chains_sft_into_dpo_and_the_model_chats() {
    let dir = scratch("pipeline-sanity");
    let out = run_sanity_pipeline(&dir);
    assert!(out.contains("pipeline sanity complete"), "{out}");
    let root = dir.join("output/sanity-pipeline");
    let rows = std::fs::read_to_string(root.join("pipeline.jsonl")).unwrap();
    assert_eq!(
        rows.matches("\"status\":\"completed\"").count(),
        2,
        "{rows}"
    );
    let dpo_config =
        std::fs::read_to_string(root.join("dpo/checkpoints/step-000010/config.yaml")).unwrap();
    assert!(
        dpo_config.contains(&format!("path: {}", root.join("sft/final").display())),
        "{dpo_config}"
    );
    let py = python_with("transformers");
    let script = "import sys, transformers as t\nd=sys.argv[1]\ntok=t.AutoTokenizer.from_pretrained(d)\nm=t.AutoModelForCausalLM.from_pretrained(d)\ntext=tok.apply_chat_template([{'role':'user','content':'What is 2+3?'}], tokenize=False, add_generation_prompt=True)\nassert '2+3' in text, text\nids=tok(text, return_tensors='pt').input_ids\nprint('GEN', m.generate(ids, max_new_tokens=4, do_sample=False).shape[1] - ids.shape[1])\n";
    let o = Command::new(py)
        .args(["-c", script, root.join("dpo/final").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(text(&o).contains("GEN 4"), "{}", text(&o));
    // A re-run trains nothing.
    let again = run_sanity_pipeline(&dir);
    assert_eq!(again.matches("completed, skipped").count(), 2, "{again}");
}

#[test]
fn a_failing_stage_stops_the_pipeline_and_a_rerun_continues_there() {
    let dir = scratch("pipeline-fail");
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"prompt\": 1}\nnot json\n").unwrap();
    let p = pipeline(&dir, &bad, 8);
    let o = launch(&dir).arg("1").arg(&p).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("stage dpo failed"), "{}", text(&o));
    assert_eq!(statuses(&dir), ["sft:completed", "dpo:failed"]);
    let sft_metrics = std::fs::read(dir.join("out/sft/metrics.jsonl")).unwrap();
    std::fs::copy(dpo_data(), &bad).unwrap();
    let out = run_ok({
        let mut c = launch(&dir);
        c.arg("1").arg(&p);
        c
    });
    assert!(out.contains("sft: completed, skipped"), "{out}");
    assert_eq!(statuses(&dir), ["sft:completed", "dpo:completed"]);
    assert_eq!(
        std::fs::read(dir.join("out/sft/metrics.jsonl")).unwrap(),
        sft_metrics
    );
}

#[test]
fn a_pipeline_killed_mid_dpo_resumes_to_the_same_weights() {
    let whole = scratch("pipeline-whole");
    run_ok({
        let mut c = launch(&whole);
        c.arg("1").arg(pipeline(&whole, &dpo_data(), 24));
        c
    });
    let dir = scratch("pipeline-kill");
    let p = pipeline(&dir, &dpo_data(), 24);
    kill_after(
        &dir,
        &p,
        "out/dpo/checkpoints/step-000004/COMPLETE",
        "out/dpo/.lock",
    );
    let sft_metrics = std::fs::read(dir.join("out/sft/metrics.jsonl")).unwrap();
    let out = run_ok({
        let mut c = launch(&dir);
        c.arg("1").arg(&p);
        c
    });
    assert!(out.contains("sft: completed, skipped"), "{out}");
    assert_eq!(
        std::fs::read(dir.join("out/sft/metrics.jsonl")).unwrap(),
        sft_metrics
    );
    let rows = ledger(&dir);
    assert_eq!(rows[1]["attempts"], 2, "{rows:?}");
    let name = "out/dpo/final/model.safetensors";
    assert!(
        tensor_bytes(&dir.join(name)) == tensor_bytes(&whole.join(name)),
        "resumed DPO weights differ"
    );
}

/// Runs the pipeline `p` in `dir`, SIGKILLs it once `marker` exists, and
/// waits until the job's processes, which die with it, let go of `lock`.
fn kill_after(dir: &Path, p: &Path, marker: &str, lock: &str) {
    let mut child = launch(dir)
        .arg("1")
        .arg(p)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    until(180, || dir.join(marker).is_file());
    child.kill().unwrap();
    child.wait().unwrap();
    until(30, || !held(&dir.join(lock)));
}

/// Whether a process still holds the lock file's flock.
fn held(lock: &Path) -> bool {
    std::fs::File::open(lock).is_ok_and(|f| f.try_lock().is_err())
}

/// Polls `f` until it holds, for at most `secs` seconds.
fn until(secs: u64, f: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(
            start.elapsed().as_secs() < secs,
            "still waiting after {secs} s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn fan_out_runs_one_dpo_per_checkpoint_and_a_rerun_only_the_unfinished() {
    let dir = scratch("pipeline-fan");
    let c = repo_root().join("configs");
    let p = dir.join("p.yaml");
    std::fs::write(&p, format!(
        "pipeline: f\noutput_dir: out\nstages:\n  - name: sft\n    config: {}\n    set: {{ train.sanity_steps: null, train.epochs: null, train.max_steps: 12, checkpoint.every_steps: 4 }}\n  - name: dpo\n    config: {}\n    from: sft\n    each_checkpoint: true\n    set: {{ train.max_steps: 4, checkpoint.every_steps: 2 }}\n",
        c.join("sanity.yaml").display(), c.join("sanity-dpo.yaml").display())).unwrap();
    let dpo = "out/dpo/step-000008";
    kill_after(
        &dir,
        &p,
        &format!("{dpo}/checkpoints/step-000002/COMPLETE"),
        &format!("{dpo}/.lock"),
    );
    let out = run_ok({
        let mut c = launch(&dir);
        c.arg("1").arg(&p);
        c
    });
    assert!(out.contains("dpo/step-000004: completed, skipped"), "{out}");
    assert!(!out.contains("dpo/step-000004: starting"), "{out}");
    let attempts = ledger_rows(
        &dir.join("out/pipeline.jsonl"),
        &["job", "status", "attempts"],
    );
    assert_eq!(
        attempts,
        [
            "main:completed:1",
            "step-000004:completed:1",
            "step-000008:completed:2",
            "step-000012:completed:1"
        ]
    );
}
