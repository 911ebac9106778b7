//! The data cache when writing fails: the error names the file, no
//! temporary file is left behind, and the temporaries that builders which
//! died left are removed by the next start (and only those).

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
    let disk = SmallDisk::mount(&out);
    if disk.is_none() {
        // No tmpfs without privileges: the temporary file this process
        // would write is made a link to /dev/full, whose writes fail with
        // ENOSPC just as a full disk's do.
        let key = load(&data, &dir.join("probe")).unwrap().cache_file.unwrap();
        let tmp = key.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::create_dir_all(out.join("data-cache")).unwrap();
        let link = out.join("data-cache").join(tmp.file_name().unwrap());
        std::os::unix::fs::symlink("/dev/full", link).unwrap();
    }
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
