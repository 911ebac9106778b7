//! This rank's share of the model state: the shards (views of the arenas,
//! one per unit), the arenas with their optimizers, where they live, and
//! the optimizer's step count with its finite check in flight; the
//! update (see `step.rs` for how its terms are reduced). Checkpoints see it as the real
//! (unpadded) flat range of each unit this rank owns, with its fp32
//! master weights and optimizer state pieces; ranges written by any world
//! size load back into the shards.

use super::arena::Arena;
use super::layout::Layout;
use super::placement::Placement;
use super::shard::UnitShard;
use super::units::Units;
use crate::model::{read_unit_range, ParamSource};
use anyhow::{bail, Result};
use runconfig::OptimizerConfig;
use tch::{Kind, Tensor};

/// What a rank holds of one unit, unpadded: flat elements `[start, end)`.
pub struct UnitState {
    /// First element of the unit's flat vector this rank owns.
    pub start: usize,
    /// One past the last real element this rank owns.
    pub end: usize,
    /// `("master", fp32 weights [end - start])`, then each optimizer state
    /// piece by name, `[ceil((end - start) / granularity)]`; views of the
    /// arenas, not copies.
    pub pieces: Vec<(&'static str, Tensor)>,
}

/// Reads `len` elements of a stored piece: `(unit, piece name, first
/// element within what the writing rank stored, len)`.
pub type ReadStored<'a> = dyn Fn(usize, &str, usize, usize) -> Result<Tensor> + 'a;

/// The outcome of one optimizer step.
pub struct StepStats {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// What the optimizer step needs summed over every rank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTerms {
    /// Squared gradient norms, summed (the global norm's square).
    pub sumsq: f64,
    /// The finite check of the previous update: 0, or NaN when it left a
    /// non-finite master weight.
    pub nonfinite: f64,
}

/// `[1]` f64: finite when every element of `t` is (its range, in f64).
fn range(t: &Tensor) -> Tensor {
    let (lo, hi) = t.aminmax(None, false);
    (hi.to_kind(Kind::Double) - lo.to_kind(Kind::Double)).reshape([1])
}

/// The shards, their arenas and the optimizer's progress.
pub struct ShardedState {
    shards: Vec<UnitShard>,
    /// The model state the shards view, and the optimizers.
    arena: Arena,
    /// Where master weights and optimizer state live (`optimizer.offload`).
    at: Placement,
    /// Optimizer steps taken so far.
    steps_done: u64,
    /// The finite check of the last update's master weights, computed on
    /// the device and reduced with the next step's gradient norm.
    unchecked: Option<Tensor>,
}

impl ShardedState {
    /// The shards of `units` that `rank` of `world` owns, filled from
    /// `source` (reading only the owned ranges).
    pub fn new(
        units: &Units,
        (rank, world): (usize, usize),
        source: &dyn ParamSource,
        opt: &OptimizerConfig,
    ) -> Result<ShardedState> {
        let at = Placement::new(opt.offload, units.device());
        let layouts = units.layouts(rank, world);
        let (mut arena, mut shards) = Arena::new(layouts, opt, units.dtype(), &at);
        for (u, shard) in shards.iter_mut().enumerate() {
            let (spec, layout) = (units.trainable(u), &shard.layout);
            let (start, len) = (layout.shard_start() as i64, layout.shard_len as i64);
            let master = read_unit_range(source, spec, start, len)?;
            assert_eq!(master.size(), vec![len]);
            shard.master.copy_(&master);
        }
        arena.refresh(&at);
        Ok(ShardedState {
            shards,
            arena,
            at,
            steps_done: 0,
            unchecked: None,
        })
    }

    pub fn shards(&self) -> &[UnitShard] {
        &self.shards
    }

    pub fn shards_mut(&mut self) -> &mut [UnitShard] {
        &mut self.shards
    }

    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    /// Model-state bytes this rank holds.
    pub fn state_bytes(&self) -> u64 {
        self.arena.state_bytes()
    }

    /// Optimizer-state bytes per element of this rank's shards.
    pub fn optimizer_bytes_per_param(&self) -> f64 {
        self.arena.optimizer_bytes() as f64 / self.arena.master.numel() as f64
    }

    /// Unit `u`'s fp32 master shard on the compute device.
    pub fn master_on_device(&self, u: usize) -> Tensor {
        self.at.on_device(&self.shards[u].master)
    }

    /// This rank's state to save, unit by unit.
    pub fn saved(&self) -> Vec<UnitState> {
        let mut units = Vec::with_capacity(self.shards.len());
        for s in &self.shards {
            let (start, end) = s.layout.owned();
            let n = end - start;
            let mut pieces = vec![("master", s.master.narrow(0, 0, n as i64))];
            for p in self.arena.state_of(s) {
                let len = n.div_ceil(p.granularity) as i64;
                pieces.push((p.name, p.tensor.narrow(0, 0, len)));
            }
            units.push(UnitState { start, end, pieces });
        }
        units
    }

