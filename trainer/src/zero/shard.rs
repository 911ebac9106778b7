//! What a rank holds for one unit: its slice of the fp32 master weights, the
//! optimizer state, the fp32 gradient accumulator, and the compute-dtype copy
//! that is all-gathered.

use super::layout::Layout;
use crate::optim::ShardOptimizer;
use tch::{Device, Kind, Tensor};

/// One unit's shard on this rank.
pub struct UnitShard {
    pub layout: Layout,
    /// fp32 master weights, `[shard_len]` (padding stays zero).
    pub master: Tensor,
    /// fp32 gradient accumulator, `[shard_len]`.
    pub grad: Tensor,
    /// Compute-dtype copy of `master`, the input of all-gathers (the master
    /// itself when computing in fp32).
    pub compute: Tensor,
    /// The optimizer and its state for this shard.
    pub opt: Box<dyn ShardOptimizer>,
}

impl UnitShard {
    /// A shard holding `master` (fp32, `[shard_len]`), updated by `opt`.
    pub fn new(
        layout: Layout,
        master: Tensor,
        dtype: Kind,
        device: Device,
        opt: Box<dyn ShardOptimizer>,
    ) -> UnitShard {
        let master = master.to_device(device).to_kind(Kind::Float);
        assert_eq!(master.size(), vec![layout.shard_len as i64]);
        UnitShard {
            layout,
            grad: master.zeros_like(),
            // In fp32 the master weights are gathered directly: no copy.
            compute: if dtype == Kind::Float {
                master.shallow_clone()
            } else {
                master.to_kind(dtype)
            },
            opt,
            master,
        }
    }

    /// Whether the compute copy is the master itself (fp32 compute).
    fn shares_master(&self) -> bool {
        self.compute.kind() == Kind::Float
    }

    /// Bytes of model state this shard holds: fp32 master and gradient,
    /// the compute copy (none in fp32), and the optimizer state.
    pub fn state_bytes(&self) -> u64 {
        let n = self.layout.shard_len as u64;
        let compute = if self.shares_master() {
            0
        } else {
            self.compute.kind().elt_size_in_bytes() as u64
        };
        n * (4 + 4 + compute) + self.opt.state_bytes()
    }

    /// Copies `master` into the compute-dtype shard after an update.
    pub fn refresh(&mut self) {
        if !self.shares_master() {
            self.compute.copy_(&self.master);
        }
    }
}
