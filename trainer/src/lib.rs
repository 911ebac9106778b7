//! One rank of a Ferrospeed run: communication backends, the Llama model,
//! the ZeRO-3 engine and the training loop.

pub mod ckpt;
pub mod comm;
pub mod cuda;
pub mod data;
pub mod device;
pub mod export;
pub mod metrics;
pub mod model;
pub mod objective;
pub mod optim;
pub mod run;
pub mod schedule;
pub mod stop;
pub mod train;
pub mod zero;
