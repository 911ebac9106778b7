//! ZeRO-3: parameters, gradients and optimizer state sharded over ranks.

pub mod engine;
pub mod layout;
pub mod shard;

pub use engine::{Engine, StepStats};
