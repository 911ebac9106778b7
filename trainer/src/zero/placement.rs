//! Where a rank's model state lives (`optimizer.offload`). Without offload
//! everything is on the compute device. With `cpu` the fp32 master weights
//! and the optimizer state live in host memory (the master pinned when the
//! device is a GPU), the optimizer step runs there on libtorch's host
//! threads, and only the compute-dtype shard travels to the device after
//! each step. The gradient accumulator and the compute copy stay on the
//! device. On the CPU the host is the device: offload then runs the same
//! code path with every copy a no-op, which is what makes it testable as a
//! pure placement.

use runconfig::Offload;
use tch::{Device, Kind, Tensor};

/// The devices of a rank's model state.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// Where the forward, backward and gradients run.
    pub device: Device,
    /// Master weights and optimizer state in host memory.
    pub offload: bool,
}

impl Placement {
    /// The placement `offload` asks for on `device`.
    pub fn new(offload: Offload, device: Device) -> Placement {
        Placement {
            device,
            offload: offload == Offload::Cpu,
        }
    }

    /// Where the master weights and the optimizer state live.
    pub fn state_device(&self) -> Device {
        match self.offload {
            true => Device::Cpu,
            false => self.device,
        }
    }

    /// A master-weight arena of `len` fp32 elements in its home (pinned
    /// host memory when offloaded from a GPU). Its values are unset: every
    /// element is to be written (each unit's shard, padding included).
    pub fn master_arena(&self, len: usize) -> Tensor {
        let home = Tensor::empty([len as i64], (Kind::Float, self.state_device()));
        match (self.offload, self.device) {
            (true, Device::Cuda(_)) => home.pin_memory(self.device),
            _ => home,
        }
    }

    /// A compute-dtype arena of `len` elements on the device, to be filled
    /// from the master. Without offload an fp32 run gathers the master
    /// itself (shared, no copy): `None`.
    pub fn compute_arena(&self, len: usize, dtype: Kind) -> Option<Tensor> {
        if !self.offload && dtype == Kind::Float {
            return None;
        }
        Some(Tensor::empty([len as i64], (dtype, self.device)))
    }

    /// The gradient as the optimizer step reads it: on the host when offloaded.
    pub fn grad_for_step(&self, grad: &Tensor) -> Tensor {
        grad.to_device(self.state_device())
    }

    /// Copies the updated `master` into `compute`: cast where the master
    /// lives, then only compute-dtype bytes cross to the device.
    pub fn refresh(&self, compute: &mut Tensor, master: &Tensor) {
        if self.offload {
            compute.copy_(&master.to_kind(compute.kind()));
        } else {
            compute.copy_(master);
        }
    }

    /// `t` on the compute device (for collectives over host-held state).
    pub fn on_device(&self, t: &Tensor) -> Tensor {
        t.to_device(self.device)
    }
}
