//! Where exported weights come from, one unit at a time: the engine of a
//! live run (each unit gathered from every rank), or the rank files of a
//! checkpoint (`ckpt::offline`), read without building an engine.

use crate::zero::Engine;
use anyhow::Result;
use tch::Tensor;

/// A model's fp32 weights, unit by unit, on one or more ranks.
pub trait UnitWeights {
    /// This process's rank; rank 0 writes the export.
    fn rank(&self) -> usize;
    /// Every parameter (name, shape), in unit order.
    fn parameters(&self) -> Vec<(String, Vec<i64>)>;
    /// Number of units.
    fn units(&self) -> usize;
    /// Unit `u`'s fp32 weights as named full tensors (every rank calls it).
    fn gather_unit(&mut self, u: usize) -> Result<Vec<(String, Tensor)>>;
    /// The trained parameters (name, shape), in unit order: in a LoRA run
    /// the adapters and `modules_to_save`, else every parameter.
    fn trained_parameters(&self) -> Vec<(String, Vec<i64>)> {
        self.parameters()
    }
    /// Unit `u`'s trained parameters, as [`Self::gather_unit`].
    fn gather_trained(&mut self, u: usize) -> Result<Vec<(String, Tensor)>> {
        self.gather_unit(u)
    }
    /// Returns once every rank has called it.
    fn barrier(&mut self) -> Result<()>;
}

impl UnitWeights for Engine {
    fn rank(&self) -> usize {
        Engine::rank(self)
    }

    fn parameters(&self) -> Vec<(String, Vec<i64>)> {
        Engine::parameters(self)
    }

    fn units(&self) -> usize {
        Engine::units(self)
    }

    fn gather_unit(&mut self, u: usize) -> Result<Vec<(String, Tensor)>> {
        Engine::gather_unit(self, u)
    }

    fn trained_parameters(&self) -> Vec<(String, Vec<i64>)> {
        Engine::trained_parameters(self)
    }

    fn gather_trained(&mut self, u: usize) -> Result<Vec<(String, Tensor)>> {
        Engine::gather_trained(self, u)
    }

    fn barrier(&mut self) -> Result<()> {
        Engine::barrier(self)
    }
}
