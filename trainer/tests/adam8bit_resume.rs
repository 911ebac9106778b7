//! The 8-bit AdamW state, saved by one world size, resumes at another as if
//! never interrupted.

use runconfig::OptimizerConfig;
use tch::{Device, Kind, Tensor};
use trainer::optim::{for_shard, DecayMask, ShardOptimizer};

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
                .map(|_| for_shard(&cfg, P, len, Device::Cpu, DecayMask::all(len)))
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
        for (r, opt) in self.opts.iter().enumerate() {
            for (name, g, values) in saved {
                // The state pieces are views: written in place, as the engine does.
                let state = opt.state().into_iter().find(|p| p.name == *name).unwrap();
                let (first, count) = ((r * self.len / g) as i64, (self.len / g) as i64);
                let have = (values.size()[0] - first).clamp(0, count);
                if have > 0 {
                    state
                        .tensor
                        .narrow(0, 0, have)
                        .copy_(&values.narrow(0, first, have));
                }
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
