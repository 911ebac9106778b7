//! Where a rank computes: the CPU, or GPU `LOCAL_RANK` (modulo the visible
//! GPUs when several ranks share one); what that GPU is, its memory in use,
//! and its peak bf16 throughput for MFU.

use crate::cuda;
use runconfig::DeviceKind;
use std::sync::Arc;
use tch::{Device, Tensor};

/// The GPU a rank drives, as the CUDA driver sees it.
pub struct Gpu {
    ctx: Arc<cudarc::driver::CudaContext>,
    pub index: usize,
    pub name: String,
}

impl Gpu {
    /// (free, total) bytes of the device, from the driver.
    fn mem_info(&self) -> Option<(u64, u64)> {
        self.ctx.bind_to_thread().ok()?;
        let (free, total) = self.ctx.mem_get_info().ok()?;
        Some((free as u64, total as u64))
    }

    /// Bytes in use on the whole device (all processes), from the driver.
    pub fn used_bytes(&self) -> Option<u64> {
        self.mem_info().map(|(free, total)| total - free)
    }

    /// Bytes the device holds, from the driver.
    pub fn total_bytes(&self) -> Option<u64> {
        self.mem_info().map(|(_, total)| total)
    }

    /// Bytes free on the device now, from the driver.
    pub fn free_bytes(&self) -> Option<u64> {
        self.mem_info().map(|(free, _)| free)
    }
}

/// The device of this rank and, on a GPU, its driver handle.
pub fn choose(kind: DeviceKind, local_rank: usize) -> anyhow::Result<(Device, Option<Gpu>)> {
    let want_gpu = match kind {
        DeviceKind::Cpu => false,
        DeviceKind::Auto => cuda::available(),
        DeviceKind::Cuda => {
            anyhow::ensure!(
                cuda::available(),
                "device: cuda, but no CUDA GPU is usable here (driver present: {}); use `device: cpu` or `auto`",
                cuda::driver_present()
            );
            true
        }
    };
    if !want_gpu {
        return Ok((Device::Cpu, None));
    }
    let count = tch::Cuda::device_count() as usize;
    let index = local_rank % count;
    let ctx = cudarc::driver::CudaContext::new(index)
        .map_err(|e| anyhow::anyhow!("opening GPU {index}: {e:?}"))?;
    let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
    Ok((Device::Cuda(index), Some(Gpu { ctx, index, name })))
}

/// Dense bf16 peak FLOP/s of well-known GPUs (per device, no sparsity).
pub fn peak_bf16_flops(name: &str) -> Option<f64> {
    let n = name.to_ascii_uppercase();
    let table: [(&str, f64); 6] = [
        ("H200", 989e12),
        ("H100 PCIE", 756e12),
        ("H100", 989e12),
        ("A100", 312e12),
        ("L40S", 362e12),
        ("A10G", 70e12),
    ];
    table.iter().find(|(k, _)| n.contains(k)).map(|&(_, f)| f)
}

/// Training FLOPs per token of a decoder of `params` parameters, `layers`
/// layers of width `hidden`, at sequence length `seq`: 6N + 12 L H T
/// (the PaLM paper's accounting, attention included).
pub fn flops_per_token(params: f64, layers: f64, hidden: f64, seq: f64) -> f64 {
    6.0 * params + 12.0 * layers * hidden * seq
}

/// `t` (host memory) on `device`. To a GPU it goes through pinned memory
/// without blocking, so that the host does not wait for the device's
/// queued work (a copy from pageable memory would).
pub fn upload(t: &Tensor, device: Device) -> Tensor {
    match device {
        Device::Cuda(_) if t.device() == Device::Cpu => {
            t.pin_memory(device)
                .to_device_(device, t.kind(), true, false)
        }
        _ => t.to_device(device),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_gpus_have_a_peak() {
        assert_eq!(
            super::peak_bf16_flops("NVIDIA H100 80GB HBM3"),
            Some(989e12)
        );
        assert_eq!(super::peak_bf16_flops("NVIDIA H100 PCIe"), Some(756e12));
        assert_eq!(
            super::peak_bf16_flops("NVIDIA A100-SXM4-80GB"),
            Some(312e12)
        );
        assert_eq!(super::peak_bf16_flops("Some CPU"), None);
    }
}
