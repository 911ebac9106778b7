//! A rank's model state as a few flat tensors (arenas) instead of one set
//! per unit: the fp32 master weights, the fp32 gradient accumulator, the
//! compute-dtype copy, and one optimizer per group of units of the same
//! optimizer kind (the 32-bit units, then the 8-bit ones, each group in
//! unit order and contiguous in the arenas). Each unit's [`UnitShard`] is
//! a view of its range, so gathers, reduce-scatters, checkpoints and
//! exports see per-unit tensors while clipping, the update, the refresh of
//! the compute copy and the zeroing of the gradients run per arena or
//! group. Shard lengths, and so every offset, are multiples of 256: the
//! 8-bit blocks of a group are exactly its units' blocks, and every number
//! is what a step unit by unit gives. Arena tensors are only ever updated
//! in place, never replaced, so the views stay live.
//!
//! The update walks each group in chunks of at most the group's largest
//! shard and at most [`STEP_CHUNK`] elements (whole 8-bit blocks, so the
//! numbers are the same), so its temporaries (and, with offload, the
//! gradient copied to the host) stay a few MB whatever the model, as the
//! memory plan counts.

use super::layout::Layout;
use super::placement::Placement;
use super::shard::UnitShard;
use crate::optim::{self, DecayMask, ShardOptimizer, StatePiece};
use runconfig::model::shard::STEP_CHUNK;
use runconfig::OptimizerConfig;
use tch::{Kind, Tensor};

/// The units of one optimizer kind: arena elements `[start, start + len)`.
pub struct Group {
    pub start: usize,
    pub len: usize,
    /// Most elements one update covers: the group's largest shard, at most
    /// [`STEP_CHUNK`].
    chunk: usize,
    /// The optimizer of the group's elements, laid end to end.
    pub opt: Box<dyn ShardOptimizer>,
}

/// The flat model state of a rank (see the module doc).
pub struct Arena {
    /// fp32 master weights, where the [`Placement`] keeps them.
    pub master: Tensor,
    /// fp32 gradient accumulator, on the device.
    pub grad: Tensor,
    /// Compute-dtype copy of `master` on the device (`master` itself when
    /// fp32 on the device).
    pub compute: Tensor,
    /// Whether `compute` is `master` itself.
    shared: bool,
    pub groups: Vec<Group>,
}

impl Arena {
    /// Arenas for shards of `layouts` (one per unit), optimized as `cfg`
    /// says, computing in `dtype`, placed by `at`; and each unit's shard as
    /// views of them. The master weights are to be copied into the shards,
    /// then the compute copy refreshed ([`Arena::refresh`]).
    pub fn new(
        layouts: Vec<Layout>,
        cfg: &OptimizerConfig,
        dtype: Kind,
        at: &Placement,
    ) -> (Arena, Vec<UnitShard>) {
        let mut places = vec![(0, 0); layouts.len()];
        let mut groups = Vec::new();
        let mut end = 0;
        for eight_bit in [false, true] {
            let (start, mut chunk) = (end, 0);
            let mut decay = Vec::new();
            for (u, layout) in layouts.iter().enumerate() {
                if optim::uses_8bit(cfg, layout.numel) == eight_bit {
                    places[u] = (end, groups.len());
                    let mask = layout.decay_mask(cfg.decay_norms_and_biases);
                    decay.extend(mask.shifted(end - start));
                    end += layout.shard_len;
                    chunk = chunk.max(layout.shard_len).min(STEP_CHUNK);
                }
            }
            if end > start {
                let mask = DecayMask::from_ranges(decay);
                let opt = optim::optimizer(cfg, eight_bit, end - start, at.state_device(), mask);
                let len = end - start;
                groups.push(Group {
                    start,
                    len,
                    chunk,
                    opt,
                });
            }
        }
        let master = at.master_arena(end);
        let copy = at.compute_arena(end, dtype);
        let arena = Arena {
            grad: Tensor::zeros([end as i64], (Kind::Float, at.device)),
            shared: copy.is_none(),
            compute: copy.unwrap_or_else(|| master.shallow_clone()),
            master,
            groups,
        };
        let shards = layouts
            .into_iter()
            .zip(places)
            .map(|(layout, (offset, group))| arena.shard(layout, offset, group))
            .collect();
        (arena, shards)
    }

    /// The views of the unit laid out by `layout` at `offset`, in `group`.
    fn shard(&self, layout: Layout, offset: usize, group: usize) -> UnitShard {
        let view = |t: &Tensor| t.narrow(0, offset as i64, layout.shard_len as i64);
        UnitShard {
            master: view(&self.master),
            grad: view(&self.grad),
            compute: view(&self.compute),
            layout,
            offset,
            group,
        }
    }

    /// `(group, first element within it, length)` of the parts one step
    /// updates: each group in chunks of at most its largest shard.
    fn chunks(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for (g, group) in self.groups.iter().enumerate() {
            let mut a = 0;
            while a < group.len {
                let n = group.chunk.min(group.len - a);
                out.push((g, a, n));
                a += n;
            }
        }
        out
    }

    /// Scales the gradients by `clip` (when below 1), updates every group
    /// at learning rate `lr` and 1-based step `t`, refreshes the compute
    /// copy and zeroes the gradients.
    pub fn step(&mut self, at: &Placement, clip: f64, lr: f64, t: u64) {
        if clip < 1.0 {
            let _ = self.grad.g_mul_scalar_(clip);
        }
        for (g, a, n) in self.chunks() {
            let (from, len) = ((self.groups[g].start + a) as i64, n as i64);
            let grad = at.grad_for_step(&self.grad.narrow(0, from, len));
            let mut master = self.master.narrow(0, from, len);
            self.groups[g].opt.step_at(a, &mut master, &grad, lr, t);
        }
        self.refresh(at);
        let _ = self.grad.zero_();
    }

    /// Copies the master weights into the compute copy: at once on the
    /// device, chunk by chunk from offloaded masters (bounded host casts).
    pub fn refresh(&mut self, at: &Placement) {
        if self.shared {
            return;
        }
        let spans: Vec<(usize, usize)> = match at.offload {
            true => self
                .chunks()
                .into_iter()
                .map(|(g, a, n)| (self.groups[g].start + a, n))
                .collect(),
            false => vec![(0, self.master.numel())],
        };
        for (a, n) in spans {
            let mut compute = self.compute.narrow(0, a as i64, n as i64);
            at.refresh(&mut compute, &self.master.narrow(0, a as i64, n as i64));
        }
    }

    /// The optimizer state of `shard`, as views of its group's state.
    pub fn state_of(&self, shard: &UnitShard) -> Vec<StatePiece> {
        let group = &self.groups[shard.group];
        let within = shard.offset - group.start;
        let pieces = group.opt.state().into_iter();
        pieces
            .map(|p| {
                let k = p.granularity;
                let (a, n) = ((within / k) as i64, (shard.layout.shard_len / k) as i64);
                StatePiece {
                    tensor: p.tensor.narrow(0, a, n),
                    ..p
                }
            })
            .collect()
    }

    /// Bytes of model state held: fp32 master and gradient, the compute
    /// copy (none when shared), and the optimizer state.
    pub fn state_bytes(&self) -> u64 {
        let n = self.master.numel() as u64;
        let compute = match self.shared {
            true => 0,
            false => self.compute.kind().elt_size_in_bytes() as u64,
        };
        n * (4 + 4 + compute) + self.optimizer_bytes()
    }

    /// Bytes of optimizer state held.
    pub fn optimizer_bytes(&self) -> u64 {
        self.groups.iter().map(|g| g.opt.state_bytes()).sum()
    }
}
