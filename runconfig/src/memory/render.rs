//! A memory plan as `launch check` prints it.

use super::fit::MemoryPlan;
use super::Place;
use std::fmt::Write;

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
    if p.minimum_device_bytes < p.device_bytes {
        write!(
            s,
            " (the other {} keep their graphs for speed: {} per device; the minimum, every unit recomputed: {})",
            p.units_before_head - p.recomputed_units,
            gb(p.device_bytes),
            gb(p.minimum_device_bytes)
        )
        .unwrap();
    }
    for i in &p.breakdown {
        let place = if i.place == Place::Host {
            " (host)"
        } else {
            ""
        };
        write!(s, "\n  {:<22} {:>12}{place}", i.item, gb(i.bytes)).unwrap();
    }
    if let Some(ds) = &p.deepspeed {
        let offload = match (ds.offload_optimizer, ds.offload_param) {
            (true, true) => "offload_optimizer and offload_param cpu",
            (true, false) => "offload_optimizer cpu",
            _ => "no offload",
        };
        write!(
            s,
            "\n  DeepSpeed ZeRO-3 estimate, model states only ({offload}): {} per device, {} host",
            gb(ds.device_bytes),
            gb(ds.host_bytes)
        )
        .unwrap();
    }
    s
}
