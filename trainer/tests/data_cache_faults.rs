//! The data cache when writing fails: the error names the file, no
//! temporary file is left behind, and the temporaries that builders which
//! died left are removed by the next start (and only those). A damaged
//! cache file is rebuilt, and a planted symlink is never followed.

mod common;

use common::{chat_tokenizer, config, msg, scratch, write_jsonl};
use serde_json::json;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use trainer::data::{load_samples, Dataset};

fn load(data: &Path, out: &Path) -> anyhow::Result<Dataset> {
    let cfg = config(
        json!({"objective": "sft", "max_seq_length": 64, "chat_template": "tulu",
        "datasets": [{"path": data}]}),
    );
    load_samples(&cfg, Some(&chat_tokenizer()), out)
}

fn chats(path: &Path, n: usize) {
    let rows: Vec<_> = (0..n)
        .map(|i| json!({"messages": [msg("user", &format!("What is {i} plus 7?")), msg("assistant", &format!("{}", i + 7))]}))
        .collect();
    write_jsonl(path, &rows);
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A 64 KiB tmpfs on `dir`, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path) -> Option<SmallDisk> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(dir.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_cache_write_that_fails_names_the_file_and_leaves_no_temporary() {
    let dir = scratch("cache-full");
    let data = dir.join("chat.jsonl");
    chats(&data, 3000); // a cache file of about 1 MB
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let Some(disk) = SmallDisk::mount(&out) else {
        // Without the privilege to mount a small tmpfs a full disk cannot be
        // simulated: the temporary is created new, never through a link
        // (to /dev/full, say), so no planted file can stand in for one.
        eprintln!("skipped: no tmpfs can be mounted here");
        return;
    };
    let e = format!(
        "{:#}",
        load(&data, &out)
            .err()
            .expect("the cache cannot be written")
    );
    let cache = out.join("data-cache");
    assert!(
        e.starts_with(&format!("cannot write the data cache {}/", cache.display()))
            && e.contains(".bin (free some space, or set data.cache: false): ")
            && e.ends_with("No space left on device (os error 28)"),
        "{e}"
    );
    let left = names(&cache);
    assert!(left.iter().all(|n| !n.contains(".tmp-")), "{left:?}");
    drop(disk);
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    child.id()
}

#[test]
fn stale_temporaries_of_dead_builders_are_removed_on_the_next_start() {
    let dir = scratch("cache-stale");
    let data = dir.join("chat.jsonl");
    chats(&data, 20);
    let cache = dir.join("data-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mut alive = Command::new("sleep").arg("60").spawn().unwrap();
    let (dead, live) = (dead_pid(), alive.id());
    let key = |c: char| c.to_string().repeat(32);
    let stale = format!("{}.tmp-{dead}", key('a'));
    let building = format!("{}.tmp-{live}", key('b'));
    let locked = format!("{}.tmp-{dead}", key('c'));
    let user = format!("notes.tmp-{dead}");
    for f in [&stale, &building, &locked, &user] {
        std::fs::write(cache.join(f), b"partial").unwrap();
    }
    // Key c is being built by someone holding its lock (here: this test).
    let lock = std::fs::File::create(cache.join(format!("{}.lock", key('c')))).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);

    load(&data, &dir).unwrap();
    let left = names(&cache);
    assert!(
        !left.contains(&stale),
        "a dead builder's temporary: {left:?}"
    );
    for kept in [&building, &locked, &user] {
        assert!(left.contains(kept), "{kept} must stay: {left:?}");
    }
    alive.kill().unwrap();
    alive.wait().unwrap();
}

/// A cache built from 50 chats, the file it was written to and the data.
fn built(name: &str) -> (PathBuf, PathBuf, Dataset) {
    let dir = scratch(name);
    let data = dir.join("chat.jsonl");
    chats(&data, 50);
    let first = load(&data, &dir).unwrap();
    assert!(!first.from_cache);
    (dir, data, first)
}

#[test]
fn a_flipped_byte_or_a_truncation_rebuilds_the_cache_with_the_same_samples() {
    let (dir, data, first) = built("cache-flip");
    let file = first.cache_file.clone().unwrap();
    let whole = std::fs::read(&file).unwrap();
    // A byte among the tokens (the file's second half), then a cut file.
    let mut flipped = whole.clone();
    flipped[whole.len() * 3 / 4] ^= 0x01;
    for damaged in [flipped, whole[..whole.len() - 5].to_vec()] {
        std::fs::write(&file, &damaged).unwrap();
        let again = load(&data, &dir).unwrap();
        assert!(!again.from_cache, "a damaged cache is not used");
        assert_eq!(again.train, first.train);
        assert_eq!(again.validation, first.validation);
        assert_eq!(std::fs::read(&file).unwrap(), whole, "rebuilt in place");
        assert!(load(&data, &dir).unwrap().from_cache);
    }
}

#[test]
fn a_cache_file_or_temporary_planted_as_a_symlink_is_replaced_not_followed() {
    let (dir, data, first) = built("cache-links");
    let file = first.cache_file.clone().unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&victim, &file).unwrap();
    let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
    std::os::unix::fs::symlink(&victim, &tmp).unwrap();
    let again = load(&data, &dir).unwrap();
    assert!(!again.from_cache);
    assert_eq!(again.train, first.train);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!std::fs::symlink_metadata(&file).unwrap().is_symlink());
    // A planted lock link is refused, never opened for writing.
    let lock = file.with_extension("lock");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(dir.join("elsewhere"), &lock).unwrap();
    assert!(load(&data, &dir).is_err());
    assert!(
        !dir.join("elsewhere").exists(),
        "nothing created through the link"
    );
}
