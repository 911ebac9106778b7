//! What the rest of the trainer may ask the engine: where it runs, its
//! model, its counters and sizes for the metrics, and the collectives of
//! its world (evaluation sums, checkpoint agreement, barriers).

use super::engine::Engine;
use crate::comm::ReduceOp;
use crate::model::LlamaConfig;
use anyhow::Result;
use tch::{Device, Tensor};

impl Engine {
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

    /// Model-state bytes this rank holds.
    pub fn state_bytes(&self) -> u64 {
        self.state.state_bytes()
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
}
