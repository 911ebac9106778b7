//! The ZeRO-3 engine: the training step of a model whose units are sharded
//! over ranks. Forward: gather a unit, run it without autograd, keep its
//! input, free it. Backward, units in reverse: gather again, recompute with
//! autograd (`graph.rs`), `run_backward` for input and weight gradients,
//! reduce-scatter the weight gradients into this rank's fp32 accumulator.
//! Units that are not recomputed (`train.activation_checkpointing`) run
//! with autograd in the forward pass and keep their graph and gathered
//! parameters until their backward. Every gather and reduce-scatter goes
//! through the engine's [`Collectives`] (`flight.rs`); the head and the
//! objective's loss are in `head.rs`, the optimizer step in `step.rs`.

use super::arena::Arena;
use super::flight::Collectives;
use super::graph::{Graph, Saved};
use super::layout::Layout;
use super::placement::Placement;
use super::shard::UnitShard;
use crate::batch::{Batch, Objective};
use crate::comm::Comm;
use crate::model::{forward_unit, read_unit_range, units, Ctx, LlamaConfig, ParamSource, UnitSpec};
use anyhow::Result;
use runconfig::OptimizerConfig;
use tch::{Device, Kind, Tensor};

/// A rank's part of the model and the means to train it. Its fields are
/// private: the rest of the trainer asks its methods (here, in `head.rs`,
/// `step.rs`, `info.rs` and `state.rs`).
pub struct Engine {
    pub(super) cfg: LlamaConfig,
    pub(super) specs: Vec<UnitSpec>,
    /// Views of `arena`, one per unit.
    pub(super) shards: Vec<UnitShard>,
    /// The model state the shards view, and the optimizers.
    pub(super) arena: Arena,
    /// The communicator, its byte count and the collectives in flight.
    pub(super) collectives: Collectives,
    dtype: Kind,
    pub(super) device: Device,
    /// Where master weights and optimizer state live (`optimizer.offload`).
    pub(super) at: Placement,
    /// Optimizer steps taken so far.
    pub(super) steps_done: u64,
    /// The finite check of the last update's master weights, computed on
    /// the device and reduced with the next step's gradient norm.
    pub(super) unchecked: Option<Tensor>,
    /// Units before the head, from the embedding on, that the backward pass
    /// recomputes; the others keep their forward graph.
    recomputed: usize,
}

impl Engine {
    /// Lays out `cfg`'s units over `comm`'s ranks and fills this rank's
    /// shards from `source` (reading only the owned ranges).
    pub fn new(
        cfg: LlamaConfig,
        source: &dyn ParamSource,
        comm: Box<dyn Comm>,
        dtype: Kind,
        device: Device,
        opt: &OptimizerConfig,
    ) -> Result<Engine> {
        let specs = units(&cfg);
        let layouts = Engine::layouts(&specs, comm.rank(), comm.world_size());
        let at = Placement::new(opt.offload, device);
        let (mut arena, mut shards) = Arena::new(layouts, opt, dtype, &at);
        for (spec, shard) in specs.iter().zip(&mut shards) {
            let layout = &shard.layout;
            let (start, len) = (layout.shard_start() as i64, layout.shard_len as i64);
            let master = read_unit_range(source, spec, start, len)?;
            assert_eq!(master.size(), vec![len]);
            shard.master.copy_(&master);
        }
        arena.refresh(&at);
        Ok(Engine {
            cfg,
            specs,
            shards,
            arena,
            collectives: Collectives::new(comm, dtype),
            dtype,
            device,
            at,
            steps_done: 0,
            unchecked: None,
            recomputed: usize::MAX,
        })
    }

    /// The flat layouts of `specs` for `rank` of `world`.
    pub(super) fn layouts(specs: &[UnitSpec], rank: usize, world: usize) -> Vec<Layout> {
        specs
            .iter()
            .map(|s| {
                let params: Vec<(String, Vec<i64>)> = s
                    .params
                    .iter()
                    .map(|p| (p.name.clone(), p.shape.clone()))
                    .collect();
                Layout::new(&params, rank, world)
            })
            .collect()
    }

    /// Recomputes in the backward pass the first `units` units before the
    /// head (the embedding first; more than there are means all of them);
    /// the others keep their forward graph and gathered parameters until
    /// their backward. The numbers are the same either way.
    pub fn set_recomputed_units(&mut self, units: usize) {
        self.recomputed = units;
    }

    /// Units the backward pass recomputes (see [`Engine::set_recomputed_units`]).
    pub fn recomputed_units(&self) -> usize {
        self.recomputed.min(self.specs.len() - 1)
    }

