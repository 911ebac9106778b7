//! Optimizers that update one rank's flat fp32 shard in place.
//!
//! Each unit shard owns a [`ShardOptimizer`]; its state is a list of flat
//! tensors aligned with the shard ([`StatePiece`]), which is what checkpoints
//! store and restore at any world size (shards start on multiples of 256, so
//! per-element and per-256-block state line up the same way everywhere).

mod adam8bit;
mod adamw;
mod decay;
pub mod quant;

pub use adam8bit::Adam8bit;
pub use adamw::{AdamW, AdamW32};
pub use decay::{is_decayed, DecayMask};

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

/// The optimizer a unit's shard gets: [`Adam8bit`] under `optimizer.bits: 8`
/// when the unit has at least `optimizer.min_8bit_size` parameters (a
/// property of the unit, so the same at every world size), else [`AdamW32`].
/// Weight decay applies to the elements of `decay` only.
pub fn for_shard(
    cfg: &OptimizerConfig,
    unit_numel: usize,
    shard_len: usize,
    device: Device,
    decay: DecayMask,
) -> Box<dyn ShardOptimizer> {
    let hyper = AdamW::from_config(cfg);
    if cfg.bits == 8 && unit_numel as u64 >= cfg.min_8bit_size {
        Box::new(Adam8bit::new(hyper, shard_len, device, decay))
    } else {
        Box::new(AdamW32::new(hyper, shard_len, device, decay))
    }
}
