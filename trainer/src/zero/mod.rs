//! ZeRO-3: parameters, gradients and optimizer state sharded over ranks.

pub mod engine;
pub mod layout;
pub mod shard;
mod step;

pub use engine::Engine;
pub use step::StepStats;
