//! The planner's arithmetic on a small model, against numbers worked out
//! by hand from the layout rules (pad each unit to 256 * W, shard by W).

use super::fit::{fewest_recomputed, plan};
use super::testing::{bytes, setup};
use super::toggles::toggles;
use super::*;

/// configs/models/tiny-llama.json: hidden 64, intermediate 176, 2 layers,
/// 4 heads of 16, 2 kv heads, vocab 256, untied, no biases.
fn tiny() -> ModelShape {
    ModelShape::from_json(include_str!("../../../configs/models/tiny-llama.json")).unwrap()
}

#[test]
fn units_count_every_parameter_once() {
    // embedding 256*64; block: q 64*64, k and v 32*64, o 64*64, mlp 3*64*176, norms 2*64;
    // head: norm 64 + lm_head 256*64.
    let units = tiny().unit_params();
    let each = [units.embed, units.block, units.layers, units.head];
    assert_eq!(each, [16384, 46208, 2, 16448]);
    let llama8b = include_str!("../../../configs/models/llama31-8b-shape.json");
    assert_eq!(
        ModelShape::from_json(llama8b).unwrap().num_params(),
        8_030_261_248
    );
}

#[test]
fn model_state_follows_the_padded_shards() {
    // W = 2, quantum 512: 16384 -> 32 quanta, 46208 -> 91, 16448 -> 33;
    // shards 8192, 23296, 23296, 8448 = 63232 elements per rank.
    let items = breakdown(&tiny(), &setup(2, 32, Dtype::Bf16));
    assert_eq!(bytes(&items, "master_weights"), 63232 * 4);
    assert_eq!(bytes(&items, "gradient_accumulator"), 63232 * 4);
    assert_eq!(bytes(&items, "optimizer_state"), 63232 * 8);
    assert_eq!(bytes(&items, "compute_copy"), 63232 * 2);
    // The largest unit gathered in bf16: a block padded to 91 * 512.
    assert_eq!(bytes(&items, "gather_buffers"), 91 * 512 * 2);
    let f32 = breakdown(&tiny(), &setup(2, 32, Dtype::F32));
    assert_eq!(bytes(&f32, "compute_copy"), 0, "f32 gathers the master");
}

#[test]
fn eight_bit_state_keeps_small_units_at_32_bit() {
    // All units >= 4096: 2 B per element + two f32 absmax per 256 block.
    let items = breakdown(&tiny(), &setup(2, 8, Dtype::Bf16));
    let blocks = (8192 + 2 * 23296 + 8448) / 256;
    assert_eq!(bytes(&items, "optimizer_state"), 2 * 63232 + 8 * blocks);
    // min_8bit_size 20000: embedding and head keep 8 B per element.
    let s = Setup {
        min_8bit_size: 20000,
        ..setup(2, 8, Dtype::Bf16)
    };
    let items = breakdown(&tiny(), &s);
    let want = 8 * (8192 + 8448) + 2 * 2 * 23296 + 8 * 2 * (23296 / 256);
    assert_eq!(bytes(&items, "optimizer_state"), want);
}

#[test]
fn logits_are_planned_for_one_chunk_of_tokens() {
    // 2 x 4096 tokens, but the loss holds the logits of 1024 at a time.
    let long = Setup {
        seq_len: 4096,
        ..setup(1, 32, Dtype::Bf16)
    };
    let items = breakdown(&tiny(), &long);
    assert_eq!(bytes(&items, "logits"), 1024 * 256 * (2 + 4 + 4));
    assert_eq!(bytes(&items, "logits_gradient"), 1024 * 256 * (4 + 2));
    assert_eq!(
        bytes(&items, "saved_activations"),
        8192 * 8 + 3 * 8192 * 64 * 2
    );
}

