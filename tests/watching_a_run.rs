//! What a user watches: TensorBoard curves equal to metrics.jsonl across a
//! Ctrl-C and resume, a log with step/total and ETA, a sanity table whose
//! throughput row can fail.

mod common;

use common::{
    children, ctrl_c_after_steps, losses, python_with, rank_logs, records, run_ok, scratch, text,
    tiny_pretrain,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const READ_EVENTS: &str = r#"
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
print(json.dumps({t: [[e.step, e.value] for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}))
"#;

/// Every scalar curve of `<out>/tensorboard`, as TensorBoard itself reads it.
fn curves(out: &Path) -> BTreeMap<String, Vec<(i64, f64)>> {
    let py = python_with("tensorboard");
    let o = Command::new(py)
        .args(["-c", READ_EVENTS])
        .arg(out.join("tensorboard"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn tensorboard_curves_equal_metrics_jsonl_and_go_on_after_ctrl_c() {
    let dir = scratch("tensorboard");
    let out = dir.join("out");
    let eval = ["data.validation={ratio: 0.1}", "eval.every_steps=2"];
    let sets = [
        &["train.max_steps=400", "checkpoint.every_steps=1000"][..],
        &eval,
    ]
    .concat();
    let (status, _) = ctrl_c_after_steps(&mut tiny_pretrain(&dir, 1, &out, &sets), &out, 3);
    assert_eq!(status.code(), Some(130));
    let stopped = *losses(&out.join("metrics.jsonl")).keys().last().unwrap();
    let more = format!("train.max_steps={}", stopped + 4);
    let log = run_ok(tiny_pretrain(
        &dir,
        1,
        &out,
        &[&[&more, "checkpoint.every_steps=1000"][..], &eval].concat(),
    ));
    assert!(log.contains("resumed from"), "{log}");
    let curves = curves(&out);
    for (tag, points) in &curves {
        let steps: Vec<i64> = points.iter().map(|p| p.0).collect();
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "{tag}: {steps:?}");
    }
    let mut checked = 0;
    for r in records(&out).iter().filter(|r| r.get("step").is_some()) {
        let step = r["step"].as_i64().unwrap();
        for (key, value) in r.as_object().unwrap() {
            let Some(tag) = tag_of(key) else { continue };
            let want = value.as_f64().unwrap();
            let got = curves
                .get(tag)
                .and_then(|c| c.iter().find(|p| p.0 == step))
                .unwrap_or_else(|| panic!("{tag} has no step {step}: {:?}", curves.get(tag)));
            assert!(
                (got.1 - want).abs() <= 1e-6 * want.abs().max(1e-3),
                "{tag} at step {step}: {} in TensorBoard, {want} in metrics.jsonl",
                got.1
            );
            checked += 1;
        }
    }
    assert!(
        curves["train/loss"].len() as u64 == stopped + 4,
        "{curves:?}"
    );
    assert!(
        curves.contains_key("eval/loss") && checked > 40,
        "{curves:?}"
    );
}

/// The tags the test expects for the keys of a record.
fn tag_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "train_loss" => "train/loss",
        "learning_rate" => "train/learning_rate",
        "grad_norm" => "train/grad_norm",
        "tokens_per_s" => "train/tokens_per_s",
        "eval_loss" => "eval/loss",
        "rss_bytes" => "memory/rss_bytes",
        _ => return None,
    })
}

#[test]
fn a_piped_log_shows_step_total_and_eta_in_human_units() {
    let dir = scratch("human-log");
    let out = dir.join("out");
    let log = run_ok(tiny_pretrain(&dir, 1, &out, &["train.max_steps=3"]));
    let line = log
        .lines()
        .find(|l| l.contains("step 2/3 (67%)  ETA "))
        .unwrap_or_else(|| panic!("no step line in:\n{log}"));
    assert!(
        line.contains("loss ") && line.contains(" tok/s  mem "),
        "{line}"
    );
    assert!(!log.contains("tokens_per_s="), "{log}");
}

#[test]
fn the_start_evaluations_and_end_of_a_run_read_as_words_not_key_value_dumps() {
    let dir = scratch("readable-log");
    let out = dir.join("out");
    let sets = [
        "train.max_steps=6",
        "data.validation={ratio: 0.1}",
        "eval.every_steps=3",
    ];
    let log = run_ok(tiny_pretrain(&dir, 2, &out, &sets));
    let has = |start: &str| log.lines().find(|l| l.starts_with(start));
    let line = has("[rank0] start  2 ranks  accumulation ")
        .unwrap_or_else(|| panic!("no start line in:\n{log}"));
    for part in [
        " effective batch ",
        " parameters  ",
        "-bit AdamW  6 steps  planned ",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    assert!(line.ends_with(" per device"), "{line}");
    for step in ["1/6", "3/6", "6/6"] {
        let eval = log
            .lines()
            .find(|l| l.starts_with("[rank0] eval  loss ") && l.ends_with(step));
        assert!(eval.is_some(), "no eval line at step {step} in:\n{log}");
    }
    let end = has("[rank0] end  6 steps in ").unwrap_or_else(|| panic!("no end line in:\n{log}"));
    assert!(
        end.contains("  eval loss ") && end.ends_with(" tok/s"),
        "{end}"
    );
    for dump in [
        "event=",
        "eval_loss=",
        "world_size=",
        "planned_device_bytes=",
    ] {
        assert!(!log.contains(dump), "{dump} in:\n{log}");
    }
    // The exact values stay in metrics.jsonl.
    let records = records(&out);
    assert_eq!(records[0]["event"], "start");
    assert_eq!(records[0]["world_size"], 2);
    assert!(records
        .iter()
        .any(|r| r["eval_loss"].is_f64() && r["step"] == 3));
}

fn sanity_run(dir: &Path, floor: Option<&str>) -> (Option<i32>, String) {
    let out = dir.join("out");
    let mut sets = vec!["train.sanity_steps=8", "train.max_steps=8"];
    sets.extend(floor);
    let o = tiny_pretrain(dir, 1, &out, &sets).output().unwrap();
    (o.status.code(), text(&o))
}

#[test]
fn a_throughput_floor_above_the_machine_turns_the_sanity_table_red() {
    let (code, log) = sanity_run(
        &scratch("sanity-floor"),
        Some("train.sanity.min_tokens_per_s=1e12"),
    );
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("RED    throughput"), "{log}");
    assert!(log.contains("-> too slow"), "{log}");
    let (code, log) = sanity_run(
        &scratch("sanity-normal"),
        Some("train.sanity.min_tokens_per_s=1"),
    );
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("GREEN  throughput") && log.contains("GREEN  memory"),
        "{log}"
    );
    assert!(!log.contains("RED"), "{log}");
}

