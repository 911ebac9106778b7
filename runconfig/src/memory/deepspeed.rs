//! DeepSpeed's ZeRO-3 estimate for the same model and world size, printed
//! beside each plan so that a DeepSpeed user can compare at a glance: the
//! formula of `estimate_zero3_model_states_mem_needs`
//! (deepspeed.runtime.zero.stage3) with its defaults (`zero_init`, an
//! `additional_buffer_factor` of 1.5, one node). Model states only: no
//! activations, no logits, no gathered unit beyond its largest module.

use crate::model::{unit_params, ModelShape, UnitKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// DeepSpeed's estimate of one rank's device bytes and the node's host
/// bytes, and the offloads it assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeepSpeedEstimate {
    pub device_bytes: u64,
    pub host_bytes: u64,
    /// `offload_optimizer: cpu` (`optimizer.offload: cpu`).
    pub offload_optimizer: bool,
    /// `offload_param: cpu` (assumed only with `offload_optimizer`, as
    /// DeepSpeed's estimate does).
    pub offload_param: bool,
}

/// Parameters of the model's largest module (an embedding, a projection
/// with its bias, the head), as DeepSpeed's `model_to_params` counts them:
/// each module's own parameters.
pub fn largest_module_params(shape: &ModelShape) -> u64 {
    let shape = ModelShape {
        lora: None,
        ..*shape
    };
    // Every block has the shapes of the first.
    let blocks = (shape.layers > 0).then_some(UnitKind::Block(0));
    let kinds = [UnitKind::Embedding, UnitKind::Head]
        .into_iter()
        .chain(blocks);
    let mut modules: BTreeMap<String, u64> = BTreeMap::new();
    for (name, dims) in kinds.flat_map(|k| unit_params(&shape, k)) {
        let module = name.rsplit_once('.').map_or(name.as_str(), |(m, _)| m);
        *modules.entry(module.to_string()).or_default() += dims.iter().product::<u64>();
    }
    modules.into_values().max().unwrap_or(0)
}

/// DeepSpeed's estimate of a full fine-tune of `shape` at `world_size`.
pub fn estimate(
    shape: &ModelShape,
    world_size: u64,
    offload_optimizer: bool,
    offload_param: bool,
) -> DeepSpeedEstimate {
    let (total, largest) = (shape.num_params(), largest_module_params(shape));
    let largest_memory = 4 * largest;
    // additional_buffer_factor 1.5, in integers.
    let buffered = |bytes: u64| bytes * 3 / 2;
    let offload_param = offload_optimizer && offload_param;
    let (device_bytes, host_bytes) = match (offload_optimizer, offload_param) {
        (true, true) => (largest_memory, buffered(18 * total)),
        (true, false) => (
            largest_memory + 2 * total / world_size,
            buffered(16 * total),
        ),
        (false, _) => (
            largest_memory + 18 * total / world_size,
            buffered(4 * largest * world_size),
        ),
    };
    DeepSpeedEstimate {
        device_bytes,
        host_bytes,
        offload_optimizer,
        offload_param,
    }
}

#[cfg(test)]
mod tests;
