//! Training data: samples, their global order, and the micro-batches each
//! rank takes from a step.

pub mod batches;
pub mod order;
pub mod tokens;
