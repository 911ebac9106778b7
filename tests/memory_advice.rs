//! Every change `launch check` suggests for a run that does not fit is one
//! the config accepts and that fits when applied as printed: the 8B
//! recipes (their `by_world_size` sections differ per world size) at 1, 2
//! and 8 devices against 24, 48 and 80 GB devices.

mod common;
use common::*;

/// `launch check configs/<config> -n <world> --device-memory <device>`
/// with `sets`: it must succeed; its verdict line at `world`.
fn verdict(config: &str, world: u64, device: &str, sets: &[String]) -> String {
    let dir = scratch(&format!("advice-{world}-{device}"));
    let mut c = launch(&dir);
    c.arg("check")
        .arg(repo_root().join("configs").join(config))
        .args(["-n", &world.to_string(), "--device-memory", device]);
    for s in sets {
        c.arg("--set").arg(s);
    }
    let out = c.output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{config} {sets:?}: {all}");
    let key = format!("memory at world size {world}:");
    let line = all.lines().find(|l| l.contains(&key));
    line.unwrap_or_else(|| panic!("{config}: no {key:?} in {all}"))
        .to_string()
}

/// A suggestion as printed, as a world size and `--set`s: "8 devices with
/// a=b (launch 8 --set a=b)", or "a=b with c=d (why)" at `world`.
fn applied(toggle: &str, world: u64) -> (u64, Vec<String>) {
    if let Some((_, launch)) = toggle.split_once("(launch ") {
        let mut words = launch.trim_end_matches(')').split_whitespace();
        let w = words.next().unwrap().parse().unwrap();
        let sets = words.filter(|w| *w != "--set").map(String::from).collect();
        return (w, sets);
    }
    let change = toggle.split(" (").next().unwrap();
    (world, change.split(" with ").map(String::from).collect())
}

#[test]
fn every_suggestion_fits_when_applied_as_printed() {
    let mut tried = 0;
    for (config, data) in [
        ("llama31-8b-sft.yaml", "sft.jsonl"),
        ("llama31-8b-dpo.yaml", "dpo.jsonl"),
    ] {
        let base = shape_8b(data);
        for world in [1, 2, 8] {
            for device in ["24GB", "48GB", "80GB"] {
                let line = verdict(config, world, device, &base);
                let Some((_, toggles)) = line.split_once("would fit with: ") else {
                    continue;
                };
                for toggle in toggles.split("; or ") {
                    let (w, sets) = applied(toggle, world);
                    let all = [base.clone(), sets].concat();
                    let again = verdict(config, w, device, &all);
                    let fits = format!("fits in {}.00 GB", &device[..2]);
                    assert!(
                        again.contains(&fits) && !again.contains("does not fit"),
                        "{config} at {world} on {device}: `{toggle}` gives {again}"
                    );
                    tried += 1;
                }
            }
        }
    }
    assert!(tried >= 10, "only {tried} suggestions were made");
}
