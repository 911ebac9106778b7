//! Optimizers that update one rank's flat fp32 shard in place.

mod adamw;

pub use adamw::{AdamW, AdamWState};
