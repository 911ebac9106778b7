//! The engine's collectives: [`Collectives`] owns the communicator, the
//! count of bytes the engine's collectives move and the collectives in
//! flight. Told which units a pass will gather, in order, it starts the
//! next unit's all-gather as soon as the current one is handed over, so
//! that it moves while the current unit computes (at most two gathered
//! units exist at a time: the one in use and the next); and a unit's
//! gradient reduce-scatter moves while the next unit's backward computes
//! (one in flight). On a backend without a communication thread or stream
//! the collectives simply run when started.

use super::shard::UnitShard;
use crate::comm::{Comm, Pending};
use anyhow::{Context, Result};
use std::collections::VecDeque;
use tch::{Kind, Tensor};

/// What one all-gather carries: unit `u`'s trainable shard (its compute
/// copy) or, in a run that freezes the base, its frozen shard (in the
/// compute dtype, or the bytes of an NF4 base).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Trainable(usize),
    Frozen(usize),
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Part::Trainable(u) => write!(f, "unit {u}"),
            Part::Frozen(u) => write!(f, "unit {u}'s frozen weights"),
        }
    }
}

/// This rank's shard of a [`Part`], as its all-gather carries it.
pub type ShardOf<'a> = dyn Fn(Part) -> Tensor + 'a;

/// The communicator, its byte count, and the collectives started and not
/// yet finished with the gathers to come.
pub struct Collectives {
    comm: Box<dyn Comm>,
    /// The dtype gathered weights and reduced gradients travel in.
    dtype: Kind,
    /// Bytes moved (gathered outputs + reduce-scatter inputs).
    bytes: u64,
    /// Gathers off the plan: one not planned, one that found another
    /// part's gather started, and a pass that left planned gathers unmade.
    off_plan: u64,
    plan: VecDeque<Part>,
    next: Option<(Part, Pending)>,
    /// The reduce-scatter in flight while the next unit's backward computes
    /// (its flat gradient, the next unit's, and the thread's working copy
    /// are the three unit gradients the memory plan counts with overlap).
    scatter: Option<(usize, Pending)>,
}

impl Collectives {
    /// Collectives over `comm` carrying `dtype`.
    pub fn new(comm: Box<dyn Comm>, dtype: Kind) -> Collectives {
        Collectives {
            comm,
            dtype,
            bytes: 0,
            off_plan: 0,
            plan: VecDeque::new(),
            next: None,
            scatter: None,
        }
    }

    /// The communicator, for collectives outside a pass (their bytes are
    /// not counted).
    pub fn comm(&mut self) -> &mut dyn Comm {
        self.comm.as_mut()
    }

    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    pub fn world_size(&self) -> usize {
        self.comm.world_size()
    }

    /// Bytes moved so far by gathers and gradient reductions.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Gathers off the plan so far (with a backend that overlaps).
    pub fn off_plan(&self) -> u64 {
        self.off_plan
    }

    /// The parts the coming gathers are for, in order (kept only when the
    /// backend overlaps: else a gather started early would only hold memory).
    pub fn plan(&mut self, order: Vec<Part>) {
        if self.comm.overlaps() {
            self.plan = order.into();
        }
    }

    /// All-gathers `part` (the full padded flat vector of every rank's
    /// `shard(part)`, in its dtype), from the gather already
    /// started for it when there is one; then starts the next planned one.
    pub fn gather(&mut self, shard: &ShardOf, part: Part) -> Result<Tensor> {
        let started = match self.next.take() {
            Some((v, pending)) if v == part => Some(pending),
            Some((_, pending)) => {
                // Off the plan: every rank is, so the ring stays in step.
                drop(pending.wait()?);
                self.plan.clear();
                self.off_plan += 1;
                None
            }
            None => {
                // Not planned at all (the plan's first is gathered now).
                if self.comm.overlaps() && self.plan.front() != Some(&part) {
                    self.off_plan += 1;
                }
                None
            }
        };
        let full = match started {
            Some(pending) => pending.wait(),
            None => self.comm.all_gather(&shard(part)),
        }
        .with_context(|| format!("all-gather of {part}"))?;
        self.bytes += (full.numel() * full.kind().elt_size_in_bytes()) as u64;
        if self.plan.front() == Some(&part) {
            self.plan.pop_front();
        }
        if let Some(&next) = self.plan.front() {
            let pending = self.comm.start_all_gather(&shard(next))?;
            self.next = Some((next, pending));
        }
        Ok(full)
    }

    /// Adds the gradients of unit `u`'s parameters (all of them, in the
    /// unit's order) to this rank's accumulator: reduce-scattered from one
    /// flat vector; in a world of one, added straight into the shard, with
    /// no flat copy to build. Either way they pass through the compute
    /// dtype, as a collective would carry them.
    pub fn reduce_grads(
        &mut self,
        shards: &mut [UnitShard],
        u: usize,
        grads: &[Tensor],
    ) -> Result<()> {
        if self.comm.world_size() > 1 {
            let flat = padded(&shards[u], grads);
            return self.scatter_grad(shards, u, &flat);
        }
        let padded = shards[u].layout.padded;
        self.bytes += (padded * self.dtype.elt_size_in_bytes()) as u64;
        let mut at = 0;
        for g in grads {
            let n = g.numel() as i64;
            let g = g.reshape([-1]).to_kind(self.dtype);
            let _ = shards[u].grad.narrow(0, at, n).g_add_(&g);
            at += n;
        }
        Ok(())
    }

    /// Starts the reduce-scatter of a unit's full flat gradient; its piece
    /// is added to the unit's accumulator when it finishes.
    fn scatter_grad(&mut self, shards: &mut [UnitShard], u: usize, flat: &Tensor) -> Result<()> {
        let flat = flat.to_kind(self.dtype);
        self.bytes += (flat.numel() * flat.kind().elt_size_in_bytes()) as u64;
        let pending = self
            .comm
            .start_reduce_scatter(&flat, crate::comm::ReduceOp::Sum)
            .with_context(|| format!("reduce-scatter of unit {u}"))?;
        match self.scatter.replace((u, pending)) {
            Some(previous) => finish_scatter(shards, previous),
            None => Ok(()),
        }
    }

    /// Finishes every collective in flight: the gradients are then whole.
    pub fn land(&mut self, shards: &mut [UnitShard]) -> Result<()> {
        if let Some(last) = self.scatter.take() {
            finish_scatter(shards, last)?;
        }
        if let Some((_, pending)) = self.next.take() {
            drop(pending.wait()?);
        }
        // Planned gathers never made.
        if !self.plan.is_empty() {
            self.off_plan += 1;
        }
        self.plan.clear();
        Ok(())
    }
}

/// Adds a finished reduce-scatter's piece to unit `u`'s accumulator.
fn finish_scatter(shards: &mut [UnitShard], (u, pending): (usize, Pending)) -> Result<()> {
    let piece = pending
        .wait()
        .with_context(|| format!("reduce-scatter of unit {u}"))?;
    let _ = shards[u].grad.g_add_(&piece.to_kind(Kind::Float));
    Ok(())
}

/// Gradients of a unit's parameters laid end to end, zero-padded to the
/// unit's padded length.
fn padded(shard: &UnitShard, grads: &[Tensor]) -> Tensor {
    let layout = &shard.layout;
    let mut parts: Vec<Tensor> = grads.iter().map(|g| g.reshape([-1])).collect();
    if layout.padded > layout.numel {
        let g = &grads[0];
        parts.push(Tensor::zeros(
            [(layout.padded - layout.numel) as i64],
            (g.kind(), g.device()),
        ));
    }
    Tensor::cat(&parts, 0)
}
