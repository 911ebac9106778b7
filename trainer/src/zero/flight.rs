//! The engine's collectives in flight. Told which units a pass will gather,
//! in order, the engine starts the next unit's all-gather as soon as it has
//! the current one, so that it moves while the current unit computes (at
//! most two gathered units exist at a time: the one in use and the next);
//! and a unit's gradient reduce-scatter moves while the next unit's
//! backward computes (one in flight). On a backend without a
//! communication thread or stream the collectives simply run when started.

use super::engine::Engine;
use crate::comm::{Pending, ReduceOp};
use anyhow::{Context, Result};
use std::collections::VecDeque;
use tch::{Kind, Tensor};

/// Collectives started and not yet finished, and the gathers to come.
#[derive(Default)]
pub struct Flight {
    plan: VecDeque<usize>,
    next: Option<(usize, Pending)>,
    /// The reduce-scatter in flight while the next unit's backward computes
    /// (its flat gradient, the next unit's, and the thread's working copy
    /// are the three unit gradients the memory plan counts with overlap).
    scatter: Option<(usize, Pending)>,
}

impl Engine {
    /// The units the coming gathers are for, in order (kept only when the
    /// backend overlaps: else a gather started early would only hold memory).
    pub(super) fn plan_gathers(&mut self, order: Vec<usize>) {
        if self.comm.overlaps() {
            self.flight.plan = order.into();
        }
    }

    /// The gathers of a pass through the first `units` units (a unit tied
    /// to the embedding gathers it too).
    pub(super) fn forward_plan(&self, units: usize) -> Vec<usize> {
        (0..units)
            .flat_map(|u| match self.specs[u].uses_embedding {
                true => vec![u, 0],
                false => vec![u],
            })
            .collect()
    }

    /// All-gathers unit `u` in the compute dtype (the full padded flat
    /// vector), from the gather already started for it when there is one;
    /// then starts the next planned one.
    pub(super) fn gather(&mut self, u: usize) -> Result<Tensor> {
        let started = match self.flight.next.take() {
            Some((v, pending)) if v == u => Some(pending),
            Some((_, pending)) => {
                // Off the plan: every rank is, so the ring stays in step.
                drop(pending.wait()?);
                self.flight.plan.clear();
                None
            }
            None => None,
        };
        let full = match started {
            Some(pending) => pending.wait(),
            None => self.comm.all_gather(&self.shards[u].compute),
        }
        .with_context(|| format!("all-gather of unit {u}"))?;
        self.comm_bytes += (full.numel() * full.kind().elt_size_in_bytes()) as u64;
        if self.flight.plan.front() == Some(&u) {
            self.flight.plan.pop_front();
        }
        if let Some(&next) = self.flight.plan.front() {
            let pending = self.comm.start_all_gather(&self.shards[next].compute)?;
            self.flight.next = Some((next, pending));
        }
        Ok(full)
    }

    /// Adds the gradients of unit `u`'s parameters (all of them, in the
    /// unit's order) to this rank's accumulator: reduce-scattered from one
    /// flat vector; in a world of one, added straight into the shard, with
    /// no flat copy to build. Either way they pass through the compute
    /// dtype, as a collective would carry them.
    pub(super) fn reduce_grads(&mut self, u: usize, grads: &[Tensor]) -> Result<()> {
        if self.comm.world_size() > 1 {
            let flat = self.padded(u, grads);
            return self.scatter_grad(u, &flat);
        }
        let padded = self.shards[u].layout.padded;
        self.comm_bytes += (padded * self.dtype.elt_size_in_bytes()) as u64;
        let mut at = 0;
        for g in grads {
            let n = g.numel() as i64;
            let g = g.reshape([-1]).to_kind(self.dtype);
            let _ = self.shards[u].grad.narrow(0, at, n).g_add_(&g);
            at += n;
        }
        Ok(())
    }

    /// Starts the reduce-scatter of a unit's full flat gradient; its piece
    /// is added to the unit's accumulator when it finishes.
    pub(super) fn scatter_grad(&mut self, u: usize, flat_grad: &Tensor) -> Result<()> {
        let flat = flat_grad.to_kind(self.dtype);
        self.comm_bytes += (flat.numel() * flat.kind().elt_size_in_bytes()) as u64;
        let pending = self
            .comm
            .start_reduce_scatter(&flat, ReduceOp::Sum)
            .with_context(|| format!("reduce-scatter of unit {u}"))?;
        match self.flight.scatter.replace((u, pending)) {
            Some(previous) => self.finish_scatter(previous),
            None => Ok(()),
        }
    }

    fn finish_scatter(&mut self, (u, pending): (usize, Pending)) -> Result<()> {
        let piece = pending
            .wait()
            .with_context(|| format!("reduce-scatter of unit {u}"))?;
        let _ = self.shards[u].grad.g_add_(&piece.to_kind(Kind::Float));
        Ok(())
    }

    /// Finishes every collective in flight: the gradients are then whole.
    pub(super) fn land(&mut self) -> Result<()> {
        if let Some(last) = self.flight.scatter.take() {
            self.finish_scatter(last)?;
        }
        if let Some((_, pending)) = self.flight.next.take() {
            drop(pending.wait()?);
        }
        self.flight.plan.clear();
        Ok(())
    }
}
