//! One rank of a Ferrospeed run: communication backends, the Llama model,
//! the ZeRO-3 engine and the training loop.

pub mod batch;
pub mod ckpt;
pub mod comm;
pub mod console;
pub mod cuda;
pub mod data;
pub mod device;
pub mod dpo;
pub mod eval;
pub mod export;
pub mod finish;
pub mod libtorch;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod objective;
pub mod optim;
pub mod progress;
pub mod quant;
pub mod references;
pub mod run;
pub mod sanity;
pub mod schedule;
pub mod st;
pub mod stop;
pub mod tensorboard;
pub mod train;
pub mod zero;
