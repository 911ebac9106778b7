//! The run's memory plan as the trainer sees it: the planner's numbers
//! (the same `launch check` prints at this world size) for the start
//! record, this process's resident memory before model state is allocated,
//! on a GPU the refusal to start a run whose plan exceeds the free device
//! memory, and on the CPU the host's memory `auto` plans against.

use crate::device::Gpu;
use crate::metrics::host_memory;
use anyhow::{bail, Result};
use runconfig::memory::fit::{plan, plan_of, MemoryPlan};
use runconfig::memory::render::gb;
use runconfig::memory::{ModelShape, Setup};
use runconfig::{Config, Plan};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

static BASELINE: OnceLock<u64> = OnceLock::new();

/// Sets glibc's allocator up for training: every thread allocates from one
/// heap (arena), and freed memory stays in it for the next step.
///
/// One heap: tensors the communication thread allocates are freed by the
/// compute thread and the other way round; with a heap per thread, each
/// heap would keep its own peak resident, above what the memory plan
/// counts. Kept memory: by default every allocation of 32 MiB or more (a
/// chunk of logits, its softmax, their gradients) is a fresh mapping whose
/// pages the kernel faults in and zeroes again at every micro-batch, and
/// free memory at the top of the heap goes back to the system as soon as it
/// passes twice the largest freed block; that cost about a tenth of a CPU
/// step (about 75,000 page faults per step of `scripts/bench-step`). The
/// peak stays what the step needs. Call it before any other thread starts.
pub fn tune_heap() {
    // SAFETY: mallopt only sets allocator parameters.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_BLOCK_MAX);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 2 * HEAP_BLOCK_MAX);
    }
}

/// The largest block [`tune_heap`] serves from the heap (larger ones are
/// mapped and unmapped each time, as glibc does by default).
const HEAP_BLOCK_MAX: libc::c_int = 256 << 20;

/// Records this process's resident bytes now (once): call it after libtorch
/// is initialised and before any model state is allocated.
pub fn mark_baseline() {
    BASELINE.get_or_init(|| host_memory().0);
}

/// The resident bytes recorded by [`mark_baseline`] (0 when not recorded).
pub fn baseline_rss() -> u64 {
    BASELINE.get().copied().unwrap_or(0)
}

/// The plan of this run at its world size, against `device` bytes when known.
pub fn planned(config: &Config, plan_: &Plan, device: Option<u64>) -> Result<MemoryPlan> {
    plan(config, plan_.world_size, plan_.micro_batch_size, device).map_err(anyhow::Error::msg)
}

/// The start record's memory fields: the plan with the engine's `recomputed`
/// units (see [`crate::zero::Engine::recomputed_units`]) and the baseline.
pub fn start_fields(config: &Config, plan_: &Plan, recomputed: u64) -> Result<Map<String, Value>> {
    let shape = ModelShape::of(config).map_err(anyhow::Error::msg)?;
    let setup = Setup {
        recomputed,
        ..Setup::of(config, plan_.world_size, plan_.micro_batch_size)
    };
    let p = plan_of(&shape, &setup, config, None);
    let mut m = Map::new();
    m.insert("planned_device_bytes".into(), json!(p.device_bytes));
    m.insert("planned_host_bytes".into(), json!(p.host_bytes));
    m.insert("recomputed_units".into(), json!(p.recomputed_units));
    m.insert("baseline_rss_bytes".into(), json!(baseline_rss()));
    Ok(m)
}

/// Fails, naming the toggles that would fit, when `p` (planned against the
/// free device memory) does not fit in `free` bytes.
pub fn check_fits(p: &MemoryPlan, free: u64, gpu: &str) -> Result<()> {
    if p.device_bytes <= free {
        return Ok(());
    }
    let ways = match p.toggles.is_empty() {
        true => "no single toggle makes it fit".to_string(),
        false => format!("it would fit with: {}", p.toggles.join("; or ")),
    };
    bail!(
        "this run needs {} per device at world size {} but {gpu} has {} free; {ways} (see `launch check --device-memory`)",
        gb(p.device_bytes),
        p.world_size,
        gb(free)
    )
}

/// On the CPU, where the device is the host: the bytes one of the host's
/// `local_ranks` ranks may plan against, its share of the memory available
/// now (`MemAvailable`, and within a cgroup with a limit, the limit less
/// what the cgroup uses); None when neither can be read.
pub fn host_budget(local_ranks: usize) -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let available = read("/proc/meminfo").and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    });
    let number = |path: &str| read(path).and_then(|t| t.trim().parse::<u64>().ok());
    let cgroup = number("/sys/fs/cgroup/memory.max")
        .map(|max| max.saturating_sub(number("/sys/fs/cgroup/memory.current").unwrap_or(0)));
    let least = [available, cgroup].into_iter().flatten().min()?;
    Some(least / local_ranks.max(1) as u64)
}

/// The plan of this run against the free memory of its GPU (refused when
/// it does not fit) or, on the CPU, against this rank's share of the
/// host's, one of `local_ranks` ([`host_budget`]).
pub fn planned_here(
    config: &Config,
    plan_: &Plan,
    gpu: Option<&Gpu>,
    local_ranks: usize,
) -> Result<MemoryPlan> {
    let Some(g) = gpu else {
        return planned(config, plan_, host_budget(local_ranks));
    };
    let free = g.free_bytes();
    let memory = planned(config, plan_, free)?;
    if let Some(free) = free {
        check_fits(&memory, free, &format!("GPU {}", g.index))?;
    }
    Ok(memory)
}

/// On a GPU with `free` bytes free: refuses the run before any weight is
/// loaded when its plan does not fit.
pub fn refuse_if_too_big(config: &Config, plan_: &Plan, free: u64, gpu: &str) -> Result<()> {
    check_fits(&planned(config, plan_, Some(free))?, free, gpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--set model.config=` the model file `name` of configs/models.
    fn model(name: &str) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        format!(
            "model.config={}",
            root.join("configs/models").join(name).display()
        )
    }

    fn sanity(sets: &[&str]) -> (Config, Plan) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let path = root.join("configs/sanity.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let r = runconfig::from_str(&text, &path.display().to_string(), 1, &sets).unwrap();
        (r.config, r.plan)
    }

    #[test]
    fn a_plan_over_the_free_memory_is_refused_naming_the_toggles() {
        let set = model("llama31-8b-shape.json");
        let (config, plan_) = sanity(&[&set, "optimizer.bits=8"]);
        let free = 80_000_000_000;
        let err = refuse_if_too_big(&config, &plan_, free, "GPU 0").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("80.00 GB free"), "{msg}");
        assert!(msg.contains("optimizer.offload=cpu"), "{msg}");
        // The same run with offload fits.
        let (config, plan_) = sanity(&[&set, "optimizer.bits=8", "optimizer.offload=cpu"]);
        refuse_if_too_big(&config, &plan_, free, "GPU 0").unwrap();
    }

    #[test]
    fn the_start_fields_are_the_plan_of_launch_check() {
        let (config, plan_) = sanity(&[&model("tiny-llama.json")]);
        let p = planned(&config, &plan_, None).unwrap();
        let m = start_fields(&config, &plan_, p.recomputed_units).unwrap();
        assert_eq!(m["planned_device_bytes"], json!(p.device_bytes));
        assert_eq!(m["planned_host_bytes"], json!(p.host_bytes));
        assert!(p.device_bytes > 0);
    }
}
