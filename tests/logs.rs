//! Rank logs: a UTC timestamp on every line, `FERROSPEED_LOG=debug` for the
//! rendezvous, the Hub requests and the collectives' timings, and
//! `logging.format: json`.

mod common;

use common::{rank_logs, run_ok, scratch, tiny_pretrain};
use std::path::Path;

/// A tiny run of `world` ranks for one step; the console and the rank logs.
fn one_step(
    name: &str,
    world: usize,
    env: &[(&str, &str)],
    sets: &[&str],
) -> (String, Vec<String>) {
    let dir = scratch(name);
    let out = dir.join("out");
    let sets = [
        &["train.max_steps=1", "checkpoint.every_steps=1000"][..],
        sets,
    ]
    .concat();
    let mut c = tiny_pretrain(&dir, world, &out, &sets);
    c.envs(env.iter().copied());
    let console = run_ok(c);
    let logs = raw_logs(&dir.join("logs"));
    assert_eq!(logs.len(), world, "{logs:?}");
    (console, logs)
}

/// The rank logs as written (common::rank_logs strips the timestamps).
fn raw_logs(dir: &Path) -> Vec<String> {
    let paths = rank_logs(dir).into_iter().map(|(p, _)| p);
    paths.map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

/// Whether `s` starts with `YYYY-MM-DDTHH:MM:SS.mmmZ `.
fn stamped(s: &str) -> bool {
    let b = s.as_bytes();
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
    b.len() >= shape.len()
        && shape.bytes().zip(b).all(|(want, &got)| match want {
            b'd' => got.is_ascii_digit(),
            _ => got == want,
        })
}

#[test]
fn every_rank_log_line_carries_a_utc_timestamp_and_the_console_none() {
    let (console, logs) = one_step("logs-stamp", 1, &[], &[]);
    let lines: Vec<&str> = logs[0].lines().collect();
    assert!(lines.iter().any(|l| l.contains("step 1/1")), "{}", logs[0]);
    assert!(lines.iter().all(|l| stamped(l)), "{}", logs[0]);
    let echoed: Vec<&str> = console
        .lines()
        .filter(|l| l.starts_with("[rank0] "))
        .collect();
    assert!(!echoed.is_empty(), "{console}");
    assert!(
        echoed.iter().all(|l| !stamped(&l["[rank0] ".len()..])),
        "{console}"
    );
}

#[test]
fn debug_shows_the_rendezvous_and_collective_timings_the_default_hides() {
    let debug_lines = |log: &str| {
        log.lines()
            .filter(|l| l.contains("rendezvous: connected") || l.contains("collective all_reduce"))
            .count()
    };
    let (console, logs) = one_step("logs-default", 2, &[], &[]);
    assert!(logs.iter().all(|l| debug_lines(l) == 0), "{logs:?}");
    assert!(!console.contains("admitted"), "{console}");
    let debug = [("FERROSPEED_LOG", "debug")];
    let (console, logs) = one_step("logs-debug", 2, &debug, &[]);
    for log in &logs {
        assert!(log.contains("DEBUG"), "{log}");
        assert!(log.contains("rendezvous: connected to the store"), "{log}");
        assert!(log.contains("collective all_reduce: "), "{log}");
    }
    assert!(console.contains("rendezvous: 127.0.0.1:"), "{console}");
    assert!(console.contains(" admitted"), "{console}");
}

#[test]
fn json_rank_logs_hold_one_object_per_line() {
    let debug = [("FERROSPEED_LOG", "debug")];
    let (_, logs) = one_step("logs-json", 2, &debug, &["logging.format=json"]);
    for (rank, log) in logs.iter().enumerate() {
        let mut levels = std::collections::BTreeSet::new();
        for line in log.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(
                v["time"]
                    .as_str()
                    .is_some_and(|t| stamped(&format!("{t} "))),
                "{line}"
            );
            assert!(v["message"].is_string(), "{line}");
            assert_eq!(v["rank"].as_u64(), Some(rank as u64), "{line}");
            levels.insert(v["level"].as_str().unwrap_or_default().to_string());
        }
        // Rank 0 prints the run's lines; every rank logs its collectives.
        assert!(rank > 0 || levels.contains("INFO"), "{levels:?}\n{log}");
        assert!(levels.contains("DEBUG"), "{levels:?}\n{log}");
    }
}

#[test]
fn debug_shows_each_hub_request_the_default_hides() {
    let hub = common::LocalHub::start(&[]);
    let home = common::TempDir::new("logs-hub");
    let folder = home.join("final");
    common::make_final(&folder);
    let push = |env: &[(&str, &str)]| {
        let hub_env = [
            ("HF_ENDPOINT", hub.url.as_str()),
            ("HF_TOKEN", common::TOKEN),
        ];
        let args = [
            "push",
            folder.to_str().unwrap_or_default(),
            "--repo",
            "acme/logs",
        ];
        let out = common::launch_clean(&args, &[&hub_env[..], env].concat(), &home.0);
        assert!(out.status.success(), "{}", common::text(&out));
        common::text(&out)
    };
    let quiet = push(&[]);
    assert!(!quiet.contains(" -> 200 in "), "{quiet}");
    let loud = push(&[("FERROSPEED_LOG", "debug")]);
    let want = format!("DEBUG launch::hub::http: hub: POST {}/api/", hub.url);
    assert!(
        loud.lines()
            .any(|l| l.starts_with(&want) && l.contains(" -> 200 in ")),
        "{loud}"
    );
    assert!(!loud.contains(common::TOKEN), "{loud}");
}
