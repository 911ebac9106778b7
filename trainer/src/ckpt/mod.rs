//! Sharded checkpoints that any world size can resume from.
//!
//! ```text
//! <output_dir>/checkpoints/step-000500/  rank-00000.safetensors ... meta.json config.yaml
//!                                        model_config.json COMPLETE
//! <output_dir>/checkpoints/latest        the name of the newest complete one
//! ```

pub mod files;
mod load;
mod meta;
mod offline;
mod save;
mod stored;

pub use load::{candidates, resume, stored_config, Resumed};
pub use offline::export_checkpoint;
pub use save::{last_good, rank_file, save, RunState, MODEL_CONFIG};
