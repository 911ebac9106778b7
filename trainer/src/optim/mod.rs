//! Optimizers that update a flat fp32 vector in place: one unit's shard, or
//! the shards of every unit of a rank that uses the same optimizer kind,
//! laid end to end.
//!
//! The state is a list of flat tensors aligned with the vector
//! ([`StatePiece`]), which is what checkpoints store and restore at any
//! world size (shards start on multiples of 256 and are whole multiples of
//! 256 long, so per-element and per-256-block state line up the same way
//! everywhere, and a piece of a shard's state is a view of the vector's).

mod adam8bit;
mod adamw;
mod decay;
mod fused;
pub mod quant;

pub use adam8bit::Adam8bit;
pub use adamw::{AdamW, AdamW32};
pub use decay::{is_decayed, DecayMask};

use runconfig::OptimizerConfig;
use tch::{Device, Tensor};

/// One flat tensor of optimizer state: element `i` of the shard maps to
/// element `i / granularity` of `tensor` (1: per element; 256: per block).
pub struct StatePiece {
    pub name: &'static str,
    pub tensor: Tensor,
    pub granularity: usize,
}

/// The optimizer of one flat vector.
pub trait ShardOptimizer: Send {
    /// One update of `param` with gradient `grad` at learning rate `lr` and
    /// 1-based step `t`.
    fn step(&mut self, param: &mut Tensor, grad: &Tensor, lr: f64, t: u64) {
        self.step_at(0, param, grad, lr, t)
    }
    /// [`ShardOptimizer::step`] of elements `[start, start + param.numel())`
    /// of the vector (`start` and the length multiples of 256): the same
    /// numbers as a step of the whole, with temporaries of this part only.
    fn step_at(&mut self, start: usize, param: &mut Tensor, grad: &Tensor, lr: f64, t: u64);
    /// The state, as shallow views (for checkpoints).
    fn state(&self) -> Vec<StatePiece>;
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
    optimizer(cfg, uses_8bit(cfg, unit_numel), shard_len, device, decay)
}

/// Whether a unit of `unit_numel` parameters gets 8-bit state (see [`for_shard`]).
pub fn uses_8bit(cfg: &OptimizerConfig, unit_numel: usize) -> bool {
    runconfig::model::shard::eight_bit(cfg.bits, cfg.min_8bit_size, unit_numel as u64)
}

/// [`Adam8bit`] when `eight_bit`, else [`AdamW32`], for a vector of `len`
/// elements whose decayed elements are `decay`.
pub fn optimizer(
    cfg: &OptimizerConfig,
    eight_bit: bool,
    len: usize,
    device: Device,
    decay: DecayMask,
) -> Box<dyn ShardOptimizer> {
    let hyper = AdamW::from_config(cfg);
    match eight_bit {
        true => Box::new(Adam8bit::new(hyper, len, device, decay)),
        false => Box::new(AdamW32::new(hyper, len, device, decay)),
    }
}

#[cfg(test)]
mod tests;