#[test]
fn activations_and_logits_scale_with_the_micro_batch() {
    // 2 x 8 = 16 tokens; inputs of the 2 blocks and the head in bf16, plus the ids.
    let items = breakdown(&tiny(), &setup(1, 32, Dtype::Bf16));
    assert_eq!(bytes(&items, "saved_activations"), 16 * 8 + 3 * 16 * 64 * 2);
    // bf16 logits, their f32 copy, log-softmax; gradient in f32 and bf16.
    assert_eq!(bytes(&items, "logits"), 16 * 256 * (2 + 4 + 4));
    assert_eq!(bytes(&items, "logits_gradient"), 16 * 256 * (4 + 2));
    let one = breakdown(
        &tiny(),
        &Setup {
            micro_batch: 1,
            ..setup(1, 32, Dtype::Bf16)
        },
    );
    assert_eq!(
        2 * bytes(&one, "block_recompute"),
        bytes(&items, "block_recompute")
    );
}

#[test]
fn toggles_name_only_changes_that_fit() {
    let config = crate::from_str("run_name: t\n", "t.yaml", 1, &[])
        .unwrap()
        .config;
    let s = setup(1, 32, Dtype::Bf16);
    // 16 blocks: 8-bit state saves more than its step's temporaries cost.
    let deep = ModelShape {
        layers: 16,
        ..tiny()
    };
    let at = |s: &Setup| total(&breakdown(&deep, s), Place::Device);
    let eight = at(&Setup { bits: 8, ..s });
    // Room for 8-bit state, not for 32-bit.
    let found = toggles(&deep, &s, &config, eight);
    assert!(found[0].starts_with("optimizer.bits=8"), "{found:?}");
    for t in &found {
        assert!(
            !t.contains("micro_batch_size"),
            "micro 1 is already the smallest: {t}"
        );
    }
    // Below what 8-bit state alone needs at one device: more devices.
    let found = toggles(&deep, &s, &config, eight - 1);
    assert!(found.iter().all(|t| !t.starts_with("optimizer.bits=8 (")));
    assert!(found.iter().any(|t| t.contains("devices")), "{found:?}");
}

#[test]
fn overlap_holds_one_more_gathered_unit_and_unit_gradient() {
    let serial = breakdown(&tiny(), &setup(2, 32, Dtype::Bf16));
    let overlap = Setup {
        overlap: true,
        ..setup(2, 32, Dtype::Bf16)
    };
    let overlap = breakdown(&tiny(), &overlap);
    // The largest unit, a block padded to 91 * 512, in bf16.
    let unit = 91 * 512 * 2;
    assert_eq!(
        bytes(&overlap, "gather_buffers"),
        bytes(&serial, "gather_buffers") + unit
    );
    assert_eq!(
        bytes(&overlap, "unit_gradient"),
        bytes(&serial, "unit_gradient") + unit
    );
}

#[test]
fn blocks_that_keep_their_graph_keep_activations_and_parameters() {
    // W = 2, quantum 512: embedding 16384, blocks 46208 -> 91 * 512 = 46592.
    // Per token, a block's forward keeps 2016 - 2 * 176 = 1664 elements
    // and its backward adds 2 * 176; 16 tokens in bf16.
    let at = |world, recomputed| {
        let s = Setup {
            recomputed,
            ..setup(world, 32, Dtype::Bf16)
        };
        let items = breakdown(&tiny(), &s);
        let b = |name| bytes(&items, name);
        (
            b("kept_parameters"),
            b("kept_activations"),
            b("block_recompute"),
        )
    };
    assert_eq!(at(2, u64::MAX), (0, 0, 16 * 2016 * 2));
    assert_eq!(at(2, 2), (46592 * 2, 16 * 1664 * 2, 16 * 2016 * 2));
    assert_eq!(at(2, 1), (2 * 46592 * 2, 2 * 16 * 1664 * 2, 16 * 352 * 2));
    // The embedding keeps its gathered weight, not a graph of activations.
    let all = (16384 + 2 * 46592) * 2;
    assert_eq!(at(2, 0), (all, 2 * 16 * 1664 * 2, 16 * 352 * 2));
    // At one rank the gathered units are the rank's own shards.
    assert_eq!(at(1, 0), (0, 2 * 16 * 1664 * 2, 16 * 352 * 2));
}

