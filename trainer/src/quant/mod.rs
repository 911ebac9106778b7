//! Quantised storage of frozen weights.
//!
//! [`nf4`] holds a tensor as 4-bit NormalFloat codes with per-block scales,
//! byte for byte as bitsandbytes' `quantize_4bit(quant_type="nf4")` lays it
//! out; [`nested`] is its optional double quantisation of those scales.

pub mod nested;
pub mod nf4;

pub use nf4::{dequantize, quantize, Absmax, Nf4};
