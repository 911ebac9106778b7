//! A push uploads what is inside its folder and nothing of the tool's own:
//! `launch push DIR` does not enter a symlinked folder, skips (with a
//! warning) a file symlink that leaves DIR unless `--follow-links`, and
//! never uploads `.env`, `.git/`, `.lock`, `.launch-secret-*` or the
//! export marker; the push after a run leaves out the same files.

mod common;

use common::*;
use std::os::unix::fs::symlink;
use std::path::Path;

/// Files a push must never upload, planted in `dir`.
const NEVER: &[(&str, &str)] = &[
    (".env", "HF_TOKEN=hf_planted\n"),
    (".git/config", "[core]\n"),
    (".lock", "pid 1\n"),
    (".launch-secret-job7", "run secret\n"),
    (
        ".ferrospeed-export.json",
        "{\"format\":\"ferrospeed-export\"}\n",
    ),
    ("finished", "{}\n"),
];

fn plant_never(dir: &Path) {
    for (name, body) in NEVER {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

/// A `final/` folder with the tool's files, a link inside it, and links
/// out of it (to a folder and to a file beside it).
fn folder_with_links(home: &TempDir) -> std::path::PathBuf {
    let outside = home.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "not for the Hub\n").unwrap();
    let dir = home.join("final");
    make_final(&dir);
    plant_never(&dir);
    symlink("config.json", dir.join("alias.json")).unwrap();
    symlink(".env", dir.join("leak.txt")).unwrap();
    symlink(&outside, dir.join("linked-folder")).unwrap();
    symlink(outside.join("secret.txt"), dir.join("stolen.txt")).unwrap();
    dir
}

fn push(hub: &LocalHub, home: &TempDir, dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["push", dir.to_str().unwrap(), "--repo", "acme/inside"];
    args.extend_from_slice(extra);
    launch_clean(
        &args,
        &[("HF_ENDPOINT", &hub.url), ("HF_TOKEN", TOKEN)],
        &home.0,
    )
}

/// The files `make_final` writes, plus `extra`, sorted.
fn expected(extra: &[&str]) -> Vec<String> {
    let probe = TempDir::new("probe");
    make_final(&probe.0);
    let mut names = list(&probe.0);
    names.extend(extra.iter().map(|s| s.to_string()));
    names.sort();
    names
}

#[test]
fn launch_push_uploads_only_what_is_inside_the_folder() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("push-inside");
    let dir = folder_with_links(&home);
    let out = push(&hub, &home, &dir, &[]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let stored = hub.tree("acme/inside", "main");
    assert_eq!(list(&stored), expected(&["alias.json"]), "{all}");
    assert_eq!(
        std::fs::read(stored.join("alias.json")).unwrap(),
        std::fs::read(dir.join("config.json")).unwrap()
    );
    let warned = all.lines().find(|l| l.contains("stolen.txt")).unwrap_or("");
    assert!(
        warned.contains("warning") && warned.contains("--follow-links"),
        "{all}"
    );
    assert!(
        all.contains("linked-folder"),
        "the folder link is named: {all}"
    );
    assert!(!all.contains("hf_planted"), "{all}");
}

#[test]
fn follow_links_uploads_linked_files_but_never_secrets_or_linked_folders() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("push-follow");
    let dir = folder_with_links(&home);
    let out = push(&hub, &home, &dir, &["--follow-links"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let stored = hub.tree("acme/inside", "main");
    assert_eq!(
        list(&stored),
        expected(&["alias.json", "stolen.txt"]),
        "{all}"
    );
    assert_eq!(
        std::fs::read_to_string(stored.join("stolen.txt")).unwrap(),
        "not for the Hub\n"
    );
}

#[test]
fn the_push_after_a_run_holds_no_tool_internal_file() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("push-after-run");
    let out_dir = home.join("output");
    make_final(&out_dir.join("final"));
    plant_never(&out_dir.join("final"));
    let yaml = format!(
        "run_name: hubtest\n{}train:\n  micro_batch_size: 1\n  max_steps: 1\n\
         checkpoint:\n  output_dir: {}\nhub:\n  repo_id: acme/after\n  push: on_finish\n",
        common::runnable_yaml(),
        out_dir.display()
    );
    std::fs::write(home.join("run.yaml"), yaml).unwrap();
    let logs = home.join("logs");
    let out = launch_clean(
        &["1", "run.yaml"],
        &[
            ("HF_ENDPOINT", &hub.url),
            ("HF_TOKEN", TOKEN),
            ("FERROSPEED_TRAINER", "/bin/true"),
            ("FERROSPEED_LOG_DIR", logs.to_str().unwrap()),
        ],
        &home.0,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(list(&hub.tree("acme/after", "main")), expected(&[]));
}
