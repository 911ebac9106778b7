//! ZeRO-3: parameters, gradients and optimizer state sharded over ranks.
//! [`Engine`] is the only way in: its fields are private, and checkpoints,
//! exports, evaluation and the training loop use its methods.
//!
//! The engine is three parts with their own methods: the model's units
//! (`units.rs`), this rank's sharded state with its arenas and optimizer
//! progress (`sharded.rs`, over `arena.rs`) and the collectives in flight
//! (`flight.rs`); a LoRA run adds the frozen base's shards (`frozen.rs`,
//! with an NF4 base's in `quantised.rs`) and how a pass applies the
//! adapters (`adapters.rs`: dropout in training, off on request), and
//! `gather.rs` joins a unit's
//! gathered parts.
//! A micro-step (`engine.rs`) gathers each unit through the
//! collectives, runs it (`graph.rs` with autograd, `head.rs` for the head
//! and the objective's loss) and reduces its gradients; the optimizer step
//! (`step.rs`) reduces its terms and has the sharded state update the
//! arenas. `engine.rs` also answers what the rest of the trainer asks
//! (rank, sizes, counters, the world's collectives), `state.rs` what
//! checkpoints and exports need; `testing.rs` holds what only tests call.

mod adapter_passes;
mod adapters;
mod arena;
pub mod engine;
mod flight;
mod frozen;
mod gather;
mod graph;
mod head;
pub mod layout;
mod placement;
mod quantised;
mod shard;
mod sharded;
mod state;
mod step;
pub mod testing;
mod units;

pub use engine::Engine;
pub use sharded::{ReadStored, StepStats, StepTerms, UnitState};
