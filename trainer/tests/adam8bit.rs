//! The 8-bit AdamW against its references (`scripts/make-8bit-reference`):
//! the quantization maps equal bitsandbytes' bit for bit, blockwise
//! quantization equals the PyTorch transcription of bitsandbytes' kernel,
//! ten optimizer steps agree within 1e-6, and the state resumes at another
//! world size as if never interrupted.

mod common;

use common::{read_tensors, ref_8bit};
use runconfig::OptimizerConfig;
use tch::{Device, Kind, Tensor};
use trainer::optim::quant::{dynamic_map, QuantMap};
use trainer::optim::{for_shard, Adam8bit, AdamW, ShardOptimizer};

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
    let mut opt = Adam8bit::new(hyper, n, Device::Cpu);
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
        for_shard(&cfg, numel, 512, Device::Cpu)
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
    let eight = Adam8bit::new(hyper(), len, Device::Cpu).state_bytes() as f64 / len as f64;
    let cfg = OptimizerConfig::default();
    let full = for_shard(&cfg, len, len, Device::Cpu).state_bytes() as f64 / len as f64;
    println!("optimizer state: {eight} bytes/param (8-bit), {full} (32-bit)");
    assert_eq!(eight, 2.0 + 8.0 / 256.0);
    assert_eq!(full, 8.0);
}

/// A unit of `P` parameters trained on `world` shards: the gradients of each
/// step are fixed, so any world size sees the same global numbers.
const P: usize = 4700;
const STEPS: usize = 10;
const CUT: usize = 5;

fn padded(world: usize) -> usize {
    P.div_ceil(256 * world) * 256 * world
}

fn global_grad(step: usize, world: usize) -> Tensor {
    tch::manual_seed(100 + step as i64);
    let g = Tensor::randn([P as i64], (Kind::Float, Device::Cpu)) * 1e-2;
    g.constant_pad_nd([0, (padded(world) - P) as i64])
}

fn initial_params(world: usize) -> Tensor {
    tch::manual_seed(7);
    let p = Tensor::randn([P as i64], (Kind::Float, Device::Cpu)) * 0.02;
    p.constant_pad_nd([0, (padded(world) - P) as i64])
}

struct Ranks {
    params: Vec<Tensor>,
    opts: Vec<Box<dyn ShardOptimizer>>,
    len: usize,
}

impl Ranks {
    fn new(world: usize, params: &Tensor) -> Ranks {
        let len = padded(world) / world;
        let cfg = OptimizerConfig {
            bits: 8,
            weight_decay: 0.01,
            ..OptimizerConfig::default()
        };
        Ranks {
            params: (0..world)
                .map(|r| params.narrow(0, (r * len) as i64, len as i64).copy())
                .collect(),
            opts: (0..world)
                .map(|_| for_shard(&cfg, P, len, Device::Cpu))
                .collect(),
            len,
        }
    }

    fn steps(&mut self, range: std::ops::Range<usize>) {
        let world = self.params.len();
        for step in range {
            let g = global_grad(step, world);
            let lr = 1e-3 * (1.0 + step as f64 / 10.0);
            for (r, (p, opt)) in self.params.iter_mut().zip(&mut self.opts).enumerate() {
                let mine = g.narrow(0, (r * self.len) as i64, self.len as i64);
                opt.step(p, &mine, lr, step as u64 + 1);
            }
        }
    }

    /// The real (unpadded) parameters.
    fn weights(&self) -> Tensor {
        Tensor::cat(&self.params, 0).narrow(0, 0, P as i64)
    }

    /// Every state piece without padding: what a checkpoint stores.
    fn save(&self) -> Vec<(&'static str, usize, Tensor)> {
        let pieces: Vec<_> = self.opts.iter().map(|o| o.state()).collect();
        (0..pieces[0].len())
            .map(|i| {
                let g = pieces[0][i].granularity;
                let all: Vec<Tensor> = pieces.iter().map(|p| p[i].tensor.copy()).collect();
                let n = P.div_ceil(g) as i64;
                (pieces[0][i].name, g, Tensor::cat(&all, 0).narrow(0, 0, n))
            })
            .collect()
    }

    /// Loads saved pieces: element i of the unit is piece element
    /// i / granularity; what lies past the unit keeps the fresh state.
    fn load(&mut self, saved: &[(&'static str, usize, Tensor)]) {
        for (r, opt) in self.opts.iter_mut().enumerate() {
            for (name, g, values) in saved {
                let fresh = opt.state().into_iter().find(|p| p.name == *name).unwrap();
                let target = fresh.tensor.copy();
                let (first, count) = ((r * self.len / g) as i64, (self.len / g) as i64);
                let have = (values.size()[0] - first).clamp(0, count);
                if have > 0 {
                    target
                        .narrow(0, 0, have)
                        .copy_(&values.narrow(0, first, have));
                }
                opt.load(name, &target).unwrap();
            }
        }
    }
}

#[test]
fn resumes_at_another_world_size_as_if_never_stopped() {
    let mut straight = Ranks::new(2, &initial_params(2));
    straight.steps(0..STEPS);
    let want = straight.weights();
    for world in [1, 3, 4] {
        let mut other = Ranks::new(world, &initial_params(world));
        other.steps(0..STEPS);
        assert!(other.weights().equal(&want), "W={world} differs from W=2");
    }
    let mut first = Ranks::new(2, &initial_params(2));
    first.steps(0..CUT);
    let saved = first.save();
    let weights = first.weights();
    for world in [1, 2, 3, 4] {
        let params = weights.constant_pad_nd([0, (padded(world) - P) as i64]);
        let mut resumed = Ranks::new(world, &params);
        resumed.load(&saved);
        resumed.steps(CUT..STEPS);
        let diff = (resumed.weights() - &want).abs().max().double_value(&[]);
        assert_eq!(diff, 0.0, "resumed at W={world}: differs by {diff:e}");
        let pad = Tensor::cat(&resumed.params, 0).narrow(0, P as i64, (padded(world) - P) as i64);
        assert_eq!(pad.abs().max().double_value(&[]), 0.0, "W={world}: padding");
    }
}
