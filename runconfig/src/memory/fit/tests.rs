//! The planner answers at once whatever the number of layers, and its
//! search for the fewest recomputed units agrees with a linear one.

use super::*;
use crate::memory::render::{gb, render};
use crate::memory::toggles::toggles;
use crate::memory::{breakdown, total, Place};
use crate::schema::Dtype;
use serde_json::{json, Value};

/// configs/models/tiny-llama.json with `changes` applied.
fn tiny_with(changes: Value) -> ModelShape {
    let mut v: Value =
        serde_json::from_str(include_str!("../../../../configs/models/tiny-llama.json")).unwrap();
    for (k, x) in changes.as_object().unwrap() {
        v[k] = x.clone();
    }
    ModelShape::from_json(&v.to_string()).unwrap()
}

/// One bf16 rank with 32-bit AdamW, micro batch and sequence as given.
fn setup(micro_batch: u64, seq_len: u64) -> Setup {
    Setup {
        micro_batch,
        seq_len,
        ..crate::memory::testing::setup(1, 32, Dtype::Bf16)
    }
}

#[test]
fn a_plan_that_would_overflow_names_the_sequence_length_and_micro_batch() {
    let shape = tiny_with(json!({}));
    assert!(check_plan_size(&shape, &setup(2, 4096)).is_ok());
    let e = check_plan_size(&shape, &setup(u64::MAX, u64::MAX)).unwrap_err();
    assert!(e.contains("`data.max_seq_length` 18446744073709551615 and `train.micro_batch_size` 18446744073709551615"), "{e}");
}

#[test]
fn a_million_layers_plan_within_a_second() {
    let shape =
        tiny_with(json!({"num_hidden_layers": 1_000_000, "hidden_size": 512, "head_dim": 128}));
    let config = crate::from_str("run_name: t\n", "t.yaml", 1, &[])
        .unwrap()
        .config;
    let start = std::time::Instant::now();
    let s = setup(2, 4096);
    check_plan_size(&shape, &s).unwrap();
    let k = fewest_recomputed(&shape, &s, 80_000_000_000);
    assert!(k <= shape.layers + 1);
    let fits = toggles(&shape, &s, &config, 80_000_000_000);
    let took = start.elapsed();
    assert!(took.as_millis() < 1000, "{took:?} ({fits:?})");
}

#[test]
fn the_fewest_recomputed_units_are_those_a_linear_search_finds() {
    let shape = tiny_with(json!({"num_hidden_layers": 24}));
    let s = Setup {
        world_size: 2,
        ..setup(2, 64)
    };
    let bytes = |recomputed| {
        let items = breakdown(&shape, &Setup { recomputed, ..s });
        total(&items, Place::Device)
    };
    for device in (bytes(25) * 100 / 90 - 10..bytes(0) * 100 / 90 + 10).step_by(997) {
        let room = device * 90 / 100;
        let linear = (0..25).find(|&k| bytes(k) <= room).unwrap_or(25);
        assert_eq!(fewest_recomputed(&shape, &s, device), linear, "{device}");
    }
}

/// A config training the tiny Llama on 8 tokens at `world` devices, with
/// `set` applied and `extra` YAML (a section) added.
fn tiny_config(world: u32, set: &str, extra: &str) -> crate::Config {
    let model = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../configs/models/tiny-llama.json"
    );
    let yaml = format!(
        "run_name: t\nmodel: {{ config: {model} }}\ndata: {{ max_seq_length: 8 }}\n{extra}"
    );
    let sets = [set.to_string()];
    crate::from_str(&yaml, "t.yaml", world, &sets)
        .unwrap()
        .config
}

/// configs/sanity.yaml on the tiny Llama with `lora` as its `lora:` section.
fn plan_text(lora: &str, dtype: &str) -> String {
    let config = tiny_config(1, &format!("model.dtype={dtype}"), lora);
    render(&plan(&config, 1, 2, None).unwrap(), None)
}

