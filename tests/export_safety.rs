//! `launch export` never deletes what it did not write: a folder of user
//! files, the current folder and a run's output_dir are refused (exit 2, one
//! line) with or without `--overwrite`; `--overwrite` replaces an earlier
//! export only; a failed export leaves the earlier one whole. It also takes
//! a run's output_dir or `checkpoints/` folder, `--dtype` and
//! `--max-shard-size`.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

/// One trained run (3 steps, a checkpoint at the end), shared by the tests.
fn run_dir() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scratch("export-safety");
        let out = dir.join("run");
        let done = tiny_pretrain(&dir, 1, &out, &["train.max_steps=3"])
            .output()
            .unwrap();
        assert!(done.status.success(), "{}", text(&done));
        out
    })
}

fn step_dir() -> PathBuf {
    run_dir().join("checkpoints/step-000003")
}

/// `launch export ARGS...` run in `cwd`.
fn export(cwd: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = launch(cwd);
    c.arg("export");
    for a in args {
        c.arg(a);
    }
    c.output().unwrap()
}

/// Every file under `dir` (relative path) with its bytes.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Exit 2 with exactly one line on stderr, which contains `want`.
fn refused(out: &Output, want: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("launch: error: ") && err.contains(want),
        "{err}"
    );
}

/// A folder of the user's own files, like a model downloaded by hand.
fn user_folder(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("config.json"), "{\"mine\": true}").unwrap();
    std::fs::write(dir.join("notes.txt"), "my notes").unwrap();
    std::fs::write(dir.join("sub/model.safetensors"), "weights").unwrap();
    contents(dir)
}

#[test]
fn a_folder_of_user_files_is_refused_even_with_overwrite() {
    let dir = scratch("export-user");
    let mine = dir.join("mine");
    let before = user_folder(&mine);
    let out = export(&dir, &[&step_dir(), &mine]);
    refused(&out, "is not empty and not an unchanged earlier export");
    let out = export(&dir, &[&step_dir(), &mine, &"--overwrite"]);
    refused(&out, "--overwrite replaces only an earlier export");
    assert_eq!(contents(&mine), before, "the user's files are untouched");
    // A folder that merely has a config.json is not an export.
    let lone = dir.join("lone");
    std::fs::create_dir_all(&lone).unwrap();
    std::fs::write(lone.join("config.json"), "{}").unwrap();
    let out = export(&dir, &[&step_dir(), &lone, &"--overwrite"]);
    refused(&out, "no .ferrospeed-export.json");
    assert!(lone.join("config.json").is_file());
}

#[test]
fn the_current_folder_is_refused_and_keeps_its_files() {
    let dir = scratch("export-dot");
    let before = user_folder(&dir);
    let out = export(&dir, &[&step_dir(), &"."]);
    refused(&out, "is not empty");
    let out = export(&dir, &[&step_dir(), &".", &"--overwrite"]);
    refused(&out, "is not empty");
    assert_eq!(contents(&dir), before);
}

#[test]
fn the_runs_output_dir_is_refused_and_its_checkpoints_stay() {
    let dir = scratch("export-outdir");
    let before = contents(run_dir());
    let out = export(&dir, &[&step_dir(), &run_dir()]);
    refused(&out, "is not empty");
    let out = export(&dir, &[&step_dir(), &run_dir(), &"--overwrite"]);
    refused(&out, "is not empty");
    assert_eq!(contents(run_dir()), before, "checkpoints intact");
}

#[test]
fn overwrite_replaces_an_earlier_export_and_nothing_else() {
    let dir = scratch("export-again");
    let exp = dir.join("exp");
    let first = export(&dir, &[&step_dir(), &exp, &"--dtype", &"bf16"]);
    assert!(first.status.success(), "{}", text(&first));
    let again = export(&dir, &[&step_dir(), &exp]);
    refused(
        &again,
        "holds an earlier export; pass --overwrite to replace it",
    );
    let replaced = export(
        &dir,
        &[&step_dir(), &exp, &"--overwrite", &"--dtype", &"f32"],
    );
    assert!(replaced.status.success(), "{}", text(&replaced));
    assert_eq!(dtypes(&exp.join("model.safetensors")), ["F32"]);
    // A file added by the user makes it no longer only an export.
    std::fs::write(exp.join("eval-results.txt"), "mine").unwrap();
    let before = contents(&exp);
    let out = export(&dir, &[&step_dir(), &exp, &"--overwrite"]);
    refused(&out, "files the export did not write: eval-results.txt");
    assert_eq!(contents(&exp), before);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["exp"], "no temporary folder is left");
}

