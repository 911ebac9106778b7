//! The memory plan of a run at one world size, its verdict against a
//! device size, and the toggles that would make a run that does not fit fit.

use super::parts::block_elements;
use super::setup::Setup;
use super::training::Training;
use super::{breakdown, kept_units, total, Item, Place};
use crate::model::ModelShape;
use crate::schema::{ActivationCheckpointing, Config};
use serde::Serialize;
use std::fmt::Write;

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
    /// Units before the head (embedding, then blocks) the backward pass
    /// recomputes, counted from the embedding; the others keep their graph.
    pub recomputed_units: u64,
    /// Units before the head: the embedding and every decoder block.
    pub units_before_head: u64,
    /// What the run trains: every parameter, or LoRA adapters.
    pub training: Training,
    pub breakdown: Vec<Item>,
}

/// Device bytes of `shape` under `s`.
fn device_bytes(shape: &ModelShape, s: &Setup) -> u64 {
    total(&breakdown(shape, s), Place::Device)
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
    let fits = |recomputed| device_bytes(shape, &Setup { recomputed, ..*s }) <= room;
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
    let toggles = match device {
        Some(d) if device_bytes > d => toggles(shape, &reach, config, d),
        _ => Vec::new(),
    };
    let kept = kept_units(shape.layers + 1, s);
    MemoryPlan {
        world_size: s.world_size as u32,
        device_bytes,
        host_bytes: total(&items, Place::Host),
        fits: device.map(|d| device_bytes <= d),
        toggles,
        recomputed_units: kept.start,
        units_before_head: kept.end,
        training: Training::of(shape, s),
        breakdown: items,
    }
}

/// The single changes that fit in `device` bytes, each checked with the
/// planner: 8-bit state, offload (with 8-bit state when offload alone does
/// not fit), the largest smaller micro batch that keeps the
/// effective batch, the fewest devices that fit (up to 1024), and 8-bit
/// state with fewer devices than that when 8-bit state alone does not fit.
pub fn toggles(shape: &ModelShape, s: &Setup, config: &Config, device: u64) -> Vec<String> {
    let fits = |s: &Setup| device_bytes(shape, s) <= device;
    let mut out = Vec::new();
    out.extend(recompute_toggle(shape, s, &fits));
    out.extend(state_toggles(s, &fits));
    out.extend(micro_batch_toggle(s, config, &fits));
    out.extend(device_toggles(s, &fits));
    out
}

/// `auto` activation checkpointing, when it would recompute more units
/// than `s` does and that fits.
fn recompute_toggle(
    shape: &ModelShape,
    s: &Setup,
    fits: &impl Fn(&Setup) -> bool,
) -> Option<String> {
    let recompute = Setup {
        recomputed: u64::MAX,
        ..*s
    };
    let before_head = shape.layers + 1;
    let more = kept_units(before_head, s).start < kept_units(before_head, &recompute).start;
    (more && fits(&recompute)).then(|| {
        "train.activation_checkpointing=auto (recompute in the backward pass only the blocks that do not fit)"
            .to_string()
    })
}

/// 8-bit optimizer state, and offload (with 8-bit state when offload
/// alone does not fit).
fn state_toggles(s: &Setup, fits: &impl Fn(&Setup) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    if s.bits == 32 && fits(&Setup { bits: 8, ..*s }) {
        out.push("optimizer.bits=8 (8-bit optimizer state)".to_string());
    }
    let offload = Setup {
        offload: true,
        ..*s
    };
    const HOST: &str = "master weights and optimizer state in host memory";
    if !s.offload && fits(&offload) {
        out.push(format!("optimizer.offload=cpu ({HOST})"));
    } else if !s.offload && s.bits == 32 && fits(&Setup { bits: 8, ..offload }) {
        out.push(format!(
            "optimizer.bits=8 with optimizer.offload=cpu ({HOST})"
        ));
    }
    out
}

/// The largest smaller micro batch that keeps the effective batch and fits.
fn micro_batch_toggle(
    s: &Setup,
    config: &Config,
    fits: &impl Fn(&Setup) -> bool,
) -> Option<String> {
    let effective = config
        .train
        .effective_batch_size
        .unwrap_or(s.micro_batch * s.world_size);
    let m = (1..s.micro_batch).rev().find(|&m| {
        effective.is_multiple_of(m * s.world_size)
            && fits(&Setup {
                micro_batch: m,
                ..*s
            })
    })?;
    Some(format!(
        "train.micro_batch_size={m} (gradient accumulation {}, same effective batch {effective})",
        effective / (m * s.world_size)
    ))
}

/// The fewest devices that fit (up to 1024), and 8-bit state with fewer
/// devices than that when 8-bit state alone does not fit.
fn device_toggles(s: &Setup, fits: &impl Fn(&Setup) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let eight = Setup { bits: 8, ..*s };
    let more = |s: &Setup| {
        (s.world_size + 1..=1024).find(|&w| {
            fits(&Setup {
                world_size: w,
                ..*s
            })
        })
    };
    let (w32, w8) = (more(s), (s.bits == 32).then(|| more(&eight)).flatten());
    if let Some(w) = w32 {
        out.push(format!("{w} devices (launch {w})"));
    }
    match (w8, w32) {
        (Some(w8), Some(w)) if w8 >= w => {}
        (Some(w8), _) if !fits(&eight) => {
            out.push(format!("optimizer.bits=8 with {w8} devices (launch {w8})"))
        }
        _ => {}
    }
    out
}

/// Bytes in decimal units (GB, MB, kB), as `--device-memory 80GB` counts them.
pub fn gb(bytes: u64) -> String {
    let b = bytes as f64;
    match [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
        .iter()
        .find(|(u, _)| b >= *u)
    {
        Some((u, name)) => format!("{:.2} {name}", b / u),
        None => format!("{bytes} B"),
    }
}

/// The plan as text: a verdict line, then one line per item.
pub fn render(p: &MemoryPlan, device: Option<u64>) -> String {
    let mut s = format!(
        "memory at world size {}: {} per device, {} host",
        p.world_size,
        gb(p.device_bytes),
        gb(p.host_bytes)
    );
    match (p.fits, device) {
        (Some(true), Some(d)) => write!(s, ": fits in {}", gb(d)).unwrap(),
        (Some(false), Some(d)) => {
            write!(s, ": does not fit in {}", gb(d)).unwrap();
            if p.toggles.is_empty() {
                s.push_str("; no single toggle makes it fit");
            } else {
                write!(s, "; would fit with: {}", p.toggles.join("; or ")).unwrap();
            }
        }
        _ => {}
    }
    write!(s, "\n  {}", p.training.describe()).unwrap();
    write!(
        s,
        "\n  activation checkpointing: {} of {} units recomputed in the backward pass",
        p.recomputed_units, p.units_before_head
    )
    .unwrap();
    for i in &p.breakdown {
        let place = if i.place == Place::Host {
            " (host)"
        } else {
            ""
        };
        write!(s, "\n  {:<22} {:>12}{place}", i.item, gb(i.bytes)).unwrap();
    }
    s
}

#[cfg(test)]
mod tests;
