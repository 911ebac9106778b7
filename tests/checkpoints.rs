//! Checkpoints: bitwise resume after a killed rank, damaged and partial
//! checkpoints, a changed config, a graceful stop, and an output folder that
//! cannot be written (elastic resume at other world sizes: elastic_resume.rs).

mod common;
use common::tiny_pretrain as sanity;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_killed_rank_is_restarted_and_training_ends_bitwise_equal() {
    let dir = scratch("kill");
    let (clean, crashed) = (dir.join("clean"), dir.join("crashed"));
    let sets = [
        "train.max_steps=30",
        "checkpoint.every_steps=10",
        "launcher.max_restarts=1",
    ];
    run_ok(sanity(&dir, 2, &clean, &sets));

    let mut child = sanity(&dir, 2, &crashed, &sets)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    reach_step(&crashed, 13, Duration::from_secs(120));
    assert!(ckpt(&crashed, 10).join("COMPLETE").is_file());
    kill_rank(child.id(), 1);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the launcher restarts the group and finishes"
    );
    let metrics = std::fs::read_to_string(crashed.join("metrics.jsonl")).unwrap();
    assert!(
        metrics.contains("\"resumed_step\":10"),
        "the restart resumed from step 10"
    );
    let (a, b) = (
        tensor_bytes(&clean.join("final/model.safetensors")),
        tensor_bytes(&crashed.join("final/model.safetensors")),
    );
    assert_eq!(a.len(), b.len());
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs after the resume");
    }
}

#[test]
fn damaged_and_partial_checkpoints_are_skipped_and_cleaned_up() {
    let dir = scratch("damaged");
    let out = dir.join("out");
    run_ok(sanity(
        &dir,
        2,
        &out,
        &["train.max_steps=20", "checkpoint.every_steps=10"],
    ));
    // A save that died before COMPLETE: rank files but no marker.
    let partial = ckpt(&out, 25);
    Command::new("cp")
        .arg("-r")
        .arg(ckpt(&out, 20))
        .arg(&partial)
        .status()
        .unwrap();
    std::fs::remove_file(partial.join("COMPLETE")).unwrap();
    // The newest complete one has a truncated shard.
    let shard = ckpt(&out, 20).join("rank-00001.safetensors");
    let len = std::fs::metadata(&shard).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&shard)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let log = run_ok(sanity(
        &dir,
        2,
        &out,
        &["train.max_steps=22", "checkpoint.every_steps=10"],
    ));
    assert!(
        log.contains("step-000020 is damaged: rank-00001.safetensors does not match the checksums"),
        "{log}"
    );
    assert!(
        log.contains("resumed from") && log.contains("step-000010 at step 10"),
        "{log}"
    );
    assert!(
        !partial.exists(),
        "the partial folder is cleaned up by the next save"
    );
    assert!(ckpt(&out, 22).join("COMPLETE").is_file());
}

#[test]
fn a_changed_run_is_refused_unless_asked_to_start_over() {
    let dir = scratch("changed");
    let out = dir.join("out");
    run_ok(sanity(
        &dir,
        1,
        &out,
        &["train.max_steps=5", "checkpoint.every_steps=5"],
    ));
    let refused = sanity(&dir, 1, &out, &["train.max_steps=8", "data.shuffle=false"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let all = text(&refused);
    assert!(
        all.contains("was written with `data.shuffle` = true, but the config now says false"),
        "{all}"
    );
    assert!(all.contains("--set checkpoint.resume=never"), "{all}");
    let fresh = run_ok(sanity(
        &dir,
        1,
        &out,
        &[
            "train.max_steps=8",
            "data.shuffle=false",
            "checkpoint.resume=never",
        ],
    ));
    assert!(!fresh.contains("resumed from"), "{fresh}");
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_the_same_command_continues() {
    let dir = scratch("sigint");
    let out = dir.join("out");
    let sets = ["train.max_steps=400", "checkpoint.every_steps=1000"];
    let mut child = sanity(&dir, 2, &out, &sets);
    let (status, mut child) = ctrl_c_after_steps(&mut child, &out, 3);
    assert_eq!(status.code(), Some(130));
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(stdout.contains("stopped on request after step"), "{stdout}");
    let saved = std::fs::read_to_string(out.join("checkpoints/latest")).unwrap();
    let step: u64 = saved.trim_start_matches("step-").parse().unwrap();
    assert!((3..400).contains(&step), "stopped at step {step}");
    assert!(out
        .join("checkpoints")
        .join(&saved)
        .join("COMPLETE")
        .is_file());
    let more = format!("train.max_steps={}", step + 2);
    let log = run_ok(sanity(
        &dir,
        2,
        &out,
        &[&more, "checkpoint.every_steps=1000"],
    ));
    assert!(
        log.contains(&format!(
            "resumed from {}",
            out.join("checkpoints").join(&saved).display()
        )),
        "{log}"
    );
}

#[test]
fn a_full_disk_gives_a_clear_error_and_no_complete_checkpoint() {
    let dir = scratch("full");
    let out = dir.join("small");
    std::fs::create_dir_all(&out).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&out)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        // No tmpfs here: make the checkpoint folder impossible to create instead.
        std::fs::write(out.join("checkpoints"), b"a file where a folder should be").unwrap();
    }
    let result = sanity(
        &dir,
        1,
        &out,
        &["train.max_steps=4", "checkpoint.every_steps=2"],
    )
    .output()
    .unwrap();
    let listing = Command::new("find").arg(&out).output().unwrap();
    if mounted {
        let _ = Command::new("umount").arg(&out).status();
    }
    let all = text(&result);
    assert_eq!(result.status.code(), Some(1), "{all}");
    assert!(
        all.contains("No space left on device")
            || all.contains("cannot create the checkpoint folder"),
        "{all}"
    );
    let files = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(
        !files.contains("COMPLETE"),
        "no checkpoint may be marked complete: {files}"
    );
}

#[test]
fn launch_export_of_a_checkpoint_equals_the_final_export() {
    let dir = scratch("export");
    let out = dir.join("out");
    run_ok(sanity(
        &dir,
        2,
        &out,
        &[
            "train.max_steps=6",
            "checkpoint.every_steps=6",
            "export.max_shard_size=100KB",
        ],
    ));
    let offline = dir.join("offline");
    let result = launch(&dir)
        .arg("export")
        .arg(ckpt(&out, 6))
        .arg(&offline)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", text(&result));
    let names: Vec<String> = std::fs::read_dir(out.join("final"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "model.safetensors.index.json"),
        "{names:?}"
    );
    for n in names
        .iter()
        .filter(|n| n.ends_with(".safetensors") || n.ends_with(".json"))
        .filter(|n| !n.starts_with('.'))
    // the export marker lists README.md's size
    {
        assert_eq!(
            std::fs::read(out.join("final").join(n)).unwrap(),
            std::fs::read(offline.join(n)).unwrap(),
            "{n}"
        );
    }
    let bad = launch(&dir)
        .arg("export")
        .arg(out.join("final"))
        .arg(dir.join("elsewhere"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad).contains("is not a complete checkpoint (no COMPLETE file)"),
        "{}",
        text(&bad)
    );
}
