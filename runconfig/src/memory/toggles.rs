//! The toggles that would make a run that does not fit fit, each checked
//! with the planner.

use super::setup::Setup;
use super::{breakdown, kept_units, total, Place};
use crate::model::ModelShape;
use crate::schema::Config;

/// Device bytes of `shape` under `s`.
pub(super) fn device_bytes_of(shape: &ModelShape, s: &Setup) -> u64 {
    total(&breakdown(shape, s), Place::Device)
}

/// The single changes that fit in `device` bytes, each checked with the
/// planner: 8-bit state, offload (with 8-bit state when offload alone does
/// not fit), the largest smaller micro batch that keeps the
/// effective batch, the fewest devices that fit (up to 1024), and 8-bit
/// state with fewer devices than that when 8-bit state alone does not fit.
pub fn toggles(shape: &ModelShape, s: &Setup, config: &Config, device: u64) -> Vec<String> {
    advice(shape, s, config, device).0
}

/// [`toggles`], and those of them that change the number of devices.
pub(super) fn advice(
    shape: &ModelShape,
    s: &Setup,
    config: &Config,
    device: u64,
) -> (Vec<String>, Vec<Resize>) {
    let fits = |s: &Setup| device_bytes_of(shape, s) <= device;
    let mut out = Vec::new();
    out.extend(recompute_toggle(shape, s, &fits));
    out.extend(state_toggles(s, &fits));
    out.extend(micro_batch_toggle(s, config, &fits));
    let resizes = device_toggles(s, config.train.effective_batch_size, &fits);
    out.extend(resizes.iter().map(Resize::describe));
    (out, resizes)
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

/// The fewest devices that fit (up to 1024) among those the config
/// accepts (micro batch x devices divides the effective batch), and 8-bit
/// state with fewer devices than that when 8-bit state alone does not fit.
/// When fewer devices would fit with another effective batch, that too,
/// naming the effective batch to set. Each is planned with the settings of
/// `s`; `launch check` plans them again as the config resolves them at
/// their world size (its `by_world_size`).
fn device_toggles(
    s: &Setup,
    effective: Option<u64>,
    fits: &impl Fn(&Setup) -> bool,
) -> Vec<Resize> {
    let mut out = Vec::new();
    let divides = |w: u64| effective.is_none_or(|e| e.is_multiple_of(s.micro_batch * w));
    let first = |s: &Setup, legal: bool| {
        (s.world_size + 1..=1024).find(|&w| {
            (!legal || divides(w))
                && fits(&Setup {
                    world_size: w,
                    ..*s
                })
        })
    };
    let eight = Setup { bits: 8, ..*s };
    let (w32, w8) = (
        first(s, true),
        (s.bits == 32).then(|| first(&eight, true)).flatten(),
    );
    if let Some(w) = w32 {
        out.push(Resize::new(w, &[]));
    }
    match (w8, w32) {
        (Some(w8), Some(w)) if w8 >= w => {}
        (Some(w8), _) if !fits(&eight) => out.push(Resize::new(w8, &["optimizer.bits=8".into()])),
        _ => {}
    }
    let fewest = first(s, false).filter(|&w| w32.is_none_or(|legal| w < legal));
    if let (Some(w), Some(e)) = (fewest, effective) {
        let per_step = s.micro_batch * w;
        let e = e.div_ceil(per_step) * per_step;
        out.push(Resize::new(w, &[format!("train.effective_batch_size={e}")]));
    }
    out
}

/// A toggle that changes the number of devices: `launch N` with `--set`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resize {
    pub world_size: u64,
    pub sets: Vec<String>,
}

impl Resize {
    pub fn new(world_size: u64, sets: &[String]) -> Resize {
        Resize {
            world_size,
            sets: sets.to_vec(),
        }
    }

    /// As a toggle reads: "8 devices (launch 8)", or with its `--set`s
    /// "8 devices with optimizer.bits=8 (launch 8 --set optimizer.bits=8)".
    pub fn describe(&self) -> String {
        let w = self.world_size;
        match self.sets.is_empty() {
            true => format!("{w} devices (launch {w})"),
            false => format!(
                "{w} devices with {} (launch {w} --set {})",
                self.sets.join(" and "),
                self.sets.join(" --set ")
            ),
        }
    }
}
