//! `launch check` plans memory: per world size, each rank's peak bytes
//! item by item, whether it fits `--device-memory`, and the toggles that
//! would make it fit, as text or as JSON.

mod common;
use common::*;
use serde_json::Value;

/// `launch check` on configs/sanity.yaml with `args`: exit 0, the output.
fn check(name: &str, args: &[&str]) -> String {
    let dir = scratch(name);
    let config = repo_root().join("configs/sanity.yaml");
    let out = launch(&dir)
        .arg("check")
        .arg(&config)
        .args(args)
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    String::from_utf8(out.stdout).unwrap()
}

/// The `--set` that makes the sanity config train the Llama-3.1-8B shape.
fn llama8b() -> String {
    let shape = repo_root().join("configs/models/llama31-8b-shape.json");
    format!("model.config={}", shape.display())
}

/// The line of the plan at `world` devices.
fn verdict(out: &str, world: u32) -> String {
    let key = format!("memory at world size {world}:");
    let line = out.lines().find(|l| l.contains(&key));
    line.unwrap_or_else(|| panic!("no {key:?} in {out}"))
        .to_string()
}

#[test]
fn json_holds_a_plan_per_world_size() {
    let plans: Value = serde_json::from_str(&check("memory-json", &["--json"])).unwrap();
    let plans = plans.as_array().expect("a JSON list");
    let worlds: Vec<u64> = plans
        .iter()
        .map(|p| p["world_size"].as_u64().unwrap())
        .collect();
    assert_eq!(worlds, [1, 2, 8]);
    for p in plans {
        assert!(p.get("fits").is_none(), "no device size, no verdict: {p}");
        let items = p["breakdown"].as_array().unwrap();
        let names: Vec<&str> = items.iter().map(|i| i["item"].as_str().unwrap()).collect();
        for want in [
            "master_weights",
            "gradient_accumulator",
            "optimizer_state",
            "compute_copy",
            "gather_buffers",
            "saved_activations",
            "block_recompute",
            "logits",
            "logits_gradient",
            "loss",
        ] {
            assert!(names.contains(&want), "{want} missing: {names:?}");
        }
        let on = |place: &str| -> u64 {
            let here = items.iter().filter(|i| i["place"] == place);
            here.map(|i| i["bytes"].as_u64().unwrap()).sum()
        };
        assert_eq!(p["device_bytes"].as_u64().unwrap(), on("device"));
        assert_eq!(p["host_bytes"].as_u64().unwrap(), on("host"));
        assert!(on("device") > 0);
    }
    // Model state shrinks with the world size.
    let state = |p: &Value| p["breakdown"][0]["bytes"].as_u64().unwrap();
    assert!(state(&plans[0]) > state(&plans[1]) && state(&plans[1]) > state(&plans[2]));
    let with: Value = serde_json::from_str(&check(
        "memory-json-fits",
        &["--json", "--device-memory", "80GB"],
    ))
    .unwrap();
    assert!(with.as_array().unwrap().iter().all(|p| p["fits"] == true));
}

#[test]
fn a_small_device_names_a_toggle_that_fits() {
    let out = check("memory-small", &["-n", "1", "--device-memory", "5MB"]);
    let line = verdict(&out, 1);
    assert!(line.contains("does not fit in 5.00 MB"), "{line}");
    let toggle = "train.micro_batch_size=1";
    assert!(line.contains(toggle), "{line}");
    let set = ["-n", "1", "--device-memory", "5MB", "--set", toggle];
    let again = verdict(&check("memory-small-toggled", &set), 1);
    assert!(again.contains(": fits in 5.00 MB"), "{again}");
}

#[test]
fn llama_8b_with_32_bit_state_does_not_fit_one_80gb_device() {
    let shape = llama8b();
    // Fine-tuning at 4096 tokens in bf16, one sequence per device.
    let set = [
        "--set",
        &shape,
        "--set",
        "model.dtype=bf16",
        "--set",
        "data.max_seq_length=4096",
        "--set",
        "train.micro_batch_size=1",
        "--device-memory",
        "80GB",
    ];
    let out = check("memory-8b", &set);
    let line = verdict(&out, 1);
    assert!(line.contains("does not fit in 80.00 GB"), "{line}");
    assert!(
        line.contains("optimizer.bits=8"),
        "names 8-bit state: {line}"
    );
    assert!(
        line.contains(" devices (launch "),
        "names more devices: {line}"
    );
    assert!(verdict(&out, 8).contains(": fits in 80.00 GB"), "{out}");
    let json = [&set[..], &["--json", "-n", "1"]].concat();
    let plans: Value = serde_json::from_str(&check("memory-8b-json", &json)).unwrap();
    assert_eq!(plans[0]["fits"], false);
    // fp32 master and gradients, 32-bit AdamW state and the bf16 copy are
    // 18 B per padded parameter, before any activation.
    let state = 8_030_261_248u64.div_ceil(256) * 256;
    assert!(plans[0]["device_bytes"].as_u64().unwrap() > 18 * state);
}

#[test]
fn a_bad_device_size_is_a_usage_error() {
    let dir = scratch("memory-bad-size");
    let config = repo_root().join("configs/sanity.yaml");
    let out = launch(&dir)
        .arg("check")
        .arg(&config)
        .args(["--device-memory", "80XB"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--device-memory: unknown unit \"XB\""),
        "{err}"
    );
}

/// `launch check --json` on configs/llama31-8b-sft.yaml with the 8B shape
/// in place of the weights and the sanity chat data: the plans.
fn check_8b(name: &str, args: &[&str]) -> Value {
    let dir = scratch(name);
    let r = repo_root();
    let sets = [
        "model.path=null".to_string(),
        format!(
            "model.config={}",
            r.join("configs/models/llama31-8b-shape.json").display()
        ),
        format!(
            "data.datasets=[{{path: {}}}]",
            r.join("data/sanity-chat/sft.jsonl").display()
        ),
        format!("model.tokenizer={}", r.join("data/sanity-chat").display()),
    ];
    let mut cmd = launch(&dir);
    cmd.arg("check").arg(r.join("configs/llama31-8b-sft.yaml"));
    for s in &sets {
        cmd.args(["--set", s]);
    }
    let out = cmd
        .args(["--json", "--device-memory", "80GB"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_8b_sft_config_fits_80gb_devices_and_names_offload_without_it() {
    let plans = check_8b("memory-8b-sft", &[]);
    for p in plans.as_array().unwrap() {
        assert_eq!(p["fits"], true, "W={}: {p}", p["world_size"]);
    }
    let one = check_8b(
        "memory-8b-sft-no-offload",
        &[
            "-n",
            "1",
            "--set",
            "optimizer.offload=none",
            "--set",
            "optimizer.bits=8",
        ],
    );
    assert_eq!(one[0]["world_size"], 1);
    assert_eq!(one[0]["fits"], false, "{one}");
    let toggles = one[0]["toggles"].to_string();
    assert!(toggles.contains("optimizer.offload=cpu"), "{toggles}");
}

#[test]
fn the_qwen3_sanity_model_is_checked_and_planned() {
    let model = repo_root().join("configs/models/tiny-qwen3.json");
    let set = format!("model.config={}", model.display());
    let out = check("memory-qwen3", &["--set", &set]);
    assert!(verdict(&out, 1).contains("per device"), "{out}");
}