#[test]
fn a_tokenisation_shorter_than_a_second_prints_no_progress_line() {
    let dir = scratch("tokenising-quiet");
    let out = dir.join("out");
    let mut run = tiny_pretrain(&dir, 1, &out, &["train.max_steps=1"]);
    run.env_remove("FERROSPEED_PROGRESS_EVERY_MS");
    let log = run_ok(run);
    assert!(log.contains("counting.jsonl: 1024 rows"), "{log}");
    assert!(!log.contains("tokenising "), "{log}");
}

#[test]
fn a_piped_log_shows_tokenisation_progress_with_count_rate_and_eta() {
    let dir = scratch("tokenising-log");
    let out = dir.join("out");
    // Lines every millisecond rather than every second: the work is short.
    let mut run = tiny_pretrain(&dir, 1, &out, &["train.max_steps=1"]);
    run.env("FERROSPEED_PROGRESS_EVERY_MS", "1");
    let log = run_ok(run);
    let line = log
        .lines()
        .find(|l| l.starts_with("[rank0] tokenising ") && l.contains("counting.jsonl: "))
        .unwrap_or_else(|| panic!("no tokenising line in:\n{log}"));
    assert!(line.contains(" rows/s  ETA "), "{line}");
    let (_, rank0) = rank_logs(&dir.join("logs")).remove(0);
    let done = rank0
        .lines()
        .rfind(|l| l.starts_with("tokenising "))
        .unwrap_or_else(|| panic!("no tokenising line in the rank log:\n{rank0}"));
    let count = done.split_whitespace().nth(2).unwrap();
    let (n, total) = count.split_once('/').unwrap();
    assert_eq!(n, total, "the last line counts every row: {done}");
}

/// `c` as one shell word list, for `script -c`.
fn shell_line(c: &Command) -> String {
    std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_ctrl_c_notice_in_a_terminal_clears_the_bar_and_gets_its_own_line() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let dir = scratch("bar-notice");
    let out = dir.join("out");
    // Only the bar after the first record: it is on screen when the signal comes.
    let sets = ["train.max_steps=400", "logging.every_steps=1000"];
    let run = tiny_pretrain(&dir, 1, &out, &sets);
    // `script` gives `launch` a terminal, so rank 0 draws its bar.
    let mut c = Command::new("script");
    c.args(["-qefc", &format!("exec {}", shell_line(&run)), "/dev/null"])
        .envs(run.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(run.get_current_dir().unwrap())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().expect("run `script` (util-linux)");
    let mut stdout = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&seen.lock().unwrap()).contains("] step 3/400") {
        assert!(Instant::now() < deadline, "no bar drawn");
        std::thread::sleep(Duration::from_millis(20));
    }
    let launch = children(child.id())[0];
    // SAFETY: signalling the launcher this test started.
    unsafe { libc::kill(launch, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    reader.join().unwrap();
    let all = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let at = all
        .find("launch: SIGINT received")
        .unwrap_or_else(|| panic!("no Ctrl-C notice in:\n{all:?}"));
    let before = &all[..at];
    assert!(
        before.ends_with("\r\x1b[K") || before.ends_with('\n'),
        "the notice follows {:?}",
        &before[before.len().saturating_sub(80)..]
    );
}
