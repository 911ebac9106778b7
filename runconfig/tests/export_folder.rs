//! Which folders an export may replace: only an empty one or an unchanged
//! earlier export (the marker must be ours and list every file with its
//! size); and the `launch export` options.

use runconfig::contracts::export::{check_out, inspect, write_marker, ExportArgs, Folder, MARKER};
use serde_json::Map;
use std::path::PathBuf;

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("export-folder-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A folder with a config.json and weights, marked as an export.
fn export(name: &str) -> PathBuf {
    let dir = fresh(name);
    std::fs::write(dir.join("config.json"), "{}").unwrap();
    std::fs::write(dir.join("model.safetensors"), "weights").unwrap();
    write_marker(&dir, true, Map::new()).unwrap();
    dir
}

fn foreign(folder: Folder) -> String {
    match folder {
        Folder::Foreign(why) => why,
        other => panic!("expected a foreign folder, got {other:?}"),
    }
}

#[test]
fn only_an_unchanged_complete_export_is_ours() {
    let dir = fresh("plain");
    assert_eq!(inspect(&dir.join("absent")), Folder::Absent);
    assert_eq!(inspect(&dir), Folder::Empty);
    std::fs::write(dir.join("config.json"), "{}").unwrap();
    assert!(foreign(inspect(&dir)).contains("no .ferrospeed-export.json"));
    assert_eq!(inspect(&export("ok")), Folder::Export);

    let added = export("added");
    std::fs::create_dir(added.join("runs")).unwrap();
    assert!(foreign(inspect(&added)).contains("did not write: runs"));
    let changed = export("changed");
    std::fs::write(changed.join("config.json"), "{\"edited\": 1}").unwrap();
    assert!(foreign(inspect(&changed)).contains("changed since the export: config.json"));
    let unfinished = export("unfinished");
    write_marker(&unfinished, false, Map::new()).unwrap();
    assert!(foreign(inspect(&unfinished)).contains("unfinished export"));
    let stranger = export("stranger");
    std::fs::write(
        stranger.join(MARKER),
        "{\"format\": \"other\", \"complete\": true}",
    )
    .unwrap();
    assert!(foreign(inspect(&stranger)).contains("no .ferrospeed-export.json"));
    let file = dir.join("config.json");
    assert!(foreign(inspect(&file)).contains("a file, not a folder"));
}

#[test]
fn overwrite_is_needed_for_an_export_and_never_enough_for_other_folders() {
    let ours = export("overwrite");
    assert!(check_out(&ours, false)
        .unwrap_err()
        .0
        .contains("pass --overwrite"));
    assert!(check_out(&ours, true).is_ok());
    let mine = fresh("mine");
    std::fs::write(mine.join("notes.txt"), "x").unwrap();
    let e = check_out(&mine, true).unwrap_err().0;
    assert!(
        e.contains("--overwrite replaces only an earlier export"),
        "{e}"
    );
}

#[test]
fn export_options_parse_and_round_trip() {
    let args: Vec<String> = [
        "ck",
        "out",
        "--overwrite",
        "--dtype",
        "f32",
        "--max-shard-size",
        "2GB",
    ]
    .map(String::from)
    .to_vec();
    let parsed = ExportArgs::parse(&args).unwrap();
    assert!(parsed.overwrite && parsed.dtype == Some(runconfig::ExportDtype::F32));
    let again: Vec<String> = parsed
        .to_args()
        .iter()
        .map(|a| a.to_string_lossy().into())
        .collect();
    assert_eq!(ExportArgs::parse(&again).unwrap(), parsed);
    for (bad, want) in [
        (vec!["ck"], "usage: launch export"),
        (
            vec!["ck", "out", "--dtype", "f16"],
            "must be bf16, f32 or compute",
        ),
        (
            vec!["ck", "out", "--max-shard-size", "lots"],
            "not a size like 5GB",
        ),
        (
            vec!["ck", "out", "--force"],
            "unexpected argument '--force' found",
        ),
        (
            vec!["ck", "out", "--dtype"],
            "a value is required for '--dtype <D>'",
        ),
    ] {
        let bad: Vec<String> = bad.into_iter().map(String::from).collect();
        let e = ExportArgs::parse(&bad).unwrap_err();
        assert!(e.contains(want), "{bad:?}: {e}");
    }
}
