//! One rank of a Ferrospeed run: communication backends, the Llama model,
//! the ZeRO-3 engine and the training loop.

pub mod comm;
pub mod cuda;
pub mod run;
