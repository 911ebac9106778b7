//! What a rank holds for one unit: its slice of the fp32 master weights, the
//! optimizer state, the fp32 gradient accumulator, and the compute-dtype copy
//! that is all-gathered.

use super::layout::Layout;
use crate::optim::AdamWState;
use tch::{Device, Kind, Tensor};

/// One unit's shard on this rank.
pub struct UnitShard {
    pub layout: Layout,
    /// fp32 master weights, `[shard_len]` (padding stays zero).
    pub master: Tensor,
    /// fp32 gradient accumulator, `[shard_len]`.
    pub grad: Tensor,
    /// Compute-dtype copy of `master`, the input of all-gathers.
    pub compute: Tensor,
    pub opt: AdamWState,
}

impl UnitShard {
    /// A shard holding `master` (fp32, `[shard_len]`), zero state.
    pub fn new(layout: Layout, master: Tensor, dtype: Kind, device: Device) -> UnitShard {
        let master = master.to_device(device).to_kind(Kind::Float);
        assert_eq!(master.size(), vec![layout.shard_len as i64]);
        UnitShard {
            layout,
            grad: master.zeros_like(),
            compute: master.to_kind(dtype),
            opt: AdamWState::zeros_like(&master),
            master,
        }
    }

    /// Bytes of model state this shard holds (master, m, v, grad, compute copy).
    pub fn state_bytes(&self) -> u64 {
        let n = self.layout.shard_len as u64;
        n * (4 * 4) + n * self.compute.kind().elt_size_in_bytes() as u64
    }

    /// Copies `master` into the compute-dtype shard after an update.
    pub fn refresh(&mut self) {
        self.compute.copy_(&self.master);
    }
}
