//! One rank of a Ferrospeed run: communication backends, the Llama model,
//! the ZeRO-3 engine and the training loop.

pub mod comm;
pub mod cuda;
pub mod run;
pub mod optim;
pub mod schedule;
pub mod zero;
pub mod data;
pub mod metrics;
pub mod train;
pub mod export;
