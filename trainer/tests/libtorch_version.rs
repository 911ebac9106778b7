//! A trainer started against a libtorch of another version stops at once
//! with one line naming both versions; against its own it starts.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A torch folder whose `lib/` links every file of the libtorch this test
/// loaded, with a `version.py` saying `version` (and, beside it, a link to
/// the wheel's `nvidia/` folder, which libtorch finds relative to itself).
fn torch_folder(root: &Path, version: &str) -> PathBuf {
    let real = trainer::libtorch::loaded_folder().expect("the test process loaded libtorch_cpu.so");
    let lib = root.join("torch/lib");
    std::fs::create_dir_all(&lib).unwrap();
    for entry in std::fs::read_dir(&real).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), lib.join(entry.file_name())).unwrap();
    }
    let site = real.parent().and_then(Path::parent).unwrap();
    if site.join("nvidia").exists() {
        std::os::unix::fs::symlink(site.join("nvidia"), root.join("nvidia")).unwrap();
    }
    let version_py = format!("__version__ = '{version}'\ngit_version = 'x'\n");
    std::fs::write(root.join("torch/version.py"), version_py).unwrap();
    lib
}

/// Runs `trainer` with `lib` first on the loader's path and no rank
/// variables: (exit code, stderr).
fn trainer_with(lib: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .env("LD_LIBRARY_PATH", lib)
        .env_remove("RANK")
        .env_remove("WORLD_SIZE")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_libtorch_of_another_version_is_refused_in_one_line() {
    let lib = torch_folder(&scratch("libtorch-other"), "2.10.0+cu128");
    let (code, stderr) = trainer_with(&lib);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("built for libtorch 2.11.0"), "{stderr}");
    assert!(stderr.contains("loaded libtorch 2.10.0+cu128"), "{stderr}");
    assert!(
        stderr.contains(&lib.display().to_string()),
        "names the folder: {stderr}"
    );
}

#[test]
fn the_libtorch_it_was_built_for_passes_the_check() {
    let lib = torch_folder(&scratch("libtorch-same"), "2.11.0+cu130");
    let (code, stderr) = trainer_with(&lib);
    // Past the check, the trainer stops for want of its rank variables.
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("libtorch"), "{stderr}");
    assert!(
        stderr.contains("RANK") || stderr.contains("rank"),
        "{stderr}"
    );
}
