//! ZeRO-3: parameters, gradients and optimizer state sharded over ranks.
//! [`Engine`] is the only way in: its fields are private, and checkpoints,
//! exports, evaluation and the training loop use its methods.

mod arena;
pub mod engine;
mod flight;
mod graph;
mod head;
mod info;
pub mod layout;
mod placement;
mod shard;
mod state;
mod step;
#[cfg(test)]
pub(crate) mod testing;

pub use engine::Engine;
pub use state::{ReadStored, UnitState};
pub use step::StepStats;
