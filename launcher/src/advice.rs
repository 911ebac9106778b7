//! `launch check`'s advice, made honest: each number of devices the
//! planner suggests is planned again as the config resolves at that world
//! size (its `by_world_size`, the `--set`s the suggestion names, the batch
//! rules), and moved up to the fewest devices from there that the config
//! accepts and that fit, or dropped when none up to 1024 does.

use runconfig::memory::fit::{can_fit, MemoryPlan};
use runconfig::memory::toggles::Resize;
use runconfig::{Config, Resolved};

/// Checks `plan`'s device-count toggles with `fits(devices, sets)`: whether
/// the config loads at that many devices with those `--set`s and fits.
pub fn check_resizes(plan: &mut MemoryPlan, fits: impl Fn(u32, &[String]) -> bool) {
    let planned: Vec<String> = plan.resizes.iter().map(Resize::describe).collect();
    plan.toggles.retain(|t| !planned.contains(t));
    let mut honest: Vec<Resize> = Vec::new();
    for r in &plan.resizes {
        let fewest = (r.world_size..=1024).find(|&w| fits(w as u32, &r.sets));
        if let Some(r) = fewest.map(|w| Resize::new(w, &r.sets)) {
            if !honest.contains(&r) {
                honest.push(r);
            }
        }
    }
    plan.toggles.extend(honest.iter().map(Resize::describe));
    plan.resizes = honest;
}

/// Whether `loaded` (a config loaded at `w` devices, or why it was not)
/// fits in `device` bytes, once it adopts the Hub ids `resolved` resolved.
pub fn fits(
    loaded: anyhow::Result<Resolved>,
    resolved: Option<&Config>,
    w: u32,
    device: u64,
) -> bool {
    let Ok(mut r) = loaded else {
        return false;
    };
    if resolved.is_some_and(|c| crate::resolve::adopt(c, &mut r).is_err()) {
        return false;
    }
    can_fit(&r.config, w, r.plan.micro_batch_size, device).unwrap_or(false)
}
