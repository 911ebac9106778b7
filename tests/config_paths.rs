//! Relative paths in a config follow the config file, `--set` ones the
//! current directory, and the ranks get absolute paths: a config runs from
//! any working directory, and its checkpoints export from any other.

mod common;
use common::*;
use std::path::Path;

/// A trainer that shows the config `launch` hands the ranks.
fn fake_trainer(dir: &Path) -> std::path::PathBuf {
    script(&dir.join("fake-trainer"), "cat \"$FERROSPEED_CONFIG\"")
}

#[test]
fn relative_paths_follow_the_config_file_and_set_values_the_current_directory() {
    let dir = scratch("rel-paths");
    let (cfgs, work) = (dir.join("cfgs"), dir.join("work"));
    for d in [&cfgs, &work.join("tok")] {
        std::fs::create_dir_all(d).unwrap();
    }
    let tiny = repo_root().join("configs/models/tiny-llama.json");
    std::fs::copy(&tiny, dir.join("model.json")).unwrap();
    std::fs::copy(
        repo_root().join("data/sanity/counting.jsonl"),
        cfgs.join("d.jsonl"),
    )
    .unwrap();
    let tok = repo_root().join("data/sanity-chat/tokenizer.json");
    std::fs::copy(tok, work.join("tok/tokenizer.json")).unwrap();
    let yaml = "run_name: rel\nmodel: { config: ../model.json }\ndata: { datasets: [{ path: d.jsonl }] }\ntrain: { max_steps: 1 }\n";
    std::fs::write(cfgs.join("c.yaml"), yaml).unwrap();
    let out = launch(&work)
        .args(["1", "../cfgs/c.yaml", "--set", "model.tokenizer=tok"])
        .env("FERROSPEED_TRAINER", fake_trainer(&dir))
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for line in [
        format!("config: {}", dir.join("model.json").display()),
        format!("path: {}", cfgs.join("d.jsonl").display()),
        format!("tokenizer: {}", work.join("tok").display()),
        format!("output_dir: {}", work.join("output/rel").display()),
    ] {
        assert!(all.contains(&line), "the ranks get {line:?}: {all}");
    }
}

#[test]
fn the_sanity_config_runs_from_another_working_directory() {
    let dir = scratch("elsewhere");
    let out = launch(&dir)
        .arg("1")
        .arg(repo_root().join("configs/sanity.yaml"))
        .args(["--set", "train.threads=1", "--set", "comm=cpu"])
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("=> GREEN: ready for the full run"), "{all}");
    assert!(
        !records(&dir.join("output/sanity")).is_empty(),
        "the output_dir follows the current directory: {all}"
    );
}

#[test]
fn a_checkpoint_exported_from_another_folder_keeps_the_tokenizer_files() {
    let dir = scratch("export-elsewhere");
    let run = dir.join("run");
    let mut train = launch(&dir);
    train
        .current_dir(repo_root())
        .arg("1")
        .arg("configs/sanity.yaml");
    for set in [
        "train.threads=1",
        "comm=cpu",
        "train.sanity_steps=null",
        "train.max_steps=2",
        "checkpoint.every_steps=2",
    ] {
        train.args(["--set", set]);
    }
    let done = train
        .arg("--set")
        .arg(format!("checkpoint.output_dir={}", run.display()))
        .output()
        .unwrap();
    assert!(done.status.success(), "{}", text(&done));
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = launch(&elsewhere)
        .arg("export")
        .arg(run.join("checkpoints/step-000002"))
        .arg("exported")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let tokenizer = std::fs::read(elsewhere.join("exported/tokenizer.json"));
    let shipped = std::fs::read(repo_root().join("data/sanity-chat/tokenizer.json")).unwrap();
    assert!(
        tokenizer.is_ok_and(|t| t == shipped),
        "the export holds the run's tokenizer: {}",
        text(&out)
    );
}