    /// Forward and backward of one micro-batch: the gradients of the loss
    /// `objective` computes from the tokens' log-likelihoods accumulate in
    /// the shards; returns the objective's values for reporting (f64 on the
    /// device, not waited for).
    pub fn micro_step(&mut self, batch: &Batch, objective: &dyn Objective) -> Result<Tensor> {
        let n = self.specs.len();
        let ctx = self.ctx(batch)?;
        let mut plan = self.forward_plan(n);
        plan.extend((0..self.recomputed_units()).rev());
        self.collectives.plan(plan);
        let mut saved = Vec::with_capacity(n);
        let mut x = batch.input_ids.shallow_clone();
        for u in 0..n - 1 {
            let (keep, out) = match u < self.recomputed {
                true => {
                    let params = self.gather_params(u)?.0;
                    let spec = &self.specs[u];
                    let out =
                        tch::no_grad(|| forward_unit(&self.cfg, spec, &params, None, &x, &ctx))?;
                    (Saved::Input(x), out)
                }
                false => {
                    let graph = self.forward_graph(u, &x, &ctx)?;
                    let out = graph.output();
                    (Saved::Graph(graph), out)
                }
            };
            saved.push(keep);
            x = out;
        }
        let (values, mut grad_out) = self.head_step(batch, &x, objective)?;
        drop(x);
        for u in (0..n - 1).rev() {
            let graph = match saved.pop().expect("one saved entry per unit") {
                Saved::Input(input) => self.forward_graph(u, &input, &ctx)?,
                Saved::Graph(graph) => graph,
            };
            if let Some(g) = self.backward_graph(u, graph, &grad_out)? {
                grad_out = g;
            }
        }
        self.collectives.land(&mut self.shards)?;
        Ok(values)
    }

    /// Rotary tables and attention mask of a batch (packed rows attend
    /// within their own document only).
    fn ctx(&self, batch: &Batch) -> Result<Ctx> {
        Ok(match (&batch.position_ids, &batch.segment_ids) {
            (Some(pos), Some(seg)) => Ctx::packed(&self.cfg, pos, seg, self.dtype)?,
            (Some(pos), None) => Ctx::with_positions(&self.cfg, pos, self.dtype),
            _ => Ctx::causal(
                &self.cfg,
                batch.input_ids.size()[1],
                self.dtype,
                self.device,
            ),
        })
    }

    /// Unit `u`'s gathered parameters, and the gathered embedding weight
    /// when the unit ties to it.
    pub(super) fn gather_params(&mut self, u: usize) -> Result<(Vec<Tensor>, Option<Tensor>)> {
        let flat = self.collectives.gather(&self.shards, u)?;
        let params = self.specs[u].split_flat(&flat)?;
        let embed = match self.specs[u].uses_embedding {
            true => {
                let e = self.collectives.gather(&self.shards, 0)?;
                Some(self.specs[0].split_flat(&e)?.remove(0))
            }
            false => None,
        };
        Ok((params, embed))
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

    /// The output of the first `units` units on `batch`, without autograd,
    /// along gathers already planned.
    pub(super) fn run_units(&mut self, batch: &Batch, units: usize) -> Result<Tensor> {
        let ctx = self.ctx(batch)?;
        let mut x = batch.input_ids.shallow_clone();
        for u in 0..units {
            let (params, embed) = self.gather_params(u)?;
            x = tch::no_grad(|| {
                forward_unit(&self.cfg, &self.specs[u], &params, embed.as_ref(), &x, &ctx)
            })?;
        }
        Ok(x)
    }

    /// Gathers unit `u` and runs it on `input` with autograd.
    fn forward_graph(&mut self, u: usize, input: &Tensor, ctx: &Ctx) -> Result<Graph> {
        let flat = self.collectives.gather(&self.shards, u)?;
        Graph::run(&self.cfg, &self.specs[u], u, &flat, input, ctx)
    }

    /// Backward of unit `u` through `graph` from the gradient of its output:
    /// reduces the weight gradients into the shard and returns the gradient
    /// of the unit's input (none for the embedding).
    fn backward_graph(
        &mut self,
        u: usize,
        graph: Graph,
        grad_out: &Tensor,
    ) -> Result<Option<Tensor>> {
        let (grads, input_grad) = graph.backward(u, grad_out);
        self.reduce_grads(u, &grads)?;
        Ok(input_grad)
    }

    /// Adds the gradients of unit `u`'s parameters, in order, to this
    /// rank's accumulator ([`Collectives::reduce_grads`]).
    pub(super) fn reduce_grads(&mut self, u: usize, grads: &[Tensor]) -> Result<()> {
        self.collectives.reduce_grads(&mut self.shards, u, grads)
    }
}
