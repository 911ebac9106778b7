//! Optimizers that update one rank's flat fp32 shard in place.
//!
//! Each unit shard owns a [`ShardOptimizer`]; its state is a list of flat
//! tensors aligned with the shard ([`StatePiece`]), which is what checkpoints
//! store and restore at any world size (shards start on multiples of 256, so
//! per-element and per-256-block state line up the same way everywhere).

mod adamw;

pub use adamw::{AdamW, AdamW32};

use anyhow::Result;
use runconfig::OptimizerConfig;
use tch::{Device, Tensor};

/// One flat tensor of optimizer state: element `i` of the shard maps to
/// element `i / granularity` of `tensor` (1: per element; 256: per block).
pub struct StatePiece {
    pub name: &'static str,
    pub tensor: Tensor,
    pub granularity: usize,
}

/// The optimizer of one shard.
pub trait ShardOptimizer: Send {
    /// One update of `param` with gradient `grad` at learning rate `lr` and
    /// 1-based step `t`.
    fn step(&mut self, param: &mut Tensor, grad: &Tensor, lr: f64, t: u64);
    /// The state, as shallow views (for checkpoints).
    fn state(&self) -> Vec<StatePiece>;
    /// Replaces the state piece `name` with `values` (same shape and kind).
    fn load(&mut self, name: &str, values: &Tensor) -> Result<()>;
    /// Bytes of optimizer state held.
    fn state_bytes(&self) -> u64;
}

/// The optimizer a unit's shard gets: AdamW with 32-bit state (8-bit state
/// comes with `optimizer.bits: 8`).
pub fn for_shard(
    cfg: &OptimizerConfig,
    unit_numel: usize,
    shard_len: usize,
    device: Device,
) -> Box<dyn ShardOptimizer> {
    let _ = unit_numel;
    let hyper = AdamW::from_config(cfg);
    Box::new(AdamW32::new(hyper, shard_len, device))
}
