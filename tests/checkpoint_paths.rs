//! Checkpoints are found only inside a run's own `checkpoints/`: a
//! `latest` that is a link or names anything but a `step-N` folder, and a
//! `step-N` that is a link, are ignored (with a warning) for the newest
//! complete checkpoint. A `run_name` that is not a plain name is refused.

mod common;
use common::*;
use std::os::unix::fs::symlink;
use std::path::Path;

/// A tiny run in `dir/out` with complete checkpoints at steps 1 and 2.
fn trained(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = scratch(name);
    let out = dir.join("out");
    let sets = ["train.max_steps=2", "checkpoint.every_steps=1"];
    run_ok(tiny_pretrain(&dir, 1, &out, &sets));
    assert!(ckpt(&out, 1).join("COMPLETE").is_file());
    (dir, out)
}

/// A copy of `from` at `to` (outside the run).
fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let st = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn export_ignores_a_latest_that_leads_out_of_the_runs_checkpoints() {
    let (dir, out) = trained("paths-latest");
    let outside = dir.join("elsewhere/step-000009");
    copy(&ckpt(&out, 1), &outside);
    let latest = out.join("checkpoints/latest");
    let relative = "../../elsewhere/step-000009".to_string();
    let absolute = outside.display().to_string();
    for (i, named) in [relative, absolute, "step-000001".into()]
        .iter()
        .enumerate()
    {
        let _ = std::fs::remove_file(&latest);
        if i == 2 {
            // A link, even one whose target names a checkpoint of the run.
            std::fs::write(dir.join("named"), named).unwrap();
            symlink(dir.join("named"), &latest).unwrap();
        } else {
            std::fs::write(&latest, named).unwrap();
        }
        let run = launch(&dir)
            .arg("export")
            .arg(&out)
            .arg(dir.join(format!("export-{i}")))
            .output()
            .unwrap();
        let all = text(&run);
        assert!(run.status.success(), "{named:?}: {all}");
        let warnings: Vec<&str> = all.lines().filter(|l| l.contains("warning:")).collect();
        assert_eq!(warnings.len(), 1, "one warning line: {all}");
        assert!(warnings[0].contains("checkpoints/latest"), "{all}");
        let used = format!("exporting {}", ckpt(&out, 2).display());
        assert!(
            all.contains(&used),
            "{named:?}: the newest of the run: {all}"
        );
    }
}

#[test]
fn a_linked_step_folder_is_never_resumed_from() {
    let (dir, out) = trained("paths-step-link");
    let outside = dir.join("elsewhere/step-000009");
    copy(&ckpt(&out, 2), &outside);
    symlink(&outside, ckpt(&out, 9)).unwrap();
    let sets = ["train.max_steps=3", "checkpoint.every_steps=1"];
    let all = run_ok(tiny_pretrain(&dir, 1, &out, &sets));
    let want = format!("resumed from {} at step 2", ckpt(&out, 2).display());
    assert!(all.contains(&want), "{all}");
    assert!(
        outside.join("COMPLETE").is_file(),
        "the link's target stays"
    );
}

/// `launch check` and `launch 1` on a config whose run_name is `name`.
fn refused_run_name(name: &str) {
    let dir = scratch("paths-run-name");
    let config = format!(
        "run_name: {name}\n{}train: {{ max_steps: 1 }}\ncheckpoint: {{ output_dir: out }}\n",
        runnable_yaml()
    );
    std::fs::write(dir.join("c.yaml"), config).unwrap();
    let trainer = script(&dir.join("trainer"), "touch started");
    for args in [&["check", "c.yaml"][..], &["1", "c.yaml"]] {
        let run = launch(&dir)
            .args(args)
            .env("FERROSPEED_TRAINER", &trainer)
            .output()
            .unwrap();
        let all = text(&run);
        assert_eq!(run.status.code(), Some(2), "{name} {args:?}: {all}");
        assert!(all.contains("`run_name` must be a plain name"), "{all}");
        assert!(!dir.join("started").exists(), "{all}");
    }
}

#[test]
fn a_run_name_that_is_not_a_plain_name_is_refused() {
    for name in ["'..'", "'.'", "''", "a/b", "\"a\\x01b\"", "\"a\\nb\""] {
        refused_run_name(name);
    }
}