/// The safetensors dtypes in a file, deduplicated.
fn dtypes(file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut kinds: Vec<String> = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(_, v)| v["dtype"].as_str().unwrap().to_string())
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

#[test]
fn an_output_dir_or_checkpoints_folder_exports_its_newest_checkpoint() {
    let dir = scratch("export-follow");
    let mut got = Vec::new();
    for (name, source) in [
        ("step", step_dir()),
        ("ckpts", run_dir().join("checkpoints")),
        ("run", run_dir().to_path_buf()),
    ] {
        let out = export(&dir, &[&source, &dir.join(name)]);
        assert!(out.status.success(), "{name}: {}", text(&out));
        got.push(contents(&dir.join(name)));
    }
    assert!(
        got[0].contains_key("model.safetensors"),
        "{:?}",
        got[0].keys()
    );
    assert_eq!(
        got[0], got[1],
        "checkpoints/ gives the step folder's export"
    );
    assert_eq!(
        got[0], got[2],
        "the output_dir gives the step folder's export"
    );
}

#[test]
fn dtype_and_max_shard_size_shape_the_export() {
    let dir = scratch("export-options");
    let exp = dir.join("exp");
    let out = export(
        &dir,
        &[
            &run_dir(),
            &exp,
            &"--dtype",
            &"f32",
            &"--max-shard-size",
            &"100KB",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(exp.join("model.safetensors.index.json")).unwrap(),
    )
    .unwrap();
    let mut shards: Vec<&str> = index["weight_map"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    shards.sort();
    shards.dedup();
    assert!(shards.len() > 1, "{shards:?}");
    for s in shards {
        assert_eq!(dtypes(&exp.join(s)), ["F32"], "{s}");
        assert!(
            std::fs::metadata(exp.join(s)).unwrap().len() < 200_000,
            "{s}"
        );
    }
    let bad = export(&dir, &[&run_dir(), &dir.join("x"), &"--dtype", &"f16"]);
    refused(
        &bad,
        "--dtype: the export dtype must be bf16, f32 or compute, got \"f16\"",
    );
    let bad = export(
        &dir,
        &[
            &run_dir(),
            &dir.join("x"),
            &"--max-shard-size",
            &"5 parsecs",
        ],
    );
    refused(&bad, "--max-shard-size: unknown unit \"PARSECS\"");
    let bad = export(&dir, &[&run_dir()]);
    refused(&bad, "usage: launch export CHECKPOINT OUT_DIR");
}

/// Unmounts a tmpfs when the test ends, even by a panic.
struct Mount(PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_failed_export_leaves_the_earlier_one_whole() {
    let dir = scratch("export-full");
    let small = dir.join("small");
    std::fs::create_dir_all(&small).unwrap();
    // Room for one bf16 export (~250 KB), not for an f32 one next to it.
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=600k", "tmpfs"])
        .arg(&small)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("cannot mount a small tmpfs here: this test needs root; not run");
        return;
    }
    let _guard = Mount(small.clone());
    let exp = small.join("exp");
    let first = export(&dir, &[&step_dir(), &exp, &"--dtype", &"bf16"]);
    assert!(first.status.success(), "{}", text(&first));
    let before = contents(&exp);
    let failed = export(
        &dir,
        &[&step_dir(), &exp, &"--overwrite", &"--dtype", &"f32"],
    );
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(
        text(&failed).contains("No space left on device"),
        "{}",
        text(&failed)
    );
    assert_eq!(contents(&exp), before, "the earlier export is whole");
    let names: Vec<String> = std::fs::read_dir(&small)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["exp"], "the temporary folder is removed");
}