#[test]
fn auto_recomputes_the_fewest_units_that_fit() {
    // As a config plans it at two ranks: with overlap_comm (the default).
    let s = Setup {
        overlap: true,
        ..setup(2, 32, Dtype::Bf16)
    };
    let bytes_at = |recomputed| {
        total(
            &breakdown(&tiny(), &Setup { recomputed, ..s }),
            Place::Device,
        )
    };
    assert!(bytes_at(0) > bytes_at(1) && bytes_at(1) > bytes_at(2) && bytes_at(2) > bytes_at(3));
    // The device size whose 90% holds `bytes`.
    let room = |bytes: u64| (bytes * 100).div_ceil(90);
    assert_eq!(fewest_recomputed(&tiny(), &s, room(bytes_at(0))), 0);
    assert_eq!(fewest_recomputed(&tiny(), &s, room(bytes_at(2))), 2);
    assert_eq!(fewest_recomputed(&tiny(), &s, room(bytes_at(1)) - 1), 2);
    let tight = fewest_recomputed(&tiny(), &s, bytes_at(1));
    assert!(tight > 1, "10% headroom: {tight}");
    assert_eq!(fewest_recomputed(&tiny(), &s, room(bytes_at(3)) - 1), 3);
    // From a config: `auto` against a size, `false` and `true` as written.
    let model = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../configs/models/tiny-llama.json"
    );
    let yaml = format!("run_name: t\nmodel: {{ config: {model} }}\ndata: {{ max_seq_length: 8 }}\ntrain: {{ micro_batch_size: 2 }}\n");
    let config = |value: &str| {
        let sets = vec![format!("train.activation_checkpointing={value}")];
        crate::from_str(&yaml, "t.yaml", 2, &sets).unwrap().config
    };
    let with = |value: &str, device| {
        let p = plan(&config(value), 2, 2, device).unwrap();
        (p.recomputed_units, p.units_before_head, p.device_bytes)
    };
    assert_eq!(with("auto", None), (3, 3, bytes_at(3)));
    assert_eq!(with("auto", Some(room(bytes_at(1)))), (1, 3, bytes_at(1)));
    assert_eq!(with("auto", Some(1 << 40)), (0, 3, bytes_at(0)));
    assert_eq!(with("false", Some(bytes_at(1))).0, 0);
    assert_eq!(with("true", None), (3, 3, bytes_at(3)));
    // `false` that does not fit names `auto`, which does.
    let p = plan(&config("false"), 2, 2, Some(bytes_at(2))).unwrap();
    assert_eq!(p.fits, Some(false));
    let first = &p.toggles[0];
    assert!(
        first.starts_with("train.activation_checkpointing=auto"),
        "{first}"
    );
}

#[test]
fn the_8bit_step_temporaries_do_not_grow_with_the_model() {
    let text = include_str!("../../../configs/models/llama31-8b-shape.json");
    let eight_b = ModelShape::from_json(text).unwrap();
    let wider = ModelShape {
        hidden: 2 * eight_b.hidden,
        intermediate: 2 * eight_b.intermediate,
        ..eight_b
    };
    let step = |m: &ModelShape| bytes(&breakdown(m, &setup(1, 8, Dtype::Bf16)), "optimizer_step");
    // 8 f32 temporaries, twice over, per element of one step piece.
    let chunk = 32 * crate::model::shard::STEP_CHUNK as u64;
    assert_eq!(step(&eight_b), chunk);
    assert_eq!(step(&wider), chunk);
    // A unit smaller than a piece is updated whole.
    assert!(step(&tiny()) < chunk);
}