#[test]
fn the_plan_says_what_is_trained_and_what_is_frozen() {
    let full = plan_text("", "bf16");
    assert!(
        full.contains("training: every parameter (full fine-tuning), 125,248 trainable"),
        "{full}"
    );
    // q and v: 2 layers x 8 x ((64 + 64) + (64 + 32)) = 3,584 parameters.
    let lora = plan_text("lora: { r: 8, target_modules: [q_proj, v_proj] }\n", "f32");
    let line = "training: LoRA adapters (r 8 on q_proj, v_proj), 3,584 trainable parameters (2.78%), 125,248 frozen in f32";
    assert!(lora.contains(line), "{lora}");
    let qlora = plan_text(
        "lora: { r: 8, base: nf4, modules_to_save: [lm_head] }\n",
        "bf16",
    );
    // All seven: 2 x 9,344 adapter parameters, and lm_head's 16,384; the
    // blocks' projections (2 x 46,080) in NF4.
    let line = "training: QLoRA adapters (r 8 on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj), 35,072 trainable parameters";
    assert!(qlora.contains(line), "{qlora}");
    let frozen = "108,864 frozen (92,160 in NF4, the rest in bf16); lm_head trained in full";
    assert!(qlora.contains(frozen), "{qlora}");
}

#[test]
fn more_devices_are_named_only_as_the_config_accepts_them() {
    let yaml = "run_name: t\ntrain: { micro_batch_size: 1, effective_batch_size: 8 }\n";
    let load = |w: u32, sets: &[String]| crate::from_str(yaml, "t.yaml", w, sets);
    let config = load(1, &[]).unwrap().config;
    let deep = tiny_with(json!({ "num_hidden_layers": 16 }));
    let s = setup(1, 8);
    let at = |w: u64| {
        total(
            &breakdown(&deep, &Setup { world_size: w, ..s }),
            Place::Device,
        )
    };
    // Room for 3 devices' shards, not 2: 3 does not divide 8, 4 does.
    assert!(at(2) > at(3));
    let found = toggles(&deep, &s, &config, at(3));
    assert!(
        found.contains(&"4 devices (launch 4)".to_string()),
        "{found:?}"
    );
    let nine =
        "3 devices with train.effective_batch_size=9 (launch 3 --set train.effective_batch_size=9)";
    assert!(found.contains(&nine.to_string()), "{found:?}");
    assert!(
        !found.iter().any(|t| t.starts_with("3 devices (")),
        "{found:?}"
    );
    // Each, applied as printed, loads.
    assert!(load(4, &[]).is_ok());
    assert!(load(3, &["train.effective_batch_size=9".to_string()]).is_ok());
    assert!(load(3, &[]).is_err(), "3 x 1 does not divide 8");
}

#[test]
fn the_plan_says_its_minimum_beside_what_auto_keeps() {
    let config = tiny_config(1, "model.dtype=bf16", "");
    let all = plan(&config, 1, 2, None).unwrap();
    assert_eq!(all.minimum_device_bytes, all.device_bytes);
    assert!(!render(&all, None).contains("for speed"));
    let kept = plan(&config, 1, 2, Some(1 << 40)).unwrap();
    assert_eq!(kept.minimum_device_bytes, all.device_bytes);
    assert!(kept.device_bytes > all.device_bytes);
    let text = render(&kept, Some(1 << 40));
    let line = format!(
        "0 of 3 units recomputed in the backward pass (the other 3 keep their graphs for speed: {} per device; the minimum, every unit recomputed: {})",
        gb(kept.device_bytes),
        gb(all.device_bytes)
    );
    assert!(text.contains(&line), "{text}");
}

#[test]
fn a_full_fine_tune_plan_carries_deepspeed_s_estimate() {
    let config = tiny_config(2, "model.dtype=bf16", "");
    let p = plan(&config, 2, 2, None).unwrap();
    let shape = ModelShape::of(&config).unwrap();
    let ds = p.deepspeed.expect("a full fine-tune");
    assert_eq!(
        ds,
        crate::memory::deepspeed::estimate(&shape, 2, false, false)
    );
    let text = render(&p, None);
    let line = format!(
        "DeepSpeed ZeRO-3 estimate, model states only (no offload): {} per device",
        gb(ds.device_bytes)
    );
    assert!(text.contains(&line), "{text}");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["deepspeed"]["device_bytes"], ds.device_bytes);
    assert_eq!(json["minimum_device_bytes"], p.minimum_device_bytes);
}
