//! A run that finished stays finished: it leaves a final checkpoint (even
//! without `checkpoint.every_steps`) and a `finished` marker; re-running the
//! same command says so and trains nothing (and pushes `final/` when the
//! config says so); a longer run continues from the final checkpoint;
//! `checkpoint.resume=never` trains again; a deleted `final/` is written
//! again from the final checkpoint; a user's own `final/` folder stops the
//! run before its first step and is left as it is.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

/// Every file of `final/` with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let p = e.path();
            let when = std::fs::metadata(&p).unwrap().modified().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                (std::fs::read(&p).unwrap(), when),
            )
        })
        .collect()
}

#[test]
fn a_finished_run_rerun_with_the_same_command_trains_nothing() {
    let dir = scratch("finished");
    let out = dir.join("out");
    let sets = ["train.max_steps=4"];
    run_ok(tiny_pretrain(&dir, 1, &out, &sets));
    assert!(
        out.join("checkpoints/step-000004/COMPLETE").is_file(),
        "the end of training is checkpointed without checkpoint.every_steps"
    );
    let marker: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("finished")).unwrap()).unwrap();
    assert_eq!(marker["step"], 4);
    let metrics = std::fs::read(out.join("metrics.jsonl")).unwrap();
    let weights = snapshot(&out.join("final"));
    let logs = rank_logs(&dir.join("logs")).len();

    let again = run_ok(tiny_pretrain(&dir, 1, &out, &sets));
    let want = format!(
        "launch: the run is complete: it finished after step 4; its weights are in {}",
        out.join("final").display()
    );
    assert!(again.contains(&want), "{again}");
    assert_eq!(
        std::fs::read(out.join("metrics.jsonl")).unwrap(),
        metrics,
        "no step ran"
    );
    assert_eq!(snapshot(&out.join("final")), weights, "final/ untouched");
    assert_eq!(rank_logs(&dir.join("logs")).len(), logs, "no rank started");

    let fresh = run_ok(tiny_pretrain(
        &dir,
        1,
        &out,
        &["train.max_steps=4", "checkpoint.resume=never"],
    ));
    assert!(
        !fresh.contains("the run is complete") && !fresh.contains("resumed from"),
        "{fresh}"
    );
    let starts: Vec<_> = records(&out)
        .into_iter()
        .filter(|r| r["event"] == "start")
        .collect();
    assert_eq!(starts.len(), 2, "resume=never trained again");
    assert!(starts[1].get("resumed_from").is_none(), "{:?}", starts[1]);
}

#[test]
fn a_deleted_final_folder_is_written_again_without_training() {
    let dir = scratch("finished-refinal");
    let out = dir.join("out");
    run_ok(tiny_pretrain(&dir, 1, &out, &["train.max_steps=4"]));
    let weights = std::fs::read(out.join("final/model.safetensors")).unwrap();
    let steps = losses(&out.join("metrics.jsonl"));
    std::fs::remove_dir_all(out.join("final")).unwrap();
    let again = run_ok(tiny_pretrain(&dir, 1, &out, &["train.max_steps=4"]));
    assert!(
        again.contains("final is missing; the run resumes from its last checkpoint"),
        "{again}"
    );
    assert!(again.contains("step-000004 at step 4"), "{again}");
    assert_eq!(losses(&out.join("metrics.jsonl")), steps, "no step ran");
    assert_eq!(
        std::fs::read(out.join("final/model.safetensors")).unwrap(),
        weights
    );
    let done = run_ok(tiny_pretrain(&dir, 1, &out, &["train.max_steps=4"]));
    assert!(done.contains("the run is complete"), "{done}");
}

#[test]
fn a_longer_run_continues_from_the_final_checkpoint() {
    let dir = scratch("finished-longer");
    let out = dir.join("out");
    run_ok(tiny_pretrain(&dir, 1, &out, &["train.max_steps=4"]));
    let more = run_ok(tiny_pretrain(&dir, 1, &out, &["train.max_steps=6"]));
    assert!(
        more.contains(
            "holds a run that finished with `train.max_steps` = 4; the config now says 6"
        ),
        "{more}"
    );
    let from = out.join("checkpoints/step-000004");
    assert!(
        more.contains(&format!("resumed from {} at step 4", from.display())),
        "{more}"
    );
    let steps: Vec<u64> = losses(&out.join("metrics.jsonl")).into_keys().collect();
    assert_eq!(steps, [1, 2, 3, 4, 5, 6]);
    let marker: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("finished")).unwrap()).unwrap();
    assert_eq!(marker["step"], 6);
}

#[test]
fn a_user_folder_named_final_stops_the_run_before_training() {
    let dir = scratch("finished-user-final");
    let out = dir.join("out");
    let mine = out.join("final");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "my notes").unwrap();
    let result = tiny_pretrain(&dir, 1, &out, &["train.max_steps=4"])
        .output()
        .unwrap();
    let all = text(&result);
    assert_eq!(result.status.code(), Some(1), "{all}");
    let want = format!(
        "{} exists and is not an export written by this tool (it holds files and no .ferrospeed-export.json); it is never deleted: move it away, or set checkpoint.output_dir to another folder",
        mine.display()
    );
    assert!(all.contains(&want), "{all}");
    assert!(
        losses(&out.join("metrics.jsonl")).is_empty(),
        "no training step ran"
    );
    let names: Vec<_> = std::fs::read_dir(&mine)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["notes.txt"]);
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "my notes"
    );
}

#[test]
fn a_finished_run_rerun_pushes_its_final_folder_without_training() {
    let hub = common::LocalHub::start(&[]);
    let dir = scratch("finished-push");
    let out = dir.join("out");
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let with_hub = |push: &str| {
        let sets = ["train.max_steps=3", "hub.repo_id=acme/finished", push];
        let mut c = tiny_pretrain(&dir, 1, &out, &sets);
        c.env("HF_ENDPOINT", &hub.url)
            .env("HF_TOKEN", common::TOKEN)
            .env("HOME", &home)
            .env_remove("HF_HUB_OFFLINE");
        c
    };
    run_ok(with_hub("hub.push=never"));
    assert!(
        hub.log().is_empty(),
        "push: never contacted the Hub: {}",
        hub.log()
    );
    let metrics = std::fs::read(out.join("metrics.jsonl")).unwrap();
    let again = run_ok(with_hub("hub.push=on_finish"));
    assert!(again.contains("launch: the run is complete"), "{again}");
    assert_eq!(
        std::fs::read(out.join("metrics.jsonl")).unwrap(),
        metrics,
        "no step ran"
    );
    // The export marker is read by the tool alone: it is never pushed.
    let (stored, marker) = (hub.tree("acme/finished", "main"), ".ferrospeed-export.json");
    assert!(out.join("final").join(marker).is_file());
    assert!(!stored.join(marker).exists(), "{marker} was pushed");
    std::fs::remove_file(out.join("final").join(marker)).unwrap();
    common::assert_same_files(&out.join("final"), &stored);
}
