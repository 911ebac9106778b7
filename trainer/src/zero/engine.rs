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
//! A LoRA run trains the adapters only: each unit is gathered from its
//! frozen shard (`frozen.rs`) and its trained one (`gather.rs`), autograd
//! computes gradients for the adapters and the units' inputs only, and the
//! frozen embedding has no backward pass at all. A training micro-step
//! drops out the adapters' input (`adapters.rs`), with the same masks in
//! the forward pass and in the recompute.
//! Here too: what the rest of the trainer asks the engine (where it runs,
//! its model, counters and sizes for the metrics, and the collectives of
//! its world: evaluation sums, checkpoint agreement, barriers).

use super::adapter_passes::AdapterPasses;
use super::flight::Collectives;
use super::frozen::FrozenStore;
use super::graph::{Graph, Saved};
use super::sharded::ShardedState;
use super::units::Units;
use crate::batch::{Batch, Objective};
use crate::comm::{Comm, ReduceOp};
use crate::model::{forward_unit, Ctx, LlamaConfig, ParamSource};
use anyhow::Result;
use runconfig::OptimizerConfig;
use tch::{Device, Kind, Tensor};

/// A rank's part of the model and the means to train it. Its fields are
/// private to `zero`: the rest of the trainer asks its methods (here, in
/// `head.rs`, `step.rs` and `state.rs`).
pub struct Engine {
    // The three parts are `pub(super)`, and used only by their methods,
    // because the engine's methods that need two of them at once live
    // beside their subject: `head.rs` gathers the head (units, collectives,
    // state), `step.rs` reduces the state's step terms over the
    // communicator, `state.rs` lays out another world's ranges (units)
    // over the state and gathers weights; `testing.rs` runs passes.
    /// The model's units, and the dtype and device they compute in.
    pub(super) units: Units,
    /// This rank's shards, their arenas and the optimizer's progress.
    pub(super) state: ShardedState,
    /// This rank's shards of the frozen base (a LoRA run; else empty).
    pub(super) frozen: FrozenStore,
    /// The communicator, its byte count and the collectives in flight.
    pub(super) collectives: Collectives,
    /// Units before the head, from the embedding on, that the backward pass
    /// recomputes; the others keep their forward graph.
    recomputed: usize,
    /// How the passes apply a LoRA run's adapters (`adapters.rs`).
    pub(super) adapters: AdapterPasses,
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
        let mut comm = comm;
        let units = Units::new(cfg, dtype, device);
        let world = (comm.rank(), comm.world_size());
        let state = ShardedState::new(&units, world, source, opt)?;
        let frozen = FrozenStore::new(&units, comm.as_mut(), source)?;
        Ok(Engine {
            units,
            state,
            frozen,
            collectives: Collectives::new(comm, dtype),
            recomputed: usize::MAX,
            adapters: AdapterPasses::new(),
        })
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
        self.recomputed.min(self.units.count() - 1)
    }

    /// This rank's index in its world.
    pub fn rank(&self) -> usize {
        self.collectives.rank()
    }

    /// Number of ranks.
    pub fn world_size(&self) -> usize {
        self.collectives.world_size()
    }

    /// Where this rank computes.
    pub fn device(&self) -> Device {
        self.units.device()
    }

    /// The model's architecture.
    pub fn model_config(&self) -> &LlamaConfig {
        self.units.cfg()
    }

    /// Optimizer steps taken so far (a resumed run starts at its checkpoint's).
    pub fn steps_done(&self) -> u64 {
        self.state.steps_done()
    }

    /// Bytes moved by the engine's collectives so far (gathered outputs and
    /// reduce-scatter inputs).
    pub fn comm_bytes(&self) -> u64 {
        self.collectives.bytes()
    }

    /// How long compute waited on communication since the last call (see
    /// [`crate::comm::Comm::take_wait`]).
    pub fn take_comm_wait(&mut self) -> std::time::Duration {
        self.collectives.comm().take_wait()
    }

    /// Parameters of the whole model.
    pub fn parameter_count(&self) -> i64 {
        self.units.parameter_count()
    }

    /// Model-state bytes this rank holds (with a frozen base's shards).
    pub fn state_bytes(&self) -> u64 {
        self.state.state_bytes() + self.frozen.state_bytes()
    }

    /// Bytes of this rank's shards of the frozen base (0 without LoRA).
    pub fn frozen_state_bytes(&self) -> u64 {
        self.frozen.state_bytes()
    }

    /// Optimizer-state bytes per element of this rank's shards.
    pub fn optimizer_bytes_per_param(&self) -> f64 {
        self.state.optimizer_bytes_per_param()
    }

    /// Sums `tensor` over every rank, in place (every rank calls it).
    pub fn all_reduce_sum(&mut self, tensor: &mut Tensor) -> Result<()> {
        self.collectives.comm().all_reduce(tensor, ReduceOp::Sum)
    }

    /// The 1-D concatenation, in rank order, of every rank's `input`.
    pub fn all_gather(&mut self, input: &Tensor) -> Result<Tensor> {
        self.collectives.comm().all_gather(input)
    }

    /// Returns once every rank has called it.
    pub fn barrier(&mut self) -> Result<()> {
        self.collectives.comm().barrier()
    }

    /// Forward and backward of one micro-batch: the gradients of the loss
    /// `objective` computes from the tokens' log-likelihoods accumulate in
    /// the shards; returns the objective's values for reporting (f64 on the
    /// device, not waited for).
    pub fn micro_step(&mut self, batch: &Batch, objective: &dyn Objective) -> Result<Tensor> {
        let n = self.units.count();
        // The forward and the backward's recompute share one context: the
        // same dropout masks.
        let ctx = self.train_ctx(batch)?;
        let mut plan = self.units.forward_plan(n);
        plan.extend(self.units.backward_plan(self.recomputed_units()));
        self.collectives.plan(plan);
        let mut saved = Vec::with_capacity(n);
        let mut x = batch.input_ids.shallow_clone();
        for u in 0..n - 1 {
            // A unit without a backward pass (a frozen embedding) runs as
            // if recomputed, and its backward is skipped.
            let no_graph = u < self.recomputed || !self.units.needs_backward(u);
            let (keep, out) = match no_graph {
                true => {
                    let params = self.gather_params(u)?.0;
                    let (cfg, spec) = (self.units.cfg(), self.units.spec(u));
                    let out = tch::no_grad(|| forward_unit(cfg, spec, &params, None, &x, &ctx))?;
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
            let saved = saved.pop().expect("one saved entry per unit");
            if !self.units.needs_backward(u) {
                continue;
            }
            let graph = match saved {
                Saved::Input(input) => self.forward_graph(u, &input, &ctx)?,
                Saved::Graph(graph) => graph,
            };
            if let Some(g) = self.backward_graph(u, graph, &grad_out)? {
                grad_out = g;
            }
        }
        self.collectives.land(self.state.shards_mut())?;
        Ok(values)
    }

    /// The output of the first `units` units on `batch`, without autograd,
    /// along gathers already planned.
    pub(super) fn run_units(&mut self, batch: &Batch, units: usize) -> Result<Tensor> {
        let ctx = self.pass_ctx(batch)?;
        let mut x = batch.input_ids.shallow_clone();
        for u in 0..units {
            let (params, embed) = self.gather_params(u)?;
            let (cfg, spec) = (self.units.cfg(), self.units.spec(u));
            x = tch::no_grad(|| forward_unit(cfg, spec, &params, embed.as_ref(), &x, &ctx))?;
        }
        Ok(x)
    }

    /// Gathers unit `u` and runs it on `input` with autograd.
    fn forward_graph(&mut self, u: usize, input: &Tensor, ctx: &Ctx) -> Result<Graph> {
        let params = self.gather_unit_params(u)?;
        let (cfg, spec, mask) = (self.units.cfg(), self.units.spec(u), self.units.mask(u));
        Graph::run(cfg, spec, (u, mask), params, input, ctx)
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

    /// Adds the gradients of unit `u`'s trained parameters, in order, to
    /// this rank's accumulator ([`Collectives::reduce_grads`]); nothing
    /// when it has none.
    pub(super) fn reduce_grads(&mut self, u: usize, grads: &[Tensor]) -> Result<()> {
        if grads.is_empty() {
            return Ok(());
        }
        self.collectives
            .reduce_grads(self.state.shards_mut(), u, grads)
    }
}
