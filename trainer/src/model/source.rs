//! Where initial parameter values come from (a checkpoint or a random
//! initialisation), read by element range so that a ZeRO-3 rank fills only
//! its own shard of each unit's flat buffer.

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::units::{units, ParamSpec, UnitSpec};
use runconfig::model::LlamaConfig;

/// A provider of parameter values by HF name.
pub trait ParamSource {
    /// Elements `[start, start + len)` of the parameter's row-major flattened
    /// data, as a 1-D f32 CPU tensor. Errors name the parameter when it is
    /// missing or its stored shape differs from `param.shape`.
    fn read_range(&self, param: &ParamSpec, start: i64, len: i64) -> Result<Tensor>;

    /// The whole parameter, shaped, f32 on the CPU.
    fn read(&self, param: &ParamSpec) -> Result<Tensor> {
        Ok(self
            .read_range(param, 0, param.numel())?
            .view(param.shape.as_slice()))
    }
}

/// Elements `[start, start + len)` of `unit`'s flat buffer (its parameters
/// concatenated in order), f32 on the CPU; elements past the unit's `numel()`
/// (the padding of the last shard) are zeros. This is what a rank owning that
/// slice of the unit loads.
pub fn read_unit_range(
    source: &dyn ParamSource,
    unit: &UnitSpec,
    start: i64,
    len: i64,
) -> Result<Tensor> {
    let end = start + len;
    let mut pieces = Vec::new();
    for (p, (at, n)) in unit.params.iter().zip(unit.offsets()) {
        let (lo, hi) = (start.max(at), end.min(at + n));
        if lo < hi {
            pieces.push(source.read_range(p, lo - at, hi - lo)?);
        }
    }
    let covered: i64 = pieces.iter().map(|t| t.numel() as i64).sum();
    if covered < len {
        pieces.push(Tensor::zeros([len - covered], (Kind::Float, Device::Cpu)));
    }
    Ok(Tensor::cat(&pieces, 0))
}

/// Checks that every parameter of the model is present with the right shape,
/// reading no data; the first problem is the error.
pub fn validate(cfg: &LlamaConfig, source: &dyn ParamSource) -> Result<()> {
    for unit in units(cfg) {
        for p in &unit.params {
            let _ = source.read_range(p, 0, 0)?;
        }
    }
    Ok(())
}
