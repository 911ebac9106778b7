//! ZeRO-3: parameters, gradients and optimizer state sharded over ranks.
//! [`Engine`] is the only way in: its fields are private, and checkpoints,
//! exports, evaluation and the training loop use its methods.
//!
//! A micro-step (`engine.rs`) gathers each unit through the collectives in
//! flight (`flight.rs`), runs it (`graph.rs` with autograd, `head.rs` for
//! the head and the objective's loss) and reduces its gradients; the
//! optimizer step (`step.rs`) updates the arenas (`arena.rs`). `info.rs`
//! and `state.rs` answer the rest of the trainer; `testing.rs` holds what
//! only tests call.

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
pub mod testing;

pub use engine::Engine;
pub use state::{ReadStored, UnitState};
pub use step::{StepStats, StepTerms};
