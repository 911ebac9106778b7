//! The 8-bit AdamW against its references (`scripts/make-8bit-reference`):
//! the quantization maps equal bitsandbytes' bit for bit, blockwise
//! quantization equals the PyTorch transcription of bitsandbytes' kernel,
//! and ten optimizer steps agree within 1e-6 (resuming at another world size:
//! adam8bit_resume.rs).

mod common;

use common::{read_tensors, ref_8bit};
use runconfig::OptimizerConfig;
use tch::{Device, Kind};
use trainer::optim::quant::{dynamic_map, QuantMap};
use trainer::optim::{for_shard, Adam8bit, AdamW, DecayMask, ShardOptimizer};

fn hyper() -> AdamW {
    AdamW {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    }
}

#[test]
fn dynamic_maps_equal_bitsandbytes_bit_for_bit() {
    let maps = read_tensors(&ref_8bit().join("maps.safetensors"));
    for (name, signed) in [("signed", true), ("unsigned", false)] {
        let want = Vec::<f32>::try_from(&maps[name]).unwrap();
        let got = dynamic_map(signed);
        assert_eq!(got.len(), 256);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{name} map, value {i}: {a:e} vs {b:e}"
            );
        }
    }
}

#[test]
fn quantize_and_dequantize_match_the_reference() {
    let q = read_tensors(&ref_8bit().join("quant.safetensors"));
    let mut cases: Vec<&String> = q.keys().filter(|k| k.ends_with(".x")).collect();
    cases.sort();
    assert!(cases.len() >= 20, "reference cases: {cases:?}");
    let mut on_mid_total = 0;
    for key in cases {
        let base = key.trim_end_matches(".x");
        let map = QuantMap::dynamic(base.ends_with(".signed"), Device::Cpu);
        let (codes, absmax) = map.quantize(&q[key.as_str()]);
        // The tensor-op path (used off the CPU) gives the same codes.
        let (codes_t, absmax_t) = map.quantize_tensor(&q[key.as_str()]);
        assert!(
            codes_t.equal(&codes) && absmax_t.equal(&absmax),
            "{base}: paths differ"
        );
        let want_codes = &q[&format!("{base}.codes")];
        let want_absmax = &q[&format!("{base}.absmax")];
        assert!(absmax.equal(want_absmax), "{base}: absmax differs");
        let off = (codes.to_kind(Kind::Int64) - want_codes.to_kind(Kind::Int64)).abs();
        let on_mid = q[&format!("{base}.on_mid")].to_kind(Kind::Bool);
        on_mid_total += on_mid.sum(Kind::Int64).int64_value(&[]);
        let bad = off
            .gt(1)
            .logical_or(&off.eq(1).logical_and(&on_mid.logical_not()));
        assert_eq!(
            bad.sum(Kind::Int64).int64_value(&[]),
            0,
            "{base}: codes differ from the reference off the midpoints"
        );
        // Where a code is one off (a midpoint), the value is one code spacing off.
        let deq = map.dequantize(&codes, &absmax);
        let want_deq = &q[&format!("{base}.deq")];
        assert!(
            map.dequantize(want_codes, want_absmax).equal(want_deq),
            "{base}: dequantization of the reference codes differs"
        );
        let spacing = (map.values.narrow(0, 1, 255) - map.values.narrow(0, 0, 255)).max();
        let amax = absmax.max().double_value(&[]);
        let worst = (&deq - want_deq).abs().max().double_value(&[]);
        assert!(
            worst <= spacing.double_value(&[]) * amax,
            "{base}: dequantized values differ by {worst:e}"
        );
        let exact = off.eq(0).all().int64_value(&[]) == 1;
        println!("{base}: codes {}", if exact { "equal" } else { "within 1" });
    }
    assert!(on_mid_total >= 500, "the midpoint cases hit the midpoints");
}

#[test]
fn ten_steps_match_the_reference_step() {
    let r = read_tensors(&ref_8bit().join("steps.safetensors"));
    let h = Vec::<f64>::try_from(&r["hyper"]).unwrap();
    let hyper = AdamW {
        beta1: h[0],
        beta2: h[1],
        eps: h[2],
        weight_decay: h[3],
    };
    let lrs = Vec::<f64>::try_from(&r["lrs"]).unwrap();
    let mut p = r["p0"].copy();
    let n = p.numel();
    let real = r["real"].int64_value(&[0]);
    let mut opt = Adam8bit::new(hyper, n, Device::Cpu, DecayMask::all(n));
    let mut worst: f64 = 0.0;
    for (i, &lr) in lrs.iter().enumerate() {
        let before = p.copy();
        let grad = r["grads"].get(i as i64);
        opt.step(&mut p, &grad, lr, i as u64 + 1);
        let want = r["params"].get(i as i64);
        let rel = ((&p - &want).abs() / want.abs().clamp_min(1e-30))
            .masked_fill(&want.eq(0.0).logical_and(&p.eq(0.0)), 0.0)
            .max()
            .double_value(&[]);
        worst = worst.max(rel);
        assert!(rel <= 1e-6, "step {}: relative error {rel:e}", i + 1);
        // A non-finite gradient leaves its parameter untouched.
        let bad = grad.isfinite().logical_not();
        assert!(p.masked_select(&bad).equal(&before.masked_select(&bad)));
    }
    println!("10 steps: worst relative parameter error {worst:e}");
    assert_eq!(
        p.narrow(0, real, n as i64 - real)
            .abs()
            .max()
            .double_value(&[]),
        0.0,
        "the padding tail stays zero"
    );
    for piece in opt.state() {
        let want = &r[piece.name];
        let same = piece
            .tensor
            .eq_tensor(want)
            .sum(Kind::Int64)
            .int64_value(&[]);
        assert_eq!(
            same as usize,
            want.numel(),
            "{}: only {same} of {} equal the reference",
            piece.name,
            want.numel()
        );
    }
}

#[test]
fn for_shard_picks_the_state_width_by_unit_size() {
    let names = |bits, numel| {
        let cfg = OptimizerConfig {
            bits,
            ..OptimizerConfig::default()
        };
        for_shard(&cfg, numel, 512, Device::Cpu, DecayMask::all(512))
            .state()
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
    };
    let eight = [
        "exp_avg_codes",
        "exp_avg_absmax",
        "exp_avg_sq_codes",
        "exp_avg_sq_absmax",
    ];
    assert_eq!(names(8, 4096), eight);
    assert_eq!(names(8, 4095), ["exp_avg", "exp_avg_sq"]);
    assert_eq!(names(32, 1 << 20), ["exp_avg", "exp_avg_sq"]);
}

#[test]
fn state_bytes_per_parameter() {
    let len = 256 * 40;
    let eight = Adam8bit::new(hyper(), len, Device::Cpu, DecayMask::all(len)).state_bytes() as f64
        / len as f64;
    let cfg = OptimizerConfig::default();
    let full = for_shard(&cfg, len, len, Device::Cpu, DecayMask::all(len)).state_bytes() as f64
        / len as f64;
    println!("optimizer state: {eight} bytes/param (8-bit), {full} (32-bit)");
    assert_eq!(eight, 2.0 + 8.0 / 256.0);
    assert_eq!(full, 8.0);
}
