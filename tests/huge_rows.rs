//! Memory stays bounded on a huge row: a 20 MB chat in an SFT dataset is
//! cut to the row byte limit before it is tokenised, the data summary
//! counts it, and the run's processes stay small and quick.

mod common;
use common::*;

/// The largest resident set of any waited-for descendant, in bytes.
fn children_max_rss() -> u64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn a_20_mb_chat_row_is_cut_before_tokenising_counted_and_memory_stays_small() {
    let dir = scratch("huge-row");
    let rows = dir.join("rows.jsonl");
    let mut jsonl =
        std::fs::read_to_string(repo_root().join("data/sanity-chat/sft.jsonl")).unwrap();
    let reply = "word ".repeat(4 << 20);
    let big = serde_json::json!({"messages": [
        {"role": "user", "content": "Say it."},
        {"role": "assistant", "content": reply},
    ]});
    jsonl.push_str(&format!("{big}\n"));
    std::fs::write(&rows, jsonl).unwrap();
    let start = std::time::Instant::now();
    let out = launch(&dir)
        .arg("1")
        .arg(repo_root().join("configs/sanity.yaml"))
        .args([
            "--set",
            &format!("data.datasets=[{{path: {}}}]", rows.display()),
        ])
        .args([
            "--set",
            "train.sanity_steps=null",
            "--set",
            "train.max_steps=1",
        ])
        .args(["--set", "train.threads=1", "--set", "eval.every_steps=1000"])
        .args([
            "--set",
            &format!("checkpoint.output_dir={}", dir.join("out").display()),
        ])
        .output()
        .unwrap();
    let took = start.elapsed();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let line = "data: 1 row(s) over 65536 bytes cut before tokenising (data.overlong: truncate)";
    assert!(all.contains(line), "{all}");
    let rss = children_max_rss();
    assert!(rss < 2 << 30, "a rank peaked at {rss} bytes");
    assert!(took.as_secs() < 20, "took {took:?}");
}
