//! The memory plan of a run at one world size, its verdict against a
//! device size, and (from `toggles.rs`) the toggles that would make a run
//! that does not fit fit.

use super::deepspeed::{estimate, DeepSpeedEstimate};
use super::parts::block_elements;
use super::setup::Setup;
use super::toggles::{advice, device_bytes_of, Resize};
use super::training::Training;
use super::{breakdown, kept_units, total, Item, Place};
use crate::model::ModelShape;
use crate::schema::{ActivationCheckpointing, Config};
use serde::Serialize;

/// One rank's planned peak at one world size.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryPlan {
    pub world_size: u32,
    pub device_bytes: u64,
    pub host_bytes: u64,
    /// Whether `device_bytes` fits the device size given (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fits: Option<bool>,
    /// Changes that would make it fit, when it does not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub toggles: Vec<String>,
    /// The toggles that change the number of devices (also in `toggles`).
    #[serde(skip)]
    pub resizes: Vec<Resize>,
    /// Units before the head (embedding, then blocks) the backward pass
    /// recomputes, counted from the embedding; the others keep their graph.
    pub recomputed_units: u64,
    /// Units before the head: the embedding and every decoder block.
    pub units_before_head: u64,
    /// What the run trains: every parameter, or LoRA adapters.
    pub training: Training,
    /// Device bytes with every unit recomputed: the least this run can
    /// need (`device_bytes` is more when graphs are kept for speed).
    pub minimum_device_bytes: u64,
    pub breakdown: Vec<Item>,
    /// DeepSpeed's ZeRO-3 estimate of the same full fine-tune (model
    /// states only; none for LoRA, which it does not model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deepspeed: Option<DeepSpeedEstimate>,
}

/// Plans `config` at `world_size` with `micro_batch` sequences per device,
/// against `device` bytes when known. `train.activation_checkpointing: auto`
/// then recomputes the fewest units that fit in 90% of it (every unit when
/// none does or the device size is not known).
pub fn plan(
    config: &Config,
    world_size: u32,
    micro_batch: u64,
    device: Option<u64>,
) -> Result<MemoryPlan, String> {
    let shape = ModelShape::of(config)?;
    let mut setup = Setup::of(config, world_size, micro_batch);
    check_plan_size(&shape, &setup)?;
    if let (ActivationCheckpointing::Auto, Some(d)) =
        (config.train.activation_checkpointing, device)
    {
        setup.recomputed = fewest_recomputed(&shape, &setup, d);
    }
    Ok(plan_of(&shape, &setup, config, device))
}

/// The share of the device (percent) that `auto` fills with kept graphs:
/// the rest is headroom for the allocator and the plan's own error.
pub const AUTO_DEVICE_PERCENT: u64 = 90;

/// The fewest units (from the embedding on) to recompute for `s` to fit in
/// [`AUTO_DEVICE_PERCENT`] of `device` bytes; all of them when none does.
/// Recomputing one more unit never needs more memory, so a binary search
/// finds it: a few plans whatever the number of layers.
pub fn fewest_recomputed(shape: &ModelShape, s: &Setup, device: u64) -> u64 {
    let before_head = shape.layers + 1;
    let room = (device as u128 * AUTO_DEVICE_PERCENT as u128 / 100) as u64;
    let fits = |recomputed| device_bytes_of(shape, &Setup { recomputed, ..*s }) <= room;
    let (mut lo, mut hi) = (0, before_head);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match fits(mid) {
            true => hi = mid,
            false => lo = mid + 1,
        }
    }
    lo
}

/// Refuses a run whose memory plan could overflow u64: the bytes of its
/// weights and of its activations are bounded (in u128) well below 2^62,
/// so that every figure of [`breakdown`] is exact.
pub fn check_plan_size(shape: &ModelShape, s: &Setup) -> Result<(), String> {
    const LIMIT: u128 = 1 << 62;
    let u = shape.unit_params();
    let units = u.layers as u128 + 2;
    let tokens = s.micro_batch as u128 * s.rows_per_sequence as u128 * s.seq_len as u128;
    let block = block_elements(shape) as u128 + shape.hidden as u128;
    let weights = 64 * (shape.num_params() as u128 + 256 * units);
    let activations = 16 * tokens * units * block + 16 * 1024 * shape.vocab as u128;
    if weights + activations > LIMIT {
        return Err(format!(
            "the memory plan of {} layers of `hidden_size` {} at `data.max_seq_length` {} and `train.micro_batch_size` {} exceeds 2^62 bytes; lower them",
            shape.layers, shape.hidden, s.seq_len, s.micro_batch
        ));
    }
    Ok(())
}

/// The plan of `shape` under `s` exactly (its `recomputed` as given),
/// against `device` bytes when known.
pub fn plan_of(shape: &ModelShape, s: &Setup, config: &Config, device: Option<u64>) -> MemoryPlan {
    let items = breakdown(shape, s);
    let device_bytes = total(&items, Place::Device);
    // Under `auto`, each toggle is judged with what auto can reach.
    let reach = match config.train.activation_checkpointing {
        ActivationCheckpointing::Auto => Setup {
            recomputed: u64::MAX,
            ..*s
        },
        _ => *s,
    };
    let (toggles, resizes) = match device {
        Some(d) if device_bytes > d => advice(shape, &reach, config, d),
        _ => Default::default(),
    };
    let kept = kept_units(shape.layers + 1, s);
    MemoryPlan {
        world_size: s.world_size as u32,
        device_bytes,
        host_bytes: total(&items, Place::Host),
        fits: device.map(|d| device_bytes <= d),
        toggles,
        resizes,
        recomputed_units: kept.start,
        units_before_head: kept.end,
        training: Training::of(shape, s),
        minimum_device_bytes: device_bytes_of(
            shape,
            &Setup {
                recomputed: u64::MAX,
                ..*s
            },
        ),
        breakdown: items,
        deepspeed: shape
            .lora
            .is_none()
            .then(|| estimate(shape, s.world_size, s.offload, false)),
    }
}

/// Whether `config` at `world_size` with `micro_batch` sequences per device
/// fits in `device` bytes with what `train.activation_checkpointing` can
/// reach (`auto`: every unit recomputed).
pub fn can_fit(
    config: &Config,
    world_size: u32,
    micro_batch: u64,
    device: u64,
) -> Result<bool, String> {
    let shape = ModelShape::of(config)?;
    let s = Setup::of(config, world_size, micro_batch);
    check_plan_size(&shape, &s)?;
    Ok(device_bytes_of(&shape, &s) <= device)
}

#[cfg(test)]
mod tests;