    /// Whether a rank whose layouts were `olds` owned part of this rank's
    /// ranges.
    pub fn overlaps(&self, olds: &[Layout]) -> bool {
        olds.iter().zip(&self.shards).any(|(old, new)| {
            let ((a, b), (s, e)) = (old.owned(), new.layout.owned());
            a.max(s) < b.min(e)
        })
    }

    /// Copies the overlap of what a rank whose layouts were `olds` saved
    /// into the shards (master weights and optimizer state), reading it
    /// through `read`.
    pub fn load(&mut self, olds: &[Layout], read: &ReadStored) -> Result<()> {
        for (u, (old, shard)) in olds.iter().zip(self.shards.iter_mut()).enumerate() {
            let ((a, b), (s, e)) = (old.owned(), shard.layout.owned());
            let (lo, hi) = (a.max(s), b.min(e));
            if lo >= hi {
                continue;
            }
            let base = shard.layout.shard_start();
            let values = read(u, "master", lo - a, hi - lo)?;
            shard
                .master
                .narrow(0, (lo - base) as i64, (hi - lo) as i64)
                .copy_(&values);
            for p in self.arena.state_of(shard) {
                let g = p.granularity;
                let (blo, bhi) = (lo / g, hi.div_ceil(g));
                let values = read(u, p.name, blo - a / g, bhi - blo)?;
                p.tensor
                    .narrow(0, (blo - base / g) as i64, (bhi - blo) as i64)
                    .copy_(&values.to_kind(p.tensor.kind()));
            }
        }
        Ok(())
    }

    /// After [`ShardedState::load`] filled every range: refreshes the
    /// compute copies, clears the gradients, and continues after step `step`.
    pub fn resume_at(&mut self, step: u64) {
        self.arena.refresh(&self.at);
        let _ = self.arena.grad.zero_();
        self.steps_done = step;
    }

    /// This rank's [`StepTerms`], f64 `[sumsq, nonfinite]` on the device,
    /// not waited for.
    pub fn step_terms(&mut self) -> Tensor {
        // Each shard's norm in f32 on its device, then their squares summed in f64.
        let norms: Vec<Tensor> = self.shards.iter().map(|s| s.grad.norm()).collect();
        let sumsq = Tensor::stack(&norms, 0)
            .to_kind(Kind::Double)
            .square()
            .sum(Kind::Double)
            .reshape([1]);
        let last = match self.unchecked.take() {
            Some(probe) => probe,
            None => sumsq.zeros_like(),
        };
        Tensor::cat(&[sumsq, last], 0)
    }

    /// Global grad norm, clipping to `max_norm` (0: none), AdamW at `lr` on
    /// every optimizer group, refresh of the compute copy, zeroed
    /// accumulators (each once per arena: [`Arena::step`]), given the
    /// [`StepTerms`] of every rank. Fails, applying nothing, when the
    /// gradient norm is not finite or the previous update left a
    /// non-finite master weight on any rank.
    pub fn apply(&mut self, terms: StepTerms, lr: f64, max_norm: f64) -> Result<StepStats> {
        let (grad_norm, last) = (terms.sumsq.sqrt(), terms.nonfinite);
        if !last.is_finite() || !grad_norm.is_finite() {
            // Never apply (or later save) non-finite weights.
            let _ = self.arena.grad.zero_();
            match last.is_finite() {
                false => bail!(
                    "the master weights are not finite after the update of step {}",
                    self.steps_done
                ),
                true => bail!("the gradient norm is {grad_norm}: the update was not applied"),
            }
        }
        let clip = if max_norm > 0.0 {
            (max_norm / (grad_norm + 1e-6)).min(1.0)
        } else {
            1.0
        };
        self.steps_done += 1;
        let t = self.steps_done;
        self.arena.step(&self.at, clip, lr, t);
        self.unchecked = Some(self.probe(false));
        Ok(StepStats { grad_norm })
    }

    /// `[1]` f64 on the shards' device: 0 when every master weight of this
    /// rank (and, with `state`, every fp32 optimizer-state element) is
    /// finite, NaN otherwise. Nothing waits for it.
    fn probe(&self, state: bool) -> Tensor {
        let mut ranges = vec![range(&self.arena.master)];
        if state {
            for group in &self.arena.groups {
                let pieces = group.opt.state();
                let fp32 = pieces.iter().filter(|p| p.tensor.kind() == Kind::Float);
                ranges.extend(fp32.map(|p| range(&p.tensor)));
            }
        }
        let probe = Tensor::cat(&ranges, 0).sum(Kind::Double).reshape([1]) * 0.0;
        self.at.on_device(&probe)
    }

    /// The full finite check (master weights and fp32 optimizer state),
    /// which supersedes the last update's.
    pub fn finite_probe(&mut self) -> Tensor {
        self.unchecked = None;
        self.probe(true)
    }

    /// The arenas, for the tests that they are what the shards view.
    #[cfg(test)]
    pub fn arena(&self) -> &Arena {
        &self.arena
    }
}
